"""Making the session profile at ``opening create``: build it, sign it with the release key, store it.

The profile (docs/remote.md, :mod:`bidcrypt.package.profile`) is signed
through the one SignedData path (:func:`bidcrypt.package.signed.sign`, which
is :mod:`bidcrypt.keys.pyhanko_signer`) by the release key, and written as
``profile.p7s`` in the session folder inside the creating transaction: a
session either has its profile or does not exist.
"""

from __future__ import annotations

from pathlib import Path

from bidcrypt.files import atomic_output
from bidcrypt.opening.session_keys import release_key_source
from bidcrypt.package import SessionProfile, read_profile, sign_profile

#: The profile's file name in the session folder.
PROFILE_FILE = "profile.p7s"
#: The window's length when none is given: 30 minutes.
DEFAULT_WINDOW_SECONDS = 1800


def write_profile(folder: Path, profile: SessionProfile) -> Path:
    """Sign *profile* with the release key of *folder* (written before) and store it as ``profile.p7s``.

    The release key is read back from its file to sign, so a key file that
    would not read fails the creation; the signed profile is read back too.
    """
    with release_key_source(folder) as source:
        entries = source.entries()
        if len(entries) != 1 or entries[0].certificate != profile.release_certificate:
            raise ValueError("the release key file does not hold the profile's release certificate")
        signed = sign_profile(profile, entries[0])
    read_profile(signed)  # what is published must read: a bug here is caught before the session exists
    path = folder / PROFILE_FILE
    with atomic_output(path) as out:
        out.write(signed)
    return path


__all__ = [
    "DEFAULT_WINDOW_SECONDS",
    "PROFILE_FILE",
    "write_profile",
]
