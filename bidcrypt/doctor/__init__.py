"""The seal-assistant check (签章助手检测): is this UKey (or PKCS#12 or PEM key file) ready for bidding?

:func:`examine` loads the driver (a PKCS#11 module or an SKF library), finds
the token (for SKF: the device, its applications and their containers),
reads its PIN state (for SKF: the retries left out of the maximum), lists the
signing and encryption certificates with their validity, issuer, subject,
key (RSA, EC or SM2) and credit code, says which decryption path the source
offers, and checks the bidder identity. Every problem is one
:class:`Finding` saying what is wrong and what to do. By default no login is
made (a wrong PIN cannot be risked); ``login=True`` logs in once to check the
private keys: a test signature verified against each signing certificate,
and a content key wrapped to each encryption certificate recovered by the
path the source offers (see :mod:`bidcrypt.doctor.keys`).
"""

from __future__ import annotations

from bidcrypt.doctor.examine import examine
from bidcrypt.doctor.keys import SM2_TRANSPORT
from bidcrypt.doctor.report import DECRYPTION_PATHS, CertificateCheck, DoctorReport, Finding, Level

__all__ = [
    "DECRYPTION_PATHS",
    "SM2_TRANSPORT",
    "CertificateCheck",
    "DoctorReport",
    "Finding",
    "Level",
    "examine",
]
