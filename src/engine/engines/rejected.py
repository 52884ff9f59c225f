"""Rejected input is unknown, never absent: which decisions a rejected record could change.

A rejected record (``engine.data.records.Rejected``: its type, row and the fields that could still be read) may be any
valid record with those readable fields. A decision is definite only if no such record could change it, so every
decision whose rule could *read* the record is ``undetermined`` and names it in ``rejected_inputs``. A rule reads
records of a type only three ways (the rule language has no other): as its subject, through a lookup
(``{record_type, by, key: subject.F}``) and through an index (``T[v.f]``, ``v`` the subject, a lookup or a
comprehension variable over one). So, for a rejected record R of type T and a rule X about subjects of type S:

- T = S and R's id is readable: the subject with that id (when no accepted record has it, R gets a decision of
  its own, ``undetermined``);
- R's id is readable and an accepted record A has it (a discarded repeat of A's id, or a rejected row with A's
  id): the user may have meant R instead of A, so also every subject that reads A (as below, for A);
- a lookup of X on T by F, keyed by ``subject.G``: the subjects whose G equals R's F; when F is unreadable, every
  subject (when F is ``id``: every subject whose G names no accepted record of T — a subject whose lookup found
  a record cannot have been looking for R, whose id is not an accepted one's);
- an index ``T[v.f]`` with v of type H: the subjects that reach (as above) a record of H whose f equals R's id
  (R's id unreadable: whose f names no accepted record of T);
- anything the analysis cannot follow (a lookup key or index key of another shape): every subject of X.

One refinement keeps the common case quiet: a ``not_applicable`` decision stays definite when none of the rule's
scope tests (region, date, ``applies_if``) reads R's type — a scope test that was false stays false whatever R
holds (an enterprise outside Tonghua with a rejected agreement is still outside Tonghua).

This is deliberately coarser than evaluating R as a record of unknown fields (Kleene): a rule that reads R is
undetermined even when the other records would decide it (an enterprise with one valid agreement besides a
rejected one). It is sound — a rejected record can never leave a decision definite that it could have changed —
and it is one computation shared by every engine (over a :class:`Dataset` or over vectorised tables), so they
cannot disagree on it. The reason says so in Chinese; the decision keeps the missing facts and reasons it
already had when it was undetermined anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol, Sequence

import numpy as np

from engine.engines.columns import Tables, cell_value
from engine.output import reasons
from engine.output.terms import NOT_APPLICABLE
from engine.language.expressions import Attr, Comp, Index, Name, Node, children
from engine.policy.packs import Pack, Rule
from engine.data.records import RECORD_MODELS, RECORD_TYPES, Dataset, Rejected

__all__ = ["Source", "DatasetSource", "TableSource", "EMPTY", "restate", "Taint", "taint", "rejected_reason", "REASON_LIMIT", "sort_inputs",
           "INPUTS_LIMIT", "listed_inputs"]

REASON_LIMIT = 3
"""At most this many rejected records are named one by one in a decision's reasons (all are in rejected_inputs)."""


def rejected_reason(r: Rejected) -> str:
    """The reason a decision gives for a rejected record it depends on, naming its place where known
    (实习报酬 P1（实习报酬!E2）被拒绝，无法判断), else its row among its type (校企合作协议 XQ-1（第 3 行）被拒绝，无法判断)."""
    return reasons.rejected_input(RECORD_MODELS[r.record_type].label, r.id, r.row, r.place)


INPUTS_LIMIT = 20
"""At most this many rejected records are listed in a decision's ``rejected_inputs`` (the first, in order); a decision
that depends on more also says ``rejected_inputs_total``. Without the cut, one unreadable key column (every row's
enterprise id, say) would list every rejected row in every decision reading the type: output growing as rejected rows
times decisions (4,000 records once made a 575 MB document)."""


def listed_inputs(inputs: Sequence[Rejected]) -> dict[str, Any]:
    """A decision's ``rejected_inputs`` as the document writes them (the first :data:`INPUTS_LIMIT`) and, when that
    cuts the list, ``rejected_inputs_total``; nothing when there are none."""
    if not inputs:
        return {}
    listed: dict[str, Any] = {"rejected_inputs": [r.as_dict() for r in inputs[:INPUTS_LIMIT]]}
    if len(inputs) > INPUTS_LIMIT:
        listed["rejected_inputs_total"] = len(inputs)
    return listed


def restate(texts: list[str], inputs: list[Rejected]) -> list[str]:
    """A decision's own reasons with "schools S1 不在数据集中" (absent) said of a rejected S1 as rejected."""
    out = texts
    if not texts:  # a decision that was definite keeps no reasons of its own
        return out
    for r in inputs:
        if r.id is not None:
            absent = reasons.absent_record(r.record_type, r.id)
            out = [x.replace(absent, reasons.rejected_not_absent(r.record_type, r.id, r.row, r.place)) for x in out]
    return out


def rejected_reasons(inputs: list[Rejected]) -> list[str]:
    """The reasons for a decision's rejected inputs: the first few named, the rest counted."""
    out = [rejected_reason(r) for r in inputs[:REASON_LIMIT]]
    if len(inputs) > REASON_LIMIT:
        out.append(reasons.more_rejected(len(inputs) - REASON_LIMIT))
    return out


_ORDER = {t: i for i, t in enumerate(RECORD_TYPES)}


def sort_inputs(inputs: Iterable[Rejected]) -> list[Rejected]:
    """Distinct rejected inputs in record-type, then row order."""
    return sorted(set(inputs), key=lambda r: (_ORDER.get(r.record_type, len(_ORDER)), r.row))


class Source(Protocol):
    """What the analysis needs to know of the accepted records (a Dataset, or one partition's tables)."""

    def ids(self, record_type: str) -> list[str]:
        """Every accepted id of a type."""

    def where(self, record_type: str, field_name: str, value: Any) -> list[str]:
        """Ids of the accepted records of a type whose field equals ``value``."""

    def get(self, record_type: str, record_id: str, field_name: str) -> Any:
        """A field of an accepted record (None when empty)."""

    def has(self, record_type: str, record_id: Any) -> bool:
        """Whether an accepted record of the type has this id."""


class DatasetSource:
    """:class:`Source` over a validated :class:`Dataset`."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def ids(self, record_type: str) -> list[str]:
        """Every accepted id of a type."""
        return [r.id for r in self.dataset.records[record_type]]

    def where(self, record_type: str, field_name: str, value: Any) -> list[str]:
        """Ids of the accepted records of a type whose field equals ``value``."""
        return [r.id for r in self.dataset.where(record_type, field_name, value)]

    def get(self, record_type: str, record_id: str, field_name: str) -> Any:
        """A field of an accepted record (None when empty)."""
        rec = self.dataset.by_id(record_type, record_id)
        return None if rec is None else getattr(rec, field_name)

    def has(self, record_type: str, record_id: Any) -> bool:
        """Whether an accepted record of the type has this id."""
        return self.dataset.by_id(record_type, record_id) is not None


@dataclass(frozen=True)
class _Reads:
    """How one rule reads records: lookups (type, by, subject field or None) and indexes (type, holder type, field)."""

    subject: str
    lookups: tuple[tuple[str, str, str | None], ...]
    indexes: tuple[tuple[str, str | None, str | None], ...]
    scope_types: frozenset[str]  # the record types the scope tests read


def _types_read(node: Node, types: dict[str, str]) -> set[str]:
    """The record types an expression reads: the subject's, its lookups', the tables it indexes."""
    out: set[str] = set()
    if isinstance(node, Name) and node.name in types:
        out.add(types[node.name])
    if isinstance(node, Index) and isinstance(node.obj, Name):
        out.add(node.obj.name)
    for child in children(node):
        out |= _types_read(child, types)
    return out


def _reads(rule: Rule) -> _Reads:
    types = {"subject": rule.subject}
    lookups = []
    for lk in rule.lookups:
        types[lk.name] = lk.record_type
        key = lk.key.node
        sf = key.name if isinstance(key, Attr) and isinstance(key.obj, Name) and key.obj.name == "subject" else None
        lookups.append((lk.record_type, lk.by, sf))
    indexes: set[tuple[str, str | None, str | None]] = set()
    for node in rule.nodes():
        _indexes(node, types, indexes)
    scope: set[str] = set()
    for expr in (rule.region, rule.date, *(c.test for c in rule.applies_if)):
        scope |= _types_read(expr.node, types)
    if any(isinstance(n, Comp) for e in (rule.region, rule.date, *(c.test for c in rule.applies_if))
           for n in _walk(e.node)):
        scope |= set(types.values())  # a comprehension's variable may range over anything: assume every type
    return _Reads(rule.subject, tuple(lookups), tuple(sorted(indexes, key=str)), frozenset(scope))


def _walk(node: Node) -> Iterable[Node]:
    yield node
    for child in children(node):
        yield from _walk(child)


def _indexes(node: Node, types: dict[str, str], out: set[tuple[str, str | None, str | None]]) -> None:
    if isinstance(node, Comp):
        inner = dict(types)
        if isinstance(node.iterable, Name) and node.iterable.name in types:
            inner[node.var] = types[node.iterable.name]
        else:
            inner.pop(node.var, None)  # a variable over something else: its type is not followed
        for part in (node.elem, node.cond):
            if part is not None:
                _indexes(part, inner, out)
        _indexes(node.iterable, types, out)
        return
    if isinstance(node, Index) and isinstance(node.obj, Name):
        key = node.key
        if isinstance(key, Attr) and isinstance(key.obj, Name) and key.obj.name in types:
            out.add((node.obj.name, types[key.obj.name], key.name))
        else:
            out.add((node.obj.name, None, None))
    for child in children(node):
        _indexes(child, types, out)


@dataclass
class Taint:
    """Which decisions depend on which rejected records.

    ``every[rule]``: rejected records every decision of the rule depends on; ``some[(rule, subject id)]``: those
    of one decision; ``own[rule]``: rejected records of the rule's subject type with a readable id (each the
    subject of an undetermined decision of its own unless an accepted record has its id).
    """

    every: dict[str, list[Rejected]] = field(default_factory=dict)
    some: dict[tuple[str, str], list[Rejected]] = field(default_factory=dict)
    own: dict[str, list[Rejected]] = field(default_factory=dict)
    scope_types: dict[str, frozenset[str]] = field(default_factory=dict)
    _sorted: dict[tuple[str, bool], list[Rejected]] = field(default_factory=dict, repr=False)

    def inputs(self, rule_id: str, subject_id: str, status: str | None = None) -> list[Rejected]:
        """The rejected records one decision (of ``status`` before them) depends on, distinct and in order (empty:
        none). The list may be shared by many decisions: read it, never change it."""
        found = self.some.get((rule_id, subject_id))
        if found is None:  # the common case of many subjects: the rule's list, sorted once
            key = (rule_id, status == NOT_APPLICABLE)
            if key not in self._sorted:
                self._sorted[key] = self._pick(rule_id, self.every.get(rule_id, []), status)
            return self._sorted[key]
        return self._pick(rule_id, self.every.get(rule_id, []) + found, status)

    def _pick(self, rule_id: str, found: list[Rejected], status: str | None) -> list[Rejected]:
        if found and status == NOT_APPLICABLE:  # a false scope test stays false unless it reads the type
            found = [r for r in found if r.record_type in self.scope_types.get(rule_id, frozenset())]
        return sort_inputs(found) if found else []

    def __bool__(self) -> bool:
        return bool(self.every or self.some or self.own)


_ALL = None  # "every subject of the rule"


def taint(packs: list[Pack], rejected: list[Rejected], source: Source, subject_types: set[str] | None = None) -> Taint:
    """The decisions (of rules whose subject type is in ``subject_types``, default all) that rejected records
    could change, over the accepted records of ``source``."""
    out = Taint()
    if not rejected:
        return out
    source = _Cached(source)
    by_type: dict[str, list[Rejected]] = {}
    for r in rejected:
        by_type.setdefault(r.record_type, []).append(r)
    for pack in packs:
        for rule in pack.rules:
            if subject_types is not None and rule.subject not in subject_types:
                continue
            reads = _reads(rule)
            out.scope_types[rule.id] = reads.scope_types
            for r in rejected:
                if r.record_type == rule.subject and r.id is not None:
                    out.own.setdefault(rule.id, []).append(r)
                reached = _reach(reads, r, source, by_type, 0)
                if reached is _ALL:
                    out.every.setdefault(rule.id, []).append(r)
                    continue
                for sid in reached:
                    out.some.setdefault((rule.id, sid), []).append(r)
    return out


def _dangling(source: Source, holder: str, fld: str, target: str) -> list[str]:
    """Ids of the accepted records of ``holder`` whose ``fld`` names no accepted record of ``target``."""
    if isinstance(source, _Cached):
        return source.dangling(holder, fld, target)
    return [h for h in source.ids(holder)
            if (v := source.get(holder, h, fld)) is not None and not source.has(target, v)]


class _Cached:
    """A source whose dangling references are worked out once per (holder, field, target)."""

    def __init__(self, source: Source):
        self.source = source.source if isinstance(source, _Cached) else source
        self._dangling: dict[tuple[str, str, str], list[str]] = (
            source._dangling if isinstance(source, _Cached) else {})

    def ids(self, record_type: str) -> list[str]:
        """Every accepted id of a type."""
        return self.source.ids(record_type)

    def where(self, record_type: str, field_name: str, value: Any) -> list[str]:
        """Ids of the accepted records of a type whose field equals ``value``."""
        return self.source.where(record_type, field_name, value)

    def get(self, record_type: str, record_id: str, field_name: str) -> Any:
        """A field of an accepted record (None when empty)."""
        return self.source.get(record_type, record_id, field_name)

    def has(self, record_type: str, record_id: Any) -> bool:
        """Whether an accepted record of the type has this id."""
        return self.source.has(record_type, record_id)

    def dangling(self, holder: str, fld: str, target: str) -> list[str]:
        """Ids of the accepted records of ``holder`` whose ``fld`` names no accepted record of ``target``."""
        key = (holder, fld, target)
        if key not in self._dangling:
            self._dangling[key] = [h for h in self.ids(holder) if (v := self.get(holder, h, fld)) is not None
                                   and not self.has(target, v)]
        return self._dangling[key]


def _reach(reads: _Reads, r: Rejected, source: Source, rejected: dict[str, list[Rejected]],
           depth: int) -> set[str] | None:
    """Subject ids whose decision may read the rejected record ``r``; None for every subject."""
    out: set[str] = set()
    if r.record_type == reads.subject and r.id is not None:
        out.add(r.id)
    if r.id is not None and source.has(r.record_type, r.id):  # a twin of an accepted record (a repeated id): the
        out |= _reach_accepted(reads, r.record_type, r.id, source)  # user may have meant it, so the twin's readers
    for rtype, by, sf in reads.lookups:
        if rtype != r.record_type:
            continue
        if sf is None:
            return _ALL
        if r.readable(by):
            if r.value(by) is not None:
                out.update(source.where(reads.subject, sf, r.value(by)))
        elif by == "id":
            out.update(_dangling(source, reads.subject, sf, rtype))
        else:
            return _ALL
    for rtype, holder, hf in reads.indexes:
        if rtype != r.record_type:
            continue
        if holder is None or hf is None or depth > 2 or any(lt == holder and sf is None for lt, _, sf in reads.lookups):
            return _ALL  # (decided from the rule alone, so every partition of a dataset agrees on it)
        holders = source.where(holder, hf, r.id) if r.id is not None else _dangling(source, holder, hf, rtype)
        for h in holders:
            out |= _reach_accepted(reads, holder, h, source)
        for other in rejected.get(holder, []):  # a rejected record that indexes this one: it may read it too
            if other is r or (r.id is not None and other.readable(hf) and other.value(hf) != r.id):
                continue
            got = _reach(reads, other, source, rejected, depth + 1)
            if got is _ALL:
                return _ALL
            out |= got
    return out


def _reach_accepted(reads: _Reads, rtype: str, rid: str, source: Source) -> set[str]:
    """Subject ids whose decision reads the accepted record (rtype, rid) through the subject or a lookup."""
    out: set[str] = set()
    if rtype == reads.subject:
        out.add(rid)
    for ltype, by, sf in reads.lookups:
        if ltype != rtype or sf is None:  # (sf None: the caller has answered every subject already)
            continue
        value = source.get(rtype, rid, by)
        if value is not None:
            out.update(source.where(reads.subject, sf, value))
    return out


class TableSource:
    """:class:`Source` over vectorised tables (a dataset, or one partition of it); indexes are built on first use."""

    def __init__(self, tables: Tables):
        self.tables = tables
        self._pos: dict[str, dict[str, int]] = {}
        self._by: dict[tuple[str, str], dict[Any, list[str]]] = {}

    def _positions(self, record_type: str) -> dict[str, int]:
        if record_type not in self._pos:
            t = self.tables.get(record_type)
            self._pos[record_type] = {} if t is None else {str(rid): i for i, rid in enumerate(t.ids)}
        return self._pos[record_type]

    def ids(self, record_type: str) -> list[str]:
        """Every accepted id of a type."""
        return list(self._positions(record_type))

    def where(self, record_type: str, field_name: str, value: Any) -> list[str]:
        """Ids of the accepted records of a type whose field equals ``value``."""
        key = (record_type, field_name)
        if key not in self._by:
            index: dict[Any, list[str]] = {}
            t = self.tables.get(record_type)
            if t is not None and t.n:
                col = t.columns[field_name]
                for i in np.flatnonzero(col.known):
                    index.setdefault(self._value(col, int(i)), []).append(str(t.ids[i]))
            self._by[key] = index
        return self._by[key].get(value, [])

    def get(self, record_type: str, record_id: str, field_name: str) -> Any:
        """A field of an accepted record (None when empty)."""
        at = self._positions(record_type).get(record_id)
        if at is None:
            return None
        col = self.tables[record_type].columns[field_name]
        return self._value(col, at) if col.known[at] else None

    def has(self, record_type: str, record_id: Any) -> bool:
        """Whether an accepted record of the type has this id."""
        return str(record_id) in self._positions(record_type)

    @staticmethod
    def _value(col: Any, i: int) -> Any:
        """A cell as the record model holds it (Decimal, date, bool, str)."""
        return cell_value(col, i)


class _Empty:
    """A :class:`Source` with no accepted records."""

    def ids(self, record_type: str) -> list[str]:
        """None."""
        return []

    def where(self, record_type: str, field_name: str, value: Any) -> list[str]:
        """None."""
        return []

    def get(self, record_type: str, record_id: str, field_name: str) -> Any:
        """Nothing."""
        return None

    def has(self, record_type: str, record_id: Any) -> bool:
        """Never."""
        return False


EMPTY: Source = _Empty()
"""No accepted records: what a rejected subject's own decision depends on does not depend on them."""
