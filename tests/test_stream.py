"""Streamed checks: partitions by enterprise, row-by-row outputs, the same decisions, summary and errors."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal

import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SCALE, as_document_row, generated, write_formats
from engine.messages import render
from engine.engines.reference import evaluate_dataset
from engine.data.loaders import load_dataset
from engine.policy.packs import load_packs
from engine.output.render import _flat, _issue_rows
from engine.run.stream import check_stream
from test_properties import datasets

PACKS, _ = load_packs()
AS_OF = dt.date(2021, 12, 31)


def _key(d):
    return (d["rule_id"], d["subject_type"], d["subject_id"])


def _rollups_as_summary(rows):
    out = {"by_enterprise": {}, "by_school": {}}
    for r in rows:
        slot = out["by_enterprise" if r["group"] == "enterprises" else "by_school"].setdefault(r["id"], {})
        if r["period"] is not None:
            slot.setdefault(r["name"], {})[r["period"]] = r["amount"]
        else:
            slot[r["name"]] = {"count": r["count"], **{k: r[k] for k in ("amount", "amount_min", "amount_max")
                                                       if r.get(k) is not None}}
    return out


def _read(path, fmt):
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if fmt == "parquet":
        return pq.read_table(path).to_pylist() if path.exists() else []
    with open(path, encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def _as_csv_row(d):
    return {k: ("" if v is None else "; ".join(v) if k == "missing_facts" else " | ".join(v) if k == "reasons"
                else str(v)) for k, v in d.items()}


def assert_same_as_reference(folder, out_dir, fmt, chunk, overrides=None):
    doc = evaluate_dataset(load_dataset(folder), PACKS, AS_OF, overrides)
    out = out_dir / f"decisions.{fmt}"
    res = check_stream(folder, PACKS, AS_OF, overrides, out, fmt, chunk_enterprises=chunk, progress=False)
    got = sorted(_read(out, fmt), key=_key) if out.exists() else []
    got = [as_document_row(row, fmt) for row in got]
    want = [_flat(d) for d in doc["decisions"]]
    if fmt == "csv":
        listed = ("rejected_inputs", "rejected_inputs_total")
        want = [{**_as_csv_row({k: v for k, v in d.items() if k not in listed}),
                 **{k: d[k] for k in listed if k in d}} for d in want]
    assert got == want
    assert res.summary["by_rule"] == doc["summary"]["by_rule"]
    assert res.summary["missing_facts"] == doc["summary"]["missing_facts"]
    rollup_file = out_dir / f"decisions.rollups.{fmt}"
    rows = _read(rollup_file, fmt) if rollup_file.exists() else []
    if fmt == "csv":
        rows = [{k: (None if v == "" else int(v) if k == "count" else v) for k, v in r.items()} for r in rows]
    summary = _rollups_as_summary(rows)
    assert summary["by_enterprise"] == doc["summary"]["by_enterprise"]
    assert summary["by_school"] == doc["summary"]["by_school"]
    with open(out_dir / "decisions.errors.csv", encoding="utf-8-sig") as fh:
        issues = list(csv.reader(fh))[1:]
    assert issues == [["" if v is None else str(v) for v in row] for row in _issue_rows(doc)]


@st.composite
def messy(draw):
    raw = draw(datasets())
    if raw["internship_payments"] and draw(st.booleans()):  # the same payment id under another enterprise
        dup = dict(raw["internship_payments"][0], enterprise_id=raw["enterprises"][-1]["id"])
        raw["internship_payments"].append(dup)
    if draw(st.booleans()):
        raw["enterprises"].append(dict(raw["enterprises"][0]))  # a duplicate enterprise
    if draw(st.booleans()):
        raw["agreements"].append({"id": "BAD", "enterprise_id": raw["enterprises"][0]["id"], "school_id": "S1",
                                  "signed_on": "2021-02-30"})
    return raw


@settings(max_examples=25 * SCALE, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messy(), st.sampled_from(["jsonl", "csv", "parquet"]), st.integers(1, 3))
def test_streamed_output_equals_the_reference(tmp_path_factory, raw, fmt, chunk):
    base = tmp_path_factory.mktemp("s")
    folder = write_formats(raw, base / "in")["csv"]
    assert_same_as_reference(folder, base, fmt, chunk)


def test_what_if_parameters_stream_too(tmp_path):
    folder = generated(tmp_path / "in", 300)
    assert_same_as_reference(folder, tmp_path, "jsonl", 50, {"certificate_subsidy_amount": Decimal("1500")})


def test_an_unreadable_file_is_one_line(tmp_path):
    from engine.errors import FatalError

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "enterprises.parquet").write_bytes(b"not parquet at all")
    try:
        check_stream(folder, PACKS, AS_OF, None, tmp_path / "d.jsonl", "jsonl", progress=False)
    except FatalError as exc:
        assert "enterprises.parquet: cannot be read" in render(exc.args[0], "en") and "\n" not in str(exc)
        assert "enterprises.parquet：无法读取" in str(exc)
    else:
        raise AssertionError("no error for an unreadable file")


def _generated_with_duplicates(folder):
    """A generated population (files over 1 MB: several batches each) plus a repeated enterprise and payment."""
    generated(folder, 12_000)
    for name in ("enterprises.csv", "internship_payments.csv"):
        lines = (folder / name).read_text(encoding="utf-8").splitlines(keepends=True)
        (folder / name).write_text("".join(lines + [lines[1], lines[len(lines) // 2]]), encoding="utf-8")
    return folder


def test_worker_processes_write_the_files_one_process_writes(tmp_path):
    folder = _generated_with_duplicates(tmp_path / "in")
    results = {}
    for workers in (1, 3):
        out = tmp_path / f"w{workers}" / "d.parquet"
        out.parent.mkdir()
        results[workers] = check_stream(folder, PACKS, AS_OF, None, out, "parquet", chunk_enterprises=2_500,
                                        progress=False, workers=workers)
    one, many = results[1], results[3]
    assert (many.records, many.decisions) == (one.records, one.decisions) and one.decisions > 12_000
    assert many.errors == one.errors and many.warnings == one.warnings
    planted = {(e.record_type, e.row) for e in one.errors if getattr(e.message, "key", "") == "record.duplicate_id"}
    for name in ("enterprises", "internship_payments"):  # the two rows added at the end of each file
        rows = len((folder / f"{name}.csv").read_text(encoding="utf-8").splitlines()) - 1
        assert {(name, rows - 1), (name, rows)} <= planted
    for name in ("d.parquet", "d.rollups.parquet"):
        assert pq.read_table(tmp_path / "w3" / name).equals(pq.read_table(tmp_path / "w1" / name)), name
    for name in ("d.summary.json", "d.errors.csv"):
        assert (tmp_path / "w3" / name).read_bytes() == (tmp_path / "w1" / name).read_bytes(), name


def _die(*args):
    """A worker's end as the kernel's out-of-memory killer would make it."""
    import os

    os._exit(9)


def test_a_worker_that_dies_is_one_line(tmp_path, monkeypatch):
    import engine.run.stream
    from engine.errors import FatalError

    folder = _generated_with_duplicates(tmp_path / "in")
    monkeypatch.setattr(engine.run.stream, "_spill_batch", _die)
    try:
        check_stream(folder, PACKS, AS_OF, None, tmp_path / "d.parquet", "parquet", progress=False, workers=2)
    except FatalError as exc:
        english = render(exc.args[0], "en")
        assert "worker process" in english and "--workers 1" in str(exc) and "\n" not in str(exc) + english
    else:
        raise AssertionError("no error for a worker that died")


@settings(max_examples=200 * SCALE, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), max_size=40), st.integers(1, 5))
def test_duplicates_are_the_later_rows_of_equal_ids_whatever_the_hash(ids, chunks):
    """The hash only finds candidates: ids sharing a hash (drawn to collide on purpose) are told apart by their
    text; the first row of an id keeps it, across batches."""
    import itertools

    import numpy as np
    import pyarrow as pa

    from engine.run.stream import _duplicates

    rows = np.arange(1, len(ids) + 1, dtype=np.int64)
    collide = {"a": 0, "b": 0, "c": 1, "d": 1, "e": 2}  # a hash of three values: a and b collide, c and d
    hashes = np.array([collide[i] for i in ids], dtype=np.uint64)
    cuts = np.linspace(0, len(ids), chunks + 1).astype(int)
    runs, texts = [], []
    for i, j in itertools.pairwise(cuts):
        by_hash = np.argsort(hashes[i:j], kind="stable")
        runs.append((hashes[i:j][by_hash], rows[i:j][by_hash], by_hash.astype(np.int32)))
        texts.append(pa.array(ids[i:j], pa.string()))
    seen, want = set(), []
    for row, rid in zip(rows, ids):
        if rid in seen:
            want.append(int(row))
        seen.add(rid)
    got = _duplicates(runs, lambda k, places: texts[k].take(pa.array(places, pa.int64())))
    assert got.tolist() == want


@settings(max_examples=200 * SCALE, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=30), st.lists(st.text(max_size=80), max_size=5))
def test_text_hash_is_a_function_of_the_text_alone(texts, others):
    """The vectorised hash equals the one-string formula, whatever else (long or short) the batch holds."""
    import pyarrow as pa

    from engine.run.stream import _text_hash_one, text_hash

    one = [_text_hash_one(t.encode()) for t in texts]
    assert text_hash(pa.array(texts, pa.string())).tolist() == one
    assert text_hash(pa.array(others + texts, pa.string())).tolist()[len(others):] == one
    assert text_hash(pa.array(["", *texts], pa.string()).slice(1)).tolist() == one  # an offset array
