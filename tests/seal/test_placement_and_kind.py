"""Placement (pages, boxes, defaults) and seal kinds (who may make which)."""

from __future__ import annotations

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from bidcrypt import certs
from bidcrypt.errors import InputError, SealKindMismatchError
from bidcrypt.seal import Holder, Placement, SealKind, check_certificate, default_box, holder_of
from bidcrypt.seal.kind import kind_mismatch, role_attribute

from ..conftest import Pki
from .conftest import document

A4 = (0.0, 0.0, 595.0, 842.0)


@pytest.mark.parametrize(
    ("page", "box", "expected"),
    [
        (None, None, Placement("last", None)),
        ("all", None, Placement("all", None)),
        (" LAST ", None, Placement("last", None)),
        ("3", "10,20,110,120.5", Placement((3,), (10.0, 20.0, 110.0, 120.5))),
        ("1,3,1", None, Placement((1, 3), None)),
    ],
)
def test_command_line_placement(page: str | None, box: str | None, expected: Placement) -> None:
    assert Placement.parse(page, box) == expected


@pytest.mark.parametrize(
    ("page", "box"),
    [("first", None), ("0", None), ("1,-2", None), (None, "1,2,3"), (None, "5,5,1,9"), (None, "a,b,c,d")],
)
def test_malformed_placement(page: str | None, box: str | None) -> None:
    with pytest.raises(ValueError):
        Placement.parse(page, box)


def test_default_boxes_are_lower_right_and_do_not_overlap() -> None:
    company = default_box(SealKind.COMPANY, A4)
    legal = default_box(SealKind.LEGAL_PERSON, A4)
    assert company == pytest.approx((595 - 72 - 113.386, 96, 595 - 72, 96 + 113.386), abs=0.01)
    assert legal[2] < company[0]  # left of the company seal
    assert (legal[1] + legal[3]) / 2 == pytest.approx((company[1] + company[3]) / 2)  # level with its centre
    assert legal[2] - legal[0] == pytest.approx(20 * 72 / 25.4)  # 20 mm


def test_resolving_against_the_document() -> None:
    with document().open("rb") as stream:
        reader = PdfFileReader(stream)
        assert Placement().resolve(reader, SealKind.COMPANY) == [(3, (410, 96, 523, 209))]
        assert [i for i, _ in Placement("all").resolve(reader, SealKind.COMPANY)] == [0, 1, 2, 3]
        assert Placement((2,), (1.4, 2.6, 50, 60)).resolve(reader, SealKind.LEGAL_PERSON) == [
            (1, (1, 3, 50, 60))
        ]
        with pytest.raises(InputError, match="there is no page 5"):
            Placement((5,)).resolve(reader, SealKind.COMPANY)
        with pytest.raises(InputError, match="not inside page 1"):
            Placement((1,), (0, 0, 600, 100)).resolve(reader, SealKind.COMPANY)


@pytest.mark.parametrize(
    ("name", "holder"),
    [
        ("bidder-a/sign", Holder.ORGANISATION),
        ("bidder-b/sign", Holder.ORGANISATION),
        ("bidder-c/sign", Holder.ORGANISATION),
        ("bidder-a/legal", Holder.PERSON),
        ("bidder-b/legal", Holder.PERSON),
        ("bidder-c/legal", Holder.PERSON),
    ],
)
def test_whose_certificate_it_is(pki: Pki, name: str, holder: Holder) -> None:
    assert holder_of(certs.load_certificate(pki.cert(name))) is holder


def test_which_certificate_makes_which_seal(pki: Pki) -> None:
    company = certs.load_certificate(pki.cert("bidder-a/sign"))
    person = certs.load_certificate(pki.cert("bidder-a/legal"))
    check_certificate(company, SealKind.COMPANY)
    check_certificate(person, SealKind.LEGAL_PERSON)
    assert kind_mismatch(company, SealKind.COMPANY) is None
    with pytest.raises(SealKindMismatchError):
        check_certificate(person, SealKind.COMPANY)


def test_the_role_attribute_names_the_kind() -> None:
    for kind in SealKind:
        der = role_attribute(kind).dump()
        assert kind.role_uri.encode() in der
        assert SealKind.from_role_uri(kind.role_uri) is kind
    assert SealKind.from_role_uri("urn:bidcrypt:seal-kind:contract") is None
    assert SealKind.from_role_uri("urn:example:company") is None
