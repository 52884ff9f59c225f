"""Read a dataset from a JSON or YAML document, a directory of CSV files or an XLSX workbook.

Every loader returns raw rows per record type (strings, numbers, dates exactly as read) plus loader-level
warnings; :func:`load_dataset` validates them with :func:`engine.records.validate_rows`. A file that cannot be
read at all raises :class:`FatalError` with a one-line message.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
import json
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from .errors import FatalError, RecordWarning
from .messages import msg
from .records import RECORD_TYPES, SHEET_ALIASES, Dataset, validate_rows

__all__ = ["load_dataset", "read_raw"]

RawRows = dict[str, list[dict[str, Any]]]


def load_dataset(path: str | Path) -> Dataset:
    """Load and validate the dataset at ``path`` (file or CSV directory)."""
    raw, warnings = read_raw(path)
    return validate_rows(raw, warnings)


def read_raw(path: str | Path) -> tuple[RawRows, list[RecordWarning]]:
    """Read the raw rows of every record type, choosing the reader from the path."""
    p = Path(path)
    if not p.exists():
        raise FatalError(msg("file.not_found", path=p))
    if p.is_dir():
        return _read_csv_dir(p)
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(p)
    if suffix == ".csv":
        return _read_csv_dir(p.parent, only=p)
    if suffix in (".json", ".yaml", ".yml"):
        return _read_document(p, suffix)
    raise FatalError(msg("file.unknown_format", path=p, suffix=suffix or msg("word.no_extension")))


def _record_type(name: str) -> str | None:
    name = name.strip()
    if name in RECORD_TYPES:
        return name
    return SHEET_ALIASES.get(name)


def _unknown_type_warning(name: str, where: str) -> RecordWarning:
    close = difflib.get_close_matches(name, list(RECORD_TYPES), n=1, cutoff=0.6)
    hint = msg("hint.did_you_mean", name=close[0]) if close else ""
    return RecordWarning(msg("loader.unknown_type", where=msg(f"word.{where}"), name=name, hint=hint), name, None, None, None,
                         close[0] if close else None)


def _read_text(p: Path) -> str:
    try:
        return p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FatalError(msg("file.not_utf8", path=p, byte=exc.start, reason=exc.reason)) from None
    except OSError as exc:
        raise FatalError(msg("file.unreadable", path=p, reason=exc.strerror)) from None


def _read_document(p: Path, suffix: str) -> tuple[RawRows, list[RecordWarning]]:
    text = _read_text(p)
    try:
        if suffix == ".json":
            doc = json.loads(text, parse_float=Decimal)
        else:
            doc = yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise FatalError(msg("file.bad_json", where=f"{p}:{exc.lineno}:{exc.colno}", problem=exc.msg)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{p}:{mark.line + 1}:{mark.column + 1}" if mark else str(p)
        problem = getattr(exc, "problem", None) or "malformed YAML"
        raise FatalError(msg("file.bad_yaml", where=where, problem=problem)) from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise FatalError(msg("file.not_object", path=p, found=type(doc).__name__))
    raw: RawRows = {}
    warnings: list[RecordWarning] = []
    for key, rows in doc.items():
        record_type = _record_type(str(key))
        if record_type is None:
            warnings.append(_unknown_type_warning(str(key), "key"))
            continue
        if rows is None:
            rows = []
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise FatalError(msg("file.not_list", path=p, key=key))
        raw.setdefault(record_type, []).extend({str(k): v for k, v in r.items()} for r in rows)
    return raw, warnings


def _read_csv_dir(d: Path, only: Path | None = None) -> tuple[RawRows, list[RecordWarning]]:
    raw: RawRows = {}
    warnings: list[RecordWarning] = []
    files = [only] if only else sorted(d.glob("*.csv"))
    if not files:
        raise FatalError(msg("file.no_csv", path=d))
    for f in files:
        record_type = _record_type(f.stem)
        if record_type is None:
            warnings.append(_unknown_type_warning(f.stem, "file"))
            continue
        text = _read_text(f)
        try:
            reader = csv.reader(io.StringIO(text, newline=""))
            header = next(reader, None)
            rows = []
            for cells in reader:
                if not any(c.strip() for c in cells):
                    continue
                if header is None:
                    break
                row = {h.strip(): (cells[i] if i < len(cells) else None) for i, h in enumerate(header) if h.strip()}
                if len(cells) > len(header):
                    row["(extra columns)"] = ",".join(cells[len(header):])
                rows.append(row)
        except csv.Error as exc:
            raise FatalError(msg("file.bad_csv", path=f, problem=exc)) from None
        raw.setdefault(record_type, []).extend(rows)
    return raw, warnings


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date()
    return value


def _read_xlsx(p: Path) -> tuple[RawRows, list[RecordWarning]]:
    import openpyxl  # imported here: only workbooks need it

    try:
        wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise FatalError(msg("file.bad_xlsx", path=p, problem=f"{type(exc).__name__}: {exc}")) from None
    raw: RawRows = {}
    warnings: list[RecordWarning] = []
    try:
        for ws in wb.worksheets:
            record_type = _record_type(ws.title)
            if record_type is None:
                warnings.append(_unknown_type_warning(ws.title, "sheet"))
                continue
            it = ws.iter_rows(values_only=True)
            header = next(it, None)
            if header is None:
                continue
            names = [str(h).strip() if h is not None else "" for h in header]
            rows = []
            for cells in it:
                if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
                    continue
                rows.append({n: _cell(cells[i]) if i < len(cells) else None for i, n in enumerate(names) if n})
            raw.setdefault(record_type, []).extend(rows)
    finally:
        wb.close()
    return raw, warnings
