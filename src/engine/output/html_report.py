"""The HTML report (``chanjiao report DATASET --output DIR``): one self-contained page with inline SVG charts.

The page needs nothing at view time — no script, no font, no style sheet from elsewhere; its Content-Security-Policy
forbids loading anything at all. Charts are SVG drawn here: subsidy by district, subsidy by year, positive amounts
by rule, decisions by status. Every text from the data is HTML-escaped (and control characters made visible).
"""

from __future__ import annotations

import html
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.output.atomic import OutputSet
from engine.output.report_context import ReportContext
from engine.output.report_tables import report_tables
from engine.output.safe import visible
from engine.output.terms import (COMPLIANT, ELIGIBLE, NON_COMPLIANT, NOT_APPLICABLE, NOT_ELIGIBLE, STATUS_WORDS,
                                 UNDETERMINED)
from engine.output.xlsx_report import LABELS

__all__ = ["render_html_report", "write_html_report", "bar_chart_svg"]

_COLORS = {ELIGIBLE: "#2e7d32", COMPLIANT: "#66bb6a", NOT_ELIGIBLE: "#c62828", NON_COMPLIANT: "#ef5350",
           UNDETERMINED: "#f9a825", NOT_APPLICABLE: "#9e9e9e"}


def _e(text: Any) -> str:
    return html.escape(visible(str(text), keep_newlines=False))


def _yuan(value: Decimal) -> str:
    return f"{value:,.2f}"


def bar_chart_svg(title: str, bars: list[tuple[str, Decimal | int]], *, unit: str = "元",
                  colors: list[str] | None = None, width: int = 900, notes: list[str] | None = None) -> str:
    """A horizontal bar chart as inline SVG: one labelled bar per (label, value), values (and ``notes``, one per
    bar) written beside the bars."""
    from rich.cells import cell_len

    # labels right-aligned before the bars; a CJK character is about 13 px at this size, a Latin one half that
    longest = max((cell_len(visible(str(label), keep_newlines=False)) for label, _ in bars), default=4)
    row_h, top = 28, 36
    longest_note = max((cell_len(n) for n in (notes or [])), default=0)
    value_w = 150 + 7 * longest_note
    label_w = min(420, max(80, 7 * longest + 16))
    height = top + row_h * max(len(bars), 1) + 12
    plot_w = width - label_w - value_w - 20
    peak = max((abs(Decimal(v)) for _, v in bars), default=Decimal(0)) or Decimal(1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" aria-label="{_e(title)}">',
             f'<text x="0" y="20" font-size="16" font-weight="bold">{_e(title)}</text>']
    if not bars:
        parts.append(f'<text x="0" y="{top + 18}" font-size="13" fill="#666">（无数据）</text>')
    for i, (label, value) in enumerate(bars):
        y = top + i * row_h
        w = int(plot_w * abs(Decimal(value)) / peak) if value else 0
        color = (colors[i % len(colors)] if colors else "#1565c0")
        shown = _yuan(Decimal(value)) + f" {unit}" if unit == "元" else f"{int(value):,} {unit}"
        if notes and notes[i]:
            shown += f"（{notes[i]}）"
        parts.append(f'<text x="{label_w - 8}" y="{y + 18}" font-size="13" text-anchor="end">{_e(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{max(w, 1)}" height="{row_h - 10}" fill="{color}">'
                     f'<title>{_e(label)}: {_e(shown)}</title></rect>')
        parts.append(f'<text x="{label_w + max(w, 1) + 6}" y="{y + 18}" font-size="12">{_e(shown)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _range_note(row: dict[str, Any]) -> str:
    """``区间 46,000.00–47,000.00`` when the row's cited range differs from its configured amount."""
    if row["subsidy_min"] == row["subsidy"] == row["subsidy_max"]:
        return ""
    return f"区间 {_yuan(row['subsidy_min'])}–{_yuan(row['subsidy_max'])}"


def _table(headers: list[str], rows: list[list[Any]], money_cols: set[int]) -> str:
    out = ["<table><thead><tr>", *(f"<th>{_e(h)}</th>" for h in headers), "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>")
        for i, v in enumerate(row):
            if i in money_cols and v is not None:
                out.append(f'<td class="num">{_yuan(Decimal(v))}</td>')
            elif isinstance(v, int):
                out.append(f'<td class="num">{v:,}</td>')
            else:
                out.append(f"<td>{'' if v is None else _e(v)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def render_html_report(document: dict[str, Any], *, lang: str = "zh", context: ReportContext | None = None) -> str:
    """The report page as text (UTF-8 HTML, no external resource)."""
    ctx = context or ReportContext()
    L = LABELS[lang]
    words = STATUS_WORDS[lang]
    t = report_tables(document, ctx)
    period = document.get("period")
    overrides = [p for p in document.get("parameters", []) if p.get("source") == "override"]
    districts = [r for r in t.by_district if r["subsidy"] or r["subsidy_max"]]
    charts = [
        bar_chart_svg(L["chart_district"], [(r["district"], r["subsidy"]) for r in districts],
                      notes=[_range_note(r) for r in districts]),
        bar_chart_svg(L["chart_year"], [(str(r["year"]), r["subsidy"]) for r in t.subsidy_by_year],
                      notes=[_range_note(r) for r in t.subsidy_by_year]),
        bar_chart_svg("金额合计（按规则）" if lang == "zh" else "Amounts by rule",
                      [(ctx.rule_titles.get(r["rule_id"]) or r["rule_id"], r["amount_total"]) for r in t.by_rule
                       if r["amount_total"]]),
        bar_chart_svg("决定（按状态）" if lang == "zh" else "Decisions by status",
                      [(words[s], n) for s, n in t.by_status.items()], unit="项" if lang == "zh" else "",
                      colors=[_COLORS[s] for s in t.by_status]),
        bar_chart_svg(L["chart_month"], [(r["month"], r["deductible"]) for r in t.deductions_by_month]),
    ]
    info = [(L["as_of"], document["as_of"]), (L["period"], f"{period['from']} — {period['to']}" if period else L["whole"]),
            (L["counts"], f"{len(document['decisions']):,}"), (L["rejected"], f"{len(document['errors']):,}"),
            (L["warnings"], f"{len(document['warnings']):,}"), (L["input"], ctx.input_name or ""),
            (L["tool"], f"chanjiao {ctx.tool_version}"), (L["run_at"], ctx.run_at)]
    packs = "".join(f"<li>{_e(p['document_number'])}（{_e(p['id'])}，{_e(p['digest'])}）</li>"
                    for p in document["rule_packs"])
    params = _table([L["pack"], L["name"], L["value"], L["unit"], L["source"]],
                    [[p["pack"], p["name"], p["value"] or "—", p.get("unit", ""),
                      L["src_override"] if p["source"] == "override" else L["src_pack"]]
                     for p in document.get("parameters", [])], set())
    sections = [
        ("by_district", _table([L["district"], L["region_code"], L["decisions_n"], L["positive_n"], L["subsidy"],
                                L["subsidy_min"], L["subsidy_max"], L["deductible"]],
                               [[r["district"], r.get("code"), r["decisions"], r["positive"], r["subsidy"],
                                 r["subsidy_min"], r["subsidy_max"], r["deductible"]] for r in t.by_district],
                               {4, 5, 6, 7})),
        ("by_enterprise_year", _table([L["enterprise_id"], L["enterprise_name"], L["district"], L["year"],
                                       L["deductible"], L["non_deductible"], L["undetermined_amt"], L["subsidy"]],
                                      [[r["enterprise_id"], r["name"], r["district"], str(r["year"]), r["deductible"],
                                        r["non_deductible"], r["undetermined"], r["subsidy"]]
                                       for r in t.by_enterprise_year], {4, 5, 6, 7})),
        ("by_school", _table([L["school_id"], L["school_name"], L["district"], L["subsidy"]],
                             [[r["school_id"], r["name"], r["district"], r["subsidy"]] for r in t.by_school], {3})),
        ("by_rule", _table([L["rule_id"], L["rule_title"], *(words[s] for s in t.by_status), L["amount_total"]],
                           [[r["rule_id"], r["title"], *(r[s] for s in t.by_status), r["amount_total"]]
                            for r in t.by_rule], {8})),
    ]
    banner = (f'<p class="whatif">{_e(L["what_if"])}：' + "、".join(f"{_e(p['name'])}={_e(p['value'])}"
                                                                   for p in overrides) + "</p>") if overrides else ""
    return "".join([
        "<!DOCTYPE html>",
        f'<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "img-src data:\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(L['title'])}</title>",
        "<style>body{font-family:'Noto Sans CJK SC','Microsoft YaHei','PingFang SC',sans-serif;margin:24px;"
        "color:#222;max-width:1100px}h1{font-size:24px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ccc}"
        "table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border:1px solid #ccc;padding:3px 8px}"
        "th{background:#ddebf7}td.num{text-align:right;font-variant-numeric:tabular-nums}dl{display:grid;"
        "grid-template-columns:max-content auto;gap:2px 16px}dt{font-weight:bold}.whatif{color:#c00000;"
        "font-weight:bold}.charts svg{display:block;margin:12px 0}</style></head><body>",
        f"<h1>{_e(L['title'])}</h1>", banner,
        "<dl>", *(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in info), "</dl>",
        f"<h2>{_e(L['packs'])}</h2><ul>{packs}</ul>",
        f'<h2>{_e(L["charts"])}</h2><div class="charts">', *charts, "</div>",
        *(f"<h2>{_e(L[key])}</h2>{body}" for key, body in sections),
        f"<h2>{_e(L['parameters'])}</h2>{params}",
        "</body></html>\n",
    ])


def write_html_report(document: dict[str, Any], out_dir: Path, *, lang: str = "zh",
                      context: ReportContext | None = None) -> Path:
    """Write ``out_dir/index.html`` (all or nothing) and return its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    page = out_dir / "index.html"
    with OutputSet() as outs:
        outs.path(page).write_text(render_html_report(document, lang=lang, context=context), encoding="utf-8")
    return page
