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
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from .docparse import parse_json_document, parse_yaml_document
from .errors import FatalError, RecordWarning
from .limits import DEFAULT_LIMITS, Limits, check_input, limit_error
from .records import RECORD_TYPES, SHEET_ALIASES, Dataset, UnreadableRow, validate_rows

__all__ = ["load_dataset", "read_raw"]

RawRows = dict[str, list[dict[str, Any]]]


def load_dataset(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> Dataset:
    """Load and validate the dataset at ``path`` (file or CSV directory), within ``limits``."""
    raw, warnings = read_raw(path, limits)
    return validate_rows(raw, warnings)


def read_raw(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> tuple[RawRows, list[RecordWarning]]:
    """Read the raw rows of every record type, choosing the reader from the path; input over a limit is refused."""
    p = Path(path)
    if not p.exists():
        raise FatalError(f"{p}: no such file or directory")
    check_input(p, limits)
    if p.is_dir():
        return _read_csv_dir(p)
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(p, limits)
    if suffix == ".csv":
        return _read_csv_dir(p.parent, only=p)
    if suffix in (".json", ".yaml", ".yml"):
        return _read_document(p, suffix, limits)
    raise FatalError(f"{p}: unknown dataset format {suffix or '(no extension)'}; expected .json, .yaml, .xlsx or a directory of CSV files")


def _record_type(name: str) -> str | None:
    name = name.strip()
    if name in RECORD_TYPES:
        return name
    return SHEET_ALIASES.get(name)


def _unknown_type_warning(name: str, where: str) -> RecordWarning:
    close = difflib.get_close_matches(name, list(RECORD_TYPES), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return RecordWarning(f"{where} {name!r} is not a record type and is ignored{hint}", name, None, None, None,
                         close[0] if close else None)


def _read_text(p: Path) -> str:
    try:
        return p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FatalError(f"{p}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except OSError as exc:
        raise FatalError(f"{p}: cannot be read ({exc.strerror})") from None


def _read_document(p: Path, suffix: str, limits: Limits = DEFAULT_LIMITS) -> tuple[RawRows, list[RecordWarning]]:
    text = _read_text(p)
    try:
        if suffix == ".json":
            doc = parse_json_document(text, limits)  # exact numbers; a record nested too deep is rejected alone
        else:
            doc = parse_yaml_document(text, str(p), limits)  # scalars as written; aliases and nesting bounded
    except json.JSONDecodeError as exc:
        raise FatalError(f"{p}:{exc.lineno}:{exc.colno}: malformed JSON: {exc.msg}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{p}:{mark.line + 1}:{mark.column + 1}" if mark else str(p)
        problem = getattr(exc, "problem", None) or "malformed YAML"
        raise FatalError(f"{where}: malformed YAML: {problem}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise FatalError(f"{p}: expected an object whose keys are record types, found {type(doc).__name__}")
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
            raise FatalError(f"{p}: {key!r} must be a list of objects")
        raw.setdefault(record_type, []).extend(r if isinstance(r, UnreadableRow) else {str(k): v for k, v in r.items()}
                                               for r in rows)
    return raw, warnings


def _read_csv_dir(d: Path, only: Path | None = None) -> tuple[RawRows, list[RecordWarning]]:
    raw: RawRows = {}
    warnings: list[RecordWarning] = []
    files = [only] if only else sorted(d.glob("*.csv"))
    if not files:
        raise FatalError(f"{d}: no CSV files (expected files named <record type>.csv, e.g. enterprises.csv)")
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
            raise FatalError(f"{f}: malformed CSV: {exc}") from None
        raw.setdefault(record_type, []).extend(rows)
    return raw, warnings


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date()
    return value


# what openpyxl raises for a damaged workbook: zip and inflate errors, malformed XML (a SyntaxError), bad values
_XLSX_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, KeyError, OSError, ValueError, TypeError, AttributeError,
                IndexError, SyntaxError)


def _read_xlsx(p: Path, limits: Limits = DEFAULT_LIMITS) -> tuple[RawRows, list[RecordWarning]]:
    import openpyxl  # imported here: only workbooks need it

    try:
        wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
    except _XLSX_ERRORS as exc:
        raise FatalError(f"{p}: not a readable XLSX workbook ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    raw: RawRows = {}
    warnings: list[RecordWarning] = []
    cells_read = 0
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
                cells_read += max(1, len(cells))  # a forged sheet dimension pads every row: bounded here
                if cells_read > limits.xlsx_cells:
                    raise limit_error(f"{p} [{ws.title}]", "xlsx_cells", limits)
                if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
                    continue
                rows.append({n: _cell(cells[i]) if i < len(cells) else None for i, n in enumerate(names) if n})
            raw.setdefault(record_type, []).extend(rows)
    except _XLSX_ERRORS as exc:  # a broken part found while reading a sheet (malformed XML, a bad cell)
        raise FatalError(f"{p}: not a readable XLSX workbook ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    finally:
        wb.close()
    return raw, warnings
