"""The XLSX report an officer hands on: cover, decisions with who and where, roll-ups, native charts, issues.

``write_report_xlsx(document, target, *, lang="zh", context=None)`` writes one workbook with xlsxwriter in
constant-memory mode (rows are streamed to disk, so memory does not grow with the decisions):

- 封面 (Cover): evaluation date, period, each pack's document number, id and digest, every parameter with
  overrides marked, the input files and their SHA-256, the tool version and the time of the run;
- 决定 (Decisions): each decision with the subject's name, enterprise, school, region, district and year, the
  status in words, amounts as numbers, the gap, missing facts, reasons and citation; split over 决定 (2), … when
  more than Excel's 1,048,576 rows, refused above ``max_sheets`` of them (use CSV or Parquet);
- 企业×年度, 学校, 区县, 规则, 按月扣除, 按年度补贴: the roll-ups of :mod:`engine.output.report_tables`;
- 图表 (Charts): native Excel charts — subsidy by district, subsidy by year, deductions by month;
- 错误与警告 (Issues).

Every amount is a number with the format ``#,##0.00`` (an amount beyond 15 significant digits, which a
spreadsheet cannot hold exactly, is written as text and said so); every text cell goes through
:func:`engine.output.safe.xlsx_text` (no formulas, no control characters); headers frozen, autofilters, widths set.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from engine.errors import FatalError
from engine.messages import msg
from engine.output.report_context import ReportContext
from engine.output.report_tables import ReportTables, report_tables
from engine.output.safe import xlsx_text
from engine.output.terms import AMOUNT_KEYS, STATUS_WORDS
from engine.data.vocabulary import fact_label

__all__ = ["write_report_xlsx", "EXCEL_MAX_ROWS", "LABELS"]

EXCEL_MAX_ROWS = 1_048_576
_EXACT_LIMIT = Decimal("9999999999999.99")  # 15 significant digits: what a spreadsheet's double shows exactly

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "cover": "封面", "decisions": "决定", "by_enterprise_year": "企业×年度", "by_school": "学校",
        "by_district": "区县", "by_rule": "规则", "by_month": "按月扣除", "by_year": "按年度补贴", "charts": "图表",
        "issues": "错误与警告",
        "title": "产教融合政策合规检查报告", "as_of": "评估日期", "period": "期间", "whole": "（未限定期间）",
        "packs": "规则包", "pack": "规则包", "document_number": "文号", "pack_title": "文件名称", "digest": "摘要（SHA-256）",
        "parameters": "参数", "name": "名称", "value": "取值", "unit": "单位", "source": "来源",
        "src_pack": "规则包", "src_override": "覆盖（测算）",
        "what_if": "注意：本次运行覆盖了参数（测算），不是正式结果", "official": "全部参数取自规则包",
        "input": "输入文件", "sha256": "SHA-256", "tool": "工具版本", "run_at": "运行时间",
        "counts": "决定数", "rejected": "被拒绝的记录", "warnings": "警告",
        "rule_id": "规则", "rule_title": "规则名称", "subject_type": "对象类型", "subject_id": "对象编号",
        "subject_name": "对象名称", "enterprise_id": "企业编号", "enterprise_name": "企业名称", "school_id": "学校编号",
        "school_name": "学校名称", "region_code": "行政区划代码", "district": "区县", "year": "年度", "month": "月份",
        "status": "状态", "amount": "金额（元）", "amount_min": "金额下限（元）", "amount_max": "金额上限（元）",
        "gap": "差距", "missing_facts": "缺少的事实", "rejected_inputs": "依赖的被拒绝记录", "reasons": "理由", "clause": "条款",
        "deductible": "可税前扣除（元）", "non_deductible": "不可扣除·纳税调增（元）", "undetermined_amt": "待定（元）",
        "subsidy": "补贴（已配置金额，元）", "subsidy_min": "补贴区间下限（元）", "subsidy_max": "补贴区间上限（元）",
        "decisions_n": "决定数", "positive_n": "符合/合规数", "amount_total": "金额合计（元）",
        "amount_min_total": "区间下限合计（元）", "amount_max_total": "区间上限合计（元）",
        "severity": "类别", "record_type": "记录类型", "row": "行", "id": "编号", "field": "字段", "message": "说明",
        "error": "错误", "warning": "警告",
        "chart_district": "补贴（按区县）", "chart_year": "补贴（按年度）", "chart_month": "可税前扣除金额（按月）",
        "inexact": "超出 15 位有效数字的金额以文本写出（电子表格无法精确保存）",
    },
    "en": {
        "cover": "Cover", "decisions": "Decisions", "by_enterprise_year": "Enterprise x year", "by_school": "Schools",
        "by_district": "Districts", "by_rule": "Rules", "by_month": "Deductions by month", "by_year": "Subsidy by year",
        "charts": "Charts", "issues": "Errors and warnings",
        "title": "Industry-education integration compliance report", "as_of": "Evaluation date", "period": "Period",
        "whole": "(no period)", "packs": "Rule packs", "pack": "Pack", "document_number": "Document number",
        "pack_title": "Document title", "digest": "Digest (SHA-256)", "parameters": "Parameters", "name": "Name",
        "value": "Value", "unit": "Unit", "source": "Source", "src_pack": "pack", "src_override": "override (what-if)",
        "what_if": "Note: parameters were overridden (a what-if), not the official result",
        "official": "Every parameter is the pack's", "input": "Input file", "sha256": "SHA-256",
        "tool": "Tool version", "run_at": "Time of run", "counts": "Decisions", "rejected": "Rejected records",
        "warnings": "Warnings", "rule_id": "Rule", "rule_title": "Rule title", "subject_type": "Subject type",
        "subject_id": "Subject id", "subject_name": "Subject name", "enterprise_id": "Enterprise id",
        "enterprise_name": "Enterprise name", "school_id": "School id", "school_name": "School name",
        "region_code": "Region code", "district": "District", "year": "Year", "month": "Month", "status": "Status",
        "amount": "Amount (yuan)", "amount_min": "Amount min (yuan)", "amount_max": "Amount max (yuan)",
        "gap": "Gap", "missing_facts": "Missing facts", "rejected_inputs": "Rejected records it depends on", "reasons": "Reasons", "clause": "Clause",
        "deductible": "Deductible (yuan)", "non_deductible": "Not deductible (yuan)",
        "undetermined_amt": "Undetermined (yuan)", "subsidy": "Subsidy, configured (yuan)",
        "subsidy_min": "Subsidy range min (yuan)", "subsidy_max": "Subsidy range max (yuan)",
        "decisions_n": "Decisions", "positive_n": "Eligible/compliant", "amount_total": "Amount total (yuan)",
        "amount_min_total": "Range min total (yuan)", "amount_max_total": "Range max total (yuan)",
        "severity": "Kind", "record_type": "Record type", "row": "Row", "id": "Id", "field": "Field",
        "message": "Message", "error": "error", "warning": "warning",
        "chart_district": "Subsidy by district", "chart_year": "Subsidy by year",
        "chart_month": "Deductible amounts by month",
        "inexact": "Amounts beyond 15 significant digits are written as text (a spreadsheet cannot hold them exactly)",
    },
}



class _Book:
    """The workbook and its formats; money cells written exactly or as text with a note."""

    def __init__(self, target: Any, lang: str):
        import xlsxwriter

        self.wb = xlsxwriter.Workbook(target, {"constant_memory": True, "strings_to_formulas": False,
                                               "strings_to_urls": False, "strings_to_numbers": False})
        self.L = LABELS[lang]
        self.lang = lang
        self.head = self.wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                                        "valign": "top"})
        self.money = self.wb.add_format({"num_format": "#,##0.00"})
        self.bold = self.wb.add_format({"bold": True})
        self.title = self.wb.add_format({"bold": True, "font_size": 16})
        self.warn = self.wb.add_format({"bold": True, "font_color": "#C00000"})
        self.wrap = self.wb.add_format({"text_wrap": True, "valign": "top"})
        self.inexact = False

    def sheet(self, key: str, suffix: str = "") -> Any:
        return self.wb.add_worksheet((self.L[key] + suffix)[:31])

    def table(self, ws: Any, headers: list[tuple[str, int]], first_row: int = 0) -> None:
        """Header row with widths, frozen, with an autofilter added by :meth:`finish`."""
        for col, (key, width) in enumerate(headers):
            ws.set_column(col, col, width)
            ws.write_string(first_row, col, self.L.get(key, key), self.head)
        ws.freeze_panes(first_row + 1, 0)

    def cell(self, ws: Any, row: int, col: int, value: Any, money: bool = False) -> None:
        if value is None or value == "":
            return
        if money or isinstance(value, Decimal):
            amount = Decimal(value)
            if abs(amount) > _EXACT_LIMIT:
                self.inexact = True
                ws.write_string(row, col, str(amount))
            else:
                ws.write_number(row, col, float(amount), self.money)
            return
        if isinstance(value, bool):
            ws.write_boolean(row, col, value)
        elif isinstance(value, int):
            ws.write_number(row, col, value)
        else:
            ws.write_string(row, col, xlsx_text(str(value)))

    def rows(self, ws: Any, headers: list[tuple[str, int]], rows: list[list[Any]], money_cols: set[int]) -> int:
        self.table(ws, headers)
        for r, values in enumerate(rows, start=1):
            for c, v in enumerate(values):
                self.cell(ws, r, c, v, money=c in money_cols and v is not None)
        ws.autofilter(0, 0, max(len(rows), 1), len(headers) - 1)
        return len(rows)


def _cover(b: _Book, doc: dict[str, Any], ctx: ReportContext) -> None:
    L = b.L
    ws = b.sheet("cover")
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 44)
    ws.set_column(2, 4, 24)
    r = 0
    ws.merge_range(r, 0, r, 3, L["title"], b.title)
    r += 2
    period = doc.get("period")
    overrides = [p for p in doc.get("parameters", []) if p.get("source") == "override"]
    info = [
        (L["as_of"], doc["as_of"]),
        (L["period"], f"{period['from']} — {period['to']}" if period else L["whole"]),
        (L["counts"], len(doc["decisions"])),
        (L["rejected"], len(doc["errors"])),
        (L["warnings"], len(doc["warnings"])),
        (L["input"], ctx.input_name or ""),
        (L["tool"], f"chanjiao {ctx.tool_version}"),
        (L["run_at"], ctx.run_at),
    ]
    for label, value in info:
        ws.write_string(r, 0, label, b.bold)
        b.cell(ws, r, 1, value)
        r += 1
    ws.write_string(r, 0, L["what_if"] if overrides else L["official"], b.warn if overrides else b.bold)
    r += 2
    ws.write_string(r, 0, L["input"], b.head)
    ws.write_string(r, 1, L["sha256"], b.head)
    r += 1
    for name, digest in ctx.input_files:
        b.cell(ws, r, 0, name)
        ws.write_string(r, 1, digest)
        r += 1
    r += 1
    for col, key in enumerate(("pack", "document_number", "pack_title", "digest")):
        ws.write_string(r, col, L[key], b.head)
    r += 1
    for p in doc["rule_packs"]:
        for col, value in enumerate((p["id"], p["document_number"], ctx.pack_titles.get(p["id"], ""), p["digest"])):
            b.cell(ws, r, col, value)
        r += 1
    r += 1
    for col, key in enumerate(("pack", "name", "value", "unit", "source")):
        ws.write_string(r, col, L[key], b.head)
    r += 1
    for p in doc.get("parameters", []):
        source = L["src_override"] if p.get("source") == "override" else L["src_pack"]
        values = (p["pack"], p["name"], p["value"] if p["value"] is not None else "—", p.get("unit", ""), source)
        for col, value in enumerate(values):
            if p.get("source") == "override":
                ws.write_string(r, col, xlsx_text(str(value)), b.warn)
            else:
                b.cell(ws, r, col, value)
        r += 1
    if b.inexact:
        ws.write_string(r + 1, 0, L["inexact"], b.warn)


_DECISION_HEADERS = [("rule_id", 34), ("rule_title", 30), ("subject_type", 18), ("subject_id", 22),
                     ("subject_name", 24), ("enterprise_id", 22), ("enterprise_name", 24), ("school_id", 14),
                     ("school_name", 22), ("region_code", 12), ("district", 14), ("year", 8), ("status", 12),
                     *((k, 16) for k in AMOUNT_KEYS), ("gap", 36), ("missing_facts", 30),
                     ("reasons", 60), ("document_number", 22), ("clause", 12), ("rejected_inputs", 30)]


def _gap_words(gap: dict[str, Any] | None, lang: str) -> str:
    if not gap:
        return ""
    from engine.output.gaps import gap_text

    return gap_text(gap, lang)


def _rejected_words(d: dict[str, Any], lang: str) -> str:
    """The rejected records a decision depends on: ``agreements 第 3 行（XQ-2020-011）``."""
    parts = []
    for r in d.get("rejected_inputs") or []:
        rid = f"（{r['id']}）" if lang != "en" and r.get("id") else (f" ({r['id']})" if r.get("id") else "")
        parts.append(f"{r['record_type']} 第 {r['row']} 行{rid}" if lang != "en"
                     else f"{r['record_type']} row {r['row']}{rid}")
    total = d.get("rejected_inputs_total")
    if total:  # the document lists the first few only
        parts.append(f"共 {total} 条" if lang != "en" else f"{total} in all")
    return "；".join(parts) if lang != "en" else "; ".join(parts)


def _decisions(b: _Book, doc: dict[str, Any], ctx: ReportContext, max_rows: int, max_sheets: int) -> None:
    per_sheet = max_rows - 1
    decisions = doc["decisions"]
    sheets = max(1, -(-len(decisions) // per_sheet))
    if sheets > max_sheets:
        raise FatalError(msg("xlsx.too_many_sheets", n=f"{len(decisions):,}", sheets=max_sheets, rows=f"{max_rows:,}"))
    words = STATUS_WORDS[b.lang]
    for k in range(sheets):
        ws = b.sheet("decisions", "" if k == 0 else f" ({k + 1})")
        chunk = decisions[k * per_sheet:(k + 1) * per_sheet]
        b.table(ws, _DECISION_HEADERS)
        for r, d in enumerate(chunk, start=1):
            f = ctx.facts(d["subject_type"], d["subject_id"])
            values = [d["rule_id"], ctx.rule_titles.get(d["rule_id"], ""), d["subject_type"], d["subject_id"],
                      f.name, f.enterprise_id, f.enterprise_name, f.school_id, f.school_name, f.region_code,
                      f.district, f.year, words[d["status"]]]
            for c, v in enumerate(values):
                b.cell(ws, r, c, v)
            for c, key in enumerate(AMOUNT_KEYS, start=13):
                if d[key] is not None:
                    b.cell(ws, r, c, d[key], money=True)
            b.cell(ws, r, 16, _gap_words(d.get("gap"), b.lang))
            b.cell(ws, r, 17, "; ".join(fact_label(f, b.lang) for f in d["missing_facts"]))
            b.cell(ws, r, 18, " | ".join(d["reasons"]))
            b.cell(ws, r, 19, d["citation"]["document_number"])
            b.cell(ws, r, 20, d["citation"]["clause"])
            b.cell(ws, r, 21, _rejected_words(d, b.lang))
        ws.autofilter(0, 0, max(len(chunk), 1), len(_DECISION_HEADERS) - 1)


def _rollups(b: _Book, t: ReportTables) -> dict[str, tuple[str, int]]:
    """The roll-up sheets; returns, for the charts, each sheet's name and number of data rows."""
    L = b.L
    out: dict[str, tuple[str, int]] = {}
    ws = b.sheet("by_enterprise_year")
    n = b.rows(ws, [("enterprise_id", 22), ("enterprise_name", 26), ("district", 14), ("year", 8),
                    ("deductible", 18), ("non_deductible", 22), ("undetermined_amt", 16), ("subsidy", 20)],
               [[r["enterprise_id"], r["name"], r["district"], r["year"], r["deductible"], r["non_deductible"],
                 r["undetermined"], r["subsidy"]] for r in t.by_enterprise_year], {4, 5, 6, 7})
    out["by_enterprise_year"] = (ws.name, n)
    ws = b.sheet("by_school")
    from engine.output.terms import STATUSES

    words = STATUS_WORDS[b.lang]
    n = b.rows(ws, [("school_id", 14), ("school_name", 26), ("district", 14)] + [(words[s], 10) for s in STATUSES]
               + [("subsidy", 20)],
               [[r["school_id"], r["name"], r["district"], *(r[s] for s in STATUSES), r["subsidy"]]
                for r in t.by_school], {9})
    out["by_school"] = (ws.name, n)
    ws = b.sheet("by_district")
    n = b.rows(ws, [("district", 18), ("region_code", 12), ("decisions_n", 10), ("positive_n", 12), ("subsidy", 20),
                    ("subsidy_min", 18), ("subsidy_max", 18), ("deductible", 18)],
               [[r["district"], r.get("code"), r["decisions"], r["positive"], r["subsidy"], r["subsidy_min"],
                 r["subsidy_max"], r["deductible"]] for r in t.by_district], {4, 5, 6, 7})
    out["by_district"] = (ws.name, n)
    ws = b.sheet("by_rule")
    n = b.rows(ws, [("rule_id", 36), ("rule_title", 34)] + [(words[s], 10) for s in STATUSES]
               + [("amount_total", 18), ("amount_min_total", 18), ("amount_max_total", 18)],
               [[r["rule_id"], r["title"], *(r[s] for s in STATUSES), r["amount_total"], r["amount_min_total"],
                 r["amount_max_total"]] for r in t.by_rule], {8, 9, 10})
    out["by_rule"] = (ws.name, n)
    ws = b.sheet("by_month")
    n = b.rows(ws, [("month", 10), ("deductible", 18)], [[r["month"], r["deductible"]] for r in t.deductions_by_month],
               {1})
    out["by_month"] = (ws.name, n)
    ws = b.sheet("by_year")
    n = b.rows(ws, [("year", 8), ("subsidy", 20), ("subsidy_min", 18), ("subsidy_max", 18)],
               [[r["year"], r["subsidy"], r["subsidy_min"], r["subsidy_max"]] for r in t.subsidy_by_year], {1, 2, 3})
    out["by_year"] = (ws.name, n)
    del L
    return out


def _charts(b: _Book, sheets: dict[str, tuple[str, int]]) -> None:
    L = b.L
    ws = b.sheet("charts")

    def ref(name: str) -> str:
        return "'" + name.replace("'", "''") + "'"

    def add(kind: str, title: str, sheet_key: str, cat_col: int, val_cols: list[tuple[int, str]], anchor: str) -> None:
        name, n = sheets[sheet_key]
        if n == 0:
            return
        chart = b.wb.add_chart({"type": kind})
        for col, label in val_cols:
            chart.add_series({"name": L[label], "categories": [name, 1, cat_col, n, cat_col],
                              "values": [name, 1, col, n, col],
                              "data_labels": {"value": n <= 12, "num_format": "#,##0.00"}})
        chart.set_title({"name": title})
        chart.set_y_axis({"num_format": "#,##0"})
        chart.set_legend({"position": "bottom"})
        chart.set_size({"width": 720, "height": 360})
        ws.insert_chart(anchor, chart)

    add("column", L["chart_district"], "by_district", 0, [(4, "subsidy"), (5, "subsidy_min"), (6, "subsidy_max")], "A1")
    add("column", L["chart_year"], "by_year", 0, [(1, "subsidy"), (2, "subsidy_min"), (3, "subsidy_max")], "A20")
    add("line", L["chart_month"], "by_month", 0, [(1, "deductible")], "A39")


def _issues(b: _Book, doc: dict[str, Any]) -> None:
    ws = b.sheet("issues")
    headers = [("severity", 8), ("record_type", 18), ("row", 6), ("id", 22), ("field", 18), ("value", 20),
               ("rule_id", 30), ("subject_id", 22), ("message", 70)]
    rows = []
    for key, label in (("errors", "error"), ("warnings", "warning")):
        for e in doc[key]:
            value = e.get("value")
            rows.append([b.L[label], e.get("record_type"), e.get("row"), e.get("id"), e.get("field"),
                         None if value is None else (value if isinstance(value, (int, str)) else str(value)),
                         e.get("rule_id"), e.get("subject_id"), e.get("message")])
    b.rows(ws, headers, rows, set())


def write_report_xlsx(document: dict[str, Any], target: str | Path | IO[bytes], *, lang: str = "zh",
                      context: ReportContext | None = None, max_rows: int = EXCEL_MAX_ROWS,
                      max_sheets: int = 8) -> None:
    """Write the XLSX report of ``document`` to ``target`` (a path, or a binary file object such as BytesIO).

    ``lang`` is ``zh`` (default) or ``en``; ``context`` supplies subject names, districts, years and provenance
    (:func:`engine.output.report_context.report_context`); without it the report shows what the document alone holds.
    Raises FatalError, before writing anything, when the decisions need more than ``max_sheets`` sheets.
    """
    if lang not in LABELS:
        raise FatalError(msg("xlsx.lang", lang=lang))
    ctx = context or ReportContext()
    per_sheet = max_rows - 1
    if -(-len(document["decisions"]) // per_sheet) > max_sheets:
        raise FatalError(msg("xlsx.too_many_sheets", n=f"{len(document['decisions']):,}", sheets=max_sheets,
                             rows=f"{max_rows:,}"))
    tables = report_tables(document, ctx)
    # every other sheet must fit one sheet's rows too; checked before anything is written
    sizes = {"by_enterprise_year": len(tables.by_enterprise_year), "by_school": len(tables.by_school),
             "by_district": len(tables.by_district), "by_rule": len(tables.by_rule),
             "issues": len(document["errors"]) + len(document["warnings"])}
    for key, n in sizes.items():
        if n > per_sheet:
            raise FatalError(msg("xlsx.sheet_too_long", sheet=LABELS[lang][key], n=f"{n:,}", rows=f"{max_rows:,}"))
    if isinstance(target, Path):
        target = str(target)
    b = _Book(target, lang)
    # constant-memory mode writes each sheet's rows as they come, so the sheets are filled in workbook order;
    # the cover is first but its inexact-amount note is known only at the end: amounts are checked up front
    b.inexact = any(d[k] is not None and abs(Decimal(d[k])) > _EXACT_LIMIT
                    for d in document["decisions"] for k in AMOUNT_KEYS)
    _cover(b, document, ctx)
    _decisions(b, document, ctx, max_rows, max_sheets)
    sheets = _rollups(b, tables)
    _charts(b, sheets)
    _issues(b, document)
    b.wb.close()
