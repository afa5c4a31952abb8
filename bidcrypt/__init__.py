"""bidcrypt: seal, encrypt and open electronic bid files with the certificates on a UKey.

The public API is what this package and its subpackages export:
:mod:`bidcrypt.keys` (key sources), :mod:`bidcrypt.certs`,
:mod:`bidcrypt.errors`, :mod:`bidcrypt.doctor`, and the engines in
:mod:`bidcrypt.envelope`, :mod:`bidcrypt.seal` and :mod:`bidcrypt.opening`.
"""

from importlib import metadata as _metadata

try:
    #: The installed version, from the distribution's metadata (its one source is pyproject.toml).
    __version__ = _metadata.version("bidcrypt")
except _metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
