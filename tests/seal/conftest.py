"""Fixtures of the seal tests: sample documents, seal images, a local TSA, an NSS trust store, pixels."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from bidcrypt.trust import TrustStore

from ..conftest import FIXTURES, Pki, require_tool
from .tsa import LocalTsa, running_tsa

DOCUMENTS = FIXTURES / "documents"
SEALS = FIXTURES / "seals"


def document(bidder: str = "bidder-a") -> Path:
    """The sample bid response of *bidder*."""
    return DOCUMENTS / f"bid-response-{bidder}.pdf"


def seal_image(bidder: str, kind: str) -> Path:
    """The seal picture of *bidder*: kind ``company`` or ``legal-person``."""
    return SEALS / f"{bidder}-{kind}.png"


def trust_store(pki: Pki, crl: bool = True) -> TrustStore:
    """The fixture root as the only anchor (the vendors come from the seals), with the vendor CRL."""
    return TrustStore.load([pki.roots], [pki.crl] if crl else [])


def leftovers(directory: Path, *keep: Path) -> list[str]:
    """Files in *directory* other than *keep*: what a failed command must not leave."""
    kept = {p.name for p in keep}
    return sorted(p.name for p in directory.iterdir() if p.name not in kept)


@pytest.fixture(scope="session")
def tsa(pki: Pki) -> Iterator[LocalTsa]:
    """An RFC 3161 timestamp authority on loopback whose certificate chains to the fixture root."""
    with running_tsa(pki.root) as authority:
        yield authority


@pytest.fixture(scope="session")
def nss_db(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> str:
    """An NSS database (for pdfsig) that trusts the fixture root CA and nothing else."""
    certutil = require_tool("certutil")
    directory = tmp_path_factory.mktemp("nssdb")
    subprocess.run([certutil, "-N", "-d", f"sql:{directory}", "--empty-password"], check=True)
    subprocess.run(
        [
            certutil,
            "-A",
            "-d",
            f"sql:{directory}",
            "-n",
            "bidcrypt-test-root",
            "-t",
            "CT,C,C",
            "-i",
            pki.roots,
        ],
        check=True,
    )
    return f"sql:{directory}"


def expired_signing_p12(pki: Pki, directory: Path) -> Path:
    """bidder-a's signing key with a company signing certificate that expired on 2024-12-31."""
    ca_cert = x509.load_pem_x509_certificate((pki.root / "ca" / "vendor-rsa.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((pki.root / "ca" / "vendor-rsa.key.pem").read_bytes(), None)
    current = x509.load_pem_x509_certificate(pki.cert("bidder-a/sign").read_bytes())
    key = serialization.load_pem_private_key(pki.key("bidder-a/sign").read_bytes(), None)
    assert isinstance(ca_key, rsa.RSAPrivateKey) and isinstance(key, rsa.RSAPrivateKey)
    builder = (
        x509.CertificateBuilder()
        .subject_name(current.subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(0x5EA1ED)
        .not_valid_before(dt.datetime(2022, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2024, 12, 31, tzinfo=dt.UTC))
    )
    for extension in current.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    certificate = builder.sign(ca_key, hashes.SHA256())
    path = directory / "sign-expired.p12"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"sign", key, certificate, [ca_cert], serialization.BestAvailableEncryption(pki.pin.encode())
        )
    )
    return path


@dataclass(frozen=True)
class Raster:
    """A page rendered by pdftoppm: RGB pixels, with the scale from PDF points."""

    width: int
    height: int
    pixels: bytes
    dpi: int

    def is_red(self, x: int, y: int) -> bool:
        """Seal red: strong red, weak green and blue."""
        offset = 3 * (y * self.width + x)
        r, g, b = self.pixels[offset], self.pixels[offset + 1], self.pixels[offset + 2]
        return r > 150 and g < 110 and b < 110

    def red_in(self, box: tuple[float, float, float, float], page_height: float) -> tuple[int, int]:
        """(red pixels, all pixels) inside a box given in PDF points (origin lower left)."""
        scale = self.dpi / 72
        x1, y1, x2, y2 = box
        left, right = int(x1 * scale), int(x2 * scale)
        top, bottom = int((page_height - y2) * scale), int((page_height - y1) * scale)
        red = sum(self.is_red(x, y) for y in range(top, bottom) for x in range(left, right))
        return red, (right - left) * (bottom - top)

    def red_total(self) -> int:
        """Red pixels on the whole page."""
        return sum(self.is_red(x, y) for y in range(self.height) for x in range(self.width))


def render_page(pdf: Path, page: int, directory: Path, dpi: int = 50) -> Raster:
    """Render one page (1-based) with poppler's pdftoppm to a PPM and read it."""
    pdftoppm = require_tool("pdftoppm")
    prefix = directory / f"page{page}"
    subprocess.run(
        [pdftoppm, "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile", pdf, prefix], check=True
    )
    data = (directory / f"page{page}.ppm").read_bytes()
    header = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", data)
    assert header is not None, "pdftoppm did not write an 8-bit PPM"
    return Raster(int(header[1]), int(header[2]), data[header.end() :], dpi)
