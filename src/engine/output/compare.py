"""What-if comparison: a scenario's decisions against the baseline's, with exact deltas.

A scenario is parameter overrides (``--param`` or a scenario YAML file) and/or other rule packs (``--rules``).
:func:`compare_documents` takes the two annotated decision documents and gives

- ``changed``: each decision whose status or amounts differ (key rule, subject type, subject id), before and after;
- ``deltas``: per rule, school, district and year, the positive decisions' amounts before, after and the difference
  (``amount``: configured amounts, null counted as 0; ``amount_min``/``amount_max``: the cited ranges);
- both documents' ``parameters``, so the comparison says exactly what was changed.

:func:`load_scenario` reads a scenario file::

    name: 证书补贴按 1500 元测算
    params:
      certificate_subsidy_amount: "1500"     # NAME or PACK.NAME; values read as written, never through a float
    rules: [../my-packs/tonghua-2019]         # optional: pack folders, relative to the file
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from engine.output.decisions import money
from engine.errors import FatalError
from engine.messages import msg
from engine.output.report_context import ReportContext
from engine.output.reasons import NOT_CONFIGURED
from engine.output.terms import AMOUNT, AMOUNT_KEYS, POSITIVE_STATUSES, RANGE_KEYS

__all__ = ["Scenario", "load_scenario", "compare_documents", "comparison_table", "write_comparison_xlsx"]

ZERO = Decimal(0)


@dataclass
class Scenario:
    """A what-if: a name, parameter overrides as NAME=VALUE texts, and rule-pack folders."""

    name: str = "scenario"
    params: list[str] = field(default_factory=list)
    rules: list[Path] = field(default_factory=list)


def load_scenario(path: Path) -> Scenario:
    """Read a scenario YAML file (see the module docstring); FatalError naming the file on any problem."""
    try:
        # BaseLoader: every scalar is text, so 0.1 stays the decimal 0.1 (parsed exactly later)
        data = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise FatalError(msg("scenario.unreadable", path=path, problem=str(exc).splitlines()[0])) from None
    if not isinstance(data, dict):
        raise FatalError(msg("scenario.shape", path=path))
    unknown = set(data) - {"name", "params", "rules"}
    if unknown:
        raise FatalError(msg("scenario.unknown_key", path=path, key=sorted(unknown)[0]))
    params = data.get("params") or {}
    rules = data.get("rules") or []
    if not isinstance(params, dict) or not isinstance(rules, list):
        raise FatalError(msg("scenario.shape", path=path))
    base = Path(path).parent
    return Scenario(name=str(data.get("name") or Path(path).stem),
                    params=[f"{k}={v}" for k, v in params.items()],
                    rules=[(base / r) for r in rules])


def _key(d: dict[str, Any]) -> tuple[str, str, str]:
    return (d["rule_id"], d["subject_type"], d["subject_id"])


def _amounts(d: dict[str, Any] | None) -> dict[str, Decimal]:
    if d is None or d["status"] not in POSITIVE_STATUSES:
        return {k: ZERO for k in AMOUNT_KEYS}
    out = {k: Decimal(d[k]) if d[k] is not None else ZERO for k in AMOUNT_KEYS}
    # a decision without a range counts its amount as both ends of the range
    for k in RANGE_KEYS:
        if d[k] is None and d[AMOUNT] is not None:
            out[k] = Decimal(d[AMOUNT])
    return out


def compare_documents(baseline: dict[str, Any], scenario: dict[str, Any], context: ReportContext | None = None,
                      *, name: str = "scenario") -> dict[str, Any]:
    """The comparison of two annotated documents of the same dataset (see the module docstring)."""
    ctx = context or ReportContext()
    before = {_key(d): d for d in baseline["decisions"]}
    after = {_key(d): d for d in scenario["decisions"]}
    changed = []
    groups: dict[str, dict[str, dict[str, Decimal]]] = {g: defaultdict(lambda: {f"{k}_{w}": ZERO for k in AMOUNT_KEYS
                                                                               for w in ("before", "after")})
                                                      for g in ("by_rule", "by_school", "by_district", "by_year")}
    totals = {f"{k}_{w}": ZERO for k in AMOUNT_KEYS for w in ("before", "after")}
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        sb, sa = (b or {}).get("status"), (a or {}).get("status")
        if sb != sa or any((b or {}).get(k) != (a or {}).get(k) for k in AMOUNT_KEYS):
            changed.append({"rule_id": key[0], "subject_type": key[1], "subject_id": key[2],
                            "status_before": sb, "status_after": sa,
                            **{f"{k}_before": (b or {}).get(k) for k in AMOUNT_KEYS},
                            **{f"{k}_after": (a or {}).get(k) for k in AMOUNT_KEYS},
                            "amount_delta": money(_amounts(a)["amount"] - _amounts(b)["amount"])})
        f = ctx.facts(key[1], key[2])
        where = {"by_rule": key[0],
                 "by_school": f.school_id if key[1] == "schools" or f.school_id else None,
                 "by_district": f.district or "（未知区县）",
                 "by_year": str(f.year) if f.year is not None else "（未知年度）"}
        for which, d in (("before", b), ("after", a)):
            amounts = _amounts(d)
            for k in AMOUNT_KEYS:
                totals[f"{k}_{which}"] += amounts[k]
                for g, gkey in where.items():
                    if gkey is not None:
                        groups[g][gkey][f"{k}_{which}"] += amounts[k]

    def finish(v: dict[str, Decimal]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for k in AMOUNT_KEYS:
            out[f"{k}_before"] = money(v[f"{k}_before"])
            out[f"{k}_after"] = money(v[f"{k}_after"])
            out[f"{k}_delta"] = money(v[f"{k}_after"] - v[f"{k}_before"])
        return out

    deltas = {g: {k: finish(v) for k, v in sorted(rows.items())
                  if any(v[f"{a}_before"] != v[f"{a}_after"] for a in AMOUNT_KEYS) or g == "by_rule"}
              for g, rows in groups.items()}
    return {
        "as_of": scenario["as_of"],
        "period": scenario.get("period"),
        "scenario": name,
        "parameters": {"baseline": baseline.get("parameters", []), "scenario": scenario.get("parameters", []),
                       "changed": _param_changes(baseline.get("parameters", []), scenario.get("parameters", []))},
        "rule_packs": {"baseline": baseline["rule_packs"], "scenario": scenario["rule_packs"]},
        "changed": changed,
        "deltas": deltas,
        "totals": finish(totals),
    }


def _param_changes(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[dict[str, Any]]:
    old = {(p["pack"], p["name"]): p for p in before}
    out = []
    for p in after:
        q = old.get((p["pack"], p["name"]))
        if q is None or q["value"] != p["value"]:
            out.append({"pack": p["pack"], "name": p["name"], "before": None if q is None else q["value"],
                        "after": p["value"], "source": p["source"]})
    return out


def _yuan(text: str | None) -> str:
    return "" if text is None else f"{Decimal(text):,.2f}"


def comparison_table(comparison: dict[str, Any], width: int = 100, titles: dict[str, str] | None = None,
                     limit: int = 50) -> str:
    """The comparison for people (Chinese): what changed, the changed decisions, and the deltas per group."""
    import io

    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from engine.output.explain import STATUS_LABELS
    from engine.output.safe import visible_data

    c = visible_data(comparison)
    titles = titles or {}
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    console.print(escape(f"测算对比：{c['scenario']}    评估日期 {c['as_of']}"))
    for p in c["parameters"]["changed"]:
        console.print(escape(f"  参数 {p['pack']}.{p['name']}：{p['before'] or NOT_CONFIGURED} → "
                             f"{p['after'] or NOT_CONFIGURED}"))
    t = c["totals"]
    console.print(escape(f"金额合计：{_yuan(t['amount_before'])} → {_yuan(t['amount_after'])}（变化 {_yuan(t['amount_delta'])}）；"
                         f"区间 {_yuan(t['amount_min_before'])}–{_yuan(t['amount_max_before'])} → "
                         f"{_yuan(t['amount_min_after'])}–{_yuan(t['amount_max_after'])}"))
    table = Table(title=f"变化的决定（{len(c['changed']):,} 项）", title_justify="left", box=box.SIMPLE_HEAD,
                  expand=True)
    for col, kw in (("规则", {"overflow": "fold", "ratio": 3}), ("对象", {"no_wrap": True}),
                    ("状态", {"overflow": "fold", "ratio": 2}), ("金额变化（元）", {"justify": "right", "no_wrap": True})):
        table.add_column(col, **kw)
    for row in c["changed"][:limit]:
        label = lambda s: STATUS_LABELS.get(s, "无") if s else "无"  # noqa: E731
        status = label(row["status_before"]) + ("" if row["status_before"] == row["status_after"]
                                                else f" → {label(row['status_after'])}")
        table.add_row(escape(titles.get(row["rule_id"]) or row["rule_id"]), escape(row["subject_id"]), status,
                      _yuan(row["amount_delta"]))
    console.print(table)
    if len(c["changed"]) > limit:
        console.print(f"  …… 另有 {len(c['changed']) - limit:,} 项（见 --format json 或 xlsx）")
    names = {"by_rule": "按规则", "by_school": "按学校", "by_district": "按区县", "by_year": "按年度"}
    for g, rows in c["deltas"].items():
        if not rows:
            continue
        dt_ = Table(title=f"金额变化（{names[g]}）", title_justify="left", box=box.SIMPLE_HEAD, expand=True)
        dt_.add_column(names[g][1:], overflow="fold", ratio=3)
        for col in ("测算前（元）", "测算后（元）", "变化（元）"):
            dt_.add_column(col, justify="right", no_wrap=True)
        for k, v in rows.items():
            dt_.add_row(escape(titles.get(k) or k) if g == "by_rule" else escape(k), _yuan(v["amount_before"]),
                        _yuan(v["amount_after"]), _yuan(v["amount_delta"]))
        console.print(dt_)
    return console.file.getvalue()  # type: ignore[attr-defined]


def write_comparison_xlsx(comparison: dict[str, Any], target: Any, *, lang: str = "zh") -> None:
    """The comparison as a workbook: 参数 (parameters changed), 变化的决定 (changed decisions) and one sheet of
    deltas per rule, school, district and year; amounts are numbers formatted ``#,##0.00``."""
    import xlsxwriter

    from engine.output.safe import xlsx_text

    zh = lang != "en"
    wb = xlsxwriter.Workbook(str(target) if isinstance(target, Path) else target,
                             {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                              "strings_to_numbers": False})
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    fmt = wb.add_format({"num_format": "#,##0.00"})

    def sheet(name: str, headers: list[str], rows: list[list[Any]], money_cols: set[int]) -> None:
        ws = wb.add_worksheet(name[:31])
        for col, h in enumerate(headers):
            ws.set_column(col, col, max(12, min(40, len(h) * 2 + 2)))
            ws.write_string(0, col, h, head)
        ws.freeze_panes(1, 0)
        for r, row in enumerate(rows, start=1):
            for col, v in enumerate(row):
                if v is None:
                    continue
                if col in money_cols:
                    ws.write_number(r, col, float(Decimal(v)), fmt)
                elif isinstance(v, int):
                    ws.write_number(r, col, v)
                else:
                    ws.write_string(r, col, xlsx_text(str(v)))
        ws.autofilter(0, 0, max(len(rows), 1), len(headers) - 1)

    p = comparison["parameters"]["changed"]
    sheet("参数" if zh else "Parameters", ["规则包", "参数", "测算前", "测算后"] if zh else
          ["Pack", "Parameter", "Before", "After"], [[x["pack"], x["name"], x["before"], x["after"]] for x in p], set())
    sheet("变化的决定" if zh else "Changed decisions",
          (["规则", "对象类型", "对象编号", "测算前状态", "测算后状态", "测算前金额", "测算后金额", "金额变化"] if zh else
           ["Rule", "Subject type", "Subject id", "Status before", "Status after", "Amount before", "Amount after",
            "Amount delta"]),
          [[x["rule_id"], x["subject_type"], x["subject_id"], x["status_before"], x["status_after"],
            x["amount_before"], x["amount_after"], x["amount_delta"]] for x in comparison["changed"]], {5, 6, 7})
    names = {"by_rule": ("按规则", "By rule"), "by_school": ("按学校", "By school"),
             "by_district": ("按区县", "By district"), "by_year": ("按年度", "By year")}
    for g, rows in comparison["deltas"].items():
        title = names[g][0 if zh else 1]
        cols = ["amount_before", "amount_after", "amount_delta", "amount_min_before", "amount_min_after",
                "amount_min_delta", "amount_max_before", "amount_max_after", "amount_max_delta"]
        headers = [title[1:] if zh else title[3:]] + ([
            "测算前金额", "测算后金额", "金额变化", "测算前区间下限", "测算后区间下限", "区间下限变化", "测算前区间上限",
            "测算后区间上限", "区间上限变化"] if zh else cols)
        sheet(title, headers, [[k, *(v[c] for c in cols)] for k, v in rows.items()], set(range(1, 10)))
    wb.close()
