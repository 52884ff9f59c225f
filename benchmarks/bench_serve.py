"""Benchmark ``chanjiao serve``: latency of checking one enterprise's submission over HTTP on loopback, where the
time of one check goes, and the decision log's append rate.

    python benchmarks/bench_serve.py [--clients 1,8,32] [--workers 1,2] [--seconds 20] [--requests 5000]
                                     [--rate 0] [--engine auto] [--dataset examples/tonghua-self-assessment.json]
                                     [--database URL] [--appends 2000] [--anonymous] [--breakdown 300] [--no-cli]

For each worker count a server is started as its own process (``chanjiao serve --workers N`` on a free loopback
port, a fresh SQLite file in a temporary data directory unless ``--database`` is given), an officer account and
API token are made with ``chanjiao users``, and for each client count that many threads (one keep-alive
connection each, the standard library's ``http.client``: the lightest client, so it takes as little as it can of
the cores the server runs on) post the dataset to ``/api/v1/check`` as the officer — so every check is appended
to the decision log — until ``--seconds`` have passed or ``--requests`` checks are done. The clients are closed
loop (each sends its next check when the last is answered) unless ``--rate R`` is given: then they offer R checks
a second between them, each on its schedule, and a check's latency counts from when it was due (a late client's
wait is counted, not hidden). Printed per worker and client count: checks, checks/s, p50/p95/p99/max latency in
ms, non-200 answers, and where the two cores went while it ran (Linux): the server's CPU per check, the
benchmark client's own share, and everything else on the machine.

``--breakdown N`` first times, in this process and one at a time, the stages of one officer check N times
(medians): the token, reading the upload, deciding, the document's JSON, the log append, the answer's bytes, and
the whole request through the ASGI app without a socket. Side by side: the wall time of ``chanjiao check DATASET
--format json`` (a fresh process, as a user runs it). Then the log's append rate on its own (one thread, and eight
threads contending), on a fresh database of the same kind.
Not a test: nothing here asserts a figure. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import http.client
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
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "src"))
CHANJIAO = shutil.which("chanjiao") or str(Path(sys.executable).parent / "chanjiao")
AS_OF = "2021-12-31"
WHOLE = "whole request through the ASGI app (no socket)"
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# -- where the cores went (Linux /proc; zeros elsewhere) -------------------------------------------------------

def _tree_seconds(pid: int) -> float:
    """CPU seconds of a process and its children (the uvicorn supervisor and its workers)."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total


def _machine_busy_seconds() -> float:
    """CPU seconds every core has spent busy since boot (all but idle and iowait)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    return (sum(values[:8]) - values[3] - values[4]) / TICK


# -- the server ---------------------------------------------------------------------------------------------

def _users(env: dict[str, str], database: str | None) -> str:
    db = ["--database", database] if database else []
    subprocess.run([CHANJIAO, "users", "add", "bench", "--role", "admin", "--password-stdin", *db],
                   input="benchmark-password\n", text=True, env=env, check=True, capture_output=True)
    return subprocess.run([CHANJIAO, "users", "token", "bench", *db], text=True, env=env, check=True,
                          capture_output=True).stdout.strip()


def _start_server(env: dict[str, str], database: str | None, engine: str, workers: int) -> tuple[subprocess.Popen, int]:
    db = ["--database", database] if database else []
    port = _free_port()
    proc = subprocess.Popen([CHANJIAO, "serve", "--port", str(port), "--engine", engine, "--workers", str(workers),
                             *db], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/health")
            if conn.getresponse().status == 200:
                conn.close()
                time.sleep(0.5 if workers > 1 else 0)  # the other workers finish starting
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("bench: the server did not start")


# -- the clients --------------------------------------------------------------------------------------------

def _load(port: int, token: str | None, body: bytes, clients: int, seconds: float, limit: int, rate: float,
          server_pid: int) -> dict[str, float]:
    latencies: list[float] = []
    bad = 0
    lock = threading.Lock()
    path = f"/api/v1/check?as_of={AS_OF}"
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    start = time.perf_counter() + 0.05
    stop_at = start + seconds
    interval = clients / rate if rate > 0 else 0.0

    def client(k: int) -> None:
        nonlocal bad
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        due = start + k * interval / clients if interval else start
        while True:
            if interval:
                now = time.perf_counter()
                if due > now:
                    time.sleep(due - now)
            t0 = due if interval else time.perf_counter()
            if t0 >= stop_at:
                break
            with lock:
                if len(latencies) + bad >= limit:
                    break
            try:
                conn.request("POST", path, body=body, headers=headers)
                r = conn.getresponse()
                r.read()
                ok = r.status == 200
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                ok = False
            elapsed = (time.perf_counter() - t0) * 1000
            with lock:
                if ok:
                    latencies.append(elapsed)
                else:
                    bad += 1
            due += interval
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    cpu0, server0, machine0 = time.process_time(), _tree_seconds(server_pid), _machine_busy_seconds()
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    client_s = time.process_time() - cpu0
    server_s = _tree_seconds(server_pid) - server0
    machine_s = _machine_busy_seconds() - machine0
    if not latencies:
        return {"checks": 0, "bad": bad}
    return {"checks": len(latencies), "per_s": len(latencies) / wall, "p50": statistics.median(latencies),
            "p95": _percentile(latencies, 0.95), "p99": _percentile(latencies, 0.99), "max": max(latencies),
            "bad": bad, "server_ms": server_s / len(latencies) * 1000, "client_pct": client_s / wall * 100,
            "other_pct": max(0.0, machine_s - server_s - client_s) / wall * 100}


# -- one check, stage by stage -------------------------------------------------------------------------------

def _breakdown(body: bytes, engine: str, runs: int) -> None:
    """Median ms of each stage of one officer check, in this process, one at a time."""
    from fastapi.responses import JSONResponse  # noqa: F401 - the app's own dependency, imported before timing

    from engine.service import Settings, create_app
    from engine.service.api import check_answer
    from engine.service.audit import document_bytes
    from engine.service.checking import Upload, read_upload
    from engine.service.core import Checked, Service

    data = Path(tempfile.mkdtemp(prefix="chanjiao-bench-breakdown-"))
    svc = Service(Settings(data_dir=data, engine=engine))
    user = svc.accounts.add("bench", "admin", "benchmark-password")
    token = svc.accounts.new_token("bench")
    app = create_app(svc.settings, service=svc)
    upload = Upload("dataset.json", body)
    as_of = dt.date.fromisoformat(AS_OF)
    times: dict[str, list[float]] = {}
    walls: list[float] = []

    def timed(name: str, work: Callable[[], Any]) -> Any:
        t0 = time.process_time()
        out = work()
        times.setdefault(name, []).append((time.process_time() - t0) * 1000)
        return out

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/api/v1/check", "raw_path": b"/api/v1/check", "query_string": f"as_of={AS_OF}".encode(),
             "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
             "headers": [(b"host", b"bench"), (b"content-type", b"application/json"),
                         (b"authorization", f"Bearer {token}".encode()), (b"content-length", str(len(body)).encode())]}

    async def request() -> None:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(dict(scope), receive, send)
        assert sent[0]["status"] == 200, sent

    async def requests() -> None:
        for i in range(runs + 20):
            t0, w0 = time.process_time(), time.perf_counter()
            await request()
            if i >= 20:
                times.setdefault(WHOLE, []).append((time.process_time() - t0) * 1000)
                walls.append((time.perf_counter() - w0) * 1000)

    for i in range(runs + 20):
        if i == 20:
            times.clear()
        timed("token (argon2 verified once, cached)", lambda: svc.accounts.by_token(token))
        ds = timed("read the upload (spool, parse, validate)",
                   lambda: read_upload(svc.checker, upload, svc.settings.max_unzipped_bytes))
        result = timed("decide and annotate (Checker.check)",
                       lambda: svc.checker.check(ds, as_of=as_of, engine=svc.engine_for(len(body))))
        doc_json = timed("the document's JSON (once)", lambda: document_bytes(result.document))
        entry = timed("log append (zlib, digests, chain, commit)",
                      lambda: svc.log.append(kind="check", username=user.username, role=user.role,
                                             input_name=upload.name, input_bytes=body, meta={"as_of": AS_OF},
                                             document=result.document, document_json=doc_json))
        timed("the answer's bytes", lambda: check_answer(Checked(result, entry, doc_json), "zh"))
    asyncio.run(requests())
    medians = {k: statistics.median(v) for k, v in times.items()}
    whole = medians.pop(WHOLE)
    parts = sum(medians.values())
    print(f"one officer check, stage by stage (CPU ms of this process, median of {runs}):")
    for name, ms in medians.items():
        print(f"  {name:<48} {ms:6.2f}")
    print(f"  {'FastAPI, middleware, threadpool hop (the rest)':<48} {max(0.0, whole - parts):6.2f}")
    print(f"  {WHOLE:<48} {whole:6.2f}  (wall {statistics.median(walls):.2f})")
    svc.close()
    shutil.rmtree(data, ignore_errors=True)


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


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", default="1,8,32", help="comma-separated concurrent client counts")
    ap.add_argument("--workers", default="1", help="comma-separated server worker process counts (0: one per core)")
    ap.add_argument("--seconds", type=float, default=20.0, help="time bound per client count")
    ap.add_argument("--requests", type=int, default=5000, help="count bound per client count")
    ap.add_argument("--rate", type=float, default=0.0,
                    help="checks a second the clients offer between them (0: closed loop, as fast as answered)")
    ap.add_argument("--engine", default="auto", help="the server's engine (auto, durable, reference, vectorised)")
    ap.add_argument("--dataset", type=Path, default=REPO / "examples" / "tonghua-self-assessment.json")
    ap.add_argument("--database", default=None, help="postgresql://… (default: a fresh SQLite file per worker count)")
    ap.add_argument("--appends", type=int, default=2000, help="entries appended to measure the log's rate (0: skip)")
    ap.add_argument("--anonymous", action="store_true", help="check without a token (nothing logged)")
    ap.add_argument("--breakdown", type=int, default=0, metavar="N", help="time one check's stages N times first")
    ap.add_argument("--no-cli", action="store_true", help="skip timing `chanjiao check` in a fresh process")
    args = ap.parse_args()
    body = args.dataset.read_bytes()
    if args.breakdown:
        _breakdown(body, args.engine, args.breakdown)
    root = Path(tempfile.mkdtemp(prefix="chanjiao-bench-"))
    mode = f"offered {args.rate:g} checks/s" if args.rate else "closed loop"
    print(f"dataset {args.dataset.name} ({len(body)} bytes), engine {args.engine}, "
          f"{'anonymous (no log)' if args.anonymous else 'officer checks, each logged'}, {mode}, "
          f"{os.cpu_count()} CPUs, client http.client")
    print("workers clients   checks  checks/s    p50 ms    p95 ms    p99 ms    max ms  non-200  "
          "server CPU ms/check  client %core  others %core")
    for workers in _ints(args.workers):
        data_dir = root / f"workers-{workers}"
        env = {**os.environ, "CHANJIAO_DATA": str(data_dir)}
        token = _users(env, args.database)
        proc, port = _start_server(env, args.database, args.engine, workers)
        try:
            warm = max(workers, 1) * 4
            _load(port, None if args.anonymous else token, body, warm, 2.0, 40 * warm, 0.0, proc.pid)
            for n in _ints(args.clients):
                r = _load(port, None if args.anonymous else token, body, n, args.seconds, args.requests, args.rate,
                          proc.pid)
                if not r.get("checks"):
                    print(f"{workers:>7} {n:>7}  no successful checks ({r.get('bad')} failed)")
                    continue
                print(f"{workers:>7} {n:>7} {r['checks']:>8} {r['per_s']:9.1f} {r['p50']:9.1f} {r['p95']:9.1f} "
                      f"{r['p99']:9.1f} {r['max']:9.1f} {r['bad']:>8} {r['server_ms']:20.2f} "
                      f"{r['client_pct']:13.0f} {r['other_pct']:13.0f}", flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    if not args.no_cli:
        cli = _cli_seconds(args.dataset, args.engine)
        print(f"CLI: chanjiao check {args.dataset.name} --format json: {cli * 1000:.0f} ms per run (median of 5, "
              "a fresh process each)")
    for threads in (1, 8) if args.appends else ():
        if args.database:
            url = args.database.replace("postgresql://", "postgresql+psycopg://")
            print("log appends on PostgreSQL reuse the same database; entries accumulate")
        else:
            url = f"sqlite:///{root / f'appends-{threads}.db'}"
        rate = _append_rate(url, args.appends, threads)
        print(f"log append: {rate:8.1f} entries/s with {threads} thread(s)")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
