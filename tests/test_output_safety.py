"""Outputs cannot attack their reader, and are written all or nothing (issue 12, points 1 and 5).

Hostile strings are generated (hypothesis) for the cell and terminal functions, and planted in real datasets that go
through the installed command in every output format and the streamed path; interruptions are real signals sent to
real processes.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import EXAMPLES, SCALE, generated, make_uscc
from engine.output.atomic import OutputSet
from engine.output.safe import FORMULA_STARTS, spreadsheet_cell, spreadsheet_column, visible, xlsx_text
from test_cli import CHANJIAO, assert_one_line_error, run

CONTROL = [chr(c) for c in range(0x20) if c not in (9, 10)] + ["\x7f", "\x9b", "\u202e"]
hostile_text = st.text(alphabet=st.sampled_from(list("=+-@\t\r0123456789.aZ中 |'\"\x1b[]();!") + CONTROL),
                       max_size=12) | st.sampled_from(["=1+1", "-2+3", "@SUM(A1)", "+1", "-12.50", "\t=1", "\r=1",
                                                       "=HYPERLINK(\"http://x\")", "\x1b[31mred\x1b[0m", "-0"])


def live_formula(cell: str) -> bool:
    """What a spreadsheet would run: text starting with a formula character that is not a plain number."""
    import re

    return cell.startswith(FORMULA_STARTS) and re.fullmatch(r"[+-]?[0-9]+(\.[0-9]+)?", cell) is None


@settings(max_examples=300 * SCALE, deadline=None)
@given(hostile_text)
def test_a_neutralised_cell_is_never_a_formula_and_keeps_its_text(text):
    cell = spreadsheet_cell(text)
    assert not live_formula(cell)
    assert cell == text or cell == "'" + text
    if not live_formula(text):
        assert cell == text  # harmless text and plain numbers (money) are left alone


@settings(max_examples=100 * SCALE, deadline=None)
@given(st.lists(hostile_text | st.none(), max_size=20))
def test_the_arrow_column_version_gives_the_same_cells(values):
    got = spreadsheet_column(pa.array(values, pa.string())).to_pylist()
    assert got == [None if v is None else spreadsheet_cell(v) for v in values]


@settings(max_examples=300 * SCALE, deadline=None)
@given(hostile_text)
def test_visible_text_holds_no_control_character(text):
    for keep in (True, False):
        shown = visible(text, keep_newlines=keep)
        assert not any(c in shown for c in CONTROL)
        assert "\x1b" not in shown
    shown = xlsx_text(text)
    assert not any(ord(c) < 0x20 and c not in "\t\n" for c in shown) and not live_formula(shown)


# ------------------------------------------------------------------------------------- planted in real datasets

EVIL_NAME = "=HYPERLINK(\"http://evil\",\"x\")"
EVIL_SCHOOL = "@SUM(1+1)"
EVIL_PAY = "-1+cmd|' /C calc'!A0"
EVIL_CTRL = "ESC\x1b[31mRED\x1b[0m\x07"


def hostile_dataset(folder: Path) -> dict[str, Path]:
    """A dataset whose ids, names and a rejected value are formulas and terminal escapes, as JSON and CSV."""
    ent = make_uscc("220502", 1)
    raw = {
        "enterprises": [{"id": ent, "name": EVIL_NAME, "region_code": "220502", "total_wages": "1000000.00",
                         "education_fund": "10000.00", "frontline_training_spend": "5000.00"}],
        "schools": [{"id": EVIL_SCHOOL, "name": "+学校", "region_code": "220502",
                     "school_type": "secondary_vocational", "demonstration_project": True, "enrolled_students": 10},
                    {"id": EVIL_CTRL, "name": "\tTAB", "region_code": "220502",
                     "school_type": "secondary_vocational", "demonstration_project": True, "enrolled_students": 3}],
        "certificates": [{"id": EVIL_PAY, "employee_id": "=E1", "enterprise_id": ent, "insured": True,
                          "obtained_on": "2021-03-01"},
                         {"id": "=BAD", "employee_id": "x", "enterprise_id": ent, "insured": True,
                          "obtained_on": "=1+1"}],  # rejected: its value is a formula
    }
    folder.mkdir(parents=True, exist_ok=True)
    out = {"json": folder / "evil.json"}
    out["json"].write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    csv_dir = folder / "csv"
    csv_dir.mkdir(exist_ok=True)
    for rtype, rows in raw.items():
        header = list(dict.fromkeys(k for r in rows for k in r))
        with open(csv_dir / f"{rtype}.csv", "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            for r in rows:
                w.writerow(["" if r.get(h) is None else str(r[h]).lower() if isinstance(r.get(h), bool) else r.get(h)
                            for h in header])
    out["csv"] = csv_dir
    return out


def _csv_cells(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return [c for row in csv.reader(fh) for c in row]


def _assert_no_formula_cells(cells: list[str], where: str) -> None:
    bad = [c for c in cells if live_formula(c)]
    assert not bad, f"{where}: live formulas {bad[:5]}"


def test_csv_outputs_hold_no_live_formula_in_memory_and_streamed(tmp_path):
    data = hostile_dataset(tmp_path / "in")
    proc = run("check", str(data["json"]), "--as-of", "2021-12-31", "--format", "csv", "--output",
               str(tmp_path / "a" / "d.csv").replace("/a/", "/"))
    assert proc.returncode == 1, proc.stderr  # the certificate with a formula date is rejected
    for name in ("d.csv", "d.summary.csv", "d.errors.csv"):
        cells = _csv_cells(tmp_path / name)
        _assert_no_formula_cells(cells, name)
    assert "'" + EVIL_PAY in _csv_cells(tmp_path / "d.csv")  # neutralised, text kept after the apostrophe
    assert "'=1+1" in _csv_cells(tmp_path / "d.errors.csv")  # the rejected value
    (tmp_path / "s").mkdir()
    proc = run("check", str(data["csv"]), "--as-of", "2021-12-31", "--engine", "vectorised", "--format", "csv",
               "--output", str(tmp_path / "s" / "d.csv"), "--workers", "1")
    assert proc.returncode == 1, proc.stderr
    for name in ("d.csv", "d.rollups.csv", "d.errors.csv"):
        _assert_no_formula_cells(_csv_cells(tmp_path / "s" / name), "streamed " + name)
    assert "'" + EVIL_PAY in _csv_cells(tmp_path / "s" / "d.csv")
    assert (tmp_path / "s" / "d.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads UTF-8


def test_xlsx_holds_no_formula_and_a_control_character_id_cannot_break_it(tmp_path):
    from openpyxl import load_workbook

    data = hostile_dataset(tmp_path / "in")
    for lang_args in ([],):
        proc = run("check", str(data["json"]), "--as-of", "2021-12-31", "--format", "xlsx", "--output",
                   str(tmp_path / "r.xlsx"), *lang_args)
        assert proc.returncode == 1, proc.stderr
    wb = load_workbook(tmp_path / "r.xlsx")
    texts = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    texts.append(cell.value)
    _assert_no_formula_cells(texts, "xlsx")
    assert any("\\x1b[31mRED" in t for t in texts)  # the control-character id, shown escaped
    with zipfile.ZipFile(tmp_path / "r.xlsx") as z:
        assert not any("<f>" in z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith(".xml"))


def test_no_escape_sequence_reaches_the_terminal(tmp_path):
    data = hostile_dataset(tmp_path / "in")
    proc = run("check", str(data["json"]), "--as-of", "2021-12-31")
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout and "\\x1b" in proc.stdout
    proc = run("explain", str(data["json"]), "--rule", "tonghua.school_subsidy", "--subject", EVIL_CTRL,
               "--as-of", "2021-12-31")
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "\\x1b" in proc.stdout
    proc = run("explain", str(data["json"]), "--rule", "tonghua.school_subsidy", "--subject", "NO\x1b[2JSUCH",
               "--as-of", "2021-12-31")
    assert_one_line_error(proc, "no accepted")
    assert "\x1b" not in proc.stderr
    proc = run("check", str(data["json"]), "--enterprise", "X\x1b]0;pwned\x07")
    assert_one_line_error(proc, "no accepted enterprise")
    assert "\x1b" not in proc.stderr and "\x07" not in proc.stderr


# ------------------------------------------------------------------------------------------ all or nothing

def test_an_output_set_commits_all_or_leaves_everything_as_it_was(tmp_path):
    old = tmp_path / "out.csv"
    old.write_text("OLD", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with OutputSet() as outs:
            outs.path(old).write_text("NEW", encoding="utf-8")
            outs.path(tmp_path / "out.summary.json", last=True).write_text("{}", encoding="utf-8")
            raise RuntimeError("interrupted")
    assert old.read_text(encoding="utf-8") == "OLD"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
    with OutputSet() as outs:
        outs.path(old).write_text("NEW", encoding="utf-8")
        outs.path(tmp_path / "out.summary.json", last=True).write_text("{}", encoding="utf-8")
    assert old.read_text(encoding="utf-8") == "NEW" and (tmp_path / "out.summary.json").exists()
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_output_onto_an_input_is_refused(tmp_path):
    data = hostile_dataset(tmp_path / "in")
    before = data["json"].read_bytes()
    assert_one_line_error(run("check", str(data["json"]), "--format", "json", "--output", str(data["json"])),
                          "is an input")
    assert data["json"].read_bytes() == before
    target = data["csv"] / "schools.csv"
    before = target.read_bytes()
    for fmt in ("csv", "json"):
        assert_one_line_error(run("check", str(data["csv"]), "--format", fmt, "--output", str(target)), "is an input")
    # a file written beside the output (OUT.errors.csv) may not be an input either
    assert_one_line_error(run("check", str(data["csv"]), "--format", "csv", "--engine", "vectorised",
                              "--output", str(data["csv"] / "schools.csv")), "is an input")
    assert target.read_bytes() == before


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    return generated(tmp_path_factory.mktemp("pop"), 12_000)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status and "\nState:\tX" not in status


def _start_streamed(population: Path, out: Path) -> tuple[subprocess.Popen, list[int]]:
    out.mkdir(parents=True, exist_ok=True)
    for name in ("d.csv", "d.summary.json"):
        (out / name).write_text("OLD", encoding="utf-8")
    proc = subprocess.Popen([CHANJIAO, "check", str(population), "--engine", "vectorised", "--format", "csv",
                             "--output", str(out / "d.csv"), "--workers", "2", "--chunk-size", "500", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**{k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES")},
                                 "LANG": "en_US.UTF-8"})
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and len(workers) < 2 and proc.poll() is None:
        workers = _children(proc.pid)
        time.sleep(0.02)
    assert workers, "the check started no worker process"
    time.sleep(0.3)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    return proc, workers


def _assert_previous_output_intact(out: Path) -> None:
    assert (out / "d.csv").read_text(encoding="utf-8") == "OLD"
    assert (out / "d.summary.json").read_text(encoding="utf-8") == "OLD"
    assert not (out / "d.errors.csv").exists() and not (out / "d.rollups.csv").exists()


def _assert_gone(pids: list[int], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids), "a worker outlived the run"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_streamed_run_leaves_the_previous_output_and_no_temporary_file(population, tmp_path, sig):
    out = tmp_path / "out"
    proc, workers = _start_streamed(population, out)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines() == ["chanjiao: interrupted"]
    _assert_previous_output_intact(out)
    assert sorted(p.name for p in out.iterdir()) == ["d.csv", "d.summary.json"]  # no .partial file left
    _assert_gone(workers)


def test_a_killed_parent_takes_its_workers_with_it_and_leaves_nothing_that_looks_complete(population, tmp_path):
    out = tmp_path / "out"
    proc, workers = _start_streamed(population, out)
    proc.kill()
    proc.wait(timeout=30)
    _assert_gone(workers)
    _assert_previous_output_intact(out)
    assert all(p.name in ("d.csv", "d.summary.json") or ".partial-" in p.name for p in out.iterdir())


def test_a_dying_worker_is_one_line_and_the_previous_output_stays(population, tmp_path):
    out = tmp_path / "out"
    proc, workers = _start_streamed(population, out)
    os.kill(workers[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert len(err.strip().splitlines()) == 1 and "worker process" in err and "Traceback" not in err
    _assert_previous_output_intact(out)
    assert sorted(p.name for p in out.iterdir()) == ["d.csv", "d.summary.json"]
    _assert_gone(workers)


def test_a_complete_streamed_run_says_so_in_its_summary(tmp_path):
    data = hostile_dataset(tmp_path / "in")
    proc = run("check", str(data["csv"]), "--as-of", "2021-12-31", "--engine", "vectorised", "--format", "jsonl",
               "--output", str(tmp_path / "d.jsonl"), "--workers", "1")
    assert proc.returncode == 1, proc.stderr
    summary = json.loads((tmp_path / "d.summary.json").read_text(encoding="utf-8"))
    assert summary["run"] == {"complete": True, "records": 5, "rejected": 1, "decisions": summary["run"]["decisions"]}
    assert {p["source"] for p in summary["parameters"]} == {"pack"}  # the parameters in force, as in the document
    lines = (tmp_path / "d.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == summary["run"]["decisions"]


def test_examples_still_write_every_format_atomically(tmp_path):
    for fmt, name in (("json", "d.json"), ("table", "d.txt"), ("xlsx", "d.xlsx"), ("parquet", "d.parquet")):
        proc = run("check", str(EXAMPLES / "tonghua-self-assessment.json"), "--as-of", "2021-12-31", "--format", fmt,
                   "--output", str(tmp_path / name))
        assert proc.returncode == 0, proc.stderr
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
