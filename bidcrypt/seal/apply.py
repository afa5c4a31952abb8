"""Applying a seal: a PAdES signature (B-B, or B-T with a timestamp authority) with a visible seal image.

Each seal is one signature field with its widget on one page, added as an
incremental update, so seals already on the document stay valid. Sealing
every page (逐页盖章) makes one seal per page, in page order, with one login
to the UKey; the image is stored once and shared by all of them.

Refusals come before the token is used where possible: a non-PDF, an
encrypted PDF, a certificate without digitalSignature/nonRepudiation, one that
is expired or not yet valid, one of the wrong holder for the kind of seal.
A key that does not belong to its certificate is caught on the first
signature. In every case no output file is left.

With an SM2 certificate the seal is SM2-with-SM3 (GB/T 38540's algorithms):
pyHanko hashes the document and the signed attributes with SM3 (its digest
names map to ``cryptography``'s ``hashes.SM3``; bidcrypt.gm names the OID
for asn1crypto), and the key source signs the DER signed attributes with Z
of the default ID. pyHanko cannot tell the digest from the ``sm2_sm3``
mechanism and would choose SHA-256 for a 256-bit EC key, so
:func:`seal_digest` names it.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from pyhanko.pdf_utils import layout
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign import fields, signers
from pyhanko.sign.ades.api import CAdESSignedAttrSpec, SignerAttrSpec
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps import HTTPTimeStamper, TimestampRequestError
from pyhanko.stamp import StaticStampStyle

from bidcrypt import certs
from bidcrypt.aio import blocking, off_loop, run_sync
from bidcrypt.certs import Purpose
from bidcrypt.errors import (
    BidcryptError,
    KeyNotFoundError,
    SealError,
    SealInvalidError,
    TimestampError,
)
from bidcrypt.files import PathArg, as_path, atomic_output, open_input
from bidcrypt.i18n import Text
from bidcrypt.keys import KeyEntry, KeyEntrySigner, KeySource, SchemeSignatureValidator, scheme_for_key
from bidcrypt.seal._pdf import open_pdf
from bidcrypt.seal.image import SealAppearance, SealImage
from bidcrypt.seal.kind import SealKind, expected_holder, holder_of, kind_mismatch, role_attribute
from bidcrypt.seal.placement import Placement, PointBox

#: Seconds to wait for a timestamp authority.
TSA_TIMEOUT = 20


@dataclass(frozen=True)
class AppliedSeal:
    """One seal made: its signature field, page (1-based) and box."""

    field: str
    page: int
    box: PointBox


@dataclass(frozen=True)
class SealResult:
    """What :func:`apply_seal` made."""

    output: Path
    kind: SealKind
    signer: str
    company: str | None
    credit_code: str | None
    seals: tuple[AppliedSeal, ...]
    timestamped: bool

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "output": str(self.output),
            "kind": self.kind.value,
            "signer": self.signer,
            "company": self.company,
            "credit_code": self.credit_code,
            "timestamped": self.timestamped,
            "seals": [{"field": s.field, "page": s.page, "box": list(s.box)} for s in self.seals],
        }


def choose_entry(source: KeySource, kind: SealKind) -> KeyEntry:
    """The certificate on *source* that makes seals of *kind*.

    A source with one certificate (a PKCS#12 file, or a ``pkcs11:`` URI with
    ``object=``) gives that one, to be checked by :func:`apply_seal`. On a
    UKey with several, the signing certificate of the right holder is chosen:
    the company's for a company seal, the person's for a legal-person seal.
    """
    entries = source.entries()
    if not any(Purpose.SIGNING in certs.purposes(e.certificate) for e in entries):
        missing = source.missing_certificate(Purpose.SIGNING)  # e.g. an SKF container's own words
        if missing is not None:
            raise missing
    if len(entries) == 1:
        return entries[0]
    signing = [e for e in entries if Purpose.SIGNING in certs.purposes(e.certificate)]
    matching = [e for e in signing if holder_of(e.certificate) is expected_holder(kind)]
    if matching:
        # A renewed certificate may sit beside the old one: the one valid now, latest first.
        now = dt.datetime.now(dt.UTC)
        return min(
            matching,
            key=lambda e: (
                not (e.certificate.not_valid_before_utc <= now <= e.certificate.not_valid_after_utc),
                -e.certificate.not_valid_after_utc.timestamp(),
            ),
        )
    if signing:
        return signing[0]  # refused by apply_seal with the reason
    what = Text("certificate for a {label}", "可加盖{label}的签名证书", label=kind.text())
    raise KeyNotFoundError(what=what, ref=source.description)


def check_certificate(certificate: x509.Certificate, kind: SealKind, at: dt.datetime | None = None) -> None:
    """Refuse a certificate that cannot make a seal of *kind* now: key usage, validity, holder."""
    certs.require_purpose(certificate, Purpose.SIGNING)
    certs.require_valid_at(certificate, at)
    mismatch = kind_mismatch(certificate, kind)
    if mismatch is not None:
        raise mismatch


async def async_apply_seal(
    document: PathArg,
    output: PathArg,
    entry: KeyEntry,
    *,
    kind: SealKind,
    image: SealImage | PathArg,
    placement: Placement | None = None,
    chain: Sequence[x509.Certificate] = (),
    tsa_url: str | None = None,
    at: dt.datetime | None = None,
) -> SealResult:
    """Seal *document* into the new file *output* with the key of *entry*.

    *kind* is recorded in the signature (see :mod:`bidcrypt.seal.kind`);
    *image* is the seal picture (PNG); *placement* the page(s) and box
    (default: the last page, lower right); *chain* the issuing CA certificates
    to embed; *tsa_url* an RFC 3161 timestamp authority for PAdES B-T.
    *output* must not exist; it appears only when every seal is made.

    The file work, and each seal's signing (pyHanko writes the update and the
    token signs from inside its coroutine), run off an async caller's loop
    (:mod:`bidcrypt.aio`).
    """
    document, output = as_path(document), as_path(output)
    placement = placement or Placement()
    check_certificate(entry.certificate, kind, at)
    picture = image if isinstance(image, SealImage) else await blocking(SealImage.load, image)
    with open_input(document) as source:
        reader = await blocking(open_pdf, source, str(document))
        targets = placement.resolve(reader, kind)
        taken = _field_names(reader)
        with atomic_output(output) as sink:
            source.seek(0)
            await blocking(shutil.copyfileobj, source, sink)
            # pyHanko updates the file in place, through its name, once per seal.
            applied = await _seal_all(sink.temporary, entry, kind, picture, targets, taken, chain, tsa_url)
            await blocking(_check_written, sink.temporary, len(applied))
    certificate = entry.certificate
    return SealResult(
        output=output,
        kind=kind,
        signer=certs.display_name(certificate),
        company=certs.company_name(certificate),
        credit_code=certs.credit_code(certificate),
        seals=tuple(applied),
        timestamped=tsa_url is not None,
    )


def apply_seal(
    document: PathArg,
    output: PathArg,
    entry: KeyEntry,
    *,
    kind: SealKind,
    image: SealImage | PathArg,
    placement: Placement | None = None,
    chain: Sequence[x509.Certificate] = (),
    tsa_url: str | None = None,
    at: dt.datetime | None = None,
) -> SealResult:
    """:func:`async_apply_seal` for synchronous callers (with or without a running event loop)."""
    return run_sync(
        async_apply_seal(
            document,
            output,
            entry,
            kind=kind,
            image=image,
            placement=placement,
            chain=chain,
            tsa_url=tsa_url,
            at=at,
        )
    )


async def _seal_all(
    path: Path,
    entry: KeyEntry,
    kind: SealKind,
    picture: SealImage,
    targets: list[tuple[int, PointBox]],
    taken: set[str],
    chain: Sequence[x509.Certificate],
    tsa_url: str | None,
) -> list[AppliedSeal]:
    signer = KeyEntrySigner(entry, chain)
    timestamper = HTTPTimeStamper(tsa_url, timeout=TSA_TIMEOUT) if tsa_url else None
    attributes = CAdESSignedAttrSpec(
        signer_attributes=SignerAttrSpec(claimed_attrs=[role_attribute(kind)], certified_attrs=[])
    )
    digest = seal_digest(entry.certificate)
    shared_image: tuple[int, int] | None = None
    applied = []
    for page_index, box in targets:
        name = _new_field_name(kind, taken)
        taken.add(name)
        appearance = SealAppearance(picture, existing=shared_image)
        style = StaticStampStyle(
            background=appearance,
            border_width=0,
            background_layout=layout.SimpleBoxLayoutRule(
                x_align=layout.AxisAlignment.ALIGN_MID,
                y_align=layout.AxisAlignment.ALIGN_MID,
                inner_content_scaling=layout.InnerScaling.STRETCH_TO_FIT,
            ),
        )
        metadata = signers.PdfSignatureMetadata(
            field_name=name,
            reason=kind.reason,
            subfilter=SigSeedSubFilter.PADES,
            md_algorithm=digest,
            cades_signed_attr_spec=attributes,
        )
        pdf_signer = signers.PdfSigner(
            metadata,
            signer,
            timestamper=timestamper,
            stamp_style=style,
            new_field_spec=fields.SigFieldSpec(name, on_page=page_index, box=box),
        )
        await off_loop(_sign(path, pdf_signer, tsa_url))
        shared_image = appearance.written
        applied.append(AppliedSeal(field=name, page=page_index + 1, box=box))
    return applied


def seal_digest(certificate: x509.Certificate) -> str | None:
    """The digest a seal with *certificate* uses: SM3 for an SM2 key; None lets pyHanko choose by key size.

    pyHanko asks asn1crypto for the hash of the signer's mechanism, which it
    cannot name for ``sm2_sm3``, and then picks SHA-256 for any 256-bit EC
    key, SM2's included; SM2-with-SM3 goes only with SM3. With SM3 named,
    the document digest and the signed attributes are SM3 (the ESS
    signing-certificate-v2 hash stays pyHanko's SHA-256, named in it).
    """
    scheme = scheme_for_key(certs.public_key(certificate))
    return scheme.fixed_hash if scheme is not None else None


async def _sign(path: Path, pdf_signer: signers.PdfSigner, tsa_url: str | None) -> None:
    """Add one seal to the file at *path*, in place (blocking: run through :func:`~bidcrypt.aio.off_loop`)."""
    try:
        with path.open("rb+") as stream:
            writer = IncrementalPdfFileWriter(stream, strict=False)
            await pdf_signer.async_sign_pdf(writer, in_place=True)
    except BidcryptError:
        raise
    except TimestampRequestError as exc:
        raise TimestampError(str(exc), url=tsa_url) from exc
    except SigningError as exc:
        if isinstance(exc.__cause__, BidcryptError):
            raise exc.__cause__ from exc
        if tsa_url is not None and isinstance(exc.__cause__, TimestampRequestError):
            raise TimestampError(str(exc.__cause__), url=tsa_url) from exc
        raise SealError(str(exc)) from exc
    except PdfError as exc:  # a document pyHanko can read but not update
        raise SealError(
            Text("the document cannot be updated: {exc}", "无法更新该文档：{exc}", exc=exc)
        ) from exc


def _field_names(reader: Any) -> set[str]:
    return {name for name, _, _ in fields.enumerate_sig_fields(reader, filled_status=None)}


def _new_field_name(kind: SealKind, taken: set[str]) -> str:
    prefix = "CompanySeal" if kind is SealKind.COMPANY else "LegalPersonSeal"
    number = 1
    while f"{prefix}{number}" in taken:
        number += 1
    return f"{prefix}{number}"


def _check_written(path: Path, expected_new: int) -> None:
    """Re-read the output: every seal must be there, intact, before the file is released."""
    from pyhanko.sign.validation.generic_cms import validate_sig_integrity

    with path.open("rb") as stream:
        reader = open_pdf(stream, str(path))
        signatures = reader.embedded_regular_signatures
        if len(signatures) < expected_new:
            raise SealInvalidError(Text("a seal is missing from the output", "输出文件中缺少签章"))
        for embedded in signatures[-expected_new:]:
            intact, valid = validate_sig_integrity(
                embedded.signer_info,
                embedded.signer_cert,
                expected_content_type="data",
                actual_digest=embedded.compute_digest(),
                sig_validator=SchemeSignatureValidator(),
            )
            if not (intact and valid):
                raise SealInvalidError(Text("a new seal does not verify", "新加盖的签章验证失败"))


__all__ = ["AppliedSeal", "SealResult", "apply_seal", "async_apply_seal", "check_certificate", "choose_entry"]
