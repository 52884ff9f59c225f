"""Beyond one machine: the streamed check as a Dask graph over DataFrames partitioned by enterprise.

    from engine.run.cluster import check_dask
    check_dask(Path("data"), packs, as_of, None, Path("out/decisions.parquet"), "tcp://10.0.0.5:8786")

1. **Read and validate** — each CSV file is cut into byte ranges at line ends, each Parquet file into its row
   groups; one task reads and validates one piece (:func:`engine.data.vvalidate.validate_columns`) and tags every
   accepted row with its partition (the hash of its enterprise, as :mod:`engine.run.stream` does). Row numbers are
   counted per piece and shifted once every piece is counted, so errors name the row of the file.
2. **Duplicates** — accepted ids are shuffled by id; each id's first accepted row keeps it.
3. **Partition** — every record type but schools becomes a Dask DataFrame indexed by partition with the
   divisions 0, 1, …, P, so partition *i* of every type holds exactly the records of the enterprises hashed to
   *i* and each rule's joins stay inside it. Schools are validated once and broadcast to every worker.
4. **Decide** — one task per partition builds the tables, adds the dataset warnings and runs the vectorised
   backend, writing ``OUT/part-NNNNN.parquet`` (``part-00000`` holds the schools' decisions) and the roll-ups
   in ``OUT.rollups.parquet/``; the partitions' counts and exact totals are merged on the client into
   ``OUT.summary.json``, errors and warnings into ``OUT.errors.csv``, as the single-machine stream writes them.

With the same number of partitions the decisions, in part order, are those of :func:`engine.run.stream.check_stream`,
row for row. Workers need chanjiao installed and must see the input and output paths (one machine, or a shared
file system). CSV pieces are cut at line ends, so a quoted CSV field must not hold a line break there (Parquet
has no such limit).
"""

from __future__ import annotations

import datetime as dt
import io
import time
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from engine.engines.vectorised import VectorisedEngine
from engine.engines.columns import Table, empty_table
from engine.errors import FatalError, RecordWarning
from engine.run.partition import plan_for
from engine.messages import msg
from engine.policy.packs import Pack
from engine.data.records import Rejected, rejected_records
from engine.data.loaders import (FileLayout, ReadStats, invalid_row_counter, layout_columns, locate, parquet_text_columns,
                      plan_csv, plan_files, record_type_of)
from engine.run.annotate import parameters_in_force
from engine.output.atomic import OutputSet, refuse_overwriting_inputs
from engine.run.stream import (RowWriter, batch_rows, RunningSummary, StreamResult, decide_rejected_subjects, decide_tables,
                     finish_result, input_files, stream_outputs,
                     partition_of, partition_tables, partitions_for, place_problems, read_problems,
                     table_from_arrow, table_to_arrow,
                     text_columns, unreadable)
from engine.data.vvalidate import Validated, duplicate_error, finish_tables, validate_columns

__all__ = ["Piece", "check_dask", "pieces", "PIECE_BYTES"]

PIECE_BYTES = 64 << 20
"""The size of one CSV piece read by one task (the last piece of a file may be smaller)."""


@dataclass(frozen=True)
class Piece:
    """One task's share of an input file: a byte range of a CSV file (with its header line), or a row group."""

    path: str
    start: int
    end: int
    header: bytes | None = None  # the CSV header line; None for a Parquet row group (``start`` is its index)
    layout: FileLayout | None = None  # how a CSV piece is read (encoding, each column's field)
    record_type: str = ""


def pieces(path: Path, piece_bytes: int = PIECE_BYTES, layout: FileLayout | None = None,
           record_type: str = "") -> list[Piece]:
    """Cut a CSV file's data rows (from ``layout``) into byte ranges of about ``piece_bytes`` ending at line ends;
    a Parquet file by row group."""
    try:
        if path.suffix.lower() == ".parquet":
            groups = pq.ParquetFile(path).num_row_groups
            return [Piece(str(path), i, i + 1, record_type=record_type) for i in range(groups)]
        if layout is None:
            record_type = record_type or record_type_of(path.stem) or path.stem
            layout = plan_csv(path, record_type)
        if not layout.fields:
            return []  # an empty file: no rows
        size = path.stat().st_size
        with open(path, "rb") as fh:
            cuts = [layout.data_offset]
            while cuts[-1] + piece_bytes < size:
                fh.seek(cuts[-1] + piece_bytes)
                fh.readline()  # to the end of the line the cut falls in
                if fh.tell() >= size:
                    break
                cuts.append(fh.tell())
            cuts.append(size)
    except (pa.ArrowException, OSError) as exc:
        raise unreadable(path, exc) from None
    return [Piece(str(path), a, b, b"", layout, record_type) for a, b in zip(cuts, cuts[1:]) if b > a]


def _read_piece(piece: Piece, stats: ReadStats | None = None) -> dict[str, pa.Array]:
    """A piece's columns as text by field, exactly as :func:`engine.run.stream._batches` reads the whole file."""
    import pyarrow.csv as pacsv

    stats = stats if stats is not None else ReadStats()
    path = Path(piece.path)
    try:
        if piece.header is None:
            group = pq.ParquetFile(path).read_row_group(piece.start)
            group.validate(full=True)  # invalid UTF-8 in a Parquet string column: one line, as the stream says
            stats.rows += group.num_rows
            return (parquet_text_columns(group, piece.record_type, path.name) if piece.record_type
                    else text_columns(group))
        assert piece.layout is not None
        with open(path, "rb") as fh:
            fh.seek(piece.start)
            body = fh.read(piece.end - piece.start)
        table = pacsv.read_csv(io.BytesIO(body), read_options=piece.layout.read_options(),
                               parse_options=pacsv.ParseOptions(invalid_row_handler=invalid_row_counter(stats)),
                               convert_options=piece.layout.convert_options())
        return layout_columns(piece.layout, table, stats)
    except (pa.ArrowException, OSError) as exc:
        cut = piece.header is not None and piece.layout is not None and (
            piece.start > piece.layout.data_offset or piece.end < path.stat().st_size)
        hint = msg("dask.piece_hint", start=piece.start, end=piece.end) if cut else ""
        raise unreadable(path, exc, hint) from None


def _frame_meta(rtype: str) -> pd.DataFrame:
    frame = table_to_arrow(empty_table(rtype)).to_pandas()
    if rtype != "schools":
        frame["__part"] = np.zeros(0, np.int64)
    return frame


def _validate_piece(rtype: str, piece: Piece, first: bool, parts: int
                    ) -> tuple[pd.DataFrame, Any, Any, int, ReadStats]:
    """Validate one piece (rows numbered from 1): accepted rows tagged with their partition, errors, warnings,
    the rows read and what the reader saw (for the places)."""
    stats = ReadStats()
    cols = _read_piece(piece, stats)
    n = batch_rows(cols)
    v = validate_columns(rtype, cols, np.arange(1, n + 1, dtype=np.int64), warn_unknown=first)
    frame = table_to_arrow(v.table).to_pandas()
    if rtype != "schools":
        frame["__part"] = partition_of(v.table, parts)
    return frame, v.errors, v.warnings, n, stats


def _issues(validated: tuple[pd.DataFrame, Any, Any, int, ReadStats]) -> tuple[int, Any, Any, ReadStats]:
    return validated[3], validated[1], validated[2], validated[4]


def _shifted(validated: tuple[pd.DataFrame, Any, Any, int, ReadStats], offset: int) -> pd.DataFrame:
    frame = validated[0].copy()
    frame["__row"] += offset
    return frame


def _moved(items: list[Any], offset: int) -> list[Any]:
    return [replace(e, row=e.row + offset) if getattr(e, "row", None) else e for e in items]


def _later_rows(ids: pd.DataFrame) -> pd.Series:
    """Rows whose id an earlier accepted row already has (all rows of an id are in one partition)."""
    ordered = ids.sort_values("__row", kind="stable")
    return ordered["__row"][ordered.duplicated("id", keep="first")]


def _table(rtype: str, frame: pd.DataFrame) -> Table:
    """A partition's rows as a table in file order (a shuffle does not keep it; the first of two ids must win)."""
    frame = frame.reset_index(drop=True).drop(columns="__part", errors="ignore").sort_values("__row", kind="stable")
    return table_from_arrow(rtype, pa.Table.from_pandas(frame, preserve_index=False))


def _decide_partition(label: str, frames: dict[str, Any], whole: bool, schools: Table,
                      duplicate_of: dict[str, np.ndarray], packs: list[Pack], as_of: dt.date,
                      overrides: dict[str, Decimal] | None, out_dir: str, rollup_dir: str,
                      rejected: list[Rejected] | None = None
                      ) -> tuple[int, RunningSummary, list[Any], list[RecordWarning]]:
    """One partition's decisions (``whole``: the whole partition, ``frames`` then holding, per type its rules read,
    every partition's frame), written as ``part-<label>.parquet``."""
    frames = {rtype: pd.concat(f) if isinstance(f, list) else f for rtype, f in frames.items()}
    validated = {rtype: Validated(_table(rtype, f)) for rtype, f in frames.items() if len(f)}
    plan = plan_for(packs)
    tables, subjects, errors, warnings = partition_tables(validated, schools, duplicate_of, rejected, plan=plan,
                                                          whole=whole)
    out = RowWriter(Path(out_dir) / f"part-{label}.parquet", "parquet")
    rollups = RowWriter(Path(rollup_dir) / f"part-{label}.parquet", "parquet")
    summary = RunningSummary(packs)
    decided = decide_tables(tables, subjects, packs, as_of, overrides, out, rollups, summary, errors, rejected,
                            rule_ids=plan.rules(whole))
    out.close()
    rollups.close()
    return decided, summary, errors, warnings


def _output_dir(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise FatalError(msg("dask.output_is_file", path=path))
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("part-*.parquet"):  # parts of an earlier run would mix with this one's
        old.unlink()


def _client(scheduler: Any, timeout: float) -> tuple[Any, list[Any]]:
    """A distributed client for an address, ``local`` / ``local:N`` (a LocalCluster of N workers), or a Client."""
    from distributed import Client, LocalCluster

    if not isinstance(scheduler, str):
        return scheduler, []
    if scheduler == "local" or scheduler.startswith("local:"):
        count = scheduler.partition(":")[2] or "2"
        if not count.isdigit() or int(count) < 1:
            raise FatalError(msg("dask.local_n", scheduler=scheduler))
        workers = int(count)
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None)
        client = Client(cluster, set_as_default=False)
        return client, [client, cluster]
    try:
        client = Client(scheduler, set_as_default=False, timeout=f"{timeout}s")
    except OSError as exc:
        raise FatalError(msg("dask.unreachable", scheduler=scheduler, problem=str(exc))) from None
    return client, [client]


def check_dask(path: Path, packs: list[Pack], as_of: dt.date, overrides: dict[str, Decimal] | None, output: Path,
               scheduler: Any, partitions: int | None = None, chunk_enterprises: int = 50_000,
               piece_bytes: int = PIECE_BYTES, connect_timeout: float = 20, lang: str = "zh",
               header_row: int | None = None) -> StreamResult:
    """Check a directory of CSV/Parquet files on a Dask cluster; decisions go to the Parquet directory ``output``.

    ``scheduler`` is a scheduler address (``tcp://host:8786``), ``local`` or ``local:N`` (start a LocalCluster of
    N single-threaded workers on this machine, closed at the end), or a ``distributed.Client`` the caller owns.
    ``partitions`` defaults to one per ``chunk_enterprises`` enterprises, at least one per worker thread.
    """
    try:  # the optional extra: checked before anything is written
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise FatalError(msg("dask.missing")) from None
    input_files(path)  # FIFOs, devices and CSV headers over a limit are refused before any file is read
    plan = plan_files(path, header_row)
    files = plan.files
    engine = VectorisedEngine(packs)
    if engine.fallback_rules:
        raise FatalError(msg("dask.fallback", rules=", ".join(engine.fallback_rules)))
    finals = stream_outputs(output, "parquet")
    for final in finals.values():  # a Dask run writes directories of parts: it makes the folders they go in
        final.parent.mkdir(parents=True, exist_ok=True)
    refuse_overwriting_inputs(finals.values(), path)
    for final in (finals["decisions"], finals["rollups"]):
        if final.exists() and not final.is_dir():
            raise FatalError(msg("dask.output_is_file", path=final))
    outs = OutputSet()  # written under temporary names, renamed when the run has succeeded (the summary last)
    paths = {key: outs.path(final, last=key == "summary") for key, final in finals.items()}
    _output_dir(paths["decisions"])
    _output_dir(paths["rollups"])
    client, owned = _client(scheduler, connect_timeout)
    try:
        res = StreamResult(errors=list(plan.errors), warnings=list(plan.warnings))
        res.lang = lang
        with outs:
            res = _run(client, files, packs, as_of, overrides, paths, partitions, chunk_enterprises, piece_bytes,
                       lang, res, plan.layouts, header_row)
        res.outputs = [finals[k] for k in ("decisions", "rollups", "summary", "errors")]
        return res
    finally:
        outs.discard()
        for thing in owned:
            thing.close()


def _run(client: Any, files: dict[str, Path], packs: list[Pack], as_of: dt.date, overrides: dict[str, Decimal] | None,
         paths: dict[str, Path], partitions: int | None, chunk_enterprises: int,
         piece_bytes: int, lang: str = "zh", res: StreamResult | None = None,
         layouts: dict[str, FileLayout] | None = None, header_row: int | None = None) -> StreamResult:
    import dask.dataframe as dd
    from dask import delayed

    output, rollup_dir = paths["decisions"], paths["rollups"]
    res = res if res is not None else StreamResult()
    res.lang = lang
    layouts = layouts or {}
    stats: dict[str, ReadStats] = {}
    t0 = time.perf_counter()
    parts = partitions or max(partitions_for(files, chunk_enterprises), sum(client.nthreads().values()))
    # 1. read and validate, piece by piece, kept on the workers
    validated = {rtype: [delayed(_validate_piece, pure=False)(rtype, p, i == 0, parts)
                         for i, p in enumerate(pieces(f, piece_bytes, layouts.get(rtype), rtype))]
                 for rtype, f in files.items()}
    validated = {rtype: list(client.persist(vs)) for rtype, vs in validated.items() if vs}
    issues = client.gather(client.compute({rtype: [delayed(_issues)(v) for v in vs]
                                           for rtype, vs in validated.items()}))
    frames: dict[str, Any] = {}
    for rtype, vs in validated.items():
        offsets = np.concatenate([[0], np.cumsum([n for n, _, _, _ in issues[rtype]])])
        stats[rtype] = ReadStats()
        for (n, errs, warns, st), off in zip(issues[rtype], offsets):
            stats[rtype].merge(st)
            res.records += n
            res.errors += _moved(errs, int(off))
            res.warnings += _moved(warns, int(off))
        frames[rtype] = dd.from_delayed([delayed(_shifted)(v, int(off)) for v, off in zip(vs, offsets)],
                                        meta=_frame_meta(rtype), verify_meta=False)
    # 2. duplicate ids, found next to each other after a shuffle by id
    later = {rtype: f[["id", "__row"]].shuffle(on="id").map_partitions(_later_rows, meta=("__row", "int64"))
             for rtype, f in frames.items()}
    found = client.gather(client.compute(list(later.values())))
    duplicate_of = {rtype: np.sort(s.to_numpy()) for rtype, s in zip(later, found)}
    repeats = []  # the discarded repeats are rejected input: their rows (few) read back whole
    for rtype, f in frames.items():
        if rtype != "schools" and len(duplicate_of[rtype]):
            t = _table(rtype, client.compute(f[f["__row"].isin(duplicate_of[rtype].tolist())]).result())
            repeats += [duplicate_error(t, i) for i in range(t.n)]
    # 3. schools whole, everything else partitioned by enterprise
    school_table = empty_table("schools")
    if "schools" in frames:
        school_frame = client.compute(frames.pop("schools")).result()
        school_table = _table("schools", school_frame)
    all_schools, s_errors, s_warnings = finish_tables({"schools": Validated(school_table)}, duplicate_of=duplicate_of)
    res.errors += s_errors
    res.warnings += [w for w in s_warnings if w.record_type == "schools"]
    by_part = {rtype: f.set_index("__part", divisions=tuple(range(parts + 1))).to_delayed()
               for rtype, f in frames.items()}
    res.seconds["validate"] = time.perf_counter() - t0
    # 4. decide: the schools once, then every partition
    t1 = time.perf_counter()
    read = read_problems(res, files, layouts, stats, header_row)  # rows not read are rejected records too
    # unknown, not absent: every partition sees them all, with their places (repeated ids included)
    sources = place_problems(res, files, layouts, stats, header_row, read, also=repeats)
    rejected = rejected_records([*res.errors, *locate(repeats, sources)])
    shared = client.scatter([all_schools["schools"], duplicate_of, packs, rejected], broadcast=True)
    schools_f, dups_f, packs_f, rejected_f = shared
    # the whole partition: the schools' rules, and rules whose lookups cross partitions, over whole tables
    whole = {rtype: by_part[rtype] for rtype in sorted(plan_for(packs).reads_whole()) if rtype in by_part}
    tasks = [delayed(_decide_partition, pure=False)("00000", whole, True, schools_f, dups_f, packs_f, as_of,
                                                    overrides, str(output), str(rollup_dir), rejected_f)]
    tasks += [delayed(_decide_partition, pure=False)(f"{p + 1:05d}", {rtype: ps[p] for rtype, ps in by_part.items()},
                                                     False, schools_f, dups_f, packs_f, as_of, overrides, str(output),
                                                     str(rollup_dir), rejected_f)
              for p in range(parts)]
    summary = RunningSummary(packs)
    for decided, part_summary, errors, warnings in client.gather(client.compute(tasks)):
        res.decisions += decided
        summary.merge(part_summary)
        res.errors += errors
        res.warnings += warnings
    last = RowWriter(output / f"part-{parts + 1:05d}.parquet", "parquet")  # rejected subjects no partition had
    res.decisions += decide_rejected_subjects(packs, rejected, summary, last)
    last.close()
    res.seconds["decide"] = time.perf_counter() - t1
    place_problems(res, files, layouts, stats, header_row, sources)
    finish_result(res, summary, paths, parameters_in_force(packs, as_of, overrides))
    return res
