"""pyHanko's ESS issuer-and-serial match, remembered: the same answers, pyHanko asked once per question."""

from __future__ import annotations

from typing import Any

import pytest
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from pyhanko.sign import general

from bidcrypt import certs
from bidcrypt.seal import _issuer_match

from ..conftest import Pki


def _certificate(pki: Pki, name: str = "bidder-a/sign") -> asn1_x509.Certificate:
    return certs.to_asn1(certs.load_certificate(pki.cert(name)))


def _issuer_serial(issuer: asn1_x509.Name, serial: int) -> tsp.IssuerSerial:
    return tsp.IssuerSerial(
        {"issuer": [asn1_x509.GeneralName(name="directory_name", value=issuer)], "serial_number": serial}
    )


def _lower(name: asn1_x509.Name) -> asn1_x509.Name:
    lowered = {key: value.lower() if isinstance(value, str) else value for key, value in name.native.items()}
    return asn1_x509.Name.build(lowered)


def _cases(pki: Pki) -> list[tuple[str, tsp.IssuerSerial, bool]]:
    own = _certificate(pki)
    return [
        ("its issuer and serial", _issuer_serial(own.issuer, own.serial_number), True),
        ("another serial", _issuer_serial(own.issuer, own.serial_number + 1), False),
        ("its issuer in other bytes", _issuer_serial(_lower(own.issuer), own.serial_number), True),
        (
            "another issuer",
            _issuer_serial(asn1_x509.Name.build({"common_name": "Other CA"}), own.serial_number),
            False,
        ),
    ]


@pytest.fixture(autouse=True)
def _forget() -> None:
    _issuer_match._answers.clear()


def test_the_same_answers_as_pyhanko(pki: Pki) -> None:
    own = _certificate(pki)
    for what, issuer_serial, expected in _cases(pki):
        assert _issuer_match._pyhanko_match(issuer_serial, own) is expected, what
        assert _issuer_match.match_issuer_serial(issuer_serial, own) is expected, what
        assert _issuer_match.match_issuer_serial(issuer_serial, own) is expected, what  # from memory


def test_pyhanko_is_asked_once_per_question(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[bytes] = []
    pyhanko_match = _issuer_match._pyhanko_match

    def counted(expected_issuer_serial: Any, cert: Any) -> bool:
        asked.append(expected_issuer_serial.dump())
        return bool(pyhanko_match(expected_issuer_serial, cert))

    monkeypatch.setattr(_issuer_match, "_pyhanko_match", counted)
    own, other = _certificate(pki), _certificate(pki, "bidder-b/sign")
    cases = _cases(pki)
    for _ in range(3):
        for _, issuer_serial, _ in cases:
            _issuer_match.match_issuer_serial(tsp.IssuerSerial.load(issuer_serial.dump()), own)
    assert len(asked) == len(cases)
    # Another certificate is another question, even with the same identifier.
    assert _issuer_match.match_issuer_serial(cases[0][1], other) is False
    assert len(asked) == len(cases) + 1


def test_installed_by_the_seal_verifier() -> None:
    from bidcrypt.seal import verify as seal_verify

    assert seal_verify is not None
    assert general.match_issuer_serial is _issuer_match.match_issuer_serial
