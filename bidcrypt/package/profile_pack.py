"""``pack --profile``: what a bidder packs to, taken from the session profile instead of copied by hand.

:func:`profile_target` takes the tender, the lot (one; ``--lot`` chooses
among several), the authority recipient (the opening certificate, when the
session has one) and its key transport from a :class:`SessionProfile`, and
refuses whatever the bidder gave that contradicts it, each with a message
that names both values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from bidcrypt import certs
from bidcrypt.envelope import KeyTransport
from bidcrypt.errors import ProfileMismatchError
from bidcrypt.i18n import Text
from bidcrypt.package.profile import SessionProfile
from bidcrypt.trust import TrustStore


@dataclass(frozen=True)
class ProfileTarget:
    """What a package packed to a session profile goes to."""

    tender: str
    lot: str | None
    #: The opening certificate (the authority recipient); None for custody ``none``.
    authority: x509.Certificate | None
    #: The key transport for an RSA opening certificate (the profile's first); None otherwise.
    authority_transport: KeyTransport | None

    def trusting(self, trust: TrustStore | None) -> TrustStore | None:
        """*trust* with the opening certificate added as an anchor.

        The opening certificate is self-issued by the session: what vouches
        for it is the profile (signed by the session, its SHA-256 announced
        by the agency), not a CA, so a trust check of the recipients must
        take it as it is.
        """
        if trust is None or self.authority is None:
            return trust
        return dataclasses.replace(trust, anchors=tuple(certs.unique([*trust.anchors, self.authority])))


def _contradiction(option: str, given: str, expected: str | Text) -> ProfileMismatchError:
    return ProfileMismatchError(what=option, actual=repr(given), expected=expected)


def _lot(profile: SessionProfile, lot: str | None) -> str | None:
    lots = profile.lots
    if lot is not None and lot not in lots:
        raise _contradiction("--lot", lot, ", ".join(lots) or Text("no lots", "不分标段"))
    if lot is None and len(lots) > 1:
        raise ProfileMismatchError(
            Text("choose one with --lot", "请用 --lot 选择其一"),
            what="--lot",
            actual=Text("none", "未指定"),
            expected=Text("one of {lots}", "{lots} 之一", lots=", ".join(lots)),
        )
    return lot if lot is not None else (lots[0] if lots else None)


def profile_target(
    profile: SessionProfile,
    *,
    tender: str | None = None,
    lot: str | None = None,
    authorities: Sequence[x509.Certificate] = (),
    authority_transport: KeyTransport | None = None,
) -> ProfileTarget:
    """The tender, lot, authority recipient and its transport of *profile*; a contradiction is refused.

    *tender*, *lot* and *authority_transport* are what the bidder gave (None:
    not given); *authorities* the encryption certificates given that are not
    the bidder's own: each must be the profile's opening certificate.
    """
    if tender is not None and tender != profile.tender:
        raise _contradiction("--tender", tender, repr(profile.tender))
    chosen_lot = _lot(profile, lot)
    opening = profile.opening_certificate
    for certificate in authorities:
        if opening is None or certificate != opening:
            raise _contradiction(
                "--encrypt-to",
                certs.display_name(certificate),
                Text("no opening certificate", "无开标证书")
                if opening is None
                else certs.display_name(opening),
            )
    transport = None
    if opening is not None and isinstance(certs.public_key(opening), rsa.RSAPublicKey):
        offered = [t for t in KeyTransport if t.offered and t.value in profile.transports]
        if not offered:
            raise _contradiction("transports", ", ".join(profile.transports), "an RSA transport")
        transport = offered[0]
        if authority_transport is not None:
            if authority_transport.value not in profile.transports:
                raise _contradiction(
                    "--authority-transport", authority_transport.value, ", ".join(profile.transports)
                )
            transport = authority_transport
    elif authority_transport is not None:
        raise _contradiction(
            "--authority-transport", authority_transport.value, ", ".join(profile.transports)
        )
    return ProfileTarget(profile.tender, chosen_lot, opening, transport)


__all__ = ["ProfileTarget", "profile_target"]
