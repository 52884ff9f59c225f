"""The durable-rules backend: compiled rulesets as plain data, and decisions identical to the reference."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings

from conftest import EXAMPLES, SCALE
from engine.engines.durable import DurableEngine
from engine.engines.durable_compile import compile_rules, negate_cond
from engine.engines.reference import evaluate_dataset
from engine.data.loaders import load_dataset
from engine.policy.packs import load_packs
from engine.data.records import validate_rows
from test_properties import datasets

PACKS, _ = load_packs()
AS_OF = dt.date(2021, 12, 31)


def dumps(doc):
    return json.dumps(doc, ensure_ascii=False)


@pytest.fixture(scope="module")
def engine():
    with DurableEngine(PACKS) as eng:
        yield eng


@pytest.mark.parametrize("name", ["yichang-enterprise-2021.xlsx", "tonghua-finance-bureau",
                                  "tonghua-self-assessment.json", "bad-records.json"])
def test_examples_are_byte_identical(engine, name):
    ds = load_dataset(EXAMPLES / name)
    assert dumps(engine.evaluate_dataset(ds, AS_OF)) == dumps(evaluate_dataset(ds, PACKS, AS_OF))


ENGINE = DurableEngine(PACKS)  # one engine for the module, as the engine's docs ask; sessions keep datasets apart


@settings(max_examples=1000 * SCALE, deadline=None)
@given(datasets())
def test_generated_datasets_are_identical(raw):
    ds = validate_rows(raw)
    assert dumps(ENGINE.evaluate_dataset(ds, AS_OF)) == dumps(evaluate_dataset(ds, PACKS, AS_OF))


def test_compiled_rulesets_are_plain_data_and_stable():
    first, second = compile_rules(PACKS), compile_rules(PACKS)
    text = json.dumps(first.definition(), ensure_ascii=False, sort_keys=True)
    assert text == json.dumps(second.definition(), ensure_ascii=False, sort_keys=True)
    assert set(first.definition()) == {"enterprises", "schools", "internship_payments", "practice_expenses",
                                       "certificates", "land_applications", "graduates"}


SNAPSHOT = Path(__file__).parent / "snapshots" / "durable-rulesets.json"


def _compiled_text() -> str:
    compiled = compile_rules(PACKS)
    data = {"rulesets": compiled.definition(),
            "atoms": [[a.index, a.rule_id, a.record_type, a.var] for a in compiled.atoms],
            "lookups": compiled.lookups}
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def test_compiled_rulesets_match_the_snapshot():
    """What durable receives, as a diffable file. After a deliberate change to a rule or the compiler:
    CHANJIAO_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_durable.py, then review the diff."""
    text = _compiled_text()
    if os.environ.get("CHANJIAO_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert SNAPSHOT.read_text(encoding="utf-8") == text


def test_intern_pay_criterion_snapshot():
    d = compile_rules(PACKS).definition()["internship_payments"]
    t = d["yichang.intern_pay_deduction|criterion:valid_agreement|T0"]["all"]
    f = d["yichang.intern_pay_deduction|criterion:valid_agreement|F0"]["all"]
    join = {"enterprise_id": {"x_subject": "enterprise_id"}}
    assert t[1] == {"x_agreements_1": {"$and": [
        {"t": "agreements"}, {"_subject": False}, join, {"school_id": {"x_subject": "school_id"}},
        {"$and": [{"$lte": {"valid_from": {"x_subject": "paid_on"}}}, {"$gte": {"_valid_until": {"x_subject": "paid_on"}}}]},
    ]}}
    # false: no agreement of the enterprise that the school and the dates do not rule out
    assert f[1] == {"x_agreements_1$not": {"$and": [
        {"t": "agreements"}, {"_subject": False}, join,
        {"$and": [{"school_id": {"x_subject": "school_id"}}, {"$lte": {"valid_from": {"x_subject": "paid_on"}}},
                  {"$gte": {"_valid_until": {"x_subject": "paid_on"}}}]},
    ]}}


def test_negation_keeps_absent_fields_unknown():
    assert negate_cond({"_a1": True}) == {"$or": [{"$nex": {"_a1": 1}}, {"$neq": {"_a1": True}}]}
    assert negate_cond({"$lt": {"x": {"x_subject": "d"}}}) == {"$gte": {"x": {"x_subject": "d"}}}


def test_the_engine_starts_no_threads_and_refuses_work_once_closed():
    before = threading.active_count()
    eng = DurableEngine(PACKS)
    eng.evaluate_dataset(load_dataset(EXAMPLES / "tonghua-self-assessment.json"), AS_OF)
    assert threading.active_count() == before
    eng.close()
    with pytest.raises(RuntimeError):
        eng.outcomes(load_dataset(EXAMPLES / "tonghua-self-assessment.json").records["enterprises"][0],
                     load_dataset(EXAMPLES / "tonghua-self-assessment.json"), AS_OF)


def test_two_engines_are_independent():
    ds = load_dataset(EXAMPLES / "tonghua-finance-bureau")
    with DurableEngine(PACKS) as a, DurableEngine(PACKS) as b:
        assert dumps(a.evaluate_dataset(ds, AS_OF)) == dumps(b.evaluate_dataset(ds, dt.date(2021, 12, 31)))


def test_replacing_packs_gives_an_engine_for_the_new_rules(tmp_path):
    from engine.policy.packs import shipped_packs_dir

    pack = tmp_path / "tonghua-2019"
    shutil.copytree(shipped_packs_dir() / "tonghua-2019", pack)
    text = (pack / "pack.yaml").read_text(encoding="utf-8")
    (pack / "pack.yaml").write_text(text.replace("value: 0.60", "value: 0.50"), encoding="utf-8")
    changed, errors = load_packs([pack])
    assert not errors
    ds = load_dataset(EXAMPLES / "tonghua-self-assessment.json")
    old = DurableEngine(PACKS)
    status = lambda doc: [d["status"] for d in doc["decisions"] if d["rule_id"] == "tonghua.frontline_share"]  # noqa: E731
    assert status(old.evaluate_dataset(ds, AS_OF)) == ["non_compliant"]  # 58.54 % < 60 %
    new = old.replace_packs(changed)
    assert status(new.evaluate_dataset(ds, AS_OF)) == ["compliant"]  # ≥ 50 %
    with pytest.raises(RuntimeError):
        old.outcomes(ds.records["enterprises"][0], ds, AS_OF)


def test_too_many_conditions_on_one_record_type_are_refused():
    from engine.engines.durable_compile import MAX_FACT_FIELDS, Atom, CompileError, check_fact_width

    compiled = compile_rules(PACKS)
    check_fact_width(compiled)  # the shipped packs fit
    node = compiled.atoms[0].node
    compiled.atoms.extend(Atom(1000 + i, "x.y", "enterprises", "subject", node) for i in range(MAX_FACT_FIELDS))
    with pytest.raises(CompileError, match="durable accepts at most"):
        check_fact_width(compiled)


def test_a_crash_of_durables_c_engine_is_contained_and_the_reference_decides(monkeypatch, tmp_path):
    """durable-rules sometimes dies with SIGSEGV (a defect of its C engine): the check still answers, correctly."""
    import os
    import signal

    from typer.testing import CliRunner

    from engine.engines import durable as durable_backend
    from engine.cli import app

    def crash(*_args, **_kwargs):
        os.kill(os.getpid(), signal.SIGSEGV)

    ds = load_dataset(EXAMPLES / "tonghua-self-assessment.json")
    monkeypatch.setattr(durable_backend.DurableEngine, "evaluate_dataset", crash)  # the forked child inherits it
    with pytest.raises(durable_backend.DurableCrashed, match="exit status -11"):
        durable_backend.evaluate_isolated(PACKS, ds, AS_OF)
    args = ["check", str(EXAMPLES / "tonghua-self-assessment.json"), "--as-of", "2021-12-31", "--format", "json"]
    crashed = CliRunner().invoke(app, ["--lang", "zh", *args, "--engine", "durable"])
    reference = CliRunner().invoke(app, [*args, "--engine", "reference"])
    assert crashed.exit_code == 0 and "已改由参考评估器判定" in crashed.stderr
    english = CliRunner().invoke(app, ["--lang", "en", *args, "--engine", "durable"])
    assert english.exit_code == 0 and "the reference evaluator decided instead" in english.stderr
    assert crashed.stdout == reference.stdout


def test_a_python_error_in_the_durable_child_is_raised_as_itself(monkeypatch):
    from engine.engines import durable as durable_backend

    def fail(*_args, **_kwargs):
        raise durable_backend.BackendMismatch("both forms matched")

    monkeypatch.setattr(durable_backend.DurableEngine, "evaluate_dataset", fail)
    with pytest.raises(durable_backend.BackendMismatch, match="both forms matched"):
        durable_backend.evaluate_isolated(PACKS, load_dataset(EXAMPLES / "tonghua-self-assessment.json"), AS_OF)
