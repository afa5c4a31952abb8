"""The rule profile: what each rule counts, its decision below the minimum, and bad rule names."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bidcrypt.errors import RuleError
from bidcrypt.opening.rule import DEFAULT_RULE, decide, parse_rule, session_rule

from ..conftest import Pki
from .conftest import new_session


def test_regulation_44_counts_bidders() -> None:
    rule = parse_rule("regulation-44")
    two = decide(rule, "1", bidders=2, opened=2, final=False, language="zh")
    assert not two.proceeds and two.final and two.counts == "bidders"
    assert "第四十四条" in two.message and "重新招标" in two.message and "标段 1" in two.message
    # three bidders with one bid opened: the opening proceeds (art. 44 counts the bidders)
    three = decide(rule, None, bidders=3, opened=1, final=True, language="en")
    assert three.proceeds and "the opening proceeds" in three.message


def test_procurement_36_counts_the_qualifying_bids() -> None:
    rule = parse_rule("procurement-36")
    decision = decide(rule, None, bidders=5, opened=2, final=True, language="zh")
    assert not decision.proceeds and "废标" in decision.message and "第三十六条" in decision.message
    provisional = decide(rule, None, bidders=5, opened=2, final=False, language="en")
    assert not provisional.final and "provisional" in provisional.message
    assert decide(rule, None, bidders=3, opened=3, final=True).proceeds


def test_a_configured_minimum() -> None:
    rule = parse_rule("minimum:5")
    assert (rule.minimum, rule.counts) == (5, "opened")
    assert not decide(rule, None, bidders=9, opened=4, final=True).proceeds
    assert decide(rule, None, bidders=9, opened=5, final=True).to_dict()["proceeds"]
    assert parse_rule("minimum:1").minimum == 1


@pytest.mark.parametrize(
    "name", ["", "regulation-45", "minimum:0", "minimum:-1", "minimum:x", "minimum:9999999"]
)
def test_unknown_rules_are_refused(name: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule(name)
    assert caught.value.code == "rule-invalid"


@given(st.text(max_size=30))
def test_any_text_is_a_rule_or_a_rule_error(text: str) -> None:
    try:
        rule = parse_rule(text)
    except RuleError:
        return
    assert rule.minimum >= 1


def test_the_session_rule_defaults_to_regulation_44(pki: Pki, tmp_path: Path) -> None:
    session = new_session(pki, tmp_path / "s")
    assert session_rule(session).name == DEFAULT_RULE == "regulation-44"
    with session.ledger.transaction() as db:
        session.ledger.set_meta(db, "rule", "procurement-36")
    assert session_rule(session).counts == "opened"
