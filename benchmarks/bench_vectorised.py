"""Benchmark the streamed vectorised check against a hand-written numpy version of five rules, in one run.

    python benchmarks/bench_vectorised.py --sizes 100000 1000000 [--keep DIR] [--dask local:2]

For each N, the generator (benchmarks/generate.py) writes a CSV directory (not timed); then, each in a fresh
process so its peak RSS is its own:

- **numpy floor**: decides five rules (education_fund_ratio, frontline_share, school_subsidy,
  practice_expense_deduction, certificate_subsidy) the straightforward fast way — pyarrow's multi-threaded CSV
  reader typing only the columns it needs, money as integer fen, joins by ``index_in``, int8 status codes; no
  validation, no reasons, no missing facts, no citations — and writes the statuses to Parquet; the benchmark
  checks that its counts per rule and status equal chanjiao's;
- **chanjiao**: ``engine.run.stream.check_stream`` — every record validated, all eleven rules, reasons, missing
  facts, citations, roll-ups and the summary, decisions written to Parquet; one worker process per CPU (as the
  floor's pyarrow CSV reader uses a thread per CPU).

Peak RSS is the largest sum of the resident memory of the process and its workers, sampled every 20 ms.

It prints records/s for validation, evaluation and end to end, peak RSS, and the ratio of the two end-to-end
times (measured back to back, so the ratio holds on a noisy machine).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _numpy_floor(folder: str, out: str) -> dict:
    """Five rules written the straightforward fast way: what the vectorised engine is held against.

    Only the columns the five rules read, typed by pyarrow's multi-threaded CSV reader itself (dates as date32,
    empty cells as nulls); money as integer fen by dropping the point of the generator's ``X.YY`` text and
    casting to int64 (no decimal casts); joins by Arrow's ``index_in``; statuses as int8; Parquet out.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    t0 = time.perf_counter()

    def read(name: str, columns: dict) -> pa.Table:
        return pacsv.read_csv(Path(folder) / f"{name}.csv", convert_options=pacsv.ConvertOptions(
            include_columns=list(columns), column_types=columns, null_values=[""], strings_can_be_null=True))

    def fen(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        """Integer fen and the known mask of a money column written as ``X.YY``."""
        value = pc.cast(pc.replace_substring(col, ".", ""), pa.int64())
        return pc.fill_null(value, 0).to_numpy(), pc.is_valid(value).to_numpy(zero_copy_only=False)

    def flag(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        """A yes/no column: its value (false where unknown) and its known mask."""
        return (pc.fill_null(col, False).to_numpy(zero_copy_only=False),
                pc.is_valid(col).to_numpy(zero_copy_only=False))

    def days(col: pa.ChunkedArray) -> np.ndarray:
        return pc.cast(col, pa.int32()).to_numpy()

    s, b, d32 = pa.string(), pa.bool_(), pa.date32()
    ent = read("enterprises", {"id": s, "region_code": s, "total_wages": s, "education_fund": s,
                               "frontline_training_spend": s})
    records = ent.num_rows
    region = ent.column("region_code")
    tonghua = pc.starts_with(region, "2205").to_numpy(zero_copy_only=False)
    yichang = pc.starts_with(region, "4205").to_numpy(zero_copy_only=False)
    (w, wk), (f, fk), (fr, frk) = (fen(ent.column(c)) for c in ("total_wages", "education_fund",
                                                                  "frontline_training_spend"))
    statuses = {}
    # 0 compliant/eligible, 1 non_compliant/not_eligible, 4 undetermined, 5 not_applicable
    # 1. education_fund_ratio: 1.5 % ≤ fund / wages ≤ 2.5 %, exactly, as 1000·fund against 15·wages
    st = np.full(len(w), 5, np.int8)
    applies = tonghua & wk & (w > 0)
    st[tonghua & ~wk] = 4
    ok = (1000 * f >= 15 * w) & (1000 * f <= 25 * w)
    st[applies & fk] = np.where(ok, 0, 1)[applies & fk]
    st[applies & ~fk] = 4
    statuses["education_fund_ratio"] = st
    # 2. frontline_share: frontline ≥ 60 % of the fund
    st = np.full(len(w), 5, np.int8)
    applies = tonghua & fk & (f > 0)
    st[tonghua & ~fk] = 4
    st[applies & frk] = np.where(100 * fr >= 60 * f, 0, 1)[applies & frk]
    st[applies & ~frk] = 4
    statuses["frontline_share"] = st
    # 3. school_subsidy: secondary vocational + demonstration → 450 yuan × students
    sch = read("schools", {"region_code": s, "school_type": s, "demonstration_project": b,
                           "enrolled_students": pa.int64()})
    records += sch.num_rows
    in_t = pc.starts_with(sch.column("region_code"), "2205").to_numpy(zero_copy_only=False)
    secondary = pc.equal(sch.column("school_type"), "secondary_vocational").to_numpy(zero_copy_only=False)
    demo, demo_k = flag(sch.column("demonstration_project"))
    st = np.full(sch.num_rows, 5, np.int8)
    app = in_t & secondary
    students = sch.column("enrolled_students")
    st[app & demo_k] = np.where(demo, 0, 1)[app & demo_k]
    st[app & ~demo_k] = 4
    st[app & demo & ~pc.is_valid(students).to_numpy(zero_copy_only=False)] = 4  # eligible, amount unknown
    amount = pc.fill_null(students, 0).to_numpy() * 45000
    statuses["school_subsidy"] = st
    ent_ids = ent.column("id").combine_chunks()

    def one_record_rule(name: str, region_mask: np.ndarray, flag_col: str, date_col: str, issued: str) -> np.ndarray:
        """A rule on one record and its enterprise's region (a join by id): the date in force, then one flag."""
        tab = read(name, {"enterprise_id": s, flag_col: b, date_col: d32})
        pos = pc.index_in(tab.column("enterprise_id"), value_set=ent_ids)
        found = pc.is_valid(pos).to_numpy(zero_copy_only=False)
        inside = region_mask[pc.fill_null(pos, 0).to_numpy()] & found
        value, known = flag(tab.column(flag_col))
        in_time = days(tab.column(date_col)) >= (np.datetime64(issued) - np.datetime64("1970-01-01")).astype(int)
        st = np.full(tab.num_rows, 5, np.int8)
        app = inside & in_time
        st[~found & in_time] = 4  # the date is in force; the enterprise's region is unknown
        st[app & known] = np.where(value, 0, 1)[app & known]
        st[app & ~known] = 4
        return st

    # 4. practice_expense_deduction: the enterprise in Yichang, on or after 2020-06-18, 'reasonable'
    statuses["practice_expense_deduction"] = one_record_rule("practice_expenses", yichang, "reasonable",
                                                             "incurred_on", "2020-06-18")
    # 5. certificate_subsidy: the employer in Tonghua, on or after 2019-07-25, 'insured'
    statuses["certificate_subsidy"] = one_record_rule("certificates", tonghua, "insured", "obtained_on",
                                                      "2019-07-25")
    records += len(statuses["practice_expense_deduction"]) + len(statuses["certificate_subsidy"])
    names = list(statuses)
    pq.write_table(pa.table({
        "rule": pa.array(np.concatenate([np.full(len(v), i, np.int8) for i, v in enumerate(statuses.values())])),
        "status": pa.array(np.concatenate(list(statuses.values()))),
    }).replace_schema_metadata({"rules": ",".join(names)}), out)
    decisions = sum(len(v) for v in statuses.values())
    del amount
    return {"records": records, "decisions": decisions, "end_to_end": time.perf_counter() - t0}


def _chanjiao(folder: str, out: str) -> dict:
    import datetime as dt

    from engine.policy.packs import load_packs
    from engine.run.stream import check_stream

    t0 = time.perf_counter()
    packs, _ = load_packs()
    res = check_stream(Path(folder), packs, dt.date(2021, 12, 31), None, Path(out), "parquet", progress=False)
    return {"records": res.records, "decisions": res.decisions, "validate": res.seconds["validate"],
            "decide": res.seconds["decide"], "end_to_end": time.perf_counter() - t0}


def _dask(folder: str, out: str, scheduler: str) -> dict:
    import datetime as dt

    from engine.run.cluster import check_dask
    from engine.policy.packs import load_packs

    t0 = time.perf_counter()
    packs, _ = load_packs()
    res = check_dask(Path(folder), packs, dt.date(2021, 12, 31), None, Path(out), scheduler)
    return {"records": res.records, "decisions": res.decisions, "validate": res.seconds["validate"],
            "decide": res.seconds["decide"], "end_to_end": time.perf_counter() - t0}


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants now (Linux /proc), in KiB."""
    total = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += _tree_rss_kb(int(child))
    except (OSError, ValueError):
        pass  # a process that just ended
    return total


class _TreePeak:
    """The largest sum of resident memory over this process and its workers, sampled every 20 ms."""

    def __init__(self) -> None:
        import os
        import threading

        self.peak, self.pid = 0, os.getpid()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.02):
            self.peak = max(self.peak, _tree_rss_kb(self.pid))

    def close(self) -> float:
        self.stop.set()
        self.thread.join()
        return self.peak / 1024


def _child(which: str, folder: str, out: str, scheduler: str = "") -> None:
    tree = _TreePeak()
    if which == "dask":
        result = _dask(folder, out, scheduler)
    else:
        result = (_numpy_floor if which == "numpy" else _chanjiao)(folder, out)
    result["tree_peak_rss_mb"] = tree.close()  # the process and its workers together, at the same moment
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # worker processes (the stream's, or a local Dask cluster's): the largest of them
    result["worker_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    # CPU-seconds of the process and its (joined) workers: a figure that a busy machine disturbs less than wall time
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    result["cpu_seconds"] = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    print(json.dumps(result))


FLOOR_STATUS = {"compliant": 0, "eligible": 0, "non_compliant": 1, "not_eligible": 1, "undetermined": 4,
                "not_applicable": 5}


def _same_statuses(floor_out: Path, ours_out: Path) -> bool:
    """Whether the floor decided its five rules as chanjiao did: equal counts per rule and status."""
    import collections

    import pyarrow.parquet as pq

    floor = pq.read_table(floor_out)
    names = floor.schema.metadata[b"rules"].decode().split(",")
    mine = collections.Counter(zip((names[i] for i in floor.column("rule").to_pylist()),
                                   floor.column("status").to_pylist()))
    ours = pq.read_table(ours_out, columns=["rule_id", "status"])
    theirs = collections.Counter((r.split(".", 1)[1], FLOOR_STATUS[st])
                                 for r, st in zip(ours.column("rule_id").to_pylist(), ours.column("status").to_pylist())
                                 if r.split(".", 1)[1] in names)
    return mine == theirs


def _run(which: str, folder: Path, out: Path, scheduler: str = "") -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", which, str(folder), str(out), scheduler],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"the {which} run failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--keep", type=Path, help="keep the generated datasets here (default: a temporary folder)")
    ap.add_argument("--dask", metavar="SCHEDULER",
                    help="also time check --dask on this scheduler (e.g. local:2, a LocalCluster of 2 workers)")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    from generate import write_csv

    base = args.keep or Path(tempfile.mkdtemp(prefix="chanjiao-bench-"))
    try:
        for n in args.sizes:
            folder = base / f"bench-{n}"
            if not (folder / "enterprises.csv").exists():
                t = time.perf_counter()
                write_csv(n, folder)
                print(f"generated N={n:,} in {time.perf_counter() - t:.0f} s "
                      f"({sum(f.stat().st_size for f in folder.iterdir()) / 1e6:.0f} MB of CSV)", flush=True)
            floor = _run("numpy", folder, base / f"floor-{n}.parquet")
            ours = _run("chanjiao", folder, base / f"decisions-{n}.parquet")
            print(f"N = {n:,} enterprises")
            print(f"  numpy floor (5 rules, statuses only): {floor['records']:,} records in "
                  f"{floor['end_to_end']:.1f} s = {floor['records'] / floor['end_to_end']:,.0f} records/s, "
                  f"peak RSS {floor['peak_rss_mb']:,.0f} MB")
            r = ours["records"]
            print(f"  chanjiao (11 rules, reasons, validation): {r:,} records, {ours['decisions']:,} decisions")
            print(f"    validation {r / ours['validate']:,.0f} records/s ({ours['validate']:.1f} s); "
                  f"evaluation {ours['decisions'] / ours['decide']:,.0f} decisions/s ({ours['decide']:.1f} s); "
                  f"end to end {r / ours['end_to_end']:,.0f} records/s ({ours['end_to_end']:.1f} s); "
                  f"peak RSS {ours['tree_peak_rss_mb']:,.0f} MB (this process {ours['peak_rss_mb']:,.0f} MB and "
                  f"its workers, the largest {ours['worker_peak_rss_mb']:,.0f} MB, summed as they ran)")
            print(f"  CPU-seconds (process and workers): floor {floor['cpu_seconds']:.1f}, "
                  f"chanjiao {ours['cpu_seconds']:.1f}")
            same = _same_statuses(base / f"floor-{n}.parquet", base / f"decisions-{n}.parquet")
            print(f"  the floor's five rules decided as chanjiao decided them: {'yes' if same else 'NO'}")
            print(f"  ratio end to end: {ours['end_to_end'] / floor['end_to_end']:.2f} × the numpy floor", flush=True)
            if args.dask:
                d = _run("dask", folder, base / f"dask-{n}.parquet", args.dask)
                print(f"  dask ({args.dask}): end to end {d['records'] / d['end_to_end']:,.0f} records/s "
                      f"({d['end_to_end']:.1f} s: validation and partitioning {d['validate']:.1f} s, decisions "
                      f"{d['decide']:.1f} s); client peak RSS {d['peak_rss_mb']:,.0f} MB, largest worker "
                      f"{d['worker_peak_rss_mb']:,.0f} MB", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
