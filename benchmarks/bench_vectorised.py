"""Benchmark the streamed vectorised check against a hand-written numpy version of five rules, in one run.

    python benchmarks/bench_vectorised.py --sizes 100000 1000000 [--keep DIR] [--dask local:2]

For each N, the generator (benchmarks/generate.py) writes a CSV directory (not timed); then, each in a fresh
process so its peak RSS is its own:

- **numpy floor**: reads the same CSV files with pyarrow and decides five rules (education_fund_ratio,
  frontline_share, school_subsidy, practice_expense_deduction, certificate_subsidy) as int-fen numpy, status
  codes only — no validation, no reasons, no missing facts, no citations — and writes the statuses to Parquet;
- **chanjiao**: ``engine.stream.check_stream`` — every record validated, all eleven rules, reasons, missing
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
    """Five rules by hand: what the vectorised engine is held against."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    t0 = time.perf_counter()

    def read(name):
        path = Path(folder) / f"{name}.csv"
        header = pacsv.open_csv(path).schema.names
        return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types={h: pa.string() for h in header}))

    def fen(col):
        s = pc.if_else(pc.equal(col, ""), None, col)
        return pc.cast(pc.multiply(pc.cast(s, pa.decimal128(18, 2)), pa.scalar(100, pa.decimal128(5, 0))),
                       pa.int64())

    def flag(col):
        return pc.equal(col, "true"), pc.not_equal(col, "")

    def day(col):
        return pc.cast(pc.cast(pc.strptime(col, format="%Y-%m-%d", unit="s"), pa.date32()), pa.int32()).to_numpy()

    ent = read("enterprises")
    records = ent.num_rows
    region = ent.column("region_code")
    tonghua = pc.starts_with(region, "2205").to_numpy(zero_copy_only=False)
    wages, fund, front = (fen(ent.column(c)) for c in ("total_wages", "education_fund", "frontline_training_spend"))
    wk, fk, frk = (pc.is_valid(x).to_numpy(zero_copy_only=False) for x in (wages, fund, front))
    w, f, fr = (pc.fill_null(x, 0).to_numpy() for x in (wages, fund, front))
    statuses = {}
    # 1. education_fund_ratio: 1.5 % ≤ fund / wages ≤ 2.5 %, exactly, as 1000·fund against 15·wages
    st = np.full(len(w), 5, np.int8)  # 0 compliant, 1 non_compliant, 4 undetermined, 5 not_applicable
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
    sch = read("schools")
    records += sch.num_rows
    in_t = pc.starts_with(sch.column("region_code"), "2205").to_numpy(zero_copy_only=False)
    secondary = pc.equal(sch.column("school_type"), "secondary_vocational").to_numpy(zero_copy_only=False)
    demo, demo_k = (x.to_numpy(zero_copy_only=False) for x in flag(sch.column("demonstration_project")))
    students = pc.cast(pc.if_else(pc.equal(sch.column("enrolled_students"), ""), None,
                                  sch.column("enrolled_students")), pa.int64())
    st = np.full(sch.num_rows, 5, np.int8)
    app = in_t & secondary
    st[app & demo_k] = np.where(demo, 0, 1)[app & demo_k]
    st[app & ~demo_k] = 4
    amount = pc.fill_null(students, 0).to_numpy() * 45000
    statuses["school_subsidy"] = st
    # 4. practice_expense_deduction: the enterprise's region (a join) and 'reasonable'
    order = np.argsort(ent.column("id").to_numpy(zero_copy_only=False))
    ids_sorted = ent.column("id").to_numpy(zero_copy_only=False)[order]
    yichang = pc.starts_with(region, "4205").to_numpy(zero_copy_only=False)[order]
    tonghua_sorted = tonghua[order]

    def region_of(keys, mask):
        pos = np.searchsorted(ids_sorted, keys)
        pos = np.minimum(pos, len(ids_sorted) - 1)
        found = ids_sorted[pos] == keys
        return found, mask[pos] & found

    def one_record_rule(name, mask, flag_col, date_col, issued):
        """A rule on one record and its enterprise's region: the date in force, then one flag."""
        tab = read(name)
        found, inside = region_of(tab.column("enterprise_id").to_numpy(zero_copy_only=False), mask)
        value, known = (x.to_numpy(zero_copy_only=False) for x in flag(tab.column(flag_col)))
        in_time = day(tab.column(date_col)) >= (np.datetime64(issued) - np.datetime64("1970-01-01")).astype(int)
        st = np.full(tab.num_rows, 5, np.int8)
        app = inside & in_time
        st[~found] = 4
        st[app & known] = np.where(value, 0, 1)[app & known]
        st[app & ~known] = 4
        return st

    # 4. practice_expense_deduction: the enterprise in Yichang, on or after 2020-06-18, 'reasonable'
    statuses["practice_expense_deduction"] = one_record_rule("practice_expenses", yichang, "reasonable",
                                                             "incurred_on", "2020-06-18")
    # 5. certificate_subsidy: the employer in Tonghua, on or after 2019-07-25, 'insured'
    statuses["certificate_subsidy"] = one_record_rule("certificates", tonghua_sorted, "insured", "obtained_on",
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

    from engine.policy import load_packs
    from engine.stream import check_stream

    t0 = time.perf_counter()
    packs, _ = load_packs()
    res = check_stream(Path(folder), packs, dt.date(2021, 12, 31), None, Path(out), "parquet", progress=False)
    return {"records": res.records, "decisions": res.decisions, "validate": res.seconds["validate"],
            "decide": res.seconds["decide"], "end_to_end": time.perf_counter() - t0}


def _dask(folder: str, out: str, scheduler: str) -> dict:
    import datetime as dt

    from engine.cluster import check_dask
    from engine.policy import load_packs

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
    print(json.dumps(result))


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
