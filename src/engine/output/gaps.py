"""Gaps as data: how far a threshold decision is from the other outcome, and the joint target of several.

A *threshold criterion* compares one money fact of the subject with an expression of the subject and the
parameters: ``subject.education_fund >= param.education_fund_min_ratio * subject.total_wages``. For a decision
that failed it (or could not tell because that fact is unknown) :func:`decision_gap` gives

    {"fact": "enterprises.education_fund", "op": ">=", "target": "15000.00", "amount": "5000.00", "unit": "元"}

— the fact must be ``op target``, which is ``amount`` away from its value (null when the fact is unknown: then the
target is the value that would decide favourably). Targets are exact to the fen: ``>=`` rounds up, ``<=`` down,
so the target itself passes and one fen beyond fails.

Gaps are computed here, after any engine has decided, from the decision's own facts and the parameters in force —
one place, so every engine's document carries the same gaps. :func:`joint_targets` follows several thresholds that
share a fact (the 1.5 % fund and the 60 % frontline share) to the values that satisfy them all at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from engine.engines.reference import decide, params_for
from engine.messages import msg, render
from engine.language.expressions import Attr, Binary, Context, Name, RecordRef, evaluate, walk
from engine.output.terms import NEGATIVE_STATUSES, NOT_APPLICABLE, POSITIVE_STATUSES, UNDETERMINED
from engine.policy.packs import Criterion, Pack, Rule
from engine.data.records import MAX_YUAN, Dataset, field_kinds

__all__ = ["Threshold", "thresholds", "decision_gap", "joint_targets", "gap_text", "favourable_values"]

FEN = Decimal("0.01")
_FLIP = {">=": "<=", ">": "<", "<=": ">=", "<": ">"}
_ALLOWED_NAMES = {"subject", "param", "as_of"}


@dataclass(frozen=True)
class Threshold:
    """A criterion ``subject.fact op other`` over a money fact, with ``other`` reading only subject and params."""

    rule: Rule
    criterion: Criterion
    fact: str  # the subject's field
    op: str  # the fact must be op target: >=, >, <=, <
    other: Any  # the expression node of the bound

    @property
    def fact_path(self) -> str:
        """``record_type.field``."""
        return f"{self.rule.subject}.{self.fact}"


def _subject_field(node: Any) -> str | None:
    if isinstance(node, Attr) and isinstance(node.obj, Name) and node.obj.name == "subject":
        return node.name
    return None


def thresholds(rule: Rule) -> list[Threshold]:
    """The rule's threshold criteria (money facts compared with subject-and-parameter bounds)."""
    money = {f for f, k in field_kinds(rule.subject).items() if k.name == "money"}
    out = []
    for cr in rule.criteria:
        node = cr.test.node
        if not isinstance(node, Binary) or node.op not in _FLIP:
            continue
        for fact_side, other, op in ((node.left, node.right, node.op), (node.right, node.left, _FLIP[node.op])):
            fact = _subject_field(fact_side)
            names = {n.name for n in walk(other) if isinstance(n, Name)}
            if fact in money and names <= _ALLOWED_NAMES and _subject_field(other) != fact:
                out.append(Threshold(rule, cr, fact, op, other))
                break
    return out


def _context(rule: Rule, pack: Pack, subject: Any, dataset: Dataset, as_of: dt.date,
             overrides: dict[str, Decimal] | None) -> Context:
    names: dict[str, Any] = {"subject": RecordRef(rule.subject, subject, subject.id), "as_of": as_of}
    ctx = Context(names, params_for(pack, as_of, overrides), dataset.by_id)
    if _subject_field(rule.date.node) is not None:  # parameters in force on the rule's own date, as decide() does
        day = evaluate(rule.date.node, ctx)
        if isinstance(day, dt.date):
            ctx.params = params_for(pack, day, overrides)
    return ctx


def _target(op: str, bound: Decimal) -> Decimal:
    if op == ">=":
        return bound.quantize(FEN, rounding=ROUND_CEILING)
    if op == ">":
        return bound.quantize(FEN, rounding=ROUND_FLOOR) + FEN
    if op == "<=":
        return bound.quantize(FEN, rounding=ROUND_FLOOR)
    return bound.quantize(FEN, rounding=ROUND_CEILING) - FEN


def _bound(th: Threshold, ctx: Context) -> Decimal | None:
    try:
        value = evaluate(th.other, ctx)
    except Exception:  # noqa: BLE001 - a bound that cannot be evaluated (division by zero) has no gap
        return None
    # a bound no money figure can reach (10¹⁶ yuan or more; a 29-digit one could not even be rounded to the fen)
    return value if isinstance(value, Decimal) and abs(value) < MAX_YUAN else None


def _passes(op: str, value: Decimal, target: Decimal) -> bool:
    return value >= target if op in (">=", ">") else value <= target


def decision_gap(rule: Rule, pack: Pack, subject: Any, dataset: Dataset, as_of: dt.date,
                 overrides: dict[str, Decimal] | None, status: str,
                 rule_thresholds: list[Threshold] | None = None) -> dict[str, Any] | None:
    """The gap of one decision (see the module docstring), or None when it has none.

    A negative decision gets the gap of its first failed threshold; an undetermined one whose threshold fact is
    unknown gets the target that would decide it favourably (``amount`` null; ``max`` too when a second
    threshold bounds the same fact from above). Positive and not-applicable decisions get none.
    ``rule_thresholds`` is :func:`thresholds` of the rule, when the caller has it already.
    """
    if status not in (*NEGATIVE_STATUSES, UNDETERMINED):
        return None
    ths = thresholds(rule) if rule_thresholds is None else rule_thresholds
    if not ths:
        return None
    ctx = _context(rule, pack, subject, dataset, as_of, overrides)
    unknown_targets: list[tuple[Threshold, Decimal]] = []
    for th in ths:
        bound = _bound(th, ctx)
        if bound is None:
            continue
        target = _target(th.op, bound)
        value = getattr(subject, th.fact)
        if value is None:
            unknown_targets.append((th, target))
            continue
        value = Decimal(value)
        if status != UNDETERMINED and not _passes(th.op, value, target):
            return {"fact": th.fact_path, "op": th.op, "target": str(target), "amount": str(abs(target - value)),
                    "unit": "元"}
    if status == UNDETERMINED and unknown_targets:
        th, target = unknown_targets[0]
        gap: dict[str, Any] = {"fact": th.fact_path, "op": th.op, "target": str(target), "amount": None,
                               "unit": "元"}
        for other, other_target in unknown_targets[1:]:
            if other.fact == th.fact and other.op in ("<=", "<") and th.op in (">=", ">"):
                gap["max"] = str(other_target)
        return gap
    return None


def gap_text(gap: dict[str, Any], lang: str = "zh") -> str:
    """A gap for people: ``职工教育经费（enterprises.education_fund）还需增加 ¥17,000.00（达到 ¥837,000.00）``, or for
    an unknown fact ``补充 …：不低于 ¥837,000.00 即可判定为符合``; in English with ``lang="en"``."""
    from engine.data.vocabulary import fact_label

    fact = fact_label(gap["fact"], lang)
    target = f"{Decimal(gap['target']):,.2f}"
    up = gap["op"] in (">=", ">")
    if gap.get("amount") is None:
        cap = msg("gap.cap", max=f"{Decimal(gap['max']):,.2f}") if gap.get("max") else ""
        return render(msg("gap.supply_up" if up else "gap.supply_down", fact=fact, target=target, cap=cap), lang)
    return render(msg("gap.increase" if up else "gap.decrease", fact=fact, target=target,
                      amount=f"{Decimal(gap['amount']):,.2f}"), lang)


def _facts(rules: list[tuple[Rule, Pack]]) -> set[str]:
    return {th.fact for r, _ in rules for th in thresholds(r)}


def joint_targets(packs: list[Pack], subject: Any, dataset: Dataset, as_of: dt.date,
                  overrides: dict[str, Decimal] | None, rounds: int = 8) -> dict[str, Any] | None:
    """The values of the subject's threshold facts that satisfy every threshold rule about it at once.

    Starting from the subject's values, each failed threshold's fact is moved to its target and every bound is
    evaluated again with the moved facts (raising the fund raises the 60 % frontline target), until all pass.
    Returns ``{"targets": {fact: "amount"}, "changes": {fact: "delta"}, "statuses": {rule: status}, "feasible":
    bool}`` — the statuses re-decided by the reference evaluator with the targets; ``feasible`` is false when no
    amount in fen meets them all (a wage bill of 0.01 has no fen between 1.5 % and 2.5 %) — or None when no
    threshold applies or a fact is unknown.
    """
    rules = [(r, p) for p in packs for r in p.rules if r.subject == subject.record_type and thresholds(r)]
    if not rules:
        return None
    current = subject
    for _ in range(rounds):
        # each fact starts from the subject's own value and moves only as far as the bounds computed with the
        # other facts' current values require, so a fact raised for a bound that later fell is lowered again
        proposed: dict[str, Decimal] = {}
        for rule, pack in rules:
            ctx = _context(rule, pack, current, dataset, as_of, overrides)
            if decide(rule, pack, current, dataset, as_of, overrides).decision.status == NOT_APPLICABLE:
                continue
            for th in thresholds(rule):
                own = getattr(subject, th.fact)
                bound = _bound(th, ctx)
                if own is None or bound is None:
                    return None
                target = _target(th.op, bound)
                value = proposed.get(th.fact, Decimal(own))
                if not _passes(th.op, value, target):
                    proposed[th.fact] = target
        moved = {f: v for f, v in proposed.items() if getattr(current, f) is None or Decimal(getattr(current, f)) != v}
        lowered = {f: Decimal(getattr(subject, f)) for f in _facts(rules) if f not in proposed
                   and getattr(subject, f) is not None and getattr(current, f) != getattr(subject, f)}
        if not moved and not lowered:
            break
        current = current.model_copy(update={**moved, **lowered})
    statuses = {r.id: decide(r, p, current, dataset, as_of, overrides).decision.status for r, p in rules}
    targets = {f"{subject.record_type}.{f}": str(Decimal(getattr(current, f)).quantize(FEN))
               for f in sorted({th.fact for r, _ in rules for th in thresholds(r)})
               if getattr(current, f) is not None}
    changes = {}
    for f in sorted({th.fact for r, _ in rules for th in thresholds(r)}):
        before, after = getattr(subject, f), getattr(current, f)
        if before is not None and after is not None and Decimal(before) != Decimal(after):
            changes[f"{subject.record_type}.{f}"] = str((Decimal(after) - Decimal(before)).quantize(FEN))
    feasible = all(st in (*POSITIVE_STATUSES, NOT_APPLICABLE) for st in statuses.values())
    return {"targets": targets, "changes": changes, "statuses": statuses, "feasible": feasible}


def favourable_values(rule: Rule, pack: Pack, subject: Any, dataset: Dataset, as_of: dt.date,
                      overrides: dict[str, Decimal] | None, missing_facts: list[str]) -> dict[str, bool] | None:
    """For an undetermined decision whose missing facts are yes/no fields of the subject itself: the values that
    would decide it favourably (``{"certificates.insured": True}``), found by deciding again with them filled in;
    None when no such filling gives the positive status (or a missing fact is of another kind or record)."""
    kinds = field_kinds(rule.subject)
    fields = []
    for fact in missing_facts:
        rtype, _, name = fact.partition(".")
        if rtype != rule.subject or name not in kinds or kinds[name].name != "bool":
            return None
        fields.append(name)
    if not fields:
        return None
    for value in (True, False):
        filled = subject.model_copy(update={f: value for f in fields})
        if decide(rule, pack, filled, dataset, as_of, overrides).decision.status == rule.positive:
            return {f"{rule.subject}.{f}": value for f in fields}
    return None
