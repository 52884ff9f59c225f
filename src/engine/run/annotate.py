"""The document additions that follow from a run's settings, made after any engine has decided (one place).

:func:`annotate_document` adds to a decision document (output.md "Additions"):

- ``period`` — the tax period the run was restricted to (:mod:`engine.run.periods`);
- ``parameters`` — every parameter of every pack with the value in force on the evaluation date and its source,
  ``pack`` or ``override``, so a what-if can never pass for the official run;
- ``gap`` on each threshold decision that failed or is undetermined (:mod:`engine.output.gaps`);
- ``summary.tax_by_enterprise_year`` — per enterprise and year, the deductible, non-deductible (纳税调增) and
  undetermined amounts of the deduction rules (rules rolled up per enterprise and period).

Engines stay unaware of these: their documents are byte-identical to each other, so the annotated ones are too.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from engine.output.decisions import money
from engine.engines.reference import params_for
from engine.language.expressions import Context, RecordRef, Unknown, evaluate, format_value
from engine.output.gaps import decision_gap, thresholds
from engine.run.periods import Period
from engine.policy.packs import Pack, Rule
from engine.policy.params import in_force
from engine.output.terms import NEGATIVE_STATUSES, NOT_APPLICABLE, NOT_ELIGIBLE, ELIGIBLE, UNDETERMINED
from engine.data.records import Dataset

__all__ = ["annotate_document", "parameters_in_force", "deduction_rules", "TAX_KEYS"]

TAX_KEYS = ("deductible", "non_deductible", "undetermined")


def _param_text(value: Any, unit: str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal) and unit and unit.startswith("元"):
        return money(value)
    return format_value(value) if not isinstance(value, Decimal) else str(value)


def parameters_in_force(packs: list[Pack], as_of: dt.date, overrides: dict[str, Decimal] | None) -> list[dict[str, Any]]:
    """Every parameter of every pack with its value on ``as_of`` (:func:`engine.policy.params.in_force`):
    ``{"pack", "name", "value", "source"}`` (and ``unit`` when it has one), ``source`` pack or override."""
    out = []
    for pack in packs:
        for name, p in pack.parameters.items():
            value, source = in_force(pack, name, as_of, overrides)
            entry: dict[str, Any] = {"pack": pack.id, "name": name, "value": _param_text(value, p.unit),
                                     "source": source}
            if p.unit:
                entry["unit"] = p.unit
            out.append(entry)
    return out


def deduction_rules(packs: list[Pack]) -> list[tuple[Rule, Pack]]:
    """Rules whose positive amounts roll up per enterprise and period: the tax deductions."""
    return [(r, p) for p in packs for r in p.rules
            if r.rollup is not None and r.rollup.group == "enterprises" and r.rollup.period is not None
            and r.amount is not None]


def _tax_rollup(doc: dict[str, Any], dataset: Dataset, packs: list[Pack], as_of: dt.date,
                overrides: dict[str, Decimal] | None) -> dict[str, Any]:
    rules = {r.id: (r, p) for r, p in deduction_rules(packs)}
    totals: dict[str, dict[str, dict[str, Decimal]]] = defaultdict(lambda: defaultdict(dict))
    for d in doc["decisions"]:
        found = rules.get(d["rule_id"])
        if found is None or d["status"] == NOT_APPLICABLE:
            continue
        rule, pack = found
        subject = dataset.by_id(rule.subject, d["subject_id"])
        if subject is None:
            continue
        ctx = Context({"subject": RecordRef(rule.subject, subject, subject.id), "as_of": as_of},
                      params_for(pack, as_of, overrides), dataset.by_id)
        assert rule.rollup is not None and rule.rollup.period is not None and rule.amount is not None
        key, period = evaluate(rule.rollup.key.node, ctx), evaluate(rule.rollup.period.node, ctx)
        if not isinstance(key, str) or period is None or isinstance(period, Unknown):
            continue
        try:
            amount = Decimal(d["amount"]) if d["amount"] is not None else evaluate(rule.amount.node, ctx)
        except Exception:  # noqa: BLE001 - an amount that cannot be computed is left out of the sums
            continue
        if not isinstance(amount, Decimal):
            continue
        which = {ELIGIBLE: "deductible", NOT_ELIGIBLE: "non_deductible"}.get(d["status"], "undetermined")
        slot = totals[key][format_value(period)]
        slot[which] = slot.get(which, Decimal(0)) + amount
    return {ent: {year: {k: money(v.get(k, Decimal(0))) for k in TAX_KEYS} for year, v in sorted(years.items())}
            for ent, years in sorted(totals.items())}


def annotate_document(doc: dict[str, Any], *, dataset: Dataset, packs: list[Pack], as_of: dt.date,
                      overrides: dict[str, Decimal] | None = None, period: Period | None = None) -> dict[str, Any]:
    """The document with ``period``, ``parameters``, decision gaps and the per-enterprise, per-year tax totals."""
    by_rule = {r.id: (r, p, thresholds(r)) for p in packs for r in p.rules}
    by_rule = {rid: v for rid, v in by_rule.items() if v[2]}
    decisions = []
    for d in doc["decisions"]:
        found = by_rule.get(d["rule_id"])
        if found is not None and d["status"] in (*NEGATIVE_STATUSES, UNDETERMINED):
            subject = dataset.by_id(d["subject_type"], d["subject_id"])
            gap = None if subject is None else decision_gap(found[0], found[1], subject, dataset, as_of, overrides,
                                                            d["status"], found[2])
            if gap is not None:
                d = {**d, "gap": gap}
        decisions.append(d)
    summary = {**doc["summary"], "tax_by_enterprise_year": _tax_rollup(doc, dataset, packs, as_of, overrides)}
    out: dict[str, Any] = {"as_of": doc["as_of"]}
    if period is not None:
        out["period"] = period.as_dict()
    out["parameters"] = parameters_in_force(packs, as_of, overrides)
    out.update({k: v for k, v in doc.items() if k not in ("as_of", "decisions", "summary")})
    out["decisions"] = decisions
    out["summary"] = summary
    # keep the document's own key order: as_of, period, parameters, rule_packs, decisions, summary, errors, warnings
    order = ["as_of", "period", "parameters", "rule_packs", "decisions", "summary", "errors", "warnings"]
    return {k: out[k] for k in order if k in out} | {k: v for k, v in out.items() if k not in order}
