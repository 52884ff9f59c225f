"""Vectorised validation: raw text columns (as read from CSV or Parquet) to typed :class:`Table` columns.

Each field is checked with Arrow kernels and numpy byte matrices (no regular expressions) against a strict form
of what the record models accept (``^\\d{6}$`` with a province prefix, ``^\\d{1,16}(\\.\\d{1,2})?$`` for money,
a real ``YYYY-MM-DD`` date, a USCC with its check character, …). A row that passes every strict check is converted
column by column. A row that does not — a bad value, or an unusual but acceptable spelling such as ``1,200`` or
`` 是 `` — is validated by the record model itself (:func:`engine.data.records.validate_record`), so its errors are
exactly the ones ``validate_rows`` gives: row, field, value and expectation. Clean files are validated at column
speed; bad rows lose nothing.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pathlib import Path

import pandas as pd

from engine.engines.columns import SPACE_CHARS, Column, Table, Tables, day_numbers, empty_table, kind_of, row_fields, stored_cell
from engine.errors import FatalError, RecordError, RecordWarning
from engine.data.records import (
    FALSE_WORDS,
    MAX_CELL_CHARS,
    ORG_WEIGHTS,
    PROVINCE_PREFIXES,
    RECORD_TYPES,
    REFERENCES,
    TRUE_WORDS,
    USCC_CHARSET,
    USCC_WEIGHTS,
    dangling_message,
    field_kinds,
    rejected_records,
    rejected_rows,
    is_total_row,
    total_row_warning,
    unknown_field_message,
    validate_record,
)
from engine.messages import msg

__all__ = ["Validated", "validate_columns", "finish_tables", "read_csv_columns", "csv_text_options"]

_USCC_LOOKUP = np.full(256, -1, dtype=np.int32)
for _i, _c in enumerate(USCC_CHARSET):
    _USCC_LOOKUP[ord(_c)] = _i


@dataclass
class Validated:
    """One record type's rows after validation: accepted records (input order) and what was rejected."""

    table: Table
    errors: list[RecordError] = field(default_factory=list)
    warnings: list[RecordWarning] = field(default_factory=list)


def _np(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.to_numpy(zero_copy_only=False))


def _byte_matrix(arr: pa.Array, width: int) -> np.ndarray:
    """Strings of exactly ``width`` bytes each (checked by the caller) as an n × width byte matrix, from the buffers."""
    arr = pc.cast(arr, pa.string())
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset:arr.offset + len(arr) + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
    if len(data) != width * len(arr):
        raise AssertionError("strings of another width")
    return data.reshape(-1, width)


def _fixed_width(filled: pa.Array, length: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows of exactly ``width`` bytes, and their bytes as a matrix (no copy when every row has that width)."""
    idx = np.flatnonzero(length == width)
    if not len(idx):
        return idx, np.zeros((0, width), dtype=np.uint8)
    if len(idx) == len(filled):
        return idx, _byte_matrix(filled, width)
    return idx, _byte_matrix(filled.take(pa.array(idx, pa.int64())), width)


def _uscc_ok(filled: pa.Array, length: np.ndarray) -> np.ndarray:
    """Where the value is an 18-character USCC (^[0-9A-HJ-NP-RTUW-Y]{18}$) with a correct check character."""
    ok = np.zeros(len(length), dtype=bool)
    idx, codes = _fixed_width(filled, length, 18)
    if len(idx):
        vals = _USCC_LOOKUP[codes]  # -1 for a byte outside the character set (a non-ASCII byte included)
        valid = (vals >= 0).all(axis=1)
        total = vals[:, :17] @ np.array(USCC_WEIGHTS, dtype=np.int32)  # at most 30 × 30 × 17: int32 is plenty
        ok[idx] = valid & (vals[:, 17] == (31 - total % 31) % 31)
    return ok


_PROVINCES = np.array(sorted(int(p) for p in PROVINCE_PREFIXES))


def _region_ok(filled: pa.Array, length: np.ndarray) -> np.ndarray:
    """Where the value is six digits (^\\d{6}$) starting with a province's code."""
    ok = np.zeros(len(length), dtype=bool)
    idx, m = _fixed_width(filled, length, 6)
    if len(idx):
        digits = ((m >= 48) & (m <= 57)).all(axis=1)
        ok[idx] = digits & np.isin((m[:, 0].astype(np.int64) - 48) * 10 + m[:, 1] - 48, _PROVINCES)
    return ok


def _has_full_width(filled: pa.Array) -> np.ndarray:
    """Where a text cell holds a full-width digit or Latin letter (the record model converts those)."""
    wide = ~_np(pc.string_is_ascii(filled)).astype(bool)
    if wide.any():
        wide[wide] = _np(pc.match_substring_regex(filled.filter(pa.array(wide)), "[０-９Ａ-Ｚａ-ｚ]")).astype(bool)
    return wide


def _total_rows(columns: dict[str, pa.Array], n: int) -> np.ndarray:
    """Where a row is a subtotal or total row (:func:`engine.data.records.is_total_row`). Its id is empty or a total
    word, so only such rows are searched (a substring search for 计/計); the record model's predicate decides."""
    ids = columns.get("id")
    if ids is None:
        cand = np.ones(n, dtype=bool)
    else:
        text = pc.fill_null(pc.cast(ids, pa.string()), "")
        cand = _np(pc.binary_length(pc.utf8_trim(text, characters=SPACE_CHARS))) == 0
        cand |= ~_np(pc.string_is_ascii(text)).astype(bool)
    at = np.flatnonzero(cand)
    if not len(at):
        return cand
    hit = np.zeros(len(at), dtype=bool)
    take = pa.array(at, pa.int64())
    for arr in columns.values():  # a total word holds 计/計; every footer word holds one of 人, 日期, 注, 说明, 电话
        text = pc.fill_null(pc.cast(arr.take(take), pa.string()), "")
        for ch in ("计", "計", "人", "日期", "注", "说明", "电话"):
            hit |= _np(pc.match_substring(text, ch)).astype(bool)
    out = np.zeros(n, dtype=bool)
    for j in np.flatnonzero(hit):
        i = int(at[j])
        out[i] = is_total_row({nm: columns[nm][i].as_py() for nm in columns}) is not None
    return out


def validate_columns(record_type: str, columns: dict[str, pa.Array], rows: np.ndarray,
                     warn_unknown: bool = True) -> Validated:
    """Validate one record type's raw text columns (nulls or "" for empty cells); ``rows`` are input rows.

    Returns the accepted records as a table in input order (not yet de-duplicated) and the rejected rows'
    errors. Unknown columns give one warning each (as ``validate_rows`` does).
    """
    kinds = field_kinds(record_type)
    n = len(rows)
    out = Validated(Table(record_type, {}, rows))
    if warn_unknown and n:
        for name in columns:
            if name not in kinds:
                close = difflib.get_close_matches(str(name), list(kinds), n=1, cutoff=0.6)
                first_id = columns.get("id")
                shown = None
                if first_id is not None and n:
                    v = first_id[0].as_py()
                    shown = None if v is None or str(v).strip() == "" else str(v).strip()
                out.warnings.append(RecordWarning(unknown_field_message(str(name), close[0] if close else None), record_type,
                                                  int(rows[0]) if n else None, shown, str(name),
                                                  close[0] if close else None))
    total = _total_rows(columns, n)
    for i in np.flatnonzero(total):
        word = is_total_row({nm: columns[nm][int(i)].as_py() for nm in columns})
        out.warnings.append(total_row_warning(record_type, int(rows[i]), str(word)))
    fast = ~total
    cols: dict[str, Column] = {}
    for name, kind in kinds.items():
        ck, den, exp = kind_of(kind)
        raw = columns.get(name)
        arr = pa.nulls(n, pa.string()) if raw is None else pc.cast(raw, pa.string())
        filled = pc.fill_null(arr, "")
        length = _np(pc.binary_length(filled))
        if kind.name == "text":
            # empty: nothing but white space; clean: something, without surrounding white space (the model strips it)
            trimmed = _np(pc.binary_length(pc.utf8_trim(filled, characters=SPACE_CHARS)))
            empty = trimmed == 0
            # a cell of more bytes than MAX_CELL_CHARS may be too long: the record model counts its characters
            clean = (trimmed == length) & ~empty & (length <= MAX_CELL_CHARS)
        else:  # the strict forms below hold no white space: a cell of white space goes to the record model
            empty = length == 0
            clean = ~empty
        present = ~empty
        if kind.required:
            fast &= present
        fast &= empty | clean
        data: np.ndarray | None = None
        text_arrow = None
        if kind.name in ("text", "uscc", "region_code", "enum"):
            good = clean.copy()
            if kind.name == "text":  # full-width digits and letters are converted by the record model
                good = clean & ~_has_full_width(filled)
            if kind.name == "uscc":
                good = _uscc_ok(filled, length)
            elif kind.name == "region_code":
                good = _region_ok(filled, length)
            elif kind.name == "enum":
                good = clean & _np(pc.is_in(filled, pa.array(list(kind.choices)))).astype(bool)
            text_arrow = filled  # kept as Arrow: Python strings only if a rule reads them
        elif kind.name == "int":  # ^\d{1,17}$
            good = (length <= 17) & _np(pc.ascii_is_decimal(filled)).astype(bool)
            data = np.zeros(n, dtype=np.int64)
            if good.any():
                data[good] = _np(pc.cast(filled.filter(pa.array(good)), pa.int64()))
        elif kind.name == "money":  # ^\d{1,16}(\.\d{1,2})?$, in fen
            dot = _np(pc.find_substring(filled, "."))  # positions count as bytes only for ASCII: others fail below
            whole = np.where(dot < 0, length, dot)
            places = np.where(dot < 0, 0, length - dot - 1)
            digits = pc.replace_substring(filled, ".", "", max_replacements=1)
            good = ((whole >= 1) & (whole <= 16) & ((dot < 0) | ((places >= 1) & (places <= 2)))
                    & _np(pc.ascii_is_decimal(digits)).astype(bool))
            data = np.zeros(n, dtype=np.int64)
            if good.any():
                data[good] = _np(pc.cast(digits.filter(pa.array(good)), pa.int64())) * 10 ** (2 - places[good])
            if kind.positive:
                good &= data > 0
        elif kind.name == "date":  # ^[1-9]\d{3}-\d{2}-\d{2}$, a real date
            good = np.zeros(n, dtype=bool)
            data = np.zeros(n, dtype=np.int64)
            idx, m = _fixed_width(filled, length, 10)
            digit = (m >= 48) & (m <= 57)
            form = (digit[:, [0, 1, 2, 3, 5, 6, 8, 9]].all(axis=1) & (m[:, 4] == 45) & (m[:, 7] == 45)
                    & (m[:, 0] != 48))
            d = m[form].astype(np.int64) - 48
            vals, real = day_numbers(d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3], d[:, 5] * 10 + d[:, 6],
                                     d[:, 8] * 10 + d[:, 9])  # 2021-02-30 is not a date (no roll-over)
            at = idx[form]
            data[at] = vals
            good[at] = real
        elif kind.name == "bool":
            lower = pc.utf8_lower(filled)
            t = _np(pc.is_in(lower, pa.array(sorted(TRUE_WORDS)))).astype(bool)
            f = _np(pc.is_in(lower, pa.array(sorted(FALSE_WORDS)))).astype(bool)
            good = clean & (t | f)
            data = t
        else:  # pragma: no cover - every kind is handled above
            raise AssertionError(kind.name)
        fast &= empty | good
        cols[name] = Column(ck, data, present & good, den, exp, arrow=text_arrow)
    if record_type == "agreements":
        vf, so, vt = cols["valid_from"], cols["signed_on"], cols["valid_to"]
        vf.data = np.where(vf.known, vf.data, so.data)
        vf.known = vf.known | so.known
        fast &= ~(vt.known & vf.known & (vt.data < vf.data))
    slow = np.flatnonzero(~fast & ~total)
    keep = fast.copy()
    if len(slow):
        names = list(columns)
        raw_rows = {nm: _np(columns[nm].take(pa.array(slow))) for nm in names}
        texts: dict[str, dict[int, str]] = {}
        for j, i in enumerate(slow):
            row = {nm: raw_rows[nm][j] for nm in names}
            rec, errors = validate_record(record_type, int(rows[i]), row)
            if rec is None:
                out.errors.extend(errors)
                continue
            keep[i] = True
            for name, kind in kinds.items():
                col = cols[name]
                value = getattr(rec, name)
                col.known[i] = value is not None
                if value is None:
                    continue
                cell = stored_cell(value, col.kind, col.den)
                if col.kind != "str":
                    col.data[i] = cell
                elif name not in raw_rows or cell != raw_rows[name][j]:  # e.g. a padded id, stripped by the model
                    texts.setdefault(name, {})[int(i)] = cell
        for name, changed in texts.items():  # text columns stay Arrow: only the changed cells are replaced
            cols[name].replace(np.fromiter(changed, dtype=np.int64, count=len(changed)), list(changed.values()))
    sel = np.flatnonzero(keep)
    out.table = Table(record_type, {k: c.take(sel) for k, c in cols.items()}, rows[sel])
    return out


def _code_points(values: np.ndarray, width: int) -> np.ndarray:
    """Fixed-width strings as an n × width matrix of code points (shorter strings padded with 0)."""
    return np.array(values.tolist(), dtype=f"U{width}").view(np.uint32).reshape(-1, width).astype(np.int64)


def _org_check(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(applicable, expected check character's code point) of the GB 11714 organisation code in each USCC."""
    body = _code_points(ids, 18)[:, 8:16]
    digit = (body >= 48) & (body <= 57)
    upper = (body >= 65) & (body <= 90)
    values = np.where(digit, body - 48, body - 65 + 10)
    check = 11 - (values * np.array(ORG_WEIGHTS)).sum(axis=1) % 11
    return (digit | upper).all(axis=1), np.where(check == 10, ord("X"), np.where(check == 11, ord("0"), 48 + check))


def duplicate_error(t: Table, i: int) -> RecordError:
    """The error for the record at position ``i`` of ``t``, discarded as a repeat of an earlier accepted id: rejected
    input with every field readable, as :func:`engine.data.records.validate_rows` gives it."""
    rid = str(t.ids[i])
    return RecordError(msg("record.duplicate_id", id=rid), t.record_type, int(t.rows[i]), rid, "id", rid,
                       readable=row_fields(t, i))


def finish_tables(validated: dict[str, Validated], known_ids: dict[str, Column] | None = None,
                  duplicate_of: dict[str, np.ndarray] | None = None, rejected: dict[str, dict[Any, int]] | None = None
                  ) -> tuple[Tables, list[RecordError], list[RecordWarning]]:
    """Drop duplicate ids (the first accepted record wins), add the dataset-level warnings, sort by id.

    ``known_ids`` gives, per referenced record type, the id column of the whole dataset's table (for a chunk of it);
    by default the tables themselves. ``duplicate_of`` gives, per record type, the rows known (from a pass over the
    whole dataset) to repeat an earlier accepted id: for those types the tables' own ids are not compared again.
    ``rejected`` gives, per record type, the rows of the rejected records' readable ids: a reference to one is
    warned about as a rejected record, not an absent one (default: those among ``validated``'s errors).
    """
    errors: list[RecordError] = []
    warnings: list[RecordWarning] = []
    tables: Tables = {}
    for rtype in RECORD_TYPES:
        v = validated.get(rtype) or Validated(empty_table(rtype))
        t = v.table
        dup = np.zeros(t.n, dtype=bool)
        if duplicate_of is not None and rtype in duplicate_of:  # found over the whole dataset: these rows included
            dup = np.isin(t.rows, duplicate_of[rtype])
        elif t.n and len(pc.unique(t.columns["id"].arrow())) < t.n:  # only then are the ids needed as Python strings
            dup = pd.Series(t.ids, dtype=object).duplicated(keep="first").to_numpy().copy()
        errs = list(v.errors)
        for i in np.flatnonzero(dup):
            errs.append(duplicate_error(t, int(i)))
        errs.sort(key=lambda e: e.row or 0)
        errors += errs
        warnings += v.warnings
        tables[rtype] = t.take(np.flatnonzero(~dup)) if dup.any() else t
    for rtype, t in tables.items():
        # Arrow sorts UTF-8 bytes, which is code-point order, as Python compares str (and three times faster)
        tables[rtype] = t.take(_np(pc.array_sort_indices(t.columns["id"].arrow()))) if t.n else t
    if rejected is None:
        rejected = rejected_rows(rejected_records(errors))
    for (rtype, fld), target in REFERENCES.items():
        t = tables[rtype]
        col = t.columns[fld]
        pool = known_ids[target] if known_ids is not None and target in known_ids else tables[target].columns["id"]
        # the positions are remembered by the column: the rules' lookups through it reuse them
        bad = np.flatnonzero(col.known & (col.positions_in(pool) < 0))
        values, ids = col.arrow(), t.columns["id"].arrow()  # a few rows: no need for the whole column in Python
        for i in bad:
            ref = values[int(i)].as_py()
            warnings.append(RecordWarning(dangling_message(rtype, fld, ref, target, rejected.get(target, {}).get(ref)),
                                          rtype, int(t.rows[i]), str(ids[int(i)].as_py()), fld))
    ent = tables["enterprises"]
    if ent.n:
        ids = ent.ids
        region = ent.columns["region_code"].data
        codes = _code_points(ids, 18)
        other_city = (codes[:, 2:6] != _code_points(region, 6)[:, :4]).any(axis=1)
        applicable, expected = _org_check(ids)
        wrong = applicable & (codes[:, 16] != expected)
        for i in np.flatnonzero(other_city | wrong):
            row, eid = int(ent.rows[i]), str(ids[i])
            registered = eid[2:8]
            if other_city[i]:
                warnings.append(RecordWarning(msg("record.other_city", region=region[i], registered=registered),
                                              "enterprises", row, eid, "region_code"))
            if wrong[i]:
                warnings.append(RecordWarning(msg("record.org_code", code=eid[8:17], expected=chr(expected[i])),
                                              "enterprises", row, eid, "id"))
    order = {t: i for i, t in enumerate(RECORD_TYPES)}
    warnings.sort(key=lambda w: (order.get(w.record_type, -1), w.row or 0))
    return tables, errors, warnings


def csv_text_options(path: Path, block_size: int = 1 << 20) -> Any:
    """Arrow CSV options that read every column of ``path`` as text, empty cells as "" (the header is read with
    the caller's ``block_size``, so a first row as long as the caller accepts does not stop it)."""
    import pyarrow.csv as pacsv

    header = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=block_size)).schema.names
    return pacsv.ConvertOptions(column_types={h: pa.string() for h in header}, strings_can_be_null=False,
                                quoted_strings_can_be_null=False)


def read_csv_columns(path: Path) -> dict[str, pa.Array]:
    """A CSV file's columns as text (empty cells as ""), or FatalError in one line."""
    import pyarrow.csv as pacsv

    try:
        table = pacsv.read_csv(path, convert_options=csv_text_options(path))
    except (pa.ArrowInvalid, OSError) as exc:
        raise FatalError(msg("csv.unreadable", path=path, problem=str(exc).splitlines()[0])) from None
    return {str(name).strip(): table.column(name).combine_chunks() for name in table.column_names}
