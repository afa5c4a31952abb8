"""A small RFC 3161 timestamp authority on loopback, for tests: honest by default, faulty on request.

It answers ``application/timestamp-query`` POSTs with a ``granted``
TimeStampResp whose token is a CMS SignedData over a TSTInfo. By default the
token is signed with a TSA certificate the test issues from the fixture CA
``ca/vendor-rsa`` (so it chains to the fixture root), with the critical
timeStamping extended key usage and the ESS signing-certificate-v2 attribute
that RFC 5816 asks for. :class:`Quirks` makes it break one rule at a time,
:func:`tsa_identity` issues TSA certificates that break the RFC 3161 §2.3
profile, and ``tls=True`` serves over HTTPS with a server certificate from a
throw-away TLS CA (:attr:`LocalTsa.tls_ca_pem`).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import http.server
import ipaddress
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: A policy OID for the test TSA (a UUID-derived OID, ITU-T X.667).
POLICY = "2.25.311405236208357035718390232460541585922"

#: How a test TSA certificate's extended key usage departs from RFC 3161 §2.3 (``critical`` is right).
Eku = Literal["critical", "not-critical", "absent", "with-server-auth"]


class _Refusal(core.Sequence):
    """A TimeStampResp without a token (asn1crypto's own class requires one)."""

    _fields = [("status", tsp.PKIStatusInfo)]  # noqa: RUF012 - asn1crypto's way of declaring fields


@dataclass(frozen=True)
class TsaIdentity:
    """A certificate and its RSA key that sign the tokens."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey


@dataclass(frozen=True)
class Quirks:
    """What the authority gets wrong (nothing, by default).

    ``gen_time``: the time it claims (default: now); ``imprint``: the digest
    it claims to timestamp instead of the requested one; ``nonce``: echo
    the request's, send another, or none; ``status``: the PKIStatus;
    ``ess``: the signing-certificate attribute, v2 (right), v1 (right too),
    none, or one naming another certificate; ``body``: these bytes as the
    whole answer, whatever was asked.
    """

    gen_time: dt.datetime | None = None
    imprint: bytes | None = None
    nonce: Literal["echo", "other", "none"] = "echo"
    status: str = "granted"
    ess: Literal["v2", "v1", "none", "other-certificate"] = "v2"
    body: bytes | None = None


@dataclass
class LocalTsa:
    """The running authority: its URL, certificate, TLS CA if any, and the requests it answered."""

    url: str
    certificate: x509.Certificate
    answered: list[bytes] = field(default_factory=list)
    tls_ca_pem: bytes | None = None

    def client_tls(self) -> ssl.SSLContext:
        """A client TLS context that trusts this authority's TLS CA."""
        assert self.tls_ca_pem is not None, "the authority does not serve TLS"
        return ssl.create_default_context(cadata=self.tls_ca_pem.decode())


@functools.cache
def _rsa_key(label: str) -> rsa.RSAPrivateKey:
    """One fresh RSA-2048 key per label and test process (generating keys is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def tsa_identity(
    pki_root: Path,
    *,
    eku: Eku = "critical",
    not_before: dt.datetime = dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    not_after: dt.datetime = dt.datetime(2055, 1, 1, tzinfo=dt.UTC),
) -> TsaIdentity:
    """A TSA certificate from ``ca/vendor-rsa`` (valid as long as that CA by default)."""
    ca_cert = x509.load_pem_x509_certificate((pki_root / "ca" / "vendor-rsa.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((pki_root / "ca" / "vendor-rsa.key.pem").read_bytes(), None)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    key = _rsa_key("tsa")
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "楚天CA测试"),
            x509.NameAttribute(NameOID.COMMON_NAME, "楚天测试时间戳服务"),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
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
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if eku != "absent":
        purposes = [ExtendedKeyUsageOID.TIME_STAMPING]
        if eku == "with-server-auth":
            purposes.append(ExtendedKeyUsageOID.SERVER_AUTH)
        builder = builder.add_extension(x509.ExtendedKeyUsage(purposes), critical=eku != "not-critical")
    return TsaIdentity(builder.sign(ca_key, hashes.SHA256()), key)


def issue_tsa_certificate(pki_root: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """The right TSA certificate and its key (see :func:`tsa_identity`)."""
    identity = tsa_identity(pki_root)
    return identity.certificate, identity.key


def _ess_attribute(certificate: asn1_x509.Certificate, ess: str, other: bytes) -> cms.CMSAttribute | None:
    if ess == "none":
        return None
    if ess == "v1":
        value = tsp.SigningCertificate({"certs": [{"cert_hash": hashlib.sha1(certificate.dump()).digest()}]})  # noqa: S324 - ESSCertID v1 is SHA-1 by definition
        return cms.CMSAttribute({"type": "signing_certificate", "values": [value]})
    cert_hash = hashlib.sha256(other if ess == "other-certificate" else certificate.dump()).digest()
    value_v2 = tsp.SigningCertificateV2({"certs": [{"cert_hash": cert_hash}]})
    return cms.CMSAttribute({"type": "signing_certificate_v2", "values": [value_v2]})


def make_response(
    request_der: bytes, identity: TsaIdentity, serial: int, quirks: Quirks, issuer: bytes
) -> bytes:
    """The TimeStampResp to one request; *issuer* (DER) is the TSA's CA, shipped in the token.

    (It is also the certificate a wrong ESS attribute names.)
    """
    if quirks.body is not None:
        return quirks.body
    request = tsp.TimeStampReq.load(request_der)
    if quirks.status not in ("granted", "granted_with_mods"):
        status = tsp.PKIStatusInfo(
            {
                "status": quirks.status,
                "status_string": ["refused by the test TSA\x1b[31m"],
                "fail_info": {"bad_alg"},
            }
        )
        return _Refusal({"status": status}).dump()
    imprint = request["message_imprint"]
    if quirks.imprint is not None:
        imprint = tsp.MessageImprint(
            {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": quirks.imprint}
        )
    info = {
        "version": "v1",
        "policy": POLICY,
        "message_imprint": imprint,
        "serial_number": serial,
        "gen_time": quirks.gen_time or dt.datetime.now(dt.UTC).replace(microsecond=0),
        "accuracy": {"seconds": 1},
    }
    nonce = request["nonce"].native
    if nonce is not None and quirks.nonce != "none":
        info["nonce"] = nonce + 1 if quirks.nonce == "other" else nonce
    tst_info = tsp.TSTInfo(info).dump()
    asn1_cert = asn1_x509.Certificate.load(identity.certificate.public_bytes(serialization.Encoding.DER))
    attributes = [
        cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
        cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(tst_info).digest()]}),
    ]
    ess = _ess_attribute(asn1_cert, quirks.ess, issuer)
    if ess is not None:
        attributes.append(ess)
    signed_attributes = cms.CMSAttributes(attributes)
    signature = identity.key.sign(signed_attributes.dump(), padding.PKCS1v15(), hashes.SHA256())
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
            "signed_attrs": signed_attributes,
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
            "certificates": [asn1_cert, asn1_x509.Certificate.load(issuer)],
            "signer_infos": [signer_info],
        }
    )
    token = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    return tsp.TimeStampResp({"status": {"status": quirks.status}, "time_stamp_token": token}).dump()


def _tls_material() -> tuple[bytes, bytes, bytes]:
    """A throw-away TLS CA and a server certificate for 127.0.0.1 (PEM: CA, server chain, server key)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bidcrypt test TLS CA")])
    start, end = dt.datetime(2024, 1, 1, tzinfo=dt.UTC), dt.datetime(2055, 1, 1, tzinfo=dt.UTC)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return ca.public_bytes(pem), server.public_bytes(pem) + ca.public_bytes(pem), key_pem


#: ``openssl ts -reply`` configuration: SHA-256 everywhere, ESSCertIDv2 (RFC 5816), the CA in the token.
OPENSSL_TSA_CONFIG = """\
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
serial = {directory}/serial
signer_digest = sha256
default_policy = {policy}
digests = sha256
accuracy = secs:1
ess_cert_id_alg = sha256
certs = {directory}/chain.pem
"""


class OpensslBackend:
    """Answers with ``openssl ts -reply``: a TSA that is not bidcrypt's code (an interop peer)."""

    def __init__(self, openssl: str, identity: TsaIdentity, issuer_pem: bytes, directory: Path) -> None:
        self.openssl = openssl
        self.directory = directory
        pem = serialization.Encoding.PEM
        (directory / "tsa.pem").write_bytes(identity.certificate.public_bytes(pem))
        (directory / "tsa.key").write_bytes(
            identity.key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        (directory / "chain.pem").write_bytes(issuer_pem)
        (directory / "serial").write_text("01\n")
        (directory / "ts.cnf").write_text(OPENSSL_TSA_CONFIG.format(directory=directory, policy=POLICY))
        self.lock = threading.Lock()

    def answer(self, request: bytes) -> bytes:
        """The response openssl gives to *request*."""
        with self.lock:
            query, reply = self.directory / "query.tsq", self.directory / "reply.tsr"
            query.write_bytes(request)
            folder = self.directory
            command = [self.openssl, "ts", "-reply", "-config", folder / "ts.cnf", "-queryfile", query]
            command += ["-signer", folder / "tsa.pem", "-inkey", folder / "tsa.key", "-out", reply]
            subprocess.run(command, check=True, capture_output=True)
            return reply.read_bytes()


@contextmanager
def running_tsa(
    pki_root: Path,
    *,
    identity: TsaIdentity | None = None,
    quirks: Quirks = Quirks(),
    tls: bool = False,
    openssl: str | None = None,
) -> Iterator[LocalTsa]:
    """Serve timestamps on 127.0.0.1 (a free port) until the block ends.

    With *openssl* (the path of the ``openssl`` tool), ``openssl ts -reply``
    makes the answers, and *quirks* do not apply.
    """
    signer = identity or tsa_identity(pki_root)
    vendor = (pki_root / "ca" / "vendor-rsa.pem").read_bytes()
    vendor_der = x509.load_pem_x509_certificate(vendor).public_bytes(serialization.Encoding.DER)
    state = LocalTsa(url="", certificate=signer.certificate)
    with tempfile.TemporaryDirectory() as work:
        backend = OpensslBackend(openssl, signer, vendor, Path(work)) if openssl else None
        with _serve(state, signer, quirks, vendor_der, backend, tls) as served:
            yield served


@contextmanager
def _serve(
    state: LocalTsa,
    signer: TsaIdentity,
    quirks: Quirks,
    vendor_der: bytes,
    backend: OpensslBackend | None,
    tls: bool,
) -> Iterator[LocalTsa]:

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if self.headers.get("Content-Type") != "application/timestamp-query":
                self.send_error(415)
                return
            state.answered.append(body)
            if backend is not None:
                answer = backend.answer(body)
            else:
                answer = make_response(body, signer, len(state.answered), quirks, vendor_der)
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if tls:
        ca_pem, chain_pem, key_pem = _tls_material()
        with tempfile.TemporaryDirectory() as directory:
            chain_file, key_file = Path(directory, "chain.pem"), Path(directory, "key.pem")
            chain_file.write_bytes(chain_pem)
            key_file.write_bytes(key_pem)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(chain_file, key_file)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        state.tls_ca_pem = ca_pem
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"{scheme}://127.0.0.1:{server.server_address[1]}/tsa"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
