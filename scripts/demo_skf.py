"""The demo's bidders without a SoftHSM2 UKey: their documents, and the SKF UKey of one of them.

``sm2/bidder-a`` keeps its SM2 keys in PKCS#12 files. ``sm2/bidder-b`` holds its SM2 keys on an SKF
UKey (GM/T 0016, the interface of most Chinese CA UKeys): the soft SKF token of the tests
(``tests/skf/softskf.c``, built by ``scripts/setup.sh``), provisioned by ``fixtures/provision_skf.py``
into ``demo-out/skf``. bidcrypt reaches it through ``skf:device=sm2-bidder-b`` and the library named
by ``BIDCRYPT_SKF_MODULE``, as it would a vendor's ``libskf.so``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "fixtures"))

#: The bidder on the SKF UKey, its device and its key reference (the library comes from the environment).
SKF_BIDDER = "sm2/bidder-b"
SKF_DEVICE = "sm2-bidder-b"
SKF_REF = f"skf:device={SKF_DEVICE}"
#: The soft SKF token with the vendors' private-key decryption export (the fast path).
SKF_LIBRARY = ROOT / "build" / "softskf" / "libsoftskf.so"

#: What the sample documents say about the SM2 bidders beyond the PKI index (as make_documents.py's).
DETAILS = {
    "sm2/bidder-a": dict(
        gender="男", age=46, address="湖南省长沙市岳麓区麓谷大道658号湘江路桥大厦8层",
        founded="2015年6月12日", price="1,196,000.00", price_words="壹佰壹拾玖万陆仟元整",
        duration="175", phone="0731-88776655",
    ),
    "sm2/bidder-b": dict(
        gender="女", age=44, address="江苏省南京市江宁区秣陵街道胜太路88号金陵智造园3栋",
        founded="2017年9月5日", price="1,210,000.00", price_words="壹佰贰拾壹万元整",
        duration="170", phone="025-52123456",
    ),
}  # fmt: skip


def provision_skf_ukey(directory: Path) -> dict[str, str]:
    """Write the SKF bidder's soft UKey under *directory*; the environment that makes it plugged in."""
    import provision_skf

    if not SKF_LIBRARY.exists():
        raise SystemExit(f"demo: {SKF_LIBRARY} is missing; scripts/setup.sh builds it (gcc, libssl-dev)")
    provision_skf.provision(directory, [SKF_BIDDER])
    return {"SOFTSKF_ROOT": str(directory), "BIDCRYPT_SKF_MODULE": str(SKF_LIBRARY)}


def draw_documents(bidder: str, company: dict[str, str], directory: Path) -> tuple[Path, Path, Path]:
    """An SM2 bidder's bid response and seal pictures (company, legal person), drawn as the fixtures'."""
    import make_documents
    from truetype import TrueTypeFont

    font = TrueTypeFont(make_documents.FONT)
    details = DETAILS[bidder]
    drawn = make_documents.Bidder(
        slug=bidder.replace("/", "-"),
        name=company["name"],
        credit_code=company["credit_code"],
        legal_representative=company["legal_representative"],
        **details,  # type: ignore[arg-type]
    )
    directory.mkdir(parents=True)
    document = directory / "bid-response.pdf"
    document.write_bytes(make_documents.bid_response_pdf(font, drawn))
    company_png = directory / "company.png"
    company_png.write_bytes(make_documents.company_seal(font, drawn.name))
    legal_png = directory / "legal-person.png"
    legal_png.write_bytes(make_documents.legal_person_seal(font, drawn.legal_representative))
    return document, company_png, legal_png
