"""The packs' YAML test cases, collected by pytest (the same cases ``chanjiao rules test`` runs)."""

from __future__ import annotations

import pytest

from engine.policy.casetests import load_case_file, run_case_file
from engine.policy.packs import load_packs

PACKS, _ = load_packs()
FILES = [f for p in PACKS for f in p.test_files]
CASES = [(f, c.name) for f in FILES for c in load_case_file(f).cases]


def test_every_rule_has_cases():
    tested = {load_case_file(f).rule for f in FILES}
    assert tested == {r.id for p in PACKS for r in p.rules}


@pytest.mark.parametrize("file,name", CASES, ids=[f"{f.stem}: {n}" for f, n in CASES])
def test_case(file, name):
    [result] = [r for r in run_case_file(file, PACKS) if r.name == name]
    assert result.passed, "\n".join(result.failures)


def test_a_wrong_expectation_fails(tmp_path):
    source = next(f for f in FILES if f.stem == "school_subsidy")
    broken = tmp_path / "school_subsidy.yaml"
    broken.write_text(source.read_text(encoding="utf-8").replace('amount: "540000.00"', 'amount: "540000.01"'),
                      encoding="utf-8")
    results = run_case_file(broken, PACKS)
    assert [r.name for r in results if not r.passed] == [results[0].name]
    assert "540000.01" in results[0].failures[0]
