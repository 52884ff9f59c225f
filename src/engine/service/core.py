"""The service's one object: settings, the checker (packs loaded once), the database, accounts, log and jobs.

Routers (``api``, ``pages``) are thin layers over :class:`Service`; so is the ``chanjiao users``/``audit`` CLI.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import sqlalchemy as sa

from engine.errors import FatalError
from engine.output.explain import trace_to_dict
from engine.policy.packs import Pack
from engine.output.render import write_xlsx
from engine.output.terms import AMOUNT_KEYS
from engine.run import AUTO_THRESHOLD_BYTES, Checker, CheckResult
from engine.run.annotate import parameters_in_force
from engine.service.audit import DecisionLog, LogEntry, document_bytes
from engine.service.auth import Accounts, User
from engine.service.checking import Job, Jobs, Upload, read_upload, spooled
from engine.service.db import make_engine, migrate, saved_assessments, writing
from engine.service.settings import Settings

def parse_period(text: str) -> Any:
    """A tax year (2021) or quarter (2021Q3) for ``Checker.check(period=…)``; FatalError when not one, or when
    this engine has no periods yet."""
    try:
        from engine.run.periods import parse_period as parse
    except ImportError:
        raise FatalError("期间（period）在此版本中尚不可用") from None
    return parse(text)


try:  # the report's context (names, facts, input digests), where the XLSX report module provides it
    from engine.output.report_context import report_context
except ImportError:  # an engine whose XLSX report takes the document alone
    report_context = None  # type: ignore[assignment]

__all__ = ["Service", "Checked", "CheckFailed", "replay_differences", "report_xlsx", "visible_roles", "public_trace"]

COMPARED = ("status", *AMOUNT_KEYS, "missing_facts", "reasons", "citation")


def visible_roles(user: User) -> list[str] | None:
    """The roles whose logged checks ``user`` may see: an administrator sees all (None), an officer their role's."""
    return None if user.role == "admin" else [user.role]


def report_xlsx(document: dict[str, Any], *, checker: Checker | None = None, upload: Upload | None = None,
                as_of: dt.date | None = None, max_unzipped_bytes: int = 1 << 30) -> bytes:
    """The XLSX report of a decision document: the workbook ``chanjiao check --format xlsx`` writes. Given the
    input it was made from, the report carries what the CLI's does about it (names, facts, the input's digests)."""
    with tempfile.TemporaryDirectory(prefix="chanjiao-report-") as tmp:
        path = Path(tmp) / "report.xlsx"
        if report_context is not None and checker is not None and upload is not None and as_of is not None:
            with spooled(upload, max_unzipped_bytes) as (source, _extra):
                context = report_context(checker.load(source), checker.packs, as_of, source)
                write_xlsx(document, path, context=context)
        else:
            write_xlsx(document, path)
        return path.read_bytes()


def public_trace(trace: Any, packs: Sequence[Pack]) -> dict[str, Any]:
    """``trace_to_dict`` with rule file places relative to the packs' folder (no server paths)."""
    out = trace_to_dict(trace)
    roots = sorted({str(p.directory.parent) + "/" for p in packs}, key=len, reverse=True)

    def rel(text: Any) -> Any:
        if isinstance(text, str):
            for root in roots:
                if text.startswith(root):
                    return text[len(root):]
        return text

    out["rule_file"] = rel(out.get("rule_file"))
    for step in out.get("steps", []):
        if "where" in step:
            step["where"] = rel(step["where"])
    return out


def replay_differences(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What changed between a logged document and its replay: packs, and decisions added, removed or changed."""
    def key(d: dict[str, Any]) -> tuple[str, str, str]:
        return (d["rule_id"], d["subject_type"], d["subject_id"])

    before = {key(d): d for d in old.get("decisions", [])}
    after = {key(d): d for d in new.get("decisions", [])}
    changed = []
    for k in sorted(before.keys() & after.keys()):
        fields = {f: {"before": before[k].get(f), "after": after[k].get(f)} for f in COMPARED
                  if before[k].get(f) != after[k].get(f)}
        if fields:
            changed.append({"rule_id": k[0], "subject_type": k[1], "subject_id": k[2], "changes": fields})
    packs_before = {p["id"]: p for p in old.get("rule_packs", [])}
    packs_after = {p["id"]: p for p in new.get("rule_packs", [])}
    packs = [{"id": pid, "before": packs_before.get(pid), "after": packs_after.get(pid)}
             for pid in sorted(packs_before.keys() | packs_after.keys()) if packs_before.get(pid) != packs_after.get(pid)]
    return {
        "packs": packs,
        "added": [after[k] for k in sorted(after.keys() - before.keys())],
        "removed": [before[k] for k in sorted(before.keys() - after.keys())],
        "changed": changed,
        "unchanged": sum(1 for k in before.keys() & after.keys() if before[k] == after[k]),
        "same": not packs and before == after,
    }


class CheckFailed(FatalError):
    """Nothing could be evaluated, with the dataset's errors and warnings as the CLI reports them."""

    def __init__(self, message: str, errors: list[dict[str, Any]], warnings: list[dict[str, Any]]):
        super().__init__(message)
        self.errors = errors
        self.warnings = warnings


@dataclass
class Checked:
    """A check the service ran: the result, the log entry when an officer ran it, and the document as the log
    stored it (``document_bytes(result.document)``, made once: the answer in Chinese reuses these bytes)."""

    result: CheckResult
    entry: LogEntry | None
    document_json: bytes | None = None


class Service:
    """Everything one server process holds; create one per app (no global state)."""

    def __init__(self, settings: Settings, checker: Checker | None = None):
        self.settings = settings
        self.checker = checker or Checker(list(settings.rules))
        self.checker.choose_engine(settings.engine)  # an unknown engine is a FatalError at start, not per request
        self.checker.require_engine(settings.engine)
        self.db = make_engine(settings.url())
        migrate(self.db)
        self.accounts = Accounts(self.db, settings.session_hours)
        self.log = DecisionLog(self.db)
        self.jobs = Jobs()

    def close(self) -> None:
        """Release the database connections."""
        self.db.dispose()

    # -- checks ------------------------------------------------------------------------------------------------

    def check(self, upload: Upload, *, as_of: dt.date, params: Sequence[str] = (), user: User | None = None,
              kind: str = "check", meta_extra: dict[str, Any] | None = None, job: Job | None = None,
              lang: str = "zh", period: str | None = None) -> Checked:
        """Read and check an upload; an officer's check is appended to the decision log (in Chinese: the log
        keeps one language; ``lang`` is the language of the answer)."""
        overrides = self.checker.overrides(list(params))
        extra: dict[str, Any] = {"period": parse_period(period)} if period else {}
        if job:
            job.stage = "reading"
        ds = read_upload(self.checker, upload, self.settings.max_unzipped_bytes)
        if job:
            job.stage = "deciding"
        try:
            result = self.checker.check(ds, as_of=as_of, params=overrides, engine=self.engine_for(len(upload.data)),
                                        lang=lang, **extra)
        except FatalError as exc:  # nothing could be evaluated: say why, with the records' errors and warnings
            raise CheckFailed(str(exc), [e.as_dict() for e in ds.errors], [w.as_dict() for w in ds.warnings]) from None
        if user is None:
            return Checked(result, None)
        if job:
            job.stage = "logging"
        doc = result.document
        meta = {
            "as_of": as_of.isoformat(),
            "period": doc.get("period"),
            "engine": result.engine,
            "notes": result.notes,
            "params": list(params),
            "period_text": period,
            "packs": [{**p, "issued_on": _pack(self.checker.packs, p["id"]), "version": p.get("digest")}
                      for p in doc.get("rule_packs", [])],
            "parameters": doc.get("parameters") or parameters_in_force(self.checker.packs, as_of, overrides),
            "exit_code": result.exit_code,
            "records_rejected": len(ds.errors),
            "decisions": len(doc.get("decisions", [])),
            **(meta_extra or {}),
        }
        doc_json = document_bytes(doc)
        entry = self.log.append(kind=kind, username=user.username, role=user.role, input_name=upload.name,
                                input_bytes=upload.data, meta=meta, document=doc, document_json=doc_json)
        if job:
            job.check_id = entry.seq
        return Checked(result, entry, doc_json)

    def report(self, entry: LogEntry) -> bytes:
        """The XLSX report of a logged check (its recorded document, made with its recorded input)."""
        upload = Upload(entry.input_name, self.log.input_of(entry.seq))
        return report_xlsx(self.log.document_of(entry.seq), checker=self.checker, upload=upload,
                           as_of=dt.date.fromisoformat(entry.meta["as_of"]),
                           max_unzipped_bytes=self.settings.max_unzipped_bytes)

    def report_for(self, checked: Checked, upload: Upload, as_of: dt.date) -> bytes:
        """The XLSX report of a check just made (nothing stored)."""
        return report_xlsx(checked.result.document, checker=self.checker, upload=upload, as_of=as_of,
                           max_unzipped_bytes=self.settings.max_unzipped_bytes)

    def engine_for(self, size: int) -> str:
        """The engine for an input of ``size`` bytes. The service's ``auto``: the reference evaluator below
        ``AUTO_THRESHOLD_BYTES``, the vectorised backend above. (The CLI's ``auto`` takes durable-rules for small
        inputs, which runs in a forked child per check — some 50 ms — because its C engine can crash; the documents
        are identical, so a server answering many small checks uses the definition itself, under a millisecond.)"""
        if self.settings.engine != "auto":
            return self.settings.engine
        return "vectorised" if size > AUTO_THRESHOLD_BYTES else "reference"

    def start_job(self, upload: Upload, *, as_of: dt.date, params: Sequence[str], user: User,
                  period: str | None = None) -> Job:
        """Run an officer's check in the background; poll ``jobs.get(id)``. Parameters are checked first."""
        self.checker.overrides(list(params))
        if period:
            parse_period(period)
        return self.jobs.start(user.username, upload.name,
                               lambda job: self.check(upload, as_of=as_of, params=params, user=user, job=job,
                                                      period=period) and None)

    def entry_for(self, seq: int, user: User) -> LogEntry | None:
        """A logged check the user may see, or None (absent or another role's)."""
        if not 1 <= seq <= 2**53:
            return None
        entry = self.log.get(seq)
        roles = visible_roles(user)
        if entry is None or (roles is not None and entry.role not in roles):
            return None
        return entry

    def explain(self, entry: LogEntry, rule_id: str, subject_id: str) -> dict[str, Any]:
        """The trace of one decision of a logged check, on its recorded input, date and parameters."""
        upload = Upload(entry.input_name, self.log.input_of(entry.seq))
        ds = read_upload(self.checker, upload, self.settings.max_unzipped_bytes)
        trace = self.checker.explain(ds, rule_id, subject_id, as_of=dt.date.fromisoformat(entry.meta["as_of"]),
                                     params=self.checker.overrides(entry.meta.get("params", [])))
        return public_trace(trace, self.checker.packs)

    def replay(self, entry: LogEntry, user: User) -> tuple[Checked, dict[str, Any]]:
        """Re-run a logged check under today's packs (same input, as_of and parameters); logged as a replay."""
        upload = Upload(entry.input_name, self.log.input_of(entry.seq))
        as_of = dt.date.fromisoformat(entry.meta["as_of"])
        checked = self.check(upload, as_of=as_of, params=entry.meta.get("params", []), user=user, kind="replay",
                             meta_extra={"replay_of": entry.seq}, period=entry.meta.get("period_text"))
        return checked, replay_differences(self.log.document_of(entry.seq), checked.result.document)


    # -- saved self-assessments -----------------------------------------------------------------------------------

    def save_assessment(self, facts: dict[str, str]) -> str:
        """Keep an enterprise's entered facts (it chose to save); returns the unguessable token of its link."""
        token = secrets.token_urlsafe(24)
        with writing(self.db).begin() as conn:
            conn.execute(saved_assessments.insert().values(
                id_hash=hashlib.sha256(token.encode()).hexdigest(),
                created_at=dt.datetime.now(dt.timezone.utc).isoformat(), facts=json.dumps(facts, ensure_ascii=False)))
        return token

    def saved_assessment(self, token: str) -> dict[str, str] | None:
        """The facts saved under ``token``, or None."""
        with self.db.connect() as conn:
            text = conn.execute(sa.select(saved_assessments.c.facts).where(
                saved_assessments.c.id_hash == hashlib.sha256(token.encode()).hexdigest())).scalar()
        return json.loads(text) if text else None


def _pack(packs: Sequence[Pack], pack_id: str) -> str | None:
    for p in packs:
        if p.id == pack_id:
            return p.issued_on.isoformat()
    return None

