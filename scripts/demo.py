"""The bidcrypt demo: the whole bid flow on the generated test PKI with SoftHSM2 UKeys.

Three bidders check their UKeys, seal their bid responses (company seal and
legal-person seal), pack and encrypt them to themselves and to the opening
authority, and submit them to an opening session; the deadline passes; the
authority opens every bid with its UKey; the opening record is printed.

A fourth bidder holds SM2 certificates (国密, ``sm2/bidder-a`` of the
fixtures): its seals are SM2 with SM3, its manifest is signed SM2-with-SM3,
and its package is a GM/T 0010 envelope (SM4-CBC) for its SM2 key and the
authority's RSA key, opened in the same session. Its keys are PKCS#12 files:
SoftHSM2 has no SM2 mechanism.

A fifth bidder (``sm2/bidder-b``) holds its SM2 keys on an SKF UKey (GM/T
0016, the interface of most Chinese CA UKeys): the soft SKF token of the
tests, provisioned into demo-out/skf (see scripts/demo_skf.py). It checks the
UKey, seals, packs and test-opens on it, and checks the re-encrypt rule with
the UKey's own certificate.

Then a remote opening (不见面开标, scripts/demo_remote.py): the three bidders
bid in a second tender whose opening key is held by a committee (2 of 3),
packing with its profile; ``bidcrypt serve`` serves it over TLS on loopback;
they sign in and release their keys from their UKeys with ``bidcrypt
remote`` (one never does: 视为撤销), the window is paused for an outage and
resumed, one member's share is not enough to open, the window is closed and
the record printed.

Nothing waits for a deadline: the sessions' deadlines are an hour away, and
the commands after the submissions run with their clock moved past the
opening time by libfaketime (as the end-to-end tests do).

With ``--hold`` (``bash scripts/demo.sh --hold``) the remote opening's service
keeps running at the end, its hall page showing the record, until Enter is
pressed.

Everything goes to demo-out/ (made fresh on every run). The commands are
printed as a user would type them; the PIN is passed in the environment
(BIDCRYPT_PIN), never on the command line.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from demo_remote import Commands, remote_opening  # noqa: E402
from demo_skf import SKF_BIDDER, SKF_REF, draw_documents, provision_skf_ukey  # noqa: E402

OUT = ROOT / "demo-out"
PKI = ROOT / "fixtures" / "pki"
DOCUMENTS = ROOT / "fixtures" / "documents"
SEALS = ROOT / "fixtures" / "seals"
MODULE = "/usr/lib/softhsm/libsofthsm2.so"
BIDDERS = ("bidder-a", "bidder-b", "bidder-c")
#: The bidder with SM2 certificates (PKCS#12 files), and every bidder of the session.
SM2 = "sm2/bidder-a"
ALL_BIDDERS = (*BIDDERS, SM2, SKF_BIDDER)
TENDER = "HBGP-2026-001"
PRICES = {
    "bidder-a": "1234567.80",
    "bidder-b": "1180000.00",
    "bidder-c": "1205300.50",
    SM2: "1196000.00",
    SKF_BIDDER: "1210000.00",
}
#: Both hierarchies: the RSA/EC one and the SM2 one (its roots are kept in separate files).
TRUST = [
    *("--trust", str(PKI / "trust/roots.pem"), "--trust", str(PKI / "trust/intermediates.pem")),
    *("--trust", str(PKI / "trust/sm2-roots.pem"), "--trust", str(PKI / "trust/sm2-intermediates.pem")),
]
CRL = ["--crl", str(PKI / "ca/vendor-rsa.crl"), "--crl", str(PKI / "sm2/ca/vendor.crl")]

sys.path.insert(0, str(ROOT / "fixtures"))


def step(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


def show(path: Path) -> str:
    """A path as the user sees it, relative to the repository."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def bidcrypt(*args: str | Path, env: dict[str, str], expect: int = 0, offset: float = 0.0) -> str:
    """Run one bidcrypt command (its clock moved *offset* s by libfaketime), echoing it; stop the demo if it
    fails unexpectedly."""
    return Commands(env, offset)(*args, expect=expect)


def prepare_folder(bidder: str, sealed: Path) -> tuple[Path, Path]:
    """The bidder's response folder (Chinese names, nested) and its opening-summary file."""
    folder = OUT / bidder / "投标文件"
    (folder / "商务标").mkdir(parents=True)
    (folder / "附件").mkdir()
    shutil.copy(sealed, folder / "投标函.pdf")
    (folder / "附件" / "资质证书清单.txt").write_text(
        f"{bidder} 资质证书：建筑工程施工总承包一级\n", encoding="utf-8"
    )
    summary = OUT / bidder / "summary.toml"
    summary.write_text(
        f'[summary]\nprice = "{PRICES[bidder]}"\ncurrency = "CNY"\nduration = "180日历天"\n'
        '[summary.items]\n"质保期" = "2年"\n[roles]\n"附件/*" = "attachment"\n',
        encoding="utf-8",
    )
    return folder, summary


def main() -> int:
    import provision_ukey

    index = json.loads((PKI / "index.json").read_text())
    company = index["companies"]
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()

    step("1. Provision the UKeys (SoftHSM2 tokens in demo-out/ukeys)")
    config = provision_ukey.provision(OUT / "ukeys", [*BIDDERS, "authority", "bidder-a-signonly"])
    env = dict(
        os.environ, SOFTHSM2_CONF=str(config), BIDCRYPT_PKCS11_MODULE=MODULE, BIDCRYPT_PIN=index["pin"]
    )
    print(f"SOFTHSM2_CONF={show(config)}")
    print(f"# {SKF_BIDDER}'s UKey speaks SKF (GM/T 0016): a soft SKF token in demo-out/skf")
    skf_env = provision_skf_ukey(OUT / "skf")
    env.update(skf_env)
    for name, value in skf_env.items():
        print(f"{name}={show(Path(value))}")

    step("2. The seal-assistant check (签章助手检测) of each bidder's UKey")
    for bidder in BIDDERS:
        bidcrypt(
            "doctor",
            "--key",
            f"pkcs11:token={bidder}",
            "--expect-uscc",
            company[bidder]["credit_code"],
            "--login",
            env=env,
        )
    print(f"# {SKF_BIDDER}'s SKF UKey: the device, its application (PIN tries left), its container, the")
    print("# decryption path the library offers, and a test signature and decryption (--login):")
    bidcrypt(
        "doctor", "--key", SKF_REF, "--expect-uscc", company[SKF_BIDDER]["credit_code"], "--login", env=env
    )
    print("# a UKey with only a signing certificate is not ready for bidding:")
    bidcrypt("doctor", "--key", "pkcs11:token=bidder-a-signonly", env=env, expect=12)

    step("3. Seal the bid responses: company seal (公章) on each, legal-person seal (法人章) on A's")
    sealed: dict[str, Path] = {}
    for bidder in BIDDERS:
        (OUT / bidder).mkdir()
        sealed[bidder] = OUT / bidder / "bid-response-company.pdf"
        bidcrypt(
            "seal",
            "apply",
            DOCUMENTS / f"bid-response-{bidder}.pdf",
            "-o",
            sealed[bidder],
            "--key",
            f"pkcs11:token={bidder};object=sign",
            "--kind",
            "company",
            "--image",
            SEALS / f"{bidder}-company.png",
            "--chain",
            PKI / f"{bidder}/sign.chain.pem",
            env=env,
        )
    both = OUT / "bidder-a" / "bid-response-sealed.pdf"
    bidcrypt(
        "seal",
        "apply",
        sealed["bidder-a"],
        "-o",
        both,
        "--key",
        "pkcs11:token=bidder-a;object=legal",
        "--kind",
        "legal-person",
        "--image",
        SEALS / "bidder-a-legal-person.png",
        "--chain",
        PKI / "bidder-a/legal.chain.pem",
        env=env,
    )
    sealed["bidder-a"] = both

    print("# the SM2 bidder (国密): SM2-with-SM3 seals made with its PKCS#12 files")
    document, company_png, legal_png = draw_documents(SM2, company[SM2], OUT / SM2)
    sm2_company = OUT / SM2 / "bid-response-company.pdf"
    sealed[SM2] = OUT / SM2 / "bid-response-sealed.pdf"
    for kind, source, output, picture in (
        ("company", document, sm2_company, company_png),
        ("legal-person", sm2_company, sealed[SM2], legal_png),
    ):
        identity = f"{SM2}/{'sign' if kind == 'company' else 'legal'}"
        bidcrypt(
            "seal",
            "apply",
            source,
            "-o",
            output,
            "--key",
            PKI / f"{identity}.p12",
            "--kind",
            kind,
            "--image",
            picture,
            "--chain",
            PKI / f"{identity}.chain.pem",
            env=env,
        )
    print(f"# {SKF_BIDDER}: its company seal (SM2 with SM3) made on its SKF UKey")
    document, company_png, _ = draw_documents(SKF_BIDDER, company[SKF_BIDDER], OUT / SKF_BIDDER)
    sealed[SKF_BIDDER] = OUT / SKF_BIDDER / "bid-response-sealed.pdf"
    bidcrypt(
        "seal",
        "apply",
        document,
        "-o",
        sealed[SKF_BIDDER],
        "--key",
        SKF_REF,
        "--kind",
        "company",
        "--image",
        company_png,
        "--chain",
        PKI / f"{SKF_BIDDER}/sign.chain.pem",
        env=env,
    )
    bidcrypt(
        "seal",
        "verify",
        sealed[SM2],
        "--trust",
        PKI / "trust/sm2-roots.pem",
        "--crl",
        PKI / "sm2/ca/vendor.crl",
        "--expect-uscc",
        company[SM2]["credit_code"],
        env=env,
    )
    bidcrypt(
        "seal",
        "verify",
        both,
        "--trust",
        PKI / "trust/roots.pem",
        *CRL,
        "--expect-uscc",
        company["bidder-a"]["credit_code"],
        env=env,
    )
    print("# the same document checked against another bidder's credit code is refused:")
    bidcrypt(
        "seal",
        "verify",
        both,
        "--trust",
        PKI / "trust/roots.pem",
        "--expect-uscc",
        company["bidder-b"]["credit_code"],
        env=env,
        expect=25,
    )

    step("4. Pack: sign the manifest on the UKey, encrypt to the bidder and the opening authority")
    packages: dict[str, Path] = {}
    for bidder in BIDDERS:
        folder, summary = prepare_folder(bidder, sealed[bidder])
        packages[bidder] = OUT / bidder / f"{bidder}.bid"
        bidcrypt(
            "pack",
            folder,
            "-o",
            packages[bidder],
            "--tender",
            TENDER,
            "--key",
            f"pkcs11:token={bidder}",
            "--encrypt-to",
            PKI / f"{bidder}/enc.pem",
            "--encrypt-to",
            PKI / "authority/enc.pem",
            # The authority's UKey here is SoftHSM2, which undoes OAEP-SHA1 but not OAEP-SHA256 (the default).
            "--authority-transport",
            "oaep-sha1",
            "--summary",
            summary,
            *TRUST,
            "--backup",
            OUT / bidder / f"{bidder}-backup.tar",
            env=env,
        )
    print("# the SM2 bidder: its SM2 certificate makes the package GM/T 0010 (SM4-CBC); the authority's")
    print("# RSA certificate gets its copy of the key inside it")
    folder, summary = prepare_folder(SM2, sealed[SM2])
    packages[SM2] = OUT / SM2 / "sm2-bidder-a.bid"
    bidcrypt(
        "pack",
        folder,
        "-o",
        packages[SM2],
        "--tender",
        TENDER,
        "--key",
        PKI / f"{SM2}/sign.p12",
        "--encrypt-to",
        PKI / f"{SM2}/enc.pem",
        "--encrypt-to",
        PKI / "authority/enc.pem",
        "--authority-transport",
        "oaep-sha1",
        "--summary",
        summary,
        *TRUST,
        env=env,
    )
    print(f"# {SKF_BIDDER}: the manifest signed and the package test-opened on its SKF UKey")
    folder, summary = prepare_folder(SKF_BIDDER, sealed[SKF_BIDDER])
    packages[SKF_BIDDER] = OUT / SKF_BIDDER / "sm2-bidder-b.bid"
    bidcrypt(
        "pack",
        folder,
        "-o",
        packages[SKF_BIDDER],
        "--tender",
        TENDER,
        "--key",
        SKF_REF,
        "--encrypt-to",
        PKI / f"{SKF_BIDDER}/enc.pem",
        "--encrypt-to",
        PKI / "authority/enc.pem",
        "--authority-transport",
        "oaep-sha1",
        "--summary",
        summary,
        *TRUST,
        env=env,
    )
    bidcrypt("inspect", packages["bidder-a"], env=env)
    bidcrypt("inspect", packages[SM2], env=env)

    step("5. The re-encrypt rule: renewed (续期) needs nothing, replaced (补办) needs re-encryption")
    bidcrypt("check", packages["bidder-a"], "--current-cert", PKI / "bidder-a/enc-renewed.pem", env=env)
    bidcrypt(
        "check", packages["bidder-a"], "--current-cert", PKI / "bidder-a/enc-replaced.pem", env=env, expect=50
    )
    reencrypted = OUT / "bidder-a" / "bidder-a-reencrypted.bid"
    bidcrypt(
        "reencrypt",
        packages["bidder-a"],
        "-o",
        reencrypted,
        "--key",
        "pkcs11:token=bidder-a;object=enc",
        "--to",
        PKI / "bidder-a/enc-replaced.pem",
        env=env,
    )
    bidcrypt("check", reencrypted, "--current-cert", PKI / "bidder-a/enc-replaced.pem", env=env)
    print("# the same rule on the SM2 package, decided by the SM2 public key:")
    bidcrypt("check", packages[SM2], "--current-cert", PKI / f"{SM2}/enc-renewed.pem", env=env)
    bidcrypt("check", packages[SM2], "--current-cert", PKI / f"{SM2}/enc-changed.pem", env=env, expect=50)
    print(f"# {SKF_BIDDER} asks its SKF UKey itself (its encryption certificate, read without a login):")
    bidcrypt("check", packages[SKF_BIDDER], "--key", SKF_REF, env=env)

    step("6. The opening session: bidders registered, packages submitted before the deadline")
    session = OUT / "session"
    deadline = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=1)
    opening_time = deadline + dt.timedelta(seconds=1)
    bidcrypt(
        "opening",
        "create",
        session,
        "--tender",
        TENDER,
        "--deadline",
        deadline.isoformat(),
        "--opening-time",
        opening_time.isoformat(),
        *TRUST,
        *CRL,
        env=env,
    )
    for bidder in ALL_BIDDERS:
        bidcrypt(
            "opening",
            "register",
            session,
            "--name",
            company[bidder]["name"],
            "--uscc",
            company[bidder]["credit_code"],
            "--cert",
            PKI / f"{bidder}/enc.pem",
            env=env,
        )
    for bidder in ALL_BIDDERS:
        bidcrypt("opening", "submit", session, packages[bidder], env=env)
    print("# opening before the opening time is refused:")
    bidcrypt("opening", "open", session, "--key", "pkcs11:token=authority", env=env, expect=61)

    late = (opening_time - dt.datetime.now(dt.UTC)).total_seconds() + 1
    print(f"# from here each command runs with its clock moved {late:+.0f} s (libfaketime): the deadline and")
    print("# the opening time have passed, and the demo need not wait an hour")
    print("# a package arriving after the deadline is refused:")
    bidcrypt("opening", "submit", session, reencrypted, env=env, expect=60, offset=late)

    step("7. The opening: the authority's UKey opens every bid, SM2 too (one login, one unwrap per bid)")
    bidcrypt("opening", "open", session, "--key", "pkcs11:token=authority", env=env, offset=late)

    step("8. The opening record (开标记录)")
    bidcrypt("opening", "report", session, env=env, offset=late)
    bidcrypt(
        "opening",
        "report",
        session,
        "--format",
        "html",
        "-o",
        OUT / "opening-record.html",
        env=env,
        offset=late,
    )

    bids = {bidder: (OUT / bidder / "投标文件", OUT / bidder / "summary.toml") for bidder in BIDDERS}
    remote_opening(OUT / "remote", env, bids, [*TRUST, *CRL], hold="--hold" in sys.argv[1:])

    print("\ndemo: done; outputs are in demo-out/ (the records: demo-out/opening-record.html and")
    print("demo-out/remote/remote-record.html)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
