"""The decision log on real SQLite and on a real PostgreSQL server started for the test.

Proves: entries chain and verify; the database itself refuses UPDATE and DELETE; an altered field, an altered
input or document, a removed entry and a reordered pair are each detected; concurrent appends from many threads
lose nothing and keep one unbroken chain; ``chanjiao audit verify`` exits 1 on tampering and ``audit export``
writes one JSON line per entry. PostgreSQL comes from Debian's ``postgresql`` (``initdb``/``pg_ctl`` run as the
``postgres`` user when the tests run as root); without it the PostgreSQL cases skip locally and fail in CI.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path
from typing import Any, Iterator

import pytest

sa = pytest.importorskip("sqlalchemy")

from engine.service.audit import DecisionLog  # noqa: E402
from engine.service.db import make_engine, migrate  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() in ("true", "1")
DOC = {"as_of": "2021-12-31", "rule_packs": [{"id": "p", "document_number": "n", "digest": "sha256:00"}],
       "decisions": [{"rule_id": "tonghua.frontline_share", "subject_type": "enterprises",
                      "subject_id": "91220502MA0Y0A0133", "status": "compliant"}],
       "summary": {"by_rule": {}}, "errors": [], "warnings": []}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server in a temporary directory for this test session; yields its base URL."""
    bindir = _pg_bin()
    if bindir is None:
        if IN_CI:
            pytest.fail("PostgreSQL is not installed (.ci/run installs Debian's postgresql)")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="chanjiao-pg-"))
    data = root / "data"
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        as_postgres = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
        os.chmod(root, 0o700)
    port = _free_port()
    run = lambda *cmd: subprocess.run([*as_postgres, *cmd], check=True, capture_output=True, text=True)  # noqa: E731
    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60", "-o",
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


_db_counter = iter(range(1, 10**6))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'log.db'}"
    return str(request.getfixturevalue("db_url_pg"))


def _engine(url: str) -> Any:
    engine = make_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    migrate(engine)
    return engine


def _append(log: DecisionLog, n: int, who: str = "tax1") -> None:
    for i in range(n):
        log.append(kind="check", username=who, role="tax_officer", input_name=f"in{i}.json",
                   input_bytes=f'{{"n": {i}}}'.encode(), meta={"as_of": "2021-12-31", "i": i}, document=DOC)


def _tamper(engine: Any, statements: list[str]) -> None:
    """What an attacker with the database's owner rights does: drop the guard, change rows."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS decision_log_no_update")
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS decision_log_no_delete")
        else:
            conn.exec_driver_sql("ALTER TABLE decision_log DISABLE TRIGGER USER")
        for s in statements:
            conn.exec_driver_sql(s)


def test_entries_chain_and_verify(db_url: str) -> None:
    engine = _engine(db_url)
    log = DecisionLog(engine)
    _append(log, 5)
    count, head, problems = log.verify()
    assert (count, problems) == (5, [])
    entries = [e for e, _i, _d in log.rows()]
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5] and head == entries[-1].entry_hash
    assert all(b.prev_hash == a.entry_hash for a, b in zip(entries, entries[1:]))
    assert log.input_of(3) == b'{"n": 2}' and log.document_of(3) == DOC
    engine.dispose()


def test_the_database_refuses_update_and_delete(db_url: str) -> None:
    engine = _engine(db_url)
    log = DecisionLog(engine)
    _append(log, 2)
    for statement in ("UPDATE decision_log SET username = 'mallory' WHERE seq = 1",
                      "DELETE FROM decision_log WHERE seq = 2"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with engine.begin() as conn:
                conn.exec_driver_sql(statement)
    if engine.dialect.name == "postgresql":
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with engine.begin() as conn:
                conn.exec_driver_sql("TRUNCATE decision_log")
    assert log.verify()[0] == 2 and log.verify()[2] == []
    engine.dispose()


@pytest.mark.parametrize("attack, expected", [
    (["UPDATE decision_log SET username = 'mallory' WHERE seq = 2"], ["entry 2: its fields do not match its hash"]),
    (["UPDATE decision_log SET summary = '{\"by_rule\":{}}' || ' ' WHERE seq = 3"], ["entry 3: its fields"]),
    (["DELETE FROM decision_log WHERE seq = 2"], ["entry 3: expected entry 2 here", "entry 3: does not follow"]),
    (["UPDATE decision_log SET seq = 100 WHERE seq = 2", "UPDATE decision_log SET seq = 2 WHERE seq = 3",
      "UPDATE decision_log SET seq = 3 WHERE seq = 100"], ["entry 2: does not follow", "entry 2: its fields"]),
])
def test_altered_removed_or_reordered_entries_are_detected(db_url: str, attack: list[str],
                                                           expected: list[str]) -> None:
    engine = _engine(db_url)
    log = DecisionLog(engine)
    _append(log, 4)
    _tamper(engine, attack)
    problems = [p.text("en") for p in log.verify()[2]]
    assert str(log.verify()[2][0]).startswith("第 ")  # Chinese first
    for fragment in expected:
        assert any(p.startswith(fragment) for p in problems), (fragment, problems)
    engine.dispose()


def test_altered_input_or_document_is_detected(db_url: str) -> None:
    engine = _engine(db_url)
    log = DecisionLog(engine)
    _append(log, 3)
    forged = {**DOC, "decisions": [{**DOC["decisions"][0], "status": "non_compliant"}]}
    blob = zlib.compress(json.dumps(forged).encode())
    _tamper(engine, [])
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE decision_log SET document_blob = :b WHERE seq = 2"), {"b": blob})
        conn.execute(sa.text("UPDATE decision_log SET input_blob = :b WHERE seq = 3"), {"b": zlib.compress(b"{}")})
    problems = [p.text("en") for p in log.verify()[2]]
    assert problems == ["entry 2: its document does not match its digest (altered)",
                        "entry 3: its input does not match its digest (altered)"]
    engine.dispose()


def test_concurrent_appends_lose_nothing_and_keep_one_chain(db_url: str) -> None:
    engine = _engine(db_url)
    threads, each = 8, 6
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            _append(DecisionLog(engine), each, who=f"officer{k}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    log = DecisionLog(engine)
    count, _head, problems = log.verify()
    assert (count, problems) == (threads * each, [])
    entries = [e for e, _i, _d in log.rows()]
    assert [e.seq for e in entries] == list(range(1, threads * each + 1))
    for k in range(threads):
        mine = [e.meta["i"] for e in entries if e.username == f"officer{k}"]
        assert mine == list(range(each))  # each officer's entries in the order they were made
    engine.dispose()


def test_concurrent_appends_from_separate_processes(db_url: str) -> None:
    """Two worker processes (as behind uvicorn --workers) appending to one database keep one chain."""
    _engine(db_url).dispose()
    url = db_url.replace("postgresql://", "postgresql+psycopg://")
    code = ("import sys; from engine.service.db import make_engine; from engine.service.audit import DecisionLog\n"
            "log = DecisionLog(make_engine(sys.argv[1]))\n"
            "for i in range(10): log.append(kind='check', username=sys.argv[2], role='admin', input_name='x', "
            "input_bytes=b'{}', meta={'i': i}, document={'decisions': [], 'summary': {}})\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, url, f"p{k}"]) for k in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    engine = _engine(db_url)
    count, _head, problems = DecisionLog(engine).verify()
    assert (count, problems) == (30, [])
    engine.dispose()


def test_processes_of_several_threads_append_in_turn(db_url: str) -> None:
    """Two worker processes of four threads each, all appending at once (``serve --workers 2`` under load): one
    chain, nothing lost, each thread's entries in the order it made them; on SQLite they queue on the log's
    queue file."""
    _engine(db_url).dispose()
    url = db_url.replace("postgresql://", "postgresql+psycopg://")
    code = ("import sys, threading\n"
            "from engine.service.db import make_engine\n"
            "from engine.service.audit import DecisionLog\n"
            "log = DecisionLog(make_engine(sys.argv[1]))\n"
            "def work(k):\n"
            "    for i in range(8):\n"
            "        log.append(kind='check', username=f'{sys.argv[2]}t{k}', role='admin', input_name='x',\n"
            "                   input_bytes=b'{}', meta={'i': i}, document={'decisions': [], 'summary': {}})\n"
            "pool = [threading.Thread(target=work, args=(k,)) for k in range(4)]\n"
            "for t in pool: t.start()\n"
            "for t in pool: t.join()\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, url, f"p{k}"]) for k in range(2)]
    assert [p.wait(timeout=180) for p in procs] == [0, 0]
    engine = _engine(db_url)
    log = DecisionLog(engine)
    count, _head, problems = log.verify()
    assert (count, problems) == (64, [])
    entries = [e for e, _i, _d in log.rows()]
    assert sorted({e.username for e in entries}) == sorted(f"p{p}t{t}" for p in range(2) for t in range(4))
    for who in {e.username for e in entries}:
        assert [e.meta["i"] for e in entries if e.username == who] == list(range(8))
    if db_url.startswith("sqlite"):
        assert Path(engine.url.database + "-append.lock").is_file()
    engine.dispose()


def test_an_append_waits_its_turn_behind_another_process(tmp_path: Path) -> None:
    """While another process holds the SQLite log's queue, an append waits (no 'database is locked', no lost
    entry) and goes through once the queue is free."""
    url = f"sqlite:///{tmp_path / 'log.db'}"
    engine = _engine(url)
    log = DecisionLog(engine)
    _append(log, 1)
    holder = subprocess.Popen([sys.executable, "-c",
                               "import fcntl, sys, time\n"
                               "f = open(sys.argv[1], 'a+b'); fcntl.flock(f, fcntl.LOCK_EX)\n"
                               "print('held', flush=True); time.sleep(1.5)\n",
                               str(tmp_path / "log.db-append.lock")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    started = time.monotonic()
    _append(log, 1, who="tax2")
    waited = time.monotonic() - started
    assert holder.wait(timeout=30) == 0
    assert waited > 0.5  # it queued behind the holder (who held the queue for 1.5 s)
    count, _head, problems = log.verify()
    assert (count, problems) == (2, [])
    engine.dispose()


def test_an_unusable_queue_file_leaves_the_database_lock_alone_in_charge(tmp_path: Path) -> None:
    """A queue file that cannot be opened (here: a directory in its place) does not stop appends."""
    engine = _engine(f"sqlite:///{tmp_path / 'log.db'}")
    (tmp_path / "log.db-append.lock").mkdir()
    _append(DecisionLog(engine), 3)
    count, _head, problems = DecisionLog(engine).verify()
    assert (count, problems) == (3, [])
    engine.dispose()


def test_audit_cli_verify_and_export(db_url: str, tmp_path: Path) -> None:
    chanjiao = str(Path(sys.executable).parent / "chanjiao")
    engine = _engine(db_url)
    _append(DecisionLog(engine), 3)
    ok = subprocess.run([chanjiao, "audit", "verify", "--database", db_url, "--lang", "en"], capture_output=True,
                        text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("3 entries: intact; head ")
    head = ok.stdout.split("head ")[1].strip()
    out = tmp_path / "log.jsonl"
    exported = subprocess.run([chanjiao, "audit", "export", "--database", db_url, "--output", str(out)],
                              capture_output=True, text=True)
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [x["seq"] for x in lines] == [1, 2, 3] and lines[0]["document"] == DOC
    assert lines[2]["entry_hash"] == head and lines[1]["input_base64"]
    _tamper(engine, ["DELETE FROM decision_log WHERE seq = 3"])  # removing the newest entry: only the head shows it
    assert subprocess.run([chanjiao, "audit", "verify", "--database", db_url], capture_output=True).returncode == 0
    cut = subprocess.run([chanjiao, "audit", "verify", "--database", db_url, "--expect-head", head, "--lang", "en"],
                         capture_output=True, text=True)
    assert cut.returncode == 1 and "no longer in the log" in cut.stderr
    _tamper(engine, ["UPDATE decision_log SET role = 'admin' WHERE seq = 1"])
    bad = subprocess.run([chanjiao, "audit", "verify", "--database", db_url, "--lang", "zh"], capture_output=True,
                         text=True)
    assert bad.returncode == 1 and "第 1 条：内容与其哈希不符（被改动）" in bad.stderr
    assert "Traceback" not in bad.stderr
    engine.dispose()


def test_bad_database_url_is_one_line(tmp_path: Path) -> None:
    chanjiao = str(Path(sys.executable).parent / "chanjiao")
    r = subprocess.run([chanjiao, "audit", "verify", "--database", "postgresql://nobody@127.0.0.1:1/none",
                        "--lang", "zh"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("chanjiao: 错误：无法打开数据库：")
    assert len(r.stderr.strip().splitlines()) == 1


def _serve(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """``chanjiao serve`` as a user starts it, on a free loopback port; waits until it answers."""
    import httpx

    port = _free_port()
    chanjiao = str(Path(sys.executable).parent / "chanjiao")
    proc = subprocess.Popen([chanjiao, "serve", "--port", str(port), *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if httpx.get(base + "/api/v1/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("serve did not answer")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_concurrent_checks_over_http_all_appear_in_the_log(kind: str, tmp_path: Path,
                                                           request: pytest.FixtureRequest) -> None:
    """The server as started by ``chanjiao serve`` with two workers (SQLite: no other service; PostgreSQL)."""
    import httpx

    chanjiao = str(Path(sys.executable).parent / "chanjiao")
    env = {**os.environ, "CHANJIAO_DATA": str(tmp_path / "data")}
    db: list[str] = []
    args = ["--engine", "reference", "--workers", "2"]
    if kind == "postgresql":
        db = ["--database", request.getfixturevalue("db_url_pg")]
        args += db
    subprocess.run([chanjiao, "users", "add", "tax1", "--role", "tax_officer", "--password-stdin", *db],
                   input="correct horse battery\n", text=True, env=env, check=True, capture_output=True)
    token = subprocess.run([chanjiao, "users", "token", "tax1", *db], text=True, env=env, check=True,
                           capture_output=True).stdout.strip()
    proc, base = _serve(args, env)
    body = (Path(__file__).resolve().parents[1] / "examples" / "tonghua-self-assessment.json").read_bytes()
    codes: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(base_url=base, timeout=120,
                          headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}) as c:
            for _ in range(5):
                r = c.post("/api/v1/check", content=body, params={"as_of": "2021-12-31"})
                with lock:
                    codes.append(r.status_code)

    try:
        assert httpx.get(base + "/api/v1/checks", timeout=10).status_code == 401  # anonymous refused
        pool = [threading.Thread(target=client) for _ in range(6)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert codes == [200] * 30
    if kind == "sqlite":  # the default: one SQLite file in the documented data directory
        assert (tmp_path / "data" / "chanjiao.db").is_file()
    verify = subprocess.run([chanjiao, "audit", "verify", *db, "--lang", "en"], text=True, env=env, capture_output=True)
    assert verify.returncode == 0 and verify.stdout.startswith("30 entries: intact"), verify.stdout + verify.stderr


@pytest.fixture()
def db_url_pg(postgres_server: str) -> str:
    """A fresh PostgreSQL database."""
    name = f"chanjiao_test_{next(_db_counter)}"
    admin = sa.create_engine(postgres_server.replace("postgresql://", "postgresql+psycopg://") + "/postgres",
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return f"{postgres_server}/{name}"
