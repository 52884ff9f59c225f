"""Loaders: every format gives the same records and decisions; broken files give one clear line."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from conftest import make_uscc, write_formats
from engine.errors import FatalError
from engine.engines.reference import evaluate_dataset
from engine.data.loaders import load_dataset, read_raw
from engine.messages import render

E1, E2 = make_uscc("220502", 11), make_uscc("420502", 12)
RAW = {
    "enterprises": [
        {"id": E1, "name": "通化甲", "region_code": "220502", "total_wages": Decimal("333333.33"),
         "education_fund": Decimal("5000.00"), "frontline_training_spend": Decimal("3000.00"), "is_key_enterprise": True},
        {"id": E2, "name": "宜昌乙", "region_code": "420502", "total_wages": Decimal("69157.68"),
         "outstanding_cooperation_results": True, "values_employee_training": False},
        {"id": "BAD", "name": "坏记录", "region_code": "220502"},
    ],
    "schools": [{"id": "S1", "name": "学校", "region_code": "220502", "school_type": "secondary_vocational",
                 "is_municipal": True, "demonstration_project": True, "enrolled_students": 321}],
    "agreements": [{"id": "A1", "enterprise_id": E1, "school_id": "S1", "signed_on": dt.date(2020, 1, 2)},
                   {"id": "A2", "enterprise_id": E2, "school_id": "S9", "signed_on": dt.date(2020, 7, 1),
                    "valid_to": dt.date(2021, 6, 30)}],
    "internship_payments": [{"id": "P1", "enterprise_id": E2, "school_id": "S9", "student_id": "x",
                             "amount": Decimal("1234.56"), "paid_on": dt.date(2021, 3, 1)}],
    "certificates": [{"id": "C1", "employee_id": "e1", "enterprise_id": E1, "insured": None,
                      "obtained_on": dt.date(2020, 5, 5)}],
}


def test_the_same_dataset_in_every_format_gives_identical_documents(tmp_path, packs):
    paths = write_formats(RAW, tmp_path)
    docs = {fmt: evaluate_dataset(load_dataset(p), packs, dt.date(2021, 12, 31)) for fmt, p in paths.items()}
    places = {fmt: [p.pop("place", None) for p in doc["errors"] + doc["warnings"]] for fmt, doc in docs.items()}
    reference = json.dumps(docs["json"], ensure_ascii=False, sort_keys=True)
    for fmt, doc in docs.items():
        assert json.dumps(doc, ensure_ascii=False, sort_keys=True) == reference, fmt
    [err] = docs["xlsx"]["errors"]
    assert (err["record_type"], err["row"], err["field"]) == ("enterprises", 3, "id")
    # the place as the user sees it: the sheet's cell, the CSV file's line (the header is line 1), the JSON line
    assert places["xlsx"][0] == "enterprises!A4" and places["csv"][0] == "enterprises.csv:4"
    assert places["json"][0] == "data.json:1" and places["yaml"][0].startswith("data.yaml:")


def test_xlsx_money_cells_are_exact_and_date_cells_are_dates(tmp_path):
    paths = write_formats(RAW, tmp_path)
    ds = load_dataset(paths["xlsx"])
    e2 = ds.by_id("enterprises", E2)
    assert str(e2.total_wages) == "69157.68"
    assert ds.by_id("agreements", "A1").signed_on == dt.date(2020, 1, 2)


def test_chinese_sheet_names_are_aliases(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "企业"
    ws.append(["id", "name", "region_code"])
    ws.append([E1, "通化甲", "220502"])
    wb.create_sheet("说明").append(["这张表不是记录"])  # instructions: read silently
    wb.create_sheet("Sheet3")  # an empty extra sheet: silent
    wb.save(tmp_path / "x.xlsx")
    ds = load_dataset(tmp_path / "x.xlsx")
    assert [e.id for e in ds.records["enterprises"]] == [E1]
    assert not ds.errors and not ds.warnings


def test_csv_with_bom_and_blank_cells(tmp_path):
    (tmp_path / "enterprises.csv").write_bytes(
        "\ufeffid,name,region_code,total_wages\n".encode() + f"{E1},通化甲,220502,\n".encode())
    ds = load_dataset(tmp_path)
    assert ds.records["enterprises"][0].total_wages is None


@pytest.mark.parametrize("name,content,expect", [
    ("bad.json", b'{"enterprises": [', "malformed JSON"),
    ("bad.yaml", b"enterprises: [\n  {id: 1", "malformed YAML"),
    ("list.json", b"[1, 2]", "expected an object"),
    ("rows.json", b'{"enterprises": {"id": 1}}', "must be a list of objects"),
    ("bad.xlsx", b"this is not a zip file", "not a readable XLSX workbook"),
    ("latin1.json", '{"enterprises": [{"name": "café"}]}'.encode("latin-1"), "not UTF-8"),
    ("data.txt", b"x", "unknown dataset format"),
])
def test_unreadable_files_are_one_line_errors(tmp_path, name, content, expect):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(FatalError) as info:
        read_raw(path)
    message, english = str(info.value), render(info.value.args[0], "en")
    assert expect in english and "\n" not in message + english and str(path) in message and str(path) in english


def test_non_utf8_csv_and_empty_directory(tmp_path):
    with pytest.raises(FatalError, match="没有 CSV 文件"):
        read_raw(tmp_path)
    (tmp_path / "schools.csv").write_bytes("id,name\nS1,通化市职业教育中心\n".encode("latin-1", "replace") + b"\xff\xfe\xfa")
    with pytest.raises(FatalError, match="不是 UTF-8"):
        read_raw(tmp_path)


def test_unknown_csv_file_is_an_error_naming_the_rows_and_the_type_it_may_be(tmp_path):
    (tmp_path / "enterprize.csv").write_text("id\nx\ny\n", encoding="utf-8")
    (tmp_path / "schools.csv").write_text("id,name,region_code,school_type\nS1,学校,220502,technical\n", encoding="utf-8")
    ds = load_dataset(tmp_path)
    [err] = ds.errors
    assert err.place == "enterprize.csv" and "2 行" in err.message and "第 2–3 行" in err.message
    assert "enterprises" in err.message and "企业" in err.message
    assert len(ds.records["schools"]) == 1


@pytest.mark.parametrize("title", ["2021年实习报酬明细\n,,,,,\n", "", "单位：元\n"])
def test_unknown_csv_file_under_a_title_row_is_an_error_not_silence(tmp_path, title):
    """A misspelt file name whose header names no field of a known type (a title row above it, or none): its lines
    are listed as not read, never dropped in silence."""
    (tmp_path / "paymnts.csv").write_text(title + "id,enterprise_id,school_id,student_id,amount,paid_on\n"
                                          "P1,E1,S1,x,100.00,2021-03-01\nP2,E1,S1,y,100.00,2021-03-01\n", encoding="utf-8")
    (tmp_path / "schools.csv").write_text("id,name,region_code,school_type\nS1,学校,220502,technical\n", encoding="utf-8")
    ds = load_dataset(tmp_path)
    [err] = [e for e in ds.errors if e.place == "paymnts.csv"]  # its type: what the header suggests, if anything
    assert "paymnts" in err.message and "未读取" in err.message
    assert len(ds.records["schools"]) == 1
