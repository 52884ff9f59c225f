"""Read a dataset from a JSON or YAML document, a directory of CSV or Parquet files or an XLSX workbook.

Every reader returns raw rows per record type (strings, numbers, dates exactly as read), the loader's own errors
and warnings, and for each record type its :class:`Source` — where each row is, as the user sees it (sheet and
cell ``校企合作协议!C7``, file and physical line ``企业.csv:7``). :func:`load_dataset` validates the rows with
:func:`engine.data.records.validate_rows` and names the place of every error and warning. A file that cannot be read
at all raises :class:`FatalError` with a one-line message.

People's files are read as they keep them: sheet, file, key and column names in Chinese or English (the field
vocabulary, :mod:`engine.data.vocabulary`); the header row found below title rows (or named by ``header_row``);
CSV files in UTF-8 (with or without BOM) or, with a warning, GBK/GB18030 as Excel's "CSV（逗号分隔）" saves them.
Nothing is ignored silently: a sheet, file or key that holds data but names no record type, two sources for one
record type and a duplicate key are errors listing what was not read.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
import itertools
import json
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import yaml

from engine.data.docparse import json_number, limited_yaml_loader, too_deep_reason, yaml_plain, json_value_end
from engine.errors import FatalError, RecordError, RecordWarning
from engine.data.limits import DEFAULT_LIMITS, Limits, check_input, limit_error
from engine.messages import msg
from engine.data.records import RECORD_TYPES, ROW_PROBLEM, Dataset, UnreadableRow, field_kinds, validate_rows
from engine.data.vocabulary import field_for, normalise, record_type_for, record_type_info

__all__ = ["load_dataset", "read_raw", "read_input", "RawInput", "Source", "locate", "record_type_of",
           "unknown_source_error", "two_sources_error", "header_fields", "find_header", "decode_text",
           "sniff_encoding", "is_info_sheet", "encoding_warning", "HEADER_SCAN_ROWS", "FileLayout", "ReadStats",
           "plan_csv", "layout_columns", "invalid_row_counter", "csv_places", "parquet_text_columns", "plan_files",
           "FilePlan", "encoding_of", "SNIFF_BYTES"]

RawRows = dict[str, list[dict[str, Any]]]
HEADER_SCAN_ROWS = 20
"""How many rows from the top are searched for the header row (title rows above it are skipped)."""
_INFO_SHEETS = ("说明", "填写说明", "填表说明", "使用说明", "字段说明", "instructions", "readme", "notes", "说明与示例")


@dataclass
class Source:
    """Where one record type's rows came from: a sheet, a CSV or Parquet file, or a key of a JSON/YAML document.

    ``lines[i]`` is the physical line (CSV, JSON, YAML), spreadsheet row (sheet) or row (Parquet) of record row
    ``i + 1``; ``None`` means the rows follow the header line by line (``first_line`` is row 1's line) — the
    streamed reader finds the exceptions only when a problem needs its place. ``columns`` maps a field (or a header
    as typed) to its spreadsheet column letters.
    """

    record_type: str
    name: str
    kind: str  # "sheet", "csv", "parquet", "json", "yaml"
    lines: list[int] | None = None
    first_line: int = 2
    columns: dict[str, str] = field(default_factory=dict)

    def line_of(self, row: int) -> int:
        """The physical line (or spreadsheet row) of a 1-based record row."""
        if self.lines is not None and 0 < row <= len(self.lines):
            return self.lines[row - 1]
        return self.first_line + row - 1

    def place(self, row: int | None, field_name: str | None = None) -> str:
        """The place as the user sees it: ``校企合作协议!C7``, ``企业.csv:7``, ``data.json:12``."""
        if not row:
            return _sheet_ref(self.name) if self.kind == "sheet" else self.name
        line = self.line_of(row)
        if self.kind == "sheet":
            col = self.columns.get(field_name or "")
            return f"{_sheet_ref(self.name)}!{col}{line}" if col else f"{_sheet_ref(self.name)}!{line}:{line}"
        return f"{self.name}:{line}"


def _sheet_ref(name: str) -> str:
    """A sheet name as a formula writes it: quoted when it holds anything but letters, digits and _."""
    return name if all(c.isalnum() or c == "_" for c in name) else "'" + name.replace("'", "''") + "'"


def _letters(index: int) -> str:
    """Spreadsheet column letters of a 0-based column index (0 → A, 26 → AA)."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def locate(problems: Iterable[Any], sources: dict[str, Source]) -> list[Any]:
    """The problems with ``place`` filled from their record type's source (those already placed are kept)."""
    out = []
    for p in problems:
        src = sources.get(getattr(p, "record_type", "") or "")
        if src is not None and getattr(p, "place", "") is None:
            p = replace(p, place=src.place(p.row, p.field))
        out.append(p)
    return out


@dataclass
class RawInput:
    """What a reader read: raw rows per record type, its own errors and warnings, and each type's source."""

    raw: RawRows = field(default_factory=dict)
    errors: list[RecordError] = field(default_factory=list)
    warnings: list[RecordWarning] = field(default_factory=list)
    sources: dict[str, Source] = field(default_factory=dict)

    def add(self, record_type: str, rows: list[dict[str, Any]], source: Source, holds: str,
            place: str | None = None) -> None:
        """Take one source's rows, unless the record type already has a source (then it is an error)."""
        first = self.sources.get(record_type)
        if first is not None:
            if rows:
                self.errors.append(two_sources_error(record_type, first.name, source, len(rows), holds, place))
            return
        self.raw[record_type] = rows
        self.sources[record_type] = source


def load_dataset(path: str | Path, header_row: int | None = None, limits: Limits = DEFAULT_LIMITS) -> Dataset:
    """Load and validate the dataset at ``path`` (file or directory); every problem names its place.

    ``header_row`` (1-based) names the header row of every sheet or CSV file; by default it is found. Input over
    one of ``limits`` is refused in one line (engine.data.limits).
    """
    got = read_input(path, header_row, limits)
    ds = validate_rows(got.raw, got.warnings)
    order = {t: i for i, t in enumerate(RECORD_TYPES)}  # as the streamed check sorts them
    ds.errors = sorted(got.errors + locate(ds.errors, got.sources),
                       key=lambda e: (order.get(e.record_type, -1), e.row or 0))
    ds.warnings = locate(ds.warnings, got.sources)
    return ds


def read_raw(path: str | Path, header_row: int | None = None,
             limits: Limits = DEFAULT_LIMITS) -> tuple[RawRows, list[RecordWarning]]:
    """Read the raw rows of every record type and the loader's warnings (see :func:`read_input`)."""
    got = read_input(path, header_row, limits)
    return got.raw, got.warnings


def read_input(path: str | Path, header_row: int | None = None, limits: Limits = DEFAULT_LIMITS) -> RawInput:
    """Read a dataset's raw rows, choosing the reader from the path; FatalError when nothing can be read, or
    when the input is over one of ``limits`` or not a regular file (a FIFO, a device)."""
    p = Path(path)
    if not p.exists():
        raise FatalError(msg("file.not_found", path=p))
    check_input(p, limits)
    if p.is_dir():
        return _read_dir(p, header_row)
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(p, header_row, limits)
    if suffix == ".csv":
        return _read_dir(p.parent, header_row, only=p)
    if suffix == ".parquet":
        return _read_dir(p.parent, header_row, only=p)
    if suffix in (".json", ".yaml", ".yml"):
        return _read_document(p, suffix, limits)
    raise FatalError(msg("file.unknown_format", path=p, suffix=suffix or msg("word.no_extension")))


# --- names -------------------------------------------------------------------------------------------------


def record_type_of(name: str) -> str | None:
    """The record type a sheet, file (without extension) or key names, in English or Chinese; None if none."""
    return record_type_for(name.strip())


def is_info_sheet(name: str) -> bool:
    """A sheet of instructions (说明, 填写说明, Instructions …), which holds no records and is read silently."""
    key = normalise(name)
    return any(key == normalise(s) for s in _INFO_SHEETS) or key.endswith("说明")


def _did_you_mean(name: str) -> str | None:
    """The record type a misspelt name is closest to, among every English and Chinese spelling."""
    spellings: dict[str, str] = {}
    for rtype in RECORD_TYPES:
        info = record_type_info(rtype)
        for s in (rtype, info.label_zh, info.label_en, *info.aliases):
            spellings.setdefault(normalise(s), rtype)
    close = difflib.get_close_matches(normalise(name), list(spellings), n=1, cutoff=0.6)
    return spellings[close[0]] if close else None


def _type_of_columns(columns: Iterable[Any]) -> str | None:
    """The record type whose fields the most of ``columns`` name (at least two, and more than any other type)."""
    names = [str(c) for c in columns if c is not None]
    scores = sorted(((sum(1 for c in names if field_for(t, c)), t) for t in RECORD_TYPES), reverse=True)
    (best, rtype), (second, _) = scores[0], scores[1]
    return rtype if best >= 2 and best > second else None


def unknown_source_error(name: str, what: str, place: str, rows: int, span: str = "",
                         columns: Iterable[Any] = ()) -> RecordError:
    """The error for a sheet, file or key that holds ``rows`` rows of data but names no record type (``columns``:
    its header, which tells the type when the name does not)."""
    guess = _did_you_mean(name) or _type_of_columns(columns)
    hint = msg("loader.hint_type", label=record_type_info(guess).label_zh, type=guess) if guess else \
        msg("loader.hint_types", names="、".join(record_type_info(t).label_zh + "/" + t for t in RECORD_TYPES))
    text = msg("loader.unknown_source", what=msg(f"word.{what}"), name=name, rows=rows, span=span, hint=hint)
    if guess:  # most likely that type's rows, misspelt: unread rows of it (unknown, not absent), like a second source
        return RecordError(text, guess, None, None, None, None, place, readable=())  # type: ignore[arg-type]
    return RecordError(text, name, None, None, None, None, place)  # type: ignore[arg-type]


def unread_files(d: Path) -> list[RecordError]:
    """Files of a dataset folder that are not read (not .csv/.parquet) but whose name names or suggests a record
    type (``schools.txt``, ``agreements.tsv``, ``企业.xlsx``): each an error, its rows unread rows of that type."""
    out = []
    for f in sorted(d.iterdir()) if d.is_dir() else []:
        name = f.name.split(".")[0]
        if f.suffix.lower() in (".csv", ".parquet") or not name or f.name.startswith(("~$", ".")) or \
                is_info_sheet(name) or not f.is_file() or not f.stat().st_size:
            continue
        guess = record_type_of(name) or _did_you_mean(name)
        if guess:
            out.append(RecordError(msg("loader.unread_file", name=f.name, label=record_type_info(guess).label_zh,
                                       type=guess), guess, None, None, None, None, f.name,  # type: ignore[arg-type]
                                   readable=()))
    return out


def two_sources_error(record_type: str, first: str, second: Source, rows: int, span: str = "",
                      place: str | None = None) -> RecordError:
    """The error for a second source of a record type: its rows are not read, the first source's are."""
    label = record_type_info(record_type).label_zh
    return RecordError(msg("loader.two_sources", label=label, type=record_type, first=first, second=second.name,
                           rows=rows, span=span),
                       record_type, None, None, None, None, place or second.place(None),  # type: ignore[arg-type]
                       readable=())  # its rows are not read: unknown, not absent


def encoding_warning(record_type: str, name: str, encoding: str) -> RecordWarning:
    """The warning for a CSV file read in GBK/GB18030 rather than UTF-8."""
    return RecordWarning(msg("loader.gbk", name=name, encoding=encoding), record_type, None, None, None, None, name)


# --- headers -----------------------------------------------------------------------------------------------


def header_fields(record_type: str, cells: Sequence[Any], where: str,
                  letters: bool = True) -> list[str | None]:
    """Each header cell's field (a Chinese or English alias), its text as typed if unknown, None if empty.

    Two columns for one field are a FatalError naming both (which one holds the value would be a guess).
    """
    names: list[str | None] = []
    seen: dict[str, int] = {}
    for i, cell in enumerate(cells):
        text = "" if cell is None else str(cell).strip()
        if not text:
            names.append(None)
            continue
        name = field_for(record_type, text) or text
        if name in seen:
            a, b = seen[name], i
            ref = (lambda j: msg("word.column_letter", col=_letters(j))) if letters else \
                (lambda j: msg("word.column_number", n=j + 1))
            raise FatalError(msg("loader.duplicate_header", where=where, first=ref(a), a=str(cells[a]).strip(),
                                 second=ref(b), b=text, field=name))
        seen[name] = i
        names.append(name)
    return names


def _score(record_type: str, cells: Sequence[Any]) -> int:
    """How many cells of a row name a field of the record type."""
    if record_type not in RECORD_TYPES:
        return 0
    kinds = field_kinds(record_type)
    return sum(1 for c in cells if c is not None and str(c).strip() and field_for(record_type, str(c)) in kinds)


def find_header(record_type: str, rows: Sequence[Sequence[Any]], header_row: int | None) -> int:
    """The 0-based index, among ``rows`` (the first rows of a sheet or file), of the header row.

    With ``header_row`` that row; otherwise the first row in which at least two cells (or the only cell) name a
    field and those are at least half of its non-empty cells; otherwise the first non-empty row.
    """
    if header_row is not None:
        return header_row - 1
    first = None
    for i, cells in enumerate(rows[:HEADER_SCAN_ROWS]):
        filled = [c for c in cells if c is not None and str(c).strip()]
        if not filled:
            continue
        if first is None:
            first = i
        score = _score(record_type, cells)
        if score and (score >= 2 or len(filled) == 1) and 2 * score >= len(filled):
            return i
    return first if first is not None else 0


def _is_sub_header(record_type: str, names: list[str | None], cells: Sequence[Any]) -> bool:
    """A second header row (English field names under Chinese labels): every filled cell names its column's field."""
    filled = [(i, c) for i, c in enumerate(cells) if c is not None and str(c).strip()]
    return bool(filled) and all(i < len(names) and names[i] is not None
                                and field_for(record_type, str(c)) == names[i] for i, c in filled)


def _blank(cells: Sequence[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


# --- text and encodings ----------------------------------------------------------------------------------------


def _looks_chinese(text: str) -> bool:
    """Most non-ASCII characters are CJK ideographs or punctuation (a GBK file, not Latin-1 read as GBK)."""
    wide = [c for c in text if ord(c) > 127]
    cjk = sum(1 for c in wide if "\u4e00" <= c <= "\u9fff" or "\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef")
    return not wide or cjk >= 0.8 * len(wide)


SNIFF_BYTES = 1 << 20
"""How many bytes from the start decide a CSV file's encoding (the same for every reader)."""


def decode_text(data: bytes, where: str) -> tuple[str, str | None]:
    """The text of a CSV file in the encoding its first :data:`SNIFF_BYTES` show (:func:`encoding_of`).

    Returns the text and "GB18030" when that was the encoding (the caller warns), None for UTF-8.
    """
    encoding = encoding_of(data[:SNIFF_BYTES], where, complete=len(data) <= SNIFF_BYTES)
    try:
        return data.decode("gb18030" if encoding else "utf-8-sig"), encoding
    except UnicodeDecodeError as exc:
        raise FatalError(msg("file.not_utf8_nor_gbk", path=where,
                             detail=msg("file.not_utf8_at", byte=exc.start, reason=exc.reason))) from None


def encoding_of(data: bytes, where: Any, complete: bool = True) -> str | None:
    """None for UTF-8 (with or without BOM), "GB18030" (GBK's superset) for bytes that read as Chinese text in it,
    FatalError otherwise. ``complete`` False: ``data`` is a file's first bytes, perhaps cutting a character."""
    if data.startswith(b"\xef\xbb\xbf"):
        return None
    try:
        data.decode("utf-8")
        return None
    except UnicodeDecodeError as exc:
        first = exc
        if not complete and exc.start >= len(data) - 3:  # a character cut by the sample's end
            return None
    text = ""
    for cut in range(1 if complete else 4):  # a two-byte character cut by the sample's end
        try:
            text = data[:len(data) - cut].decode("gb18030")
            break
        except UnicodeDecodeError:
            text = ""
    if text and _looks_chinese(text):
        return "GB18030"
    raise FatalError(msg("file.not_utf8_nor_gbk", path=where,
                         detail=msg("file.not_utf8_at", byte=first.start, reason=first.reason)))


def sniff_encoding(path: Path) -> str | None:
    """The encoding of a CSV file from its first :data:`SNIFF_BYTES` (see :func:`encoding_of`)."""
    with open(path, "rb") as fh:
        data = fh.read(SNIFF_BYTES + 1)
    return encoding_of(data[:SNIFF_BYTES], path, complete=len(data) <= SNIFF_BYTES)


def _read_bytes(p: Path) -> bytes:
    try:
        return p.read_bytes()
    except OSError as exc:
        raise FatalError(msg("file.unreadable", path=p, reason=exc.strerror)) from None


# --- JSON and YAML -------------------------------------------------------------------------------------------------


class _Obj(dict):  # type: ignore[type-arg]
    """A JSON/YAML object that remembers the keys it held twice (the later value is not read)."""

    duplicates: list[str]


def _pairs(pairs: list[tuple[Any, Any]]) -> _Obj:
    obj = _Obj()
    obj.duplicates = []
    for k, v in pairs:
        if k in obj:
            obj.duplicates.append(str(k))
            continue
        obj[k] = v
    return obj


def _json_records(text: str, p: Path, limits: Limits = DEFAULT_LIMITS) -> tuple[list[tuple[str, int, Any]], list[str]]:
    """The top-level (key, line, value) triples of a JSON document, each list item's line in ``lines``.

    Decoded with the standard library, item by item, so that each record's line is known. Numbers are exact
    (a 5,000-digit integer too); a record nested deeper than ``limits.nesting`` is an :class:`UnreadableRow`.
    """
    dec = json.JSONDecoder(parse_float=Decimal, parse_int=json_number, object_pairs_hook=_pairs)
    ws = " \t\r\n"

    def skip(i: int) -> int:
        while i < len(text) and text[i] in ws:
            i += 1
        return i

    try:
        i = skip(0)
        if text[i:i + 1] != "{":
            value, end = dec.raw_decode(text, i)
            if skip(end) != len(text):
                raise json.JSONDecodeError("Extra data", text, skip(end))
            return [("", 0, value)], []
        out: list[tuple[str, int, Any]] = []
        i = skip(i + 1)
        if text[i:i + 1] == "}":
            i = skip(i + 1)
        else:
            while True:
                if text[i:i + 1] != '"':
                    raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, i)
                key, i = json.decoder.scanstring(text, i + 1)  # type: ignore[attr-defined]
                i = skip(i)
                if text[i:i + 1] != ":":
                    raise json.JSONDecodeError("Expecting ':' delimiter", text, i)
                i = skip(i + 1)
                line = text.count("\n", 0, i) + 1
                if text[i:i + 1] == "[":
                    items: list[tuple[int, Any]] = []
                    i = skip(i + 1)
                    if text[i:i + 1] == "]":
                        i += 1
                    else:
                        while True:
                            item_line = text.count("\n", 0, i) + 1
                            try:
                                value, i = dec.raw_decode(text, i)
                                if _depth_over(value, limits.nesting - 2):
                                    value = UnreadableRow(too_deep_reason(limits))
                            except RecursionError:  # too deep for the parser: this record alone is rejected
                                value, i = UnreadableRow(too_deep_reason(limits)), json_value_end(text, i, dec)
                            items.append((item_line, value))
                            i = skip(i)
                            if text[i:i + 1] == ",":
                                i = skip(i + 1)
                                continue
                            if text[i:i + 1] != "]":
                                raise json.JSONDecodeError("Expecting ',' delimiter", text, i)
                            i += 1
                            break
                    out.append((key, line, _Lines(items)))
                else:
                    value, i = dec.raw_decode(text, i)
                    out.append((key, line, value))
                i = skip(i)
                if text[i:i + 1] == ",":
                    i = skip(i + 1)
                    continue
                if text[i:i + 1] != "}":
                    raise json.JSONDecodeError("Expecting ',' delimiter", text, i)
                i = skip(i + 1)
                break
        if i != len(text):
            raise json.JSONDecodeError("Extra data", text, i)
        return out, []
    except json.JSONDecodeError as exc:
        raise FatalError(msg("file.bad_json", where=f"{p}:{exc.lineno}:{exc.colno}", problem=exc.msg)) from None
    except RecursionError:
        raise FatalError(msg("file.too_deep", path=p, fmt="JSON")) from None


class _Lines(list):  # type: ignore[type-arg]
    """A list of records with the line of each."""

    def __init__(self, items: list[tuple[int, Any]]) -> None:
        super().__init__(v for _, v in items)
        self.lines = [line for line, _ in items]


def _yaml_value(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """A YAML node's value with every scalar as the text written (``None`` for a plain null), as a CSV cell is:
    money ``1234567890123456.78`` stays exact, an id ``007``, ``0x1F``, ``1e3`` or ``true`` stays that text, a date
    2021-02-30 is rejected by the record validator with the field named (engine.data.docparse.yaml_plain)."""
    return yaml_plain(node)


def _yaml_record(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """One list item: a mapping keeps its duplicate keys (see :class:`_Obj`)."""
    if not isinstance(node, yaml.MappingNode):
        return _yaml_value(loader, node)
    loader.flatten_mapping(node)
    row = _pairs([(str(_yaml_value(loader, k)), _yaml_value(loader, v)) for k, v in node.value])
    return UnreadableRow(too_deep_reason(loader.limits)) if _depth_over(row, 10**9) is None else row


def _yaml_entries(text: str, limits: Limits = DEFAULT_LIMITS) -> tuple[Any, list[tuple[str, int, Any]]]:
    """A YAML document's top-level (key, line, value) triples, each list item's line in ``lines`` (as for JSON);
    the document itself when it is not a mapping. Aliases' expansion is counted and nesting bounded."""
    loader = limited_yaml_loader(text, limits)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, []
        if not isinstance(node, yaml.MappingNode):
            return _yaml_value(loader, node), []
        entries: list[tuple[str, int, Any]] = []
        for k, v in node.value:
            key, line = str(_yaml_value(loader, k)), k.start_mark.line + 1
            if isinstance(v, yaml.SequenceNode):
                entries.append((key, line, _Lines([(i.start_mark.line + 1, _yaml_record(loader, i)) for i in v.value])))
            else:
                entries.append((key, line, _yaml_value(loader, v)))
        return {}, entries
    finally:
        loader.dispose()


def _depth_over(value: Any, limit: int) -> bool | None:
    """Whether ``value`` nests deeper than ``limit`` (counted without recursion); None when it holds a collection
    the YAML composer did not compose (deeper than the limit there)."""
    from engine.data.docparse import TooDeep

    todo: list[tuple[Any, int]] = [(value, 0)]
    over = False
    while todo:
        v, d = todo.pop()
        if isinstance(v, TooDeep):
            return None
        if isinstance(v, (dict, list)):
            if d + 1 > limit:
                over = True
            todo.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return over


def _read_document(p: Path, suffix: str, limits: Limits = DEFAULT_LIMITS) -> RawInput:
    data = _read_bytes(p)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FatalError(msg("file.not_utf8", path=p, byte=exc.start, reason=exc.reason)) from None
    if suffix == ".json":
        entries, _ = _json_records(text, p, limits)
        if entries and entries[0][0] == "" and entries[0][1] == 0:
            doc: Any = entries[0][2]
            entries = []
        else:
            doc = {}
    else:
        try:
            doc, entries = _yaml_entries(text, limits)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{p}:{mark.line + 1}:{mark.column + 1}" if mark else str(p)
            problem = getattr(exc, "problem", None) or "malformed YAML"
            raise FatalError(msg("file.bad_yaml", where=where, problem=problem)) from None
        except RecursionError:
            raise FatalError(msg("file.too_deep", path=p, fmt="YAML")) from None
    if doc is None:
        raise FatalError(msg("file.null_document", path=p))
    if not isinstance(doc, dict):
        raise FatalError(msg("file.not_object", path=p, found=type(doc).__name__))
    kind = "json" if suffix == ".json" else "yaml"
    got = RawInput()
    seen: set[str] = set()
    for key, line, rows in entries:
        place = f"{p.name}:{line}"
        record_type = record_type_of(key)
        if record_type is None:  # any data under a key that names no record type is listed, not read
            if rows not in (None, [], {}, ""):
                n = len(rows) if isinstance(rows, (list, dict)) else 1
                first = rows[0] if isinstance(rows, list) and rows else None
                got.errors.append(unknown_source_error(key, "key", place, n, "",
                                                       first if isinstance(first, dict) else ()))
            continue
        if rows is None:
            rows = []
        if not isinstance(rows, list):
            raise FatalError(msg("file.not_list", path=f"{p}:{line}", key=key))
        if key in seen:  # the same key twice: the standard parsers keep the later one silently
            got.errors.append(RecordError(msg("loader.duplicate_key", key=key, line=line, rows=len(rows)),
                                          record_type, None, None, None, None, place,  # type: ignore[arg-type]
                                          readable=() if rows else None))
            continue
        seen.add(key)
        item_lines = getattr(rows, "lines", None) or [line] * len(rows)
        out = []
        for r, item_line in zip(rows, item_lines):
            if isinstance(r, UnreadableRow):  # nested too deep: rejected by validation with its reason
                out.append(r)
                continue
            if not isinstance(r, dict):  # an item that is not an object rejects itself, not the dataset
                out.append({ROW_PROBLEM: (None, r, msg("loader.record_not_object"))})
                continue
            row = {str(k): v for k, v in r.items()}
            dups = getattr(r, "duplicates", [])
            if dups:
                row[ROW_PROBLEM] = (dups[0], row.get(dups[0]), msg("loader.duplicate_field", field=dups[0]))
            out.append(row)
        got.add(record_type, out, Source(record_type, p.name, kind, list(item_lines)), msg("loader.span_from", line=line),
                place)
    return got


# --- CSV and Parquet directories ------------------------------------------------------------------------------


def _read_dir(d: Path, header_row: int | None, only: Path | None = None) -> RawInput:
    got = RawInput()
    files = [only] if only else sorted(f for f in d.iterdir() if f.suffix.lower() in (".csv", ".parquet")
                                       and f.is_file()) if d.is_dir() else []
    if not files:
        raise FatalError(msg("file.no_csv", path=d))
    if not only:
        got.errors += unread_files(d)
    for f in files:
        record_type = record_type_of(f.stem)
        errors: list[RecordError] = []
        if f.suffix.lower() == ".parquet":
            rows, source, warnings = _read_parquet(f, record_type or f.stem)
        else:
            rows, source, warnings, errors = _read_csv(f, record_type or f.stem, header_row)
        span = msg("loader.span", first=source.line_of(1), last=source.line_of(len(rows))) if rows and source.kind == "csv" else ""
        if record_type is None:
            # its rows, and the lines read under a header that named no field (a title row taken for the header)
            lines = [source.line_of(i + 1) for i in range(len(rows))] if source.kind == "csv" else []
            lines += [int(e.place.rsplit(":", 1)[1]) for e in errors
                      if e.place and e.place.rsplit(":", 1)[-1].isdigit()]
            if rows or lines:
                if lines:
                    span = msg("loader.span", first=min(lines), last=max(lines))
                got.errors.append(unknown_source_error(f.stem, "file", f.name, max(len(rows), len(lines)), span,
                                                       rows[0] if rows else ()))
            continue
        if record_type not in got.sources:
            got.errors += errors
            got.warnings += warnings
        got.add(record_type, rows, source, span)
    return got


def _csv_lines(stream: Any) -> Iterator[tuple[int, list[str]]]:
    """The rows of a CSV text stream, each with its first physical line (quoted fields may span lines)."""
    reader = csv.reader(stream)
    start = 1
    for cells in reader:
        yield start, cells
        start = reader.line_num + 1


def _csv_head(rows: Iterator[tuple[int, list[str]]], record_type: str, name: str, header_row: int | None
              ) -> tuple[list[str | None], int, list[tuple[int, list[str]]]]:
    """Find the header among the first rows: (each column's field, the header's line, the rows read after it)."""
    head: list[tuple[int, list[str]]] = []
    limit = header_row if header_row is not None else HEADER_SCAN_ROWS
    for item in rows:
        head.append(item)
        if len(head) >= limit:
            break
    if not head:
        return [], 0, []
    h = find_header(record_type, [c for _, c in head], header_row)
    if h >= len(head):
        raise FatalError(msg("loader.header_row_beyond", name=name, row=h + 1, n=len(head)))
    names = header_fields(record_type, head[h][1], f"{name}:{head[h][0]}", letters=False)
    return names, head[h][0], head[h + 1:]


@dataclass
class _CsvBody:
    """What a pass over a CSV file's data rows found (the rows themselves only when asked for)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)
    unnamed: dict[int, int] = field(default_factory=dict)
    sub_header_line: int = 0


def _csv_body(items: Iterable[tuple[int, list[str]]], record_type: str, name: str, names: list[str | None],
              keep: bool) -> _CsvBody:
    """Classify every data row: blank (skipped), a second header row, a row whose cells do not match the header
    (not read: an error naming its line), or a record (its line, and its cells by field when ``keep``)."""
    out = _CsvBody()
    first = True
    width = len(names)
    for line, cells in items:
        if _blank(cells):
            continue
        if first:
            first = False
            if _is_sub_header(record_type, names, cells):
                out.sub_header_line = line
                continue
        if len(cells) != width:
            out.errors.append(RecordError(msg("loader.ragged_row", line=line, n=len(cells), width=width), record_type,
                                          None, None, None, ",".join(cells), f"{name}:{line}",  # type: ignore[arg-type]
                                          readable=()))  # not read: unknown, not absent
            continue
        for i, n in enumerate(names):
            if n is None and cells[i].strip():
                out.unnamed.setdefault(i, line)
        if keep:
            out.rows.append({n: cells[i] for i, n in enumerate(names) if n is not None})
        out.lines.append(line)
    return out


def _unnamed_warnings(record_type: str, name: str, unnamed: dict[int, int]) -> list[RecordWarning]:
    return [RecordWarning(msg("loader.unnamed_column", column=msg("word.column_number", n=i + 1), where=f"{name}:{line}"),
                          record_type, None, None, None, None, f"{name}:{line}") for i, line in sorted(unnamed.items())]


def _read_csv(f: Path, record_type: str, header_row: int | None
              ) -> tuple[list[dict[str, Any]], Source, list[RecordWarning], list[RecordError]]:
    text, encoding = decode_text(_read_bytes(f), str(f))
    warnings = [encoding_warning(record_type, f.name, encoding)] if encoding else []
    try:
        items = _csv_lines(io.StringIO(text, newline=""))
        names, header_line, rest = _csv_head(items, record_type, f.name, header_row)
        body = _csv_body(itertools.chain(rest, items), record_type, f.name, names, keep=True)
    except csv.Error as exc:
        raise FatalError(msg("file.bad_csv", path=f, problem=exc)) from None
    source = Source(record_type, f.name, "csv", body.lines, header_line + 1)
    return body.rows, source, warnings + _unnamed_warnings(record_type, f.name, body.unnamed), body.errors


@dataclass
class FilePlan:
    """The files of a streamed check: each record type's file, the layout of each CSV file, and the errors and
    warnings about the folder (unknown files holding data, second sources, GBK files) — as the in-memory reader
    gives them."""

    files: dict[str, Path] = field(default_factory=dict)
    layouts: dict[str, "FileLayout"] = field(default_factory=dict)
    errors: list[RecordError] = field(default_factory=list)
    warnings: list[RecordWarning] = field(default_factory=list)


def plan_files(d: Path, header_row: int | None = None) -> FilePlan:
    """The plan of a directory of CSV/Parquet files for a streamed check (FatalError when there is none)."""
    if not d.is_dir():
        raise FatalError(msg("file.no_csv", path=d))
    plan = FilePlan()
    plan.errors += unread_files(d)
    files = sorted(f for f in d.iterdir() if f.suffix.lower() in (".csv", ".parquet") and f.is_file())
    for f in files:
        record_type = record_type_of(f.stem)
        if record_type is None or record_type in plan.files:  # not read: its rows are counted as the reader does
            if f.suffix.lower() == ".parquet":
                rows, source, _ = _read_parquet(f, record_type or f.stem)
            else:
                rows, source, _, _ = _read_csv(f, record_type or f.stem, header_row)
            span = msg("loader.span", first=source.line_of(1), last=source.line_of(len(rows))) if rows and source.kind == "csv" else ""
            if not rows:
                continue
            if record_type is None:
                plan.errors.append(unknown_source_error(f.stem, "file", f.name, len(rows), span, rows[0]))
            else:
                plan.errors.append(two_sources_error(record_type, plan.files[record_type].name, source, len(rows), span))
            continue
        plan.files[record_type] = f
        if f.suffix.lower() == ".csv":
            layout = plan_csv(f, record_type, header_row)
            plan.layouts[record_type] = layout
            if layout.encoding:
                plan.warnings.append(encoding_warning(record_type, f.name, layout.encoding))
    if not plan.files:
        raise FatalError(msg("file.no_csv", path=d))
    return plan


# --- CSV files read by Arrow (the streamed and Dask checks) -------------------------------------------------------


@dataclass(frozen=True)
class FileLayout:
    """How Arrow reads one CSV file of a streamed check, found from its first rows exactly as the in-memory reader
    finds them: encoding, where the data rows start (after title, header and second header rows) and each column's
    field (a Chinese or English header, the header as typed if unknown, None if empty)."""

    record_type: str
    path: str
    encoding: str | None
    data_offset: int
    data_line: int
    fields: tuple[str | None, ...]

    @property
    def name(self) -> str:
        """The file name, as places show it."""
        return Path(self.path).name

    def read_options(self, block_size: int | None = None) -> Any:
        """Arrow read options: positional column names, the file's encoding."""
        import pyarrow.csv as pacsv

        opts = pacsv.ReadOptions(column_names=[f"c{i}" for i in range(len(self.fields))],
                                 encoding="gb18030" if self.encoding else "utf8")
        if block_size:
            opts.block_size = block_size
        return opts

    def convert_options(self) -> Any:
        """Every column as text, empty cells as ""."""
        import pyarrow as pa
        import pyarrow.csv as pacsv

        return pacsv.ConvertOptions(column_types={f"c{i}": pa.string() for i in range(len(self.fields))},
                                    strings_can_be_null=False, quoted_strings_can_be_null=False)


@dataclass
class ReadStats:
    """What Arrow saw of one CSV file while reading it: rows kept, blank rows, rows not matching the header,
    whether a column without a header held data. Anything unusual makes the places come from a full pass."""

    rows: int = 0
    blank: int = 0
    invalid: int = 0
    unnamed: bool = False

    def merge(self, other: "ReadStats") -> None:
        """Add another piece's counts."""
        self.rows += other.rows
        self.blank += other.blank
        self.invalid += other.invalid
        self.unnamed |= other.unnamed


def plan_csv(path: Path, record_type: str, header_row: int | None = None, sample: int = 1 << 18) -> FileLayout:
    """The layout of a CSV file from its first bytes (FatalError when it cannot be read)."""
    encoding = sniff_encoding(path)
    with open(path, "rb") as fh:
        data = fh.read(sample)
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    text = data[bom:].decode("gb18030" if encoding else "utf-8", errors="ignore")
    stream = io.StringIO(text, newline="")
    try:
        items = _csv_lines(stream)
        names, header_line, rest = _csv_head(items, record_type, path.name, header_row)
    except csv.Error as exc:
        raise FatalError(msg("file.bad_csv", path=path, problem=exc)) from None
    data_line = header_line + 1 if names else 1
    for line, cells in rest:  # blank rows, then perhaps a second header row
        if _blank(cells):
            continue
        if _is_sub_header(record_type, names, cells):
            data_line = _next_line(text, line, cells)
        break
    lines = io.StringIO(text, newline="")
    chars = sum(len(lines.readline()) for _ in range(data_line - 1))
    offset = bom + len(text[:chars].encode("gb18030" if encoding else "utf-8"))
    return FileLayout(record_type, str(path), encoding, offset, data_line, tuple(names))


def _next_line(text: str, line: int, cells: list[str]) -> int:
    """The line after a row that starts at ``line`` (a row of a header spans one line unless quoted)."""
    return line + 1 + sum(c.count("\n") for c in cells)


def layout_columns(layout: FileLayout, batch: Any, stats: ReadStats) -> dict[str, Any]:
    """An Arrow batch of a CSV file as text columns by field, without its blank rows (counted in ``stats``)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from engine.engines.columns import SPACE_CHARS

    arrays = [batch.column(i) for i in range(batch.num_columns)]
    arrays = [a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in arrays]

    def has_text(a: Any) -> np.ndarray:
        return np.asarray(pc.binary_length(pc.utf8_trim(a, characters=SPACE_CHARS))) > 0

    filled = has_text(arrays[0]) if arrays else np.zeros(0, dtype=bool)
    maybe_blank = np.flatnonzero(~filled)  # only rows whose first cell is blank can be blank rows
    if len(maybe_blank):
        take = pa.array(maybe_blank, pa.int64())
        for a in arrays[1:]:
            filled[maybe_blank] |= has_text(a.take(take))
    if not filled.all():
        stats.blank += int((~filled).sum())
        keep = pa.array(filled)
        arrays = [a.filter(keep) for a in arrays]
    out = {}
    for i, name in enumerate(layout.fields):
        if name is None:
            stats.unnamed |= bool(has_text(arrays[i]).any())
            continue
        out[name] = arrays[i]
    stats.rows += len(arrays[0]) if arrays else 0
    return out


def invalid_row_counter(stats: ReadStats) -> Any:
    """An Arrow invalid-row handler: a row whose cells do not match the header is skipped and counted (a blank
    one silently), so that the full pass names its line."""
    def handle(row: Any) -> str:
        if (row.text or "").replace(",", "").strip(" \t\r\n\"'"):
            stats.invalid += 1
        return "skip"

    return handle


def csv_places(layout: FileLayout, stats: ReadStats, header_row: int | None = None
               ) -> tuple[Source, list[RecordError], list[RecordWarning]]:
    """The source of a CSV file read by Arrow, and the errors and warnings only a full pass can name.

    When the file's physical lines after the header are exactly its records (no blank, multi-line or invalid
    row), row *r* is on line ``data_line + r - 1``, found by counting line ends at byte speed; otherwise one
    pass of the in-memory reader's own classification gives every row's line.
    """
    path = Path(layout.path)
    if not stats.invalid and not stats.unnamed and not stats.blank:
        ends = 0
        last = b"\n"
        with open(path, "rb") as fh:
            fh.seek(layout.data_offset)
            while chunk := fh.read(1 << 24):
                ends += chunk.count(b"\n")
                last = chunk[-1:]
        lines = ends + (last != b"\n")
        if lines == stats.rows:
            return Source(layout.record_type, layout.name, "csv", None, layout.data_line), [], []
    with open(path, encoding="gb18030" if layout.encoding else "utf-8-sig", newline="", errors="replace") as fh:
        items = _csv_lines(fh)
        names, header_line, rest = _csv_head(items, layout.record_type, layout.name, header_row)
        body = _csv_body(itertools.chain(rest, items), layout.record_type, layout.name, names, keep=False)
    return (Source(layout.record_type, layout.name, "csv", body.lines, header_line + 1), body.errors,
            _unnamed_warnings(layout.record_type, layout.name, body.unnamed))


def _read_parquet(f: Path, record_type: str) -> tuple[list[dict[str, Any]], Source, list[RecordWarning]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(f)
    except (pa.ArrowException, OSError) as exc:
        raise FatalError(msg("file.unreadable", path=f, reason=str(exc).splitlines()[0])) from None
    cols = parquet_text_columns(table, record_type, f.name)
    n = table.num_rows
    names = list(cols)
    values = {k: v.to_pylist() for k, v in cols.items()}
    rows = [{k: values[k][i] for k in names} for i in range(n)]
    return rows, Source(record_type, f.name, "parquet", None, 1), []


def parquet_text_columns(table: Any, record_type: str, where: str) -> dict[str, Any]:
    """A Parquet table's columns by field (header aliases applied) as text: dates and midnight timestamps as
    ``YYYY-MM-DD``; a column that is not a field is kept (as nulls) for the unknown-field warning; a field whose
    type is a list or structure is a FatalError naming it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = header_fields(record_type, [str(n) for n in table.schema.names], where, letters=False)
    kinds = field_kinds(record_type) if record_type in RECORD_TYPES else {}
    out = {}
    for i, name in enumerate(names):
        if name is None:
            continue
        col = table.column(i)
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        t = col.type
        if pa.types.is_nested(t) or pa.types.is_dictionary(t) and pa.types.is_nested(t.value_type):
            if name in kinds:
                raise FatalError(msg("file.parquet_nested", where=where, column=table.schema.names[i], field=name,
                                     type=str(t)))
            out[name] = pa.nulls(len(col), pa.string())
            continue
        if pa.types.is_timestamp(t):
            day = pc.cast(pc.floor_temporal(col, unit="day"), t)
            midnight = pc.fill_null(pc.equal(day, col), True)
            col = pc.if_else(midnight, pc.strftime(col, format="%Y-%m-%d"), pc.cast(col, pa.string()))
        elif pa.types.is_date(t):
            col = pc.strftime(col, format="%Y-%m-%d")
        out[name] = pc.cast(col, pa.string())
    return out


# --- XLSX ----------------------------------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date()
    return value


# what openpyxl raises for a damaged workbook: zip and inflate errors, malformed XML (a SyntaxError), bad values
_XLSX_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, KeyError, OSError, ValueError, TypeError, AttributeError,
                IndexError, SyntaxError)


def _xlsx_problem(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


class _CellBudget:
    """Counts the cells read from a workbook (a forged sheet dimension pads every row) against the limit."""

    def __init__(self, p: Path, limits: Limits):
        self.p, self.limits, self.read = p, limits, 0

    def rows(self, rows: Iterable[tuple[Any, ...]], sheet: str) -> Iterator[tuple[Any, ...]]:
        """The rows, refused in one line once the cells read pass ``limits.xlsx_cells``."""
        for cells in rows:
            self.read += max(1, len(cells))
            if self.read > self.limits.xlsx_cells:
                raise limit_error(f"{self.p} [{sheet}]", "xlsx_cells", self.limits)
            yield cells


def _read_xlsx(p: Path, header_row: int | None, limits: Limits = DEFAULT_LIMITS) -> RawInput:
    import openpyxl  # imported here: only workbooks need it

    formulas = None
    try:
        wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
        # formulas are read only when a sheet holds one: a formula without a saved result reads as an empty cell
        formulas = openpyxl.load_workbook(p, read_only=True, data_only=False) if _has_formulas(p) else None
    except _XLSX_ERRORS as exc:
        raise FatalError(msg("file.bad_xlsx", path=p, problem=_xlsx_problem(exc))) from None
    got = RawInput()
    budget = _CellBudget(p, limits)
    try:
        for ws, wf in zip(wb.worksheets, formulas.worksheets if formulas else [None] * len(wb.worksheets)):
            record_type = record_type_of(ws.title)
            rows, source, warnings = _read_sheet(ws, wf, record_type or ws.title, header_row, budget)
            if record_type is None:
                if rows and not is_info_sheet(ws.title):
                    span = msg("loader.span", first=source.line_of(1), last=source.line_of(len(rows)))
                    got.errors.append(unknown_source_error(ws.title, "sheet", _sheet_ref(ws.title), len(rows), span,
                                                           rows[0]))
                continue
            if record_type not in got.sources:
                got.warnings += warnings
            got.add(record_type, rows, source, msg("loader.span", first=source.line_of(1), last=source.line_of(len(rows))) if rows else "")
    except _XLSX_ERRORS as exc:  # a broken part found while reading a sheet (malformed XML, a bad cell)
        raise FatalError(msg("file.bad_xlsx", path=p, problem=_xlsx_problem(exc))) from None
    finally:
        wb.close()
        if formulas is not None:
            formulas.close()
    return got


def _has_formulas(p: Path) -> bool:
    """Whether any worksheet of the workbook holds a formula cell (an ``<f>`` element), read at byte speed."""
    with zipfile.ZipFile(p) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                with z.open(name) as fh:
                    tail = b""
                    while chunk := fh.read(1 << 20):
                        data = tail + chunk
                        if b"<f>" in data or b"<f " in data or b":f>" in data or b":f " in data:
                            return True
                        tail = data[-4:]
    return False


def _read_sheet(ws: Any, wf: Any, record_type: str, header_row: int | None, budget: _CellBudget | None = None
                ) -> tuple[list[dict[str, Any]], Source, list[RecordWarning]]:
    """One sheet's rows by field, its source (each row's spreadsheet row, each field's column) and warnings."""
    source = Source(record_type, ws.title, "sheet", [])
    top = 1
    values: Iterator[tuple[Any, ...]] = ws.iter_rows(min_row=1, min_col=1, values_only=True)  # from A1
    if budget is not None:
        values = budget.rows(values, ws.title)  # bounded: a forged dimension pads rows to 16,384 cells
    formula_rows = wf.iter_rows(min_row=1, min_col=1, values_only=True) if wf is not None else iter(())
    head: list[tuple[Any, ...]] = []
    for cells in values:
        head.append(cells)
        if len(head) >= HEADER_SCAN_ROWS and header_row is None or header_row is not None and len(head) >= header_row:
            break
    if not head:
        return [], source, []
    h = find_header(record_type, head, header_row)
    if h >= len(head):
        raise FatalError(msg("loader.header_row_beyond", name=_sheet_ref(ws.title), row=h + 1, n=len(head)))
    names = header_fields(record_type, head[h], f"{_sheet_ref(ws.title)}!{top + h}:{top + h}")
    source.columns = {n: _letters(i) for i, n in enumerate(names) if n is not None}
    source.first_line = top + h + 1
    warnings: list[RecordWarning] = []
    rows: list[dict[str, Any]] = []
    unnamed: dict[int, int] = {}
    sub_header_done = False

    def all_rows() -> Iterable[tuple[Any, ...]]:
        yield from head[h + 1:]
        yield from values

    for _ in zip(range(h + 1), formula_rows):  # the formula cells of the rows above the first data row
        pass
    for offset, cells in enumerate(all_rows()):
        line = top + h + 1 + offset
        fcells = next(formula_rows, ())
        if _blank(cells):
            continue
        if not sub_header_done:
            sub_header_done = True
            if _is_sub_header(record_type, names, cells):
                continue
        row: dict[str, Any] = {}
        for i, value in enumerate(cells):
            name = names[i] if i < len(names) else None
            if name is None:
                if value is not None and not (isinstance(value, str) and not value.strip()):
                    unnamed.setdefault(i, line)
                continue
            if value is None and i < len(fcells) and isinstance(fcells[i], str) and fcells[i].startswith("="):
                row.setdefault(ROW_PROBLEM, (name, fcells[i], msg("loader.formula_no_value", cell=f"{_letters(i)}{line}",
                                                                   formula=fcells[i])))
            row[name] = _cell(value)
        for i, name in enumerate(names):
            if name is not None and name not in row:
                row[name] = None
        rows.append(row)
        assert source.lines is not None
        source.lines.append(line)
    for i, line in sorted(unnamed.items()):
        warnings.append(RecordWarning(msg("loader.unnamed_column", column=msg("word.column_letter", col=_letters(i)),
                                          where=f"{_letters(i)}{line}"),
                                      record_type, None, None, None, None,
                                      f"{_sheet_ref(ws.title)}!{_letters(i)}{line}"))
    return rows, source, warnings
