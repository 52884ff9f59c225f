"""Checks as the service runs them: uploaded bytes → dataset → decision document, through ``engine.run.Checker``.

An upload is written to a private temporary directory under its own (sanitised) file name and read by the same
loader the CLI uses, so its errors and warnings are exactly the CLI's; messages name the file as the user sent
it, never the server's temporary path. A zip is a CSV export: its ``*.csv`` members are extracted by base name
with the total size bounded (a zip bomb stops at ``max_unzipped_bytes``). Large uploads run as jobs: a small
in-process table of background threads, each with a stage the client can poll (jobs live in the worker that
took the upload; their results are in the decision log, which every worker shares).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
import threading
import uuid
import zipfile
from contextlib import contextmanager
import zlib
from dataclasses import dataclass, field
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from engine.errors import FatalError, RecordWarning
from engine.messages import Message, msg
from engine.data.records import Dataset
from engine.run import Checker, CheckResult

__all__ = ["DATASET_SUFFIXES", "Upload", "spooled", "read_upload", "run_check", "Job", "Jobs", "safe_name"]

DATASET_SUFFIXES = (".json", ".yaml", ".yml", ".xlsx", ".xlsm", ".csv", ".zip")
MAX_ZIP_MEMBERS = 200


@dataclass(frozen=True)
class Upload:
    """A dataset as it arrived: the name the user gave it and its bytes."""

    name: str
    data: bytes


def safe_name(name: str, default: str = "dataset.json") -> str:
    """A file name safe to create: the last path component, printable, at most 120 characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).strip().lstrip(".")
    return base[-120:] or default


def _extract_zip(data: bytes, target: Path, limit: int) -> list[RecordWarning]:
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise FatalError(msg("serve.zip_unreadable", error=str(exc))) from None
    warnings: list[RecordWarning] = []
    seen: set[str] = set()
    total = 0
    members = [m for m in archive.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX/")]
    if len(members) > MAX_ZIP_MEMBERS:
        raise FatalError(msg("serve.zip_too_many", count=len(members), limit=MAX_ZIP_MEMBERS))
    target.mkdir()
    for member in members:
        name = safe_name(member.filename, "")
        if not name.lower().endswith(".csv"):
            warnings.append(RecordWarning(msg("serve.zip_not_csv", name=member.filename),
                                          member.filename))
            continue
        if name in seen:
            raise FatalError(msg("serve.zip_duplicate", name=name))
        seen.add(name)
        try:
            with archive.open(member) as src, open(target / name, "wb") as out:
                while chunk := src.read(1 << 20):
                    total += len(chunk)
                    if total > limit:
                        raise FatalError(msg("serve.zip_too_large", mib=limit // (1 << 20)))
                    out.write(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
            raise FatalError(msg("serve.zip_member", name=member.filename, error=str(exc))) from None
    if not seen:
        raise FatalError(msg("serve.zip_no_csv"))
    return warnings


def _spool_dir() -> str | None:
    """Where uploads are spooled: ``/dev/shm`` (memory, cheap to create and remove) when usable, else the default."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


def _without(text: Any, prefix: str) -> Any:
    """A message (or its parameters, for a catalogue Message) with ``prefix`` removed wherever it appears."""
    if isinstance(text, Message):
        return Message(text.key, {k: _without(v, prefix) for k, v in text.params.items()})
    return text.replace(prefix, "") if isinstance(text, str) else text


@contextmanager
def spooled(upload: Upload, max_unzipped_bytes: int) -> Iterator[tuple[Path, list[RecordWarning]]]:
    """The upload as a file (or, for a zip, a folder of CSV files) under its own name in a private temporary
    directory, with the warnings unpacking gave; removed afterwards. A :class:`FatalError` raised while it is
    in use names the user's file, never the server's temporary path."""
    name = safe_name(upload.name)
    suffix = Path(name).suffix.lower()
    if suffix not in DATASET_SUFFIXES:
        raise FatalError(msg("serve.unknown_format", name=name, suffix=suffix or "(no extension)"))
    with tempfile.TemporaryDirectory(prefix="chanjiao-upload-", dir=_spool_dir()) as tmp:
        root = Path(tmp)
        try:
            extra: list[RecordWarning] = []
            if suffix == ".zip":
                path = root / Path(name).stem
                extra = _extract_zip(upload.data, path, max_unzipped_bytes)
            else:
                path = root / name
                path.write_bytes(upload.data)
            yield path, extra
        except FatalError as exc:  # name the user's file, never the server's temporary path
            raise FatalError(_without(exc.args[0] if exc.args else str(exc), str(root) + "/")) from None


def read_upload(checker: Checker, upload: Upload, max_unzipped_bytes: int) -> Dataset:
    """The validated dataset in ``upload``; :class:`FatalError` (messages naming the user's file) if unreadable."""
    with spooled(upload, max_unzipped_bytes) as (path, extra):
        ds = checker.load(path)
    ds.warnings.extend(extra)
    return ds


def run_check(checker: Checker, dataset: Dataset, *, as_of: dt.date, params: Mapping[str, Decimal],
              engine: str) -> CheckResult:
    """The check of an already-read dataset (``Checker.check``); FatalError if nothing could be evaluated."""
    return checker.check(dataset, as_of=as_of, params=params, engine=engine)


# ---------------------------------------------------------------------------------------------------------- jobs

STAGES = {"queued": 0.0, "reading": 0.1, "deciding": 0.4, "logging": 0.9, "done": 1.0, "failed": 1.0}
STAGE_LABELS = {"queued": "排队中", "reading": "正在读取数据", "deciding": "正在判定", "logging": "正在写入日志",
                "done": "已完成", "failed": "失败"}


@dataclass
class Job:
    """A background check: its stage, the log entry it produced, or the one-line error that stopped it."""

    id: str
    owner: str
    input_name: str
    created_at: str
    stage: str = "queued"
    check_id: int | None = None
    error: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The job as the API shows it."""
        return {"id": self.id, "input_name": self.input_name, "created_at": self.created_at, "stage": self.stage,
                "stage_label": STAGE_LABELS[self.stage], "progress": STAGES[self.stage], "check_id": self.check_id,
                "error": self.error, "done": self.stage in ("done", "failed")}


class Jobs:
    """The in-process job table: at most ``keep`` jobs remembered, each run on its own daemon thread."""

    def __init__(self, keep: int = 200):
        self.keep = keep
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, owner: str, input_name: str, work: Callable[[Job], None]) -> Job:
        """Register a job and run ``work(job)`` on a thread; ``work`` sets the stage and the check id."""
        job = Job(uuid.uuid4().hex, owner, input_name, dt.datetime.now(dt.timezone.utc).isoformat())
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > self.keep:
                oldest = next(iter(self._jobs))
                if self._jobs[oldest].stage not in ("done", "failed"):
                    break
                del self._jobs[oldest]

        def run() -> None:
            try:
                work(job)
                job.stage = "done"
            except FatalError as exc:
                job.error, job.stage = str(exc), "failed"
            except Exception as exc:  # noqa: BLE001 - a job's failure is its state, never a dead thread
                job.error, job.stage = f"internal error: {type(exc).__name__}", "failed"

        threading.Thread(target=run, name=f"chanjiao-job-{job.id[:8]}", daemon=True).start()
        return job

    def get(self, job_id: str) -> Job | None:
        """The job with this id, or None."""
        with self._lock:
            return self._jobs.get(job_id)
