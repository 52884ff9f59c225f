"""The roll-up tables every report shows (XLSX, HTML), computed once from a document and its context, exactly.

- per enterprise and year: deductible, non-deductible (纳税调增) and undetermined deduction amounts (from the
  document's ``summary.tax_by_enterprise_year``), and the subsidies decided for the enterprise's subjects;
- per school: decisions and subsidy;
- per district (GB/T 2260 names): subsidy (configured amounts, and the cited range where a rule gives one) and the
  deductible amounts;
- per rule: counts per status and totals (``summary.by_rule``);
- per year: subsidy; per month: deductible amounts.

A *subsidy* is the amount of a positive decision of a benefit rule that is not a tax deduction (the certificate
subsidy, the school subsidy); a *deduction* is the amount of a rule rolled up per enterprise and period.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engine.output.terms import POSITIVE_STATUSES, STATUSES
from engine.output.report_context import ReportContext

__all__ = ["ReportTables", "report_tables", "deduction_rule_ids"]

ZERO = Decimal(0)


def deduction_rule_ids(doc: dict[str, Any], ctx: ReportContext) -> set[str]:
    """Rules whose amounts are tax deductions: from the packs (the context), else the rules named ``*_deduction``."""
    return set(ctx.deduction_rules) or {rid for rid in doc["summary"]["by_rule"] if rid.endswith("_deduction")}


@dataclass
class ReportTables:
    """Exact roll-ups; each row a dict with Decimal amounts."""

    by_enterprise_year: list[dict[str, Any]] = field(default_factory=list)
    by_school: list[dict[str, Any]] = field(default_factory=list)
    by_district: list[dict[str, Any]] = field(default_factory=list)
    by_rule: list[dict[str, Any]] = field(default_factory=list)
    subsidy_by_year: list[dict[str, Any]] = field(default_factory=list)
    deductions_by_month: list[dict[str, Any]] = field(default_factory=list)
    by_status: dict[str, int] = field(default_factory=dict)


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def report_tables(doc: dict[str, Any], ctx: ReportContext) -> ReportTables:
    """The roll-ups of one document (see the module docstring)."""
    deduction_rules = deduction_rule_ids(doc, ctx)
    t = ReportTables()
    status_counts: Counter[str] = Counter()
    district: dict[str, dict[str, Any]] = defaultdict(lambda: {"subsidy": ZERO, "subsidy_min": ZERO,
                                                               "subsidy_max": ZERO, "deductible": ZERO,
                                                               "decisions": 0, "positive": 0})
    school: dict[str, dict[str, Any]] = {}
    year_subsidy: dict[int | None, dict[str, Decimal]] = defaultdict(lambda: {"subsidy": ZERO, "subsidy_min": ZERO,
                                                                              "subsidy_max": ZERO})
    month: dict[str, Decimal] = defaultdict(lambda: ZERO)
    ent_year_subsidy: dict[tuple[str, int | None], Decimal] = defaultdict(lambda: ZERO)
    for d in doc["decisions"]:
        status_counts[d["status"]] += 1
        f = ctx.facts(d["subject_type"], d["subject_id"])
        dkey = f.district or "（未知区县）"
        dist = district[dkey]
        dist["code"] = (f.region_code or "")[:6] if f.district and "（" not in f.district else ""
        dist["decisions"] += 1
        positive = d["status"] in POSITIVE_STATUSES
        if positive:
            dist["positive"] += 1
        amount, lo, hi = _dec(d["amount"]), _dec(d["amount_min"]), _dec(d["amount_max"])
        is_deduction = d["rule_id"] in deduction_rules
        if positive and is_deduction and amount is not None:
            dist["deductible"] += amount
            if f.month:
                month[f.month] += amount
        elif positive and d["effect"] == "benefit" and (amount is not None or lo is not None):
            dist["subsidy"] += amount or ZERO
            dist["subsidy_min"] += lo if lo is not None else (amount or ZERO)
            dist["subsidy_max"] += hi if hi is not None else (amount or ZERO)
            ys = year_subsidy[f.year]
            ys["subsidy"] += amount or ZERO
            ys["subsidy_min"] += lo if lo is not None else (amount or ZERO)
            ys["subsidy_max"] += hi if hi is not None else (amount or ZERO)
            if f.enterprise_id:
                ent_year_subsidy[(f.enterprise_id, f.year)] += amount or ZERO
        if d["subject_type"] == "schools":
            s = school.setdefault(d["subject_id"], {"school_id": d["subject_id"], "name": f.name,
                                                    "district": f.district, "subsidy": ZERO,
                                                    **{st: 0 for st in STATUSES}})
            s[d["status"]] += 1
            if positive and amount is not None and d["effect"] == "benefit":
                s["subsidy"] += amount
    t.by_status = {s: status_counts.get(s, 0) for s in STATUSES}
    tax = doc["summary"].get("tax_by_enterprise_year", {})
    keys = sorted({(e, int(y)) for e, years in tax.items() for y in years} | set(
        (e, y) for e, y in ent_year_subsidy if y is not None))
    for ent, year in keys:
        f = ctx.facts("enterprises", ent)
        row = tax.get(ent, {}).get(str(year), {})
        t.by_enterprise_year.append({
            "enterprise_id": ent, "name": f.name, "district": f.district, "year": year,
            "deductible": _dec(row.get("deductible")) or ZERO,
            "non_deductible": _dec(row.get("non_deductible")) or ZERO,
            "undetermined": _dec(row.get("undetermined")) or ZERO,
            "subsidy": ent_year_subsidy.get((ent, year), ZERO),
        })
    t.by_school = [school[k] for k in sorted(school)]
    t.by_district = [{"district": k, **v} for k, v in sorted(district.items(), key=lambda kv: (kv[1].get("code") or "9", kv[0]))]
    for rid, counts in doc["summary"]["by_rule"].items():
        t.by_rule.append({"rule_id": rid, "title": ctx.rule_titles.get(rid, ""),
                          **{s: counts.get(s, 0) for s in STATUSES},
                          "amount_total": _dec(counts.get("amount_total")) or ZERO,
                          "amount_min_total": _dec(counts.get("amount_min_total")),
                          "amount_max_total": _dec(counts.get("amount_max_total"))})
    t.subsidy_by_year = [{"year": y, **v} for y, v in sorted(year_subsidy.items(), key=lambda kv: kv[0] or 0)]
    t.deductions_by_month = [{"month": m, "deductible": v} for m, v in sorted(month.items())]
    return t
