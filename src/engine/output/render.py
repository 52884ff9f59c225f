"""Write a decision document as JSON, a table for people, CSV files or an XLSX workbook.

All writers take the document built by :func:`engine.output.decisions.build_document`; none recomputes anything.
JSON is byte-identical for the same input (keys in a fixed order, no timestamps).
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.output.atomic import OutputSet
from engine.output.explain import STATUS_LABELS
from engine.output.safe import spreadsheet_cell, visible_data
from engine.output.terms import (AMOUNT_KEYS, COMPLIANT, ELIGIBLE, NON_COMPLIANT, NOT_APPLICABLE, NOT_ELIGIBLE,
                                 UNDETERMINED)
from engine.data.vocabulary import fact_label

__all__ = ["to_json", "to_jsonl", "to_table", "write_csv", "write_parquet", "write_xlsx", "write_text",
           "DECISION_COLUMNS", "CSV_BOM"]

# every CSV file chanjiao writes starts with a UTF-8 BOM, so Excel on Chinese Windows reads it as UTF-8; CSV on
# standard output has none (it goes to programs)
CSV_BOM = "\ufeff"

DECISION_COLUMNS = [
    "rule_id", "subject_type", "subject_id", "status", "effect", *AMOUNT_KEYS,
    "missing_facts", "reasons", "document_number", "clause", "quote",
]
TAX_COLUMNS = ["enterprise_id", "year", "deductible", "non_deductible", "undetermined"]
ISSUE_COLUMNS = ["severity", "record_type", "row", "id", "field", "value", "rule_id", "subject_id", "message", "place"]


def to_json(doc: dict[str, Any]) -> str:
    """The decision document as JSON text (UTF-8, indented, Chinese unescaped)."""
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def _flat(d: dict[str, Any]) -> dict[str, Any]:
    c = d["citation"]
    return {**{k: d[k] for k in DECISION_COLUMNS[:10]}, "document_number": c["document_number"],
            "clause": c["clause"], "quote": c["quote"],
            **{k: d[k] for k in ("rejected_inputs", "rejected_inputs_total") if d.get(k)}}


def to_jsonl(doc: dict[str, Any]) -> str:
    """The decisions as JSON Lines, one decision per line (the columns of the streamed output)."""
    return "".join(json.dumps(_flat(d), ensure_ascii=False) + "\n" for d in doc["decisions"])


def write_parquet(doc: dict[str, Any], output: Path) -> None:
    """The decisions as a Parquet file (the columns of the streamed output; lists stay lists)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    strings, lists = pa.string(), pa.list_(pa.string())
    schema = pa.schema([(c, lists if c in ("missing_facts", "reasons") else strings) for c in DECISION_COLUMNS])
    with OutputSet() as outs:
        pq.write_table(pa.Table.from_pylist([_flat(d) for d in doc["decisions"]], schema=schema), outs.path(output))


def write_text(text: str, output: Path, *, bom: bool = False) -> None:
    """Write ``text`` to ``output`` all or nothing (a temporary name in the same folder, renamed when written)."""
    with OutputSet() as outs:
        outs.path(output).write_text((CSV_BOM if bom else "") + text, encoding="utf-8")


def _decision_row(d: dict[str, Any]) -> list[Any]:
    c = d["citation"]
    return [d["rule_id"], d["subject_type"], d["subject_id"], d["status"], d["effect"], *(d[k] for k in AMOUNT_KEYS),
            "; ".join(d["missing_facts"]), " | ".join(d["reasons"]), c["document_number"],
            c["clause"], c["quote"]]


def _rejected_columns(doc: dict[str, Any]) -> list[str]:
    """The rejected-input columns when some decision depends on rejected records (then every row has them)."""
    return ["rejected_inputs", "rejected_inputs_total"] if any(d.get("rejected_inputs") for d in doc["decisions"]) else []


def _rejected_cells(d: dict[str, Any]) -> list[Any]:
    """A decision's rejected inputs as JSON text and their count when the list is cut (as the streamed CSV writes them)."""
    return [json.dumps(d.get("rejected_inputs", []), ensure_ascii=False), d.get("rejected_inputs_total")]


def _summary_rows(doc: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    by_rule = doc["summary"]["by_rule"]
    keys: list[str] = []
    for counts in by_rule.values():
        keys += [k for k in counts if k not in keys]
    return ["rule_id", *keys], [[rule_id, *(counts.get(k, "") for k in keys)] for rule_id, counts in by_rule.items()]


def _where(p: dict[str, Any]) -> str:
    """Where a problem is, as the user sees it: its place (``校企合作协议!C7``, ``企业.csv:7``), else type and row."""
    return p.get("place") or f"{p['record_type']} 第 {p['row']} 行"


def _issue_rows(doc: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for severity in ("errors", "warnings"):
        for e in doc[severity]:
            rows.append([severity[:-1], *(e.get(k) for k in ISSUE_COLUMNS[1:])])
    return rows


def write_csv(doc: dict[str, Any], output: Path | None) -> str | None:
    """Decisions to ``output`` (or returned as text for stdout), summary and errors beside it.

    With ``out.csv`` the files are out.csv, out.summary.csv, out.errors.csv (errors and warnings) and, for an
    annotated document, out.tax.csv (per enterprise and year: deductible, non-deductible, undetermined). Every
    file starts with a UTF-8 BOM and no cell can run as a formula (engine.output.safe).
    """
    def table(header: list[str], rows: list[list[Any]]) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([spreadsheet_cell(v) for v in header])
        w.writerows([spreadsheet_cell(v) for v in row] for row in rows)
        return buf.getvalue()

    extra = _rejected_columns(doc)
    decisions = table(DECISION_COLUMNS + extra,
                      [_decision_row(d) + (_rejected_cells(d) if extra else []) for d in doc["decisions"]])
    if output is None:
        return decisions
    stem = output.with_suffix("")
    header, rows = _summary_rows(doc)
    with OutputSet() as outs:  # all three files or none; the summary renamed last
        outs.path(output).write_text(CSV_BOM + decisions, encoding="utf-8")
        outs.path(Path(f"{stem}.errors.csv")).write_text(CSV_BOM + table(ISSUE_COLUMNS, _issue_rows(doc)),
                                                         encoding="utf-8")
        tax = doc["summary"].get("tax_by_enterprise_year")
        if tax is not None:  # per enterprise and year: deductible, non-deductible (纳税调增), undetermined
            outs.path(Path(f"{stem}.tax.csv")).write_text(CSV_BOM + table(TAX_COLUMNS, [
                [ent, year, v["deductible"], v["non_deductible"], v["undetermined"]]
                for ent, years in tax.items() for year, v in years.items()]), encoding="utf-8")
        outs.path(Path(f"{stem}.summary.csv"), last=True).write_text(CSV_BOM + table(header, rows), encoding="utf-8")
    return None


def write_xlsx(doc: dict[str, Any], output: Path, *, lang: str = "zh", context: Any = None) -> None:
    """The XLSX report (:func:`engine.output.xlsx_report.write_report_xlsx`), written all or nothing."""
    from engine.output.xlsx_report import write_report_xlsx

    with OutputSet() as outs:
        write_report_xlsx(doc, outs.path(output), lang=lang, context=context)


def _yuan(text: str | None) -> str:
    """An amount string with thousands separators: ``1234567.80`` → ``1,234,567.80``."""
    if text is None:
        return ""
    return f"{Decimal(text):,.2f}"


def to_table(doc: dict[str, Any], width: int | None = None, color: bool = False, lang: str = "zh", *,
             summary_only: bool = False, titles: dict[str, str] | None = None) -> str:
    """The document for people: rejected records and warnings first, then decisions grouped by rule (Chinese
    titles, amounts with thousands separators, gaps), a summary per rule, deductions per enterprise and year and
    the top missing facts (named in ``lang``: 一线职工教育培训经费（enterprises.…）).

    ``width`` is the terminal's (default 100); reasons fold to fit. ``summary_only`` leaves out the decisions
    (for populations) and lists at most 20 rejected records and warnings. ``titles`` maps rule ids to titles.
    Control characters in the data are shown escaped.
    """
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from engine.output.gaps import gap_text

    doc = visible_data(doc)
    titles = titles or {}
    width = width or 100
    console = Console(file=io.StringIO(), width=width, color_system="standard" if color else None,
                      force_terminal=color, highlight=False, soft_wrap=False)
    styles = {ELIGIBLE: "green", COMPLIANT: "green", NOT_ELIGIBLE: "red", NON_COMPLIANT: "red",
              UNDETERMINED: "yellow", NOT_APPLICABLE: "dim"}
    head = f"评估日期 {doc['as_of']}"
    if doc.get("period"):
        head += f"    期间 {doc['period']['from']} 至 {doc['period']['to']}"
    def line(text: str) -> None:  # a line of free text, wrapped to the width (nothing cropped)
        console.print(text, overflow="fold")

    line(escape(head))
    line(escape("规则包：" + "、".join(f"{p['id']}（{p['document_number']}）" for p in doc["rule_packs"])))
    overrides = [p for p in doc.get("parameters", []) if p.get("source") == "override"]
    if overrides:
        console.print(escape("测算：已覆盖参数 " + "、".join(f"{p['name']}={p['value']}" for p in overrides)
                             + "（非正式结果）"), style="bold yellow" if color else None)
    limit = 20 if summary_only else None
    if doc["errors"]:
        console.print(f"[red]被拒绝的记录 {len(doc['errors']):,} 条：[/]")
        for e in doc["errors"][:limit]:
            if "row" in e:
                facts = "".join(part for part, known in ((f" id={e['id']}", e["id"] is not None),
                                                         (f" 字段 {e['field']}", e["field"] is not None),
                                                         (f" 值 {e['value']!r}", e["value"] is not None)) if known)
                line(escape(f"  {_where(e)}{facts}：{e['message']}"))
            else:
                line(escape(f"  {e['rule_id']} {e['subject_id']}：{e['message']}"))
        if limit and len(doc["errors"]) > limit:
            console.print(f"  …… 另有 {len(doc['errors']) - limit:,} 条（见 --format json/csv）")
    if doc["warnings"]:
        console.print(f"警告 {len(doc['warnings']):,} 条：")
        for w in doc["warnings"][:limit]:
            line(escape(f"  {_where(w)}" + (f" id={w['id']}" if w.get("id") is not None else "") + f"：{w['message']}"))
        if limit and len(doc["warnings"]) > limit:
            console.print(f"  …… 另有 {len(doc['warnings']) - limit:,} 条（见 --format json/csv）")
    statuses: dict[str, set[str]] = {}
    for d in doc["decisions"]:
        statuses.setdefault(d["rule_id"], set()).add(d["status"])
    idle = [r for r, st in statuses.items() if st == {NOT_APPLICABLE}]  # shown in one line, not one table each
    narrow = width < 100
    if not summary_only:
        current = None
        table = None
        for d in doc["decisions"]:
            if d["rule_id"] in idle:
                continue
            if d["rule_id"] != current:
                if table is not None:
                    console.print(table)
                current = d["rule_id"]
                c = d["citation"]
                title = titles.get(current, "")
                table = Table(title=escape(f"{title}  {current}  {c['document_number']} {c['clause']}"),
                              title_justify="left", box=box.SIMPLE_HEAD, expand=True)
                table.add_column("对象", no_wrap=True)  # an id is never cut
                table.add_column("状态", no_wrap=True)
                table.add_column("金额（元）", justify="right", no_wrap=True)
                if not narrow:
                    table.add_column("缺少的事实", overflow="fold", ratio=2)
                table.add_column("理由与差距", overflow="fold", ratio=5)
            amount = _yuan(d["amount"]) if d["amount"] else (
                f"{_yuan(d['amount_min'])}–{_yuan(d['amount_max'])}" if d["amount_min"] else "")
            why = "；".join(d["reasons"])
            if d.get("gap"):
                why += f"\n差距：{gap_text(d['gap'], lang)}"
            if narrow and d["missing_facts"]:
                why += "\n缺少：" + "、".join(fact_label(f, lang) for f in d["missing_facts"])
            cells = [escape(d["subject_id"]), f"[{styles[d['status']]}]{STATUS_LABELS[d['status']]}[/]", amount]
            if not narrow:
                cells.append(escape("\n".join(fact_label(f, lang) for f in d["missing_facts"])))
            cells.append(escape(why))
            assert table is not None
            table.add_row(*cells)
        if table is not None:
            console.print(table)
    if idle:
        console.print("以下规则对本数据集的全部记录均不适用（原因见 --format json 或 explain）：")
        for rule_id in idle:
            console.print(escape(f"  {titles.get(rule_id, '')} {rule_id}"))

    summary = Table(title="汇总", title_justify="left", box=box.SIMPLE_HEAD, expand=True)
    summary.add_column("规则", overflow="fold", ratio=1, min_width=10)
    short = {ELIGIBLE: "符合", NOT_ELIGIBLE: "不符合", COMPLIANT: "合规", NON_COMPLIANT: "不合规",
             UNDETERMINED: "待定", NOT_APPLICABLE: "不适用"}
    by_rule = doc["summary"]["by_rule"]
    # on a narrow terminal, short headers and only the statuses some rule gave
    shown = [s for s in STATUS_LABELS if not narrow or any(c[s] for c in by_rule.values())]
    for s in shown:
        summary.add_column(short[s] if narrow else STATUS_LABELS[s], justify="right", no_wrap=True)
    summary.add_column("金额（元）" if narrow else "金额合计（元）", justify="right", no_wrap=True)
    ranged = any("amount_min_total" in c for c in by_rule.values()) and not narrow
    if ranged:  # the configured total beside the cited range (a line of its own below on a narrow terminal)
        summary.add_column("区间（元）" if narrow else "引用区间合计（元）", justify="right", no_wrap=True)
    for rule_id, counts in by_rule.items():
        label = titles.get(rule_id) or rule_id
        cells = [escape(label), *(f"{counts[s]:,}" for s in shown), _yuan(counts["amount_total"])]
        if ranged:
            cells.append(f"{_yuan(counts['amount_min_total'])}–{_yuan(counts['amount_max_total'])}"
                         if "amount_min_total" in counts else "")
        summary.add_row(*cells)
    console.print(summary)
    if narrow:
        for rule_id, counts in by_rule.items():
            if "amount_min_total" in counts:
                console.print(escape(f"  {titles.get(rule_id) or rule_id}：金额合计 {_yuan(counts['amount_total'])}，"
                                     f"引用区间 {_yuan(counts['amount_min_total'])}–"
                                     f"{_yuan(counts['amount_max_total'])} 元"))
    tax = doc["summary"].get("tax_by_enterprise_year") or {}
    if tax:
        t = Table(title="税前扣除（按企业、年度）", title_justify="left", box=box.SIMPLE_HEAD, expand=True)
        t.add_column("企业", no_wrap=True)
        t.add_column("年度", no_wrap=True)
        t.add_column("可扣除（元）", justify="right", no_wrap=True)
        t.add_column("纳税调增（元）" if narrow else "不可扣除·纳税调增（元）", justify="right", no_wrap=True)
        t.add_column("待定（元）", justify="right", no_wrap=True)
        for ent, years in tax.items():
            for year, v in years.items():
                t.add_row(escape(ent), year, _yuan(v["deductible"]), _yuan(v["non_deductible"]),
                          _yuan(v["undetermined"]))
        console.print(t)
    missing = list(doc["summary"]["missing_facts"].items())[:10]
    if missing:
        console.print("最常缺少的事实（补充后可作出判定）：")
        for fact, n in missing:
            console.print(escape(f"  {fact_label(fact, lang):<45} {n:>6,} 项决定"))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    return out
