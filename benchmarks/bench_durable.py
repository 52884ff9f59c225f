"""Benchmark the durable-rules engine against the reference evaluator, in watch mode, and in a soak run.

    python benchmarks/bench_durable.py [--enterprises 2000] [--changes 20000] [--soak 100000]

Every measurement runs in a fresh process so that its peak RSS is its own. Printed: decisions per second and
peak RSS for a whole-dataset check with each engine (and whether the two documents are byte-identical),
changes per second in watch mode, and for the soak run the RSS every 10 % of the changes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import multiprocessing as mp
import random
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))
AS_OF = dt.date(2021, 12, 31)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def _check(engine_name: str, n: int, out: "mp.Queue[dict]") -> None:
    from generate import generate_raw

    from engine.engines import make_engine
    from engine.policy.packs import load_packs
    from engine.data.records import validate_rows

    packs, _ = load_packs()
    ds = validate_rows(generate_raw(n))
    eng = make_engine(engine_name, packs)
    start = time.perf_counter()
    doc = eng.evaluate_dataset(ds, AS_OF)
    seconds = time.perf_counter() - start
    out.put({"engine": engine_name, "decisions": len(doc["decisions"]), "seconds": seconds,
             "peak_mb": _peak_mb(), "digest": hashlib.sha256(json.dumps(doc, ensure_ascii=False).encode()).hexdigest()})


def _changes(n: int, count: int, seed: int = 7) -> list[dict]:
    """A stream: the dataset's records in random order, then edits, deletes and re-inserts, ``count`` in all."""
    from generate import generate_raw

    rng = random.Random(seed)
    raw = generate_raw(n)
    records = [(t, r) for t, rows in raw.items() for r in rows]
    rng.shuffle(records)
    stream = [{"op": "upsert", "record_type": t, "record": r} for t, r in records]
    while len(stream) < count:
        t, r = records[rng.randrange(len(records))]
        roll = rng.random()
        if roll < 0.3:
            stream.append({"op": "delete", "record_type": t, "record": {"id": r["id"]}})
            stream.append({"op": "upsert", "record_type": t, "record": r})
        elif t == "agreements":
            stream.append({"op": "upsert", "record_type": t,
                           "record": {**r, "valid_to": None if roll < 0.6 else "2021-06-30"}})
        else:
            stream.append({"op": "upsert", "record_type": t, "record": r})
    return stream[:count]


def _watch(engine_name: str, n: int, count: int, soak: bool, out: "mp.Queue[dict]") -> None:
    from engine.engines import make_engine
    from engine.policy.packs import load_packs
    from engine.run.watch import ChangeError, Watcher

    packs, _ = load_packs()
    stream = _changes(n, count)
    watcher = Watcher(make_engine(engine_name, packs), AS_OF)
    samples = []
    lines = 0
    start = time.perf_counter()
    for i, change in enumerate(stream, 1):
        try:
            lines += len(watcher.apply(change, i))
        except ChangeError:
            pass
        if soak and i % max(1, count // 10) == 0:
            samples.append((i, round(_rss_mb())))
    seconds = time.perf_counter() - start
    out.put({"engine": engine_name, "changes": count, "seconds": seconds, "lines": lines,
             "peak_mb": _peak_mb(), "samples": samples})


def _run(target, *args):  # type: ignore[no-untyped-def]
    ctx = mp.get_context("spawn")
    q: "mp.Queue[dict]" = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    result = q.get()
    p.join()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--enterprises", type=int, default=2000)
    ap.add_argument("--changes", type=int, default=20000)
    ap.add_argument("--soak", type=int, default=100000)
    ap.add_argument("--soak-enterprises", type=int, default=200)
    args = ap.parse_args()

    print(f"check: {args.enterprises} enterprises and their related records, all rules, as of {AS_OF}")
    results = [_run(_check, name, args.enterprises) for name in ("reference", "durable")]
    for r in results:
        print(f"  {r['engine']:<10} {r['decisions']:>8} decisions in {r['seconds']:6.2f} s = "
              f"{r['decisions'] / r['seconds']:>8.0f} decisions/s, peak RSS {r['peak_mb']:.0f} MB")
    print(f"  identical documents: {results[0]['digest'] == results[1]['digest']}")

    print(f"watch: {args.changes} changes over a {args.enterprises // 10}-enterprise dataset")
    for name in ("reference", "durable"):
        r = _run(_watch, name, args.enterprises // 10, args.changes, False)
        print(f"  {name:<10} {r['changes'] / r['seconds']:>8.0f} changes/s, {r['lines']} decision lines, "
              f"peak RSS {r['peak_mb']:.0f} MB")

    if args.soak:
        print(f"soak: {args.soak} changes in one process (durable, {args.soak_enterprises}-enterprise dataset)")
        r = _run(_watch, "durable", args.soak_enterprises, args.soak, True)
        print(f"  {r['changes'] / r['seconds']:.0f} changes/s; RSS (MB) after n changes: "
              + ", ".join(f"{i}: {mb}" for i, mb in r["samples"]) + f"; peak {r['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
