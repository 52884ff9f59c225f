"""Rule packs: loading errors at file:line:col with suggestions, verbatim quotes, lint coverage."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.policy.lint import lint_dirs
from engine.policy.packs import load_packs, possible_statuses, quote_in_source, shipped_packs_dir

SHIPPED = shipped_packs_dir()


@pytest.fixture
def pack_copy(tmp_path) -> Path:
    target = tmp_path / "tonghua-2019"
    shutil.copytree(SHIPPED / "tonghua-2019", target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, fragment: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if fragment in line)


def test_shipped_packs_have_the_eleven_required_rules(packs):
    ids = {r.id for p in packs for r in p.rules}
    assert ids == {
        "yichang.intern_pay_deduction", "yichang.practice_expense_deduction",
        "yichang.integration_enterprise_recognition", "yichang.stable_employment_reward",
        "tonghua.education_fund_ratio", "tonghua.frontline_share", "tonghua.certificate_subsidy",
        "tonghua.school_subsidy", "tonghua.land_allocation", "tonghua.key_enterprise_cooperation",
        "tonghua.training_fee_nonprofit",
    }


def test_shipped_packs_lint_clean():
    _, problems = lint_dirs(None, include_shipped=True)
    assert problems == []


def test_every_citation_is_found_verbatim(packs):
    for pack in packs:
        for rule in pack.rules:
            assert quote_in_source(rule.citation.quote, pack.source_text), rule.id
        for p in pack.parameters.values():
            assert quote_in_source(p.citation.quote, pack.source_text), p.name


def test_field_typo_is_reported_at_file_line_col_with_suggestion(pack_copy):
    rule = pack_copy / "rules" / "frontline_share.yaml"
    edit(rule, "test: subject.frontline_training_spend >=", "test: subject.frontline_training_spnd >=")
    _, errors = load_packs([pack_copy], include_shipped=False)
    [err] = errors
    line = line_of(rule, "frontline_training_spnd")
    col = rule.read_text(encoding="utf-8").splitlines()[line - 1].index("frontline_training_spnd") + 1
    assert (err.file, err.line, err.col) == (str(rule), line, col)
    assert err.suggestion == "frontline_training_spend"
    assert f"{rule}:{line}:{col}" in str(err)


def test_typo_inside_a_folded_reason_is_located_on_its_own_line(pack_copy):
    rule = pack_copy / "rules" / "frontline_share.yaml"
    edit(rule, "{subject.frontline_training_spend / subject.education_fund | percent}，低于",
         "{subject.frontline_training_spnd / subject.education_fund | percent}，低于")
    [err] = load_packs([pack_copy], include_shipped=False)[1]
    assert err.line == line_of(rule, "frontline_training_spnd")


def test_unknown_key_parameter_and_quote(pack_copy):
    rule = pack_copy / "rules" / "education_fund_ratio.yaml"
    edit(rule, "effect: encouraged", "efect: encouraged")
    school = pack_copy / "rules" / "school_subsidy.yaml"
    edit(school, "param.school_subsidy_ratio *", "param.school_subsidy_rate *")
    land = pack_copy / "rules" / "land_allocation.yaml"
    edit(land, "quote: 鼓励企业自愿以出让、租赁方式取得土地", "quote: 鼓励企业自愿以出让方式取得土地")
    _, errors = load_packs([pack_copy], include_shipped=False)
    by_file = {Path(e.file).name: e for e in errors}
    assert by_file["education_fund_ratio.yaml"].suggestion == "effect"
    assert by_file["school_subsidy.yaml"].suggestion == "school_subsidy_ratio"
    assert "not found verbatim" in by_file["land_allocation.yaml"].message
    assert by_file["land_allocation.yaml"].line == line_of(land, "鼓励企业自愿以出让方式")


def test_a_shipped_pack_is_replaced_by_one_with_the_same_id(pack_copy):
    edit(pack_copy / "pack.yaml", "jurisdiction: 通化市", "jurisdiction: 通化市（测试）")
    packs, errors = load_packs([pack_copy])
    assert not errors
    assert [p.jurisdiction for p in packs if p.id == "tonghua-2019"] == ["通化市（测试）"]


def test_duplicate_rule_ids_are_errors(pack_copy, tmp_path):
    other = tmp_path / "copy2"
    shutil.copytree(pack_copy, other)
    edit(other / "pack.yaml", "id: tonghua-2019", "id: tonghua-2019b")
    _, errors = load_packs([pack_copy, other], include_shipped=False)
    assert any("already defined" in e.message for e in errors)


def test_lint_requires_a_test_case_for_every_possible_status(pack_copy):
    tests = pack_copy / "tests" / "land_allocation.yaml"
    text = tests.read_text(encoding="utf-8")
    tests.write_text(text.replace("status: undetermined", "status: not_applicable"), encoding="utf-8")
    _, problems = lint_dirs([pack_copy], include_shipped=False, every_engine=False)
    assert [p.message for p in problems] == ["rule tonghua.land_allocation: no test case expects undetermined"]
    (pack_copy / "tests" / "land_allocation.yaml").unlink()
    _, problems = lint_dirs([pack_copy], include_shipped=False, every_engine=False)
    assert "has no test cases" in problems[0].message


def test_possible_statuses(packs):
    rules = {r.id: r for p in packs for r in p.rules}
    assert possible_statuses(rules["tonghua.school_subsidy"]) == {"eligible", "not_eligible", "undetermined", "not_applicable"}
    assert possible_statuses(rules["tonghua.frontline_share"]) == {"compliant", "non_compliant", "undetermined", "not_applicable"}


def test_a_duplicate_key_is_an_error_not_a_lost_condition(pack_copy):
    rule = pack_copy / "rules" / "land_allocation.yaml"
    edit(rule, "    test: subject.in_allocation_catalogue\n",
         "    test: subject.in_allocation_catalogue\n    test: true\n")
    [err] = load_packs([pack_copy], include_shipped=False)[1]
    assert "duplicate key 'test'" in err.message and err.line == line_of(rule, "test: true")
