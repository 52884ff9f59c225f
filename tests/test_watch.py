"""Live re-evaluation: a stream of changes ends where a fresh check of the final state ends."""

from __future__ import annotations

import datetime as dt
import json
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SCALE, make_uscc
from engine.engines.durable import DurableEngine
from engine.engines.reference import ReferenceEngine, evaluate_dataset
from engine.policy.packs import load_packs
from engine.data.records import validate_rows
from engine.messages import render
from engine.run.watch import ChangeError, Watcher, read_change
from test_cli import CHANJIAO
from test_properties import datasets

PACKS, _ = load_packs()
AS_OF = dt.date(2021, 12, 31)
DURABLE = DurableEngine(PACKS)
ENT = make_uscc("420502", 5)


def upsert(record_type, **record):
    return {"op": "upsert", "record_type": record_type, "record": record}


def payment(pid, day):
    return upsert("internship_payments", id=pid, enterprise_id=ENT, school_id="S1", student_id=pid,
                  amount="1000.00", paid_on=day)


def run(watcher, changes):
    out = []
    for n, change in enumerate(changes, 1):
        out.extend(watcher.apply(change, n))
    return out


@pytest.mark.parametrize("engine", [DURABLE, ReferenceEngine(PACKS)], ids=["durable", "reference"])
def test_an_agreement_arriving_and_leaving_flips_three_payments(engine):
    w = Watcher(engine, AS_OF)
    run(w, [upsert("enterprises", id=ENT, name="宜昌", region_code="420502"),
            payment("P1", "2021-03-01"), payment("P2", "2021-04-01"), payment("P3", "2021-05-01")])
    agreement = upsert("agreements", id="A1", enterprise_id=ENT, school_id="S1", signed_on="2021-01-01")
    lines = [l for l in w.apply(agreement, 5) if l["rule_id"] == "yichang.intern_pay_deduction"]
    assert [(l["subject_id"], l["previous"]["status"], l["decision"]["status"]) for l in lines] == [
        ("P1", "not_eligible", "eligible"), ("P2", "not_eligible", "eligible"), ("P3", "not_eligible", "eligible")]
    assert all(l["change"] == {"line": 5, "op": "upsert", "record_type": "agreements", "id": "A1"} for l in lines)
    gone = [l for l in w.apply({"op": "delete", "record_type": "agreements", "record": {"id": "A1"}}, 6)
            if l["rule_id"] == "yichang.intern_pay_deduction"]
    assert [l["decision"]["status"] for l in gone] == ["not_eligible"] * 3
    assert w.apply(payment("P3", "2021-05-01"), 7) == []  # the same record again changes nothing


def test_deleting_a_subject_reports_its_decisions_gone():
    w = Watcher(ReferenceEngine(PACKS), AS_OF)
    run(w, [upsert("land_applications", id="L1", enterprise_id=ENT, region_code="220502",
                   builds_vocational_school=True, in_allocation_catalogue=True)])
    [line] = w.apply({"op": "delete", "record_type": "land_applications", "record": {"id": "L1"}}, 2)
    assert line["decision"] is None and line["previous"]["status"] == "eligible"


@pytest.mark.parametrize("text,fragment", [
    ("not json", "malformed JSON"),
    ('{"op": "merge", "record_type": "schools", "record": {}}', "op must be"),
    ('{"op": "upsert", "record_type": "school", "record": {}}', "record_type must be"),
    ('{"op": "upsert", "record_type": "schools", "record": {"id": "S1"}}', "field name"),
    ('{"op": "delete", "record_type": "schools", "record": {"id": "nope"}}', "no schools record"),
])
def test_bad_changes_are_refused_and_nothing_is_lost(text, fragment):
    w = Watcher(ReferenceEngine(PACKS), AS_OF)
    run(w, [upsert("schools", id="S0", name="学校", region_code="220502", school_type="technical")])
    before = dict(w.decisions)
    with pytest.raises(ChangeError) as info:
        w.apply(read_change(text), 2)
    assert fragment in render(info.value.args[0], "en")
    assert w.decisions == before


@st.composite
def streams(draw):
    raw = draw(datasets())
    ops = [upsert(rtype, **record) for rtype, rows in raw.items() for record in rows]
    ops = draw(st.permutations(ops))
    extra = []
    for op in draw(st.lists(st.sampled_from(ops), max_size=6)) if ops else []:
        extra.append({"op": "delete", "record_type": op["record_type"], "record": {"id": op["record"]["id"]}})
        if draw(st.booleans()):
            extra.append(op)  # re-inserted
    return ops + extra


def _replay(changes):
    state: dict[str, dict[str, dict]] = {}
    for c in changes:
        rows = state.setdefault(c["record_type"], {})
        if c["op"] == "upsert":
            rows[str(c["record"]["id"])] = c["record"]
        elif str(c["record"]["id"]) in rows:
            del rows[str(c["record"]["id"])]
    return {k: list(v.values()) for k, v in state.items()}


@settings(max_examples=600 * SCALE, deadline=None)
@given(streams(), st.sampled_from(["durable", "reference"]))
def test_a_stream_ends_where_a_fresh_check_of_the_final_state_ends(changes, engine):
    w = Watcher(DURABLE if engine == "durable" else ReferenceEngine(PACKS), AS_OF)
    for n, c in enumerate(changes, 1):
        try:
            w.apply(c, n)
        except ChangeError:
            pass  # a delete of a record already deleted
    fresh = evaluate_dataset(validate_rows(_replay(changes)), PACKS, AS_OF)
    assert sorted(w.decisions.values(), key=lambda d: (d["rule_id"], d["subject_type"], d["subject_id"])) \
        == fresh["decisions"]


def test_watch_command(tmp_path):
    lines = [upsert("enterprises", id=ENT, name="宜昌", region_code="420502"), payment("P1", "2021-03-01"),
             "oops", upsert("agreements", id="A1", enterprise_id=ENT, school_id="S1", signed_on="2021-01-01")]
    path = tmp_path / "changes.jsonl"
    path.write_text("\n".join(l if isinstance(l, str) else json.dumps(l) for l in lines) + "\n", encoding="utf-8")
    proc = subprocess.run([CHANJIAO, "watch", str(path), "--as-of", "2021-12-31", "--lang", "zh"], capture_output=True,
                          text=True)
    assert proc.returncode == 1 and "第 3 行：JSON 格式错误" in proc.stderr and "Traceback" not in proc.stderr
    out = [json.loads(l) for l in proc.stdout.splitlines()]
    flipped = [o for o in out if o["change"]["line"] == 4 and o["rule_id"] == "yichang.intern_pay_deduction"]
    assert [(o["subject_id"], o["decision"]["status"]) for o in flipped] == [("P1", "eligible")]


def test_watch_follows_a_computed_lookup_key_by_re_deciding_every_subject_of_the_rule(tmp_path):
    import shutil

    from engine.policy.packs import shipped_packs_dir

    pack = tmp_path / "yichang-2020"
    shutil.copytree(shipped_packs_dir() / "yichang-2020", pack)
    rule = pack / "rules" / "practice_expense_deduction.yaml"
    rule.write_text(rule.read_text(encoding="utf-8").replace("key: subject.enterprise_id}",
                                                             "key: 'coalesce(subject.school_id, subject.enterprise_id)'}"),
                    encoding="utf-8")
    packs, errors = load_packs([pack], include_shipped=False)
    assert not errors
    w = Watcher(ReferenceEngine(packs), AS_OF)
    expense = upsert("practice_expenses", id="E1", enterprise_id=ENT, kind="teacher_practice", amount="10.00",
                     incurred_on="2021-03-01", reasonable=True)
    [before] = [l for l in run(w, [expense]) if l["rule_id"] == "yichang.practice_expense_deduction"]
    assert before["decision"]["status"] == "undetermined"  # its enterprise is not there yet
    lines = w.apply(upsert("enterprises", id=ENT, name="宜昌", region_code="420502"), 2)
    assert [l["decision"]["status"] for l in lines if l["rule_id"] == "yichang.practice_expense_deduction"] \
        == ["eligible"]  # the enterprise reached the expense through the computed key
    assert sorted(w.decisions.values(), key=lambda d: (d["rule_id"], d["subject_type"], d["subject_id"])) \
        == evaluate_dataset(w.dataset, packs, AS_OF)["decisions"]


odd_text = st.text(alphabet=st.sampled_from('\\"\t\x01\x1f\x7f\'{}:/ aé中'), min_size=1, max_size=6)


@settings(max_examples=60 * SCALE, deadline=None)
@given(odd_text, odd_text, odd_text)
def test_ids_with_backslashes_quotes_and_control_characters_leave_no_stale_session(pay, agr, school):
    """A subject id with a backslash, a quote, a tab or another control character: deleting its agreement must
    make the payment not eligible on durable as on the reference (the session must not keep the old facts)."""
    pid, aid, sid = f"P{pay}Z", f"A{agr}Z", f"S{school}Z"
    changes = [upsert("enterprises", id=ENT, name="企业", region_code="420502"),
               upsert("schools", id=sid, name="学校", region_code="420502", school_type="technical"),
               upsert("agreements", id=aid, enterprise_id=ENT, school_id=sid, signed_on="2021-01-01"),
               upsert("internship_payments", id=pid, enterprise_id=ENT, school_id=sid, student_id="x",
                      amount="10.00", paid_on="2021-06-01"),
               {"op": "delete", "record_type": "agreements", "record": {"id": aid}},
               upsert("internship_payments", id=pid, enterprise_id=ENT, school_id=sid, student_id="y",
                      amount="10.00", paid_on="2021-06-02")]
    final = {}
    for engine in (DURABLE, ReferenceEngine(PACKS)):
        w = Watcher(engine, AS_OF)
        run(w, changes)
        final[engine is DURABLE] = w.decisions
    assert final[True] == final[False]
    assert final[True][("yichang.intern_pay_deduction", "internship_payments", pid)]["status"] == "not_eligible"


def test_watch_on_auto_keeps_the_reference_evaluator_and_durable_only_when_asked():
    """durable-rules' C engine can die with SIGSEGV, and in watch it would take the watching process with it."""
    from engine.cli import EngineName, _engine
    from engine.engines.reference import ReferenceEngine as Reference

    with _engine(EngineName.auto, PACKS) as eng:
        assert isinstance(eng, Reference)
    with _engine(EngineName.durable, PACKS) as eng:
        assert isinstance(eng, DurableEngine)
