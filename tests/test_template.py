"""The fill-in template, read back with openpyxl, and filled templates read by chanjiao with no warning."""

from __future__ import annotations

import csv
import datetime as dt
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from conftest import make_uscc
from engine.errors import FatalError
from engine.engines.reference import evaluate_dataset
from engine.data.loaders import load_dataset
from engine.policy.packs import load_packs
from engine.data.records import RECORD_TYPES, validate_rows
from engine.data.template import INSTRUCTIONS_SHEET, write_template
from engine.data.vocabulary import RECORD_TYPES as LABELLED, fields

AS_OF = dt.date(2021, 12, 31)
PACKS, _ = load_packs([])
LABEL = dict(LABELLED)


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "填报模板.xlsx"
    assert write_template(path) == [path]
    return path


def canonical() -> dict[str, list[dict[str, object]]]:
    """The example records as JSON carries them (field names, true/false, enum values)."""
    return {t: [{f.name: f.canonical_example for f in fields(t) if f.canonical_example is not None}]
            for t in RECORD_TYPES}


def test_sheets_headers_comments_and_examples(workbook: Path) -> None:
    wb = load_workbook(workbook)
    assert wb.sheetnames == [INSTRUCTIONS_SHEET, *(LABEL[t] for t in RECORD_TYPES)]
    for t in RECORD_TYPES:
        ws = wb[LABEL[t]]
        infos = fields(t)
        assert [c.value for c in ws[1]] == [f.header for f in infos]
        for cell, f in zip(ws[1], infos):
            assert cell.comment is not None and f"字段 {f.name}" in cell.comment.text
            assert ("必填" if f.required else "选填") in cell.comment.text
        example = {f.name: c.value for f, c in zip(infos, ws[2])}
        assert ws.max_row == 2
        for f in infos:
            if f.kind == "date" and f.example:
                assert example[f.name] == dt.datetime.fromisoformat(f.example)
            if f.kind == "enum":
                assert example[f.name] == next(iter(f.enum_labels[f.canonical_example]))
    assert wb[LABEL["enterprises"]]["A1"].value == "统一社会信用代码"
    assert wb[LABEL["enterprises"]]["E1"].value == "工资总额（元）"
    assert wb[LABEL["schools"]]["D2"].value == "中职" and wb[LABEL["enterprises"]]["H2"].value == "是"


def _validations(ws) -> dict[str, object]:
    out = {}
    for dv in ws.data_validations.dataValidation:
        for rng in str(dv.sqref).split():
            out[rng.split(":")[0].rstrip("0123456789")] = dv
    return out


def test_data_validation_of_every_kind(workbook: Path) -> None:
    wb = load_workbook(workbook)
    ent, school, pay = (_validations(wb[LABEL[t]]) for t in ("enterprises", "schools", "internship_payments"))
    assert ent["A"].type == "textLength" and ent["A"].formula1 == "18"          # 统一社会信用代码
    assert ent["C"].type == "textLength" and ent["C"].formula1 == "6"           # 行政区划代码
    assert ent["E"].type == "decimal" and ent["E"].operator == "greaterThanOrEqual" and ent["E"].formula1 == "0"
    assert ent["H"].type == "list" and ent["H"].formula1 == '"是,否"'
    assert school["D"].type == "list" and school["D"].formula1 == '"中职,技工院校,高职"'
    assert school["F"].type == "whole" and school["F"].formula1 == "0"
    assert pay["E"].type == "decimal" and pay["E"].operator == "greaterThan"   # amount > 0
    assert pay["F"].type == "date"
    assert "B" not in ent                                                       # a name is free text
    for dv in ws_all(wb):
        assert str(dv.sqref).endswith("2001") and dv.allow_blank


def ws_all(wb):
    return [dv for name in wb.sheetnames[1:] for dv in wb[name].data_validations.dataValidation]


def test_the_instructions_sheet_describes_every_field(workbook: Path) -> None:
    ws = load_workbook(workbook)[INSTRUCTIONS_SHEET]
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    header_at = next(i for i, r in enumerate(rows) if r[:3] == ["工作表", "表头", "字段"])
    assert rows[header_at] == ["工作表", "表头", "字段", "必填", "填写格式", "单位", "含义", "示例", "依据"]
    table = rows[header_at + 1:]
    assert len(table) == sum(len(fields(t)) for t in RECORD_TYPES)
    by_field = {(r[0], r[2]): r for r in table}
    spend = by_field[("企业", "frontline_training_spend")]
    assert spend[1] == "一线职工教育培训经费（元）" and spend[3] == "选填" and spend[5] == "元"
    assert "通市政办发〔2019〕10号" in spend[8]
    assert by_field[("企业", "id")][3] == "必填"


def test_the_template_itself_reads_with_no_warning_and_means_its_examples(workbook: Path) -> None:
    ds = load_dataset(workbook)
    assert ds.errors == [] and ds.warnings == []
    assert evaluate_dataset(ds, PACKS, AS_OF) == evaluate_dataset(validate_rows(canonical()), PACKS, AS_OF)


def test_a_filled_template_round_trips(workbook: Path, tmp_path: Path) -> None:
    wb = load_workbook(workbook)
    second = make_uscc("220502", 7)
    ent = wb[LABEL["enterprises"]]
    ent.append([second, "通化乙公司", "220521", 2021, Decimal("18300000.00"), Decimal("201300.00"), Decimal("150000"),
                "否", None, "是", None, None, None])
    school = wb[LABEL["schools"]]
    school.append(["TH-JG01", "通化技师学院", "220502", "技工院校", "否", 800, "否", None, None, None])
    pay = wb[LABEL["internship_payments"]]
    pay.append(["ZF-2", second, "TH-JG01", "S2", Decimal("1950.50"), dt.date(2021, 3, 5)])
    filled = tmp_path / "filled.xlsx"
    wb.save(filled)
    ds = load_dataset(filled)
    assert ds.errors == [] and ds.warnings == []
    expected = canonical()
    expected["enterprises"].append({"id": second, "name": "通化乙公司", "region_code": "220521", "fiscal_year": 2021,
                                    "total_wages": "18300000.00", "education_fund": "201300.00",
                                    "frontline_training_spend": "150000.00", "is_key_enterprise": False,
                                    "outstanding_cooperation_results": True})
    expected["schools"].append({"id": "TH-JG01", "name": "通化技师学院", "region_code": "220502",
                                "school_type": "technical", "is_municipal": False, "enrolled_students": 800,
                                "demonstration_project": False})
    expected["internship_payments"].append({"id": "ZF-2", "enterprise_id": second, "school_id": "TH-JG01",
                                            "student_id": "S2", "amount": "1950.50", "paid_on": "2021-03-05"})
    want = validate_rows(expected)
    assert ds.records == want.records
    assert evaluate_dataset(ds, PACKS, AS_OF) == evaluate_dataset(want, PACKS, AS_OF)


def test_the_csv_variant(tmp_path: Path) -> None:
    folder = tmp_path / "模板"
    written = write_template(folder, "csv")
    assert {p.name for p in written} == {"说明.txt", *(f"{LABEL[t]}.csv" for t in RECORD_TYPES)}
    with open(folder / "企业.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == [f.header for f in fields("enterprises")] and rows[1][0] == "91220502MA0Y0A0133"
    assert (folder / "企业.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    ds = load_dataset(folder)
    assert ds.errors == [] and ds.warnings == []
    assert ds.records == validate_rows(canonical()).records
    empty = tmp_path / "空模板"
    write_template(empty, "csv", examples=False)
    assert load_dataset(empty).accepted_count == 0


def test_an_existing_file_is_never_overwritten_by_mistake(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    path.write_bytes(b"my filled data")
    with pytest.raises(FatalError) as info:
        write_template(path)
    assert "已存在" in str(info.value) and path.read_bytes() == b"my filled data"
    write_template(path, force=True)
    assert load_workbook(path).sheetnames[0] == INSTRUCTIONS_SHEET
    with pytest.raises(FatalError):
        write_template(tmp_path / "t.csv")  # a workbook's name ends in .xlsx
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "企业.csv").write_text("mine", encoding="utf-8")
    with pytest.raises(FatalError):
        write_template(tmp_path / "full", "csv")
    assert (tmp_path / "full" / "企业.csv").read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "t.xlsx"]  # no temporary file left behind


def test_the_command(tmp_path: Path) -> None:
    chanjiao = str(Path(sys.executable).parent / "chanjiao")
    out = tmp_path / "模板.xlsx"
    made = subprocess.run([chanjiao, "template", str(out)], capture_output=True, text=True, timeout=120)
    assert made.returncode == 0 and made.stdout.strip() == str(out), made.stderr
    checked = subprocess.run([chanjiao, "check", str(out), "--as-of", "2021-12-31", "--format", "json"],
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0 and checked.stderr == "", checked.stderr
    again = subprocess.run([chanjiao, "template", str(out), "--lang", "zh"], capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and again.stderr.startswith("chanjiao: 错误：") and "--force" in again.stderr
