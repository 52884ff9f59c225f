"""Benchmark ``chanjiao serve``: latency of checking one enterprise's submission over HTTP on loopback, and the
decision log's append rate.

    python benchmarks/bench_serve.py [--clients 1,8,32] [--seconds 20] [--requests 5000] [--engine auto]
                                     [--dataset examples/tonghua-self-assessment.json] [--database URL]
                                     [--appends 2000] [--workers 1] [--anonymous]

A server is started as its own process (``chanjiao serve`` on a free loopback port, a fresh SQLite file in a
temporary data directory unless ``--database`` is given), an officer account and API token are made with
``chanjiao users``, and for each client count that many threads (one keep-alive HTTP connection each) post the
dataset to ``/api/v1/check`` as the officer — so every check is appended to the decision log — until
``--seconds`` have passed or ``--requests`` checks are done, whichever comes first. Printed per client count:
checks, checks/s, p50/p95/p99/max latency in ms, and non-200 answers. Side by side: the wall time of
``chanjiao check DATASET --format json`` (a fresh process, as a user runs it). Then the log's append rate on its
own (one thread, and eight threads contending), on a fresh database of the same kind.
Not a test: nothing here asserts a figure. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "src"))
CHANJIAO = shutil.which("chanjiao") or str(Path(sys.executable).parent / "chanjiao")
AS_OF = "2021-12-31"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _start_server(env: dict[str, str], database: str | None, engine: str,
                  workers: int) -> tuple[subprocess.Popen, str, str]:
    db = ["--database", database] if database else []
    subprocess.run([CHANJIAO, "users", "add", "bench", "--role", "admin", "--password-stdin", *db],
                   input="benchmark-password\n", text=True, env=env, check=True, capture_output=True)
    token = subprocess.run([CHANJIAO, "users", "token", "bench", *db], text=True, env=env, check=True,
                           capture_output=True).stdout.strip()
    port = _free_port()
    proc = subprocess.Popen([CHANJIAO, "serve", "--port", str(port), "--engine", engine, "--workers", str(workers),
                             *db], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/api/v1/health", timeout=1).status_code == 200:
                return proc, base, token
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("bench: the server did not start")


def _load(base: str, token: str | None, body: bytes, clients: int, seconds: float, limit: int) -> dict[str, float]:
    import httpx

    latencies: list[float] = []
    bad = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}

    def client() -> None:
        nonlocal bad
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            while time.monotonic() < stop_at:
                with lock:
                    if len(latencies) + bad >= limit:
                        return
                t0 = time.perf_counter()
                r = http.post("/api/v1/check", content=body, params={"as_of": AS_OF})
                dt_ms = (time.perf_counter() - t0) * 1000
                with lock:
                    if r.status_code == 200:
                        latencies.append(dt_ms)
                    else:
                        bad += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if not latencies:
        return {"checks": 0, "bad": bad}
    return {"checks": len(latencies), "per_s": len(latencies) / wall, "p50": statistics.median(latencies),
            "p95": _percentile(latencies, 0.95), "p99": _percentile(latencies, 0.99), "max": max(latencies),
            "bad": bad}


def _cli_seconds(dataset: Path, engine: str, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([CHANJIAO, "check", str(dataset), "--as-of", AS_OF, "--format", "json", "--engine", engine],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _append_rate(url: str, count: int, threads: int) -> float:
    from engine.service.audit import DecisionLog
    from engine.service.db import make_engine, migrate

    engine = make_engine(url)
    migrate(engine)
    log = DecisionLog(engine)
    doc = json.loads((REPO / "examples" / "tonghua-self-assessment.json").read_text(encoding="utf-8"))
    document = {"decisions": [], "summary": {"by_rule": {}}, "input": doc}
    each = max(1, count // threads)

    def work(k: int) -> None:
        for i in range(each):
            log.append(kind="check", username=f"b{k}", role="admin", input_name="x.json", input_bytes=b"{}" * 200,
                       meta={"i": i}, document=document)

    t0 = time.perf_counter()
    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    rate = each * threads / (time.perf_counter() - t0)
    assert not log.verify()[2], "the chain broke"
    engine.dispose()
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", default="1,8,32", help="comma-separated concurrent client counts")
    ap.add_argument("--seconds", type=float, default=20.0, help="time bound per client count")
    ap.add_argument("--requests", type=int, default=5000, help="count bound per client count")
    ap.add_argument("--engine", default="auto", help="the server's engine (auto, durable, reference, vectorised)")
    ap.add_argument("--dataset", type=Path, default=REPO / "examples" / "tonghua-self-assessment.json")
    ap.add_argument("--database", default=None, help="postgresql://… (default: a fresh SQLite file)")
    ap.add_argument("--appends", type=int, default=2000, help="entries appended to measure the log's rate")
    ap.add_argument("--workers", type=int, default=1, help="server worker processes (they share the database)")
    ap.add_argument("--anonymous", action="store_true", help="check without a token (nothing logged)")
    args = ap.parse_args()
    body = args.dataset.read_bytes()
    data_dir = Path(tempfile.mkdtemp(prefix="chanjiao-bench-"))
    env = {**os.environ, "CHANJIAO_DATA": str(data_dir)}
    proc, base, token = _start_server(env, args.database, args.engine, args.workers)
    try:
        print(f"dataset {args.dataset.name} ({len(body)} bytes), engine {args.engine}, {args.workers} worker(s), "
              f"{'anonymous (no log)' if args.anonymous else 'officer checks, each logged'}, {os.cpu_count()} CPUs")
        _load(base, None if args.anonymous else token, body, 1, 2.0, 20)  # warm-up
        for n in [int(x) for x in args.clients.split(",") if x.strip()]:
            r = _load(base, None if args.anonymous else token, body, n, args.seconds, args.requests)
            if not r.get("checks"):
                print(f"{n:>3} clients: no successful checks ({r.get('bad')} failed)")
                continue
            print(f"{n:>3} clients: {r['checks']:>6} checks  {r['per_s']:8.1f}/s  p50 {r['p50']:7.1f} ms  "
                  f"p95 {r['p95']:7.1f} ms  p99 {r['p99']:7.1f} ms  max {r['max']:7.1f} ms  non-200 {r['bad']}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    cli = _cli_seconds(args.dataset, args.engine)
    print(f"CLI: chanjiao check {args.dataset.name} --format json: {cli * 1000:.0f} ms per run (median of 5, "
          "a fresh process each)")
    for threads in (1, 8):
        if args.database:
            url = args.database.replace("postgresql://", "postgresql+psycopg://")
            print("log appends on PostgreSQL reuse the same database; entries accumulate")
        else:
            url = f"sqlite:///{data_dir / f'appends-{threads}.db'}"
        rate = _append_rate(url, args.appends, threads)
        print(f"log append: {rate:8.1f} entries/s with {threads} thread(s)")
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
