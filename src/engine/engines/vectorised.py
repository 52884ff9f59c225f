"""The vectorised backend: the rule tree evaluated a column at a time over numpy arrays.

Every expression node becomes one operation over all subjects at once (never one per record):

- **exact numbers**: a number is a rational column, an int64 (or, when a product could overflow, Python-int)
  numerator over a denominator; money enters as fen over 100. ``fund >= 0.015 * wages`` is decided as
  ``1000·fund_fen ≥ 15·wages_fen``; never a binary float;
- **Kleene logic**: every value has a ``known`` mask; an unknown one carries its missing facts as a bitmask
  (one bit per fact the rule can read), its notes as a bitmask (parameters not configured) plus a sparse map
  for per-record notes (a related record not in the dataset), and an ``err`` mask (division by zero);
- **related records**: a many-lookup (an enterprise's agreements) is a join of subject rows to related rows
  ordered by id; comprehensions evaluate over the pairs and aggregate back per subject (any/all/count/sum/join);
- **reasons**: templates are filled by Arrow string kernels, formatted exactly as :func:`format_value` does.

The result of a rule is a :class:`DecisionColumns` batch. The reference evaluator stays the definition: the
tests compare both on generated datasets, decision for decision, reason for reason. A construct this module
does not vectorise (unary minus, lists in templates, …) raises :class:`Unsupported` when the engine is built,
and that rule is decided by the reference evaluator instead (``VectorisedEngine.fallback_rules``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any, Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.engines.columns import SPACE_RE2, Column, Table, Tables, day_number, empty_table, tables_from_dataset
from engine.output import reasons
from engine.output.decisions import Decision, build_document
from engine.output.terms import AMOUNT_KEYS, NOT_APPLICABLE, STATUSES, UNDETERMINED
from engine.errors import EvaluationError
from engine.messages import msg
from engine.language.expressions import (CJK_PUNCTUATION, Attr, Binary, Call, Comp, Index, Lit, Name, Node, Template, Unary,
                           tidy_piece)
from engine.policy.packs import Pack, Rule
from engine.policy.params import schedule
from engine.data.records import RECORD_TYPES, REFERENCES, Dataset, RecordModel, Rejected
from engine.engines.rejected import Taint, rejected_reasons, restate

__all__ = ["DecisionColumns", "Unsupported", "VectorisedEngine", "decide_rule", "taint_columns", "rejected_columns"]

_LIMIT = 2**62


class Unsupported(Exception):
    """A rule uses a construct the vectorised backend does not evaluate; the reference evaluator decides it."""


# ---------------------------------------------------------------------------------------------- exact integers


def _beyond_bound(num: Any, den: Any) -> np.ndarray:
    """Rows whose amount num/den is at or beyond the money bound (MAX_YUAN yuan), exactly."""
    from engine.data.records import MAX_YUAN

    if isinstance(den, int) and isinstance(num, np.ndarray) and num.dtype != object:
        threshold = den * MAX_YUAN
        if threshold > _LIMIT:
            return np.zeros(len(num), dtype=bool)  # an int64 numerator never reaches it
        return np.abs(num) >= threshold  # int64 throughout: the common case costs one pass
    limit = np.asarray(den, dtype=object) * MAX_YUAN if not isinstance(den, int) else den * MAX_YUAN
    return np.asarray(np.abs(np.asarray(num, dtype=object)) >= limit, dtype=bool)


def _bound(x: Any) -> float:
    if isinstance(x, (int, np.integer)):
        return abs(int(x))
    if x.dtype == object:
        return math.inf
    return float(np.abs(x).max()) if x.size else 0.0


def _obj(x: Any) -> Any:
    if isinstance(x, np.ndarray) and x.dtype != object:
        return x.astype(object)
    return x


def _mul(a: Any, b: Any) -> Any:
    """a × b exactly: int64 when the product surely fits, Python ints otherwise."""
    if _bound(a) * _bound(b) < _LIMIT:
        return a * b
    return _obj(a) * _obj(b)


def _add(a: Any, b: Any, sign: int = 1) -> Any:
    if _bound(a) + _bound(b) < _LIMIT:
        return a + sign * b
    return _obj(a) + sign * _obj(b)


def _round_half_up(num: Any, den: Any) -> Any:
    """round(num / den) with ties away from zero (Decimal's ROUND_HALF_UP); den > 0."""
    neg = num < 0
    mag = np.where(neg, -num, num) if isinstance(num, np.ndarray) else (-num if neg else num)
    q = _add(_mul(mag, 2), den) // _mul(den, 2)
    return np.where(neg, -q, q)


def _ceil_div(num: Any, den: Any) -> Any:
    return -((-num) // den)


# ---------------------------------------------------------------------------------------------- values


class Registry:
    """Bit positions of the missing facts and constant notes one rule can produce."""

    def __init__(self) -> None:
        self.facts: dict[str, int] = {}
        self.notes: dict[str, int] = {}

    def bit(self, table: dict[str, int], name: str) -> int:
        """The bit for a fact or note, allocated on first use."""
        if name not in table:
            if len(table) >= 62:
                raise Unsupported("more than 62 distinct missing facts in one rule")
            table[name] = len(table)
        return 1 << table[name]

    def decode(self, table: dict[str, int], mask: int) -> list[str]:
        """The names set in a mask, sorted."""
        return sorted(name for name, i in table.items() if mask >> i & 1)


class V:
    """A column of values of one kind with Kleene unknowns (see the module docstring)."""

    __slots__ = ("kind", "data", "known", "miss", "cn", "dn", "err", "den", "exp", "table", "key", "source")

    def __init__(self, kind: str, data: Any, known: np.ndarray, miss: np.ndarray | None = None,
                 cn: np.ndarray | None = None, dn: dict[int, frozenset[str]] | None = None,
                 err: np.ndarray | None = None, den: Any = 1, exp: int | None = None,
                 table: Table | None = None, key: "V | None" = None):
        n = len(known)
        self.kind, self.data, self.known = kind, data, known
        self.miss = np.zeros(n, dtype=np.int64) if miss is None else miss
        self.cn = np.zeros(n, dtype=np.int64) if cn is None else cn
        self.dn = dn or {}
        self.err = err
        self.den, self.exp, self.table, self.key = den, exp, table, key
        self.source: tuple[Column, np.ndarray] | None = None  # text read from a column: (column, positions)

    @property
    def n(self) -> int:
        return len(self.known)

    def text(self) -> pa.Array:
        """Text values as an Arrow string array, "" where unknown (from the column's Arrow form if read from one)."""
        if self.source is not None:
            return pc.if_else(pa.array(self.known), self.source[0].arrow().take(pa.array(self.source[1], pa.int64())),
                              _lit(""))
        return _s(np.where(self.known, self.data, ""))

    def take(self, idx: np.ndarray) -> "V":
        """The values at these rows."""
        dn: dict[int, frozenset[str]] = {}
        if self.dn:
            keys = np.fromiter(self.dn, dtype=np.int64, count=len(self.dn))
            for j in np.flatnonzero(np.isin(idx, keys)):
                dn[int(j)] = self.dn[int(idx[j])]
        den = self.den[idx] if isinstance(self.den, np.ndarray) else self.den
        out = V(self.kind, self.data[idx], self.known[idx], self.miss[idx], self.cn[idx], dn,
                None if self.err is None else self.err[idx], den, self.exp, self.table,
                None if self.key is None else self.key.take(idx))
        if self.source is not None:
            out.source = (self.source[0], self.source[1][idx])
        return out


def _const(kind: str, value: Any, n: int, den: int = 1, exp: int | None = None) -> V:
    data = np.empty(n, dtype=object) if kind == "str" else np.full(n, value, dtype=np.bool_ if kind == "bool" else np.int64)
    if kind == "str":
        data[:] = value
    return V(kind, data, np.ones(n, dtype=bool), den=den, exp=exp)


_FIRST_DAY, _LAST_DAY = day_number(dt.date.min), day_number(dt.date.max)


def _iso_day(days: int) -> str:
    """A day number outside datetime.date's years as the reference prints it (its LateDate: civil from days)."""
    z = days + 719468
    era, doe = divmod(z, 146097)
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = mp + 3 if mp < 10 else mp - 9
    return f"{yoe + era * 400 + (month <= 2):04d}-{month:02d}-{doy - (153 * mp + 2) // 5 + 1:02d}"


def _decimal_parts(d: Decimal) -> tuple[int, int, int]:
    exponent = d.as_tuple().exponent
    assert isinstance(exponent, int)
    num, den = (int(d), 1) if exponent >= 0 else (int(d.scaleb(-exponent)), 10 ** (-exponent))
    if abs(num) >= _LIMIT or den >= _LIMIT:  # a 20-digit literal or 19 decimals: beyond int64 columns
        raise Unsupported("a number beyond 18 digits")
    return num, den, exponent


def _or_err(*errs: np.ndarray | None) -> np.ndarray | None:
    out = None
    for e in errs:
        if e is not None:
            out = e.copy() if out is None else (out | e)
    return out


def _mask_err(err: np.ndarray | None, where: np.ndarray) -> np.ndarray | None:
    return None if err is None else (err & where)


def _union_dn(parts: Iterable[dict[int, frozenset[str]]], unknown: np.ndarray) -> dict[int, frozenset[str]]:
    out: dict[int, frozenset[str]] = {}
    for dn in parts:
        for i, s in dn.items():
            if unknown[i]:
                out[i] = out.get(i, frozenset()) | s
    return out


def _merge_unknown(vals: Sequence[V], unknown: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[int, frozenset[str]]]:
    """Missing facts and notes of the unknown operands, on the rows where the result is unknown."""
    miss = np.zeros(len(unknown), dtype=np.int64)
    cn = np.zeros(len(unknown), dtype=np.int64)
    for v in vals:
        miss |= v.miss
        cn |= v.cn
    miss[~unknown] = 0
    cn[~unknown] = 0
    return miss, cn, _union_dn((v.dn for v in vals), unknown)


def _bool(data: np.ndarray, known: np.ndarray, operands: Sequence[V], err: np.ndarray | None = None) -> V:
    miss, cn, dn = _merge_unknown(operands, ~known)
    return V("bool", np.where(known, data, False), known, miss, cn, dn, err)


# ---------------------------------------------------------------------------------------------- evaluation state


@dataclass
class ListRel:
    """A many-lookup: the records of ``table`` whose ``by`` equals ``key`` (ordered by id)."""

    table: Table
    by: str
    key: V
    target: Column | None = None  # the ids ``by`` refers to (``by`` and ``key`` are joined by position in them)
    pairs: tuple[np.ndarray, np.ndarray] | None = None  # _pairs, once computed

    def take(self, idx: np.ndarray) -> "ListRel":
        """The lookup for rows ``idx``; its pairs come from this one's when known and idx is increasing."""
        child = ListRel(self.table, self.by, self.key.take(idx), self.target)
        if self.pairs is not None and (len(idx) < 2 or bool(np.all(idx[1:] > idx[:-1]))):
            rows, pos = self.pairs
            inverse = np.full(self.key.n, -1, dtype=np.int64)
            inverse[idx] = np.arange(len(idx))
            mapped = inverse[rows]
            keep = mapped >= 0
            child.pairs = (mapped[keep], pos[keep])  # increasing idx keeps the row order
        return child


class Params:
    """Parameter values per row (they depend on each row's reference date)."""

    def __init__(self, cols: dict[str, V]):
        self.cols = cols

    def take(self, idx: np.ndarray) -> "Params":
        return Params({k: v.take(idx) for k, v in self.cols.items()})


class Env:
    """Names bound for an evaluation over ``n`` rows; a child over other rows gathers the parent's lazily."""

    def __init__(self, n: int, names: dict[str, Any], ctx: "Ctx", parent: "Env | None" = None,
                 idx: np.ndarray | None = None):
        self.n, self.names, self.ctx, self.parent, self.idx = n, names, ctx, parent, idx

    def get(self, name: str) -> Any:
        if name in self.names:
            return self.names[name]
        if self.parent is None:
            raise KeyError(name)
        value = self.parent.get(name)
        assert self.idx is not None
        taken = value.take(self.idx)
        self.names[name] = taken
        return taken

    def has(self, name: str) -> bool:
        return name in self.names or (self.parent is not None and self.parent.has(name))

    def subset(self, idx: np.ndarray, extra: dict[str, Any] | None = None) -> "Env":
        """The same names over rows ``idx`` of this environment."""
        return Env(len(idx), dict(extra or {}), self.ctx, self, idx)


@dataclass
class Ctx:
    """What an evaluation reads: the tables and the rule's bit registry."""

    tables: Tables
    reg: Registry


# ---------------------------------------------------------------------------------------------- expressions


def ev(node: Node, env: Env) -> Any:
    """Evaluate a checked expression over every row of ``env``."""
    n = env.n
    if isinstance(node, Lit):
        if isinstance(node.value, bool):
            return _const("bool", node.value, n)
        if isinstance(node.value, Decimal):
            num, den, exp = _decimal_parts(node.value)
            return _const("num", num, n, den, exp)
        if isinstance(node.value, str):
            return _const("str", node.value, n)
        raise Unsupported(f"literal {node.value!r}")
    if isinstance(node, Name):
        if node.name == "param":
            return env.get("param")
        if env.has(node.name):
            return env.get(node.name)
        return ("table", node.name)
    if isinstance(node, Attr):
        obj = ev(node.obj, env)
        if isinstance(obj, Params):
            return obj.cols[node.name]
        if isinstance(obj, V) and obj.kind == "rec":
            return _read_field(obj, node.name, env.ctx)
        raise Unsupported(f"attribute {node.name} of {type(obj).__name__}")
    if isinstance(node, Index):
        table = ev(node.obj, env)
        key = ev(node.key, env)
        if not (isinstance(table, tuple) and isinstance(key, V)):
            raise Unsupported("index")
        t = env.ctx.tables[table[1]]
        return V("rec", _positions(t.columns["id"], key), np.ones(n, dtype=bool), err=key.err, table=t, key=key)
    if isinstance(node, Unary):
        if node.op != "not":
            raise Unsupported("unary minus")
        v = ev(node.operand, env)
        return V("bool", np.where(v.known, ~v.data, False), v.known, v.miss, v.cn, v.dn, v.err)
    if isinstance(node, Binary):
        return _binary(node, env)
    if isinstance(node, Comp):
        return _comp(node.func, node.elem, node.var, node.iterable, node.cond, env)
    if isinstance(node, Call):
        return _call(node, env)
    raise Unsupported(type(node).__name__)


def _read_field(rec: V, name: str, ctx: Ctx) -> V:
    t = rec.table
    assert t is not None and rec.key is not None
    fact = ctx.reg.bit(ctx.reg.facts, f"{t.record_type}.{name}")
    col = t.columns[name]
    pos = rec.data
    present = pos >= 0
    safe = np.where(present, pos, 0)
    if t.n:
        data, known = col.data[safe], present & col.known[safe]
    else:
        data, known = np.zeros(len(pos), dtype=col.data.dtype), np.zeros(len(pos), dtype=bool)
    miss = np.where(known, 0, fact).astype(np.int64)
    cn = np.zeros(len(pos), dtype=np.int64)
    dn: dict[int, frozenset[str]] = {}
    absent = ~present
    if absent.any():
        key = rec.key
        via_key = absent & ~key.known
        miss[via_key] |= key.miss[via_key]
        cn[via_key] |= key.cn[via_key]
        for i, s in key.dn.items():
            if via_key[i]:
                dn[i] = s
        for i in np.flatnonzero(absent & key.known):
            dn[int(i)] = frozenset({reasons.absent_record(t.record_type, key.data[i])})
    out = V(col.kind, data, known, miss, cn, dn, rec.err, col.den, col.exp)
    if col.kind == "str" and t.n:
        out.source = (col, safe)
    return out


_CMP = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}


def _binary(node: Binary, env: Env) -> V:
    if node.op in ("and", "or"):
        left = ev(node.left, env)
        right = ev(node.right, env)
        lt, lf = left.known & left.data, left.known & ~left.data
        rt, rf = right.known & right.data, right.known & ~right.data
        if node.op == "and":
            decided_false = lf | rf
            value_true = lt & rt
            err = _or_err(left.err, _mask_err(right.err, ~lf))
            known = decided_false | value_true
            return _bool(value_true, known, [left, right], err)
        decided_true = lt | rt
        known = decided_true | (lf & rf)
        err = _or_err(left.err, _mask_err(right.err, ~lt))
        return _bool(decided_true, known, [left, right], err)
    a, b = ev(node.left, env), ev(node.right, env)
    known = a.known & b.known
    err = _or_err(a.err, b.err)
    if node.op in _CMP:
        if a.kind == "num":
            x, y = _mul(a.data, b.den), _mul(b.data, a.den)
        elif a.kind == "rec" or b.kind == "rec":
            raise Unsupported("comparing records")
        else:
            x, y = a.data, b.data
        res = np.asarray(_CMP[node.op](x, y), dtype=bool) if len(known) else np.zeros(0, dtype=bool)
        return _bool(res & known, known, [a, b], err)
    if a.kind != "num" or b.kind != "num":
        raise Unsupported(f"{node.op} on {a.kind}")
    miss, cn, dn = _merge_unknown([a, b], ~known)
    if node.op in ("+", "-"):
        sign = 1 if node.op == "+" else -1
        exp = None if a.exp is None or b.exp is None else min(a.exp, b.exp)
        if isinstance(a.den, int) and isinstance(b.den, int):
            den = math.lcm(a.den, b.den)
            num = _add(_mul(a.data, den // a.den), _mul(b.data, den // b.den), sign)
        else:
            num, den = _add(_mul(a.data, b.den), _mul(b.data, a.den), sign), _mul(a.den, b.den)
        return V("num", np.where(known, num, 0), known, miss, cn, dn, err, den, exp)
    if node.op == "*":
        exp = None if a.exp is None or b.exp is None else a.exp + b.exp
        return V("num", np.where(known, _mul(a.data, b.data), 0), known, miss, cn, dn, err, _mul(a.den, b.den), exp)
    if node.op == "/":
        zero = known & (b.data == 0)
        num = _mul(a.data, b.den)
        den = _mul(b.data, a.den)
        den = np.where(zero | ~known, 1, den)
        neg = den < 0
        num, den = np.where(neg, -num, num), np.where(neg, -den, den)
        if zero.any():
            err = zero if err is None else (err | zero)
        return V("num", np.where(known, num, 0), known, miss, cn, dn, err, den, None)
    raise Unsupported(node.op)


def _call(node: Call, env: Env) -> V:
    f, n = node.func, env.n
    if f in ("any", "all", "count", "sum", "join"):
        return _comp(f, Name(node.pos, "\0it"), "\0it", node.args[0], None, env)
    if f == "date":
        return _const("date", day_number(dt.date.fromisoformat(node.args[0].value)), n)  # type: ignore[attr-defined]
    if f in ("known", "missing"):
        v = ev(node.args[0], env)
        return V("bool", v.known.copy() if f == "known" else ~v.known, np.ones(n, dtype=bool), err=v.err)
    if f == "coalesce":
        a, b = ev(node.args[0], env), ev(node.args[1], env)
        use_b = ~a.known
        known = a.known | b.known
        data = np.where(use_b, b.data, a.data)
        den: Any = a.den
        ints = isinstance(a.den, int) and isinstance(b.den, int)  # a quotient of columns has one per row
        if a.kind == "num" and (not ints or a.den != b.den):
            if ints:
                den = math.lcm(a.den, b.den)
                data = np.where(use_b, _mul(b.data, den // b.den), _mul(a.data, den // a.den))
            else:
                raise Unsupported("coalesce of numbers with row denominators")
        miss, cn, dn = _merge_unknown([b], ~known)
        err = _or_err(a.err, _mask_err(b.err, use_b))
        exp = a.exp if a.exp == b.exp else None
        return V(a.kind, data, known, miss, cn, dn, err, den, exp, a.table, a.key)
    if f == "valid_on":
        ag, day = ev(node.args[0], env), ev(node.args[1], env)
        frm = _read_field(ag, "valid_from", env.ctx)
        t = ag.table
        assert t is not None
        to_col = t.columns["valid_to"]
        safe = np.where(ag.data >= 0, ag.data, 0)
        to_known = to_col.known[safe] if t.n else np.zeros(n, dtype=bool)
        to = to_col.data[safe] if t.n else np.zeros(n, dtype=np.int64)
        value = (frm.data <= day.data) & (~to_known | (day.data <= to))
        known = day.known & frm.known
        # the evaluator returns the day's unknown first, else the record's
        use_day = ~day.known
        miss = np.where(use_day, day.miss, frm.miss)
        cn = np.where(use_day, day.cn, frm.cn)
        dn = {i: s for i, s in day.dn.items() if use_day[i]} | {i: s for i, s in frm.dn.items() if not use_day[i]}
        miss[known], cn[known] = 0, 0
        return V("bool", value & known, known, miss, cn, dn, _or_err(ag.err, day.err))
    args = [ev(a, env) for a in node.args]
    known = np.logical_and.reduce([a.known for a in args]) if args else np.ones(n, dtype=bool)
    miss, cn, dn = _merge_unknown(args, ~known)
    err = _or_err(*(a.err for a in args))
    a = args[0]
    if f in ("min", "max"):
        b = args[1]
        if a.kind == "num":
            if not (isinstance(a.den, int) and isinstance(b.den, int)):
                raise Unsupported("min/max of ratios")
            den = math.lcm(a.den, b.den)
            x, y = _mul(a.data, den // a.den), _mul(b.data, den // b.den)
            data = np.minimum(x, y) if f == "min" else np.maximum(x, y)
            return V("num", np.where(known, data, 0), known, miss, cn, dn, err, den, a.exp if a.exp == b.exp else None)
        data = np.minimum(a.data, args[1].data) if f == "min" else np.maximum(a.data, args[1].data)
        return V(a.kind, np.where(known, data, 0), known, miss, cn, dn, err)
    if f == "add_years":
        years = _exact_int(args[1])
        return V("date", np.where(known, _add_years(a.data, years), 0), known, miss, cn, dn, err)
    if f == "days_between":
        return V("num", np.where(known, args[1].data - a.data, 0), known, miss, cn, dn, err, 1, 0)
    if f == "year":
        return V("num", np.where(known, _civil(a.data)[0], 0), known, miss, cn, dn, err, 1, 0)
    if f in ("ceil_fen", "round_fen"):
        scaled = _mul(a.data, 100)
        fen = _ceil_div(scaled, a.den) if f == "ceil_fen" else _round_half_up(scaled, a.den)
        return V("num", np.where(known, fen, 0), known, miss, cn, dn, err, 100, -2)
    if f == "starts_with":
        data = np.array([str(x).startswith(str(y)) for x, y in zip(a.data, args[1].data)], dtype=bool)
        return V("bool", data & known, known, miss, cn, dn, err)
    raise Unsupported(f"function {f}")


def _exact_int(v: V) -> np.ndarray:
    if not isinstance(v.den, int):
        raise Unsupported("a ratio where a whole number is needed")
    return np.asarray(v.data // v.den, dtype=np.int64)


def _civil(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = np.asarray(days, dtype="datetime64[D]")
    y = d.astype("datetime64[Y]")
    m = d.astype("datetime64[M]")
    year = y.astype(np.int64) + 1970
    month = (m - y.astype("datetime64[M]")).astype(np.int64) + 1
    day = (d - m.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def _add_years(days: np.ndarray, years: np.ndarray) -> np.ndarray:
    """add_years, vectorised: same month and day; 29 February becomes 28 February in a common year."""
    year, month, day = _civil(days)
    ny = year + years
    leap = (ny % 4 == 0) & ((ny % 100 != 0) | (ny % 400 == 0))
    day = np.where((month == 2) & (day == 29) & ~leap, 28, day)
    base = (ny - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (month - 1)
    return (base.astype("datetime64[D]") + (day - 1)).astype(np.int64)


# ---------------------------------------------------------------------------------------------- comprehensions


def _pairs(rel: ListRel) -> tuple[np.ndarray, np.ndarray]:
    """(row, related position) pairs, ordered by row then by related id, for rows whose key is known."""
    if rel.pairs is None:
        rel.pairs = _join_pairs(rel)
    return rel.pairs


def _positions(ids: Column, key: V) -> np.ndarray:
    """Position in ``ids`` (a table's ids) of each key, −1 where absent or unknown. A key read from a column is
    looked up through that column's remembered positions: once per column, however many rules ask."""
    if key.source is None:  # computed text: the known keys looked up once
        at = np.full(key.n, -1, dtype=np.int64)
        sel = np.flatnonzero(key.known)
        at[sel] = Column("str", key.data[sel], np.ones(len(sel), dtype=bool)).positions_in(ids)
    else:
        col, pos = key.source
        at = pos if col is ids else col.positions_in(ids)[pos]
    return np.where(key.known, at, -1)


def _key_text(key: V, rows: np.ndarray) -> pa.Array:
    if key.source is not None:
        return key.source[0].arrow().take(pa.array(key.source[1][rows], pa.int64()))
    return pa.array(key.data[rows], pa.string())


def _join_pairs(rel: ListRel) -> tuple[np.ndarray, np.ndarray]:
    t, key = rel.table, rel.key
    rows = np.flatnonzero(key.known)
    if not t.n or not len(rows):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    col = t.columns[rel.by]
    tpos = np.flatnonzero(col.known)
    if rel.target is not None and key.source is not None:
        # both sides as positions in the ids they refer to; values outside them (dangling references) numbered
        # after those ids by their text, so equal text still meets equal text
        left, right = _positions(rel.target, key)[rows], col.positions_in(rel.target)[tpos]
        lout, rout = np.flatnonzero(left < 0), np.flatnonzero(right < 0)
        if len(lout) and len(rout):
            text = pa.concat_arrays([_key_text(key, rows[lout]), col.arrow().take(pa.array(tpos[rout], pa.int64()))])
            extra = len(rel.target) + np.asarray(pc.dictionary_encode(text).indices.to_numpy(), dtype=np.int64)
            left[lout], right[rout] = extra[:len(lout)], extra[len(lout):]
    else:  # one integer code per distinct key on both sides
        import pandas as pd

        codes, _ = pd.factorize(np.concatenate([key.data[rows], col.data[tpos]]).astype(object))
        left, right = codes[:len(rows)], codes[len(rows):]
    # the codes are small integers: the related positions grouped by code (a counting sort), then each row's group
    size = int(max(left.max(initial=0), right.max(initial=0))) + 1
    by_code = np.argsort(right, kind="stable")  # equal keys keep ascending position, i.e. ascending related id
    per_code = np.bincount(right[right >= 0], minlength=size)
    first = np.cumsum(per_code) - per_code + int((right < 0).sum())  # codes −1 (in no table) sort first
    found = left >= 0
    lo = np.where(found, first[np.where(found, left, 0)], 0)
    count = np.where(found, per_code[np.where(found, left, 0)], 0)
    total = int(count.sum())
    starts = np.repeat(lo - (np.cumsum(count) - count), count)  # each pair's place in by_code
    return np.repeat(rows, count), tpos[by_code[starts + np.arange(total)]]


def _groups(rows: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if len(rows) else np.zeros(0, dtype=np.int64)


def _group_or(values: np.ndarray, rows: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.int64)
    if len(starts):
        out[rows[starts]] = np.bitwise_or.reduceat(values, starts)
    return out


def _group_any(flags: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[rows[flags]] = True
    return out


def _comp(func: str, elem: Node, var: str, iterable: Node, cond: Node | None, env: Env) -> V:
    n = env.n
    rel = ev(iterable, env)
    if not isinstance(rel, ListRel):
        raise Unsupported("a comprehension over something that is not a many-lookup")
    rows, pos = _pairs(rel)
    item = V("rec", pos, np.ones(len(pos), dtype=bool), table=rel.table,
             key=_const("str", "", len(pos)))
    inner = env.subset(rows, {var: item})
    c = ev(cond, inner) if cond is not None else None
    e = ev(elem, inner)
    starts = _groups(rows)
    key = rel.key
    if c is not None:
        c_true, c_unknown = c.known & c.data, ~c.known
    else:
        c_true, c_unknown = np.ones(len(rows), dtype=bool), np.zeros(len(rows), dtype=bool)
    # an element is evaluated only where the condition is not false
    err_items = _or_err(None if c is None else c.err, _mask_err(e.err, c_true | c_unknown))
    err = _group_any(err_items, rows, n) if err_items is not None else None
    err = _or_err(key.err, err)
    if func in ("any", "all"):
        if e.kind != "bool":
            raise Unsupported(f"{func} over non-booleans")
        et, ef = e.known & e.data, e.known & ~e.data
        if func == "any":  # item = c and e (c unknown) or e (c true); false items drop out
            it_true = c_true & et  # an unknown condition leaves a true item unknown
            it_false = ~(c_true | c_unknown) | ef
        else:  # item = (not c) or e
            it_true = ~(c_true | c_unknown) | et
            it_false = c_true & ef
        it_unknown = ~(it_true | it_false)
        miss = np.where(it_unknown, (c.miss if c is not None else 0) | e.miss, 0).astype(np.int64)
        cn = np.where(it_unknown, (c.cn if c is not None else 0) | e.cn, 0).astype(np.int64)
        if c is not None:  # exactly kleene_and([c, e]): an unknown e with a true c contributes e only
            only_e = it_unknown & c.known
            miss = np.where(only_e, e.miss, miss)
            cn = np.where(only_e, e.cn, cn)
            only_c = it_unknown & e.known
            miss = np.where(only_c, c.miss, miss)
            cn = np.where(only_c, c.cn, cn)
        hit = _group_any(it_true if func == "any" else it_false, rows, n)
        has_unknown = _group_any(it_unknown, rows, n)
        known = key.known & (hit | ~has_unknown)
        value = hit if func == "any" else ~hit
        rmiss = _group_or(miss, rows, starts, n)
        rcn = _group_or(cn, rows, starts, n)
        dn_items = {}
        for src in ([c.dn] if c is not None else []) + [e.dn]:
            for i, s in src.items():
                if it_unknown[i]:
                    dn_items[i] = dn_items.get(i, frozenset()) | s
        rdn: dict[int, frozenset[str]] = {}
        for i, s in dn_items.items():
            r = int(rows[i])
            rdn[r] = rdn.get(r, frozenset()) | s
        return _finish(V("bool", value & known, known, rmiss, rcn, rdn, err), key)
    # count / sum / join: an unknown condition makes the whole result unknown (its unknowns only)
    cond_unknown = _group_any(c_unknown, rows, n)
    sel = c_true & ~c_unknown
    e_unknown = sel & ~e.known
    elem_unknown = _group_any(e_unknown, rows, n) & ~cond_unknown
    umiss = np.where(c_unknown, c.miss if c is not None else 0, 0).astype(np.int64)
    ucn = np.where(c_unknown, c.cn if c is not None else 0, 0).astype(np.int64)
    umiss = np.where(e_unknown & ~_take_rows(cond_unknown, rows), e.miss, umiss)
    ucn = np.where(e_unknown & ~_take_rows(cond_unknown, rows), e.cn, ucn)
    rmiss, rcn = _group_or(umiss, rows, starts, n), _group_or(ucn, rows, starts, n)
    rdn: dict[int, frozenset[str]] = {}
    if c is not None:
        for i, s in c.dn.items():
            if c_unknown[i]:
                rdn[int(rows[i])] = rdn.get(int(rows[i]), frozenset()) | s
    for i, s in e.dn.items():
        if e_unknown[i] and not cond_unknown[rows[i]]:
            rdn[int(rows[i])] = rdn.get(int(rows[i]), frozenset()) | s
    known = key.known & ~cond_unknown & ~elem_unknown
    rmiss[known], rcn[known] = 0, 0
    rdn = {i: s for i, s in rdn.items() if not known[i]}
    counts = np.bincount(rows[sel], minlength=n) if len(rows) else np.zeros(n, dtype=np.int64)
    if func == "count":
        if e.kind == "bool":
            counts = np.bincount(rows[sel & ~(e.known & ~e.data)], minlength=n) if len(rows) else counts
        return _finish(V("num", np.where(known, counts, 0).astype(np.int64), known, rmiss, rcn, rdn, err, 1, 0), key)
    if func == "sum":
        if e.kind != "num" or not isinstance(e.den, int):
            raise Unsupported("sum of non-numbers")
        vals = np.where(sel & e.known, e.data, 0)
        total = np.zeros(n, dtype=vals.dtype)
        if len(starts):
            total[rows[starts]] = np.add.reduceat(vals, starts)
        # the reference's sum starts from Decimal(0): a row with no items has exponent 0, not the items' (0 vs 0.00),
        # so the written form of the total is known only when the items are whole numbers
        exp = e.exp if e.exp == 0 else None
        return _finish(V("num", np.where(known, total, 0), known, rmiss, rcn, rdn, err, e.den, exp), key)
    if func == "join":
        if e.kind != "str":
            raise Unsupported("join of non-text")
        offsets = np.zeros(n + 1, dtype=np.int64)
        if len(rows):
            np.cumsum(np.bincount(rows[sel & e.known], minlength=n), out=offsets[1:])
        values = pa.array(e.data[sel & e.known], type=pa.string()) if len(rows) else pa.array([], type=pa.string())
        joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), values), "、")
        data = np.asarray(joined.to_numpy(zero_copy_only=False), dtype=object)
        return _finish(V("str", data, known, rmiss, rcn, rdn, err), key)
    raise Unsupported(f"comprehension {func}")


def _take_rows(flags: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return flags[rows] if len(rows) else np.zeros(0, dtype=bool)


def _finish(v: V, key: V) -> V:
    """Rows whose lookup key is unknown: the whole comprehension is that key's unknown."""
    if key.known.all():
        return v
    bad = ~key.known
    v.known = v.known & ~bad
    v.miss = np.where(bad, key.miss, v.miss)
    v.cn = np.where(bad, key.cn, v.cn)
    v.dn = {i: s for i, s in v.dn.items() if not bad[i]} | {i: s for i, s in key.dn.items() if bad[i]}
    return v


# ---------------------------------------------------------------------------------------------- formatting


def _s(values: Any) -> pa.Array:
    return pa.array(values, type=pa.string())


def _lit(text: str) -> pa.Scalar:
    return pa.scalar(text, pa.string())


def _int_text(x: Any) -> pa.Array:
    if isinstance(x, np.ndarray) and x.dtype != object:
        return pa.array(x, type=pa.int64()).cast(pa.string())
    return _s([str(int(v)) for v in x])


def _commas(text: pa.Array) -> pa.Array:
    """Thousands separators in strings of digits: pad to whole groups of three, join the groups with commas,
    trim the padding (slices, not regex passes: twelve times faster)."""
    width = -(-max(1, pc.max(pc.binary_length(text)).as_py() or 1) // 3) * 3
    padded = pc.utf8_lpad(text, width=width, padding=" ")
    groups = [pc.utf8_slice_codeunits(padded, i, i + 3) for i in range(0, width, 3)]
    return pc.utf8_ltrim(pc.binary_join_element_wise(*groups, ","), characters=" ,")


def _fixed(q: Any, neg: np.ndarray, places: int, commas: bool) -> pa.Array:
    """Sign, integer part (with thousands separators) and ``places`` decimals of q / 10**places."""
    mag = np.where(q < 0, -q, q)
    scale = 10**places
    whole = _int_text(mag // scale)
    if commas:
        whole = _commas(whole)
    sign = pc.if_else(pa.array(np.asarray(neg, dtype=bool) & (mag != 0)), _lit("-"), _lit(""))  # a zero has none
    if places == 0:
        return pc.binary_join_element_wise(sign, whole, "")
    frac = pc.utf8_lpad(_int_text(mag % scale), width=places, padding="0")
    return pc.binary_join_element_wise(sign, whole, _lit("."), frac, "")


def money_text(num: Any, den: Any) -> pa.Array:
    """Exact amounts ``num / den`` (yuan) as the document writes money: half up to the fen, two decimals, no commas."""
    return _fixed(_round_half_up(_mul(num, 100), den), num < 0, 2, commas=False)


def format_column(v: V, fmt: str) -> pa.Array:
    """Every row's value as :func:`engine.language.expressions.format_value` writes it; unknown or failed → 未知."""
    n = v.n
    if v.kind == "num":
        if fmt in ("money", "yuan", "percent", "int"):
            places, scale = {"money": (2, 100), "yuan": (2, 100), "percent": (2, 10000), "int": (0, 1)}[fmt]
            q = _round_half_up(_mul(v.data, scale), v.den)
            text = _fixed(q, v.data < 0, places, commas=fmt in ("money", "yuan"))
            if fmt == "yuan":
                text = pc.binary_join_element_wise(_lit("¥"), text, "")
            elif fmt == "percent":
                text = pc.binary_join_element_wise(text, _lit("%"), "")
        elif fmt == "number":  # exact, without trailing zeros: as many places as the denominator needs
            places = next((k for k in range(19) if isinstance(v.den, int) and 10**k % v.den == 0), None)
            if places is None:
                raise Unsupported("a number written with a denominator that is not a divisor of a power of ten")
            text = _fixed(_mul(v.data, 10**places // v.den), v.data < 0, places, commas=False)
            if places:
                text = pc.replace_substring_regex(pc.replace_substring_regex(text, r"0+$", ""), r"\.$", "")
        else:
            if v.exp is None or not -2 <= v.exp <= 0 or not isinstance(v.den, int):
                raise Unsupported("a number written as text whose decimal places are not known")
            scale = 10 ** (-v.exp)
            if scale % v.den:
                raise Unsupported("a number written as text with an unusual denominator")
            text = _fixed(_mul(v.data, scale // v.den), v.data < 0, -v.exp, commas=False)
    elif v.kind == "date":
        days = np.asarray(v.data, dtype=np.int64)
        far = (days < _FIRST_DAY) | (days > _LAST_DAY)  # beyond datetime.date: Arrow cannot print them all
        text = pa.array(np.where(far, 0, days).astype(np.int32), type=pa.int32()).cast(pa.date32()).cast(pa.string())
        if far.any():
            out = np.asarray(text.to_pylist(), dtype=object)
            out[far] = [_iso_day(int(x)) for x in days[far]]
            text = _s(out)
    elif v.kind == "bool":
        text = _s(np.where(v.data, reasons.YES, reasons.NO))
    elif v.kind == "str":
        text = v.text()
    elif v.kind == "rec":
        assert v.table is not None and v.key is not None
        present = v.data >= 0
        ids = v.table.ids[np.where(present, v.data, 0)] if v.table.n else np.full(n, "", dtype=object)
        text = pc.if_else(pa.array(present), _s(ids), v.key.text())  # absent: the key it was looked up by
        shown = present | v.key.known  # an unknown key is 未知, as the reference writes it
        shown = shown if v.err is None else shown & ~v.err
        return pc.if_else(pa.array(shown), text, _lit(reasons.UNKNOWN_VALUE))
    else:
        raise Unsupported(f"formatting {v.kind}")
    ok = v.known if v.err is None else (v.known & ~v.err)
    return pc.if_else(pa.array(ok), text, _lit(reasons.UNKNOWN_VALUE))


_SPACE_CLASS = SPACE_RE2[1:-1]  # the white space characters, inside a [...] class
# a hole's text that cannot join or separate white space: not empty, no white space, no Chinese punctuation at
# either end (inside it, as in "A1、A2", punctuation has no white space beside it to fold)
_NO_FOLD_HOLE = (f"^[^{_SPACE_CLASS}{CJK_PUNCTUATION}]"
                 f"(?:[^{_SPACE_CLASS}]*[^{_SPACE_CLASS}{CJK_PUNCTUATION}])?$")


def render(tpl: Template, env: Env) -> pa.Array:
    """Fill a template for every row of ``env``, then tidy the white space as the reference does.

    A row whose holes are all non-empty, without white space and neither starting nor ending with Chinese
    punctuation is tidied by tidying the literal pieces once (:func:`tidy_piece`); only the other rows are
    folded by regular expressions over the whole text.
    """
    n = env.n
    parts: list[pa.Array | str] = []
    plain = np.ones(n, dtype=bool)
    for part in tpl.parts:
        if isinstance(part, str):
            parts.append(part)
        else:
            node, fmt = part
            v = ev(node, env)
            text = format_column(v, fmt)
            if v.kind not in ("num", "date", "bool"):  # numbers, dates, yes/no and 未知 are always plain
                plain &= _np_bool(pc.match_substring_regex(text, _NO_FOLD_HOLE))
            parts.append(text)
    if not any(isinstance(p, pa.Array) for p in parts):  # no holes: the same text on every row
        return pa.repeat(_lit(tidy_piece("".join(str(p) for p in parts), True, True)), n)
    last = len(parts) - 1
    text = pc.binary_join_element_wise(*[_lit(tidy_piece(p, i == 0, i == last)) if isinstance(p, str) else p
                                         for i, p in enumerate(parts)], "")
    folded = np.flatnonzero(~plain)
    if not len(folded):
        return text
    idx = pa.array(folded, pa.int64())
    raw = pc.binary_join_element_wise(*[_lit(p) if isinstance(p, str) else p.take(idx) for p in parts], "")
    raw = pc.replace_substring_regex(raw, SPACE_RE2 + "+", " ")
    raw = pc.replace_substring_regex(raw, f"{SPACE_RE2}*([{CJK_PUNCTUATION}]){SPACE_RE2}*", r"\1")
    raw = pc.replace_substring_regex(raw, f"^{SPACE_RE2}+|{SPACE_RE2}+$", "")
    return pc.replace_with_mask(text, pa.array(~plain), raw)


def _np_bool(arr: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


# ---------------------------------------------------------------------------------------------- rules


@dataclass
class DecisionColumns:
    """One rule's decisions over a table of subjects, column by column (the vectorised form of Decision)."""

    rule: Rule
    subject_ids: np.ndarray
    status: np.ndarray  # int8 codes: positions in engine.output.terms.STATUSES
    amounts: dict[str, tuple[Any, Any, np.ndarray]]  # key -> (numerators, denominator, present)
    missing: np.ndarray  # object array: each row's missing facts (a sorted list, or () when none)
    reasons: pa.ListArray
    rollup_key: np.ndarray | None  # object array, None where the decision does not roll up
    rollup_period: np.ndarray | None
    error_rows: np.ndarray  # rows whose rule could not be evaluated (division by zero)
    subject_text: Any = None  # the subject ids as an Arrow string array, when the table holds them so
    rejected_inputs: dict[int, list[Rejected]] | None = None  # row → rejected records; None: the run has none

    def __len__(self) -> int:
        return len(self.subject_ids)

    def amount_decimal(self, key: str, i: int) -> Decimal | None:
        """The exact amount of row i."""
        if key not in self.amounts:
            return None
        num, den, present = self.amounts[key]
        if not present[i]:
            return None
        d = den if isinstance(den, int) else int(den[i])
        places = len(str(d)) - 1
        if d == 10**places:
            return Decimal(int(num[i])).scaleb(-places)
        with localcontext() as ctx:
            ctx.prec = 60
            return Decimal(int(num[i])) / Decimal(d)

    def decisions(self) -> list[Decision]:
        """The batch as Decision objects (for the JSON document of a dataset that fits in memory)."""
        out = []
        rule = self.rule
        texts = self.reasons.to_pylist()
        for i, sid in enumerate(self.subject_ids):
            d = Decision(rule.id, rule.subject, str(sid), STATUSES[self.status[i]], rule.effect, rule.citation,
                         *(self.amount_decimal(k, i) for k in AMOUNT_KEYS), list(self.missing[i]), texts[i] or [])
            if self.rollup_key is not None and self.rollup_key[i] is not None:
                assert rule.rollup is not None
                period = None if self.rollup_period is None else self.rollup_period[i]
                d.rollup = (rule.rollup.name, rule.rollup.group, str(self.rollup_key[i]), period)
            if self.rejected_inputs:
                d.rejected_inputs = self.rejected_inputs.get(i, [])
            out.append(d)
        return out


def taint_columns(batch: DecisionColumns, found: Taint) -> None:
    """Apply rejected inputs to a batch, as :meth:`engine.output.decisions.Decision.depend_on` does to one decision.

    The batch then lists its rows' rejected inputs (possibly none), so a run with rejected records writes the
    ``rejected_inputs`` column in every batch.
    """
    rule = batch.rule
    batch.rejected_inputs = {}
    if found.every.get(rule.id):
        rows = range(len(batch))
    else:
        wanted = {sid for rid, sid in found.some if rid == rule.id}
        rows = [i for i, sid in enumerate(batch.subject_ids) if str(sid) in wanted] if wanted else []
    tainted = [(i, inputs) for i in rows
               if (inputs := found.inputs(rule.id, str(batch.subject_ids[i]), STATUSES[batch.status[i]]))]
    if not tainted:
        return
    texts = batch.reasons.to_pylist()
    undetermined = STATUSES.index(UNDETERMINED)
    amounts = {k: (num, den, present.copy()) for k, (num, den, present) in batch.amounts.items()}
    for i, inputs in tainted:
        batch.rejected_inputs[i] = inputs
        prior = texts[i] or []
        if batch.status[i] != undetermined:
            batch.missing[i], prior = (), []
        batch.status[i] = undetermined
        texts[i] = rejected_reasons(inputs) + restate(prior, inputs)
        for _, _, present in amounts.values():
            present[i] = False
        for col in (batch.rollup_key, batch.rollup_period):
            if col is not None:
                col[i] = None
    batch.amounts = amounts
    batch.reasons = pa.array(texts, batch.reasons.type)


def rejected_columns(rule: Rule, subjects: list[tuple[str, list[Rejected]]]) -> DecisionColumns:
    """The decisions of rejected subjects (id, rejected inputs) that no accepted record's id matches."""
    n = len(subjects)
    ids, missing = np.empty(n, dtype=object), np.empty(n, dtype=object)
    for i, (sid, _) in enumerate(subjects):
        ids[i], missing[i] = sid, ()
    batch = DecisionColumns(rule, ids, np.full(n, STATUSES.index(UNDETERMINED), np.int8), {}, missing,
                            pa.array([rejected_reasons(inputs) for _, inputs in subjects], pa.list_(pa.string())),
                            np.full(n, None, dtype=object) if rule.rollup is not None else None,
                            np.full(n, None, dtype=object) if rule.rollup is not None and rule.rollup.period else None,
                            np.zeros(0, np.int64))
    batch.rejected_inputs = {i: inputs for i, (_, inputs) in enumerate(subjects)}
    return batch


def _params(pack: Pack, day: V, as_of: dt.date, overrides: dict[str, Decimal] | None, reg: Registry) -> Params:
    n = day.n
    days = np.where(day.known, day.data, day_number(as_of))
    cols: dict[str, V] = {}
    for name, p in pack.parameters.items():
        dated = schedule(pack, name, overrides)  # the value on a day: the last one starting on or before it
        values = [v for _, v in dated]
        starts = np.array([day_number(s) for s, _ in dated], dtype=np.int64)
        seg = np.searchsorted(starts, days, side="right") - 1 if len(starts) else np.full(n, -1)
        known = np.zeros(n, dtype=bool)
        note = reg.bit(reg.notes, reasons.parameter_not_configured(name))
        if p.type == "number":
            parts = [None if v is None else _decimal_parts(Decimal(v)) for v in values]
            den = math.lcm(*[pt[1] for pt in parts if pt is not None]) if any(parts) else 1
            exps = {pt[2] for pt in parts if pt is not None}
            data = np.zeros(n, dtype=np.int64)
            for i, pt in enumerate(parts):
                if pt is not None:
                    at = seg == i
                    data[at] = pt[0] * (den // pt[1])
                    known |= at
            v = V("num", data, known, den=den, exp=exps.pop() if len(exps) == 1 else None)
        elif p.type == "date":
            data = np.zeros(n, dtype=np.int64)
            for i, val in enumerate(values):
                if val is not None:
                    data[seg == i] = day_number(val)
                    known |= seg == i
            v = V("date", data, known)
        else:
            raise Unsupported(f"parameter of type {p.type}")
        v.cn = np.where(known, 0, note).astype(np.int64)
        cols[name] = v
    return Params(cols)


def _subject_env(rule: Rule, pack: Pack, table: Table, tables: Tables, as_of: dt.date, reg: Registry) -> Env:
    n = table.n
    ctx = Ctx(tables, reg)
    ids = _const("str", "", n)
    ids.data = table.ids
    subject = V("rec", np.arange(n, dtype=np.int64), np.ones(n, dtype=bool), table=table, key=ids)
    env = Env(n, {"subject": subject, "as_of": _const("date", day_number(as_of), n)}, ctx)
    for lk in rule.lookups:
        key = ev(lk.key.node, env)
        rel_table = tables[lk.record_type]
        target = REFERENCES.get((lk.record_type, lk.by))  # the ids that ``by`` refers to, if it is a reference
        target_ids = rel_table.columns["id"] if lk.by == "id" else tables[target].columns["id"] if target else None
        if lk.many:
            env.names[lk.name] = ListRel(rel_table, lk.by, key, target_ids)
        elif lk.by == "id":
            env.names[lk.name] = V("rec", _positions(rel_table.columns["id"], key), np.ones(n, dtype=bool),
                                   err=key.err, table=rel_table, key=key)
        else:
            first = ListRel(rel_table, lk.by, key, target_ids)
            rows, pos = _pairs(first)
            found = np.full(n, -1, dtype=np.int64)
            starts = _groups(rows)
            found[rows[starts]] = pos[starts]
            env.names[lk.name] = V("rec", found, np.ones(n, dtype=bool), err=key.err, table=rel_table, key=key)
    return env


def _undetermined_texts(lead: str, miss: np.ndarray, cn: np.ndarray, dn: dict[int, frozenset[str]],
                        rows: np.ndarray, reg: Registry) -> tuple[np.ndarray, np.ndarray]:
    """'lead：缺少 a、b（note；note）' and the missing-fact lists of ``rows``, built once per distinct combination
    of missing facts and notes (rows with per-record notes are finished one by one: they are rare)."""
    texts = np.empty(len(rows), dtype=object)
    facts = np.empty(len(rows), dtype=object)
    if not len(rows):
        return texts, facts
    uniq, inverse = np.unique(np.stack([miss[rows], cn[rows]], axis=1), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    u_texts, u_facts = np.empty(len(uniq), dtype=object), np.empty(len(uniq), dtype=object)
    for k, (m, c) in enumerate(uniq):
        u_facts[k] = reg.decode(reg.facts, int(m))
        u_texts[k] = reasons.undetermined(lead, u_facts[k], reg.decode(reg.notes, int(c)))
    texts[:], facts[:] = u_texts[inverse], u_facts[inverse]
    for j in np.flatnonzero(np.isin(rows, np.fromiter(dn, dtype=np.int64, count=len(dn)))) if dn else ():
        notes = set(reg.decode(reg.notes, int(cn[rows[j]]))) | {x for x in dn[int(rows[j])] if x}
        texts[j] = reasons.undetermined(lead, facts[j], notes)
    return texts, facts


def decide_rule(rule: Rule, pack: Pack, tables: Tables, as_of: dt.date,
                overrides: dict[str, Decimal] | None = None) -> DecisionColumns:
    """Every decision of one rule, over every record of its subject table."""
    reg = Registry()
    table = tables[rule.subject]
    n = table.n
    env = _subject_env(rule, pack, table, tables, as_of, reg)
    day = ev(rule.date.node, env)
    env.names["param"] = _params(pack, day, as_of, overrides, reg)
    err = _or_err(day.err)
    issued = day_number(pack.issued_on)
    in_time = _bool(day.data >= issued, day.known, [day])
    region = ev(rule.region.node, env)
    err = _or_err(err, region.err)
    region_text = region.text()
    inside = np.zeros(n, dtype=bool)
    for prefix in pack.region_prefixes:
        inside |= np.asarray(pc.starts_with(region_text, prefix).to_numpy(zero_copy_only=False), dtype=bool)
    in_region = _bool(inside & region.known, region.known, [region])
    scope = [in_region, in_time]
    conds = []
    for cond in rule.applies_if:
        res = ev(cond.test.node, env)
        err = _or_err(err, res.err)
        conds.append(res)
    scope += conds
    applies_false = np.logical_or.reduce([s.known & ~s.data for s in scope])
    applies_unknown = ~applies_false & np.logical_or.reduce([~s.known for s in scope])
    a_miss, a_cn, a_dn = _merge_unknown(scope, applies_unknown)
    examined = ~applies_false
    crits = []
    for cr in rule.criteria:
        res = ev(cr.test.node, env)
        err = _or_err(err, _mask_err(res.err, examined))
        crits.append(res)
    met_false = np.logical_or.reduce([c.known & ~c.data for c in crits])
    met_unknown = ~met_false & np.logical_or.reduce([~c.known for c in crits])
    m_miss, m_cn, m_dn = _merge_unknown(crits, met_unknown)

    status = np.full(n, -1, dtype=np.int8)  # a code in STATUSES
    slots: list[_Slot] = []
    missing = np.empty(n, dtype=object)
    missing.fill(())
    negative = examined & ~applies_unknown & met_false
    criterion_slots: list[_Slot] = []
    candidate = examined & ~applies_unknown & ~met_false & ~met_unknown
    # fail reasons: the first variant whose `when` is true (a `when` is evaluated until one is true)
    for k, cr in enumerate(rule.criteria):
        rows = np.flatnonzero(examined & crits[k].known & ~crits[k].data)
        slot = _Slot()
        sub = env.subset(rows)
        remaining = np.ones(len(rows), dtype=bool)
        for when, tpl in cr.fail:
            if when is None:
                chosen = remaining
            else:
                w = ev(when.node, sub)
                if w.err is not None:
                    err = _or_err(err, _scatter(w.err & remaining, rows, n))
                chosen = remaining & w.known & w.data
            if chosen.any() or not len(rows):
                slot.put(rows[chosen], render(tpl.template, sub.subset(np.flatnonzero(chosen))))
            remaining = remaining & ~chosen
        slot.drop(~negative)
        criterion_slots.append(slot)
    # amounts of the positive candidates
    amounts: dict[str, tuple[Any, Any, np.ndarray]] = {}
    blocked = np.zeros(n, dtype=bool)
    b_miss = np.zeros(n, dtype=np.int64)
    b_cn = np.zeros(n, dtype=np.int64)
    b_dn: dict[int, frozenset[str]] = {}
    for key, expr in rule.amounts.items():
        v = ev(expr.node, env)
        if v.kind != "num" or not isinstance(v.den, int):
            raise Unsupported(f"{key} is not an exact number with one denominator")
        err = _or_err(err, _mask_err(v.err, candidate))
        has_missing = ~v.known & (v.miss != 0)
        blocked |= candidate & has_missing
        b_miss |= np.where(has_missing, v.miss, 0)
        b_cn |= np.where(has_missing, v.cn, 0)
        for i, s in v.dn.items():
            if has_missing[i]:
                b_dn[i] = b_dn.get(i, frozenset()) | s
        amounts[key] = (v.data, v.den, v.known)
    # an amount at or beyond the money bound: undetermined with no amount, as the reference decides
    beyond = np.zeros(n, dtype=bool)
    for num, den, known in amounts.values():
        beyond |= candidate & ~blocked & known & _beyond_bound(num, den)
    positive = candidate & ~blocked & ~beyond
    # roll-up keys of positive decisions
    rollup_key = rollup_period = None
    if rule.rollup is not None:
        kv = ev(rule.rollup.key.node, env)
        err = _or_err(err, _mask_err(kv.err, positive))
        ok = positive & kv.known
        pv = None
        if rule.rollup.period is not None:
            pv = ev(rule.rollup.period.node, env)
            err = _or_err(err, _mask_err(pv.err, positive))
            ok &= pv.known
        rollup_key = np.full(n, None, dtype=object)
        rollup_key[ok] = format_column(kv, "text").to_numpy(zero_copy_only=False)[ok]
        if pv is not None:
            rollup_period = np.full(n, None, dtype=object)
            rollup_period[ok] = format_column(pv, "text").to_numpy(zero_copy_only=False)[ok]
    error = err if err is not None else np.zeros(n, dtype=bool)

    # not applicable
    na = applies_false & ~error
    status[na] = _STATUS_CODE[NOT_APPLICABLE]
    na_texts = [(in_region, lambda rows: _texts_region(rule, pack, region, rows)),
                (in_time, lambda rows: _texts_time(rule, pack, day, rows))]
    for s, make in na_texts:
        rows = np.flatnonzero(na & s.known & ~s.data)
        slots.append(_Slot().put(rows, make(rows)))
    for i, cond in enumerate(rule.applies_if):
        rows = np.flatnonzero(na & conds[i].known & ~conds[i].data)
        slots.append(_Slot().put(rows, render(cond.reason.template, env.subset(rows))))
    # undetermined
    und_slot = _Slot()
    for mask, lead, miss, cn, dn in (
        (applies_unknown, reasons.UNDETERMINED_SCOPE, a_miss | np.where(met_unknown, m_miss, 0),
         a_cn | np.where(met_unknown, m_cn, 0), _merge_dn(a_dn, m_dn, met_unknown)),
        (examined & ~applies_unknown & met_unknown, reasons.UNDETERMINED_CRITERIA, m_miss, m_cn, m_dn),
        (blocked, reasons.AMOUNT_UNCOMPUTABLE, b_miss, b_cn, b_dn),
        (beyond, reasons.AMOUNT_BEYOND_BOUND, np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), {}),
    ):
        rows = np.flatnonzero(mask & ~error)
        texts, facts = _undetermined_texts(lead, miss, cn, dn, rows, reg)
        und_slot.put(rows, pa.array(texts, pa.string()))
        missing[rows] = facts
        status[rows] = _STATUS_CODE[UNDETERMINED]
    slots.append(und_slot)
    status[negative & ~error] = _STATUS_CODE[rule.negative]
    # positive
    pos_rows = np.flatnonzero(positive & ~error)
    status[pos_rows] = _STATUS_CODE[rule.positive]
    pos_env = env.subset(pos_rows)
    if rule.positive_reason is not None:
        slots.append(_Slot().put(pos_rows, render(rule.positive_reason.template, pos_env)))
    else:
        for cr in rule.criteria:
            if cr.passed is not None:
                criterion_slots.append(_Slot().put(pos_rows, render(cr.passed.template, pos_env)))
    for slot in criterion_slots:  # an empty criterion reason is left out, as the reference does
        slots.append(slot.drop_empty())
    if rule.amount_note:
        slots.append(_Slot().put(pos_rows, rule.amount_note))
    # errors
    err_rows = np.flatnonzero(error)
    status[err_rows] = _STATUS_CODE[UNDETERMINED]
    missing[err_rows] = [()] * len(err_rows)
    if len(err_rows):
        for slot in slots:
            slot.drop(error)
    slots.append(_Slot().put(err_rows, reasons.evaluation_error(msg("eval.division_by_zero"))))
    # amounts only on positive decisions
    keep = np.zeros(n, dtype=bool)
    keep[pos_rows] = True
    amounts = {k: (num, den, known & keep) for k, (num, den, known) in amounts.items()}
    if rollup_key is not None:
        rollup_key[~keep] = None
        if rollup_period is not None:
            rollup_period[~keep] = None
    return DecisionColumns(rule, table.ids, status, amounts, missing, _reason_lists(slots, n),
                           rollup_key, rollup_period, err_rows, table.columns["id"].arrow())


_STATUS_CODE = {name: code for code, name in enumerate(STATUSES)}


def _merge_dn(a: dict[int, frozenset[str]], b: dict[int, frozenset[str]], where_b: np.ndarray) -> dict[int, frozenset[str]]:
    out = dict(a)
    for i, s in b.items():
        if where_b[i]:
            out[i] = out.get(i, frozenset()) | s
    return out


def _scatter(flags: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[rows[flags]] = True
    return out


def _texts_region(rule: Rule, pack: Pack, region: V, rows: np.ndarray) -> pa.Array:
    before, after = reasons.outside_jurisdiction_parts(rule.region_label, pack.jurisdiction, pack.region_prefixes)
    return pc.binary_join_element_wise(_lit(before), region.take(rows).text(), _lit(after), "")


def _texts_time(rule: Rule, pack: Pack, day: V, rows: np.ndarray) -> pa.Array:
    before, after = reasons.before_issue_parts(rule.date_label, pack.document_number, pack.issued_on)
    return pc.binary_join_element_wise(_lit(before), format_column(day.take(rows), "date"), _lit(after), "")


class _Slot:
    """One possible reason of a rule's decisions: Arrow texts on some rows (no Python string per row)."""

    def __init__(self) -> None:
        self.pieces: list[tuple[np.ndarray, pa.Array]] = []

    def put(self, rows: np.ndarray, texts: pa.Array | str) -> "_Slot":
        """Give ``rows`` these texts (one per row, or one text for all); rows of one slot never repeat."""
        if len(rows):
            self.pieces.append((rows, pa.repeat(_lit(texts), len(rows)) if isinstance(texts, str) else texts))
        return self

    def drop(self, where: np.ndarray) -> "_Slot":
        """Leave out the rows where the row mask ``where`` is true."""
        self.pieces = [(r[keep], t.filter(pa.array(keep))) for r, t in self.pieces
                       for keep in [~where[r]] if keep.any()]
        return self

    def drop_empty(self) -> "_Slot":
        """Leave out empty texts."""
        self.pieces = [(r[keep], t.filter(pa.array(keep))) for r, t in self.pieces
                       for keep in [np.asarray(pc.not_equal(t, _lit("")), dtype=bool)] if keep.any()]
        return self


def _reason_lists(slots: list[_Slot], n: int) -> pa.ListArray:
    """Slots, in order → one list of reasons per row (a row's reasons in slot order)."""
    pieces = [(k, rows, texts) for k, slot in enumerate(slots) for rows, texts in slot.pieces]
    offsets = np.zeros(n + 1, dtype=np.int32)
    if not pieces:
        return pa.ListArray.from_arrays(pa.array(offsets), pa.array([], type=pa.string()))
    rows = np.concatenate([r for _, r, _ in pieces])
    order = np.lexsort((np.concatenate([np.full(len(r), k) for k, r, _ in pieces]), rows))  # by row, then slot
    values = pa.concat_arrays([t.cast(pa.string()) for _, _, t in pieces]).take(pa.array(order))
    np.cumsum(np.bincount(rows, minlength=n), out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), values)


# ---------------------------------------------------------------------------------------------- engine


class VectorisedEngine:
    """The vectorised backend behind the engine interface; rules it cannot vectorise go to the reference."""

    def __init__(self, packs: list[Pack]):
        self.packs = packs
        self.fallback_rules: dict[str, str] = {}
        empty = {t: empty_table(t) for t in RECORD_TYPES}
        for pack in packs:
            for rule in pack.rules:
                try:
                    decide_rule(rule, pack, empty, pack.issued_on)
                except Unsupported as exc:
                    self.fallback_rules[rule.id] = str(exc)

    def decide_tables(self, tables: Tables, as_of: dt.date,
                      overrides: dict[str, Decimal] | None = None) -> Iterable[DecisionColumns]:
        """Each vectorised rule's decisions over the tables (rules in ``fallback_rules`` are skipped)."""
        for pack in self.packs:
            for rule in pack.rules:
                if rule.id not in self.fallback_rules:
                    yield decide_rule(rule, pack, tables, as_of, overrides)

    def decide(self, subject: RecordModel, dataset: Dataset, as_of: dt.date, overrides: dict[str, Decimal] | None,
               errors: list[EvaluationError]) -> list[Decision]:
        """Every rule's decision about one subject (for watch; one subject is the reference's job)."""
        from engine.engines.reference import ReferenceEngine

        return ReferenceEngine(self.packs).decide(subject, dataset, as_of, overrides, errors)

    def decisions(self, dataset: Dataset, as_of: dt.date,
                  overrides: dict[str, Decimal] | None = None) -> tuple[list[Decision], list[EvaluationError]]:
        """Every decision about a dataset, and the evaluation errors."""
        from engine.engines.reference import decision_for

        tables = tables_from_dataset(dataset)
        decisions: list[Decision] = []
        errors: list[EvaluationError] = []
        for pack in self.packs:
            for rule in pack.rules:
                if rule.id in self.fallback_rules:
                    continue
                try:
                    batch = decide_rule(rule, pack, tables, as_of, overrides)
                except Unsupported as exc:  # met only on these data: the reference decides the rule, as at build
                    self.fallback_rules[rule.id] = str(exc)
                    continue
                decisions += batch.decisions()
                errors += [EvaluationError(msg("eval.division_by_zero"), batch.rule.id, str(batch.subject_ids[r]))
                           for r in batch.error_rows]
        for pack in self.packs:
            for rule in pack.rules:
                if rule.id in self.fallback_rules:
                    for subject in dataset.records[rule.subject]:
                        decisions.append(decision_for(rule, pack, subject, dataset, as_of, overrides, errors))
        return decisions, errors

    def evaluate_dataset(self, dataset: Dataset, as_of: dt.date,
                         overrides: dict[str, Decimal] | None = None) -> dict[str, Any]:
        """The decision document of output.md."""
        decisions, errors = self.decisions(dataset, as_of, overrides)
        return build_document(as_of, self.packs, decisions, dataset, _ordered_errors(errors, self.packs, dataset))

    def close(self) -> None:
        """Nothing to free."""

    def __enter__(self) -> "VectorisedEngine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _ordered_errors(errors: list[EvaluationError], packs: list[Pack], dataset: Dataset) -> list[EvaluationError]:
    """Evaluation errors in the reference's order: pack, rule, then subject in input order."""
    rank = {r.id: i for i, r in enumerate(r for p in packs for r in p.rules)}
    subjects = {r.id: r.subject for p in packs for r in p.rules}
    pos = {(t, rec.id): i for t in RECORD_TYPES for i, rec in enumerate(dataset.records[t])}
    return sorted(errors, key=lambda e: (rank.get(e.rule_id or "", 0),
                                         pos.get((subjects.get(e.rule_id or "", ""), e.subject_id), 0)))
