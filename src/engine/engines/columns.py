"""Records as typed columns: the form the vectorised backend evaluates.

A :class:`Table` holds one record type's accepted records, **sorted by id** (the order the reference evaluator
iterates related records in), as numpy arrays:

- money: int64 fen (exact; den 100); whole numbers: int64 (den 1);
- dates: int64 days since 1970-01-01;
- booleans: bool; text, codes and enums: object arrays of ``str``;

each with a ``known`` mask (False where the record has no value). Tables come from a validated
:class:`~engine.data.records.Dataset` (small inputs) or straight from the vectorised validator (files, streams).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.data.records import RECORD_TYPES, Dataset, Kind, field_kinds

__all__ = ["Column", "Table", "Tables", "EPOCH_ORDINAL", "SPACE_CHARS", "SPACE_RE2", "day_number", "day_numbers", "tables_from_dataset",
           "empty_table", "cell_value", "row_fields", "stored_cell"]

EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
# The characters Python's str.isspace() (so str.strip() and re's \s) accepts, as an RE2 class for Arrow kernels.
SPACE_CHARS = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
               "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")  # the same characters, for utf8_trim
SPACE_RE2 = r"[\t\n\x{0B}\f\r \x{1C}-\x{1F}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]"


def day_number(day: dt.date) -> int:
    """Days since 1970-01-01: how dates are stored in columns."""
    return day.toordinal() - EPOCH_ORDINAL


_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def day_numbers(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days since 1970-01-01 of each (year, month, day), and whether it is a real date of the Gregorian calendar.

    Vectorised days-from-civil (H. Hinnant's algorithm); years 1–9999 as ``datetime.date`` accepts them.
    """
    real = (year >= 1) & (year <= 9999) & (month >= 1) & (month <= 12) & (day >= 1)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    last = _MONTH_DAYS[np.clip(month, 1, 12) - 1] + ((month == 2) & leap)
    real &= day <= last
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return np.where(real, era * 146097 + doe - 719468, 0), real


class Column:
    """One field of a table: its kind, values (meaningful where ``known``) and, for numbers, the denominator.

    A text column may be given as an Arrow string array instead of ``data``: the object array of Python
    strings is then made only when something reads ``data`` (most rules read few of a record's text fields,
    and a streamed partition goes from Arrow to Parquet and back without them).
    """

    __slots__ = ("kind", "_data", "_arrow", "known", "den", "exp", "_index")

    def __init__(self, kind: str, data: np.ndarray | None, known: np.ndarray, den: int = 1, exp: int | None = 0,
                 arrow: Any = None):
        if data is None and arrow is None:
            raise ValueError("a column needs data or an Arrow array")
        self.kind = kind  # num, str, date, bool
        self._data = data
        self._arrow = arrow
        self.known = known
        self.den = den
        self.exp = exp  # the Decimal exponent of the record's value (money -2, whole numbers 0)
        self._index: tuple[Column, np.ndarray] | None = None  # positions_in's last answer

    @property
    def data(self) -> np.ndarray:
        """The values as numpy (text as an object array of str)."""
        if self._data is None:
            self._data = np.asarray(self._arrow.to_numpy(zero_copy_only=False), dtype=object)
        return self._data

    @data.setter
    def data(self, values: np.ndarray) -> None:
        self._data, self._arrow, self._index = values, None, None

    def replace(self, idx: np.ndarray, values: list[Any]) -> None:
        """Set the values at rows ``idx`` (ascending), in whichever form the column holds them."""
        self._index = None
        if self._data is None:
            mask = np.zeros(len(self), dtype=bool)
            mask[idx] = True
            self._arrow = pc.replace_with_mask(self._arrow, pa.array(mask), pa.array(values, self._arrow.type))
        else:
            self._data[idx] = values
            self._arrow = None

    def arrow(self) -> Any:
        """The values as an Arrow array (text as strings), without a copy when the column was made from one."""
        if self._arrow is None:
            self._arrow = pa.array(self._data, pa.string()) if self.kind == "str" else pa.array(self._data)
        return self._arrow

    def positions_in(self, target: Column) -> np.ndarray:
        """Each value's position in ``target``, a column of distinct values (a table's ids); −1 where the value is
        unknown or not there. Remembered for the last target, so a reference is looked up once per table."""
        if self._index is None or self._index[0] is not target:
            out = np.full(len(self), -1, dtype=np.int64)
            if len(self) and len(target):  # Arrow's hash lookup of UTF-8 strings: no Python string comparisons
                found = pc.index_in(self.arrow(), value_set=target.arrow())
                out = np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
                out[~self.known] = -1
            self._index = (target, out)
        return self._index[1]

    def take(self, pos: np.ndarray) -> "Column":
        """The values at these positions (in Arrow when the text was never read as Python strings)."""
        if self._data is None:
            return Column(self.kind, None, self.known[pos], self.den, self.exp,
                          arrow=self._arrow.take(pa.array(pos, pa.int64())))
        return Column(self.kind, self._data[pos], self.known[pos], self.den, self.exp)

    def __len__(self) -> int:
        return len(self.known)

    def __repr__(self) -> str:
        return f"Column({self.kind}, n={len(self)})"


@dataclass
class Table:
    """One record type's accepted records as columns, sorted by id; ``rows`` are their 1-based input rows."""

    record_type: str
    columns: dict[str, Column]
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n(self) -> int:
        """How many records."""
        return len(self.columns["id"])

    @property
    def ids(self) -> np.ndarray:
        """The record ids (object array of str), ascending."""
        return self.columns["id"].data

    def take(self, pos: np.ndarray) -> "Table":
        """The records at these positions (which must keep ascending id order)."""
        return Table(self.record_type, {name: c.take(pos) for name, c in self.columns.items()}, self.rows[pos])


Tables = dict[str, Table]


def cell_value(col: Column, i: int) -> Any:
    """One known cell as the record model holds its value (Decimal, date, bool, str)."""
    cell = col.data[i]
    if col.kind == "num":
        return Decimal(int(cell)) / col.den if col.den != 1 else Decimal(int(cell))
    if col.kind == "date":
        return dt.date.fromordinal(int(cell) + EPOCH_ORDINAL)
    if col.kind == "bool":
        return bool(cell)
    return str(cell)


def row_fields(t: Table, i: int) -> tuple[tuple[str, Any], ...]:
    """Every field of the record at position ``i`` as (name, value) pairs (None where empty), in field order."""
    return tuple((name, cell_value(t.columns[name], i) if t.columns[name].known[i] else None)
                 for name in field_kinds(t.record_type))

_DTYPES = {"num": np.int64, "date": np.int64, "bool": np.bool_, "str": object}


def kind_of(kind: Kind) -> tuple[str, int, int | None]:
    """The column kind, denominator and Decimal exponent for a field kind."""
    if kind.name == "money":
        return "num", 100, -2
    if kind.name == "int":
        return "num", 1, 0
    if kind.name == "date":
        return "date", 1, None
    if kind.name == "bool":
        return "bool", 1, None
    return "str", 1, None


def empty_table(record_type: str) -> Table:
    """A table with no records."""
    cols = {}
    for name, kind in field_kinds(record_type).items():
        ck, den, exp = kind_of(kind)
        cols[name] = Column(ck, np.zeros(0, dtype=_DTYPES[ck]), np.zeros(0, dtype=bool), den, exp)
    return Table(record_type, cols)


def stored_cell(value: Any, ck: str, den: int) -> Any:
    """One validated value as a column stores it: a number as an integer of ``1/den`` units, a date as a day number."""
    if ck == "num":
        return int(Decimal(value) * den)
    if ck == "date":
        return day_number(value)
    return value


def tables_from_dataset(dataset: Dataset) -> Tables:
    """The accepted records of a dataset as tables (a per-record conversion: for datasets that fit in memory)."""
    out: Tables = {}
    for rtype in RECORD_TYPES:
        recs = sorted(dataset.records[rtype], key=lambda r: r.id)
        cols: dict[str, Column] = {}
        for name, kind in field_kinds(rtype).items():
            ck, den, exp = kind_of(kind)
            values = [getattr(r, name) for r in recs]
            known = np.array([v is not None for v in values], dtype=bool)
            fill = {"num": 0, "date": 0, "bool": False, "str": ""}[ck]
            data = np.empty(len(values), dtype=_DTYPES[ck])
            data[:] = [fill if v is None else stored_cell(v, ck, den) for v in values] if values else []
            cols[name] = Column(ck, data, known, den, exp)
        rows = np.array([dataset.rows[(rtype, r.id)] for r in recs], dtype=np.int64)
        out[rtype] = Table(rtype, cols, rows)
    return out
