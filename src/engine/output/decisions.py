"""Decisions, their roll-ups, and the decision document of output.md.

A :class:`Decision` is a plain value; :func:`build_document` orders them, adds the summary (counts per rule
and status, amount totals, roll-ups per enterprise and school, the missing facts that most often blocked a
decision) and the errors and warnings, giving the JSON-ready dict that ``chanjiao check --format json``
writes. The pydantic models at the end describe that document for its JSON Schema.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal, Sequence

from pydantic import BaseModel, Field

from engine.errors import EvaluationError
from engine.policy.packs import Citation, Pack, Rule
from engine.data.records import Dataset, Rejected
from engine.engines.rejected import (INPUTS_LIMIT, DatasetSource, Taint, listed_inputs, rejected_reasons, restate,
                                     sort_inputs, taint)
from engine.output.terms import AMOUNT_KEYS, POSITIVE_STATUSES, STATUSES, UNDETERMINED, Status, amount_total_key

__all__ = [
    "Decision",
    "build_document",
    "with_rejected",
    "money",
    "amount_beyond_bound",
    "DecisionModel",
    "DecisionDocumentModel",
]

FEN = Decimal("0.01")


def amount_beyond_bound(value: Any) -> bool:
    """Whether a computed amount lies at or beyond the money bound of 10¹⁶ yuan (either sign)."""
    from engine.data.records import MAX_YUAN

    return isinstance(value, (int, Decimal)) and not isinstance(value, bool) and abs(value) >= MAX_YUAN


def money(value: Decimal | None) -> str | None:
    """An amount as the document writes it: a string with exactly two decimals (half-up), or None."""
    if value is None:
        return None
    text = str(value.quantize(FEN, rounding=ROUND_HALF_UP))
    return "0.00" if text == "-0.00" else text  # a zero has no sign (-0, or a negative rounded to zero)


@dataclass
class Decision:
    """One rule's decision about one subject.

    ``rollup`` is (roll-up name, group record type, group id, period or None) for a positive decision of a
    rule that rolls up; it is not part of the document.
    """

    rule_id: str
    subject_type: str
    subject_id: str
    status: str
    effect: str
    citation: Citation
    amount: Decimal | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    missing_facts: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    rollup: tuple[str, str, str, str | None] | None = None
    rejected_inputs: list[Rejected] = field(default_factory=list)

    def depend_on(self, inputs: list[Rejected]) -> None:
        """Make the decision undetermined because of rejected records it depends on (nothing when none); ``inputs``
        distinct and in order, as :meth:`engine.engines.rejected.Taint.inputs` gives them.

        It keeps the missing facts and reasons it had when it was undetermined already; a definite decision loses
        its status, amounts and roll-up. The rejected records' reasons come first.
        """
        if not inputs:
            return
        if self.status != UNDETERMINED:
            self.missing_facts, self.reasons = [], []
        self.status = UNDETERMINED
        for key in AMOUNT_KEYS:
            setattr(self, key, None)
        self.rollup = None
        own = self.reasons[len(rejected_reasons(self.rejected_inputs)) if self.rejected_inputs else 0:]
        self.rejected_inputs = sort_inputs([*self.rejected_inputs, *inputs]) if self.rejected_inputs else inputs
        self.reasons = rejected_reasons(self.rejected_inputs) + restate(own, self.rejected_inputs)

    @classmethod
    def for_rejected(cls, rule: Rule, inputs: list[Rejected]) -> "Decision":
        """The decision about a rejected subject record (one whose id is readable and no accepted record has)."""
        own = [r for r in inputs if r.record_type == rule.subject and r.id is not None]
        d = cls(rule.id, rule.subject, str(own[0].id), UNDETERMINED, rule.effect, rule.citation)
        d.depend_on(inputs)
        return d

    @property
    def sort_key(self) -> tuple[str, str, str]:
        """Decisions are ordered by rule id, subject type, subject id."""
        return (self.rule_id, self.subject_type, self.subject_id)

    def as_dict(self) -> dict[str, Any]:
        """The decision as it appears in the document."""
        return {
            "rule_id": self.rule_id,
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "status": self.status,
            "effect": self.effect,
            **{k: money(getattr(self, k)) for k in AMOUNT_KEYS},
            "missing_facts": list(self.missing_facts),
            "reasons": list(self.reasons),
            "citation": self.citation.as_dict(),
            **listed_inputs(self.rejected_inputs),
        }


def _add(target: dict[str, Decimal], key: str, value: Decimal | None) -> None:
    if value is not None:
        target[key] = target.get(key, Decimal(0)) + value


def _summary(decisions: list[Decision], rules: list[Rule]) -> dict[str, Any]:
    by_rule: dict[str, dict[str, Any]] = {}
    totals: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for rule in rules:
        by_rule[rule.id] = {s: 0 for s in STATUSES}
    ranged = {r.id for r in rules if r.ranged}
    groups: dict[str, dict[str, dict[str, Any]]] = {"enterprises": {}, "schools": {}}
    blocking: Counter[str] = Counter()
    for d in decisions:
        by_rule[d.rule_id][d.status] += 1
        blocking.update(d.missing_facts)
        if d.status in POSITIVE_STATUSES:
            for key in AMOUNT_KEYS:
                _add(totals[d.rule_id], amount_total_key(key), getattr(d, key))
        if d.rollup is None:
            continue
        name, group, key, period = d.rollup
        slot = groups[group].setdefault(key, {})
        if period is not None:
            per = slot.setdefault(name, {})
            per[period] = per.get(period, Decimal(0)) + (d.amount or Decimal(0))
        else:
            agg = slot.setdefault(name, {"count": 0})
            agg["count"] += 1
            for key in AMOUNT_KEYS:
                _add(agg, key, getattr(d, key))
    for rule_id, counts in by_rule.items():
        for key in AMOUNT_KEYS if rule_id in ranged else AMOUNT_KEYS[:1]:
            counts[amount_total_key(key)] = money(totals[rule_id].get(amount_total_key(key), Decimal(0)))
    out: dict[str, Any] = {"by_rule": by_rule}
    for group, key in (("enterprises", "by_enterprise"), ("schools", "by_school")):
        out[key] = {
            gid: {name: _fmt_rollup(v) for name, v in sorted(slot.items())} for gid, slot in sorted(groups[group].items())
        }
    out["missing_facts"] = dict(sorted(blocking.items(), key=lambda kv: (-kv[1], kv[0])))
    return out


def _fmt_rollup(value: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if isinstance(v, int) else money(v)) for k, v in sorted(value.items())}


def with_rejected(decisions: list[Decision], packs: list[Pack], found: Taint,
                  accepted: Any) -> list[Decision]:
    """The decisions with ``found``'s rejected inputs applied, plus the decisions of rejected subjects that no
    accepted record's id matches (``accepted(record_type, id)`` says whether one does)."""
    if not found:
        return decisions
    for d in decisions:
        d.depend_on(found.inputs(d.rule_id, d.subject_id, d.status))
    extra = []
    for pack in packs:
        for rule in pack.rules:
            ids = sorted({str(r.id) for r in found.own.get(rule.id, []) if not accepted(rule.subject, r.id)})
            extra += [Decision.for_rejected(rule, found.inputs(rule.id, sid)) for sid in ids]
    return [*decisions, *extra]


def build_document(
    as_of: dt.date,
    packs: list[Pack],
    decisions: list[Decision],
    dataset: Dataset,
    evaluation_errors: Sequence[EvaluationError] = (),
) -> dict[str, Any]:
    """The decision document of output.md: ordered decisions, summary, errors and warnings.

    Decisions that the dataset's rejected records could change become undetermined and name them (see
    :mod:`engine.engines.rejected`); a rejected subject record with a readable id gets an undetermined decision of its own.
    """
    decisions = with_rejected(decisions, packs, taint(packs, dataset.rejected, DatasetSource(dataset)),
                              lambda rtype, rid: dataset.by_id(rtype, rid) is not None)
    ordered = sorted(decisions, key=lambda d: d.sort_key)
    rules = [r for p in packs for r in p.rules]
    return {
        "as_of": as_of.isoformat(),
        "rule_packs": [{"id": p.id, "document_number": p.document_number, "digest": p.digest} for p in packs],
        "decisions": [d.as_dict() for d in ordered],
        "summary": _summary(ordered, rules),
        "errors": [e.as_dict() for e in dataset.errors] + [e.as_dict() for e in evaluation_errors],
        "warnings": [w.as_dict() for w in dataset.warnings],
    }


# ---------------------------------------------------------------------------------------------- schema models

Amount = str | None


class CitationOut(BaseModel):
    """The citation every decision carries."""

    document_number: str
    title: str
    issuer: str
    issued_on: dt.date
    clause: str
    quote: str


class RejectedInputOut(BaseModel):
    """A rejected record a decision depends on: record type, 1-based row among its type (0: a row not read as one,
    such as a CSV row whose cells do not match the header), id (null if unreadable), place where known."""

    record_type: str
    row: int
    id: str | None
    place: str | None = Field(None, description="Where the user finds it (实习报酬!E2, 企业.csv:7), when known")


class DecisionModel(BaseModel):
    """One decision as written in the document."""

    rule_id: str
    subject_type: str
    subject_id: str
    status: Status
    effect: Literal["benefit", "obligation", "encouraged"]
    amount: Amount = Field(pattern=r"^-?[0-9]+\.[0-9]{2}$")
    amount_min: Amount = Field(pattern=r"^-?[0-9]+\.[0-9]{2}$")
    amount_max: Amount = Field(pattern=r"^-?[0-9]+\.[0-9]{2}$")
    missing_facts: list[str]
    reasons: list[str]
    citation: CitationOut
    rejected_inputs: list[RejectedInputOut] = Field(
        default_factory=list,
        description=f"The rejected records the decision depends on (it is then undetermined), the first "
                    f"{INPUTS_LIMIT} in record-type and row order; omitted when none.")
    rejected_inputs_total: int | None = Field(
        default=None, ge=INPUTS_LIMIT + 1,
        description="How many rejected records the decision depends on, when that is more than rejected_inputs lists.")
    gap: "GapOut | None" = None


class GapOut(BaseModel):
    """How far a threshold decision is from the other outcome: ``fact`` must be ``op target`` (``amount`` away from
    its value; null when the fact is unknown, ``max`` then bounding it from above)."""

    fact: str
    op: Literal[">=", ">", "<=", "<"]
    target: str = Field(pattern=r"^-?[0-9]+\.[0-9]{2}$")
    amount: Amount = Field(pattern=r"^-?[0-9]+\.[0-9]{2}$")
    unit: str
    max: str | None = Field(default=None, pattern=r"^-?[0-9]+\.[0-9]{2}$")


class PeriodOut(BaseModel):
    """The tax period a run was restricted to (``--period``)."""

    model_config = {"populate_by_name": True}

    from_: dt.date = Field(alias="from")
    to: dt.date


class ParameterOut(BaseModel):
    """A parameter in force for the run, with its source: the pack's value or an override (a what-if)."""

    pack: str
    name: str
    value: str | None
    source: Literal["pack", "override"]
    unit: str | None = None


class RulePackRef(BaseModel):
    """A pack the decisions were made with, and the digest of its files."""

    id: str
    document_number: str
    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")


class ErrorOut(BaseModel):
    """A rejected record, or a decision that could not be evaluated."""

    record_type: str | None = None
    row: int | None = None
    id: str | None = None
    field: str | None = None
    value: Any = None
    rule_id: str | None = None
    subject_id: str | None = None
    message: str
    place: str | None = None
    """Where the user finds the record: ``校企合作协议!C7`` (sheet!cell), ``企业.csv:7`` (file:line), ``data.json:12``."""


class WarningOut(BaseModel):
    """A warning about a record that was still evaluated."""

    record_type: str
    row: int | None
    id: str | None
    field: str | None
    message: str
    suggestion: str | None = None
    place: str | None = None
    """Where the user finds it, as for an error's ``place``."""


class DecisionDocumentModel(BaseModel):
    """The document ``chanjiao check --format json`` writes."""

    as_of: dt.date
    period: PeriodOut | None = None
    parameters: list[ParameterOut] | None = None
    rule_packs: list[RulePackRef]
    decisions: list[DecisionModel]
    summary: dict[str, Any]
    errors: list[ErrorOut]
    warnings: list[WarningOut]
