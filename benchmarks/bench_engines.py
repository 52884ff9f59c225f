"""Where ``--engine auto`` should stop giving a submission to durable-rules: the measured crossover.

    python benchmarks/bench_engines.py [--sizes 1 3 10 30 100 300 1000 3000] [--repeat 3] [--margin 1.0]

For each size (enterprises; the generator adds ~5 records per enterprise of the other types) a generated dataset is
decided with every engine as ``chanjiao check`` decides it in memory — durable in its forked child
(:func:`engine.engines.durable.evaluate_isolated`, as ``auto`` runs it), the reference evaluator, and the vectorised
backend — each timed in a fresh process (best of ``--repeat``), after the packs are loaded and the dataset
validated (the same for every engine). Printed: a row per size with the accepted records, the seconds of each
engine and durable's excess over the fastest; then the two crossovers ``auto`` is set by — the largest measured
submission for which durable costs at most ``--margin`` seconds more than the fastest engine
(``engine.engines.AUTO_DURABLE_MAX_RECORDS``), and the largest for which the reference evaluator is not slower than
the vectorised backend (``engine.engines.AUTO_REFERENCE_MAX_RECORDS``). Every document is checked byte-identical
to the reference's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))
AS_OF = dt.date(2021, 12, 31)
ENGINES = ("durable", "reference", "vectorised")


def _time(engine_name: str, n: int, out: "mp.Queue[dict]") -> None:
    from generate import generate_raw

    from engine.engines import make_engine
    from engine.engines.durable import evaluate_isolated
    from engine.policy.packs import load_packs
    from engine.data.records import validate_rows

    packs, _ = load_packs()
    ds = validate_rows(generate_raw(n))
    start = time.perf_counter()
    if engine_name == "durable":
        doc = evaluate_isolated(packs, ds, AS_OF, None, fallback=True)
    else:
        with make_engine(engine_name, packs) as eng:
            doc = eng.evaluate_dataset(ds, AS_OF)
    seconds = time.perf_counter() - start
    digest = hashlib.sha256(json.dumps(doc, ensure_ascii=False).encode()).hexdigest()
    out.put({"records": ds.accepted_count, "seconds": seconds, "digest": digest})


def measure(engine_name: str, n: int, repeat: int) -> dict:
    """The best of ``repeat`` timings of one engine on ``n`` enterprises, each in a fresh process."""
    ctx = mp.get_context("fork")
    best: dict | None = None
    for _ in range(repeat):
        queue: mp.Queue = ctx.Queue()
        proc = ctx.Process(target=_time, args=(engine_name, n, queue))
        proc.start()
        result = queue.get()
        proc.join()
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    assert best is not None
    return best


def main() -> None:
    """Measure, print the table and the crossover."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 3, 10, 30, 100, 300, 1000, 3000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--margin", type=float, default=1.0,
                    help="seconds durable may cost beyond the fastest engine and still be chosen (default 1.0)")
    args = ap.parse_args()
    print(f"{'enterprises':>11} {'records':>8} " + " ".join(f"{e:>11}" for e in ENGINES) + f" {'durable +':>10}")
    crossover = reference_up_to = 0
    for n in args.sizes:
        rows = {e: measure(e, n, args.repeat) for e in ENGINES}
        digests = {r["digest"] for r in rows.values()}
        if len(digests) != 1:
            raise SystemExit(f"{n} enterprises: the engines' documents differ — a bug, not a benchmark result")
        records = rows["reference"]["records"]
        fastest = min(r["seconds"] for r in rows.values())
        excess = rows["durable"]["seconds"] - fastest
        print(f"{n:>11,} {records:>8,} " + " ".join(f"{rows[e]['seconds']:>10.3f}s" for e in ENGINES)
              + f" {excess:>9.3f}s")
        if excess <= args.margin:
            crossover = max(crossover, records)
        if rows["reference"]["seconds"] <= rows["vectorised"]["seconds"]:
            reference_up_to = max(reference_up_to, records)
    print(f"crossover: durable is within {args.margin:g} s of the fastest engine up to {crossover:,} records; "
          f"set engine.engines.AUTO_DURABLE_MAX_RECORDS = {crossover:_}")
    print(f"crossover: the reference is not slower than the vectorised backend up to {reference_up_to:,} records; "
          f"set engine.engines.AUTO_REFERENCE_MAX_RECORDS = {reference_up_to:_}")


if __name__ == "__main__":
    main()
