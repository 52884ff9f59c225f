"""Whole populations in bounded memory: files read in chunks, partitioned by enterprise, decided column-wise.

1. **Partition** — this process reads every CSV or Parquet file in batches; a worker process validates each
   batch column-wise (:mod:`engine.data.vvalidate`) and spills its accepted rows to an Arrow file sorted by a hash of
   the enterprise they belong to (an enterprise's id; the ``enterprise_id`` of its agreements, payments, expenses,
   certificates and land), so every join of a rule stays inside one partition. Graduates are spread by id;
   schools (a tenth of the enterprises) are kept whole and given to every partition. A 64-bit hash of every
   accepted id finds the candidates for duplicate ids across batches, and their text decides (the first
   accepted row keeps the id).
2. **Decide** — the workers decide the partitions side by side (tables, dataset warnings, the vectorised
   backend) and hand the decisions back as Arrow streams; this process writes them in partition order, row by
   row, to CSV, Parquet or JSON Lines, with the roll-ups beside them — the same files for any number of workers.
3. **Summary** — counts per rule and status, exact amount totals and the most frequent missing facts are
   added up as partitions finish and written as ``OUT.summary.json`` (the document's ``summary`` without the
   per-enterprise roll-ups, which are in ``OUT.rollups.*``); errors and warnings go to ``OUT.errors.csv``.

Peak memory follows the partition size times the workers, not the file size.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from collections import Counter, deque
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.engines.vectorised import (DecisionColumns, Unsupported, VectorisedEngine, money_text,
                                  decide_rule)
from engine.engines.vectorised import rejected_columns, taint_columns
from engine.engines.columns import SPACE_CHARS, Column, Table, empty_table
from engine.output.decisions import money
from engine.output.terms import AMOUNT_KEYS, COMPLIANT, ELIGIBLE, STATUSES, UNDETERMINED, amount_total_key
from engine.errors import EvaluationError, FatalError, RecordError, RecordWarning
from engine.data.limits import DEFAULT_LIMITS, Limits, check_stream_file
from engine.data.loaders import (FileLayout, ReadStats, Source, csv_places, invalid_row_counter, layout_columns, locate,
                      parquet_text_columns, plan_files, record_type_of)
from engine.messages import localise, msg
from engine.run.partition import PLACEMENT, PartitionPlan, plan_for
from engine.policy.packs import Pack
from engine.data.records import RECORD_TYPES, Rejected, rejected_records, rejected_rows
from engine.engines.rejected import EMPTY, TableSource, listed_inputs, taint
from engine.run.annotate import parameters_in_force
from engine.output.atomic import OutputSet, die_with_parent, refuse_overwriting_inputs, require_folder
from engine.output.safe import spreadsheet_cell, spreadsheet_column
from engine.data.vvalidate import Validated, duplicate_error, finish_tables, validate_columns

__all__ = ["StreamResult", "check_stream", "place_problems", "read_problems", "decide_tables", "decision_table", "finish_result", "input_files",
           "text_columns", "text_hash", "unreadable", "batch_rows",
           "partition_of", "partition_tables", "partitions_for", "RowWriter", "RunningSummary", "table_from_arrow", "table_to_arrow",
           "STREAM_FORMATS"]

STREAM_FORMATS = ("csv", "parquet", "jsonl")
_ELIGIBLE, _COMPLIANT, _UNDETERMINED = (STATUSES.index(s) for s in (ELIGIBLE, COMPLIANT, UNDETERMINED))
ROLLUP_SCHEMA = pa.schema([("group", pa.string()), ("id", pa.string()), ("name", pa.string()),
                           ("period", pa.string()), ("count", pa.int64()), *((k, pa.string()) for k in AMOUNT_KEYS)])
_FILTERED_COLUMNS = {"rule_id", "subject_type", "subject_id", "status", "effect", "group", "id", "period"}
_DISTINCT_COLUMNS = {"subject_id", "reasons", *AMOUNT_KEYS, "id"}
BY_ENTERPRISE = {rtype: by for rtype, by in PLACEMENT.items() if by is not None}  # schools: kept whole


@dataclass
class StreamResult:
    """What a streamed check did: counts, errors and warnings, and where the files are."""

    records: int = 0
    decisions: int = 0
    errors: list[RecordError | EvaluationError] = field(default_factory=list)
    warnings: list[RecordWarning] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    outputs: list[Path] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    lang: str = "zh"  # the language of the messages in OUT.errors.csv ('zh' or 'en')

    @property
    def rejected(self) -> int:
        """How many record errors the run reported."""
        return sum(isinstance(e, RecordError) for e in self.errors)

    @property
    def exit_code(self) -> int:
        """As :attr:`engine.run.CheckResult.exit_code`: 0 all accepted, 1 some rejected, 2 no record accepted (so
        nothing could be decided; a total row the readers skip is not a record)."""
        not_accepted = {(e.record_type, e.row) for e in self.errors if isinstance(e, RecordError) and e.row}
        totals = sum(getattr(w.message, "key", "") == "record.total_row" for w in self.warnings)
        if self.records - totals <= len(not_accepted):
            return 2
        return 1 if self.rejected else 0


def input_files(path: Path, limits: Limits = DEFAULT_LIMITS) -> dict[str, Path]:
    """The CSV or Parquet file of each record type in a directory (names or their Chinese aliases); a FIFO or
    device is refused, and a CSV header over ``limits`` (line length, columns) too."""
    if not path.is_dir():
        raise FatalError(msg("stream.not_dir", path=path))
    out: dict[str, Path] = {}
    for f in sorted(path.iterdir()):
        if f.suffix.lower() in (".csv", ".parquet"):
            rtype = record_type_of(f.stem)
            if rtype is not None and rtype not in out:
                out[rtype] = f
    if not out:
        raise FatalError(msg("stream.no_files", path=path))
    for f in out.values():
        check_stream_file(f, limits)
    return out


def text_columns(batch: pa.RecordBatch | pa.Table) -> dict[str, pa.Array]:
    """A batch's columns by stripped name, as text (a Parquet column of numbers or dates is cast).

    A row whose every cell is empty or white space (``,,,,``) is no record: it is left out, as the CSV and XLSX
    loaders leave it out, so it is neither counted nor numbered.
    """
    out = {}
    for name in batch.schema.names:
        col = batch.column(name)
        out[str(name).strip()] = pc.cast(col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col, pa.string())
    return _without_blank_rows(out)


def _blank(col: pa.Array) -> np.ndarray:
    trimmed = pc.utf8_trim(col, SPACE_CHARS)
    return np.asarray(pc.fill_null(pc.equal(pc.binary_length(trimmed), 0), True).to_numpy(zero_copy_only=False),
                      dtype=bool)


def _without_blank_rows(cols: dict[str, pa.Array]) -> dict[str, pa.Array]:
    if not cols:
        return cols
    first = next(iter(cols.values()))
    blank = _blank(first)  # the first column decides for almost every row: only its blank cells look further
    if not blank.any():
        return cols
    for col in list(cols.values())[1:]:
        at = np.flatnonzero(blank)
        blank[at] &= _blank(col.take(pa.array(at)))
        if not blank.any():
            return cols
    keep = pa.array(np.flatnonzero(~blank))
    return {name: col.take(keep) for name, col in cols.items()}


def unreadable(path: Path, exc: BaseException, hint: str = "") -> FatalError:
    """The one-line error for a file Arrow cannot read (its first line of explanation, and a hint if any)."""
    return FatalError(msg("stream.unreadable", path=path, problem=str(exc).splitlines()[0], hint=hint))


def _batches(path: Path, rows: int, rtype: str = "", layout: FileLayout | None = None,
             stats: ReadStats | None = None) -> Iterator[dict[str, pa.Array]]:
    """A file's batches as text columns by field: a CSV file read from its data rows by its layout (header
    aliases, encoding, blank and invalid rows counted in ``stats``), a Parquet file by row group."""
    stats = stats if stats is not None else ReadStats()
    try:
        if path.suffix.lower() == ".parquet":
            for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
                batch.validate(full=True)  # Parquet does not check its strings: invalid UTF-8 stops here, in one line
                cols = parquet_text_columns(pa.Table.from_batches([batch]), rtype, path.name) if rtype else \
                    text_columns(batch)
                stats.rows += batch.num_rows
                yield cols
            return
        import pyarrow.csv as pacsv

        if layout is None or not layout.fields or layout.data_offset >= path.stat().st_size:
            return  # an empty file, or a header and no rows (Arrow refuses "Empty CSV file")
        with pa.OSFile(str(path)) as fh:
            fh.seek(layout.data_offset)
            reader = pacsv.open_csv(fh, read_options=layout.read_options(max(1 << 20, rows * 120)),
                                    parse_options=pacsv.ParseOptions(invalid_row_handler=invalid_row_counter(stats)),
                                    convert_options=layout.convert_options())
            for batch in reader:
                yield layout_columns(layout, batch, stats)
    except (pa.ArrowException, OSError) as exc:  # unreadable, not UTF-8, a column that is not text-like
        if "straddl" in str(exc):  # one line longer than a read block: bounded, and the option that raises it
            block = max(1 << 20, rows * 120)
            raise FatalError(msg("limit.line_over_block", path=path, block=f"{block:,}")) from None
        raise unreadable(path, exc) from None


def read_problems(res: "StreamResult", files: dict[str, Path], layouts: dict[str, FileLayout],
                  stats: dict[str, ReadStats], header_row: int | None = None) -> dict[str, Source]:
    """After validation, before any decision: the rows Arrow could not read (each an error at its line, and a
    rejected record — unknown, not absent) and the columns without a header, from one pass over each unusual
    CSV file, as the in-memory reader finds them. Returns those files' sources (every row's line)."""
    sources: dict[str, Source] = {}
    for rtype, f in files.items():
        layout = layouts.get(rtype)
        st = stats.get(rtype, ReadStats())
        if layout is None or not (st.invalid or st.unnamed):
            continue
        sources[rtype], errors, warnings = csv_places(layout, st, header_row)
        if st.invalid != len(errors):  # Arrow skipped rows that Python's reader reads: a line break in quotes, cut
            raise FatalError(msg("stream.rows_disagree", path=f, n=st.invalid, m=len(errors)))
        res.errors += errors
        res.warnings += warnings
    return sources


def place_problems(res: "StreamResult", files: dict[str, Path], layouts: dict[str, FileLayout],
                   stats: dict[str, ReadStats], header_row: int | None = None,
                   known: dict[str, Source] | None = None, also: Iterable[Any] = ()) -> dict[str, Source]:
    """Name the place of every error and warning of a streamed check, as the in-memory reader does (``known``:
    the sources :func:`read_problems` or an earlier call found; the others from each file's layout, by one more pass
    if needed). ``also``: problems placed later whose types need a source now. Returns the sources."""
    sources: dict[str, Source] = dict(known or {})
    wanted = {p.record_type for p in [*res.errors, *res.warnings, *also] if getattr(p, "row", None)}
    for rtype, f in files.items():
        layout = layouts.get(rtype)
        if rtype in sources:
            continue
        if layout is None:
            sources[rtype] = Source(rtype, f.name, "parquet", None, 1)
            continue
        if rtype not in wanted:
            continue
        sources[rtype], errors, warnings = csv_places(layout, stats.get(rtype, ReadStats()), header_row)
    res.errors = locate(res.errors, sources)
    res.warnings = locate(res.warnings, sources)
    return sources


_K0, _K1 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9)
_K2, _M64 = np.uint64(0x94D049BB133111EB), (1 << 64) - 1
_WIDE = 64  # strings longer than this many bytes (rare) are hashed one by one, by the same formula


def text_hash(arr: pa.Array) -> np.ndarray:
    """A 64-bit hash of each string's UTF-8 bytes, vectorised over the Arrow buffers (null hashes as "").

    The string is read as little-endian 8-byte words (the last one zero-padded), each mixed in by a multiply and
    a shift, then the length and a final mix: a function of the string alone, whatever else the batch holds.
    """
    arr = pc.fill_null(pc.cast(arr, pa.string()), "")
    n = len(arr)
    if not n:
        return np.zeros(0, np.uint64)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset:arr.offset + n + 1].astype(np.int64)
    body = (np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]] if arr.buffers()[2] is not None
            else np.zeros(0, np.uint8))
    lengths = np.diff(offsets)
    wide = np.flatnonzero(lengths > _WIDE)
    short = lengths.copy()
    short[wide] = 0  # hashed below, one by one
    width = max(8, -(-int(short.max()) // 8) * 8)
    mat = np.zeros((n, width), np.uint8)
    if not len(wide) and (lengths == lengths[0]).all():
        mat[:, :lengths[0]] = body.reshape(n, lengths[0])
    else:
        rows = np.repeat(np.arange(n), short)
        starts = np.repeat(offsets[:-1] - offsets[0], short)
        cols = np.arange(len(rows)) - np.repeat(np.cumsum(short) - short, short)
        mat[rows, cols] = body[starts + cols]
    words = mat.view("<u8")
    count = (short + 7) // 8
    h = np.zeros(n, np.uint64)
    with np.errstate(over="ignore"):
        for k in range(words.shape[1]):
            mixed = (h ^ words[:, k]) * _K0
            h = np.where(k < count, mixed ^ (mixed >> np.uint64(29)), h)
        h = _finish_hash(h ^ short.astype(np.uint64))
    for i in wide:
        h[i] = _text_hash_one(body[offsets[i] - offsets[0]:offsets[i + 1] - offsets[0]].tobytes())
    return h


def _finish_hash(h: np.ndarray) -> np.ndarray:
    h = (h ^ (h >> np.uint64(30))) * _K1
    h = (h ^ (h >> np.uint64(27))) * _K2
    return h ^ (h >> np.uint64(31))


def _text_hash_one(data: bytes) -> int:
    """:func:`text_hash` of one string's bytes, in Python integers."""
    h = 0
    for k in range(0, len(data), 8):
        word = int.from_bytes(data[k:k + 8].ljust(8, b"\0"), "little")
        h = ((h ^ word) * int(_K0)) & _M64
        h ^= h >> 29
    h ^= len(data)
    h = ((h ^ (h >> 30)) * int(_K1)) & _M64
    h = ((h ^ (h >> 27)) * int(_K2)) & _M64
    return h ^ (h >> 31)


def batch_rows(cols: dict[str, pa.Array]) -> int:
    """How many rows a batch of text columns holds (0 for a file with a header only)."""
    return len(next(iter(cols.values()))) if cols else 0


def partition_of(t: Table, parts: int, id_hashes: np.ndarray | None = None) -> np.ndarray:
    """The partition (0 … parts-1) of each row: a hash of the enterprise the row belongs to.

    ``id_hashes``, the rows' :func:`text_hash` of their ids if already made, spares hashing again the record types
    partitioned by their own id (enterprises, graduates).
    """
    if not t.n:
        return np.zeros(0, np.int64)
    by = BY_ENTERPRISE[t.record_type]
    hashes = id_hashes if by == "id" and id_hashes is not None else text_hash(t.columns[by].arrow())
    return (hashes % np.uint64(parts)).astype(np.int64)


def table_to_arrow(t: Table) -> pa.Table:
    """A validated table as Arrow: ``__row``, each field's values and its ``__known`` mask."""
    cols: dict[str, Any] = {"__row": pa.array(t.rows, pa.int64())}
    for name, c in t.columns.items():
        cols[name] = c.arrow()
        cols[f"{name}__known"] = pa.array(c.known)
    return pa.table(cols)


def table_from_arrow(rtype: str, tab: pa.Table | None) -> Table:
    """The inverse of :func:`table_to_arrow` (an empty table for None)."""
    if tab is None or tab.num_rows == 0:
        return empty_table(rtype)
    base = empty_table(rtype)
    cols = {}
    for name, c in base.columns.items():
        known = tab.column(f"{name}__known").to_numpy().copy()
        if c.kind == "str":  # text stays Arrow until a rule reads it
            cols[name] = Column(c.kind, None, known, c.den, c.exp,
                                arrow=pc.cast(tab.column(name).combine_chunks(), pa.string()))
        else:
            cols[name] = Column(c.kind, tab.column(name).to_numpy().copy(), known, c.den, c.exp)
    return Table(rtype, cols, tab.column("__row").to_numpy().copy())


class _Progress:
    """A rich progress bar on a terminal (records/s, ETA), silent otherwise."""

    def __init__(self, enabled: bool, total: int, label: str):
        self.bar = None
        if enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                TextColumn("{task.completed:,}/{task.total:,} {task.fields[rate]}"),
                                TimeRemainingColumn(), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(label, total=total, rate="")
            self.start = time.perf_counter()
            self.done = 0

    def advance(self, n: int) -> None:
        if self.bar is not None:
            self.done += n
            rate = self.done / max(time.perf_counter() - self.start, 1e-9)
            self.bar.update(self.task, advance=n, rate=f"{rate:,.0f} records/s")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def decision_table(batch: DecisionColumns, pack: Pack) -> pa.Table:
    """One rule's decisions as rows: the columns of the decision document (lists stay lists)."""
    rule = batch.rule
    n = len(batch)

    def amount(key: str) -> pa.Array:
        if key not in batch.amounts:
            return pa.nulls(n, pa.string())
        num, den, present = batch.amounts[key]
        at = np.flatnonzero(present)  # positive decisions only: the others have no amount to write
        text = money_text(num[at], den)
        slot = np.zeros(n, np.int64)
        slot[at] = np.arange(len(at))
        return text.take(pa.array(slot, mask=~present))

    # only undetermined decisions miss facts: the lists are built from those rows, the others are empty
    lacking = np.flatnonzero(batch.status == _UNDETERMINED)
    facts = batch.missing[lacking]
    offsets = np.zeros(n + 1, np.int32)
    offsets[lacking + 1] = np.fromiter(map(len, facts), np.int32, len(facts))
    missing = pa.ListArray.from_arrays(pa.array(np.cumsum(offsets, dtype=np.int32)),
                                       pa.array([f for row in facts for f in row], pa.string()))
    subjects = (pa.array(batch.subject_ids, pa.string()) if batch.subject_text is None
                else pc.cast(batch.subject_text, pa.string()))
    zeros = pa.array(np.zeros(n, np.int32))

    def const(value: str) -> pa.Array:  # one value for the whole batch: stored once, as a dictionary
        return pa.DictionaryArray.from_arrays(zeros, pa.array([value], pa.string()))

    extra = {}
    if batch.rejected_inputs is not None:  # a run with rejected records: every batch has the column
        listed = [listed_inputs(batch.rejected_inputs.get(i, [])) for i in range(n)]
        extra["rejected_inputs"] = pa.array([x.get("rejected_inputs", []) for x in listed], REJECTED_INPUTS)
        extra["rejected_inputs_total"] = pa.array([x.get("rejected_inputs_total") for x in listed], pa.int64())
    return pa.table({
        "rule_id": const(rule.id), "subject_type": const(rule.subject),
        "subject_id": subjects,
        "status": pa.DictionaryArray.from_arrays(pa.array(batch.status), pa.array(STATUSES, pa.string())),
        "effect": const(rule.effect), **{k: amount(k) for k in AMOUNT_KEYS}, "missing_facts": missing, "reasons": batch.reasons,
        "document_number": const(rule.citation.document_number), "clause": const(rule.citation.clause),
        "quote": const(rule.citation.quote), **extra,
    })


REJECTED_INPUTS = pa.list_(pa.struct([("record_type", pa.string()), ("row", pa.int64()), ("id", pa.string()),
                                        ("place", pa.string())]))
"""The type of the decisions' ``rejected_inputs`` column (CSV writes it as JSON text)."""


class RowWriter:
    """Decisions (or roll-ups) appended row by row to one CSV, Parquet or JSON Lines file."""

    def __init__(self, path: Path, fmt: str):
        self.path, self.fmt = path, fmt
        self.handle: Any = None

    def write(self, table: pa.Table) -> None:
        """Append the rows of ``table`` (the file is created at the first write)."""
        if self.fmt == "arrows":  # between processes: an Arrow IPC stream, as the batches come
            if self.handle is None:
                self.sink = pa.OSFile(str(self.path), "wb")
                self.handle = pa.ipc.new_stream(self.sink, table.schema)
            self.handle.write_table(table)
            return
        if self.fmt == "parquet":
            if self.handle is None:
                # min/max statistics only where a reader would filter on them (not on reasons or quotes)
                stats = [n for n in table.column_names if n in _FILTERED_COLUMNS]
                # dictionary pages where values repeat (not for ids, reasons or amounts); without the Arrow
                # schema a reader sees the dictionary columns as the plain text they are
                repeated = [n for n in table.column_names if n not in _DISTINCT_COLUMNS]
                self.handle = pq.ParquetWriter(self.path, table.schema, write_statistics=stats,
                                               use_dictionary=repeated, store_schema=False)
            self.handle.write_table(table)
            return
        if self.handle is None:
            # CSV files start with a UTF-8 BOM (Excel on Chinese Windows then reads UTF-8); JSON Lines do not
            self.handle = open(self.path, "w", encoding="utf-8-sig" if self.fmt == "csv" else "utf-8", newline="")
            self.first = True
        table = pa.table({name: pc.cast(col, pa.string()) if pa.types.is_dictionary(col.type) else col
                          for name, col in zip(table.column_names, table.columns)})
        if self.fmt == "jsonl":
            df = table.to_pandas()
            for col in ("missing_facts", "reasons", "rejected_inputs"):
                if col in df:
                    df[col] = df[col].map(list)
            if "rejected_inputs_total" in df:  # whole numbers or null, not pandas' float NaN
                df["rejected_inputs_total"] = pd.Series(table.column("rejected_inputs_total").to_pylist(), dtype=object)
            if len(df):
                self.handle.write(df.to_json(orient="records", lines=True, force_ascii=False).rstrip("\n") + "\n")
        else:
            import pyarrow.csv as pacsv

            cols = {}
            for name in table.column_names:
                col = table.column(name)
                if col.type == REJECTED_INPUTS:
                    col = pa.array([json.dumps(v, ensure_ascii=False) for v in col.to_pylist()], pa.string())
                elif pa.types.is_list(col.type):
                    col = pc.binary_join(col, "; " if name == "missing_facts" else " | ")
                cols[name] = spreadsheet_column(col)  # no cell a spreadsheet would run as a formula
            buf = pa.BufferOutputStream()
            pacsv.write_csv(pa.table(cols), buf, pacsv.WriteOptions(include_header=self.first))
            self.handle.write(buf.getvalue().to_pybytes().decode("utf-8").replace("\r\n", "\n"))
            self.first = False

    def close(self) -> None:
        """Finish the file (nothing is written if no row was)."""
        if self.handle is not None:
            self.handle.close()
            if self.fmt == "arrows":
                self.sink.close()


class RunningSummary:
    """The document's summary, added up partition by partition (amounts exact)."""

    def __init__(self, packs: list[Pack]):
        # (rule id, whether it gives an amount range): plain data, cheap to send back from a Dask worker
        self.rules = [(r.id, r.ranged) for p in packs for r in p.rules]
        self.counts: dict[str, Counter[str]] = {rid: Counter() for rid, _ in self.rules}
        self.totals: dict[str, dict[str, Decimal]] = {rid: {} for rid, _ in self.rules}
        self.missing: Counter[str] = Counter()
        self.error_rows: dict[tuple[str, str], int] = {}  # (rule id, subject id) of an evaluation error -> its row
        self.accepted_rejected: set[tuple[str, str]] = set()  # (type, id) of rejected records an accepted one has

    def add(self, batch: DecisionColumns) -> None:
        """Count one rule's decided batch."""
        rid = batch.rule.id
        self.counts[rid].update({STATUSES[code]: int(times) for code, times
                                 in enumerate(np.bincount(batch.status, minlength=len(STATUSES))) if times})
        # only undetermined decisions miss facts; count each distinct list once, then its facts by that count
        for facts, times in Counter(map(tuple, batch.missing[batch.status == _UNDETERMINED])).items():
            for fact in facts:
                self.missing[fact] += times
        positive = (batch.status == _ELIGIBLE) | (batch.status == _COMPLIANT)
        for key, (num, den, present) in batch.amounts.items():
            sel = present & positive
            if not sel.any():
                continue
            vals = num[sel]
            if vals.dtype == object or float(np.abs(vals).max()) * len(vals) >= 2**62:
                total = int(vals.astype(object).sum())
            else:
                total = int(vals.sum())
            if not isinstance(den, int):
                raise FatalError("amounts with per-row denominators cannot be totalled")
            name = amount_total_key(key)
            self.totals[rid][name] = self.totals[rid].get(name, Decimal(0)) + Decimal(total) / Decimal(den)

    def merge(self, other: "RunningSummary") -> None:
        """Add another partition's counts, totals and missing facts (exact, in any order)."""
        for rid, counts in other.counts.items():
            self.counts[rid].update(counts)
            for name, total in other.totals[rid].items():
                self.totals[rid][name] = self.totals[rid].get(name, Decimal(0)) + total
        self.missing.update(other.missing)
        self.error_rows.update(other.error_rows)
        self.accepted_rejected |= other.accepted_rejected

    def result(self) -> dict[str, Any]:
        """The summary: per rule, a count per status and the amount totals; missing facts, most frequent first."""
        by_rule = {}
        for rid, ranged in self.rules:
            counts: dict[str, Any] = {s: int(self.counts[rid].get(s, 0)) for s in STATUSES}
            for key in AMOUNT_KEYS if ranged else AMOUNT_KEYS[:1]:
                counts[amount_total_key(key)] = money(self.totals[rid].get(amount_total_key(key), Decimal(0)))
            by_rule[rid] = counts
        return {"by_rule": by_rule,
                "missing_facts": dict(sorted(self.missing.items(), key=lambda kv: (-kv[1], kv[0])))}


def _rollup_rows(batch: DecisionColumns) -> pa.Table | None:
    """The batch's positive decisions added up per group (and period): rows of the roll-ups file."""
    rule = batch.rule
    if rule.rollup is None or batch.rollup_key is None:
        return None
    sel = pd.notna(batch.rollup_key)
    if not sel.any():
        return None
    period = batch.rollup_period[sel] if batch.rollup_period is not None else np.full(int(sel.sum()), "", dtype=object)
    df = pd.DataFrame({"key": batch.rollup_key[sel], "period": period, "count": np.ones(int(sel.sum()), np.int64)})
    aggs: dict[str, str] = {"count": "sum"}
    dens: dict[str, int] = {}
    for key in AMOUNT_KEYS:
        if key in batch.amounts:
            num, den, present = batch.amounts[key]
            if not isinstance(den, int):
                raise FatalError("amounts with per-row denominators cannot be rolled up")
            vals = np.where(present[sel], num[sel], 0)
            small = vals.dtype != object and float(np.abs(vals).max(initial=0)) * len(vals) < 2**62
            df[key] = vals if small else vals.astype(object)
            df[key + "_n"] = present[sel].astype(np.int64)
            aggs[key], aggs[key + "_n"], dens[key] = "sum", "sum", den
    g = df.groupby(["key", "period"], sort=True).agg(aggs).reset_index()
    n = len(g)
    cols: dict[str, Any] = {"group": pa.array(np.full(n, rule.rollup.group, dtype=object), pa.string()),
                            "id": pa.array(g["key"].to_numpy(object), pa.string()),
                            "name": pa.array(np.full(n, rule.rollup.name, dtype=object), pa.string())}
    periodic = rule.rollup.period is not None
    cols["period"] = pa.array(g["period"].to_numpy(object), pa.string()) if periodic else pa.nulls(n, pa.string())
    cols["count"] = pa.array(g["count"].to_numpy(np.int64))
    for key in AMOUNT_KEYS:
        if key not in dens:
            cols[key] = pa.nulls(n, pa.string())
            continue
        total = g[key].to_numpy()
        text = money_text(total, dens[key])
        # a period roll-up adds unknown amounts as 0; a plain one leaves out an amount no decision had
        shown = np.ones(n, dtype=bool) if periodic else g[key + "_n"].to_numpy() > 0
        cols[key] = pc.if_else(pa.array(shown), text, pa.nulls(n, pa.string()))
    return pa.table(cols, schema=ROLLUP_SCHEMA)


def default_workers() -> int:
    """Worker processes for a streamed check: one per CPU this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class _Inline:
    """An executor that runs each task at once in the calling process (``workers=1``: no processes, no pickling)."""

    def submit(self, fn: Any, *args: Any) -> Future:
        done: Future = Future()
        try:
            done.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by .result(), as a process pool does
            done.set_exception(exc)
        return done

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        """Nothing to stop."""


def _executor(workers: int) -> Any:
    if workers <= 1:
        return _Inline()
    from concurrent.futures import ProcessPoolExecutor

    # fork where there is one: a worker starts with the engine already imported (spawn costs each a fresh import)
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    # each worker dies with this process (a parent killed outright leaves no worker running on)
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context(method), initializer=die_with_parent)


@dataclass
class _Spilled:
    """One validated batch, spilled: its Arrow file sorted by partition, and what the parent needs to know."""

    path: str
    counts: np.ndarray  # rows per partition, in partition order (one entry for schools)
    records: int
    errors: list[RecordError]
    warnings: list[RecordWarning]
    ids: tuple[np.ndarray, np.ndarray, np.ndarray]  # each accepted id's hash, row and place in the file, by hash


def _spill_batch(rtype: str, cols: dict[str, pa.Array], start: int, first: bool, parts: int, path: str) -> _Spilled:
    """Validate one batch (rows numbered from ``start``) and write its accepted rows to ``path``, by partition."""
    n = batch_rows(cols)
    v = validate_columns(rtype, cols, np.arange(start, start + n, dtype=np.int64), warn_unknown=first)
    t = v.table
    h = text_hash(t.columns["id"].arrow())
    arrow = table_to_arrow(t)
    place = np.arange(t.n, dtype=np.int32)
    if rtype == "schools":
        counts = np.array([t.n], np.int64)
    else:
        part = partition_of(t, parts, id_hashes=h)
        counts = np.bincount(part, minlength=parts).astype(np.int64)
        order = np.argsort(part, kind="stable")  # stable: rows stay in file order
        arrow = arrow.take(pa.array(order))
        place[order] = np.arange(t.n, dtype=np.int32)
    _write_arrow(path, arrow)
    by_hash = np.argsort(h, kind="stable")  # sorted here, in the worker: the parent merges sorted runs
    return _Spilled(path, counts, n, v.errors, v.warnings, (h[by_hash], t.rows[by_hash], place[by_hash]))


def _write_arrow(path: str, table: pa.Table) -> None:
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def _spilled_ids(path: str, places: np.ndarray) -> pa.Array:
    """The ids at these places of a spilled batch file."""
    return pa.ipc.open_file(pa.memory_map(path)).read_all().column("id").take(pa.array(places, pa.int64()))


def _spilled_rows(rtype: str, spills: list[tuple[str, int, int]]) -> Table:
    """One partition's rows of one record type: slices of the spilled batch files, in batch order."""
    pieces = []
    for path, offset, count in spills:
        if count:
            pieces.append(pa.ipc.open_file(pa.memory_map(path)).read_all().slice(offset, count))
    return table_from_arrow(rtype, pa.concat_tables(pieces) if pieces else None)


def _spilled_repeats(rtype: str, paths: list[str], rows: np.ndarray) -> Table:
    """The rows of a type (at these 1-based rows) that repeat an earlier accepted id, read back from its spills."""
    pieces = []
    if len(rows):
        for path in paths:
            tab = pa.ipc.open_file(pa.memory_map(path)).read_all()
            pieces.append(tab.filter(pc.is_in(tab.column("__row"), value_set=pa.array(rows, pa.int64()))))
    t = table_from_arrow(rtype, pa.concat_tables(pieces) if pieces else None)
    return t.take(np.argsort(t.rows, kind="stable")) if t.n else t


def partition_tables(validated: dict[str, Validated] | None, schools: Table, duplicate_of: dict[str, np.ndarray],
                     rejected: list[Rejected] | None = None, *, plan: PartitionPlan, whole: bool = False
                     ) -> tuple[dict[str, Table], set[str], list[Any], list[RecordWarning]]:
    """One partition's tables (with the whole schools table), the subject types it decides, and its record errors
    and warnings (the schools' own are reported once, not per partition).

    ``whole`` (or ``validated`` None): the whole partition, which decides the plan's whole-partition rules (the
    schools', and those whose lookups cross partitions) over the entire tables of the types they read
    (``validated``); those records' errors and warnings are reported by the partitions that hold them.
    """
    if whole or validated is None:
        tables, _, _ = finish_tables(validated or {}, known_ids={"schools": schools.columns["id"]},
                                     duplicate_of=duplicate_of, rejected=rejected_rows(rejected or []))
        tables["schools"] = schools
        return tables, plan.subjects(True), [], []
    tables, errors, warnings = finish_tables(validated, known_ids={"schools": schools.columns["id"]},
                                             duplicate_of=duplicate_of, rejected=rejected_rows(rejected or []))
    tables["schools"] = schools
    return (tables, set(RECORD_TYPES) - {"schools"}, [e for e in errors if e.record_type != "schools"],
            [w for w in warnings if w.record_type != "schools"])


def _decide_partition(spills: dict[str, list[tuple[str, int, int]]], whole: bool, school_file: tuple[str, int],
                      duplicate_of: dict[str, np.ndarray], packs: list[Pack], as_of: dt.date,
                      overrides: dict[str, Decimal] | None, out: RowWriter, rollups: RowWriter,
                      rejected: list[Rejected] | None = None
                      ) -> tuple[int, RunningSummary, list[Any], list[RecordWarning]]:
    """One partition's decisions and roll-ups appended to ``out`` and ``rollups`` (``whole``: the whole partition,
    ``spills`` then holding every row of the types its rules read).

    ``school_file`` is the Arrow file of the whole schools table and its rows, mapped here (not sent to each task).

    In a worker process the writers are Arrow stream files of its own, closed here; the parent copies them.
    """
    schools = _spilled_rows("schools", [(school_file[0], 0, school_file[1])])
    validated = {rtype: Validated(_spilled_rows(rtype, s)) for rtype, s in spills.items()}
    plan = plan_for(packs)
    tables, subjects, errors, warnings = partition_tables(validated, schools, duplicate_of, rejected, plan=plan,
                                                          whole=whole)
    summary = RunningSummary(packs)
    decided = decide_tables(tables, subjects, packs, as_of, overrides, out, rollups, summary, errors, rejected,
                            rule_ids=plan.rules(whole))
    if out.fmt == "arrows":
        out.close()
        rollups.close()
    return decided, summary, errors, warnings


def _copy_rows(path: Path, writer: RowWriter) -> None:
    """Append the batches of an Arrow stream file to ``writer`` (nothing if the partition wrote none), then drop it."""
    if path.exists():
        with pa.OSFile(str(path)) as source, pa.ipc.open_stream(source) as reader:
            for batch in reader:
                writer.write(pa.Table.from_batches([batch]))
        path.unlink()


def _handover_dir() -> str | None:
    """Where workers hand decisions to the parent: shared memory when it has room (no disk write-back)."""
    try:
        if shutil.disk_usage("/dev/shm").free >= 2 << 30:
            return "/dev/shm"
    except OSError:
        pass
    return None


def check_stream(path: Path, packs: list[Pack], as_of: dt.date, overrides: dict[str, Decimal] | None,
                 output: Path, fmt: str, chunk_enterprises: int = 50_000, progress: bool | None = None,
                 workers: int | None = None, header_row: int | None = None, lang: str = "zh",
                 limits: Limits = DEFAULT_LIMITS) -> StreamResult:
    """Check a directory of CSV/Parquet files in partitions of about ``chunk_enterprises`` enterprises.

    ``workers`` processes (default: one per CPU; 1 runs everything in this process) validate batches and decide
    partitions side by side; this process reads the files and writes the outputs in partition order, so the
    files are the same whatever the number of workers.
    """
    input_files(path, limits)  # FIFOs, devices and CSV headers over a limit are refused before any file is read
    plan = plan_files(path, header_row)
    files = plan.files
    res = StreamResult()
    res.errors += plan.errors
    res.warnings += plan.warnings
    res.lang = lang
    if progress is None:
        progress = sys.stderr.isatty()
    workers = default_workers() if workers is None else workers
    engine = VectorisedEngine(packs)
    if engine.fallback_rules:
        raise FatalError(msg("stream.fallback", rules=", ".join(engine.fallback_rules)))
    t0 = time.perf_counter()
    parts = partitions_for(files, chunk_enterprises)
    finals = stream_outputs(output, fmt)
    for final in finals.values():  # before any work: a long run must not fail only at the end
        require_folder(final)
    refuse_overwriting_inputs(finals.values(), path)
    tmp = Path(tempfile.mkdtemp(prefix="chanjiao-"))
    pool = _executor(workers)  # before this process reads a file, so no reader thread is running at a fork
    outs = OutputSet()  # every file under a temporary name until the run has succeeded; the summary renamed last
    paths = {key: outs.path(final, last=key == "summary") for key, final in finals.items()}
    try:
        with outs:
            _stream(pool, workers, files, packs, as_of, overrides, paths, fmt, chunk_enterprises, progress,
                    parts, tmp, res, t0, plan.layouts, header_row)
        res.outputs = list(finals.values())
        return res
    except BrokenProcessPool as exc:
        raise FatalError(msg("stream.worker_died", problem=str(exc))) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(tmp, ignore_errors=True)


def stream_outputs(output: Path, fmt: str) -> dict[str, Path]:
    """The files a streamed check of ``output`` writes: decisions, roll-ups, errors, summary (written last)."""
    stem = output.with_suffix("")
    ext = {"csv": "csv", "parquet": "parquet", "jsonl": "jsonl"}[fmt]
    return {"decisions": output, "rollups": Path(f"{stem}.rollups.{ext}"), "errors": Path(f"{stem}.errors.csv"),
            "summary": Path(f"{stem}.summary.json")}


def _stream(pool: Any, workers: int, files: dict[str, Path], packs: list[Pack], as_of: dt.date,
            overrides: dict[str, Decimal] | None, paths: dict[str, Path], fmt: str, chunk_enterprises: int,
            progress: bool, parts: int, tmp: Path, res: StreamResult, t0: float,
            layouts: dict[str, FileLayout] | None = None, header_row: int | None = None) -> StreamResult:
    # 1. read (here) and validate and spill by partition (in the workers), a few batches ahead
    spills: dict[str, list[tuple[str, np.ndarray]]] = {t: [] for t in RECORD_TYPES}
    ids: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {t: [] for t in RECORD_TYPES}
    duplicate_of: dict[str, np.ndarray] = {}
    pending: deque[tuple[str, Future | None]] = deque()
    stats: dict[str, ReadStats] = {}
    bar = _Progress(progress, sum(_rows_estimate(f) for f in files.values()), "validating")

    def collect() -> None:
        rtype, future = pending.popleft()
        if future is None:  # the type's every batch is in: its duplicate ids, while the workers go on
            paths = [p for p, _ in spills[rtype]]
            duplicate_of[rtype] = _duplicates(ids.pop(rtype), lambda k, places: _spilled_ids(paths[k], places))
            return
        s = future.result()
        res.errors += s.errors
        res.warnings += s.warnings
        spills[rtype].append((s.path, s.counts))
        ids[rtype].append(s.ids)
        bar.advance(s.records)

    for rtype in RECORD_TYPES:
        f = files.get(rtype)
        if f is None:
            continue
        start = 1
        stats[rtype] = ReadStats()
        for k, cols in enumerate(_batches(f, chunk_enterprises, rtype, (layouts or {}).get(rtype), stats[rtype])):
            n = batch_rows(cols)
            pending.append((rtype, pool.submit(_spill_batch, rtype, cols, start, k == 0, parts,
                                               str(tmp / f"{rtype}-{k:05d}.arrow"))))
            res.records += n
            start += n
            while len(pending) > 2 * workers:
                collect()
        pending.append((rtype, None))
    while pending:
        collect()
    bar.close()
    for rtype in RECORD_TYPES:
        duplicate_of.setdefault(rtype, np.zeros(0, np.int64))
    school_table = _spilled_rows("schools", [(p, 0, int(c[0])) for p, c in spills["schools"]])
    all_schools, s_errors, s_warnings = finish_tables({"schools": Validated(school_table)}, duplicate_of=duplicate_of)
    schools = all_schools["schools"]
    school_file = (str(tmp / "schools.arrow"), schools.n)  # mapped by each partition's task, not sent to it
    _write_arrow(school_file[0], table_to_arrow(schools))
    res.errors += s_errors
    res.warnings += [w for w in s_warnings if w.record_type == "schools"]
    res.seconds["validate"] = time.perf_counter() - t0
    read = read_problems(res, files, layouts or {}, stats, header_row)  # rows not read are rejected records too
    # unknown, not absent: every partition sees them all, with their places (repeated ids included)
    repeats = [duplicate_error(t, i) for rtype, batches_of in spills.items() if rtype != "schools"
               for t in [_spilled_repeats(rtype, [p for p, _ in batches_of], duplicate_of[rtype])] for i in range(t.n)]
    sources = place_problems(res, files, layouts or {}, stats, header_row, read, also=repeats)
    rejected = rejected_records([*res.errors, *locate(repeats, sources)])
    # 2. decide: the schools once, then every partition; written here in partition order as they come back
    t1 = time.perf_counter()
    out = RowWriter(paths["decisions"], fmt)
    rollups = RowWriter(paths["rollups"], fmt)
    summary = RunningSummary(packs)
    bar = _Progress(progress, parts + 1, "deciding")
    inline = isinstance(pool, _Inline)
    handover = Path(tempfile.mkdtemp(prefix="chanjiao-", dir=_handover_dir())) if not inline else tmp
    # the whole partition first (the schools' rules, and rules whose lookups cross partitions, over whole tables)
    jobs: list[tuple[dict[str, list[tuple[str, int, int]]], bool]] = [
        ({rtype: [(path, 0, int(c.sum())) for path, c in spills[rtype]]
          for rtype in sorted(plan_for(packs).reads_whole()) if spills[rtype]}, True)]
    for p in range(parts):
        part_spills = {}
        for rtype, batches_of in spills.items():
            if rtype != "schools" and sum(int(c[p]) for _, c in batches_of):  # as if the type had no file
                part_spills[rtype] = [(path, int(c[:p].sum()), int(c[p])) for path, c in batches_of]
        jobs.append((part_spills, False))
    running: deque[tuple[Future, Path, Path]] = deque()
    try:
        for k, job in enumerate(jobs):
            if inline:
                sinks = (out, rollups)
            else:
                sinks = (RowWriter(handover / f"decisions-{k}.arrows", "arrows"),
                         RowWriter(handover / f"rollups-{k}.arrows", "arrows"))
            running.append((pool.submit(_decide_partition, *job, school_file, duplicate_of, packs, as_of, overrides,
                                        *sinks, rejected), sinks[0].path, sinks[1].path))
            # a few partitions ahead of the writing, so finished ones do not pile up
            while running and (len(running) > 2 * workers or k == len(jobs) - 1):
                task, out_path, rollup_path = running.popleft()
                decided, part_summary, errors, warnings = task.result()
                res.decisions += decided
                summary.merge(part_summary)
                res.errors += errors
                res.warnings += warnings
                if not inline:
                    _copy_rows(out_path, out)
                    _copy_rows(rollup_path, rollups)
                bar.advance(1)
    finally:
        if not inline:
            shutil.rmtree(handover, ignore_errors=True)
    bar.close()
    res.decisions += decide_rejected_subjects(packs, rejected, summary, out)
    out.close()
    rollups.close()
    res.seconds["decide"] = time.perf_counter() - t1
    place_problems(res, files, layouts or {}, stats, header_row, sources)
    finish_result(res, summary, paths, parameters_in_force(packs, as_of, overrides))
    return res


def decide_tables(tables: dict[str, Table], subjects: set[str], packs: list[Pack], as_of: dt.date,
                  overrides: dict[str, Decimal] | None, out: "RowWriter", rollups: "RowWriter",
                  summary: "RunningSummary", errors: list[RecordError | EvaluationError],
                  rejected: list[Rejected] | None = None, *, rule_ids: set[str] | None = None) -> int:
    """Decide every rule whose subject is in ``subjects`` (and, given ``rule_ids``, whose id is there: the partition
    plan's share) over one partition's tables; the number of decisions.

    Decisions and roll-ups are appended to the writers, counts and totals to ``summary``, division-by-zero
    errors to ``errors``. Decisions that the run's ``rejected`` records could change are undetermined
    (:mod:`engine.engines.rejected`); the rejected subjects' ids found here are noted in ``summary``.
    """
    decided = 0
    found = None
    if rejected:
        source = TableSource(tables)
        found = taint(packs, rejected, source, subjects)
        summary.accepted_rejected |= {(r.record_type, str(r.id)) for r in rejected if r.record_type in subjects
                                      and r.id is not None and source.has(r.record_type, r.id)}
    for pack in packs:
        for rule in pack.rules:
            if rule.subject not in subjects or (rule_ids is not None and rule.id not in rule_ids):
                continue
            try:
                batch = decide_rule(rule, pack, tables, as_of, overrides)
            except Unsupported as exc:  # met only on these data (the engine found none when it was built)
                raise FatalError(msg("stream.fallback", rules=f"{rule.id} ({exc})")) from None
            if found is not None:
                taint_columns(batch, found)
            if len(batch):
                out.write(decision_table(batch, pack))
                ru = _rollup_rows(batch)
                if ru is not None:
                    rollups.write(ru)
            summary.add(batch)
            decided += len(batch)
            errors += [EvaluationError(msg("eval.division_by_zero"), rule.id, str(batch.subject_ids[r]))
                       for r in batch.error_rows]
            rows = tables[rule.subject].rows  # where each is in the input: the document orders errors by it
            summary.error_rows.update({(rule.id, str(batch.subject_ids[r])): int(rows[r]) for r in batch.error_rows})
    return decided


def decide_rejected_subjects(packs: list[Pack], rejected: list[Rejected], summary: "RunningSummary",
                             out: "RowWriter") -> int:
    """The undetermined decisions of rejected subjects whose id no partition had accepted (after every partition)."""
    if not rejected:
        return 0
    found = taint(packs, rejected, EMPTY)
    decided = 0
    for pack in packs:
        for rule in pack.rules:
            ids = sorted({str(r.id) for r in found.own.get(rule.id, [])
                          if (rule.subject, str(r.id)) not in summary.accepted_rejected})
            if ids:
                batch = rejected_columns(rule, [(sid, found.inputs(rule.id, sid)) for sid in ids])
                out.write(decision_table(batch, pack))
                summary.add(batch)
                decided += len(batch)
    return decided


def finish_result(res: StreamResult, summary: "RunningSummary", paths: dict[str, Path],
                  parameters: list[dict[str, Any]] | None = None) -> None:
    """Sort the errors and warnings as the document does; write the summary and the errors file.

    ``paths`` are those of :func:`stream_outputs` (or their temporary stand-ins). The summary file, renamed into
    place last, states that the run is complete and how many records and decisions it holds.
    """
    res.summary = summary.result()
    order = {t: i for i, t in enumerate(RECORD_TYPES)}
    rec_errors = sorted((e for e in res.errors if isinstance(e, RecordError)),
                        key=lambda e: (order.get(e.record_type, -1), e.row or 0))
    rank = {rid: i for i, (rid, _) in enumerate(summary.rules)}  # the document's order: rule, then input row
    ev_errors = sorted((e for e in res.errors if isinstance(e, EvaluationError)),
                       key=lambda e: (rank.get(e.rule_id or "", 0), summary.error_rows.get((e.rule_id or "",
                                                                                          e.subject_id or ""), 0)))
    res.errors = [*rec_errors, *ev_errors]
    res.warnings.sort(key=lambda w: (order.get(w.record_type, -1), w.row or 0))
    _write_issues(paths["errors"], res)
    rejected = sum(isinstance(e, RecordError) for e in res.errors)
    written = {**res.summary, "run": {"complete": True, "records": res.records, "rejected": rejected,
                                      "decisions": res.decisions}}
    if parameters is not None:  # the parameters in force, with their source: a what-if never passes for official
        written["parameters"] = parameters
    paths["summary"].write_text(json.dumps(written, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    res.outputs = [paths[k] for k in ("decisions", "rollups", "summary", "errors")]


def partitions_for(files: dict[str, Path], chunk_enterprises: int) -> int:
    """How many partitions give about ``chunk_enterprises`` enterprises each (from the enterprises file's size)."""
    ent_file = files.get("enterprises")
    return max(1, math.ceil((_rows_estimate(ent_file) if ent_file else 1) / chunk_enterprises))


def _rows_estimate(f: Path) -> int:
    """A file's rows: exact for Parquet, from the size for CSV (the generated files average ~120 bytes a row)."""
    if f.suffix.lower() == ".parquet":
        try:
            return max(1, pq.ParquetFile(f).metadata.num_rows)
        except (pa.ArrowException, OSError):
            pass  # the reader reports it in one line
    return max(1, f.stat().st_size // 120)


def _duplicates(runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                id_text: Callable[[int, np.ndarray], pa.Array]) -> np.ndarray:
    """Rows whose id repeats an earlier accepted row's id.

    ``runs`` holds, batch by batch in row order, each accepted record's 64-bit id hash, row and place in the
    batch, sorted by hash (stably, so rows ascend among equal hashes). Rows sharing a hash are the candidates;
    their ids, read with ``id_text(batch, places)``, decide: a repeat of an id (in row order) is a duplicate,
    and a hash shared by different ids drops nothing.
    """
    if not runs:
        return np.zeros(0, np.int64)
    h = np.concatenate([r[0] for r in runs])
    order = np.argsort(h, kind="stable")  # a merge of sorted runs; stable, so equal hashes stay in row order
    sorted_h = h[order]
    same = np.flatnonzero(sorted_h[1:] == sorted_h[:-1])
    if not len(same):
        return np.zeros(0, np.int64)
    cand = order[np.unique(np.concatenate([same, same + 1]))]  # by hash, then row
    sizes = np.array([len(r[0]) for r in runs])
    batch = np.searchsorted(np.cumsum(sizes), cand, side="right")
    places = np.concatenate([r[2] for r in runs])[cand]
    text = np.empty(len(cand), dtype=object)
    for k in np.unique(batch):
        at = np.flatnonzero(batch == k)
        text[at] = id_text(int(k), places[at]).to_numpy(zero_copy_only=False)
    # equal ids have equal hashes, so they are neighbours here, the earliest row first
    later = pd.Series(text, dtype=object).duplicated(keep="first").to_numpy()
    return np.sort(np.concatenate([r[1] for r in runs])[cand[later]])


def _write_issues(path: Path, res: StreamResult) -> None:
    import csv

    from engine.output.render import ISSUE_COLUMNS

    with open(path, "w", encoding="utf-8-sig", newline="") as fh:  # with a BOM, as every CSV file chanjiao writes
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(ISSUE_COLUMNS)
        for severity, items in (("error", res.errors), ("warning", res.warnings)):
            for e in items:
                d = localise(e.as_dict(), res.lang)
                w.writerow([spreadsheet_cell(v) for v in (severity, *(d.get(k) for k in ISSUE_COLUMNS[1:]))])
