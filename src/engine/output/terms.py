"""The decision document's fixed terms, defined once: the statuses and the amount keys.

Every engine, output and check spells a status or an amount key through these names, never as a string literal
of its own (``tests/test_one_vocabulary.py`` scans the sources for that). The module imports nothing from the
engine, so the rule packs (:mod:`engine.policy.packs`), the expression language and every engine can use it.

- :data:`STATUSES`: the six statuses, in the document's order (the summary counts them in this order; the vectorised
  backend codes a status by its position here);
- :data:`POSITIVE` / :data:`NEGATIVE`: the status of a rule's positive and negative outcome, by its effect;
- :data:`STATUS_WORDS`: a status as people read it, in Chinese and English;
- :data:`AMOUNT_KEYS`: a decision's three amounts (``amount``, the cited range ``amount_min``–``amount_max``),
  which are also the names of a rule's amount expressions; :func:`amount_total_key` names their summary totals.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "ELIGIBLE", "NOT_ELIGIBLE", "COMPLIANT", "NON_COMPLIANT", "UNDETERMINED", "NOT_APPLICABLE", "STATUSES",
    "Status", "POSITIVE", "NEGATIVE", "POSITIVE_STATUSES", "NEGATIVE_STATUSES", "AMOUNT", "AMOUNT_MIN", "AMOUNT_MAX",
    "AMOUNT_KEYS", "RANGE_KEYS", "amount_total_key", "STATUS_WORDS",
]

ELIGIBLE = "eligible"
NOT_ELIGIBLE = "not_eligible"
COMPLIANT = "compliant"
NON_COMPLIANT = "non_compliant"
UNDETERMINED = "undetermined"
NOT_APPLICABLE = "not_applicable"

STATUSES = (ELIGIBLE, NOT_ELIGIBLE, COMPLIANT, NON_COMPLIANT, UNDETERMINED, NOT_APPLICABLE)
"""Every status, in the document's order."""

Status = Literal["eligible", "not_eligible", "compliant", "non_compliant", "undetermined", "not_applicable"]
"""A status as a type (the document's JSON Schema lists these; a test holds it equal to :data:`STATUSES`)."""

POSITIVE = {"benefit": ELIGIBLE, "obligation": COMPLIANT, "encouraged": COMPLIANT}
"""The status of a rule's positive outcome, by the rule's effect."""

NEGATIVE = {"benefit": NOT_ELIGIBLE, "obligation": NON_COMPLIANT, "encouraged": NON_COMPLIANT}
"""The status of a rule's negative outcome, by the rule's effect."""

POSITIVE_STATUSES = (ELIGIBLE, COMPLIANT)
"""The statuses whose amounts count in the totals."""

NEGATIVE_STATUSES = (NOT_ELIGIBLE, NON_COMPLIANT)
"""The statuses of a failed criterion."""

STATUS_WORDS = {
    "zh": {ELIGIBLE: "符合条件", NOT_ELIGIBLE: "不符合条件", COMPLIANT: "合规", NON_COMPLIANT: "不合规",
           UNDETERMINED: "无法判定", NOT_APPLICABLE: "不适用"},
    "en": {ELIGIBLE: "eligible", NOT_ELIGIBLE: "not eligible", COMPLIANT: "compliant", NON_COMPLIANT: "non-compliant",
           UNDETERMINED: "undetermined", NOT_APPLICABLE: "not applicable"},
}
"""A status as people read it, by language ('zh', 'en'), keyed in :data:`STATUSES` order."""

AMOUNT = "amount"
AMOUNT_MIN = "amount_min"
AMOUNT_MAX = "amount_max"

AMOUNT_KEYS = (AMOUNT, AMOUNT_MIN, AMOUNT_MAX)
"""A decision's amounts, in the document's order; also the names of a rule's amount expressions."""

RANGE_KEYS = (AMOUNT_MIN, AMOUNT_MAX)
"""The amounts of a cited range (a rule that has either gets range totals in the summary)."""


def amount_total_key(key: str) -> str:
    """The summary's total of an amount key: ``amount`` → ``amount_total``, ``amount_min`` → ``amount_min_total``."""
    return f"{key}_total"
