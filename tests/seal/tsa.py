"""A small RFC 3161 timestamp authority on loopback, for tests.

It answers ``application/timestamp-query`` POSTs with a ``granted``
TimeStampResp whose token is a CMS SignedData over a TSTInfo, signed with a
TSA certificate the test issues from the fixture CA ``ca/vendor-rsa`` (so it
chains to the fixture root), with the critical timeStamping extended key
usage and the ESS signing-certificate-v2 attribute that RFC 5816 asks for.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: A policy OID for the test TSA (a UUID-derived OID, ITU-T X.667).
POLICY = "2.25.311405236208357035718390232460541585922"


@dataclass
class LocalTsa:
    """The running authority: its URL, certificate, and the requests it answered."""

    url: str
    certificate: x509.Certificate
    answered: list[bytes] = field(default_factory=list)


def issue_tsa_certificate(pki_root: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A TSA certificate from ``ca/vendor-rsa`` with a fresh RSA-2048 key."""
    ca_cert = x509.load_pem_x509_certificate((pki_root / "ca" / "vendor-rsa.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((pki_root / "ca" / "vendor-rsa.key.pem").read_bytes(), None)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "楚天CA测试"),
            x509.NameAttribute(NameOID.COMMON_NAME, "楚天测试时间戳服务"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2045, 1, 1, tzinfo=dt.UTC))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return certificate, key


def _response(
    request_der: bytes, certificate: x509.Certificate, key: rsa.RSAPrivateKey, serial: int
) -> bytes:
    request = tsp.TimeStampReq.load(request_der)
    imprint = request["message_imprint"]
    info = {
        "version": "v1",
        "policy": POLICY,
        "message_imprint": imprint,
        "serial_number": serial,
        "gen_time": dt.datetime.now(dt.UTC).replace(microsecond=0),
        "accuracy": {"seconds": 1},
    }
    if request["nonce"].native is not None:
        info["nonce"] = request["nonce"].native
    tst_info = tsp.TSTInfo(info).dump()
    asn1_cert = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
    ess = tsp.SigningCertificateV2({"certs": [{"cert_hash": hashlib.sha256(asn1_cert.dump()).digest()}]})
    attributes = cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
            cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(tst_info).digest()]}),
            cms.CMSAttribute({"type": "signing_certificate_v2", "values": [ess]}),
        ]
    )
    signature = key.sign(attributes.dump(), padding.PKCS1v15(), hashes.SHA256())
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": asn1_cert.issuer,
                        "serial_number": asn1_cert.serial_number,
                    }
                }
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": attributes,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}),
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {
                "content_type": "tst_info",
                "content": core.ParsableOctetString(tst_info),
            },
            "certificates": [asn1_cert],
            "signer_infos": [signer_info],
        }
    )
    token = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()


@contextmanager
def running_tsa(pki_root: Path) -> Iterator[LocalTsa]:
    """Serve timestamps on 127.0.0.1 (a free port) until the block ends."""
    certificate, key = issue_tsa_certificate(pki_root)
    state = LocalTsa(url="", certificate=certificate)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if self.headers.get("Content-Type") != "application/timestamp-query":
                self.send_error(415)
                return
            state.answered.append(body)
            answer = _response(body, certificate, key, serial=len(state.answered))
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/tsa"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
