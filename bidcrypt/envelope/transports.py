"""Choosing the RSA key transport: what the recipient's UKey can undo, else what every UKey can.

A file is only as good as its recipient's ability to open it. Tokens differ:
many UKeys do only RSA PKCS#1 v1.5, SoftHSM2 does OAEP with SHA-1 only, few
do OAEP with SHA-256. When the recipient's own key source is at hand, ask it
(:func:`strongest_transport`: a trial decryption of each transport it
claims); otherwise :data:`DEFAULT_TRANSPORT`, which every UKey decrypts.

The trade-off: OAEP is the stronger scheme (RFC 8017 recommends it for new
applications), PKCS#1 v1.5 is what every token decrypts. bidcrypt opens
v1.5 without a padding oracle (RFC 3218 section 2.3: a failed unwrap
takes the path of a wrong key, with one message), so the weaker scheme
costs little in bidcrypt's own openings.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from bidcrypt import certs
from bidcrypt.envelope.algorithms import KeyTransport
from bidcrypt.i18n import pick
from bidcrypt.keys import KeyEntry, KeySource

#: The key transport when the recipient's UKey cannot be asked: every UKey decrypts it.
DEFAULT_TRANSPORT = KeyTransport.PKCS1V15


def default_reason() -> str:
    """Why :data:`DEFAULT_TRANSPORT` was chosen, for reports."""
    return pick(
        "the UKey could not be asked; PKCS#1 v1.5 is what every UKey decrypts",
        "无法询问 U-KEY，使用所有 U-KEY 都支持的 PKCS#1 v1.5",
    )


def _transports(schemes: tuple[str, ...]) -> tuple[KeyTransport, ...]:
    found = (KeyTransport.of_scheme(scheme) for scheme in schemes)
    return tuple(transport for transport in found if transport is not None)


def claimed_transports(entry: KeyEntry) -> tuple[KeyTransport, ...]:
    """The key transports *entry*'s source says it can undo (its mechanism list), strongest first."""
    return _transports(entry.claimed_rsa_schemes())


def probe_transports(entry: KeyEntry) -> tuple[KeyTransport, ...]:
    """The key transports *entry*'s key really undoes (a trial decryption of each it claims)."""
    return _transports(entry.probe_rsa_schemes())


def strongest_transport(
    certificate: x509.Certificate, key_source: KeySource
) -> tuple[KeyTransport, str] | None:
    """The strongest RSA key transport the key of *certificate* on *key_source* really undoes, and why.

    None when *certificate* is not RSA, when the source does not hold its
    key, or when the key undid none of the transports tried. Costs one
    private-key operation per transport the source claims (a login).
    """
    if not isinstance(certs.public_key(certificate), rsa.RSAPublicKey):
        return None
    for entry in key_source.entries():
        if certs.same_public_key(entry.certificate, certificate):
            working = probe_transports(entry)
            if working:
                return working[0], pick(
                    f"the strongest {entry.source} decrypts", f"{entry.source} 支持的最强方式"
                )
    return None
