"""Interop peers nobody here wrote, run as subprocesses: BouncyCastle, sm-crypto, sm-crypto-v2, openssl.

Each peer runs a batch of operations per process (a JVM starts in about a second), so a test gathers
its operations and makes one call. Secrets (private keys, SM4 keys) reach a peer through files or its
standard input, never its command line. The fixtures here are registered for the whole suite by
``tests/conftest.py`` (``pytest_plugins``); a missing peer skips the test, except in CI
(``CI=true``), where it fails it: CI installs every peer (``scripts/setup.sh``).

- ``bouncycastle``: ``tests/interop/java/Sm2Peer.java`` on Debian's BouncyCastle 1.72 jars, compiled
  on first use into ``build/interop-java/`` (keyed by the source and the jars, so an edit recompiles).
- ``sm_crypto``: ``tests/interop/node/sm2peer.js``, parametrized over npm ``sm-crypto`` and
  ``sm-crypto-v2`` (installed by ``npm ci`` in ``tests/interop/node``).
- ``sm2_keys`` / ``sm2_chain``: SM2 keys and an SM2 certificate chain freshly made by the openssl
  command line in a temporary directory, with the helpers ``openssl_*`` to use them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from asn1crypto import keys, pem

from tests.conftest import IN_CI, ROOT, require_tool

INTEROP = Path(__file__).resolve().parent
JAVA_SOURCE = INTEROP / "java" / "Sm2Peer.java"
NODE_PEERS = INTEROP / "node"
NODE_SCRIPT = NODE_PEERS / "sm2peer.js"
BC_JARS = tuple(Path("/usr/share/java") / name for name in ("bcprov.jar", "bcpkix.jar", "bcutil.jar"))
JAVA_CACHE = ROOT / "build" / "interop-java"
DEFAULT_ID = b"1234567812345678"
TIMEOUT = 300

#: The two raw SM2 ciphertext orders, as BouncyCastle's ``SM2Engine.Mode`` names them.
Order = Literal["C1C3C2", "C1C2C3"]
ORDERS: tuple[Order, ...] = ("C1C3C2", "C1C2C3")
#: sm-crypto's ``cipherMode`` for each order.
SM_CRYPTO_MODE: dict[Order, int] = {"C1C3C2": 1, "C1C2C3": 0}


def missing_peer(reason: str) -> None:
    """Skip the test because a peer is missing; fail it in CI, which must install every peer."""
    if IN_CI:
        pytest.fail(f"{reason}; the CI set-up (scripts/setup.sh) must install it")
    pytest.skip(reason)


class PeerError(AssertionError):
    """A peer failed where the test expected it to succeed."""


@dataclass(frozen=True)
class Answer:
    """One operation's answer from a peer: its result, or the peer's error message."""

    ok: bool
    value: Any

    def result(self) -> Any:
        """The result; a :class:`PeerError` when the peer refused the operation."""
        if not self.ok:
            raise PeerError(f"the peer refused: {self.value}")
        return self.value

    def data(self) -> bytes:
        """The result as bytes (the peers answer in hex)."""
        return bytes.fromhex(self.result())


def _run(argv: Sequence[str], stdin: bytes, what: str) -> bytes:
    result = subprocess.run(argv, input=stdin, capture_output=True, check=False, timeout=TIMEOUT)
    if result.returncode != 0:
        raise PeerError(f"{what} exited {result.returncode}: {result.stderr.decode(errors='replace')}")
    return result.stdout


# --- BouncyCastle ---------------------------------------------------------------------------------


class BouncyCastle:
    """``Sm2Peer`` on BouncyCastle 1.72: one JVM per :meth:`batch`."""

    def __init__(self, java: str, classes: Path) -> None:
        self._argv = [
            java,
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            "-cp",
            os.pathsep.join([str(classes), *map(str, BC_JARS)]),
            "Sm2Peer",
        ]

    def batch(self, commands: Iterable[Sequence[str | Path]]) -> list[Answer]:
        """Run commands (the fields of one ``Sm2Peer`` line each) in one JVM; one answer each."""
        lines = ["\t".join(map(str, command)) for command in commands]
        stdout = _run(self._argv, ("\n".join(lines) + "\n").encode("ascii"), "BouncyCastle")
        answers = []
        for line in stdout.decode("utf-8").splitlines():
            status, _, value = line.partition("\t")
            answers.append(Answer(status == "ok", value))
        if len(answers) != len(lines):
            raise PeerError(f"BouncyCastle answered {len(answers)} of {len(lines)} commands")
        return answers

    def encrypt(self, order: Order, public: Path, plaintexts: Iterable[bytes]) -> list[bytes]:
        """``SM2Engine`` encryptions: raw ``04 || C1 ...`` in ``order``."""
        return [a.data() for a in self.batch(encrypt_command(order, public, p) for p in plaintexts)]

    def decrypt(self, order: Order, private: Path, ciphertexts: Iterable[bytes]) -> list[Answer]:
        """``SM2Engine`` decryptions of raw ciphertexts in ``order``."""
        return self.batch(decrypt_command(order, private, c) for c in ciphertexts)

    def sign(self, private: Path, messages: Iterable[bytes], distid: bytes | None = None) -> list[bytes]:
        """``SM2Signer`` DER signatures; ``distid=None`` leaves BouncyCastle's default ID."""
        return [a.data() for a in self.batch(sign_command(private, m, distid) for m in messages)]

    def verify(
        self, public: Path, signed: Iterable[tuple[bytes, bytes]], distid: bytes | None = None
    ) -> list[bool]:
        """``SM2Signer`` verdicts on ``(message, signature)`` pairs."""
        return verdicts(self.batch(verify_command(public, m, s, distid) for m, s in signed))


def encrypt_command(order: Order, public: Path, plaintext: bytes) -> tuple[str | Path, ...]:
    """The ``Sm2Peer`` command of an ``SM2Engine`` encryption in ``order`` (raw, with ``04``)."""
    return ("encrypt", order, public, plaintext.hex())


def decrypt_command(order: Order, private: Path, ciphertext: bytes) -> tuple[str | Path, ...]:
    """The ``Sm2Peer`` command of an ``SM2Engine`` decryption of a raw ciphertext in ``order``."""
    return ("decrypt", order, private, ciphertext.hex())


def sign_command(private: Path, message: bytes, distid: bytes | None = None) -> tuple[str | Path, ...]:
    """The ``Sm2Peer`` command of an ``SM2Signer`` signature (``distid=None``: BouncyCastle's default)."""
    return ("sign", private, "-" if distid is None else distid.hex(), message.hex())


def verify_command(
    public: Path, message: bytes, signature: bytes, distid: bytes | None = None
) -> tuple[str | Path, ...]:
    """The ``Sm2Peer`` command of an ``SM2Signer`` verification."""
    return ("verify", public, "-" if distid is None else distid.hex(), message.hex(), signature.hex())


def verdicts(answers: Iterable[Answer]) -> list[bool]:
    """The verdicts of ``verify`` answers."""
    return [answer.result() == "true" for answer in answers]


def _compiled_peer(javac: str) -> Path:
    """The directory holding ``Sm2Peer.class``, compiled once per source and jar set."""
    digest = hashlib.sha256(JAVA_SOURCE.read_bytes())
    for jar in BC_JARS:
        digest.update(f"{jar.resolve()}:{jar.stat().st_size}".encode())
    classes = JAVA_CACHE / digest.hexdigest()[:16]
    if (classes / "Sm2Peer.class").is_file():
        return classes
    JAVA_CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=JAVA_CACHE))
    classpath = os.pathsep.join(map(str, BC_JARS))
    _run([javac, "-nowarn", "-cp", classpath, "-d", str(staging), str(JAVA_SOURCE)], b"", "javac")
    try:
        staging.rename(classes)  # atomic: a parallel session sees the whole directory or none
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another session compiled it first
    return classes


@pytest.fixture(scope="session")
def bouncycastle() -> BouncyCastle:
    """BouncyCastle 1.72 (Debian's jars) through ``Sm2Peer``."""
    java, javac = shutil.which("java"), shutil.which("javac")
    if java is None or javac is None:
        missing_peer("java and javac (default-jdk-headless) are not installed")
    missing = [str(jar) for jar in BC_JARS if not jar.is_file()]
    if missing:
        missing_peer(f"BouncyCastle (libbcprov-java, libbcpkix-java) is not installed: {missing}")
    assert java is not None and javac is not None
    return BouncyCastle(java, _compiled_peer(javac))


# --- sm-crypto, sm-crypto-v2 ----------------------------------------------------------------------

SM_CRYPTO_LIBRARIES = ("sm-crypto", "sm-crypto-v2")


class SmCrypto:
    """npm ``sm-crypto`` or ``sm-crypto-v2`` through ``sm2peer.js``: one node process per :meth:`batch`."""

    def __init__(self, node: str, library: str) -> None:
        self.library = library
        self._argv = [node, str(NODE_SCRIPT), library]

    def batch(self, operations: Sequence[dict[str, Any]]) -> list[Answer]:
        """Run operations (``sm2peer.js`` request objects) in one process; one answer each."""
        stdout = _run(self._argv, json.dumps(list(operations)).encode(), self.library)
        answers = [
            Answer("ok" in answer, answer.get("ok", answer.get("error"))) for answer in json.loads(stdout)
        ]
        if len(answers) != len(operations):
            raise PeerError(f"{self.library} answered {len(answers)} of {len(operations)} operations")
        return answers

    def encrypt(self, order: Order, point: bytes, plaintexts: Iterable[bytes]) -> list[bytes]:
        """SM2 ciphertexts in ``order``, raw without the ``04`` prefix (as sm-crypto writes them)."""
        return [a.data() for a in self.batch([encrypt_op(order, point, p) for p in plaintexts])]

    def decrypt(self, order: Order, keys: Sm2Keys, ciphertexts: Iterable[bytes]) -> list[Answer]:
        """Decryptions of raw ciphertexts in ``order`` without the ``04`` prefix."""
        return self.batch([decrypt_op(order, keys, c) for c in ciphertexts])

    def sign(self, keys: Sm2Keys, messages: Iterable[bytes], distid: bytes = DEFAULT_ID) -> list[bytes]:
        """SM2-with-SM3 DER signatures (``{der: true, hash: true, userId}``)."""
        return [a.data() for a in self.batch([sign_op(keys, m, distid) for m in messages])]

    def verify(
        self, point: bytes, signed: Iterable[tuple[bytes, bytes]], distid: bytes = DEFAULT_ID
    ) -> list[bool]:
        """Verdicts on ``(message, DER signature)`` pairs."""
        return [bool(a.result()) for a in self.batch([verify_op(point, m, s, distid) for m, s in signed])]

    def sm3(self, messages: Iterable[bytes]) -> list[bytes]:
        """SM3 digests."""
        return [a.data() for a in self.batch([{"op": "sm3", "data": m.hex()} for m in messages])]

    def sm4_cbc(
        self, direction: Literal["encrypt", "decrypt"], key: bytes, iv: bytes, inputs: Iterable[bytes]
    ) -> list[Answer]:
        """SM4-CBC with PKCS#7 padding, ``direction`` each input."""
        common = {"key": key.hex(), "iv": iv.hex()}
        return self.batch([{"op": f"sm4-{direction}", **common, "data": i.hex()} for i in inputs])


def encrypt_op(order: Order, point: bytes, plaintext: bytes) -> dict[str, Any]:
    """The ``sm2peer.js`` operation of an SM2 encryption in ``order`` (raw, without ``04``)."""
    return {"op": "encrypt", "mode": SM_CRYPTO_MODE[order], "publicKey": point.hex(), "data": plaintext.hex()}


def decrypt_op(order: Order, keys: Sm2Keys, ciphertext: bytes) -> dict[str, Any]:
    """The ``sm2peer.js`` operation of an SM2 decryption (raw in ``order``, without ``04``)."""
    mode, scalar = SM_CRYPTO_MODE[order], keys.scalar().hex()
    return {"op": "decrypt", "mode": mode, "privateKey": scalar, "data": ciphertext.hex()}


def sign_op(keys: Sm2Keys, message: bytes, distid: bytes = DEFAULT_ID) -> dict[str, Any]:
    """The ``sm2peer.js`` operation of an SM2-with-SM3 signature with ``distid``."""
    common = {"privateKey": keys.scalar().hex(), "publicKey": keys.point.hex(), "userId": distid.decode()}
    return {"op": "sign", **common, "data": message.hex()}


def verify_op(point: bytes, message: bytes, signature: bytes, distid: bytes = DEFAULT_ID) -> dict[str, Any]:
    """The ``sm2peer.js`` operation of an SM2-with-SM3 verification with ``distid``."""
    common = {"publicKey": point.hex(), "userId": distid.decode()}
    return {"op": "verify", **common, "data": message.hex(), "signature": signature.hex()}


@pytest.fixture(scope="session", params=SM_CRYPTO_LIBRARIES)
def sm_crypto(request: pytest.FixtureRequest) -> SmCrypto:
    """npm ``sm-crypto`` and ``sm-crypto-v2`` (one test each)."""
    node = shutil.which("node")
    if node is None:
        missing_peer("node is not installed")
    assert node is not None
    library: str = request.param
    if not (NODE_PEERS / "node_modules" / library / "package.json").is_file():
        missing_peer(f"npm package {library} is not installed in {NODE_PEERS} (npm ci there)")
    return SmCrypto(node, library)


# --- openssl: keys, a chain, and the command line -------------------------------------------------


@dataclass(frozen=True)
class Sm2Keys:
    """An SM2 key pair made by ``openssl genpkey``: PEM files, the public point and (on demand) the scalar."""

    private: Path  # PEM PKCS#8
    public: Path  # PEM SubjectPublicKeyInfo
    point: bytes  # 04 || x || y

    def scalar(self) -> bytes:
        """The private scalar (32 bytes), for the peers that take keys raw (sm-crypto)."""
        _, _, der = pem.unarmor(self.private.read_bytes())
        info = keys.PrivateKeyInfo.load(der)
        ec_private = keys.ECPrivateKey.load(info["private_key"].contents)
        return int(ec_private["private_key"].native).to_bytes(32, "big")


def openssl(*args: str | Path, stdin: bytes = b"") -> bytes:
    """Run the openssl command line; a :class:`PeerError` when it fails."""
    return _run([require_tool("openssl"), *map(str, args)], stdin, f"openssl {args[0]}")


def make_sm2_keys(directory: Path, name: str) -> Sm2Keys:
    """A fresh SM2 key pair in ``directory``."""
    private, public = directory / f"{name}.key.pem", directory / f"{name}.pub.pem"
    openssl("genpkey", "-algorithm", "SM2", "-out", private)
    openssl("pkey", "-in", private, "-pubout", "-out", public)
    spki = keys.PublicKeyInfo.load(openssl("pkey", "-pubin", "-in", public, "-outform", "DER"))
    return Sm2Keys(private, public, spki["public_key"].native)


def _id_option(distid: bytes) -> str:
    """openssl's ``distid:`` for a printable ID, ``hexdistid:`` for any other."""
    printable = distid.isascii() and distid.decode().isprintable() and b":" not in distid
    return f"distid:{distid.decode()}" if printable else f"hexdistid:{distid.hex()}"


def openssl_encrypt(public: Path, plaintext: bytes) -> bytes:
    """``openssl pkeyutl -encrypt``: a DER SM2Cipher (C1C3C2)."""
    return openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", public, stdin=plaintext)


def openssl_decrypt(private: Path, ciphertext: bytes) -> bytes:
    """``openssl pkeyutl -decrypt`` of a DER SM2Cipher; a :class:`PeerError` when openssl refuses it."""
    return openssl("pkeyutl", "-decrypt", "-inkey", private, stdin=ciphertext)


def openssl_sign(private: Path, message: bytes, distid: bytes = DEFAULT_ID) -> bytes:
    """``openssl dgst -sm3 -sign -sigopt distid:...``: a DER SM2-with-SM3 signature."""
    return openssl("dgst", "-sm3", "-sign", private, "-sigopt", _id_option(distid), stdin=message)


def openssl_verify(public: Path, message: bytes, signature: bytes, distid: bytes = DEFAULT_ID) -> bool:
    """``openssl dgst -sm3 -verify -sigopt distid:...``: whether the signature verifies."""
    with tempfile.TemporaryDirectory() as directory:
        signature_file = Path(directory) / "signature.der"
        signature_file.write_bytes(signature)
        argv = [require_tool("openssl"), "dgst", "-sm3", "-verify", str(public)]
        argv += ["-sigopt", _id_option(distid), "-signature", str(signature_file)]
        result = subprocess.run(argv, input=message, capture_output=True, check=False, timeout=TIMEOUT)
    if result.returncode not in (0, 1) or (
        result.returncode == 1 and b"Verification failure" not in result.stdout
    ):
        raise PeerError(f"openssl dgst -verify failed: {result.stderr.decode(errors='replace')}")
    return result.returncode == 0


@dataclass(frozen=True)
class Sm2Chain:
    """An SM2 chain made by the openssl command line (SM2-with-SM3, default ID): root, issuing CA, leaf."""

    root: Path
    intermediate: Path
    leaf: Path
    leaf_keys: Sm2Keys


_CA_EXTENSIONS = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
_LEAF_EXTENSIONS = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"


def make_sm2_chain(directory: Path) -> Sm2Chain:
    """A root, an issuing CA and a leaf, each with a fresh SM2 key, valid from now for a day."""
    sigopt = ["-sm3", "-sigopt", _id_option(DEFAULT_ID)]
    root_keys = make_sm2_keys(directory, "root")
    root = directory / "root.pem"
    openssl(
        "req",
        "-new",
        "-x509",
        "-key",
        root_keys.private,
        *sigopt,
        "-subj",
        "/CN=SM2 Test Root",
        "-days",
        "1",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-out",
        root,
    )
    issuer, issuer_keys = root, root_keys
    made: list[Path] = []
    for name, extensions in (("intermediate", _CA_EXTENSIONS), ("leaf", _LEAF_EXTENSIONS)):
        subject_keys = make_sm2_keys(directory, name)
        csr, ext, cert = directory / f"{name}.csr", directory / f"{name}.ext", directory / f"{name}.pem"
        ext.write_text(extensions, encoding="ascii")
        openssl(
            "req", "-new", "-key", subject_keys.private, *sigopt, "-subj", f"/CN=SM2 Test {name}", "-out", csr
        )
        openssl(
            "x509",
            "-req",
            "-in",
            csr,
            "-vfyopt",
            _id_option(DEFAULT_ID),
            "-CA",
            issuer,
            "-CAkey",
            issuer_keys.private,
            "-CAcreateserial",
            "-CAserial",
            directory / "serial",
            "-days",
            "1",
            *sigopt,
            "-extfile",
            ext,
            "-out",
            cert,
        )
        made.append(cert)
        issuer, issuer_keys = cert, subject_keys
    return Sm2Chain(root, made[0], made[1], issuer_keys)


@pytest.fixture(scope="session")
def sm2_keys(tmp_path_factory: pytest.TempPathFactory) -> Sm2Keys:
    """A fresh SM2 key pair made by ``openssl genpkey -algorithm SM2`` (once per session)."""
    return make_sm2_keys(tmp_path_factory.mktemp("sm2-keys"), "peer")


@pytest.fixture(scope="session")
def sm2_chain(tmp_path_factory: pytest.TempPathFactory) -> Sm2Chain:
    """A fresh SM2 root, issuing CA and leaf made by the openssl command line (once per session)."""
    return make_sm2_chain(tmp_path_factory.mktemp("sm2-chain"))
