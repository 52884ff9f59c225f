"""Every engine runs every rule pack, or refuses it at load with one line: generated packs, decided everywhere.

The packs come from :mod:`strategies_packs` (the rule language at random, well typed) and a hand-written rule a
policy analyst might add (a school must have at least one agreement). The reference evaluator's document is the
definition; durable (with the reference deciding the rules its compiler refuses), the vectorised backend in
memory, the stream with two worker processes, Dask and ``watch`` must give it byte for byte — or refuse the pack
when it is loaded. ``CHANJIAO_EXAMPLES_SCALE`` multiplies the examples (see conftest.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import EXAMPLES, REPO, SCALE, as_document_row, write_formats
from engine.engines import cheapest_engine, decided_by
from engine.engines.durable import DurableEngine
from engine.engines.durable_compile import CompileError, compile_rules
from engine.engines.vectorised import VectorisedEngine
from engine.errors import FatalError
from engine.engines.reference import evaluate_dataset
from engine.data.loaders import load_dataset
from engine.messages import render
from engine.run.partition import PLACEMENT, plan_for
from engine.policy.packs import load_packs
from engine.data.records import RECORD_TYPES, validate_rows
from engine.output.render import _flat, _issue_rows
from engine.run.stream import check_stream
from engine.run.watch import ChangeError, Watcher
from strategies_packs import AS_OFS, pack_datasets, rule_packs, write_pack
from test_cli import CHANJIAO

SCHOOL_PACK = REPO / "tests" / "packs" / "school-agreement"
AS_OF = dt.date(2021, 12, 31)


def dumps(doc):
    return json.dumps(doc, ensure_ascii=False, sort_keys=True)


def _load(folder, shipped=False):
    packs, errors = load_packs([folder], include_shipped=shipped)
    assert not [e for e in errors if e.severity == "error"], errors
    return packs


def streamed_matches_reference(folder: Path, out_dir: Path, packs, as_of, chunk=1, workers=2, fmt="jsonl"):
    """The streamed check of a CSV folder gives the reference's decisions, summary and errors file, or refuses the
    packs at load with one line (FatalError) when the vectorised backend cannot run a rule; returns which."""
    doc = evaluate_dataset(load_dataset(folder), packs, as_of)
    out = out_dir / f"d.{fmt}"
    try:
        res = check_stream(folder, packs, as_of, None, out, fmt, chunk_enterprises=chunk, progress=False,
                           workers=workers)
    except FatalError as exc:
        assert "\n" not in str(exc) and "cannot stream" in render(exc.args[0], "en")
        return "refused"
    if fmt == "parquet":
        rows = pq.read_table(out).to_pylist() if out.exists() else []
    else:
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] if out.exists() else []
    rows = [as_document_row(row) for row in rows]
    got = sorted(rows, key=lambda d: (d["rule_id"], d["subject_type"], d["subject_id"]))
    assert got == [_flat(d) for d in doc["decisions"]]
    assert res.summary["by_rule"] == doc["summary"]["by_rule"]
    assert res.summary["missing_facts"] == doc["summary"]["missing_facts"]
    with open(out_dir / "d.errors.csv", encoding="utf-8") as fh:
        assert list(csv.reader(fh))[1:] == [["" if v is None else str(v) for v in row] for row in _issue_rows(doc)]
    return "decided"


# ------------------------------------------------------------------------------------ the analyst's rule


def test_a_school_must_have_an_agreement_on_every_engine(tmp_path):
    packs = _load(SCHOOL_PACK, shipped=True)
    ds = load_dataset(EXAMPLES / "tonghua-finance-bureau")
    want = dumps(evaluate_dataset(ds, packs, AS_OF))
    statuses = [d["status"] for d in json.loads(want)["decisions"] if d["rule_id"] == "extra.school_has_agreement"]
    assert statuses.count("compliant") == 3 and statuses.count("non_compliant") == 6
    with pytest.raises(CompileError, match="extra.school_has_agreement: a test reads agreements"):
        DurableEngine(packs)  # durable alone cannot count records: refused when the engine is built
    with DurableEngine(packs, fallback=True) as eng:
        assert eng.refused.keys() == {"extra.school_has_agreement"}
        assert dumps(eng.evaluate_dataset(ds, AS_OF)) == want
    assert decided_by("durable", packs)["extra.school_has_agreement"] == "reference"
    assert decided_by("durable", packs)["tonghua.school_subsidy"] == "durable"
    assert dumps(VectorisedEngine(packs).evaluate_dataset(ds, AS_OF)) == want
    assert streamed_matches_reference(EXAMPLES / "tonghua-finance-bureau", tmp_path, packs, AS_OF) == "decided"


def test_the_checker_lets_the_reference_decide_what_durable_refuses_and_says_so_only_in_a_debug_field():
    from engine.run import Checker

    checker = Checker([SCHOOL_PACK])
    ds = checker.load(EXAMPLES / "tonghua-finance-bureau")
    auto = checker.check(ds, as_of=AS_OF)
    assert auto.engine == "durable" and auto.notes == []
    assert auto.decided_by["extra.school_has_agreement"] == "reference"
    assert auto.decided_by["tonghua.school_subsidy"] == "durable"
    assert dumps(auto.document) == dumps(checker.check(ds, as_of=AS_OF, engine="reference").document)
    assert "decided_by" not in json.dumps(auto.document)
    with pytest.raises(FatalError) as refused:
        checker.check(ds, as_of=AS_OF, engine="durable")
    assert "durable engine cannot run rule extra.school_has_agreement" in render(refused.value.args[0], "en")


def test_the_cli_decides_the_analysts_rule_with_auto_and_names_it_with_durable(tmp_path):
    args = [CHANJIAO, "check", str(EXAMPLES / "tonghua-finance-bureau"), "--rules", str(SCHOOL_PACK), "--as-of",
            "2021-12-31", "--format", "json"]
    runs = {e: subprocess.run([*args, "--engine", e], capture_output=True, text=True) for e in
            ("auto", "durable", "reference")}
    assert runs["auto"].returncode == 0 and runs["auto"].stdout == runs["reference"].stdout
    assert runs["auto"].stderr == ""  # which engine decided what is a debug matter, not the user's
    assert runs["durable"].returncode == 2 and runs["durable"].stdout == ""
    [line] = runs["durable"].stderr.splitlines()
    assert "extra.school_has_agreement" in line and "Traceback" not in line
    out = tmp_path / "d.jsonl"
    streamed = subprocess.run([*args[:-2], "--format", "jsonl", "--output", str(out), "--engine", "vectorised",
                               "--workers", "2", "--quiet"], capture_output=True, text=True)
    assert streamed.returncode == 0, streamed.stderr
    got = sorted((d["subject_id"], d["status"]) for d in map(json.loads, out.read_text(encoding="utf-8").splitlines())
                 if d["rule_id"] == "extra.school_has_agreement")
    want = json.loads(runs["reference"].stdout)["decisions"]
    assert got == sorted((d["subject_id"], d["status"]) for d in want if d["rule_id"] == "extra.school_has_agreement")


def test_auto_gives_durable_case_sized_submissions_only():
    from engine.engines import AUTO_DURABLE_MAX_RECORDS, AUTO_REFERENCE_MAX_RECORDS
    from engine.data.records import Dataset

    def of(n):
        return Dataset(records={t: [None] * (n if t == "schools" else 0) for t in RECORD_TYPES})

    assert cheapest_engine(load_dataset(EXAMPLES / "tonghua-self-assessment.json")) == "durable"
    assert cheapest_engine(of(AUTO_DURABLE_MAX_RECORDS)) == "durable"
    assert cheapest_engine(of(AUTO_DURABLE_MAX_RECORDS + 1)) == "reference"  # without the vectorised set-up
    assert cheapest_engine(of(AUTO_REFERENCE_MAX_RECORDS + 1)) == "vectorised"
    assert cheapest_engine(of(30_000)) == "vectorised"  # the issue's 5,000 enterprises: never durable


# ------------------------------------------------------------------------------------ the partition plan


def test_the_shipped_packs_are_decided_partition_by_partition():
    packs = _load(REPO / "policy_rules", shipped=False)
    plan = plan_for(packs)
    assert plan.whole_rules == {r.id: "its subjects (schools) are kept whole" for p in packs for r in p.rules
                                if r.subject == "schools"}
    assert plan.reads_whole() == frozenset()  # the whole partition holds the schools only, as before
    assert PLACEMENT == {"enterprises": "id", "schools": None, "agreements": "enterprise_id",
                         "internship_payments": "enterprise_id", "practice_expenses": "enterprise_id",
                         "certificates": "enterprise_id", "land_applications": "enterprise_id", "graduates": "id"}


@pytest.mark.parametrize("lookups, test, whole", [
    # an enterprise's agreements and their schools: all in the enterprise's partition (schools are everywhere)
    ("agreements: {record_type: agreements, by: enterprise_id, key: subject.id, many: true}",
     "any(schools[a.school_id].is_municipal for a in agreements)", None),
    # a payment's enterprise, found through an agreement's enterprise_id: still the same partition
    ("agreements: {record_type: agreements, by: enterprise_id, key: subject.id, many: true}",
     "any(enterprises[a.enterprise_id].region_code == '220502' for a in agreements)", None),
    # agreements found by school: they sit with their enterprises, not with this enterprise
    ("agreements: {record_type: agreements, by: school_id, key: subject.id, many: true}",
     "count(agreements) > 0", {"agreements"}),
    # an enterprise found by a field that is not its partition key
    ("", "enterprises[subject.name].is_key_enterprise", {"enterprises"}),
])
def test_a_rule_whose_lookups_cross_partitions_is_decided_over_whole_tables(tmp_path, lookups, test, whole):
    rule = (SCHOOL_PACK / "rules" / "school_has_agreement.yaml").read_text(encoding="utf-8")
    rule = rule.replace("subject: schools", "subject: enterprises").replace("学校所在地", "企业注册地")
    rule = rule.replace("  agreements: {record_type: agreements, by: school_id, key: subject.id, many: true}",
                        f"  {lookups}" if lookups else "  {}").replace("count(a for a in agreements) > 0", test)
    rule = rule.replace("positive_reason: 学校已签订 {count(a for a in agreements) | int} 份校企合作协议\n", "")
    if not lookups:
        rule = rule.replace("lookups:\n  {}\n", "")
    pack = tmp_path / "pack"
    (pack / "rules").mkdir(parents=True)
    for name in ("pack.yaml", "source.txt"):
        (pack / name).write_text((SCHOOL_PACK / name).read_text(encoding="utf-8"), encoding="utf-8")
    (pack / "rules" / "school_has_agreement.yaml").write_text(rule, encoding="utf-8")
    plan = plan_for(_load(pack))
    if whole is None:
        assert plan.whole_rules == {} and plan.partitioned_rules == {"extra.school_has_agreement"}
    else:
        assert "extra.school_has_agreement" in plan.whole_rules and plan.reads_whole() >= whole


# ------------------------------------------------------------------------------------ generated packs


def _packs_of(spec, folder):
    packs, errors = load_packs([write_pack(spec, folder)], include_shipped=False)
    assert not errors, f"the strategy drew a pack that does not load: {errors}\n{spec.describe()}"
    return packs


@settings(max_examples=60 * SCALE, deadline=None)
@given(rule_packs(), pack_datasets(), st.sampled_from(AS_OFS))
def test_generated_packs_give_the_references_document_on_every_in_memory_engine(spec, raw, as_of):
    with tempfile.TemporaryDirectory() as d:
        packs = _packs_of(spec, Path(d) / "fuzz")
    ds = validate_rows(raw)
    want = dumps(evaluate_dataset(ds, packs, as_of))
    assert dumps(VectorisedEngine(packs).evaluate_dataset(ds, as_of)) == want, spec.describe()
    refused = compile_rules(packs).refused
    if refused:  # durable alone refuses the pack when it is built, naming a rule …
        with pytest.raises(CompileError, match="|".join(refused)):
            DurableEngine(packs)
    with DurableEngine(packs, fallback=True) as eng:  # … and auto lets the reference decide that rule
        assert dumps(eng.evaluate_dataset(ds, as_of)) == want, spec.describe()


@settings(max_examples=25 * SCALE, deadline=None)
@given(rule_packs(), pack_datasets(), st.sampled_from(AS_OFS), st.randoms(use_true_random=False))
def test_generated_packs_watched_change_by_change_end_where_a_check_ends(spec, raw, as_of, rnd):
    with tempfile.TemporaryDirectory() as d:
        packs = _packs_of(spec, Path(d) / "fuzz")
    changes = [{"op": "upsert", "record_type": t, "record": r} for t in RECORD_TYPES for r in raw[t]]
    rnd.shuffle(changes)
    for c in changes[: len(changes) // 3]:  # a few records deleted again, then put back later
        changes.append({"op": "delete", "record_type": c["record_type"], "record": {"id": c["record"]["id"]}})
        changes.append(c)
    with DurableEngine(packs, fallback=True) as eng:
        watcher = Watcher(eng, as_of)
        for n, change in enumerate(changes, 1):
            record = {k: (str(v) if v is not None and not isinstance(v, bool) else v)
                      for k, v in change["record"].items()}
            try:
                watcher.apply({**change, "record": record}, n)
            except ChangeError:
                pass  # a rejected record, or a delete of one never accepted: skipped, as watch does
        doc = evaluate_dataset(watcher.dataset, packs, as_of)
        assert sorted(watcher.decisions.values(), key=lambda x: (x["rule_id"], x["subject_type"], x["subject_id"])) \
            == doc["decisions"], spec.describe()


@settings(max_examples=8 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_packs(max_rules=2), pack_datasets(), st.sampled_from(AS_OFS), st.integers(1, 2))
def test_generated_packs_streamed_by_two_workers_give_the_references_decisions(spec, raw, as_of, chunk):
    with tempfile.TemporaryDirectory() as d:
        packs = _packs_of(spec, Path(d) / "fuzz")
        paths = write_formats(raw, Path(d) / "data")
        out = Path(d) / "out"
        out.mkdir()
        streamed_matches_reference(paths["csv"], out, packs, as_of, chunk=chunk, workers=2)


# ------------------------------------------------------------------------------------ rules lint / rules test


def test_lint_and_test_run_every_case_on_every_engine_and_place_a_disagreement(monkeypatch, tmp_path):
    from engine.engines import vectorised
    from engine.policy.casetests import CaseEngines, disagreements
    from engine.policy.lint import lint_dirs

    packs = _load(SCHOOL_PACK)
    [case_file] = packs[0].test_files
    engines = CaseEngines(packs)
    assert disagreements(case_file, packs, engines) == []  # durable refuses the rule; vectorised and streamed agree
    original = vectorised.decide_rule

    def wrong(rule, pack, tables, as_of, overrides=None):  # a vectorised backend with a bug: every school complies
        batch = original(rule, pack, tables, as_of, overrides)
        batch.status[:] = vectorised.STATUSES.index("compliant")
        return batch

    monkeypatch.setattr(vectorised, "decide_rule", wrong)
    found = disagreements(case_file, packs, engines)
    assert [(p.file, p.line) for p in found] == [(str(case_file), 9)] * 2  # the line of the case's name
    assert "the vectorised engine disagrees with the reference on schools S2: status is 'compliant', the " \
           "reference's 'non_compliant'" in found[0].message and "schools S3" in found[1].message
    _, problems = lint_dirs([SCHOOL_PACK], include_shipped=False)
    [note] = [p for p in problems if p.severity == "warning"]  # durable's refusal, said once, with the fallback
    assert note.file.endswith("school_has_agreement.yaml") and "auto decides it with the reference" in note.message
    assert [str(p) for p in problems if p.severity == "error"] == [str(p) for p in found]
    test = subprocess.run([CHANJIAO, "rules", "test", str(SCHOOL_PACK)], capture_output=True, text=True)
    assert test.returncode == 0, test.stdout  # the installed command, unpatched: every engine agrees


@pytest.fixture(scope="module")
def dask_client():
    """Two single-threaded Dask workers for this module's Dask examples (a small share: they are the slowest)."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        with Client(cluster, set_as_default=False) as client:
            yield client


@settings(max_examples=3 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_packs(max_rules=2), pack_datasets(), st.sampled_from(AS_OFS))
def test_generated_packs_on_dask_give_the_references_decisions_and_the_streams_files(dask_client, spec, raw, as_of):
    from engine.run.cluster import check_dask
    from engine.run.stream import input_files, partitions_for

    with tempfile.TemporaryDirectory() as d:
        base = Path(d)
        packs = _packs_of(spec, base / "fuzz")
        folder = write_formats(raw, base / "data")["csv"]
        (base / "local").mkdir()
        if streamed_matches_reference(folder, base / "local", packs, as_of, chunk=1, workers=1,
                                      fmt="parquet") == "refused":
            with pytest.raises(FatalError) as refused:
                check_dask(folder, packs, as_of, None, base / "dask" / "d.parquet", dask_client)
            assert "cannot run on Dask" in render(refused.value.args[0], "en")
            return
        res = check_dask(folder, packs, as_of, None, base / "dask" / "d.parquet", dask_client,
                         partitions=partitions_for(input_files(folder), 1))
        local = pq.read_table(base / "local" / "d.parquet") if (base / "local" / "d.parquet").exists() else None
        got = pq.read_table(base / "dask" / "d.parquet")
        if local is None:
            assert got.num_rows == 0
        else:
            assert got.equals(local)
        for name in ("d.summary.json", "d.errors.csv"):
            assert (base / "dask" / name).read_bytes() == (base / "local" / name).read_bytes(), name
        assert res.decisions == got.num_rows


def test_the_analysts_rule_on_dask_is_decided_over_whole_tables_as_the_stream_does(dask_client, tmp_path):
    from engine.run.cluster import check_dask

    packs = _load(SCHOOL_PACK, shipped=True)
    folder = EXAMPLES / "tonghua-finance-bureau"
    (tmp_path / "local").mkdir()
    assert streamed_matches_reference(folder, tmp_path / "local", packs, AS_OF, chunk=2, workers=1,
                                      fmt="parquet") == "decided"
    check_dask(folder, packs, AS_OF, None, tmp_path / "dask" / "d.parquet", dask_client, partitions=3)
    got = pq.read_table(tmp_path / "dask" / "d.parquet").to_pylist()
    got = [as_document_row(row) for row in got]
    want = evaluate_dataset(load_dataset(folder), packs, AS_OF)["decisions"]
    assert sorted(got, key=lambda d: (d["rule_id"], d["subject_type"], d["subject_id"])) == [_flat(d) for d in want]
    assert (tmp_path / "dask" / "d.summary.json").read_bytes() == (tmp_path / "local" / "d.summary.json").read_bytes()
