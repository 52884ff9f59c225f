"""The fill-in template: a workbook (or a folder of CSV files) that ``chanjiao check`` reads back with no warning.

Everything in it comes from the field vocabulary (:mod:`engine.data.vocabulary`). Layout of the workbook:

- sheet **说明** first: how to fill the template, then one row per field — sheet, Chinese header, field name,
  required or not, what to write, unit, meaning, example and the standard or policy clause that makes it matter.
  The readers skip a sheet named 说明 silently.
- one sheet per record type, named by its Chinese label (企业, 学校, 校企合作协议, …). **Row 1** holds the Chinese
  headers (``FieldInfo.header``: the label, with the unit in full-width brackets: 工资总额（元）); the English field
  name is *not* a row — it is in each header cell's comment, with the meaning and an example — so the data start on
  **row 2**. Required columns have a darker header. Each column carries data validation: the enum's Chinese labels
  and 是/否 as drop-down lists, dates, non-negative (or positive) money, whole numbers, 18-character codes and
  6-digit region codes; code columns are formatted as text so a spreadsheet keeps their leading digits.
- with ``examples=True`` (the default) row 2 of each sheet is an example record (grey italics), consistent across
  the sheets (the agreement names the example enterprise and school), so the unfilled template itself checks
  with no warning; overwrite or delete it.

The CSV variant is a folder with one UTF-8 (with BOM, so a spreadsheet opens it correctly) file per record type,
named by its Chinese label (企业.csv …), the same headers and example rows, and 说明.txt with the field table.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.errors import FatalError
from engine.messages import msg
from engine.data.vocabulary import RECORD_TYPES, FieldInfo, bool_for, enum_label, fields, kind_text

__all__ = ["INSTRUCTIONS_SHEET", "DATA_ROWS", "write_template", "example_cell", "instruction_rows"]

INSTRUCTIONS_SHEET = "说明"
"""The name of the instructions sheet (the readers skip it without a warning)."""
DATA_ROWS = 2000
"""How many rows below the header carry data validation and formats."""

_HOW_TO = (
    "chanjiao 填报模板：产教融合政策合规检查的数据填报表",
    "每张工作表是一种记录（企业、学校、校企合作协议……），第 1 行是表头，请勿修改；鼠标停在表头上可看到英文字段名、含义和示例。",
    "从第 2 行起每行填写一条记录。灰色斜体的第 2 行是示例，可直接覆盖或删除。表头颜色较深的列必须填写。",
    "选填的单元格留空表示“未知”，不等于“否”或“0”：依赖它的判定会显示为“无法判定”并列出需要补充的事实。",
    "金额以元为单位，最多两位小数，不能为负数；日期写成 2021-03-05 或使用日期单元格；是/否 列从下拉列表中选择。",
    "企业以 18 位统一社会信用代码标识；其他表中的“企业统一社会信用代码”“学校代码”须与企业表、学校表中的一致。",
    "填好后运行：chanjiao check 本文件.xlsx --as-of 2021-12-31",
)
_COLUMNS = ("工作表", "表头", "字段", "必填", "填写格式", "单位", "含义", "示例", "依据")


def _sheet_fields() -> list[tuple[str, str, list[FieldInfo]]]:
    return [(name, label, fields(name)) for name, label in RECORD_TYPES]


def example_cell(info: FieldInfo) -> Any:
    """The example of a field as a spreadsheet cell: a date, an exact number, 是/否, the enum's Chinese label."""
    if not info.example:
        return None
    if info.kind == "date":
        return dt.date.fromisoformat(info.example)
    if info.kind == "money":
        return Decimal(info.example)
    if info.kind == "int":
        return int(info.example)
    if info.kind == "bool":
        return "是" if bool_for(info.example) else "否"
    if info.kind == "enum":
        value = info.canonical_example
        return enum_label(info.record_type, info.name, value) if value else info.example
    return info.example


def _example_text(info: FieldInfo) -> str:
    cell = example_cell(info)
    if cell is None:
        return ""
    if isinstance(cell, dt.date):
        return cell.isoformat()
    return str(cell)


def instruction_rows() -> list[list[str]]:
    """The field table of the instructions: one row per field, in the columns of :data:`_COLUMNS`."""
    rows = []
    for _, label, infos in _sheet_fields():
        for f in infos:
            rows.append([label, f.header, f.name, "必填" if f.required else "选填", kind_text(f), f.unit or "",
                         f.description, _example_text(f), f.source])
    return rows


def _comment_text(info: FieldInfo) -> str:
    lines = [f"字段 {info.name}（{info.label_en}）", f"{'必填' if info.required else '选填'}：{kind_text(info)}",
             info.description]
    if info.unit:
        lines.append(f"单位：{info.unit}")
    if info.example:
        lines.append(f"例如：{_example_text(info)}")
    return "\n".join(lines)


def _validation(info: FieldInfo) -> Any:
    """The data validation of a field's column, or None for free text."""
    from openpyxl.worksheet.datavalidation import DataValidation

    def dv(**kw: Any) -> DataValidation:
        return DataValidation(allow_blank=True, showErrorMessage=True, errorTitle=info.label_zh,
                              error=f"应填写{kind_text(info)}", promptTitle=info.label_zh,
                              prompt=info.description[:250], showInputMessage=True, **kw)

    if info.kind == "enum":
        labels = [labels[0] for labels in info.enum_labels.values()]
        return dv(type="list", formula1='"' + ",".join(labels) + '"')
    if info.kind == "bool":
        return dv(type="list", formula1='"是,否"')
    if info.kind == "date":
        return dv(type="date", operator="between", formula1="DATE(1900,1,1)", formula2="DATE(9999,12,31)")
    if info.kind == "money":
        positive = info.record_type in ("internship_payments", "practice_expenses") and info.name == "amount"
        return dv(type="decimal", operator="greaterThan" if positive else "greaterThanOrEqual", formula1="0")
    if info.kind == "int":
        if info.name == "fiscal_year":
            return dv(type="whole", operator="between", formula1="1949", formula2="2999")
        return dv(type="whole", operator="greaterThanOrEqual", formula1="0")
    if info.kind == "uscc":
        return dv(type="textLength", operator="equal", formula1="18")
    if info.kind == "region_code":
        return dv(type="textLength", operator="equal", formula1="6")
    return None


_NUMBER_FORMATS = {"money": "#,##0.00", "date": "yyyy-mm-dd", "uscc": "@", "region_code": "@", "text": "@",
                   "int": "0"}


def _write_xlsx(path: Path, examples: bool) -> None:
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    notes = wb.active
    notes.title = INSTRUCTIONS_SHEET
    for i, line in enumerate(_HOW_TO, start=1):
        notes.cell(i, 1, line).font = Font(bold=i == 1, size=14 if i == 1 else 11)
    top = len(_HOW_TO) + 2
    for j, title in enumerate(_COLUMNS, start=1):
        cell = notes.cell(top, j, title)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    for i, row in enumerate(instruction_rows(), start=top + 1):
        for j, value in enumerate(row, start=1):
            notes.cell(i, j, value).alignment = Alignment(wrap_text=j in (5, 7, 9), vertical="top")
    for j, width in enumerate((14, 28, 30, 6, 28, 6, 44, 22, 40), start=1):
        notes.column_dimensions[get_column_letter(j)].width = width
    notes.freeze_panes = notes.cell(top + 1, 1)

    required_fill, optional_fill = PatternFill("solid", fgColor="9BC2E6"), PatternFill("solid", fgColor="DDEBF7")
    example_font = Font(italic=True, color="808080")
    for _, label, infos in _sheet_fields():
        ws = wb.create_sheet(label)
        for j, f in enumerate(infos, start=1):
            letter = get_column_letter(j)
            cell = ws.cell(1, j, f.header)
            cell.font = Font(bold=True)
            cell.fill = required_fill if f.required else optional_fill
            cell.comment = Comment(_comment_text(f), "chanjiao", width=320, height=160)
            ws.column_dimensions[letter].width = max(12, min(40, 2 * len(f.header) + 4))
            fmt = _NUMBER_FORMATS.get(f.kind)
            if fmt:
                ws.column_dimensions[letter].number_format = fmt
            validation = _validation(f)
            if validation is not None:
                ws.add_data_validation(validation)
                validation.add(f"{letter}2:{letter}{DATA_ROWS + 1}")
            if examples:
                value = example_cell(f)
                ex = ws.cell(2, j, value)
                ex.font = example_font
                if fmt:
                    ex.number_format = fmt
        ws.freeze_panes = "A2"
    wb.save(path)


def _write_csv_dir(folder: Path, examples: bool) -> list[Path]:
    written = []
    for _, label, infos in _sheet_fields():
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow([f.header for f in infos])
        if examples:
            w.writerow([_example_text(f) for f in infos])
        path = folder / f"{label}.csv"
        path.write_text("\ufeff" + buf.getvalue(), encoding="utf-8")
        written.append(path)
    lines = list(_HOW_TO[:-1]) + ["填好后运行：chanjiao check 本文件夹 --as-of 2021-12-31", ""]
    lines.append("\t".join(_COLUMNS))
    lines += ["\t".join(row) for row in instruction_rows()]
    notes = folder / f"{INSTRUCTIONS_SHEET}.txt"
    notes.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [notes, *written]


def write_template(output: Path, fmt: str = "xlsx", *, examples: bool = True, force: bool = False) -> list[Path]:
    """Write the fill-in template to ``output``: a workbook (``xlsx``) or a folder of CSV files (``csv``).

    Written all or nothing (into a temporary file or folder beside ``output``, then renamed). An existing
    ``output`` is refused unless ``force`` (a filled template is never overwritten by mistake); a folder must be
    empty or absent. Returns the files written. Problems are :class:`FatalError` with one-line messages.
    """
    output = Path(output)
    if fmt not in ("xlsx", "csv"):
        raise FatalError(msg("template.format", fmt=fmt))
    if fmt == "xlsx" and output.suffix.lower() != ".xlsx":
        raise FatalError(msg("template.suffix", path=output))
    if output.exists():
        if fmt == "csv" and output.is_dir() and not any(output.iterdir()):
            pass
        elif not force:
            raise FatalError(msg("template.exists", path=output))
        elif fmt == "csv" and not output.is_dir():
            raise FatalError(msg("template.not_dir", path=output))
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise FatalError(msg("file.not_found", path=parent))
    try:
        if fmt == "xlsx":
            fd, tmp = tempfile.mkstemp(prefix=".chanjiao-template-", suffix=".xlsx", dir=parent)
            os.close(fd)
            try:
                _write_xlsx(Path(tmp), examples)
                os.replace(tmp, output)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            return [output]
        tmp_dir = Path(tempfile.mkdtemp(prefix=".chanjiao-template-", dir=parent))
        try:
            names = [p.name for p in _write_csv_dir(tmp_dir, examples)]
            if output.exists():
                for name in names:
                    os.replace(tmp_dir / name, output / name)
            else:
                os.replace(tmp_dir, output)
        finally:
            shutil.rmtree(tmp_dir, ignore_errors=True)
        return [output / name for name in names]
    except OSError as exc:
        raise FatalError(msg("cli.cannot_write", path=output, reason=exc.strerror or exc)) from None
