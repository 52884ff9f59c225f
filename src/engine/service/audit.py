"""The decision log: one append-only, hash-chained entry per officer check.

An entry records who checked what, when, under which packs and parameters, and the decision document; the
input itself is kept (zlib-compressed) so the check can be replayed. Each entry's hash covers its fields as
stored (JSON text included), the SHA-256 digests of its input and document, and the previous entry's hash, so
:meth:`DecisionLog.verify` finds any altered, removed or reordered entry. The database refuses UPDATE and DELETE
on the table (SQLite triggers, PostgreSQL triggers; see the first migration). Appends are serialised — SQLite by
``BEGIN IMMEDIATE``, PostgreSQL by a transaction-scoped advisory lock — so concurrent checks never lose or
interleave entries. Removing the newest entries leaves a shorter valid chain: compare the head hash that
``chanjiao audit verify`` prints with one recorded elsewhere to detect that.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import uuid
import zlib
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from engine.messages import msg, render
from engine.service.db import LOG_LOCK_KEY, decision_log, is_sqlite, queue_file, queued, writing

__all__ = ["GENESIS", "LogEntry", "Problem", "DecisionLog", "document_bytes"]

GENESIS = "0" * 64
# the fields an entry's hash covers, in this order (the stored text of each)
HASHED = ("seq", "entry_id", "kind", "created_at", "username", "role", "input_name", "input_digest", "meta",
          "enterprise_ids", "rule_ids", "summary", "document_digest", "prev_hash")


def document_bytes(document: dict[str, Any]) -> bytes:
    """The decision document as stored: compact JSON, UTF-8, keys in the document's order (the data of
    ``chanjiao check --format json``; compact, because only the C encoder is fast and it does not indent)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _entry_hash(fields: dict[str, Any]) -> str:
    payload = _canonical([fields[k] for k in HASHED])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LogEntry:
    """One decision-log entry as stored (``meta`` and ``summary`` parsed)."""

    seq: int
    entry_id: str
    kind: str
    created_at: str
    username: str
    role: str
    input_name: str
    input_digest: str
    meta: dict[str, Any]
    enterprise_ids: list[str]
    rule_ids: list[str]
    summary: dict[str, Any]
    document_digest: str
    prev_hash: str
    entry_hash: str

    def as_dict(self) -> dict[str, Any]:
        """The entry as the API and ``audit export`` show it (without the input and document bodies)."""
        return {"seq": self.seq, "entry_id": self.entry_id, "kind": self.kind, "created_at": self.created_at,
                "username": self.username, "role": self.role, "input_name": self.input_name,
                "input_digest": self.input_digest, **self.meta, "enterprise_ids": self.enterprise_ids,
                "rule_ids": self.rule_ids, "summary": self.summary, "document_digest": self.document_digest,
                "prev_hash": self.prev_hash, "entry_hash": self.entry_hash}


@dataclass(frozen=True)
class Problem:
    """A broken link of the chain: the entry's sequence number and what is wrong with it (a catalogue message)."""

    seq: int
    message: str

    def text(self, lang: str = "zh") -> str:
        """The problem as a sentence in ``lang``."""
        return render(msg("audit.problem", seq=self.seq, problem=self.message), lang)

    def __str__(self) -> str:
        return self.text("zh")


def _ids(text: str) -> list[str]:
    return [x for x in text.split("|") if x]


def _bar(ids: Sequence[str]) -> str:
    return "|" + "|".join(ids) + "|" if ids else ""


def _entry(row: Any) -> LogEntry:
    return LogEntry(row.seq, row.entry_id, row.kind, row.created_at, row.username, row.role, row.input_name,
                    row.input_digest, json.loads(row.meta), _ids(row.enterprise_ids), _ids(row.rule_ids),
                    json.loads(row.summary), row.document_digest, row.prev_hash, row.entry_hash)


_LISTED = [c for c in decision_log.c if c.name not in ("input_blob", "document_blob")]
# the append's two statements, built once: SQLAlchemy compiles each once and caches it (a statement built per
# call with .values(...) re-walks every value, blobs included, to make its cache key)
_HEAD = sa.select(decision_log.c.seq, decision_log.c.entry_hash).order_by(decision_log.c.seq.desc()).limit(1)
_INSERT = decision_log.insert()
_LOCK = sa.text("SELECT pg_advisory_xact_lock(:k)")


class DecisionLog:
    """The decision log of one database (an object the service owns)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._writing = writing(engine)
        # appenders queue: this process's threads on a lock, processes on one SQLite file on its queue file
        # (neither replaces the database's own lock; both spare the busy handler's sleeps)
        self._turn = threading.Lock()
        self._queue = queue_file(engine)

    def append(self, *, kind: str, username: str, role: str, input_name: str, input_bytes: bytes,
               meta: dict[str, Any], document: dict[str, Any], document_json: bytes | None = None) -> LogEntry:
        """Append one entry after the current head, atomically; returns it. ``document_json`` is
        ``document_bytes(document)`` when the caller has already made it (it is stored and digested as given)."""
        doc = document_bytes(document) if document_json is None else document_json
        blobs = {"input_blob": zlib.compress(input_bytes, 6), "document_blob": zlib.compress(doc, 6)}
        enterprises = sorted({d["subject_id"] for d in document.get("decisions", [])
                              if d.get("subject_type") == "enterprises"}
                             | set(document.get("summary", {}).get("by_enterprise", {})))
        rules = sorted({d["rule_id"] for d in document.get("decisions", [])})
        fields: dict[str, Any] = {
            "entry_id": str(uuid.uuid4()), "kind": kind, "username": username, "role": role,
            "input_name": input_name[:256], "input_digest": _digest(input_bytes), "meta": _canonical(meta),
            "enterprise_ids": _bar(enterprises), "rule_ids": _bar(rules),
            "summary": _canonical(document.get("summary", {})), "document_digest": _digest(doc),
        }
        row = {**fields, **blobs}
        with self._turn, queued(self._queue), self._writing.begin() as conn:  # SQLite: BEGIN IMMEDIATE
            if not is_sqlite(self.engine):
                conn.execute(_LOCK, {"k": LOG_LOCK_KEY})
            last = conn.execute(_HEAD).first()
            fields["seq"] = last.seq + 1 if last else 1
            fields["prev_hash"] = last.entry_hash if last else GENESIS
            fields["created_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")
            fields["entry_hash"] = _entry_hash(fields)
            row.update(seq=fields["seq"], prev_hash=fields["prev_hash"], created_at=fields["created_at"],
                       entry_hash=fields["entry_hash"])
            conn.execute(_INSERT, row)
        return LogEntry(**{k: v for k, v in fields.items() if k not in ("meta", "enterprise_ids", "rule_ids", "summary")},
                        meta=json.loads(fields["meta"]), enterprise_ids=enterprises, rule_ids=rules,
                        summary=json.loads(fields["summary"]))

    def get(self, seq: int) -> LogEntry | None:
        """The entry with this sequence number, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(*_LISTED).where(decision_log.c.seq == seq)).first()
        return _entry(row) if row else None

    def input_of(self, seq: int) -> bytes:
        """The input bytes an entry recorded (decompressed)."""
        with self.engine.connect() as conn:
            blob = conn.execute(sa.select(decision_log.c.input_blob).where(decision_log.c.seq == seq)).scalar_one()
        return zlib.decompress(blob)

    def document_of(self, seq: int) -> dict[str, Any]:
        """The decision document an entry recorded."""
        return json.loads(self.document_json_of(seq))  # type: ignore[no-any-return]

    def document_json_of(self, seq: int) -> bytes:
        """The decision document an entry recorded, as stored: :func:`document_bytes` of it."""
        with self.engine.connect() as conn:
            blob = conn.execute(sa.select(decision_log.c.document_blob)
                                .where(decision_log.c.seq == seq)).scalar_one()
        return zlib.decompress(blob)

    def search(self, *, enterprise: str | None = None, rule: str | None = None, date_from: dt.date | None = None,
               date_to: dt.date | None = None, username: str | None = None, roles: Sequence[str] | None = None,
               limit: int = 50, offset: int = 0) -> tuple[int, list[LogEntry]]:
        """Entries matching every filter given, newest first, with the total count matching."""
        q = sa.select(*_LISTED)
        where = []
        if enterprise:
            where.append(decision_log.c.enterprise_ids.contains(f"|{enterprise}|", autoescape=True))
        if rule:
            where.append(decision_log.c.rule_ids.contains(f"|{rule}|", autoescape=True))
        if date_from:
            where.append(decision_log.c.created_at >= date_from.isoformat())
        if date_to:
            where.append(decision_log.c.created_at < (date_to + dt.timedelta(days=1)).isoformat())
        if username:
            where.append(decision_log.c.username == username)
        if roles is not None:
            where.append(decision_log.c.role.in_(list(roles)))
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(decision_log).where(*where)).scalar_one()
            rows = conn.execute(q.where(*where).order_by(decision_log.c.seq.desc()).limit(limit).offset(offset))
            return total, [_entry(r) for r in rows]

    def contains(self, entry_hash: str) -> bool:
        """True when an entry with this hash is in the log (a head recorded earlier is still there)."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(decision_log)
                                .where(decision_log.c.entry_hash == entry_hash)).scalar_one() > 0

    def rows(self) -> Iterator[tuple[LogEntry, bytes, bytes]]:
        """Every entry in sequence order with its compressed input and document blobs."""
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=256).execute(
                sa.select(decision_log).order_by(decision_log.c.seq))
            for row in result:
                yield _entry(row), row.input_blob, row.document_blob

    def verify(self) -> tuple[int, str, list[Problem]]:
        """Check the whole chain: (entries read, head hash, problems); no problems means intact."""
        problems: list[Problem] = []
        prev, expected, count = GENESIS, 1, 0
        with self.engine.connect() as conn:  # streamed: memory stays flat however long the log
            for row in conn.execution_options(stream_results=True, yield_per=256).execute(
                    sa.select(decision_log).order_by(decision_log.c.seq)):
                count += 1
                fields = {k: getattr(row, k) for k in HASHED}
                if row.seq != expected:
                    problems.append(Problem(row.seq, msg("audit.renumbered", expected=expected)))
                if row.prev_hash != prev:
                    problems.append(Problem(row.seq, msg("audit.unlinked")))
                if _entry_hash(fields) != row.entry_hash:
                    problems.append(Problem(row.seq, msg("audit.altered")))
                for key, blob, digest in (("audit.input_altered", row.input_blob, row.input_digest),
                                          ("audit.document_altered", row.document_blob, row.document_digest)):
                    try:
                        ok = _digest(zlib.decompress(blob)) == digest
                    except zlib.error:
                        ok = False
                    if not ok:
                        problems.append(Problem(row.seq, msg(key)))
                prev, expected = row.entry_hash, row.seq + 1
        return count, prev, problems

