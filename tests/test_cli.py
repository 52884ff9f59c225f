"""The chanjiao command as a user runs it: every exit status, every format, one-line errors, no tracebacks."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES

# the command installed beside the interpreter running the tests (the venv under test), else the one on PATH
_BESIDE = Path(sys.executable).parent / "chanjiao"
CHANJIAO = str(_BESIDE) if _BESIDE.exists() else (shutil.which("chanjiao") or "chanjiao")
SELF = EXAMPLES / "tonghua-self-assessment.json"
BAD = EXAMPLES / "bad-records.json"


def run(*args: str, cwd: Path | None = None, lang: str = "en_US.UTF-8") -> subprocess.CompletedProcess[str]:
    """The command in a locale (English by default here: most tests below check English messages)."""
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANG")}
    env["LANG"] = lang
    return subprocess.run([CHANJIAO, *args], capture_output=True, text=True, cwd=cwd, timeout=120, env=env)


def assert_one_line_error(proc: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chanjiao: error:"), proc.stderr
    assert fragment.lower() in lines[0].lower(), proc.stderr
    assert "Traceback" not in proc.stderr


def test_check_json_exit_0_and_byte_identical_runs():
    first = run("check", str(SELF), "--as-of", "2021-12-31", "--format", "json")
    second = run("check", str(SELF), "--as-of", "2021-12-31", "--format", "json")
    assert first.returncode == 0 and first.stdout == second.stdout
    doc = json.loads(first.stdout)
    assert doc["as_of"] == "2021-12-31" and doc["errors"] == []
    keys = [(d["rule_id"], d["subject_type"], d["subject_id"]) for d in doc["decisions"]]
    assert keys == sorted(keys)
    assert {p["id"] for p in doc["rule_packs"]} == {"tonghua-2019", "yichang-2020"}
    assert all(p["digest"].startswith("sha256:") for p in doc["rule_packs"])


def test_check_with_rejected_records_exits_1_and_decides_the_rest(tmp_path):
    out = tmp_path / "doc.json"
    proc = run("check", str(BAD), "--as-of", "2021-12-31", "--format", "json", "--output", str(out))
    assert proc.returncode == 1
    doc = json.loads(out.read_text(encoding="utf-8"))
    rejected = {(e["record_type"], e["row"], e["field"]) for e in doc["errors"]}
    assert rejected == {("enterprises", 2, "id"), ("enterprises", 3, "total_wages"), ("enterprises", 4, "id"),
                        ("agreements", 1, "signed_on")}
    assert all(e["value"] is not None and e["message"] for e in doc["errors"])
    # the one accepted enterprise has its id repeated on row 4: the user may have meant that row, so its decisions
    # are undetermined naming the repeat (rejected input, never ignored)
    repeat = {"record_type": "enterprises", "row": 4, "id": "91220502MA0Y0B016K", "place": "bad-records.json:22"}
    mine = [d for d in doc["decisions"] if d["subject_id"] == "91220502MA0Y0B016K"]
    assert mine and all(d["status"] == "undetermined" and repeat in d["rejected_inputs"] for d in mine)


@pytest.mark.parametrize("args,fragment", [
    (["check", "/no/such/file.json"], "no such file"),
    (["check", str(SELF), "--as-of", "2021-02-30"], "--as-of"),
    (["check", str(SELF), "--format", "pdf"], "--format"),
    (["check", str(SELF), "--format", "xlsx"], "--output"),
    (["check", str(SELF), "--param", "nonsense=1"], "unknown parameter"),
    (["check"], "DATASET"),
    (["explain", str(SELF), "--rule", "tonghua.frontline_shares", "--subject", "x"], "tonghua.frontline_share"),
    (["explain", str(SELF), "--rule", "tonghua.frontline_share", "--subject", "nobody"], "no accepted enterprises"),
])
def test_bad_arguments_exit_2_with_one_line(args, fragment):
    assert_one_line_error(run(*args), fragment)


def test_unreadable_dataset_exits_2(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('{"enterprises": [', encoding="utf-8")
    assert_one_line_error(run("check", str(bad)), "malformed JSON")


def test_invalid_rule_pack_exits_2(tmp_path):
    from engine.policy.packs import shipped_packs_dir

    pack = tmp_path / "tonghua-2019"
    shutil.copytree(shipped_packs_dir() / "tonghua-2019", pack)
    rule = pack / "rules" / "school_subsidy.yaml"
    rule.write_text(rule.read_text(encoding="utf-8").replace("subject.enrolled_students", "subject.enroled_students"),
                    encoding="utf-8")
    proc = run("check", str(SELF), "--rules", str(pack))
    assert_one_line_error(proc, "school_subsidy.yaml")
    assert "enrolled_students" in proc.stderr


def test_table_is_for_people():
    proc = run("check", str(EXAMPLES / "tonghua-finance-bureau"), "--as-of", "2021-12-31")
    assert proc.returncode == 0
    for label in ("符合条件", "不合规", "无法判定", "不适用", "汇总", "最常缺少的事实", "金额合计"):
        assert label in proc.stdout
    assert "1,467,000.00" in proc.stdout  # TH-ZZ01: 450 × 3,260 students, with thousands separators


def test_csv_and_xlsx_outputs(tmp_path):
    base = ["check", str(EXAMPLES / "tonghua-finance-bureau"), "--as-of", "2021-12-31"]
    assert run(*base, "--format", "csv", "--output", str(tmp_path / "out.csv")).returncode == 0
    json_doc = json.loads(run(*base, "--format", "json").stdout)
    with open(tmp_path / "out.csv", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["rule_id"], r["subject_id"], r["status"], r["amount"] or None) for r in rows] == [
        (d["rule_id"], d["subject_id"], d["status"], d["amount"]) for d in json_doc["decisions"]]
    assert (tmp_path / "out.summary.csv").exists() and (tmp_path / "out.errors.csv").exists()
    assert run(*base, "--format", "xlsx", "--output", str(tmp_path / "out.xlsx")).returncode == 0
    from openpyxl import load_workbook

    wb = load_workbook(tmp_path / "out.xlsx")
    # the report (tests/test_reports.py), in the English locale these tests run in
    assert wb.sheetnames[:2] == ["Cover", "Decisions"] and "Errors and warnings" in wb.sheetnames
    assert wb["Decisions"].max_row == len(json_doc["decisions"]) + 1


def test_param_override_is_a_what_if():
    doc = json.loads(run("check", str(SELF), "--as-of", "2021-12-31", "--format", "json",
                         "--param", "certificate_subsidy_amount=1500").stdout)
    [cert] = [d for d in doc["decisions"] if d["rule_id"] == "tonghua.certificate_subsidy" and d["status"] == "eligible"]
    assert cert["amount"] == "1500.00"


def test_explain_text_and_json():
    ent = json.loads(SELF.read_text(encoding="utf-8"))["enterprises"][0]["id"]
    proc = run("explain", str(SELF), "--rule", "tonghua.frontline_share", "--subject", ent, "--as-of", "2021-12-31")
    assert proc.returncode == 0
    assert "frontline_training_spend" in proc.stdout and "二（二）11" in proc.stdout
    assert "一线培训经费还需增加 ¥12,000.00 才达到 60%" in proc.stdout
    data = json.loads(run("explain", str(SELF), "--rule", "tonghua.frontline_share", "--subject", ent,
                          "--as-of", "2021-12-31", "--format", "json").stdout)
    crit = [s for s in data["steps"] if s["kind"] == "criterion"][0]
    assert crit["result"] is False and crit["parameters"][0]["name"] == "frontline_min_share"
    assert crit["parameters"][0]["citation"]["quote"] == "用于一线职工教育和培训的比例不低于职工教育经费60%"
    assert {f["fact"] for f in crit["facts"]} == {f"enterprises[{ent}].frontline_training_spend",
                                                   f"enterprises[{ent}].education_fund"}


def test_explain_names_the_facts_to_supply():
    proc = run("explain", str(EXAMPLES / "tonghua-finance-bureau"), "--rule", "tonghua.school_subsidy",
               "--subject", "TH-ZZ03", "--as-of", "2021-12-31")
    assert "Enrolled students (schools.enrolled_students) is unknown: supply it to decide" in proc.stdout
    chinese = run("explain", str(EXAMPLES / "tonghua-finance-bureau"), "--rule", "tonghua.school_subsidy",
                  "--subject", "TH-ZZ03", "--as-of", "2021-12-31", lang="zh_CN.UTF-8")
    assert "在校生数（schools.enrolled_students）未知：请补充该事实以作出判定" in chinese.stdout


def test_rules_commands(tmp_path):
    listing = run("rules", "list")
    assert listing.returncode == 0 and listing.stdout.count("tonghua.") == 7 and listing.stdout.count("yichang.") == 4
    show = run("rules", "show", "yichang.intern_pay_deduction")
    assert "校企合作协议" in show.stdout and show.returncode == 0
    lint = run("rules", "lint")
    assert lint.returncode == 0 and "0 error(s)" in lint.stdout
    test = run("rules", "test")
    assert test.returncode == 0 and ", 0 failed" in test.stdout
    assert run("schema", "--output", str(tmp_path)).returncode == 0
    assert (tmp_path / "decision-document.schema.json").exists()


def test_rules_test_fails_on_a_wrong_expectation(tmp_path):
    from engine.policy.packs import shipped_packs_dir

    pack = tmp_path / "tonghua-2019"
    shutil.copytree(shipped_packs_dir() / "tonghua-2019", pack)
    case = pack / "tests" / "frontline_share.yaml"
    case.write_text(case.read_text(encoding="utf-8").replace("status: compliant", "status: non_compliant", 1),
                    encoding="utf-8")
    proc = run("rules", "test", str(pack))
    assert proc.returncode == 1 and "FAIL tonghua.frontline_share" in proc.stdout


@pytest.mark.parametrize("example", ["tonghua-finance-bureau", "yichang-enterprise-2021.xlsx"])
def test_every_engine_writes_the_same_bytes(example):
    args = ["check", str(EXAMPLES / example), "--as-of", "2021-12-31", "--format", "json"]
    outputs = {e: run(*args, "--engine", e) for e in ("durable", "reference", "vectorised", "auto")}
    assert {p.returncode for p in outputs.values()} == {0}
    assert len({p.stdout for p in outputs.values()}) == 1


def test_streamed_check_writes_rows_summary_and_errors(tmp_path):
    out = tmp_path / "d.jsonl"
    proc = run("check", str(EXAMPLES / "tonghua-finance-bureau"), "--as-of", "2021-12-31", "--engine", "vectorised",
               "--format", "jsonl", "--output", str(out), "--chunk-size", "2")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(run("check", str(EXAMPLES / "tonghua-finance-bureau"), "--as-of", "2021-12-31",
                         "--format", "json").stdout)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(doc["decisions"])
    assert sorted(r["subject_id"] + r["rule_id"] for r in rows) == sorted(d["subject_id"] + d["rule_id"]
                                                                          for d in doc["decisions"])
    assert json.loads((tmp_path / "d.summary.json").read_text(encoding="utf-8"))["by_rule"] == doc["summary"]["by_rule"]
    assert (tmp_path / "d.errors.csv").exists() and (tmp_path / "d.rollups.jsonl").exists()
    assert "decisions" in proc.stderr  # the closing line; no progress bar when stderr is not a terminal
    alone = run("check", str(EXAMPLES / "tonghua-finance-bureau"), "--as-of", "2021-12-31", "--engine", "vectorised",
                "--format", "jsonl", "--output", str(tmp_path / "one.jsonl"), "--chunk-size", "2", "--workers", "1")
    assert alone.returncode == 0, alone.stderr
    assert (tmp_path / "one.jsonl").read_bytes() == out.read_bytes()  # the same file, with or without workers


def test_parquet_output_of_a_small_file(tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "d.parquet"
    proc = run("check", str(EXAMPLES / "tonghua-self-assessment.json"), "--as-of", "2021-12-31",
               "--format", "parquet", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = pq.read_table(out).to_pylist()
    assert rows and all(isinstance(r["reasons"], list) and r["quote"] for r in rows)


def test_table_folds_rules_that_apply_to_nothing():
    proc = run("check", str(EXAMPLES / "yichang-enterprise-2021.xlsx"), "--as-of", "2021-12-31")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "均不适用" in line)
    assert any(line.startswith("  ") and line.endswith(" tonghua.school_subsidy") for line in lines[start + 1:start + 8])
    assert "tonghua.school_subsidy  通市政办发" not in proc.stdout  # no table of its own
    assert "支付实习学生报酬准予税前扣除  yichang.intern_pay_deduction" in proc.stdout  # a table with its title


def test_check_on_a_local_dask_cluster(tmp_path):
    import pyarrow.parquet as pq

    from engine.run.stream import input_files, partitions_for

    parts = partitions_for(input_files(EXAMPLES / "tonghua-finance-bureau"), 2)  # as many as the stream makes
    proc = run("check", str(EXAMPLES / "tonghua-finance-bureau"), "--as-of", "2021-12-31", "--dask", "local:2",
               "--partitions", str(parts), "--chunk-size", "2", "--output", str(tmp_path / "d.parquet"))
    assert proc.returncode == 0, proc.stderr
    streamed = run("check", str(EXAMPLES / "tonghua-finance-bureau"), "--as-of", "2021-12-31", "--engine",
                   "vectorised", "--format", "parquet", "--chunk-size", "2", "--output", str(tmp_path / "s.parquet"))
    assert streamed.returncode == 0, streamed.stderr
    assert pq.read_table(tmp_path / "d.parquet").equals(pq.read_table(tmp_path / "s.parquet"))
    assert (tmp_path / "d.summary.json").read_bytes() == (tmp_path / "s.summary.json").read_bytes()
    wrong = run("check", str(EXAMPLES / "tonghua-finance-bureau"), "--dask", "local", "--format", "csv",
                "--output", str(tmp_path / "x"))
    assert wrong.returncode == 2 and "--dask writes Parquet" in wrong.stderr


@pytest.mark.parametrize("fmt, extra", [("csv", ["--engine", "vectorised"]), ("parquet", ["--engine", "vectorised"]),
                                        ("xlsx", []), ("json", []), ("csv", ["--engine", "reference"])])
def test_output_into_a_missing_folder_is_one_line_before_any_work(tmp_path, fmt, extra):
    """Streamed or in memory, an --output whose folder does not exist is refused in one line, nothing written."""
    out = tmp_path / "missing" / f"d.{fmt}"
    proc = run("check", str(EXAMPLES / "tonghua-finance-bureau"), "--as-of", "2021-12-31", "--format", fmt,
               "--output", str(out), *extra)
    assert_one_line_error(proc, "does not exist")
    assert not (tmp_path / "missing").exists() and list(tmp_path.iterdir()) == []
