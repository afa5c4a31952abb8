"""The manifest's signed attributes, checked by bidcrypt as pyHanko's ``validate_sig_integrity`` checks them.

:mod:`bidcrypt.package.signed` makes the integrity checks itself (for speed).
Each case below changes bidder-c's SignerInfo, signs it again with the same
key, and asks both bidcrypt and pyHanko: they must agree, and each case's
expected verdict keeps the comparison honest (a case that both wrongly accept
fails too).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import validate_sig_integrity

from bidcrypt import certs
from bidcrypt.errors import ManifestError
from bidcrypt.keys import PinSource, SchemeSignatureValidator, open_key_source
from bidcrypt.package import signed

from ..conftest import Pki

CONTENT = b'{"tender":"HBGP-2026-001","bidder":"bidder-c"}'

Change = Callable[[cms.SignerInfo, Pki], None]


def _attribute(signer_info: cms.SignerInfo, name: str) -> cms.CMSAttribute:
    return next(a for a in signer_info["signed_attrs"] if a["type"].native == name)


def _add(signer_info: cms.SignerInfo, name: str, values: list[object]) -> None:
    attributes = list(signer_info["signed_attrs"])
    attributes.append(cms.CMSAttribute({"type": name, "values": values}))
    signer_info["signed_attrs"] = cms.CMSAttributes(attributes)


def _drop(signer_info: cms.SignerInfo, name: str) -> None:
    kept = [a for a in signer_info["signed_attrs"] if a["type"].native != name]
    signer_info["signed_attrs"] = cms.CMSAttributes(kept)


def _own_certificate(pki: Pki) -> asn1_x509.Certificate:
    return certs.to_asn1(certs.load_certificate(pki.cert("bidder-c/sign")))


def _ess_v2(
    certificate: asn1_x509.Certificate, *, hash_name: str = "sha256", issuer_serial: object = None
) -> object:
    digest = hashlib.new(hash_name, certificate.dump()).digest()
    identifier: dict[str, object] = {"hash_algorithm": {"algorithm": hash_name}, "cert_hash": digest}
    if issuer_serial is not None:
        identifier["issuer_serial"] = issuer_serial
    return tsp.SigningCertificateV2({"certs": [identifier]})


def _issuer_serial(issuer: asn1_x509.Name, serial: int) -> dict[str, object]:
    return {"issuer": [asn1_x509.GeneralName(name="directory_name", value=issuer)], "serial_number": serial}


def _replace_ess(value: object) -> Change:
    def change(signer_info: cms.SignerInfo, pki: Pki) -> None:
        _drop(signer_info, "signing_certificate_v2")
        _add(signer_info, "signing_certificate_v2", [value])

    return change


def unchanged(signer_info: cms.SignerInfo, pki: Pki) -> None:
    pass


def ess_other_certificate(signer_info: cms.SignerInfo, pki: Pki) -> None:
    other = certs.to_asn1(certs.load_certificate(pki.cert("bidder-a/sign")))
    _replace_ess(_ess_v2(other))(signer_info, pki)


def ess_wrong_serial(signer_info: cms.SignerInfo, pki: Pki) -> None:
    own = _own_certificate(pki)
    wrong = _issuer_serial(own.issuer, own.serial_number + 1)
    _replace_ess(_ess_v2(own, issuer_serial=wrong))(signer_info, pki)


def ess_right_issuer_serial(signer_info: cms.SignerInfo, pki: Pki) -> None:
    own = _own_certificate(pki)
    _replace_ess(_ess_v2(own, issuer_serial=_issuer_serial(own.issuer, own.serial_number)))(signer_info, pki)


def ess_issuer_encoded_otherwise(signer_info: cms.SignerInfo, pki: Pki) -> None:
    """The issuer's name in other bytes (lower case): equal under RFC 5280's rules."""
    own = _own_certificate(pki)
    lower = {
        key: value.lower() if isinstance(value, str) else value for key, value in own.issuer.native.items()
    }
    issuer = asn1_x509.Name.build(lower)
    assert issuer.dump() != own.issuer.dump()
    _replace_ess(_ess_v2(own, issuer_serial=_issuer_serial(issuer, own.serial_number)))(signer_info, pki)


def ess_other_issuer(signer_info: cms.SignerInfo, pki: Pki) -> None:
    own = _own_certificate(pki)
    issuer = asn1_x509.Name.build({"common_name": "Another CA"})
    _replace_ess(_ess_v2(own, issuer_serial=_issuer_serial(issuer, own.serial_number)))(signer_info, pki)


def ess_two_issuer_names(signer_info: cms.SignerInfo, pki: Pki) -> None:
    own = _own_certificate(pki)
    name = asn1_x509.GeneralName(name="directory_name", value=own.issuer)
    both = {
        "issuer": [name, asn1_x509.GeneralName(name="dns_name", value="ca.example")],
        "serial_number": own.serial_number,
    }
    _replace_ess(_ess_v2(own, issuer_serial=both))(signer_info, pki)


def ess_sha512(signer_info: cms.SignerInfo, pki: Pki) -> None:
    _replace_ess(_ess_v2(_own_certificate(pki), hash_name="sha512"))(signer_info, pki)


def ess_twice(signer_info: cms.SignerInfo, pki: Pki) -> None:
    _add(signer_info, "signing_certificate_v2", [_ess_v2(_own_certificate(pki))])


def ess_v1_right(signer_info: cms.SignerInfo, pki: Pki) -> None:
    _drop(signer_info, "signing_certificate_v2")
    digest = hashlib.sha1(_own_certificate(pki).dump()).digest()  # noqa: S324 - ESSCertID is SHA-1
    _add(signer_info, "signing_certificate", [tsp.SigningCertificate({"certs": [{"cert_hash": digest}]})])


def ess_v1_wrong(signer_info: cms.SignerInfo, pki: Pki) -> None:
    _drop(signer_info, "signing_certificate_v2")
    digest = hashlib.sha1(b"another certificate").digest()  # noqa: S324 - ESSCertID is SHA-1
    _add(signer_info, "signing_certificate", [tsp.SigningCertificate({"certs": [{"cert_hash": digest}]})])


def no_ess_no_protection(signer_info: cms.SignerInfo, pki: Pki) -> None:
    _drop(signer_info, "signing_certificate_v2")
    _drop(signer_info, "cms_algorithm_protection")


def content_type_twice(signer_info: cms.SignerInfo, pki: Pki) -> None:
    _add(signer_info, "content_type", ["data"])


def message_digest_twice(signer_info: cms.SignerInfo, pki: Pki) -> None:
    _add(signer_info, "message_digest", [hashlib.sha256(CONTENT).digest()])


def protection_other_digest(signer_info: cms.SignerInfo, pki: Pki) -> None:
    protection = _attribute(signer_info, "cms_algorithm_protection")["values"][0]
    protection["digest_algorithm"] = algos.DigestAlgorithm({"algorithm": "sha384"})


def protection_without_signature_algorithm(signer_info: cms.SignerInfo, pki: Pki) -> None:
    _drop(signer_info, "cms_algorithm_protection")
    protection = cms.CMSAlgorithmProtection({"digest_algorithm": {"algorithm": "sha256"}})
    _add(signer_info, "cms_algorithm_protection", [protection])


def protection_twice(signer_info: cms.SignerInfo, pki: Pki) -> None:
    protection = _attribute(signer_info, "cms_algorithm_protection")["values"][0]
    _add(signer_info, "cms_algorithm_protection", [cms.CMSAlgorithmProtection.load(protection.dump())])


CASES: list[tuple[Change, bool]] = [
    (unchanged, True),
    (ess_other_certificate, False),
    (ess_wrong_serial, False),
    (ess_right_issuer_serial, True),
    (ess_issuer_encoded_otherwise, True),
    (ess_other_issuer, False),
    (ess_two_issuer_names, False),
    (ess_sha512, True),
    (ess_twice, False),
    (ess_v1_right, True),
    (ess_v1_wrong, False),
    (no_ess_no_protection, True),
    (content_type_twice, False),
    (message_digest_twice, False),
    (protection_other_digest, False),
    (protection_without_signature_algorithm, False),
    (protection_twice, False),
]


def _resigned(pki: Pki, change: Change) -> bytes:
    with open_key_source(str(pki.p12("bidder-c/sign")), PinSource.of_value(pki.pin)) as source:
        entry = source.entry()
        info = cms.ContentInfo.load(signed.sign(CONTENT, entry))
        signer_info = info["content"]["signer_infos"][0]
        change(signer_info, pki)
        signer_info["signature"] = entry.sign(signer_info["signed_attrs"].untag().dump(force=True), "sha256")
    return bytes(info.dump(force=True))


def _pyhanko_accepts(der: bytes, pki: Pki) -> bool:
    signer_info = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
    try:
        intact, valid = validate_sig_integrity(
            signer_info,
            _own_certificate(pki),
            expected_content_type="data",
            actual_digest=hashlib.sha256(CONTENT).digest(),
            sig_validator=SchemeSignatureValidator(),
        )
    except SignatureValidationError:
        return False
    return bool(intact and valid)


def _bidcrypt_accepts(der: bytes) -> bool:
    try:
        assert signed.verify(der).content == CONTENT
    except ManifestError:
        return False
    return True


@pytest.mark.parametrize(("change", "accepted"), CASES, ids=[change.__name__ for change, _ in CASES])
def test_bidcrypt_and_pyhanko_agree(pki: Pki, change: Change, accepted: bool) -> None:
    der = _resigned(pki, change)
    assert _pyhanko_accepts(der, pki) is accepted
    assert _bidcrypt_accepts(der) is accepted


def test_an_attribute_without_values_refuses_without_a_crash(pki: Pki) -> None:
    def empty_message_digest(signer_info: cms.SignerInfo, pki: Pki) -> None:
        _drop(signer_info, "message_digest")
        _add(signer_info, "message_digest", [])

    with pytest.raises(ManifestError, match="does not match its digest"):
        signed.verify(_resigned(pki, empty_message_digest))


def test_an_empty_ess_certificate_list_refuses_without_a_crash(pki: Pki) -> None:
    empty = tsp.SigningCertificateV2({"certs": []})
    with pytest.raises(ManifestError, match="manifest signature invalid"):
        signed.verify(_resigned(pki, _replace_ess(empty)))


def test_an_ess_hash_nobody_knows_refuses_without_a_crash(pki: Pki) -> None:
    own = _own_certificate(pki)
    unknown = tsp.SigningCertificateV2(
        {
            "certs": [
                {
                    "hash_algorithm": {"algorithm": "1.2.3.4.5"},
                    "cert_hash": core.OctetString(b"x" * 32).native,
                }
            ]
        }
    )
    assert own.serial_number  # the signer is bidder-c, whose ESS attribute is replaced
    with pytest.raises(ManifestError, match="manifest signature invalid"):
        signed.verify(_resigned(pki, _replace_ess(unknown)))
