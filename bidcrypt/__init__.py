"""bidcrypt: seal, encrypt and open electronic bid files with the certificates on a UKey.

The public API is what this package and its subpackages export:
:mod:`bidcrypt.keys` (key sources), :mod:`bidcrypt.certs`,
:mod:`bidcrypt.errors`, :mod:`bidcrypt.doctor`, and the engines in
:mod:`bidcrypt.envelope`, :mod:`bidcrypt.seal` and :mod:`bidcrypt.opening`.
"""

__version__ = "0.1.0"
