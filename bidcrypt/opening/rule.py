"""The rule profile of a session: what happens when too few bids are there, and the decision at the close.

Three rules (``--rule`` at ``opening create``, kept in the ledger's ``rule``
setting; a session without one follows ``regulation-44``):

- ``regulation-44``: 《招标投标法实施条例》第四十四条: with fewer than three
  bidders the opening does not proceed and the tender is re-run. It counts
  the bidders with a bid at the opening (withdrawn ones not counted).
- ``procurement-36``: 《政府采购法》第三十六条: with fewer than three
  qualifying suppliers the procurement fails (废标). At the opening the
  qualifying bids are the ones decrypted and verified (opened).
- ``minimum:N``: a minimum the tender documents set: fewer than N bids
  opened and the opening does not proceed.

Each lot is decided on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from bidcrypt.errors import RuleError
from bidcrypt.i18n import Language, pick

if TYPE_CHECKING:
    from bidcrypt.opening.session_view import SessionView

__all__ = ["DEFAULT_RULE", "Decision", "Rule", "decide", "parse_rule", "session_rule"]

DEFAULT_RULE = "regulation-44"

Counted = Literal["bidders", "opened"]

_MINIMUM = re.compile(r"minimum:([1-9][0-9]{0,5})")


@dataclass(frozen=True)
class Rule:
    """A rule profile: its name, the minimum, what it counts, and its legal basis."""

    name: str
    minimum: int
    counts: Counted

    def basis(self, language: Language | None = None) -> str:
        """The rule's legal basis, in *language*."""
        if self.name == "regulation-44":
            return pick(
                "Regulation on the Implementation of the Tendering and Bidding Law, art. 44",
                "《中华人民共和国招标投标法实施条例》第四十四条",
                language,
            )
        if self.name == "procurement-36":
            return pick(
                "Government Procurement Law, art. 36", "《中华人民共和国政府采购法》第三十六条", language
            )
        return pick(
            f"the tender documents' minimum of {self.minimum} bids",
            f"招标文件规定的最少 {self.minimum} 家",
            language,
        )


def parse_rule(text: str) -> Rule:
    """The rule named *text*: ``regulation-44``, ``procurement-36`` or ``minimum:N``.

    Anything else is a :class:`RuleError`.
    """
    name = text.strip()
    if name == "regulation-44":
        return Rule(name, 3, "bidders")
    if name == "procurement-36":
        return Rule(name, 3, "opened")
    match = _MINIMUM.fullmatch(name)
    if match is None:
        raise RuleError(rule=text)
    return Rule(name, int(match.group(1)), "opened")


def session_rule(session: SessionView) -> Rule:
    """The session's rule (its ``rule`` setting; ``regulation-44`` when it has none)."""
    return parse_rule(session.ledger.meta("rule") or DEFAULT_RULE)


@dataclass(frozen=True)
class Decision:
    """The rule's decision for one lot (None: the session has no lots)."""

    rule: str
    lot: str | None
    counts: Counted
    count: int
    minimum: int
    proceeds: bool
    final: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "rule": self.rule,
            "lot": self.lot,
            "counts": self.counts,
            "count": self.count,
            "minimum": self.minimum,
            "proceeds": self.proceeds,
            "final": self.final,
            "message": self.message,
        }


def decide(
    rule: Rule,
    lot: str | None,
    *,
    bidders: int,
    opened: int,
    final: bool,
    language: Language | None = None,
) -> Decision:
    """The decision of *rule* for *lot* with *bidders* (with a bid at the opening) and *opened* bids.

    *final*: the window is closed, so the count of opened bids no longer
    changes; before that the decision is provisional (a rule counting
    opened bids says so).
    """
    count = bidders if rule.counts == "bidders" else opened
    proceeds = count >= rule.minimum
    final = final or rule.counts == "bidders"
    where_en, where_zh = (f" in lot {lot}", f"标段 {lot} 有 ") if lot else ("", "")
    what_en = "bidder(s)" if rule.counts == "bidders" else "bid(s) opened"
    what_zh = "家投标人" if rule.counts == "bidders" else "家投标文件解密成功"
    basis_en, basis_zh = rule.basis("en"), rule.basis("zh")
    if proceeds:
        outcome_en, outcome_zh = "the opening proceeds", "开标继续进行"
    elif rule.name == "regulation-44":
        outcome_en = "fewer than three bidders: the opening does not proceed and the tender is re-run"
        outcome_zh = "投标人少于3个，不得开标，招标人应当重新招标"
    elif rule.name == "procurement-36":
        outcome_en = "fewer than three qualifying suppliers: the procurement fails (废标)"
        outcome_zh = "符合条件的供应商不足三家，应予废标"
    else:
        outcome_en = f"fewer than {rule.minimum}: the opening does not proceed"
        outcome_zh = f"不足 {rule.minimum} 家，开标不继续进行"
    pending_en = "" if final else " (provisional: the window is not closed)"
    pending_zh = "" if final else "（解密时间尚未结束，暂定）"
    message = pick(
        f"{basis_en}: {count} {what_en}{where_en}, minimum {rule.minimum}: {outcome_en}{pending_en}",
        f"{basis_zh}：{where_zh}{count} {what_zh}，最少 {rule.minimum} 家：{outcome_zh}{pending_zh}",
        language,
    )
    return Decision(rule.name, lot, rule.counts, count, rule.minimum, proceeds, final, message)
