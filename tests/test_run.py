"""The library entry point: packs loaded once, many datasets checked, the same document as the command."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from engine.errors import FatalError
from engine.messages import render
from engine.output.render import to_json
from engine.run import Checker

from conftest import EXAMPLES

DAY = dt.date(2021, 12, 31)


@pytest.fixture(scope="module")
def checker() -> Checker:
    return Checker()


def test_one_checker_many_datasets_same_as_fresh_checkers(checker: Checker) -> None:
    paths = [EXAMPLES / "tonghua-self-assessment.json", EXAMPLES / "tonghua-finance-bureau",
             EXAMPLES / "yichang-enterprise-2021.xlsx"]
    reused = [to_json(checker.check(p, as_of=DAY, engine="reference").document) for p in paths]
    fresh = [to_json(Checker().check(p, as_of=DAY, engine="reference").document) for p in paths]
    assert reused == fresh
    assert len({len(json.loads(t)["decisions"]) for t in reused}) == 3


def test_engines_give_one_document(checker: Checker) -> None:
    ds = checker.load(EXAMPLES / "tonghua-finance-bureau")
    docs = {name: to_json(checker.check(ds, as_of=DAY, engine=name).document)
            for name in ("reference", "vectorised", "durable")}
    assert docs["reference"] == docs["vectorised"] == docs["durable"]


def test_exit_code_follows_rejected_records(checker: Checker) -> None:
    bad = checker.check(EXAMPLES / "bad-records.json", as_of=DAY, engine="reference")
    good = checker.check(EXAMPLES / "tonghua-self-assessment.json", as_of=DAY, engine="reference")
    assert bad.exit_code == 1 and bad.dataset.errors
    assert good.exit_code == 0 and not good.dataset.errors
    assert bad.engine == good.engine == "reference"


def test_overrides_change_the_amounts(checker: Checker) -> None:
    params = checker.overrides(["certificate_subsidy_amount=1500"])
    assert params == {"certificate_subsidy_amount": Decimal("1500")}
    doc = checker.check(EXAMPLES / "tonghua-finance-bureau", as_of=DAY, params=params, engine="reference").document
    amounts = {d["amount"] for d in doc["decisions"]
               if d["rule_id"] == "tonghua.certificate_subsidy" and d["status"] == "eligible"}
    assert amounts == {"1500.00"}


@pytest.mark.parametrize("call, fragment", [
    (lambda c: c.overrides(["no_such_parameter=1"]), "--param"),
    (lambda c: c.load(Path("/nonexistent/data.json")), "no such file"),
    (lambda c: c.rule("tonghua.frontline_shar"), "did you mean 'tonghua.frontline_share'"),
    (lambda c: c.check(EXAMPLES / "tonghua-self-assessment.json", as_of=DAY, engine="fast"), "unknown engine"),
    (lambda c: c.explain(EXAMPLES / "tonghua-self-assessment.json", "tonghua.frontline_share", "nobody",
                         as_of=DAY), "no accepted enterprises record"),
])
def test_problems_are_one_fatal_line(checker: Checker, call, fragment: str) -> None:
    with pytest.raises(FatalError) as info:
        call(checker)
    english = render(info.value.args[0], "en")  # the message in English (Chinese by default)
    assert fragment in english and "\n" not in english and "\n" not in str(info.value)


def test_explain_gives_the_decisions_trace(checker: Checker) -> None:
    trace = checker.explain(EXAMPLES / "tonghua-self-assessment.json", "tonghua.frontline_share",
                            "91220502MA0Y0A0133", as_of=DAY)
    doc = checker.check(EXAMPLES / "tonghua-self-assessment.json", as_of=DAY, engine="reference").document
    decided = next(d for d in doc["decisions"]
                   if d["rule_id"] == "tonghua.frontline_share" and d["subject_id"] == "91220502MA0Y0A0133")
    assert trace.decision.status == decided["status"]


def test_invalid_pack_is_fatal(tmp_path: Path) -> None:
    pack = tmp_path / "broken"
    pack.mkdir()
    (pack / "pack.yaml").write_text("id: broken\n", encoding="utf-8")
    with pytest.raises(FatalError, match="规则包有误"):
        Checker([pack])


def test_the_checker_says_when_a_check_is_streamed(checker: Checker, tmp_path: Path) -> None:
    folder, workbook = EXAMPLES / "tonghua-finance-bureau", EXAMPLES / "yichang-enterprise-2021.xlsx"
    out = tmp_path / "d.csv"
    assert checker.streams("vectorised", folder, out, "csv")
    assert checker.streams("vectorised", folder, out, "parquet")
    assert not checker.streams("vectorised", folder, None, "csv")  # to the terminal: the whole document
    assert not checker.streams("vectorised", folder, out, "xlsx")
    assert not checker.streams("vectorised", workbook, out, "csv")  # one file is read whole
    assert not checker.streams("reference", folder, out, "csv")
    assert not checker.streams("auto", folder, out, "csv")  # a small folder: auto takes an in-memory engine


def test_a_streamed_checks_exit_code_is_the_in_memory_one(checker: Checker, tmp_path: Path) -> None:
    src = tmp_path / "data"
    src.mkdir()
    for f in (EXAMPLES / "tonghua-finance-bureau").iterdir():
        (src / f.name).write_bytes(f.read_bytes())
    clean = checker.check_stream(src, tmp_path / "a.csv", "csv", as_of=DAY, progress=False, workers=1)
    assert clean.exit_code == checker.check(src, as_of=DAY, engine="reference").exit_code == 0
    students = src / "enterprises.csv"
    lines = students.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace(lines[1].split(",")[0], "", 1)  # a row with no id: rejected
    students.write_text("\n".join(lines) + "\n", encoding="utf-8")
    some = checker.check_stream(src, tmp_path / "b.csv", "csv", as_of=DAY, progress=False, workers=1)
    assert some.rejected >= 1
    assert some.exit_code == checker.check(src, as_of=DAY, engine="reference").exit_code == 1
