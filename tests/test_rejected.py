"""Rejected input is unknown, never absent: on every engine, a decision a rejected record could change is
undetermined and names it; replacing a rejected record by any valid one with the same readable fields never
changes a definite decision."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SCALE, make_uscc, write_formats
from engine.engines.durable import DurableEngine
from engine.engines.vectorised import VectorisedEngine
from engine.engines.reference import ReferenceEngine, evaluate_dataset
from engine.policy.packs import load_packs
from engine.data.records import field_kinds, validate_rows
from engine.run.watch import Watcher
from test_properties import datasets
from test_stream import assert_same_as_reference

PACKS, _ = load_packs()
AS_OF = dt.date(2021, 12, 31)
DURABLE = DurableEngine(PACKS)
ENT = make_uscc("220502", 1)
ENT2 = make_uscc("220502", 2)

# an invalid value for each kind of field (text has none: only a required text left empty is unreadable)
BAD = {"date": "2021-02-30", "money": "1.001", "bool": "maybe", "int": "x", "region_code": "99",
       "uscc": "91220502MA0000000X", "enum": "nope", "text": ""}


def _case():
    """Tonghua: a key enterprise whose only municipal school was rejected, a rejected agreement of another
    enterprise, a rejected certificate, and a clean enterprise that nothing rejected can reach."""
    ents = [{"id": e, "name": f"企业{k}", "region_code": "220502", "total_wages": "1000000.00",
             "education_fund": "20000.00", "frontline_training_spend": "15000.00", "is_key_enterprise": True}
            for k, e in enumerate((ENT, ENT2, make_uscc("220502", 3)))]
    return {
        "enterprises": ents,
        "schools": [{"id": "S1", "name": "甲校", "region_code": "220502", "school_type": "secondary_vocational",
                     "is_municipal": "perhaps", "demonstration_project": True, "enrolled_students": 100},
                    {"id": "S2", "name": "乙校", "region_code": "220502", "school_type": "technical",
                     "is_municipal": True}],
        "agreements": [{"id": "A1", "enterprise_id": ENT, "school_id": "S1", "signed_on": "2021-01-01"},
                       {"id": "A2", "enterprise_id": ENT2, "school_id": "S2", "signed_on": "2021-01-01",
                        "valid_from": "2021-13-01"}],
        "internship_payments": [{"id": "P1", "enterprise_id": ENT2, "school_id": "S2", "student_id": "x",
                                 "amount": "100.00", "paid_on": "2021-06-01"}],
        "certificates": [{"id": "C1", "employee_id": "e1", "enterprise_id": ENT, "insured": True,
                          "obtained_on": "2021-02-30"},
                         {"id": "C2", "employee_id": "e2", "enterprise_id": ENT, "insured": True,
                          "obtained_on": "2021-03-01"}],
    }


def _by_key(doc):
    return {(d["rule_id"], d["subject_id"]): d for d in doc["decisions"]}


def test_rejected_agreements_schools_and_certificates_make_their_decisions_undetermined():
    ds = validate_rows(_case())
    doc = evaluate_dataset(ds, PACKS, AS_OF)
    got = _by_key(doc)
    coop = got[("tonghua.key_enterprise_cooperation", ENT)]
    assert coop["status"] == "undetermined"
    assert coop["rejected_inputs"] == [{"record_type": "schools", "row": 1, "id": "S1"}]
    assert coop["reasons"][0] == "学校 S1（第 1 行）被拒绝，无法判断"
    other = got[("tonghua.key_enterprise_cooperation", ENT2)]
    assert other["status"] == "undetermined"
    assert other["rejected_inputs"] == [{"record_type": "agreements", "row": 2, "id": "A2"}]
    pay = got[("yichang.intern_pay_deduction", "P1")]  # outside Yichang whatever the agreement says
    assert pay["status"] == "not_applicable" and "rejected_inputs" not in pay
    cert = got[("tonghua.certificate_subsidy", "C1")]  # the rejected certificate itself: unknown, not absent
    assert cert["status"] == "undetermined" and cert["subject_type"] == "certificates"
    assert cert["rejected_inputs"] == [{"record_type": "certificates", "row": 1, "id": "C1"}]
    assert cert["amount"] is None and cert["amount_min"] is None
    assert got[("tonghua.certificate_subsidy", "C2")]["status"] == "eligible"
    third = make_uscc("220502", 3)
    assert got[("tonghua.key_enterprise_cooperation", third)]["status"] == "non_compliant"  # nothing rejected reaches it
    assert "rejected_inputs" not in got[("tonghua.education_fund_ratio", ENT)]  # reads no rejected type
    assert doc["summary"]["by_rule"]["tonghua.certificate_subsidy"]["undetermined"] == 1
    [warning] = [w for w in doc["warnings"] if w["field"] == "school_id"]
    assert warning["message"] == "学校代码（school_id）“S1”是学校（schools）中被拒绝的记录（第 1 行）：相关事实未知"


def test_a_payment_whose_agreement_was_rejected_is_undetermined():
    yc = make_uscc("420502", 7)
    raw = {"enterprises": [{"id": yc, "name": "宜昌企业", "region_code": "420502"}],
           "schools": [{"id": "S1", "name": "学校", "region_code": "420502", "school_type": "technical"}],
           "agreements": [{"id": "XQ-2020-011", "enterprise_id": yc, "school_id": "S1", "signed_on": "2020-01-01",
                           "valid_from": "2020-01-32"}],
           "internship_payments": [{"id": "P1", "enterprise_id": yc, "school_id": "S1", "student_id": "x",
                                    "amount": "100.00", "paid_on": "2021-06-01"}]}
    before = _by_key(evaluate_dataset(validate_rows({k: v for k, v in raw.items() if k != "agreements"}),
                                      PACKS, AS_OF))[("yichang.intern_pay_deduction", "P1")]
    assert before["status"] == "not_eligible"  # what the rejected agreement's absence would wrongly say
    pay = _by_key(evaluate_dataset(validate_rows(raw), PACKS, AS_OF))[("yichang.intern_pay_deduction", "P1")]
    assert pay["status"] == "undetermined" and pay["amount"] is None
    assert pay["rejected_inputs"] == [{"record_type": "agreements", "row": 1, "id": "XQ-2020-011"}]
    assert pay["reasons"] == ["校企合作协议 XQ-2020-011（第 1 行）被拒绝，无法判断"]


def test_an_unreadable_key_makes_every_decision_reading_the_type_undetermined():
    raw = _case()
    raw["agreements"].append({"id": "A3", "enterprise_id": "", "school_id": "S2", "signed_on": "2021-01-01"})
    got = _by_key(evaluate_dataset(validate_rows(raw), PACKS, AS_OF))
    third = make_uscc("220502", 3)
    decision = got[("tonghua.key_enterprise_cooperation", third)]
    assert decision["status"] == "undetermined"
    assert {"record_type": "agreements", "row": 3, "id": "A3"} in decision["rejected_inputs"]
    assert "rejected_inputs" not in got[("tonghua.frontline_share", third)]


def test_an_unreadable_enterprise_id_reaches_only_dangling_references():
    raw = _case()
    raw["enterprises"].append({"id": "not-a-uscc", "name": "坏", "region_code": "220502"})
    raw["certificates"].append({"id": "C3", "employee_id": "e3", "enterprise_id": make_uscc("220502", 9),
                                "insured": True, "obtained_on": "2021-03-01"})
    got = _by_key(evaluate_dataset(validate_rows(raw), PACKS, AS_OF))
    assert got[("tonghua.certificate_subsidy", "C3")]["rejected_inputs"] == [
        {"record_type": "enterprises", "row": 4, "id": None}]
    assert "企业（第 4 行，编号无法读取）被拒绝，无法判断" in got[("tonghua.certificate_subsidy", "C3")]["reasons"]
    assert got[("tonghua.certificate_subsidy", "C2")]["status"] == "eligible"  # its employer was found


@pytest.mark.parametrize("engine", ["durable", "vectorised"])
def test_every_in_memory_engine_gives_the_reference_document(engine):
    ds = validate_rows(_case())
    want = evaluate_dataset(ds, PACKS, AS_OF)
    eng = DURABLE if engine == "durable" else VectorisedEngine(PACKS)
    assert json.dumps(eng.evaluate_dataset(ds, AS_OF), ensure_ascii=False) == json.dumps(want, ensure_ascii=False)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_the_stream_gives_the_reference_decisions(tmp_path, fmt):
    folder = write_formats(_case(), tmp_path / "in")["csv"]
    assert_same_as_reference(folder, tmp_path, fmt, 1)


def test_watch_starts_from_the_rejected_records_and_a_valid_change_supersedes_one():
    ds = validate_rows(_case())
    w = Watcher(ReferenceEngine(PACKS), AS_OF, dataset=ds)
    want = evaluate_dataset(validate_rows(_case()), PACKS, AS_OF)["decisions"]
    assert sorted(w.decisions.values(), key=lambda d: (d["rule_id"], d["subject_type"], d["subject_id"])) == want
    fixed = {"id": "S1", "name": "甲校", "region_code": "220502", "school_type": "secondary_vocational",
             "is_municipal": True, "demonstration_project": True, "enrolled_students": 100}
    lines = w.apply({"op": "upsert", "record_type": "schools", "record": fixed}, 1)
    changed = {(x["rule_id"], x["subject_id"]): x["decision"]["status"] for x in lines}
    assert changed[("tonghua.key_enterprise_cooperation", ENT)] == "compliant"
    assert changed[("tonghua.school_subsidy", "S1")] == "eligible"


# ------------------------------------------------------------------------------------------ the law


@st.composite
def corrupted(draw):
    """A valid dataset and the same dataset with some records made unreadable in some fields."""
    raw = draw(datasets())
    bad = {k: [dict(r) for r in rows] for k, rows in raw.items()}
    spots = [(k, i) for k, rows in raw.items() for i in range(len(rows))]
    for rtype, i in draw(st.lists(st.sampled_from(spots), max_size=3, unique=True)) if spots else []:
        kinds = field_kinds(rtype)
        names = [n for n, kind in kinds.items() if kind.name != "text" or kind.required]
        for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True)):
            bad[rtype][i][name] = BAD[kinds[name].name]
    return raw, bad


def _definite(doc):
    return {(d["rule_id"], d["subject_id"]): (d["status"], d["amount"], d["amount_min"], d["amount_max"])
            for d in doc["decisions"] if d["status"] != "undetermined"}


@settings(max_examples=80 * SCALE, deadline=None)
@given(corrupted())
def test_replacing_a_rejected_record_by_a_valid_one_never_changes_a_definite_decision(pair):
    valid, rejected = pair
    with_rejected = evaluate_dataset(validate_rows(rejected), PACKS, AS_OF)
    replaced = {(d["rule_id"], d["subject_id"]): (d["status"], d["amount"], d["amount_min"], d["amount_max"])
                for d in evaluate_dataset(validate_rows(valid), PACKS, AS_OF)["decisions"]}
    for key, outcome in _definite(with_rejected).items():
        assert replaced[key] == outcome, key
    for d in with_rejected["decisions"]:
        if d.get("rejected_inputs"):
            assert d["status"] == "undetermined" and d["amount"] is None


@settings(max_examples=15 * SCALE, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(corrupted(), st.sampled_from(["durable", "vectorised", "watch", "stream"]))
def test_every_engine_agrees_on_rejected_records(tmp_path_factory, pair, engine):
    _, rejected = pair
    assert_engine_agrees(tmp_path_factory, rejected, engine)



def test_explain_decides_as_check_does():
    from engine.run import Checker

    checker = Checker()
    trace = checker.explain(validate_rows(_case()), "tonghua.key_enterprise_cooperation", ENT, as_of=AS_OF)
    assert trace.decision.status == "undetermined"
    assert [r.as_dict() for r in trace.decision.rejected_inputs] == [{"record_type": "schools", "row": 1, "id": "S1"}]
    assert "schools S1 被拒绝（第 1 行）" in trace.decision.reasons[1]  # not "不在数据集中": it was there, rejected


@settings(max_examples=25 * SCALE, deadline=None)
@given(corrupted(), st.data(), st.sampled_from(["durable", "reference"]))
def test_watch_from_rejected_records_ends_where_a_fresh_check_ends(pair, data, engine):
    """Start from a dataset with rejected records, upsert valid records (some with a rejected record's id, which
    they replace): the decisions are those of a fresh check of the final rows."""
    valid, rejected = pair
    w = Watcher(DURABLE if engine == "durable" else ReferenceEngine(PACKS), AS_OF, dataset=validate_rows(rejected))
    final = {k: list(rows) for k, rows in rejected.items()}
    ops = [(k, r) for k, rows in valid.items() for r in rows]
    for n, (rtype, record) in enumerate(data.draw(st.lists(st.sampled_from(ops), max_size=6)) if ops else [], 1):
        w.apply({"op": "upsert", "record_type": rtype, "record": record}, n)
        rows = final[rtype]
        at = next((i for i, r in enumerate(rows) if str(r.get("id")) == str(record["id"])), None)
        if at is None:
            rows.append(record)
        else:
            rows[at] = record
    fresh = evaluate_dataset(validate_rows(final), PACKS, AS_OF)["decisions"]
    got = sorted(w.decisions.values(), key=lambda d: (d["rule_id"], d["subject_type"], d["subject_id"]))
    assert got == fresh


# ------------------------------------------------------- rows rejected by the readers, repeated ids, places


def _xlsx(tmp_path, sheets):
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(tmp_path / "x.xlsx")
    return tmp_path / "x.xlsx"


def _tonghua_xlsx(tmp_path, agreement_valid_to="2022-12-31", education_fund="20000.00", region="220502"):
    return _xlsx(tmp_path, {
        "企业": [["id", "name", "region_code", "total_wages", "education_fund", "frontline_training_spend",
                "is_key_enterprise"],
               [ENT, "甲", region, "1000000.00", education_fund, "15000.00", "是"]],
        "学校": [["id", "name", "region_code", "school_type", "is_municipal"], ["S1", "甲校", region, "technical", "是"]],
        "校企合作协议": [["id", "enterprise_id", "school_id", "signed_on", "valid_from", "valid_to"],
                   ["A1", ENT, "S1", "2021-01-01", "2021-01-01", agreement_valid_to]],
        "实习报酬": [["id", "enterprise_id", "school_id", "student_id", "amount", "paid_on"],
                 ["P1", ENT, "S1", "x", "100.00", "2021-06-01"]],
    })


def test_a_formula_without_a_cached_value_is_rejected_input_named_at_its_cell(tmp_path):
    from engine.data.loaders import load_dataset

    ds = load_dataset(_tonghua_xlsx(tmp_path, agreement_valid_to="=DATE(2021,12,31)", region="420502"))
    assert [e.place for e in ds.errors] == ["校企合作协议!F2"]
    got = _by_key(evaluate_dataset(ds, PACKS, AS_OF))
    pay = got[("yichang.intern_pay_deduction", "P1")]
    assert pay["status"] == "undetermined", pay  # not "数据集中无此协议": the agreement is there, rejected
    assert pay["rejected_inputs"] == [{"record_type": "agreements", "row": 1, "id": "A1", "place": "校企合作协议!F2"}]
    assert pay["reasons"][0] == "校企合作协议 A1（校企合作协议!F2）被拒绝，无法判断"


def test_an_enterprise_with_a_formula_is_undetermined_not_absent(tmp_path):
    from engine.data.loaders import load_dataset

    ds = load_dataset(_tonghua_xlsx(tmp_path, education_fund="=E1*0.015"))
    assert [e.place for e in ds.errors] == ["企业!E2"]
    assert not any("不在本数据集" in w.message for w in ds.warnings)
    got = _by_key(evaluate_dataset(ds, PACKS, AS_OF))
    own = [d for (rule, sid), d in got.items() if sid == ENT]
    assert own and all(d["status"] == "undetermined" for d in own)  # it gets decisions of its own, undetermined
    assert all(d["rejected_inputs"] == [{"record_type": "enterprises", "row": 1, "id": ENT, "place": "企业!E2"}]
               for d in own)


def test_a_ragged_csv_row_is_an_unreadable_record_of_its_type(tmp_path):
    from engine.data.loaders import load_dataset

    folder = write_formats(_case(), tmp_path / "in")["csv"]
    with open(folder / "agreements.csv", "a", encoding="utf-8") as fh:
        fh.write("A9,有,逗号,的,行,多,出,来\n")
    ds = load_dataset(folder)
    [ragged] = [r for r in ds.rejected if r.place == "agreements.csv:4"]
    assert (ragged.row, ragged.id, ragged.fields) == (0, None, ())
    got = _by_key(evaluate_dataset(ds, PACKS, AS_OF))
    third = got[("tonghua.key_enterprise_cooperation", make_uscc("220502", 3))]
    assert third["status"] == "undetermined"  # it reads agreements by enterprise: the unread row could be its
    assert {"record_type": "agreements", "row": 0, "id": None, "place": "agreements.csv:4"} in third["rejected_inputs"]
    assert "校企合作协议有未能读取的行（agreements.csv:4），无法判断" in third["reasons"]
    assert_same_as_reference(folder, tmp_path, "jsonl", 1)


def test_a_second_source_and_a_repeated_json_key_leave_their_type_unknown(tmp_path):
    from engine.data.loaders import load_dataset

    raw = _case()
    del raw["certificates"]
    (tmp_path / "a.json").write_text(json.dumps(raw, ensure_ascii=False)[:-1] + ', "agreements": []}', encoding="utf-8")
    assert not [r for r in load_dataset(tmp_path / "a.json").rejected if r.row == 0]  # an empty repeat: nothing unread
    (tmp_path / "a.json").write_text(json.dumps(raw, ensure_ascii=False)[:-1] + ', "agreements": [{"id": "A7"}]}',
                                     encoding="utf-8")
    [unread] = [r for r in load_dataset(tmp_path / "a.json").rejected if r.row == 0]
    assert unread.record_type == "agreements" and unread.fields == ()


def test_row_level_problems_leave_the_other_fields_readable():
    from engine.data.records import ROW_PROBLEM

    raw = _case()
    raw["internship_payments"][0][ROW_PROBLEM] = ("amount", "=1+1", "公式没有缓存值")
    ds = validate_rows(raw)
    [r] = [r for r in ds.rejected if r.record_type == "internship_payments"]
    assert r.id == "P1" and not r.readable("amount") and r.value("school_id") == "S2"


@st.composite
def row_problems(draw):
    """A valid dataset and the same with some rows rejected by a reader's row-level check on one field."""
    from engine.data.records import ROW_PROBLEM

    raw = draw(datasets())
    bad = {k: [dict(r) for r in rows] for k, rows in raw.items()}
    spots = [(k, i) for k, rows in raw.items() for i in range(len(rows))]
    for rtype, i in draw(st.lists(st.sampled_from(spots), max_size=3, unique=True)) if spots else []:
        name = draw(st.sampled_from(list(field_kinds(rtype))))
        bad[rtype][i][ROW_PROBLEM] = (name, bad[rtype][i].get(name), "公式没有缓存值")
    return raw, bad


@settings(max_examples=60 * SCALE, deadline=None)
@given(row_problems())
def test_a_row_rejected_by_a_reader_is_unknown_and_never_changes_a_definite_decision(pair):
    valid, rejected = pair
    ds = validate_rows(rejected)
    assert {(r.record_type, r.row) for r in ds.rejected} == {(e.record_type, e.row) for e in ds.errors}
    with_rejected = evaluate_dataset(ds, PACKS, AS_OF)
    replaced = {(d["rule_id"], d["subject_id"]): (d["status"], d["amount"], d["amount_min"], d["amount_max"])
                for d in evaluate_dataset(validate_rows(valid), PACKS, AS_OF)["decisions"]}
    for key, outcome in _definite(with_rejected).items():
        assert replaced[key] == outcome, key


@st.composite
def repeated(draw):
    """A valid dataset, the same with some records' ids repeated by a later (valid, maybe different) row, and
    the dataset as if the user had meant the repeat (it in the first one's place)."""
    raw = draw(datasets())
    spots = [(k, i) for k, rows in raw.items() for i in range(len(rows))]
    with_repeat = {k: [dict(r) for r in rows] for k, rows in raw.items()}
    meant = {k: [dict(r) for r in rows] for k, rows in raw.items()}
    for rtype, i in draw(st.lists(st.sampled_from(spots), min_size=1, max_size=2, unique=True)) if spots else []:
        other = draw(st.sampled_from(raw[rtype]))
        repeat = {**other, "id": raw[rtype][i]["id"]}
        with_repeat[rtype].append(repeat)
        meant[rtype][i] = repeat
    return with_repeat, meant


@settings(max_examples=60 * SCALE, deadline=None)
@given(repeated())
def test_a_discarded_repeat_is_rejected_input_whichever_row_was_meant(pair):
    with_repeat, meant = pair
    ds = validate_rows(with_repeat)
    repeats = [e for e in ds.errors if e.field == "id" and e.readable]
    assert {(r.record_type, r.row) for r in ds.rejected} == {(e.record_type, e.row) for e in repeats}
    doc = evaluate_dataset(ds, PACKS, AS_OF)
    if_meant = {(d["rule_id"], d["subject_id"]): (d["status"], d["amount"], d["amount_min"], d["amount_max"])
                for d in evaluate_dataset(validate_rows(meant), PACKS, AS_OF)["decisions"]}
    for key, outcome in _definite(doc).items():
        assert if_meant[key] == outcome, key
    for r in ds.rejected:  # the decisions about the repeated subject itself say so
        for d in doc["decisions"]:
            if d["subject_type"] == r.record_type and d["subject_id"] == r.id:
                assert d["status"] == "undetermined" and r.as_dict() in d["rejected_inputs"]


@settings(max_examples=10 * SCALE, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(repeated(), st.sampled_from(["durable", "vectorised", "watch", "stream"]))
def test_every_engine_agrees_on_repeated_ids(tmp_path_factory, pair, engine):
    with_repeat, _ = pair
    assert_engine_agrees(tmp_path_factory, with_repeat, engine)


def assert_engine_agrees(tmp_path_factory, raw, engine: str) -> None:
    """``engine`` (durable, vectorised, watch from the dataset, or the stream with 2 workers) gives the reference's
    document on the raw dataset ``raw``."""
    ds = validate_rows(raw)
    want = evaluate_dataset(ds, PACKS, AS_OF)
    if engine == "stream":
        base = tmp_path_factory.mktemp("r")
        assert_same_as_reference(write_formats(raw, base / "in")["csv"], base, "jsonl", 2)
        return
    if engine == "watch":
        w = Watcher(ReferenceEngine(PACKS), AS_OF, dataset=ds)
        got = sorted(w.decisions.values(), key=lambda d: (d["rule_id"], d["subject_type"], d["subject_id"]))
        assert got == want["decisions"]
        return
    eng = DURABLE if engine == "durable" else VectorisedEngine(PACKS)
    assert json.dumps(eng.evaluate_dataset(ds, AS_OF), ensure_ascii=False, default=str) == \
        json.dumps(want, ensure_ascii=False, default=str)


def _many_unreadable_agreements(n: int):
    raw = _case()
    raw["agreements"] += [{"id": f"AX{k:02d}", "enterprise_id": "", "school_id": "S2", "signed_on": "2021-01-01"}
                          for k in range(n)]
    return raw


def test_a_decision_lists_at_most_twenty_rejected_inputs_and_counts_them_all():
    got = _by_key(evaluate_dataset(validate_rows(_many_unreadable_agreements(30)), PACKS, AS_OF))
    d = got[("tonghua.key_enterprise_cooperation", make_uscc("220502", 3))]
    assert d["status"] == "undetermined"
    assert len(d["rejected_inputs"]) == 20 and d["rejected_inputs_total"] == 30
    assert [r["row"] for r in d["rejected_inputs"]] == list(range(3, 23))  # the first, in row order
    assert "另有 27 条被拒绝的记录可能影响本决定，无法判断" in d["reasons"]
    few = _by_key(evaluate_dataset(validate_rows(_many_unreadable_agreements(20)), PACKS, AS_OF))
    d = few[("tonghua.key_enterprise_cooperation", make_uscc("220502", 3))]
    assert len(d["rejected_inputs"]) == 20 and "rejected_inputs_total" not in d  # the whole list: no count


@pytest.mark.parametrize("engine", ["durable", "vectorised", "watch", "stream"])
def test_every_engine_cuts_the_list_alike(tmp_path_factory, engine):
    assert_engine_agrees(tmp_path_factory, _many_unreadable_agreements(25), engine)


def test_the_document_stays_linear_in_rejected_rows_times_decisions():
    raw = _many_unreadable_agreements(400)
    raw["internship_payments"] += [dict(raw["internship_payments"][0], id=f"PX{k}") for k in range(400)]
    doc = evaluate_dataset(validate_rows(raw), PACKS, AS_OF)
    assert max(len(d.get("rejected_inputs", [])) for d in doc["decisions"]) == 20
    assert len(json.dumps(doc, ensure_ascii=False)) < 4_000_000  # 400 × 400 listed would be over 20 MB


@pytest.mark.parametrize("engine", ["durable", "reference"])
def test_watch_redecides_what_a_superseded_record_reached_through_another_rejected_one(engine):
    """Found by the watch property: the rejected school S1 reached the enterprise only through a rejected agreement
    (id unreadable, school_id S1); a valid S1 must take S1 out of the enterprise's rejected inputs."""
    school = {"id": "S1", "name": "", "region_code": "220502", "school_type": "secondary_vocational",
              "is_municipal": True}
    raw = {"enterprises": [{"id": ENT, "name": "企业", "region_code": "220502", "is_key_enterprise": True}],
           "schools": [school],
           "agreements": [{"id": "", "enterprise_id": ENT, "school_id": "S1", "signed_on": "2019-01-01"}]}
    w = Watcher(DURABLE if engine == "durable" else ReferenceEngine(PACKS), AS_OF, dataset=validate_rows(raw))
    before = w.decisions[("tonghua.key_enterprise_cooperation", "enterprises", ENT)]
    assert {"record_type": "schools", "row": 1, "id": "S1"} in before["rejected_inputs"]
    valid = dict(school, name="甲校")
    w.apply({"op": "upsert", "record_type": "schools", "record": valid}, 1)
    fresh = evaluate_dataset(validate_rows(dict(raw, schools=[valid])), PACKS, AS_OF)["decisions"]
    got = sorted(w.decisions.values(), key=lambda d: (d["rule_id"], d["subject_type"], d["subject_id"]))
    assert got == fresh
    assert w.decisions[("tonghua.key_enterprise_cooperation", "enterprises", ENT)]["rejected_inputs"] == [
        {"record_type": "agreements", "row": 1, "id": None}]


def test_the_xlsx_report_says_how_many_rejected_inputs_a_cut_list_stands_for(tmp_path):
    from openpyxl import load_workbook

    from engine.output.xlsx_report import write_report_xlsx

    doc = evaluate_dataset(validate_rows(_many_unreadable_agreements(30)), PACKS, AS_OF)
    write_report_xlsx(doc, tmp_path / "r.xlsx")
    cells = [str(c) for ws in load_workbook(tmp_path / "r.xlsx", read_only=True).worksheets
             for row in ws.iter_rows(values_only=True) for c in row if c]
    assert any("共 30 条" in c and "agreements 第 22 行" in c for c in cells)
