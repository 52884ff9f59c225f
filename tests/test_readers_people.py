"""Files as people keep them: title rows, Chinese headers, Excel date and money spellings, GBK, totals rows — read
to the same decisions as the canonical form; ambiguous values and broken layouts named at their cell or line."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from conftest import make_uscc
from engine.errors import FatalError
from engine.engines.reference import evaluate_dataset
from engine.data.loaders import load_dataset
from engine.data.records import validate_rows

E1, E2 = make_uscc("220502", 21), make_uscc("220502", 22)
AS_OF = dt.date(2021, 12, 31)

CANONICAL = {
    "enterprises": [
        {"id": E1, "name": "通化甲（集团）有限公司", "region_code": "220502", "total_wages": "1950000.50",
         "education_fund": "29250.00", "frontline_training_spend": "17550.00", "is_key_enterprise": "true"},
        {"id": E2, "name": "通化乙", "region_code": "220502", "total_wages": "2345.67", "is_key_enterprise": "false"},
    ],
    "schools": [{"id": "S1", "name": "通化市职业教育中心", "region_code": "220502", "school_type": "secondary_vocational",
                 "is_municipal": "true", "demonstration_project": "true", "enrolled_students": "1200"}],
    "agreements": [{"id": "A1", "enterprise_id": E1, "school_id": "S1", "signed_on": "2021-03-05"}],
    "certificates": [{"id": "C1", "employee_id": "Y1", "enterprise_id": E1, "insured": "true",
                      "obtained_on": "2021-03-05", "title": "电工"}],
}


def _decisions(ds):
    doc = evaluate_dataset(ds, _packs(), AS_OF)
    return doc["decisions"], doc["summary"]


def _packs():
    from engine.policy.packs import load_packs

    packs, _ = load_packs()
    return packs


def _accountant_workbook(path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "企业"
    ws.append(["通化市 2021 年度产教融合企业台账"])  # a title row
    ws.append([])
    ws.append(["统一社会信用代码", "企业名称", "行政区划代码", "工资总额（元）", "职工教育经费", "一线职工教育培训经费",
               "是否重点企业"])
    ws.append([E1, "通化甲（集团）有限公司", "２２０５０２", "¥1,950,000.50", "29250元", 17550, "√"])
    ws.append([E2, "通化乙", 220502, "￥2,345.67", None, None, "×"])
    ws.append(["合计", None, None, "¥1,952,346.17", None, None, None])
    ws = wb.create_sheet("学校")
    ws.append(["学校代码", "学校名称", "行政区划代码", "学校类型", "是否市本级", "是否示范性实训基地建设", "在校生人数"])
    ws.append(["S1", "通化市职业教育中心", "220502", "中职", "是", "√", "1,200"])
    ws = wb.create_sheet("校企合作协议")
    ws.append(["协议编号", "企业统一社会信用代码", "学校代码", "签订日期"])
    ws.append(["A1", E1, "S1", "2021年3月5日"])
    ws = wb.create_sheet("职业资格证书")
    ws.append(["证书编号", "职工编号", "企业统一社会信用代码", "是否参保", "取得日期", "证书名称"])
    ws.append(["C1", "Y1", E1, "是", dt.datetime(2021, 3, 5), "电工"])
    wb.create_sheet("Sheet3")  # empty: silent
    wb.save(path)


def test_an_accountants_workbook_gives_the_canonical_decisions(tmp_path):
    _accountant_workbook(tmp_path / "台账.xlsx")
    ds = load_dataset(tmp_path / "台账.xlsx")
    assert not ds.errors, ds.errors
    assert [w.place for w in ds.warnings] == ["企业!6:6"] and "合计" in ds.warnings[0].message
    assert _decisions(ds) == _decisions(validate_rows(CANONICAL))


def test_a_gbk_export_with_chinese_names_gives_the_canonical_decisions_and_says_so(tmp_path):
    folder = tmp_path / "导出"
    folder.mkdir()
    (folder / "企业.csv").write_bytes((
        "企业信息表（单位：元）\n"
        "统一社会信用代码,企业名称,行政区划代码,工资总额,职工教育经费,一线职工教育培训经费,是否重点企业\n"
        f'{E1},通化甲（集团）有限公司,220502,"1,950,000.50",29250.00,17550.00,是\n'
        f"{E2},通化乙,220502,2345.67,,,否\n"
        ",合计,,\"1,952,346.17\",,,\n").encode("gbk"))
    (folder / "学校.csv").write_bytes(("学校代码,学校名称,行政区划代码,学校类型,是否市本级,是否示范性实训基地建设,在校生人数\n"
                                      "S1,通化市职业教育中心,220502,中职,是,是,1200\n").encode("gbk"))
    (folder / "校企合作协议.csv").write_bytes(("协议编号,企业统一社会信用代码,学校代码,签订日期\n"
                                          f"A1,{E1},S1,2021/3/5\n").encode("gbk"))
    (folder / "职业资格证书.csv").write_bytes(("证书编号,职工编号,企业统一社会信用代码,是否参保,取得日期,证书名称\n"
                                          f"C1,Y1,{E1},是,2021.3.5,电工\n").encode("gbk"))
    ds = load_dataset(folder)
    assert not ds.errors, ds.errors
    assert sum("GB18030" in w.message for w in ds.warnings) == 4
    [total] = [w for w in ds.warnings if "合计" in w.message]
    assert total.place == "企业.csv:5" and total.row == 3
    assert _decisions(ds) == _decisions(validate_rows(CANONICAL))


@pytest.mark.parametrize("value,field,forms", [
    ("3/5/2021", "signed_on", "2021年3月5日"),
    ("2021-02-30", "signed_on", "没有这一天"),
])
def test_ambiguous_dates_are_rejected_naming_the_cell_and_the_accepted_forms(tmp_path, value, field, forms):
    (tmp_path / "agreements.csv").write_text(f"标题\n\nid,enterprise_id,school_id,signed_on\nA1,{E1},S1,{value}\n",
                                             encoding="utf-8")
    ds = load_dataset(tmp_path)
    [err] = ds.errors
    assert (err.field, err.row, err.place) == (field, 1, "agreements.csv:4") and forms in err.message


@pytest.mark.parametrize("value", ["1,50", ",100", "1234,56", "1.234,5", "1,2345.00"])
def test_thousands_that_do_not_group_by_three_are_rejected_at_the_cell(tmp_path, value):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "企业"
    ws.append(["id", "name", "region_code", "total_wages"])
    ws.append([E1, "甲", "220502", value])
    wb.save(tmp_path / "x.xlsx")
    [err] = load_dataset(tmp_path / "x.xlsx").errors
    assert err.place == "企业!D2" and err.field == "total_wages" and "1,234.56" in err.message


def test_full_width_digits_are_read_as_digits_in_codes_and_ids():
    ds = validate_rows({"schools": [{"id": "Ｓ１", "name": "学校（一）", "region_code": "２２０５０３",
                                     "school_type": "technical"}]})
    [s] = ds.records["schools"]
    assert (s.id, s.region_code, s.name) == ("S1", "220503", "学校（一）")


def test_a_formula_cell_without_a_cached_value_rejects_its_record_at_the_cell(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "enterprises"
    ws.append(["id", "name", "region_code", "total_wages"])
    ws.append([E1, "甲", "220502", "=1+1"])  # openpyxl writes no cached value
    wb.save(tmp_path / "x.xlsx")
    [err] = load_dataset(tmp_path / "x.xlsx").errors
    assert err.place == "enterprises!D2" and "公式" in err.message


def test_duplicate_headers_are_one_line(tmp_path):
    (tmp_path / "enterprises.csv").write_text(f"id,企业名称,name\n{E1},甲,乙\n", encoding="utf-8")
    with pytest.raises(FatalError) as exc:
        load_dataset(tmp_path)
    assert "表头重复" in str(exc.value) and "\n" not in str(exc.value)


def test_ragged_rows_and_columns_without_a_header_are_named_by_line(tmp_path):
    (tmp_path / "schools.csv").write_text(
        "id,name,region_code,school_type,\n"
        "S1,一,220502,technical,备注\n"
        "S2,二,有限,公司,220502,technical\n"
        "S3,三,220502\n"
        "\n"
        "S4,四,220502,technical,\n", encoding="utf-8")
    ds = load_dataset(tmp_path)
    assert [s.id for s in ds.records["schools"]] == ["S1", "S4"]
    assert [e.place for e in ds.errors] == ["schools.csv:3", "schools.csv:4"]
    assert [w.place for w in ds.warnings] == ["schools.csv:2"] and "没有表头" in ds.warnings[0].message


def test_a_quoted_line_break_keeps_later_places_on_their_physical_lines(tmp_path):
    (tmp_path / "schools.csv").write_text(
        'id,name,region_code,school_type\nS1,"一\n二",220502,technical\nS2,二,220502,nope\n', encoding="utf-8")
    [err] = load_dataset(tmp_path).errors
    assert (err.row, err.place) == (2, "schools.csv:4")


def test_an_over_long_cell_rejects_its_record():
    ds = validate_rows({"schools": [{"id": "S1", "name": "学" * 1001, "region_code": "220502",
                                     "school_type": "technical"}]})
    [err] = ds.errors
    assert err.field == "name" and "1000" in err.message


@pytest.mark.parametrize("name,text", [("x.json", "null"), ("x.yaml", "~\n"), ("y.yaml", "")])
def test_a_null_document_is_one_line(tmp_path, name, text):
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(FatalError, match="文档为空"):
        load_dataset(tmp_path / name)


def test_duplicate_keys_in_json_and_yaml_are_errors(tmp_path):
    school = '{"id": "S1", "name": "一", "region_code": "220502", "school_type": "technical"}'
    (tmp_path / "a.json").write_text(
        '{"schools": [\n' + school + ',\n{"id": "S2", "id": "S3", "name": "二", "region_code": "220502", '
        '"school_type": "technical"}\n],\n"学校": [' + school.replace("S1", "S9") + "]}", encoding="utf-8")
    ds = load_dataset(tmp_path / "a.json")
    assert [s.id for s in ds.records["schools"]] == ["S1"]
    places = sorted(e.place for e in ds.errors)
    assert places == ["a.json:3", "a.json:5"]  # the record with "id" twice; the second source of schools
    (tmp_path / "a.yaml").write_text("schools:\n  - {id: S1, name: 一, region_code: '220502', school_type: technical}\n"
                                     "schools: []\n", encoding="utf-8")
    [err] = load_dataset(tmp_path / "a.yaml").errors
    assert "两次" in err.message and err.place == "a.yaml:3"
    (tmp_path / "b.yaml").write_text("agreements:\n  - {id: A1, enterprise_id: x, school_id: S1, signed_on: 2021-02-30}\n"
                                     f"  - {{id: A2, enterprise_id: {E1}, school_id: S1, signed_on: 2021-03-05}}\n",
                                     encoding="utf-8")
    ds = load_dataset(tmp_path / "b.yaml")  # an impossible YAML date rejects its record, at its line
    assert [a.id for a in ds.records["agreements"]] == ["A2"]
    assert {(e.field, e.place) for e in ds.errors} >= {("signed_on", "b.yaml:2")}


def test_two_sources_for_one_type_and_an_unknown_sheet_with_data_are_errors(tmp_path):
    from openpyxl import Workbook

    (tmp_path / "enterprises.csv").write_text(f"id,name,region_code\n{E1},甲,220502\n", encoding="utf-8")
    (tmp_path / "企业.csv").write_text(f"id,name,region_code\n{E2},乙,220502\n", encoding="utf-8")
    ds = load_dataset(tmp_path)
    [err] = ds.errors
    assert err.record_type == "enterprises" and err.place == "企业.csv" and "两个来源" in err.message
    wb = Workbook()
    wb.active.title = "企业"
    wb.active.append(["id", "name", "region_code"])
    wb.create_sheet("Sheet2").append(["x"])
    wb["Sheet2"].append(["y"])
    wb.save(tmp_path / "w.xlsx")
    [err] = load_dataset(tmp_path / "w.xlsx").errors
    assert err.place == "Sheet2" and "未读取" in err.message


def test_a_misspelt_sheet_suggests_the_chinese_and_english_names(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "校企合作协"
    wb.active.append(["id"])
    wb.active.append(["A1"])
    wb.save(tmp_path / "w.xlsx")
    [err] = load_dataset(tmp_path / "w.xlsx").errors
    assert "校企合作协议" in err.message and "agreements" in err.message


def test_a_header_row_can_be_named(tmp_path):
    (tmp_path / "schools.csv").write_text("id,name\nid,name,region_code,school_type\nS1,一,220502,technical\n",
                                          encoding="utf-8")
    ds = load_dataset(tmp_path, header_row=2)
    assert [s.id for s in ds.records["schools"]] == ["S1"] and ds.errors == []


def test_parquet_timestamp_dates_are_dates_and_a_list_column_is_only_unknown(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": ["A1"], "enterprise_id": [E1], "school_id": ["S1"],
                             "signed_on": pa.array([dt.datetime(2021, 3, 5)], pa.timestamp("ms")),
                             "tags": pa.array([["x", "y"]])}), tmp_path / "agreements.parquet")
    ds = load_dataset(tmp_path)
    assert ds.records["agreements"][0].signed_on == dt.date(2021, 3, 5)
    assert [w.field for w in ds.warnings if "未知字段" in w.message] == ["tags"]


def test_nothing_accepted_exits_2_with_the_errors_still_written(tmp_path):
    import subprocess
    import sys

    (tmp_path / "schools.csv").write_text("id,name,region_code,school_type\nS1,一,220502,nope\n", encoding="utf-8")
    out = tmp_path / "d.json"
    from pathlib import Path

    run = subprocess.run([str(Path(sys.executable).parent / "chanjiao"), "check", str(tmp_path), "--as-of",
                          "2021-12-31", "--format", "json", "--output", str(out)], capture_output=True, text=True)
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1
    assert json.loads(out.read_text(encoding="utf-8"))["errors"][0]["place"] == "schools.csv:2"
    streamed = subprocess.run([str(Path(sys.executable).parent / "chanjiao"), "check", str(tmp_path), "--as-of",
                               "2021-12-31", "--engine", "vectorised", "--format", "csv", "--output",
                               str(tmp_path / "s.csv"), "--workers", "1", "--quiet"], capture_output=True, text=True)
    assert streamed.returncode == 2 and len(streamed.stderr.strip().splitlines()) == 1


def test_the_stream_reads_a_gbk_export_as_the_in_memory_reader_does(tmp_path, packs):
    """Chinese file names and headers, a title line, GBK, 合计 lines, ragged and blank lines, a quoted line break:
    the streamed check gives the same errors and warnings, at the same places, and the same decisions."""
    import csv as csvmod
    import shutil

    from conftest import EXAMPLES
    from engine.output.render import ISSUE_COLUMNS, _issue_rows
    from engine.run.stream import check_stream

    folder = tmp_path / "gbk"
    shutil.copytree(EXAMPLES / "tonghua-finance-bureau-gbk", folder)
    with open(folder / "学校.csv", "ab") as fh:  # a ragged line, a blank one, a quoted line break, a bad value
        fh.write("TH-X1,坏行,220502\r\n\r\n,,,,,,,,,\r\nTH-X2,\"两\r\n行\",220502,中职,否,10,否,,,\r\nTH-X3,三,220502,大学,否,,,,,\r\n"
                 .encode("gbk"))
    (folder / "Sheet1.csv").write_text("a,b\n1,2\n", encoding="utf-8")  # not a record type: an error, not read
    doc = evaluate_dataset(load_dataset(folder), packs, AS_OF)
    (tmp_path / "out").mkdir()
    res = check_stream(folder, packs, AS_OF, None, tmp_path / "out" / "d.csv", "csv", chunk_enterprises=2,
                       progress=False, workers=1)
    with open(tmp_path / "out" / "d.errors.csv", encoding="utf-8-sig") as fh:
        issues = list(csvmod.reader(fh))[1:]
    assert issues == [["" if v is None else str(v) for v in row] for row in _issue_rows(doc)]
    places = [r[ISSUE_COLUMNS.index("place")] for r in issues]
    assert "学校.csv:13" in places and "学校.csv:18" in places and "Sheet1.csv" in places
    assert res.decisions == len(doc["decisions"])
    with open(tmp_path / "out" / "d.csv", encoding="utf-8-sig") as fh:
        streamed = sorted((r["rule_id"], r["subject_id"], r["status"]) for r in csvmod.DictReader(fh))
    assert streamed == sorted((d["rule_id"], d["subject_id"], d["status"]) for d in doc["decisions"])
    # the line not read (学校.csv:13) is a school that may be anything: a decision that looks up a school the
    # dataset lacks (an agreement's TH-YY09) is undetermined and names it; the other schools keep their decisions
    tainted = [d for d in doc["decisions"] if any(r["record_type"] == "schools" and r["row"] == 0
                                                  for r in d.get("rejected_inputs", []))]
    assert tainted and all(d["status"] == "undetermined" and "学校有未能读取的行" in d["reasons"][0] for d in tainted)
    assert any(d["status"] == "eligible" for d in doc["decisions"] if d["rule_id"] == "tonghua.school_subsidy")


def test_any_data_under_an_unknown_key_is_listed_and_a_non_object_item_rejects_itself(tmp_path):
    school = {"id": "S1", "name": "一", "region_code": "220502", "school_type": "technical"}
    (tmp_path / "a.json").write_text(json.dumps({"meta": {"version": 2}, "schools": [1, school], "notes": []}),
                                     encoding="utf-8")
    ds = load_dataset(tmp_path / "a.json")
    assert [s.id for s in ds.records["schools"]] == ["S1"]
    unknown, item = ds.errors
    assert "meta" in unknown.message and unknown.row is None
    assert (item.record_type, item.row, item.value) == ("schools", 1, 1)


def test_a_record_its_reader_rejects_is_unknown_not_absent(tmp_path, packs):
    """A formula cell without a value rejects its agreement; the payment that needs it is undetermined, naming it."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "校企合作协议"
    ws.append(["协议编号", "企业统一社会信用代码", "学校代码", "签订日期"])
    ws.append(["A1", E1, "S1", "=DATE(2021,1,1)"])
    ws = wb.create_sheet("实习报酬")
    ws.append(["支付编号", "企业统一社会信用代码", "学校代码", "学生学号", "实习报酬金额", "支付日期"])
    ws.append(["P1", E1, "S1", "X1", "1,000.00", "2021/3/5"])
    wb.save(tmp_path / "w.xlsx")
    ds = load_dataset(tmp_path / "w.xlsx")
    [err] = ds.errors
    assert err.place == "校企合作协议!D2" and [r.id for r in ds.rejected] == ["A1"]
    doc = evaluate_dataset(ds, packs, AS_OF)
    [pay] = [d for d in doc["decisions"] if d["rule_id"] == "yichang.intern_pay_deduction"]
    assert pay["status"] == "undetermined" and pay["rejected_inputs"][0]["id"] == "A1"
