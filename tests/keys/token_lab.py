"""UKeys the shared SoftHSM2 store does not hold, made in a token directory of their own.

    python tests/keys/token_lab.py provision DIR     # prints the path of DIR/softhsm2.conf
    python tests/keys/token_lab.py SCENARIO          # with SOFTHSM2_CONF set; prints JSON

SoftHSM2 reads its token directory once per process, so these tokens live
in another directory and are used from child processes:

* ``no-derive``: bidder-b's EC keys without ``CKA_DERIVE``, as
  ``softhsm2-util --import`` leaves them;
* ``always-rsa`` / ``always-ec``: bidder-a's RSA and bidder-b's EC keys
  with ``CKA_ALWAYS_AUTHENTICATE``, which SoftHSM2 enforces: every
  signature and decryption needs a context-specific login first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
MODULE = "/usr/lib/softhsm/libsofthsm2.so"
#: label -> (fixture token whose objects it gets, extra private-key attributes by name, DERIVE)
TOKENS: dict[str, tuple[str, dict[str, bool], bool]] = {
    "no-derive": ("bidder-b", {}, False),
    "always-rsa": ("bidder-a", {"ALWAYS_AUTHENTICATE": True}, True),
    "always-ec": ("bidder-b", {"ALWAYS_AUTHENTICATE": True}, True),
}


def provision(directory: Path) -> Path:
    """Make the lab tokens in *directory* (in a child process); return the path of its softhsm2.conf."""
    result = subprocess.run(
        [sys.executable, __file__, "provision", str(directory)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"},
    )
    return Path(result.stdout.strip())


def run_scenario(config: Path, name: str) -> dict[str, Any]:
    """Run the scenario *name* in a child process using the lab tokens; return what it found."""
    result = subprocess.run(
        [sys.executable, __file__, name],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SOFTHSM2_CONF": str(config)},
    )
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return found


# --- provisioning (in the child) ----------------------------------------------------------


class _Proxy:
    """Delegates everything to the wrapped python-pkcs11 object."""

    def __init__(self, real: Any, extra: dict[Any, Any]) -> None:
        self._real = real
        self._extra = extra

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _Library(_Proxy):
    def get_token(self, **kwargs: Any) -> Any:
        return _Token(self._real.get_token(**kwargs), self._extra)


class _Token(_Proxy):
    def open(self, **kwargs: Any) -> Any:
        return _Session(self._real.open(**kwargs), self._extra)


class _Session(_Proxy):
    """A session whose new private keys get the extra attributes (fixed at creation on a token)."""

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self._real.close()

    def create_object(self, attributes: dict[Any, Any]) -> Any:
        from pkcs11 import Attribute, ObjectClass

        if attributes.get(Attribute.CLASS) == ObjectClass.PRIVATE_KEY:
            attributes = {**attributes, **self._extra}
        return self._real.create_object(attributes)


def _provision(directory: Path) -> None:
    sys.path.insert(0, str(FIXTURES))
    import pkcs11
    import provision_ukey
    from pkcs11 import Attribute, ObjectClass

    index = json.loads((FIXTURES / "pki" / "index.json").read_text())
    config = provision_ukey.write_config(directory)
    os.environ["SOFTHSM2_CONF"] = str(config)
    provision_ukey.init_tokens(MODULE, list(TOKENS), index["so_pin"])
    real_lib = pkcs11.lib
    for label, (source, extra, derive) in TOKENS.items():
        attributes = {Attribute[name]: value for name, value in extra.items()}
        pkcs11.lib = lambda path, attributes=attributes: _Library(real_lib(path), attributes)  # type: ignore[assignment,misc]
        try:
            provision_ukey.import_objects(MODULE, label, index["tokens"][source], index)
        finally:
            pkcs11.lib = real_lib  # type: ignore[misc]
        if not derive:
            token = real_lib(MODULE).get_token(token_label=label)
            with token.open(rw=True, user_pin=index["pin"]) as session:
                for key in session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}):
                    key[Attribute.DERIVE] = False
    print(config)


# --- scenarios (in the child) -------------------------------------------------------------


@dataclass(frozen=True)
class _CountingPins:
    """A PIN source that records every time it is asked."""

    pin: str
    asked: list[str] = field(default_factory=list)

    def source(self) -> Any:
        from bidcrypt.keys import Pin, PinSource

        pins = self

        class Counting(PinSource):
            def obtain(self, what: str) -> Pin:
                pins.asked.append(what)
                return Pin(pins.pin, typed_by_person=False)

        return Counting(interactive=False, warn=lambda text: None)


class _CountingKey:
    """A private key that counts the operations that reach the token."""

    def __init__(self, real: Any, calls: list[str]) -> None:
        self._real = real
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._real, name)
        if name in ("sign", "decrypt"):

            def counted(*args: Any, **kwargs: Any) -> Any:
                self._calls.append(f"{name}{'+pin' if 'pin' in kwargs else ''}")
                return attribute(*args, **kwargs)

            return counted
        return attribute

    def __getitem__(self, key: Any) -> Any:
        return self._real[key]


def _uri(label: str, obj: str | None = None) -> str:
    return f"pkcs11:token={label}" + (f";object={obj}" if obj else "") + f"?module-path={MODULE}"


def _index() -> dict[str, Any]:
    return dict(json.loads((FIXTURES / "pki" / "index.json").read_text()))


def _wrap(entry: Any, data: bytes, transport: Any) -> bytes:
    wrapped: bytes = entry.certificate.public_key().encrypt(data, transport.padding())
    return wrapped


def scenario_always_authenticate() -> dict[str, Any]:
    """Several signatures and decryptions on keys that always authenticate: the PIN is asked once."""
    import pkcs11
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from pkcs11 import Attribute, Mechanism, ObjectClass

    from bidcrypt.certs import Purpose
    from bidcrypt.envelope import KeyTransport
    from bidcrypt.keys import open_key_source

    pins = _CountingPins(_index()["pin"])
    found: dict[str, Any] = {}
    # SoftHSM2 enforces the attribute: without a context-specific login the token refuses.
    token = pkcs11.lib(MODULE).get_token(token_label="always-rsa")
    with token.open(user_pin=pins.pin) as session:
        key = next(iter(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})))
        found["always_authenticate"] = bool(key[Attribute.ALWAYS_AUTHENTICATE])
        try:
            key.sign(b"\0" * 51, mechanism=Mechanism.RSA_PKCS)
            found["plain_sign"] = "accepted"
        except pkcs11.exceptions.UserNotLoggedIn:
            found["plain_sign"] = "refused"
    source = open_key_source(_uri("always-rsa"), pins.source())
    with source:
        encryption = source.entry(Purpose.ENCRYPTION)
        keys = [os.urandom(32) for _ in range(3)]
        transports = [KeyTransport.PKCS1V15, KeyTransport.OAEP_SHA1, KeyTransport.PKCS1V15]
        found["unwrapped"] = all(
            encryption.rsa_decrypt(_wrap(encryption, k, t), t.scheme) == k
            for k, t in zip(keys, transports, strict=True)
        )
        signer = source.entry(Purpose.SIGNING)
        signatures = [signer.sign(f"document {n}".encode()) for n in range(3)]
        public = signer.certificate.public_key()
        for n, signature in enumerate(signatures):
            public.verify(signature, f"document {n}".encode(), padding.PKCS1v15(), hashes.SHA256())
        found["pin_kept_while_open"] = source._context_pin is not None  # type: ignore[attr-defined]
    found["pin_dropped_after_close"] = source._context_pin is None  # type: ignore[attr-defined]
    with open_key_source(_uri("always-ec"), pins.source()) as ec_source:
        signer = ec_source.entry(Purpose.SIGNING)
        signer.certificate.public_key().verify(signer.sign(b"ec"), b"ec", ec.ECDSA(hashes.SHA256()))
        agreeing = ec_source.entry(Purpose.ENCRYPTION)
        peer = ec.generate_private_key(agreeing.certificate.public_key().curve)
        expected = peer.exchange(ec.ECDH(), agreeing.certificate.public_key())
        found["ecdh"] = agreeing.ecdh(peer.public_key()) == expected
    found["asked"] = pins.asked
    return found


def scenario_wrong_context_pin() -> dict[str, Any]:
    """A context-specific login refused: the error is kept, the token is not asked again."""
    from bidcrypt.certs import Purpose
    from bidcrypt.errors import PinIncorrectError
    from bidcrypt.keys import open_key_source

    pins = _CountingPins(_index()["pin"])
    calls: list[str] = []
    outcomes = []
    with open_key_source(_uri("always-rsa", "sign"), pins.source()) as source:
        entry = source.entry(Purpose.SIGNING)
        entry.has_private_key  # noqa: B018 - logs in and looks the key up
        entry._key = _CountingKey(entry._key, calls)  # type: ignore[attr-defined]
        source._context_pin = "000000"  # type: ignore[attr-defined]  # as if the PIN changed meanwhile
        for _ in range(3):
            try:
                entry.sign(b"x")
                outcomes.append("signed")
            except PinIncorrectError as error:
                outcomes.append(error.code)
        kept = source._context_pin  # type: ignore[attr-defined]
    return {"outcomes": outcomes, "calls": calls, "asked": len(pins.asked), "kept": kept}


def scenario_final_try_mid_batch() -> dict[str, Any]:
    """The token shows one try left during a batch: the kept PIN is not used for it."""
    import dataclasses

    from bidcrypt.certs import Purpose
    from bidcrypt.errors import PinFinalTryError, PinLockedError
    from bidcrypt.keys import open_key_source

    pins = _CountingPins(_index()["pin"])
    calls: list[str] = []
    outcomes = []
    for flag in ("final_try", "locked"):
        with open_key_source(_uri("always-rsa", "sign"), pins.source()) as source:
            entry = source.entry(Purpose.SIGNING)
            entry.sign(b"first")
            entry._key = _CountingKey(entry._key, calls)  # type: ignore[attr-defined]
            real_state: Callable[[], Any] = source.pin_state  # type: ignore[attr-defined]

            def pin_state(real_state: Callable[[], Any] = real_state, flag: str = flag) -> Any:
                return dataclasses.replace(real_state(), **{flag: True})

            source.pin_state = pin_state  # type: ignore[attr-defined]
            try:
                entry.sign(b"second")
                outcomes.append("signed")
            except (PinFinalTryError, PinLockedError) as error:
                outcomes.append(error.code)
    return {"outcomes": outcomes, "calls": calls}


SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {
    "always-authenticate": scenario_always_authenticate,
    "wrong-context-pin": scenario_wrong_context_pin,
    "final-try-mid-batch": scenario_final_try_mid_batch,
}


def main(argv: list[str]) -> int:
    if argv[0] == "provision":
        _provision(Path(argv[1]))
        return 0
    sys.path.insert(0, str(ROOT))
    print(json.dumps(SCENARIOS[argv[0]]()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
