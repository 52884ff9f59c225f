"""Write a decision document as JSON, a table for people, CSV files or an XLSX workbook.

All writers take the document built by :func:`engine.decisions.build_document`; none recomputes anything.
JSON is byte-identical for the same input (keys in a fixed order, no timestamps).
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from .explain import STATUS_LABELS
from .vocabulary import fact_label

__all__ = ["to_json", "to_jsonl", "to_table", "write_csv", "write_parquet", "write_xlsx", "DECISION_COLUMNS"]

DECISION_COLUMNS = [
    "rule_id", "subject_type", "subject_id", "status", "effect", "amount", "amount_min", "amount_max",
    "missing_facts", "reasons", "document_number", "clause", "quote",
]
ISSUE_COLUMNS = ["severity", "record_type", "row", "id", "field", "value", "rule_id", "subject_id", "message", "place"]


def to_json(doc: dict[str, Any]) -> str:
    """The decision document as JSON text (UTF-8, indented, Chinese unescaped)."""
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def _flat(d: dict[str, Any]) -> dict[str, Any]:
    c = d["citation"]
    return {**{k: d[k] for k in DECISION_COLUMNS[:10]}, "document_number": c["document_number"],
            "clause": c["clause"], "quote": c["quote"],
            **({"rejected_inputs": d["rejected_inputs"]} if d.get("rejected_inputs") else {})}


def to_jsonl(doc: dict[str, Any]) -> str:
    """The decisions as JSON Lines, one decision per line (the columns of the streamed output)."""
    return "".join(json.dumps(_flat(d), ensure_ascii=False) + "\n" for d in doc["decisions"])


def write_parquet(doc: dict[str, Any], output: Path) -> None:
    """The decisions as a Parquet file (the columns of the streamed output; lists stay lists)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    strings, lists = pa.string(), pa.list_(pa.string())
    schema = pa.schema([(c, lists if c in ("missing_facts", "reasons") else strings) for c in DECISION_COLUMNS])
    pq.write_table(pa.Table.from_pylist([_flat(d) for d in doc["decisions"]], schema=schema), output)


def _decision_row(d: dict[str, Any]) -> list[Any]:
    c = d["citation"]
    return [d["rule_id"], d["subject_type"], d["subject_id"], d["status"], d["effect"], d["amount"], d["amount_min"],
            d["amount_max"], "; ".join(d["missing_facts"]), " | ".join(d["reasons"]), c["document_number"],
            c["clause"], c["quote"]]


def _rejected_columns(doc: dict[str, Any]) -> list[str]:
    """``["rejected_inputs"]`` when some decision depends on rejected records (then every row has the column)."""
    return ["rejected_inputs"] if any(d.get("rejected_inputs") for d in doc["decisions"]) else []


def _rejected_cell(d: dict[str, Any]) -> str:
    """A decision's rejected inputs as JSON text (as the streamed CSV writes them)."""
    return json.dumps(d.get("rejected_inputs", []), ensure_ascii=False)


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

    With ``out.csv`` the files are out.csv, out.summary.csv and out.errors.csv (errors and warnings).
    """
    def table(header: list[str], rows: list[list[Any]]) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
        return buf.getvalue()

    extra = _rejected_columns(doc)
    decisions = table(DECISION_COLUMNS + extra,
                      [_decision_row(d) + [_rejected_cell(d)] * len(extra) for d in doc["decisions"]])
    if output is None:
        return decisions
    stem = output.with_suffix("")
    output.write_text(decisions, encoding="utf-8")
    header, rows = _summary_rows(doc)
    Path(f"{stem}.summary.csv").write_text(table(header, rows), encoding="utf-8")
    Path(f"{stem}.errors.csv").write_text(table(ISSUE_COLUMNS, _issue_rows(doc)), encoding="utf-8")
    return None


def write_xlsx(doc: dict[str, Any], output: Path) -> None:
    """One workbook: sheets decisions, summary, errors; amounts as exact numbers formatted #,##0.00."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "decisions"
    extra = _rejected_columns(doc)
    ws.append(DECISION_COLUMNS + extra)
    for d in doc["decisions"]:
        row = _decision_row(d) + [_rejected_cell(d)] * len(extra)
        for i in (5, 6, 7):
            row[i] = Decimal(row[i]) if row[i] is not None else None
        ws.append(row)
    for col in ("F", "G", "H"):
        for cell in ws[col][1:]:
            cell.number_format = "#,##0.00"
    header, rows = _summary_rows(doc)
    sm = wb.create_sheet("summary")
    sm.append(header)
    for row in rows:
        sm.append(row)
    er = wb.create_sheet("errors")
    er.append(ISSUE_COLUMNS)
    for row in _issue_rows(doc):
        er.append([v if v is None or isinstance(v, (int, str)) else str(v) for v in row])
    wb.save(output)


def to_table(doc: dict[str, Any], width: int | None = None, color: bool = False, lang: str = "zh") -> str:
    """The document for people: rejected records and warnings first, then decisions grouped by rule, amounts
    aligned, a summary and the top missing facts (named in ``lang``: 一线职工教育培训经费（enterprises.…）)."""
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(file=io.StringIO(), width=width or 160, color_system="standard" if color else None,
                      force_terminal=color, highlight=False)
    styles = {"eligible": "green", "compliant": "green", "not_eligible": "red", "non_compliant": "red",
              "undetermined": "yellow", "not_applicable": "dim"}
    console.print(f"评估日期 {doc['as_of']}    规则包 " + "、".join(f"{p['id']}（{p['document_number']}）"
                                                       for p in doc["rule_packs"]))
    if doc["errors"]:
        console.print(f"[red]被拒绝的记录 {len(doc['errors'])} 条：[/]")
        for e in doc["errors"]:
            if "row" in e:
                console.print(escape(f"  {_where(e)} id={e['id']} 字段 {e['field']} "
                                     f"值 {e['value']!r}：{e['message']}"))
            else:
                console.print(escape(f"  {e['rule_id']} {e['subject_id']}：{e['message']}"))
    if doc["warnings"]:
        console.print(f"警告 {len(doc['warnings'])} 条：")
        for w in doc["warnings"]:
            console.print(escape(f"  {_where(w)} id={w['id']}：{w['message']}"))
    statuses: dict[str, set[str]] = {}
    for d in doc["decisions"]:
        statuses.setdefault(d["rule_id"], set()).add(d["status"])
    idle = [r for r, st in statuses.items() if st == {"not_applicable"}]  # shown in one line, not one table each
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
            table = Table(title=f"{current}  {c['document_number']} {c['clause']}", title_justify="left",
                          box=box.SIMPLE_HEAD, expand=False)
            table.add_column("对象")
            table.add_column("状态")
            table.add_column("金额（元）", justify="right")
            table.add_column("缺少的事实", overflow="fold")
            table.add_column("理由", overflow="fold", max_width=90)
        amount = d["amount"] or (f"{d['amount_min']}–{d['amount_max']}" if d["amount_min"] else "")
        assert table is not None
        table.add_row(escape(d["subject_id"]), f"[{styles[d['status']]}]{STATUS_LABELS[d['status']]}[/]", amount,
                      escape("\n".join(fact_label(f, lang) for f in d["missing_facts"])), escape("；".join(d["reasons"])))
    if table is not None:
        console.print(table)
    if idle:
        console.print("以下规则对本数据集的全部记录均不适用（原因见 --format json 或 explain）：")
        for rule_id in idle:
            console.print(escape(f"  {rule_id}"))

    summary = Table(title="汇总", title_justify="left", box=box.SIMPLE_HEAD)
    summary.add_column("规则")
    for s in ("eligible", "not_eligible", "compliant", "non_compliant", "undetermined", "not_applicable"):
        summary.add_column(STATUS_LABELS[s], justify="right")
    summary.add_column("金额合计（元）", justify="right")
    for rule_id, counts in doc["summary"]["by_rule"].items():
        total = counts["amount_total"]
        if "amount_min_total" in counts:
            total = f"{counts['amount_min_total']}–{counts['amount_max_total']}"
        summary.add_row(rule_id, *(str(counts[s]) for s in STATUS_LABELS), total)
    console.print(summary)
    missing = list(doc["summary"]["missing_facts"].items())[:10]
    if missing:
        console.print("最常缺少的事实（补充后可作出判定）：")
        for fact, n in missing:
            console.print(escape(f"  {fact_label(fact, lang):<45} {n:>6} 项决定"))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    return out
