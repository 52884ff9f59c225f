"""Fuzzing every reader (issue 12, point 7): arbitrary and mutated bytes into the JSON, YAML, CSV-directory, XLSX
and Parquet readers, JSON Lines into ``watch``, and YAML into the rule-pack parser.

The laws: only the product's own errors escape (a one-line ``FatalError`` for an unreadable dataset, a
``ChangeError`` for a bad change line, ``PolicyError`` values for a bad pack — never another exception), and for
every accepted input, records in = records accepted + records rejected (each row is decided or listed).

CI runs a few dozen examples per reader (tens of seconds in all). A longer campaign:
``CHANJIAO_FUZZ_EXAMPLES=2000 python -m pytest tests/test_fuzz.py`` (examples per test).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import make_uscc, write_formats
from engine.errors import FatalError, PolicyError
from engine.data.loaders import read_raw
from engine.policy.packs import load_packs, shipped_packs_dir
from engine.data.records import RECORD_TYPES, validate_rows
from engine.run.watch import ChangeError, Watcher, change_lines, read_change

FUZZ = int(os.environ.get("CHANJIAO_FUZZ_EXAMPLES", "0"))


def fuzz(n: int) -> Any:
    """Hypothesis settings for a fuzz test: ``n`` examples in CI, CHANJIAO_FUZZ_EXAMPLES in a campaign."""
    return settings(max_examples=FUZZ or n, deadline=None, suppress_health_check=list(HealthCheck))


# interesting bytes: what broke the readers before, and what breaks readers in general
HOSTILE = [
    b"[" * 3000, b"{" * 2000, b"{\"a\":" * 1500, b"- " * 3000, b"9" * 5000, b"-0", b"1e999999999", b"NaN",
    b"Infinity", b"\xef\xbb\xbf", b"\r", b"\r\n", b"\x00", b"\xff\xfe", b"\xed\xa0\x80", b'"\\ud800"', b"\\ud800",
    b"&a [*a, *a, *a]", b"*a", b"&a", b"!!python/object/apply:os.system ['true']", b"!!binary AAAA", b"2021-02-30",
    b"9999-12-31", b"0x1F", b"007", b"1e3", b"true", b"~", b"null", b"? [a]\n: b", b"<<: *a", b"\"", b"'", b",",
    b":", b"\n", b"\t", b"=1+2", b"\xe2\x80\xa8", b"\x1b[31m", b"1,50", b"\xef\xbc\x92", b"%YAML 1.1\n---\n",
]


@st.composite
def mutated(draw: Any, seed: bytes) -> bytes:
    """``seed`` with a few random edits: byte flips, deletions, duplications and hostile insertions."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "delete", "insert", "duplicate", "truncate"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 16))]
        elif op == "insert":
            data[pos:pos] = draw(st.sampled_from(HOSTILE) | st.binary(max_size=8))
        elif op == "duplicate":
            data[pos:pos] = data[pos:pos + draw(st.integers(1, 64))]
        else:
            del data[pos:]
    return bytes(data)


def seed_raw() -> dict[str, list[dict[str, Any]]]:
    """A small valid dataset touching every record type, the seed the mutations start from."""
    e1, e2 = make_uscc("220502", 1), make_uscc("420502", 2)
    return {
        "enterprises": [
            {"id": e1, "name": "通化机械", "region_code": "220502", "total_wages": "1000000.00",
             "education_fund": "20000.00", "frontline_training_spend": "12000.00", "is_key_enterprise": True},
            {"id": e2, "name": "宜昌化工", "region_code": "420502", "fiscal_year": 2021},
        ],
        "schools": [{"id": "S1", "name": "通化职校", "region_code": "220502", "school_type": "secondary_vocational",
                     "demonstration_project": True, "enrolled_students": 800, "is_municipal": True}],
        "agreements": [{"id": "A1", "enterprise_id": e1, "school_id": "S1", "signed_on": dt.date(2020, 1, 1)}],
        "internship_payments": [{"id": "P1", "enterprise_id": e2, "school_id": "S1", "student_id": "ST1",
                                 "amount": "1500.50", "paid_on": dt.date(2021, 3, 1)}],
        "certificates": [{"id": "C1", "employee_id": "E1", "enterprise_id": e1, "insured": True,
                          "obtained_on": dt.date(2021, 5, 1)}],
        "graduates": [{"id": "G1", "school_id": "S1", "employer_region_code": "420502",
                       "employed_from": dt.date(2020, 7, 1)}],
    }


_SEEDS: dict[str, Any] = {}
_PACKS: list[Any] = []


def shipped() -> list[Any]:
    """The shipped packs, loaded once (not a fixture: a failing example would print them whole)."""
    if not _PACKS:
        _PACKS.extend(load_packs()[0])
    return _PACKS


def seeds() -> dict[str, Any]:
    """The seed dataset written in every format, as bytes (made once; not a fixture, so a failing example does
    not print it)."""
    if not _SEEDS:
        folder = Path(tempfile.mkdtemp(prefix="chanjiao-fuzz-seed-"))
        paths = write_formats(seed_raw(), folder)
        _SEEDS.update({k: paths[k].read_bytes() for k in ("json", "yaml", "xlsx")})
        _SEEDS["csv"] = {f.name: f.read_bytes() for f in sorted(paths["csv"].iterdir())}
        shutil.rmtree(folder)
    return _SEEDS


def assert_accounted(path: Path) -> None:
    """The reader either refuses in one line or every row it read is accepted or rejected, none lost."""
    try:
        raw, warnings = read_raw(path)
    except FatalError as exc:
        assert "\n" not in str(exc) and str(exc)
        return
    ds = validate_rows(raw, warnings)
    for rtype in RECORD_TYPES:
        rows = len(raw.get(rtype) or [])
        rejected = {e.row for e in ds.errors if e.record_type == rtype}
        assert rows == len(ds.records[rtype]) + len(rejected), (rtype, rows, len(ds.records[rtype]), rejected)
        assert all(1 <= r <= rows for r in rejected)
    for e in ds.errors:  # every rejection is writable (no lone surrogate reaches an output)
        str(e.as_dict()).encode("utf-8")


def _write(data: bytes, name: str) -> Path:
    d = Path(tempfile.mkdtemp(prefix="chanjiao-fuzz-"))
    (d / name).write_bytes(data)
    return d


@pytest.mark.parametrize("fmt", ["json", "yaml"])
@fuzz(40)
@given(data=st.data())
def test_documents_mutated(fmt: str, data: Any) -> None:
    d = _write(data.draw(mutated(seeds()[fmt])), f"data.{fmt}")
    try:
        assert_accounted(d / f"data.{fmt}")
    finally:
        shutil.rmtree(d)


@pytest.mark.parametrize("fmt", ["json", "yaml", "csv", "xlsx"])
@fuzz(15)
@given(blob=st.binary(max_size=300) | st.lists(st.sampled_from(HOSTILE), max_size=6).map(b"".join))
def test_arbitrary_bytes(fmt: str, blob: bytes) -> None:
    name = "enterprises.csv" if fmt == "csv" else f"data.{fmt}"
    d = _write(blob, name)
    try:
        assert_accounted(d if fmt == "csv" else d / name)
    finally:
        shutil.rmtree(d)


@fuzz(40)
@given(data=st.data())
def test_csv_directory_mutated(data: Any) -> None:
    files = dict(seeds()["csv"])
    victim = data.draw(st.sampled_from(sorted(files)))
    files[victim] = data.draw(mutated(files[victim]))
    d = Path(tempfile.mkdtemp(prefix="chanjiao-fuzz-"))
    try:
        for name, content in files.items():
            (d / name).write_bytes(content)
        assert_accounted(d)
    finally:
        shutil.rmtree(d)


@fuzz(25)
@given(data=st.data())
def test_xlsx_mutated(data: Any) -> None:
    """A part of the workbook (a sheet, the shared strings, the workbook) mutated inside a valid zip, or the zip."""
    seed = seeds()["xlsx"]
    src = zipfile.ZipFile(io.BytesIO(seed))
    names = src.namelist()
    victim = data.draw(st.sampled_from([n for n in names if n.endswith(".xml")] + ["(the zip itself)"]))
    if victim == "(the zip itself)":
        blob = data.draw(mutated(seed))
    else:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
            for n in names:
                part = src.read(n)
                out.writestr(n, data.draw(mutated(part)) if n == victim else part)
        blob = buf.getvalue()
    d = _write(blob, "data.xlsx")
    try:
        assert_accounted(d / "data.xlsx")
    finally:
        shutil.rmtree(d)


@fuzz(12)
@given(data=st.data())
def test_parquet_streamed(data: Any) -> None:
    """A Parquet file (mutated bytes, or valid with hostile text) through the streamed check: a one-line refusal,
    or every row read is decided or listed as rejected."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from engine.run.stream import check_stream

    e1 = make_uscc("220502", 1)
    texts = st.one_of(st.sampled_from([h.decode("utf-8", "replace") for h in HOSTILE]), st.text(max_size=30))
    rows = data.draw(st.lists(st.fixed_dictionaries({"id": st.sampled_from([e1, make_uscc("220502", 3)]) | texts,
                                                     "name": texts, "region_code": st.just("220502") | texts,
                                                     "total_wages": st.just("1000.00") | texts}),
                              min_size=1, max_size=6))
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    blob = buf.getvalue()
    if data.draw(st.booleans()):
        blob = data.draw(mutated(blob))
    d = _write(blob, "enterprises.parquet")
    (d / "out").mkdir()
    try:
        try:
            res = check_stream(d, shipped(), dt.date(2021, 12, 31), None, d / "out" / "d.parquet", "parquet", 2,
                               progress=False, workers=1)
        except FatalError as exc:
            assert "\n" not in str(exc)
            return
        out = d / "out" / "d.parquet"  # no decision at all: the stream may write no file
        decided = pq.read_table(out, columns=["subject_type", "subject_id"]).to_pylist() if out.exists() else []
        accepted = {r["subject_id"] for r in decided if r["subject_type"] == "enterprises"}
        rejected = {e.row for e in res.errors if getattr(e, "record_type", None) == "enterprises"}
        # nothing lost: every row read is decided or listed as rejected (a rejected subject may also carry
        # undetermined decisions naming it, so the two sets may overlap)
        assert len(rejected) <= res.records <= len(accepted) + len(rejected)
    finally:
        shutil.rmtree(d)


def _seed_changes() -> list[bytes]:
    e1 = make_uscc("220502", 1)
    return [
        b'{"op": "upsert", "record_type": "schools", "record": {"id": "S1", "name": "a", "region_code": "220502", '
        b'"school_type": "secondary_vocational", "demonstration_project": true, "enrolled_students": 10}}',
        ('{"op": "upsert", "record_type": "enterprises", "record": {"id": "%s", "name": "b", "region_code": '
         '"220502", "total_wages": "1000.00", "education_fund": "20.00"}}' % e1).encode(),
        b'{"op": "delete", "record_type": "schools", "record": {"id": "S1"}}',
    ]


@fuzz(30)
@given(data=st.data())
def test_watch_lines(data: Any) -> None:
    """Any bytes as a change stream: each line is applied or reported as a ChangeError, never anything else."""
    from engine.engines import make_engine

    seeds = _seed_changes()
    lines = data.draw(st.lists(st.sampled_from(seeds) | st.sampled_from(seeds).flatmap(mutated)
                               | st.binary(max_size=60), min_size=1, max_size=8))
    stream = io.BytesIO(b"\n".join(lines))
    applied = rejected = 0
    numbers: list[int] = []
    with make_engine("reference", shipped()) as eng:
        watcher = Watcher(eng, dt.date(2021, 12, 31))
        for number, text in change_lines(stream):
            numbers.append(number)
            try:
                if isinstance(text, ChangeError):
                    raise text
                for out in watcher.apply(read_change(text), number):
                    json.dumps(out, ensure_ascii=False).encode("utf-8")  # writable
                applied += 1
            except ChangeError:
                rejected += 1
    assert applied + rejected == len(numbers) and numbers == sorted(set(numbers))
    assert len(numbers) <= b"\n".join(lines).count(b"\n") + 1


def _pack_copy() -> Path:
    d = Path(tempfile.mkdtemp(prefix="chanjiao-fuzz-pack-"))
    shutil.copytree(shipped_packs_dir() / "tonghua-2019", d / "tonghua-2019")
    return d / "tonghua-2019"


PACK_FILES = ["pack.yaml", "rules/frontline_share.yaml", "rules/certificate_subsidy.yaml", "tests/frontline_share.yaml"]


@fuzz(30)
@given(data=st.data())
def test_rule_pack_parser(data: Any) -> None:
    """A pack with one mutated file loads or reports PolicyErrors; nothing is raised."""
    d = _pack_copy()
    try:
        victim = d / data.draw(st.sampled_from([f for f in PACK_FILES if (d / f).exists()]))
        victim.write_bytes(data.draw(mutated(victim.read_bytes()) | st.binary(max_size=200)))
        loaded, errors = load_packs([d], include_shipped=False)
        assert all(isinstance(e, PolicyError) for e in errors)
        for e in errors:
            str(e).encode("utf-8", "backslashreplace")
        if victim.parent.name == "tests":  # the case runner reads it: failures are results, never exceptions
            from engine.policy.casetests import run_case_file

            for result in run_case_file(victim, loaded or shipped()):
                assert all(isinstance(f, str) for f in result.failures)
    finally:
        shutil.rmtree(d.parent)
