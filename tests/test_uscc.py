"""Unified social credit codes: the GB 32100 check character and finding codes in text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bidcrypt import uscc
from bidcrypt.errors import CreditCodeError

# Published codes of real companies (from their business licences).
REAL_CODES = ["91350100M000100Y43", "91110000802100433B"]

prefix17 = st.builds(
    lambda head, division, org: head + division + org,
    st.text(uscc.ALPHABET, min_size=2, max_size=2),
    st.text("0123456789", min_size=6, max_size=6),
    st.text(uscc.ALPHABET, min_size=9, max_size=9),
)


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_are_valid(code: str) -> None:
    assert uscc.is_valid(code)


def test_wrong_check_character_is_invalid() -> None:
    assert not uscc.is_valid("91350100M000100Y44")


@pytest.mark.parametrize(
    "code", ["", "9135", "91350100M000100Y43X", "91350100M000100Y4I", "9135O100M000100Y43"]
)
def test_malformed_codes_are_invalid(code: str) -> None:
    assert not uscc.is_valid(code)


def test_normalise_uppercases_and_rejects() -> None:
    assert uscc.normalise(" 91110000802100433b ") == "91110000802100433B"
    with pytest.raises(CreditCodeError):
        uscc.normalise("91110000802100433C")


@given(prefix17)
def test_check_character_makes_a_valid_code(first17: str) -> None:
    assert uscc.is_valid(first17 + uscc.check_character(first17))


@given(prefix17, st.integers(0, 16), st.sampled_from(uscc.ALPHABET))
def test_any_single_substitution_is_detected(first17: str, position: int, replacement: str) -> None:
    code = first17 + uscc.check_character(first17)
    changed = code[:position] + replacement + code[position + 1 :]
    if changed != code and changed[2:8].isdigit():
        assert not uscc.is_valid(changed)


def test_find_in_text() -> None:
    assert uscc.find_in_text("NTRCN-91350100M000100Y43") == ["91350100M000100Y43"]
    assert uscc.find_in_text("公司@91110000802100433B(总部)") == ["91110000802100433B"]
    assert uscc.find_in_text("no code 1234") == []
