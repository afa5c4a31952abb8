"""SM2 SignedData: made through the one signing path, checked in the standard form and GmSSL's."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import algos, cms, core
from cryptography import x509
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcrypt import certs, gm
from bidcrypt.errors import ManifestError, MechanismUnsupportedError, SealInvalidError
from bidcrypt.keys import (
    KeyEntry,
    PinSource,
    open_key_source,
    read_signed_data,
    sign_data,
    verify_signed_data,
)
from bidcrypt.package import signed

from ..conftest import Pki, require_tool
from ..interop.peers import BouncyCastle, Sm2Chain

VECTORS = Path(__file__).parent / "vectors"
GMSSL_SIGNED = (VECTORS / "cms" / "signed-short.der").read_bytes()
SHORT = (VECTORS / "data" / "short.txt").read_bytes()
DISTID = "distid:" + gm.DEFAULT_ID.decode()


def _certificate(name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((VECTORS / "pki" / f"{name}.pem").read_bytes())


def _key(name: str) -> gm.Sm2PrivateKey:
    return gm.Sm2PrivateKey.from_pem((VECTORS / "pki" / f"{name}.key.pem").read_bytes())


@pytest.fixture(scope="module")
def entry() -> Iterator[KeyEntry]:
    """The GmSSL vectors' SM2 signing key and certificate, as a PKCS#12 key source gives them."""
    path = VECTORS / "pki" / "bidder-sign.p12"
    with open_key_source(path, PinSource.of_value("gm-vectors")) as source:
        yield source.entry(certs.Purpose.SIGNING)


def _made_by_hand(
    content: bytes,
    *,
    outer: str = gm.oids.GM_SIGNED_DATA,
    inner: str = gm.oids.GM_DATA,
    algorithm: str = gm.oids.SM2_WITH_SM3,
    distid: bytes = gm.DEFAULT_ID,
    key: str = "bidder-sign",
    certificate: str = "bidder-sign",
) -> bytes:
    """A standard-form SM2 SignedData built with asn1crypto: content type, SM3 message digest, Z(distid)."""
    cert = certs.to_asn1(_certificate(certificate))
    attributes = cms.CMSAttributes(
        [
            {"type": "content_type", "values": [inner]},
            {"type": "message_digest", "values": [gm.sm3(content)]},
        ]
    )
    signature = _key(key).sign(attributes.dump(), distid=distid)
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": cert.issuer,
                        "serial_number": cert.serial_number,
                    }
                }
            ),
            "digest_algorithm": {"algorithm": gm.oids.SM3},
            "signed_attrs": attributes,
            "signature_algorithm": {"algorithm": algorithm},
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": gm.oids.SM3}],
            "encap_content_info": cms.ContentInfo.load(
                _tlv(0x30, core.ObjectIdentifier(inner).dump() + _tlv(0xA0, core.OctetString(content).dump()))
            ),
            "certificates": [cert],
            "signer_infos": [signer_info],
        }
    )
    # asn1crypto does not write the [0] EXPLICIT tags for content types it does not know: by hand
    return _tlv(0x30, core.ObjectIdentifier(outer).dump() + _tlv(0xA0, signed_data.dump()))


def _tlv(tag: int, value: bytes) -> bytes:
    size = len(value)
    if size < 0x80:
        return bytes([tag, size]) + value
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + value


# --- GmSSL's SignedData --------------------------------------------------------------------------


def test_gmssls_signed_data_verifies_only_when_its_form_is_allowed() -> None:
    with pytest.raises(ManifestError, match="GmSSL's form"):
        verify_signed_data(GMSSL_SIGNED)
    result = verify_signed_data(GMSSL_SIGNED, allow_gmssl_form=True)
    assert result.form == "gmssl"
    assert result.content == SHORT
    assert result.content_type == "data"  # GM data, 1.2.156.10197.6.1.4.2.1
    assert result.digest_algorithm == "sm3"
    assert result.signer == _certificate("bidder-sign")


def test_gmssls_form_is_raw_sm2_over_the_encapsulated_content_info() -> None:
    """The form's definition, checked with the engine's primitives rather than verify_signed_data."""
    signed_data = read_signed_data(GMSSL_SIGNED)  # (bidcrypt.seal teaches asn1crypto the GM type too)
    digest = gm.sm3(signed_data["encap_content_info"].dump())
    signature = signed_data["signer_infos"][0]["signature"].native
    public = certs.public_key(_certificate("bidder-sign"))
    assert isinstance(public, gm.Sm2PublicKey)
    public.verify_digest(signature, digest)
    with pytest.raises(gm.InvalidSignature):  # not SM2 with SM3 with Z over the content
        public.verify(signature, SHORT)


def _flip(der: bytes, at: int) -> bytes:
    changed = bytearray(der)
    changed[at] ^= 0x01
    return bytes(changed)


def test_gmssls_form_still_refuses_a_tampered_signed_data() -> None:
    content_at = GMSSL_SIGNED.index(SHORT[:16])
    with pytest.raises(ManifestError, match="does not verify"):
        verify_signed_data(_flip(GMSSL_SIGNED, content_at + 3), allow_gmssl_form=True)
    with pytest.raises(ManifestError):
        verify_signed_data(_flip(GMSSL_SIGNED, len(GMSSL_SIGNED) - 5), allow_gmssl_form=True)


# --- bidcrypt's SM2 SignedData ----------------------------------------------------------------------


def test_bidcrypt_signs_sm2_with_sm3_in_the_standard_form(entry: KeyEntry) -> None:
    der = sign_data(b"manifest", entry, hash_name="sm3")
    signer_info = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
    assert signer_info["digest_algorithm"]["algorithm"].dotted == gm.oids.SM3
    assert signer_info["signature_algorithm"]["algorithm"].dotted == gm.oids.SM2_WITH_SM3
    assert signer_info["signature_algorithm"]["parameters"].native is None
    result = verify_signed_data(der)
    assert (result.form, result.content, result.signer) == ("standard", b"manifest", entry.certificate)
    assert verify_signed_data(der, allow_gmssl_form=True).form == "standard"


def test_sm3_is_the_default_digest_of_an_sm2_signer_and_the_only_one(entry: KeyEntry) -> None:
    """pyHanko hashes with ``hashes.SM3`` by the name ``sm3``: nothing else needs registering."""
    der = sign_data(SHORT, entry)
    assert verify_signed_data(der).digest_algorithm == "sm3"
    with pytest.raises(MechanismUnsupportedError):
        sign_data(SHORT, entry, hash_name="sha256")


def test_an_sm2_manifest_is_signed_with_sm3(entry: KeyEntry) -> None:
    """The package's manifest signature picks SM3 for an SM2 signer and checks it."""
    der = signed.sign(b'{"manifest": 1}', entry)
    signer_info = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
    assert signer_info["digest_algorithm"]["algorithm"].dotted == gm.oids.SM3
    assert signed.verify(der).content == b'{"manifest": 1}'
    assert verify_signed_data(der).form == "standard"


def test_the_standard_form_of_rsa_verifies_too(pki: Pki) -> None:
    with open_key_source(str(pki.p12("bidder-a/sign")), PinSource.of_value(pki.pin)) as source:
        der = signed.sign(b"rsa manifest", source.entry(certs.Purpose.SIGNING))
    result = verify_signed_data(der)
    assert (result.form, result.digest_algorithm, result.content) == ("standard", "sha256", b"rsa manifest")


@pytest.mark.parametrize(
    ("outer", "inner", "algorithm"),
    [
        (gm.oids.GM_SIGNED_DATA, gm.oids.GM_DATA, gm.oids.SM2_WITH_SM3),
        ("1.2.840.113549.1.7.2", "1.2.840.113549.1.7.1", gm.oids.SM2_WITH_SM3),
        (gm.oids.GM_SIGNED_DATA, "1.2.840.113549.1.7.1", gm.oids.SM2_SIGN),
        ("1.2.840.113549.1.7.2", gm.oids.GM_DATA, gm.oids.SM2_SIGN),
    ],
)
def test_gm_and_pkcs7_content_types_and_both_sm2_oids_are_read(
    outer: str, inner: str, algorithm: str
) -> None:
    der = _made_by_hand(SHORT, outer=outer, inner=inner, algorithm=algorithm)
    result = verify_signed_data(der)
    assert (result.form, result.content, result.content_type) == ("standard", SHORT, "data")


def test_openssl_primitives_verify_bidcrypts_sm2_signed_data(entry: KeyEntry, tmp_path: Path) -> None:
    """openssl 3.0's ``cms -verify`` cannot check SM2 (no distinguishing ID; it cannot sign SM2 CMS
    either), so the parts are checked one by one: the SM3 message digest (``dgst -sm3``) and the
    signature over the DER signed attributes (``pkeyutl -verify -rawin -digest sm3 -pkeyopt distid:…``).
    """
    openssl = require_tool("openssl")
    der = sign_data(SHORT, entry, hash_name="sm3")
    signer_info = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
    attributes = signer_info["signed_attrs"]
    (tmp_path / "content").write_bytes(SHORT)
    (tmp_path / "attrs.der").write_bytes(b"\x31" + attributes.dump()[1:])
    (tmp_path / "sig.der").write_bytes(signer_info["signature"].native)
    (tmp_path / "cert.pem").write_bytes((VECTORS / "pki" / "bidder-sign.pem").read_bytes())

    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([openssl, *args], cwd=tmp_path, capture_output=True, check=False)

    digest = run("dgst", "-sm3", "-binary", "content")
    assert digest.returncode == 0
    message_digest = next(a for a in attributes if a["type"].native == "message_digest")
    assert message_digest["values"][0].native == digest.stdout
    verify = (
        "pkeyutl", "-verify", "-certin", "-inkey", "cert.pem", "-rawin", "-digest", "sm3",
        "-pkeyopt", DISTID, "-in", "attrs.der", "-sigfile", "sig.der",
    )  # fmt: skip
    done = run(*verify)
    assert done.returncode == 0, done.stderr
    assert b"Signature Verified Successfully" in done.stdout
    (tmp_path / "attrs.der").write_bytes(_flip((tmp_path / "attrs.der").read_bytes(), 20))
    assert run(*verify).returncode != 0


# --- hostile input --------------------------------------------------------------------------------


def _swap_signer_certificate(der: bytes, name: str) -> bytes:
    """The SignedData with its certificate replaced by *name*'s, and the signer identifier following it."""
    info = cms.ContentInfo.load(der)
    signed_data = info["content"]
    other = certs.to_asn1(_certificate(name))
    signed_data["certificates"] = [other]
    signer_info = signed_data["signer_infos"][0]
    signer_info["sid"] = cms.SignerIdentifier(
        {"issuer_and_serial_number": {"issuer": other.issuer, "serial_number": other.serial_number}}
    )
    return bytes(info.dump(force=True))


@pytest.mark.parametrize(
    "hostile",
    [
        "tampered content",
        "tampered signature",
        "other distinguishing ID",
        "signer certificate swapped",
        "wrong signer key",
        "GmSSL form not allowed",
        "truncated",
    ],
)
def test_hostile_sm2_signed_data_is_refused_cleanly(entry: KeyEntry, hostile: str) -> None:
    good = sign_data(SHORT, entry, hash_name="sm3")
    if hostile == "tampered content":
        der = _flip(good, good.index(SHORT[:16]) + 5)
    elif hostile == "tampered signature":
        der = _flip(good, len(good) - 6)
    elif hostile == "other distinguishing ID":
        der = _made_by_hand(SHORT, distid=b"another-id-1234")
    elif hostile == "signer certificate swapped":
        der = _swap_signer_certificate(good, "bidder-enc")
    elif hostile == "wrong signer key":
        der = _made_by_hand(SHORT, key="bidder-enc")
    elif hostile == "GmSSL form not allowed":
        der = GMSSL_SIGNED
    else:
        der = good[: len(good) // 2]
    with pytest.raises(ManifestError):
        verify_signed_data(der)
    with pytest.raises(ManifestError):
        signed.verify(der)
    if hostile != "GmSSL form not allowed":
        with pytest.raises(ManifestError):
            verify_signed_data(der, allow_gmssl_form=True)


def test_the_refusal_is_the_callers_error() -> None:
    with pytest.raises(SealInvalidError):
        verify_signed_data(b"\x30\x03\x02\x01\x00", error=SealInvalidError)


def test_sm2_with_another_digest_is_refused(entry: KeyEntry) -> None:
    good = cms.ContentInfo.load(sign_data(SHORT, entry, hash_name="sm3"))
    signer_info = good["content"]["signer_infos"][0]
    signer_info["digest_algorithm"] = algos.DigestAlgorithm({"algorithm": "sha256"})
    with pytest.raises(ManifestError, match="does not go with"):
        verify_signed_data(bytes(good.dump(force=True)))


@settings(max_examples=25)
@given(st.binary(min_size=0, max_size=4096))
def test_round_trip_over_content_sizes(entry: KeyEntry, content: bytes) -> None:
    der = sign_data(content, entry, hash_name="sm3")
    assert verify_signed_data(der).content == content
    by_hand = _made_by_hand(content)
    assert verify_signed_data(by_hand).content == content


#: One SM2 SignedData for the mutations (a signature is random: each call makes another length).
HAND_MADE = _made_by_hand(SHORT)


@settings(max_examples=60)
@given(st.data())
def test_bit_flips_and_cuts_never_crash(data: st.DataObject) -> None:
    der = HAND_MADE
    position = data.draw(st.integers(0, len(der) - 1))
    mutated = _flip(der, position) if data.draw(st.booleans()) else der[:position]
    for allow in (False, True):
        try:
            result = verify_signed_data(mutated, allow_gmssl_form=allow)
        except ManifestError:
            continue
        assert result.content == SHORT  # a flip the signature does not cover (e.g. in the certificate)


# --- BouncyCastle 1.72 ------------------------------------------------------------------------------


def test_bouncycastles_sm2_signed_data_verifies_in_bidcrypt(
    bouncycastle: BouncyCastle, sm2_chain: Sm2Chain, tmp_path: Path
) -> None:
    """BC's ``SM3withSM2`` CMSSignedDataGenerator: the standard form; detached content is refused cleanly."""
    content = tmp_path / "content.bin"
    content.write_bytes(SHORT)
    attached, detached = tmp_path / "attached.p7s", tmp_path / "detached.p7s"
    key, leaf = sm2_chain.leaf_keys.private, sm2_chain.leaf
    for answer in bouncycastle.batch(
        [("cms-sign", key, leaf, content, attached), ("cms-sign", key, leaf, content, detached, "detached")]
    ):
        answer.result()
    result = verify_signed_data(attached.read_bytes())
    assert (result.form, result.content, result.digest_algorithm) == ("standard", SHORT, "sm3")
    assert result.signer == x509.load_pem_x509_certificate(leaf.read_bytes())
    der = attached.read_bytes()
    with pytest.raises(ManifestError, match="does not match"):
        verify_signed_data(_flip(der, der.index(SHORT[:16]) + 7))
    with pytest.raises(ManifestError, match="attached content"):
        verify_signed_data(detached.read_bytes())


def test_an_embedded_certificate_of_an_unknown_version_is_refused_not_a_crash() -> None:
    """Found in CI: a version INTEGER 3 makes cryptography raise InvalidVersion, not ValueError."""
    version_v3 = b"\xa0\x03\x02\x01\x02"
    assert version_v3 in HAND_MADE
    mutated = HAND_MADE.replace(version_v3, b"\xa0\x03\x02\x01\x03", 1)
    for allow in (False, True):
        with pytest.raises(ManifestError, match="malformed"):
            verify_signed_data(mutated, allow_gmssl_form=allow)
