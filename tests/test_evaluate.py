"""The reference evaluator's contract with backends, and rules that do not apply are not examined."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from conftest import make_uscc
from engine.engines.durable_compile import CompileError, compile_rules
from engine.engines.vectorised import VectorisedEngine
from engine.messages import localise
from engine.engines.reference import BackendMismatch, decide, evaluate_dataset, outcome_keys
from engine.policy.packs import load_packs, shipped_packs_dir
from engine.data.records import validate_rows

AS_OF = dt.date(2021, 12, 31)
ENT = make_uscc("220502", 9)


def _rule(packs, rule_id):
    return next((p, r) for p in packs for r in p.rules if r.id == rule_id)


def _enterprise(**fields):
    ds = validate_rows({"enterprises": [{"id": ENT, "name": "x", "region_code": "220502", **fields}]})
    return ds, ds.records["enterprises"][0]


@pytest.fixture
def pack_copy(tmp_path):
    target = tmp_path / "tonghua-2019"
    shutil.copytree(shipped_packs_dir() / "tonghua-2019", target)
    return target


def test_a_rule_that_does_not_apply_is_not_examined(pack_copy):
    rule = pack_copy / "rules" / "education_fund_ratio.yaml"
    text = rule.read_text(encoding="utf-8")
    # a criterion that divides by the wages: for zero wages the rule must say not_applicable, not fail
    rule.write_text(text.replace("test: subject.education_fund >= param.education_fund_min_ratio * subject.total_wages",
                                 "test: subject.education_fund / subject.total_wages >= param.education_fund_min_ratio"),
                    encoding="utf-8")
    packs, errors = load_packs([pack_copy], include_shipped=False)
    assert not errors
    ds, _ = _enterprise(total_wages="0", education_fund="10.00")
    doc = evaluate_dataset(ds, packs, AS_OF)
    [d] = [d for d in doc["decisions"] if d["rule_id"] == "tonghua.education_fund_ratio"]
    assert d["status"] == "not_applicable" and doc["errors"] == []
    assert VectorisedEngine(packs).evaluate_dataset(ds, AS_OF) == doc


def test_a_division_by_zero_is_an_evaluation_error_not_a_crash(pack_copy):
    rule = pack_copy / "rules" / "frontline_share.yaml"
    text = rule.read_text(encoding="utf-8")
    rule.write_text(text.replace("test: subject.education_fund > 0", "test: subject.total_wages / subject.education_fund > 0"),
                    encoding="utf-8")
    packs, _ = load_packs([pack_copy], include_shipped=False)
    ds, _ = _enterprise(total_wages="100.00", education_fund="0")
    doc = evaluate_dataset(ds, packs, AS_OF)
    [d] = [d for d in doc["decisions"] if d["rule_id"] == "tonghua.frontline_share"]
    assert d["status"] == "undetermined" and d["reasons"] == ["规则求值出错：除数为零"]
    assert doc["errors"] == [{"rule_id": "tonghua.frontline_share", "subject_id": ENT, "message": "除数为零"}]
    assert localise(doc["errors"], "en")[0]["message"] == "division by zero"
    assert VectorisedEngine(packs).evaluate_dataset(ds, AS_OF) == doc


def test_a_backend_that_disagrees_is_caught(packs):
    pack, rule = _rule(packs, "tonghua.frontline_share")
    ds, ent = _enterprise(education_fund="100.00")  # frontline spend unknown: the criterion is open
    keys = outcome_keys(rule)
    decided = {k: True for k in keys}
    with pytest.raises(BackendMismatch):
        decide(rule, pack, ent, ds, AS_OF, outcomes={**decided, "scope:region": False})
    with pytest.raises(BackendMismatch):  # a backend leaving open a test the evaluator decides
        decide(rule, pack, ent, ds, AS_OF, outcomes={k: v for k, v in decided.items() if k != "applies_if:0"})
    open_criterion = {k: v for k, v in decided.items() if not k.startswith("criterion")}
    d = decide(rule, pack, ent, ds, AS_OF, outcomes=open_criterion).decision
    assert d.status == "undetermined" and d.missing_facts == ["enterprises.frontline_training_spend"]


def test_the_durable_compiler_refuses_what_it_cannot_express(pack_copy):
    rule = pack_copy / "rules" / "certificate_subsidy.yaml"
    text = rule.read_text(encoding="utf-8")
    rule.write_text(text.replace("date: subject.obtained_on", "date: coalesce(date('2020-01-01'), as_of)")
                    .replace("region: employer.region_code", "region: employer.name"), encoding="utf-8")
    packs, errors = load_packs([pack_copy], include_shipped=False)
    assert not errors
    assert not compile_rules(packs).refused  # constants and a lookup's field are fine
    rule.write_text(text.replace("key: subject.enterprise_id}", "key: subject.title}"), encoding="utf-8")
    packs, errors = load_packs([pack_copy], include_shipped=False)
    assert not errors
    compiled = compile_rules(packs)  # refused as a value, per rule; the other rules stay compiled
    assert list(compiled.refused) == ["tonghua.certificate_subsidy"]
    assert "required field" in compiled.refused["tonghua.certificate_subsidy"]
    assert not any(name.startswith("tonghua.certificate_subsidy|") for name in compiled.actions)
    assert "certificates" not in compiled.rulesets and "enterprises" in compiled.rulesets
    from engine.engines.durable import DurableEngine

    with pytest.raises(CompileError, match="tonghua.certificate_subsidy: .*required field"):
        DurableEngine(packs)


def test_durable_hands_a_rule_whose_atom_fails_to_the_evaluator(pack_copy):
    from engine.engines.durable import DurableEngine

    rule = pack_copy / "rules" / "frontline_share.yaml"
    text = rule.read_text(encoding="utf-8")
    # the criterion's first branch divides by zero for this subject, its second is true: the reference reports
    # the error, and durable, which could decide the 'or' from its second branch, must do the same
    rule.write_text(text.replace(
        "test: subject.frontline_training_spend >= param.frontline_min_share * subject.education_fund",
        "test: subject.frontline_training_spend / subject.total_wages >= 0 or subject.education_fund > 0"),
        encoding="utf-8")
    packs, errors = load_packs([pack_copy], include_shipped=False)
    assert not errors
    ds, _ = _enterprise(total_wages="0", education_fund="100.00", frontline_training_spend="10.00")
    with DurableEngine(packs) as eng:
        assert eng.evaluate_dataset(ds, AS_OF) == evaluate_dataset(ds, packs, AS_OF)
