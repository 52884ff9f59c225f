"""Results people hand on (issue 14): tax periods, parameters in force, gaps as data and joint targets, the XLSX
report read back with openpyxl, the table at 80 and 120 columns, what-if comparisons, the benefits sheet and the
offline HTML report — every figure checked against hand computation to the fen.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import subprocess
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SCALE, make_uscc
from engine.run.annotate import annotate_document
from engine.engines import make_engine
from engine.output.compare import compare_documents, load_scenario
from engine.errors import FatalError
from engine.engines.reference import decide, evaluate_dataset, parse_param_overrides
from engine.output.gaps import joint_targets
from engine.data.loaders import load_dataset
from engine.run.periods import parse_period, restrict_to_period
from engine.policy.packs import load_packs
from engine.data.records import Dataset, validate_record
from engine.output.render import to_table
from engine.output.report_context import report_context
from engine.output.xlsx_report import write_report_xlsx
from test_cli import assert_one_line_error
from test_cli import run as _run


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The command in a Chinese locale: the reports are checked in Chinese (English is the --lang en test)."""
    return _run(*args, lang="zh_CN.UTF-8")

AS_OF = dt.date(2021, 12, 31)
PACKS = load_packs()[0]
E1, E2 = make_uscc("420502", 1), make_uscc("420506", 2)  # 宜昌 西陵区, 夷陵区
T1, T2 = make_uscc("220502", 3), make_uscc("220521", 4)  # 通化 东昌区, 通化县


def _raw() -> dict:
    pay = lambda i, e, day, amount: {"id": i, "enterprise_id": e, "school_id": "Y-S1", "student_id": f"S{i}",  # noqa: E731
                                     "amount": amount, "paid_on": day}
    return {
        "enterprises": [
            {"id": E1, "name": "宜昌甲公司", "region_code": "420502"},
            {"id": E2, "name": "宜昌乙公司", "region_code": "420506"},
            {"id": T1, "name": "通化甲公司", "region_code": "220502", "total_wages": "1000000.00",
             "education_fund": "10000.00", "frontline_training_spend": "5000.00"},
            {"id": T2, "name": "通化乙公司", "region_code": "220521", "total_wages": "2000000.00"},
        ],
        "schools": [
            {"id": "Y-S1", "name": "宜昌职校", "region_code": "420502", "school_type": "secondary_vocational"},
            {"id": "TS1", "name": "通化一职", "region_code": "220502", "school_type": "secondary_vocational",
             "demonstration_project": True, "enrolled_students": 100},
            {"id": "TS2", "name": "通化二职", "region_code": "220521", "school_type": "secondary_vocational",
             "demonstration_project": True, "enrolled_students": 7},
            {"id": "TS3", "name": "柳河职校", "region_code": "220524", "school_type": "secondary_vocational",
             "demonstration_project": False},
        ],
        "agreements": [{"id": "A1", "enterprise_id": E1, "school_id": "Y-S1", "signed_on": "2020-01-01",
                        "valid_to": "2022-12-31"}],
        "internship_payments": [
            pay("P1", E1, "2020-09-01", "1000.00"), pay("P2", E1, "2021-03-15", "2000.50"),
            pay("P3", E1, "2021-12-31", "300.25"), pay("P4", E1, "2022-01-05", "999.99"),
            pay("P5", E2, "2021-05-05", "700.00"),
        ],
        "practice_expenses": [
            {"id": "X1", "enterprise_id": E1, "kind": "teacher_practice", "amount": "500.00",
             "incurred_on": "2021-07-01", "reasonable": True},
            {"id": "X2", "enterprise_id": E1, "kind": "student_internship", "amount": "123.45",
             "incurred_on": "2021-08-01"},
            {"id": "X3", "enterprise_id": E2, "kind": "student_internship", "amount": "50.05",
             "incurred_on": "2021-09-09", "reasonable": False},
        ],
        "certificates": [
            {"id": "C1", "employee_id": "W1", "enterprise_id": T1, "insured": True, "obtained_on": "2021-02-01"},
            {"id": "C2", "employee_id": "W2", "enterprise_id": T2, "insured": True, "obtained_on": "2021-05-01"},
            {"id": "C3", "employee_id": "W3", "enterprise_id": T2, "insured": False, "obtained_on": "2021-06-01"},
        ],
    }


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("rep") / "years.json"
    path.write_text(json.dumps(_raw(), ensure_ascii=False), encoding="utf-8")
    return path


def _doc(data, packs, period=None, params=(), engine="reference"):
    ov = parse_param_overrides(list(params), packs)
    the_period = parse_period(period) if period else None
    ds = restrict_to_period(load_dataset(data), packs, the_period, AS_OF)
    with make_engine(engine, packs) as eng:
        raw = eng.evaluate_dataset(ds, AS_OF, ov)
    return annotate_document(raw, dataset=ds, packs=packs, as_of=AS_OF, overrides=ov, period=the_period), ds


# ------------------------------------------------------------------------------------------------ 14.1 periods

def test_parse_period():
    assert parse_period("2021").as_dict() == {"from": "2021-01-01", "to": "2021-12-31"}
    assert parse_period("2021Q3").as_dict() == {"from": "2021-07-01", "to": "2021-09-30"}
    assert parse_period("2020q1").as_dict() == {"from": "2020-01-01", "to": "2020-03-31"}
    assert parse_period("2021Q4").as_dict() == {"from": "2021-10-01", "to": "2021-12-31"}
    for bad in ("21", "2021Q5", "2021-01", ""):
        with pytest.raises(FatalError):
            parse_period(bad)


def test_a_tax_year_decides_only_its_records_and_totals_per_enterprise_and_year_by_hand(data, packs):
    doc, _ = _doc(data, packs, period="2021")
    assert doc["period"] == {"from": "2021-01-01", "to": "2021-12-31"}
    decided = {d["subject_id"] for d in doc["decisions"] if d["subject_type"] == "internship_payments"}
    assert decided == {"P2", "P3", "P5"}  # P1 (2020) and P4 (2022, after as_of) are outside
    warned = {(w["id"], w["field"]) for w in doc["warnings"]}
    assert {("P1", "paid_on"), ("P4", "paid_on")} <= warned
    tax = doc["summary"]["tax_by_enterprise_year"]
    assert tax == {
        E1: {"2021": {"deductible": "2800.75", "non_deductible": "0.00", "undetermined": "123.45"}},
        E2: {"2021": {"deductible": "0.00", "non_deductible": "750.05", "undetermined": "0.00"}},
    }
    # without a period every year is decided; the payment after as_of is flagged, never silently
    doc, _ = _doc(data, packs)
    assert "period" not in doc
    assert doc["summary"]["tax_by_enterprise_year"][E1]["2020"]["deductible"] == "1000.00"
    assert any(w["id"] == "P4" and "晚于评估日期" in w["message"] for w in doc["warnings"])


def test_every_document_records_the_parameters_in_force_with_their_source(data, packs):
    doc, _ = _doc(data, packs, params=["certificate_subsidy_amount=1500"])
    params = {(p["pack"], p["name"]): p for p in doc["parameters"]}
    assert params[("tonghua-2019", "certificate_subsidy_amount")] == {
        "pack": "tonghua-2019", "name": "certificate_subsidy_amount", "value": "1500.00", "source": "override",
        "unit": "元/证"}
    assert params[("tonghua-2019", "school_subsidy_ratio")]["source"] == "pack"
    assert params[("tonghua-2019", "school_subsidy_ratio")]["value"] == "0.45"
    official, _ = _doc(data, packs)
    assert all(p["source"] == "pack" for p in official["parameters"])
    assert params.keys() == {(p["pack"], p["name"]) for p in official["parameters"]}


def test_the_cli_period_in_json_table_csv_and_xlsx(data, tmp_path):
    proc = run("check", str(data), "--period", "2021", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["as_of"] == "2021-12-31" and doc["period"]["to"] == "2021-12-31"  # as_of defaults to the period's end
    proc = run("check", str(data), "--period", "2021", "--format", "csv", "--output", str(tmp_path / "d.csv"))
    assert proc.returncode == 0, proc.stderr
    import csv

    with open(tmp_path / "d.tax.csv", encoding="utf-8-sig") as fh:
        assert list(csv.reader(fh)) == [["enterprise_id", "year", "deductible", "non_deductible", "undetermined"],
                                        [E1, "2021", "2800.75", "0.00", "123.45"], [E2, "2021", "0.00", "750.05", "0.00"]]
    table = run("check", str(data), "--period", "2021", "--summary").stdout
    assert "2,800.75" in table and "750.05" in table and "纳税调增" in table
    proc = run("check", str(data), "--period", "2021", "--format", "xlsx", "--output", str(tmp_path / "r.xlsx"))
    assert proc.returncode == 0, proc.stderr
    from openpyxl import load_workbook

    ws = load_workbook(tmp_path / "r.xlsx")["企业×年度"]
    rows = {(r[0], r[3]): r for r in ws.iter_rows(min_row=2, values_only=True)}
    assert rows[(E1, 2021)][4:7] == (2800.75, 0, 123.45) and rows[(E2, 2021)][5] == 750.05
    assert_one_line_error(_run("check", str(data), "--period", "2021Q9"), "--period")


# --------------------------------------------------------------------------------------------- 14.5 gaps

def test_threshold_gaps_are_data_and_agree_across_engines(data, packs):
    docs = [_doc(data, packs, engine=e)[0] for e in ("reference", "vectorised", "durable")]
    assert docs[0] == docs[1] == docs[2]
    gaps = {(d["rule_id"], d["subject_id"]): d.get("gap") for d in docs[0]["decisions"]}
    assert gaps[("tonghua.education_fund_ratio", T1)] == {
        "fact": "enterprises.education_fund", "op": ">=", "target": "15000.00", "amount": "5000.00", "unit": "元"}
    assert gaps[("tonghua.frontline_share", T1)] == {
        "fact": "enterprises.frontline_training_spend", "op": ">=", "target": "6000.00", "amount": "1000.00",
        "unit": "元"}
    # T2's fund is unknown: the value that would decide favourably, within the cited 1.5 %–2.5 %
    assert gaps[("tonghua.education_fund_ratio", T2)] == {
        "fact": "enterprises.education_fund", "op": ">=", "target": "30000.00", "amount": None, "unit": "元",
        "max": "50000.00"}


def _enterprise(wages: Decimal, fund: Decimal, frontline: Decimal):
    rec, errors = validate_record("enterprises", 1, {"id": make_uscc("220502", 9), "name": "x", "region_code": "220502",
                                                     "total_wages": str(wages), "education_fund": str(fund),
                                                     "frontline_training_spend": str(frontline)})
    assert not errors, errors
    return rec


def _statuses(packs, rec):
    ds = Dataset()
    ds.upsert(rec, 1)
    rules = {r.id: (r, p) for p in packs for r in p.rules}
    return {rid: decide(*rules[rid][:1], rules[rid][1], rec, ds, AS_OF).decision.status
            for rid in ("tonghua.education_fund_ratio", "tonghua.frontline_share")}, ds


cents = st.integers(min_value=1, max_value=10**11).map(lambda c: Decimal(c) / 100)


@settings(max_examples=60 * SCALE, deadline=None)
@given(wages=cents, fund_share=st.integers(0, 40), front_share=st.integers(0, 120))
def test_the_joint_target_passes_both_thresholds_exactly_and_one_fen_below_fails(wages, fund_share, front_share):
    packs = PACKS
    fund = (wages * fund_share / 1000).quantize(Decimal("0.01")) + Decimal("0.01")
    frontline = (fund * front_share / 100).quantize(Decimal("0.01"))
    rec = _enterprise(wages, fund, frontline)
    _, ds = _statuses(packs, rec)
    jt = joint_targets(packs, rec, ds, AS_OF, None)
    assert jt is not None
    if not jt["feasible"]:  # only when no fen lies between 1.5 % and 2.5 % of the wage bill
        lo = (wages * Decimal("0.015")).quantize(Decimal("0.01"), rounding="ROUND_CEILING")
        hi = (wages * Decimal("0.025")).quantize(Decimal("0.01"), rounding="ROUND_FLOOR")
        assert lo > hi
        return
    t_fund = Decimal(jt["targets"]["enterprises.education_fund"])
    t_front = Decimal(jt["targets"]["enterprises.frontline_training_spend"])
    at = _enterprise(wages, t_fund, t_front)
    got, _ = _statuses(packs, at)
    assert got == {"tonghua.education_fund_ratio": "compliant", "tonghua.frontline_share": "compliant"}
    assert set(jt["statuses"].values()) == {"compliant"}
    if "enterprises.frontline_training_spend" in jt["changes"]:  # raised to the joint boundary: one fen less fails
        got, _ = _statuses(packs, _enterprise(wages, t_fund, t_front - Decimal("0.01")))
        assert got["tonghua.frontline_share"] == "non_compliant"
    if Decimal(jt["changes"].get("enterprises.education_fund", "0")) > 0:  # raised to 1.5 %: one fen less fails
        got, _ = _statuses(packs, _enterprise(wages, t_fund - Decimal("0.01"), t_front))
        assert got["tonghua.education_fund_ratio"] == "non_compliant"


def test_the_benefits_sheet_of_one_enterprise(data):
    proc = run("check", str(data), "--as-of", "2021-12-31", "--enterprise", T1)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "通化甲公司" in out and "符合条件" in out and "不合规及原因" in out and "补充以下事实后可申请" in out
    assert "职工教育经费（enterprises.education_fund） 还需增加 ¥5,000.00（达到 ¥15,000.00）" in out
    # the joint target: fund to 15,000 and frontline to 60 % of it, 9,000 (not the 6,000 of the separate gap)
    assert "（enterprises.frontline_training_spend） 增加 ¥4,000.00，达到 ¥9,000.00" in out
    sheet = json.loads(run("check", str(data), "--as-of", "2021-12-31", "--enterprise", T2, "--format", "json").stdout)
    assert {"tonghua.education_fund_ratio", "tonghua.frontline_share"} <= {u["rule_id"] for u in sheet["undetermined"]}
    assert any(u["gap"] and u["gap"]["target"] == "30000.00" for u in sheet["undetermined"])
    assert_one_line_error(_run("check", str(data), "--enterprise", "nobody"), "no accepted enterprise")


def test_an_undetermined_yes_no_fact_says_which_value_decides_favourably(packs, tmp_path):
    raw = {"enterprises": [{"id": T1, "name": "通化甲公司", "region_code": "220502"}],
           "certificates": [{"id": "C9", "employee_id": "W9", "enterprise_id": T1, "obtained_on": "2021-02-01"}]}
    path = tmp_path / "one.json"
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    sheet = json.loads(run("check", str(path), "--as-of", "2021-12-31", "--enterprise", T1, "--format", "json").stdout)
    [cert] = [u for u in sheet["undetermined"] if u["rule_id"] == "tonghua.certificate_subsidy"]
    assert cert["favourable"] == {"certificates.insured": True}
    text = run("check", str(path), "--as-of", "2021-12-31", "--enterprise", T1).stdout
    assert "（certificates.insured） 为“是”，即可判定为符合条件" in text


# ------------------------------------------------------------------------------------------- 14.2 XLSX report

def test_the_xlsx_report_reads_back_and_its_numbers_add_up_to_the_json(data, packs, tmp_path):
    from openpyxl import load_workbook

    doc, ds = _doc(data, packs, params=["certificate_subsidy_amount=1500"])
    ctx = report_context(ds, packs, AS_OF, data)
    write_report_xlsx(doc, tmp_path / "r.xlsx", context=ctx)
    wb = load_workbook(tmp_path / "r.xlsx")
    assert wb.sheetnames == ["封面", "决定", "企业×年度", "学校", "区县", "规则", "按月扣除", "按年度补贴", "图表", "错误与警告"]
    cover = [c for row in wb["封面"].iter_rows(values_only=True) for c in row if c is not None]
    assert "2021-12-31" in cover and ctx.input_files[0][1] in cover
    assert all(p["digest"] in cover for p in doc["rule_packs"])
    assert "覆盖（测算）" in cover and "certificate_subsidy_amount" in cover
    dec = wb["决定"]
    assert dec.freeze_panes == "A2" and dec.auto_filter.ref and dec.column_dimensions["S"].width > 50  # reasons
    header = [c.value for c in dec[1]]
    rows = list(dec.iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(doc["decisions"])
    col = header.index("金额（元）")
    xlsx_total = sum(Decimal(str(r[col])) for r in rows if r[col] is not None)
    json_total = sum(Decimal(d["amount"]) for d in doc["decisions"] if d["amount"] is not None)
    assert xlsx_total == json_total
    amount_cells = [r[col] for r in dec.iter_rows(min_row=2) if r[col].value is not None]
    assert all(c.data_type == "n" and c.number_format == "#,##0.00" for c in amount_cells)
    by_id = {r[header.index("对象编号")]: r for r in rows}
    assert by_id["P2"][header.index("企业名称")] == "宜昌甲公司" and by_id["P2"][header.index("区县")] == "西陵区"
    assert by_id["P2"][header.index("年度")] == 2021 and by_id["P2"][header.index("状态")] == "符合条件"
    district = {r[0]: r for r in wb["区县"].iter_rows(min_row=2, values_only=True)}
    assert district["东昌区"][4] == 46500 and district["通化县"][4] == 4650  # 450×100 + 1500; 450×7 + 1500
    # deductible, no period: 1000.00 + 2000.50 + 300.25 + 999.99 (P4, after as_of, flagged) + 500.00
    assert Decimal(str(district["西陵区"][7])) == Decimal("4800.74")
    with zipfile.ZipFile(tmp_path / "r.xlsx") as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
    assert len(charts) == 3


def test_the_xlsx_report_in_english_and_past_excels_row_limit(data, packs, tmp_path):
    from openpyxl import load_workbook

    doc, ds = _doc(data, packs)
    write_report_xlsx(doc, tmp_path / "en.xlsx", lang="en", context=report_context(ds, packs, AS_OF, data))
    assert load_workbook(tmp_path / "en.xlsx", read_only=True).sheetnames[:2] == ["Cover", "Decisions"]
    n = len(doc["decisions"])
    write_report_xlsx(doc, tmp_path / "split.xlsx", max_rows=12, max_sheets=n)  # 11 decisions a sheet
    wb = load_workbook(tmp_path / "split.xlsx", read_only=True)
    parts = [s for s in wb.sheetnames if s.startswith("决定")]
    assert len(parts) == -(-n // 11) > 1 and sum(wb[s].max_row - 1 for s in parts) == n
    with pytest.raises(FatalError, match="--format parquet") as refused:
        write_report_xlsx(doc, tmp_path / "no.xlsx", max_rows=12, max_sheets=2)
    assert refused.value.args[0].key == "xlsx.too_many_sheets"
    assert not (tmp_path / "no.xlsx").exists()
    with pytest.raises(FatalError) as refused:  # a roll-up or the issues never overflow silently either
        write_report_xlsx(doc, tmp_path / "no.xlsx", max_rows=2, max_sheets=n)
    assert refused.value.args[0].key == "xlsx.sheet_too_long"
    buf = io.BytesIO()  # a file object, as the service's downloads use
    write_report_xlsx(doc, buf)
    assert buf.getvalue()[:2] == b"PK"


# ----------------------------------------------------------------------------------------------- 14.3 table

@pytest.mark.parametrize("width", [80, 120])
def test_the_table_fits_the_terminal_with_titles_and_separators(data, packs, width):
    from rich.cells import cell_len

    doc, _ = _doc(data, packs, params=["certificate_subsidy_amount=1500"])
    titles = {r.id: r.title for p in packs for r in p.rules}
    text = to_table(doc, width=width, titles=titles)
    assert max(cell_len(line) for line in text.splitlines()) <= width
    assert "示范性实训基地建设中职学校生均公用经费奖补" in text and "45,000.00" in text
    assert "差距" in text
    # the configured total beside the cited range
    [row] = [line for line in text.splitlines() if "2,000.00–4,000.00" in line]
    assert "3,000.00" in row.replace("2,000.00–4,000.00", "")
    summary = to_table(doc, width=width, titles=titles, summary_only=True)
    assert "P2" not in summary and "汇总" in summary and len(summary) < len(text)


def test_progress_shows_only_on_slow_runs():
    import time

    from engine.run.progress import SlowRunStatus

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    quick = Tty()
    with SlowRunStatus("判定中", delay=0.5, stream=quick):
        pass
    assert quick.getvalue() == ""
    slow = Tty()
    with SlowRunStatus("判定中", delay=0.05, stream=slow) as status:
        time.sleep(0.6)
    assert status.shown and "判定中" in slow.getvalue()


# --------------------------------------------------------------------------------------------- 14.4 compare

def test_what_if_deltas_by_hand(data, packs, tmp_path):
    base, ds = _doc(data, packs)
    new, _ = _doc(data, packs, params=["certificate_subsidy_amount=1500", "school_subsidy_ratio=0.5"])
    c = compare_documents(base, new, report_context(ds, packs, AS_OF, None))
    changed = {(x["rule_id"], x["subject_id"]): x for x in c["changed"]}
    assert changed[("tonghua.school_subsidy", "TS1")]["amount_delta"] == "5000.00"  # 50 × 100
    assert changed[("tonghua.school_subsidy", "TS2")]["amount_delta"] == "350.00"  # 50 × 7
    assert changed[("tonghua.certificate_subsidy", "C1")]["amount_delta"] == "1500.00"
    assert ("tonghua.certificate_subsidy", "C3") not in changed
    d = c["deltas"]
    assert d["by_district"]["东昌区"]["amount_delta"] == "6500.00"
    assert d["by_district"]["通化县"]["amount_delta"] == "1850.00"
    assert d["by_school"]["TS1"]["amount_delta"] == "5000.00"
    assert d["by_rule"]["tonghua.certificate_subsidy"]["amount_delta"] == "3000.00"
    assert d["by_year"]["2021"]["amount_delta"] == "8350.00"
    assert c["totals"]["amount_delta"] == "8350.00"
    assert {p["name"] for p in c["parameters"]["changed"]} == {"certificate_subsidy_amount", "school_subsidy_ratio"}


def test_compare_from_the_command_line_with_a_scenario_file(data, tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: 奖补 50%\nparams:\n  school_subsidy_ratio: 0.5\n", encoding="utf-8")
    assert load_scenario(scenario).params == ["school_subsidy_ratio=0.5"]
    proc = run("compare", str(data), "--as-of", "2021-12-31", "--scenario", str(scenario), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    c = json.loads(proc.stdout)
    assert c["scenario"] == "奖补 50%" and c["totals"]["amount_delta"] == "5350.00"
    table = run("compare", str(data), "--as-of", "2021-12-31", "--scenario", str(scenario)).stdout
    assert "5,350.00" in table and "东昌区" in table
    proc = run("compare", str(data), "--as-of", "2021-12-31", "--param", "school_subsidy_ratio=0.5", "--format",
               "xlsx", "--output", str(tmp_path / "c.xlsx"))
    assert proc.returncode == 0, proc.stderr
    from openpyxl import load_workbook

    ws = load_workbook(tmp_path / "c.xlsx")["按区县"]
    deltas = {r[0]: r[3] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert deltas == {"东昌区": 5000, "通化县": 350}
    assert_one_line_error(_run("compare", str(data)), "scenario")


# ------------------------------------------------------------------------------------------- 14.6 HTML report

def test_the_html_report_opens_offline_in_headless_chromium(data, tmp_path):
    proc = run("report", str(data), "--as-of", "2021-12-31", "--output", str(tmp_path / "rep"))
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "rep" / "index.html").read_text(encoding="utf-8")
    assert page.count("<svg") >= 4 and "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    assert "default-src 'none'" in page and "东昌区" in page and "46,500.00" not in page and "45,000.00" in page
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium on this machine")
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                    "--window-size=1000,1400", (tmp_path / "rep" / "index.html").as_uri()],
                   capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000
    dump = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                           (tmp_path / "rep" / "index.html").as_uri()], capture_output=True, text=True, timeout=120)
    assert "通化一职" in dump.stdout and dump.stdout.count("<svg") >= 4
