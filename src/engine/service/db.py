"""The service's database: tables, engine set-up and migrations (Alembic, shipped in ``migrations/``).

SQLite (the default, one file) and PostgreSQL (several workers behind one server) hold the same tables. On
SQLite every writing transaction starts with ``BEGIN IMMEDIATE`` (:func:`writing`), so writers are serialised by
the database itself (readers use WAL snapshots); on PostgreSQL the decision log's append takes a transaction-scoped advisory lock.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

__all__ = ["metadata", "users", "api_tokens", "sessions", "decision_log", "saved_assessments",
           "make_engine", "migrate", "writing", "is_sqlite", "LOG_LOCK_KEY", "queue_file", "queued"]

# an arbitrary 64-bit key for pg_advisory_xact_lock: the decision log's append lock
LOG_LOCK_KEY = 0x63686A6C6F67  # "chjlog"

metadata = sa.MetaData()

users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(128), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("password_hash", sa.String(256), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)

api_tokens = sa.Table(
    "api_tokens", metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # the public part of the token, used to find the row
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("token_hash", sa.String(256), nullable=False),  # argon2 of the secret part
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, default=False),
)

sessions = sa.Table(
    "sessions", metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),  # sha256 of the 256-bit cookie value
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("expires_at", sa.String(40), nullable=False),
)

decision_log = sa.Table(
    "decision_log", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("entry_id", sa.String(36), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),  # check | replay
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("input_name", sa.String(256), nullable=False),
    sa.Column("input_digest", sa.String(80), nullable=False),
    sa.Column("input_blob", sa.LargeBinary, nullable=False),  # zlib of the input bytes (a zip for a CSV export)
    sa.Column("meta", sa.Text, nullable=False),  # JSON: packs, parameters, as_of, period, engine, replay_of …
    sa.Column("enterprise_ids", sa.Text, nullable=False),  # "|id|id|" for filtering
    sa.Column("rule_ids", sa.Text, nullable=False),  # "|rule|rule|": rules with at least one decision
    sa.Column("summary", sa.Text, nullable=False),  # JSON
    sa.Column("document_digest", sa.String(80), nullable=False),
    sa.Column("document_blob", sa.LargeBinary, nullable=False),  # zlib of the decision document's JSON
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False),
)
sa.Index("decision_log_created", decision_log.c.created_at)
sa.Index("decision_log_user", decision_log.c.username)

saved_assessments = sa.Table(
    "saved_assessments", metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),  # sha256 of the unguessable link the enterprise keeps
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("facts", sa.Text, nullable=False),  # JSON: what the enterprise entered
)


def is_sqlite(engine: Engine) -> bool:
    """True when the engine is SQLite."""
    return engine.dialect.name == "sqlite"


def make_engine(url: str) -> Engine:
    """An SQLAlchemy engine for ``url``; SQLite gets WAL, a busy timeout and ``BEGIN IMMEDIATE`` transactions."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:  # reads: a WAL snapshot; writes (see writing()): the write lock at once
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("chanjiao_write") else "BEGIN")

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=30)


def writing(engine: Engine) -> Engine:
    """The engine for a transaction that writes: on SQLite it starts with ``BEGIN IMMEDIATE`` (the write lock
    taken at once, so two writers queue on the busy timeout instead of failing to upgrade a read lock); reads
    use ``engine`` itself and a plain ``BEGIN`` (a WAL snapshot that blocks nobody)."""
    return engine.execution_options(chanjiao_write=True)


def queue_file(engine: Engine) -> Path | None:
    """The file the log's appenders on one SQLite database queue on (:func:`queued`): ``<database>-append.lock``
    beside it; None for PostgreSQL (its advisory lock queues them), an in-memory database or no ``fcntl``."""
    if not is_sqlite(engine) or _flock is None:
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database + "-append.lock")


try:
    from fcntl import LOCK_EX as _LOCK_EX, flock as _flock
except ImportError:  # not POSIX: SQLite's busy handler alone queues the processes
    _flock = None  # type: ignore[assignment]


@contextmanager
def queued(path: Path | None) -> Iterator[None]:
    """Wait for the other processes appending to the same SQLite file, woken as soon as the one before is done.

    SQLite's busy handler retries a locked database after sleeping 1, 2, 5, 10, 15, 20 … ms, so two workers
    appending at once waited tens of milliseconds for a lock held under one; an ``flock`` on :func:`queue_file`
    wakes the next appender at once. It only orders the appenders: the write lock is still the database's own
    (``BEGIN IMMEDIATE``), so an appender that does not queue (an older process) is still serialised."""
    try:
        fd = None if path is None else os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:  # e.g. made by another account: the database's own lock still serialises the appenders
        fd = None
    if fd is None:
        yield
        return
    try:
        _flock(fd, _LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (Alembic); safe when several workers start at once."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with writing(engine).begin() as conn:
        if not is_sqlite(engine):  # one worker migrates, the others wait and find it done
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOG_LOCK_KEY + 1})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
