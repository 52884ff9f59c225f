"""What the generated-pack fuzzer (test_any_pack.py) found, each kept as a small rule decided by every engine."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import make_uscc
from engine.engines.durable import DurableEngine
from engine.engines.vectorised import VectorisedEngine
from engine.engines.reference import evaluate_dataset
from engine.policy.packs import load_packs
from engine.data.records import validate_rows
from strategies_packs import PackSpec, write_pack

AS_OF = dt.date(2021, 12, 31)
ENT = make_uscc("220502", 1)
PACK = {"id": "fuzz-2020", "document": {"number": "生成〔2020〕1号", "title": "生成的政策文件", "issuer": "生成机关",
                                        "issued_on": dt.date(2020, 1, 1), "source": "source.txt",
                                        "jurisdiction": "生成市", "region_prefixes": ["2205"]}}


def rule(subject: str, test: str, lookups: dict | None = None, **more) -> dict:
    """A rule of the generated pack with one criterion."""
    return {"id": "fuzz.r0", "title": "t", "effect": "benefit", "subject": subject,
            "citation": {"clause": "第1条", "quote": "企业应当依法合作"},
            "scope": {"region": "'220502'", "region_label": "所在地"}, **({"lookups": lookups} if lookups else {}),
            "criteria": [{"id": "c0", "label": "条件", "test": test, "fail": "未满足"}], **more}


def decide_everywhere(tmp_path: Path, rules: dict, raw: dict, params: dict | None = None) -> list[dict]:
    """The reference's decisions of the rule(s), after checking durable (refusals to the reference) and the
    vectorised backend give the same document."""
    spec = PackSpec({**PACK, **({"parameters": params} if params else {})}, rules)
    packs, errors = load_packs([write_pack(spec, tmp_path / "pack")], include_shipped=False)
    assert not errors, errors
    ds = validate_rows(raw)
    doc = evaluate_dataset(ds, packs, AS_OF)
    want = json.dumps(doc, ensure_ascii=False)
    assert json.dumps(VectorisedEngine(packs).evaluate_dataset(ds, AS_OF), ensure_ascii=False) == want
    with DurableEngine(packs, fallback=True) as eng:
        assert json.dumps(eng.evaluate_dataset(ds, AS_OF), ensure_ascii=False) == want
    return doc["decisions"]


ENTERPRISE = {"id": ENT, "name": "x", "region_code": "220502"}


def test_an_aggregate_over_a_list_comprehension_whose_if_is_unknown_is_unknown(tmp_path):
    """The reference crashed ('Unknown' object is not iterable) on sum([... if unknown])."""
    r = rule("enterprises", "sum([p.amount for p in pays if subject.is_key_enterprise]) > 0",
             {"pays": {"record_type": "internship_payments", "by": "enterprise_id", "key": "subject.id", "many": True}})
    pay = {"id": "P1", "enterprise_id": ENT, "school_id": "S1", "student_id": "s", "amount": "10.00",
           "paid_on": "2021-01-01"}
    [d] = decide_everywhere(tmp_path, {"r0": r}, {"enterprises": [ENTERPRISE], "internship_payments": [pay]})
    assert d["status"] == "undetermined" and d["missing_facts"] == ["enterprises.is_key_enterprise"]
    [d] = decide_everywhere(tmp_path, {"r0": r}, {"enterprises": [{**ENTERPRISE, "is_key_enterprise": True}],
                                                 "internship_payments": [pay]})
    assert d["status"] == "eligible"


def test_count_of_a_lookup_whose_key_is_unknown_is_unknown(tmp_path):
    """count(L) over a many-lookup keyed by an optional field that is empty: unknown, naming that field."""
    r = rule("practice_expenses", "count(ags) > 0",
             {"ags": {"record_type": "agreements", "by": "school_id", "key": "subject.school_id", "many": True}})
    expense = {"id": "E1", "enterprise_id": ENT, "kind": "teacher_practice", "amount": "1.00",
               "incurred_on": "2021-01-01"}
    [d] = decide_everywhere(tmp_path, {"r0": r}, {"practice_expenses": [expense]})
    assert d["status"] == "undetermined" and d["missing_facts"] == ["practice_expenses.school_id"]


def test_coalesce_of_a_quotient_of_two_fields(tmp_path):
    """The vectorised backend crashed when the engine was built ('truth value of an array is ambiguous'): a quotient
    of two columns has a denominator per row. Now that rule goes to the reference, with the same document."""
    r = rule("enterprises", "coalesce(subject.education_fund / subject.total_wages, 2) > 0.015")
    decisions = decide_everywhere(tmp_path, {"r0": r}, {"enterprises": [
        {**ENTERPRISE, "total_wages": "100.00", "education_fund": "1.00"},
        {**ENTERPRISE, "id": make_uscc("220502", 2), "education_fund": "1.00"},
        {**ENTERPRISE, "id": make_uscc("220502", 3), "total_wages": "0", "education_fund": "1.00"}]})
    assert [d["status"] for d in decisions] == ["not_eligible", "eligible", "undetermined"]


def test_the_streams_evaluation_errors_are_in_the_documents_order(tmp_path):
    """Two rules dividing by zero for enterprises in different partitions: the stream listed the errors partition by
    partition (r0 E1, r1 E1, r0 E2, …), the document rule by rule in input order (r0 E1, r0 E2, …)."""
    from conftest import write_formats
    from test_any_pack import streamed_matches_reference

    r0 = rule("enterprises", "subject.education_fund / subject.total_wages > 0")
    r1 = {**rule("enterprises", "subject.frontline_training_spend / subject.total_wages > 0"), "id": "fuzz.r1"}
    spec = PackSpec(PACK, {"r0": r0, "r1": r1})
    packs, errors = load_packs([write_pack(spec, tmp_path / "pack")], include_shipped=False)
    assert not errors
    ents = [{**ENTERPRISE, "id": make_uscc("220502", i), "total_wages": "0", "education_fund": "1",
             "frontline_training_spend": "1"} for i in (5, 3, 1, 4)]
    folder = write_formats({"enterprises": ents}, tmp_path / "data")["csv"]
    (tmp_path / "out").mkdir()
    assert streamed_matches_reference(folder, tmp_path / "out", packs, AS_OF, chunk=1, workers=2) == "decided"


PAYMENT = {"id": "P1", "enterprise_id": make_uscc("420502", 99), "school_id": "S1", "student_id": "s",
           "amount": "10.00", "paid_on": "2021-01-01"}  # its enterprise is not in the dataset


@pytest.mark.parametrize("test, lookups, why", [
    ("count(a for a in ags) > 0",
     {"ags": {"record_type": "agreements", "by": "school_id", "key": "subject.school_id", "many": True}},
     "a test reads ags, a list of agreements, as a whole"),
    ("missing(ent.total_wages)", {"ent": {"record_type": "enterprises", "key": "subject.enterprise_id"}},
     "uses known(), missing() or coalesce()"),
    ("coalesce(ent.total_wages, 0) >= 0", {"ent": {"record_type": "enterprises", "key": "subject.enterprise_id"}},
     "uses known(), missing() or coalesce()"),
    ("any(e.amount > 0 for e in exps)",
     {"exps": {"record_type": "practice_expenses", "by": "school_id", "key": "subject.school_id", "many": True}},
     "which may be absent"),
    ("true == ((1 >= 0) or ent.credit_blacklisted)",
     {"ent": {"record_type": "enterprises", "key": "subject.enterprise_id"}},
     "may be decided even when no enterprises record is found"),
    ("ag.signed_on <= subject.paid_on",
     {"ag": {"record_type": "agreements", "by": "enterprise_id", "key": "subject.enterprise_id"}},
     "takes one agreements record by enterprise_id"),
])
def test_durable_refuses_per_rule_what_it_cannot_express_and_the_reference_decides_it(tmp_path, test, lookups, why):
    """Each of these crashed durable or made it disagree ('RecordRef' object is not iterable, BackendMismatch)."""
    from engine.engines.durable_compile import compile_rules

    agreement = {"id": "A1", "enterprise_id": PAYMENT["enterprise_id"], "school_id": "S1", "signed_on": "2020-01-01"}
    kept = {**rule("enterprises", "true"), "id": "fuzz.kept"}  # a rule durable runs, in the same pack
    rules = {"r0": rule("internship_payments", test, lookups), "kept": kept}
    decisions = decide_everywhere(tmp_path, rules, {"internship_payments": [PAYMENT], "agreements": [agreement],
                                                    "enterprises": [ENTERPRISE]})
    assert len(decisions) == 2
    packs, _ = load_packs([tmp_path / "pack"], include_shipped=False)
    refused = compile_rules(packs).refused
    assert list(refused) == ["fuzz.r0"] and why in refused["fuzz.r0"]


def test_any_with_an_unknown_if_is_unknown_not_true(tmp_path):
    """The vectorised backend took an item whose 'if' is unknown as true: any(true for a in L if unknown) gave
    eligible where the reference says undetermined (Kleene: unknown and true is unknown)."""
    r = rule("internship_payments", "any(true for a in ags if sch.is_municipal)",
             {"sch": {"record_type": "schools", "key": "subject.school_id"},
              "ags": {"record_type": "agreements", "by": "school_id", "key": "subject.school_id", "many": True}})
    pay = {"id": "P1", "enterprise_id": ENT, "school_id": "S1", "student_id": "s", "amount": "1.00",
           "paid_on": "2021-01-01"}
    school = {"id": "S1", "name": "x", "region_code": "220502", "school_type": "technical"}
    agreement = {"id": "A1", "enterprise_id": ENT, "school_id": "S1", "signed_on": "2020-01-01"}
    [d] = decide_everywhere(tmp_path, {"r0": r}, {"internship_payments": [pay], "schools": [school],
                                                 "agreements": [agreement]})
    assert d["status"] == "undetermined" and d["missing_facts"] == ["schools.is_municipal"]


def test_a_related_record_written_into_a_reason_when_its_key_is_unknown_is_未知(tmp_path):
    """The reference wrote "Unknown(missing=frozenset({...}))" into the reason, the vectorised backend an empty
    string: a record looked up by an unknown key is 未知; one looked up by a key no record has is that key."""
    r = rule("practice_expenses", "false", {"sch": {"record_type": "schools", "key": "subject.school_id"}})
    r["criteria"][0]["fail"] = "学校 {sch} 不符合"
    expense = {"id": "E1", "enterprise_id": ENT, "kind": "teacher_practice", "amount": "1.00",
               "incurred_on": "2021-01-01"}
    decisions = decide_everywhere(tmp_path, {"r0": r}, {"practice_expenses": [
        expense, {**expense, "id": "E2", "school_id": "S9"}, {**expense, "id": "E3", "school_id": "S1"}],
        "schools": [{"id": "S1", "name": "x", "region_code": "220502", "school_type": "technical"}]})
    assert [d["reasons"] for d in decisions] == [["学校 未知 不符合"], ["学校 S9 不符合"], ["学校 S1 不符合"]]


def test_a_sum_over_no_records_written_as_text_is_0(tmp_path):
    """The vectorised backend wrote an empty sum of money as "0.00", the reference (which starts from Decimal 0) as
    "0"; a sum of money written as text is now left to the reference."""
    r = rule("enterprises", "false",
             {"pays": {"record_type": "internship_payments", "by": "enterprise_id", "key": "subject.id", "many": True}})
    r["criteria"][0]["fail"] = "合计 {sum(p.amount for p in pays) | text} 元，{sum(p.amount for p in pays) | money}"
    pay = {"id": "P1", "enterprise_id": ENT, "school_id": "S1", "student_id": "s", "amount": "10.50",
           "paid_on": "2021-01-01"}
    other = {**ENTERPRISE, "id": make_uscc("220502", 2)}
    decisions = decide_everywhere(tmp_path, {"r0": r}, {"enterprises": [ENTERPRISE, other],
                                                       "internship_payments": [pay]})
    assert [d["reasons"] for d in decisions] == [["合计 10.50 元，10.50"], ["合计 0 元，0.00"]]


# --- found by the independent differential fuzzer (benchmarks/fuzz_differential.py; /work/team/fuzz-findings) ---


def _misspelt(tmp_path: Path, fmt: str) -> Path:
    """A Yichang payment whose only agreement is in a sheet, CSV file or JSON key with a misspelt name."""
    import csv as _csv

    from openpyxl import Workbook

    ent = make_uscc("420502", 7)
    raw = {"enterprises": [{"id": ent, "name": "甲", "region_code": "420502"}],
           "协议书": [{"id": "A1", "enterprise_id": ent, "school_id": "S1", "signed_on": "2020-07-01"}],
           "internship_payments": [{"id": "P1", "enterprise_id": ent, "school_id": "S1", "student_id": "s",
                                    "amount": "100.00", "paid_on": "2021-03-01"}]}
    if fmt == "json":
        path = tmp_path / "d.json"
        path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
        return path
    if fmt == "csv":
        path = tmp_path / "d"
        path.mkdir()
        for name, rows in raw.items():
            with open(path / f"{name}.csv", "w", encoding="utf-8", newline="") as fh:
                w = _csv.DictWriter(fh, list(rows[0]))
                w.writeheader()
                w.writerows(rows)
        return path
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in raw.items():
        ws = wb.create_sheet(name)
        ws.append(list(rows[0]))
        for r in rows:
            ws.append(list(r.values()))
    path = tmp_path / "d.xlsx"
    wb.save(path)
    return path


@pytest.mark.parametrize("fmt, place", [("json", "d.json:1"), ("csv", "协议书.csv"), ("xlsx", "协议书")])
def test_rows_under_a_misspelt_sheet_file_or_key_are_unknown_not_absent(tmp_path, fmt, place):
    """The rows of a misspelt sheet, file or key (协议书 for 校企合作协议) were listed as not read (exit 1) but then
    treated as absent: the payment came out not_eligible, "数据集中无此协议" — a confident wrong answer. They are
    unread rows of the type the name suggests, so the decisions that read that type are undetermined, naming the
    place; every engine and the stream agree."""
    from engine.run import Checker

    path = _misspelt(tmp_path, fmt)
    checker = Checker()
    docs = {eng: checker.check(path, as_of=AS_OF, engine=eng) for eng in ("reference", "durable", "vectorised")}
    res = docs["reference"]
    assert res.exit_code == 1
    [err] = res.document["errors"]
    assert err["record_type"] == "agreements" and err["place"] == place and "未读取" in err["message"]
    [d] = [d for d in res.document["decisions"] if d["rule_id"] == "yichang.intern_pay_deduction"]
    assert d["status"] == "undetermined" and d["amount"] is None
    assert d["rejected_inputs"] == [{"record_type": "agreements", "row": 0, "id": None, "place": place}]
    assert place in d["reasons"][0]
    want = json.dumps(res.document, ensure_ascii=False)
    for eng in ("durable", "vectorised"):
        assert json.dumps(docs[eng].document, ensure_ascii=False) == want, eng
    if fmt == "csv":
        out = tmp_path / "out.jsonl"
        checker.check_stream(path, out, "jsonl", as_of=AS_OF, workers=2, chunk_size=1)
        [row] = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()
                 if json.loads(x)["rule_id"] == "yichang.intern_pay_deduction"]
        assert row["status"] == "undetermined" and row["rejected_inputs"] == d["rejected_inputs"]


@pytest.mark.parametrize("name", ["agreements.tsv", "agreements.txt", "校企合作协议.xlsx", "agreements.csv.bak"])
def test_a_file_the_folder_reader_skips_but_whose_name_is_a_record_type_is_an_error_not_silence(tmp_path, name):
    """A CSV folder whose agreements were saved as .txt/.tsv (Excel's "Unicode text") was read without them, exit 0,
    and the payment came out not_eligible ("数据集中无此协议"). Now the file is an error naming it (exit 1) and its
    rows are unread rows of agreements: the decisions reading agreements are undetermined, in memory and streamed."""
    from engine.run import Checker

    path = _misspelt(tmp_path, "csv")
    (path / "协议书.csv").rename(path / name)
    checker = Checker()
    res = checker.check(path, as_of=AS_OF, engine="reference")
    assert res.exit_code == 1
    [err] = res.document["errors"]
    assert (err["record_type"], err["place"]) == ("agreements", name) and "未读取" in err["message"]
    [d] = [d for d in res.document["decisions"] if d["rule_id"] == "yichang.intern_pay_deduction"]
    assert d["status"] == "undetermined" and d["rejected_inputs"][0]["place"] == name
    for eng in ("durable", "vectorised"):
        assert checker.check(path, as_of=AS_OF, engine=eng).document == res.document, eng
    out = tmp_path / "out.jsonl"
    checker.check_stream(path, out, "jsonl", as_of=AS_OF, workers=1, chunk_size=1)
    [row] = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()
             if json.loads(x)["rule_id"] == "yichang.intern_pay_deduction"]
    assert row["status"] == "undetermined" and row["rejected_inputs"] == d["rejected_inputs"]


def test_notes_and_a_template_folders_instructions_are_still_read_silently(tmp_path):
    """Only a file whose name is (or suggests) a record type is an error: 说明.txt, README.md, notes.txt are not."""
    from engine.data.loaders import load_dataset

    path = _misspelt(tmp_path, "csv")
    (path / "协议书.csv").rename(path / "agreements.csv")
    for name in ("说明.txt", "README.md", "notes.txt", ".DS_Store", "~$agreements.xlsx"):
        (path / name).write_text("x\n", encoding="utf-8")
    assert load_dataset(path).errors == []


def test_a_sheet_named_sheet2_whose_header_names_a_record_types_fields_is_unread_rows_of_that_type(tmp_path):
    """A sheet called Sheet2 holding the agreements (its header: 协议编号, 企业统一社会信用代码, …) suggests no type by
    its name; its header does. It was listed as not read and then the agreements counted as absent (not_eligible)."""
    from openpyxl import load_workbook

    from engine.run import Checker

    path = _misspelt(tmp_path, "xlsx")
    wb = load_workbook(path)
    wb["协议书"].title = "Sheet2"
    wb.save(path)
    res = Checker().check(path, as_of=AS_OF, engine="reference")
    [err] = res.document["errors"]
    assert (err["record_type"], err["place"]) == ("agreements", "Sheet2") and "校企合作协议" in err["message"]
    [d] = [d for d in res.document["decisions"] if d["rule_id"] == "yichang.intern_pay_deduction"]
    assert d["status"] == "undetermined" and d["rejected_inputs"][0]["place"] == "Sheet2"


@pytest.mark.parametrize("literal", ["99999999999999999999", "0.0000000000000000001", "-12345678901234567890.5"])
def test_a_number_literal_beyond_int64_goes_to_the_reference_instead_of_crashing_the_vectorised_backend(
        tmp_path, literal):
    """A 20-digit literal (or 19 decimals) crashed VectorisedEngine(packs) with OverflowError ('Python int too large to
    convert to C long'), which stopped every check with --engine vectorised, auto on large input, and the stream."""
    from engine.engines.vectorised import VectorisedEngine

    r = rule("enterprises", f"subject.total_wages > {literal}")
    decisions = decide_everywhere(tmp_path, {"r0": r}, {"enterprises": [{**ENTERPRISE, "total_wages": "100.00"}]})
    assert [d["status"] for d in decisions] == ["not_eligible" if literal[0] == "9" else "eligible"]
    packs, _ = load_packs([tmp_path / "pack"], include_shipped=False)
    assert "fuzz.r0" in VectorisedEngine(packs).fallback_rules


@pytest.mark.parametrize("bound", ["99999999999999999999999999999", "param.p * subject.total_wages"])
def test_a_threshold_beyond_any_money_figure_has_no_gap_instead_of_an_internal_error(tmp_path, bound):
    """The gap of `fund < 29-digit number` (or of a what-if parameter of 40 digits) could not be rounded to the fen:
    decimal.InvalidOperation, "内部错误" and exit 2 on every engine. A bound at or beyond 10¹⁶ yuan has no gap."""
    from engine.run import Checker

    r = rule("enterprises", f"subject.education_fund >= {bound}")
    params = {"p": {"description": "x", "values": [{"from": dt.date(2020, 1, 1), "value": Decimal("0.5")}],
                    "citation": {"clause": "第1条", "quote": "企业应当依法合作"}}}
    spec = PackSpec({**PACK, "parameters": params}, {"r0": r})
    checker = Checker(rules=[write_pack(spec, tmp_path / "pack")], include_shipped=False)
    big = checker.overrides(["p=9999999999999999999999999999999999999999"])
    ds = tmp_path / "d.json"
    ds.write_text(json.dumps({"enterprises": [{**ENTERPRISE, "total_wages": "100.00", "education_fund": "1.00"}]}),
                  encoding="utf-8")
    for eng in ("reference", "durable", "vectorised"):
        [d] = checker.check(ds, as_of=AS_OF, engine=eng, params=big).document["decisions"]
        assert d["status"] == "not_eligible" and "gap" not in d
    [d] = checker.check(ds, as_of=AS_OF, engine="reference").document["decisions"]  # an ordinary bound keeps its gap
    assert d["status"] == "not_eligible" and ("gap" in d) == (bound != "99999999999999999999999999999")


@pytest.mark.parametrize("written", ["A1 ", " A1", "Ａ1", "A1\u3000"])
def test_watch_deletes_a_record_by_its_id_as_an_upsert_reads_it(written):
    """An upsert of agreement "A1 " is stored as A1 (ids are trimmed, full-width folded), but the delete of "A1 " was
    refused ("没有 id 为“A1 ”的 agreements 记录可删除") and the payment stayed eligible on every engine."""
    from engine.engines.reference import ReferenceEngine
    from engine.run.watch import Watcher

    ent = make_uscc("420502", 3)
    packs, _ = load_packs()
    for engine in (ReferenceEngine(packs), DurableEngine(packs, fallback=True)):
        w = Watcher(engine, AS_OF)
        for n, (rtype, rec) in enumerate([
                ("enterprises", {"id": ent, "name": "宜昌", "region_code": "420502"}),
                ("agreements", {"id": written, "enterprise_id": ent, "school_id": "S1", "signed_on": "2021-01-01"}),
                ("internship_payments", {"id": "P1", "enterprise_id": ent, "school_id": "S1", "student_id": "s",
                                         "amount": "10.00", "paid_on": "2021-03-01"})], 1):
            w.apply({"op": "upsert", "record_type": rtype, "record": rec}, n)
        lines = w.apply({"op": "delete", "record_type": "agreements", "record": {"id": written}}, 4)
        [pay] = [x for x in lines if x["rule_id"] == "yichang.intern_pay_deduction"]
        assert (pay["previous"]["status"], pay["decision"]["status"]) == ("eligible", "not_eligible")
        assert pay["change"]["id"] == "A1"
        if isinstance(engine, DurableEngine):
            engine.close()


@pytest.mark.parametrize("header", ["\ufeffid,enterprise_id,school_id,student_id,amount,paid_on\r\n",
                                    "id,enterprise_id,school_id,student_id,amount,paid_on\n",
                                    "id,enterprise_id,school_id,student_id,amount,paid_on"])
def test_a_csv_file_with_a_header_and_no_rows_streams_like_it_reads(tmp_path, header):
    """An export with no payments (internship_payments.csv: the header only) is read in memory as no payments, exit 0;
    the streamed check refused the whole folder: "internship_payments.csv：无法读取（Empty CSV file）", exit 2."""
    from engine.run import Checker

    data = tmp_path / "d"
    data.mkdir()
    (data / "enterprises.csv").write_text(f"id,name,region_code\n{ENT},甲,220502\n", encoding="utf-8")
    (data / "internship_payments.csv").write_text(header, encoding="utf-8")
    checker = Checker()
    doc = checker.check(data, as_of=AS_OF, engine="reference").document
    out = tmp_path / "out.jsonl"
    res = checker.check_stream(data, out, "jsonl", as_of=AS_OF, workers=2, chunk_size=1)
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert sorted((r["rule_id"], r["subject_id"], r["status"]) for r in rows) == \
        [(d["rule_id"], d["subject_id"], d["status"]) for d in doc["decisions"]]
    assert not res.errors


@pytest.mark.parametrize("years", [97979, 100000, 10_000_000, -2021, -1_000_000])
def test_a_date_far_beyond_year_9999_is_written_into_a_reason_as_the_reference_writes_it(tmp_path, years):
    """add_years(as_of, 100000) in a reason: the reference wrote 102021-12-31, the vectorised backend "<value out of
    range: 36543242>" (Arrow prints dates up to some year in the 30,000s), and past 5.8 million years the int32 cast
    wrapped round to another date."""
    r = rule("enterprises", "true")
    r["positive_reason"] = f"{{add_years(as_of, {years})}} {{add_years(date('2020-02-29'), {years}) | date}}"
    [d] = decide_everywhere(tmp_path, {"r0": r}, {"enterprises": [ENTERPRISE]})
    assert d["reasons"][0].split()[0] == f"{2021 + years:04d}-12-31"


@pytest.mark.parametrize("move, found", [
    (lambda d: (d / "rules" / "r0.yaml").rename(d / "rules" / "r0.yml"), "rules/r0.yml is not read"),
    (lambda d: (d / "rules" / "r0.yaml").rename(d / "rules" / "r0.YAML"), "rules/r0.YAML is not read"),
    (lambda d: (d / "rules").rename(d / "rule"), "folder rule/ is not read"),
    (lambda d: ((d / "rules" / "sub").mkdir(), (d / "rules" / "r0.yaml").rename(d / "rules" / "sub" / "r0.yaml")),
     "rules/sub is not read"),
    (lambda d: (d / "rules" / "r0.yaml").unlink(), "the pack has no rules"),
])
def test_a_rule_file_the_loader_would_skip_is_an_error_not_a_pack_that_decides_nothing(tmp_path, move, found):
    """A pack whose rule was saved as r0.yml (or in rule/, or one folder down) loaded with no rules: check exit 0
    without a single decision of it, and `rules lint` said "0 条规则：0 个错误"."""
    from engine.errors import FatalError
    from engine.run import Checker

    folder = write_pack(PackSpec(PACK, {"r0": rule("enterprises", "true")}), tmp_path / "pack")
    assert [r.id for p in Checker([folder], include_shipped=False).packs for r in p.rules] == ["fuzz.r0"]
    move(folder)
    packs, errors = load_packs([folder], include_shipped=False)
    assert any(found in str(e) and e.severity == "error" for e in errors), errors
    with pytest.raises(FatalError, match="规则包有误"):
        Checker([folder], include_shipped=False)


def test_notes_beside_the_rules_are_not_rule_files(tmp_path):
    """Only YAML-looking files are taken for misplaced rules: a README or notes in rules/ or tests/ stays allowed."""
    folder = write_pack(PackSpec(PACK, {"r0": rule("enterprises", "true")}), tmp_path / "pack")
    (folder / "rules" / "README.md").write_text("说明\n", encoding="utf-8")
    (folder / "tests").mkdir(exist_ok=True)
    (folder / "tests" / "notes.txt").write_text("x\n", encoding="utf-8")
    (folder / "docs").mkdir()
    (folder / "docs" / "a.yaml").write_text("x: 1\n", encoding="utf-8")
    packs, errors = load_packs([folder], include_shipped=False)
    assert [e for e in errors if e.severity == "error"] == [] and [r.id for r in packs[0].rules] == ["fuzz.r0"]
