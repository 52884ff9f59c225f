"""Live re-evaluation: apply a stream of record changes and report every decision whose outcome changed.

A change is one JSON line: ``{"op": "upsert"|"delete", "record_type": "agreements", "record": {...}}``.
The :class:`Watcher` keeps the dataset and the current decisions; for each change it works out which
subjects the changed record can affect (the subject itself, subjects whose lookups find it, and subjects of
records that index it, e.g. an agreement's school), re-decides only those with its engine, and returns one
line per decision that differs from before (``previous`` null for a new decision, ``decision`` null for a
deleted subject). After any sequence of changes the decisions equal a fresh ``check`` of the final dataset.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable

from .backends import Engine
from .decisions import Decision
from .errors import EvaluationError, FatalError
from .expressions import Attr, Comp, Index, Name, Node, children
from .messages import join, msg
from .policy import Pack
from .records import RECORD_TYPES, Dataset, RecordModel, Rejected, validate_rows
from .rejected import DatasetSource, Taint, taint

__all__ = ["Watcher", "ChangeError", "dependencies", "read_change"]


class ChangeError(ValueError):
    """A change line that cannot be applied; the message says why."""


@dataclass
class Dependencies:
    """How records reach subjects: lookups (record type → (subject type, by, subject field)) and indexes
    (record type T → (record type R, field f) for ``T[r.f]`` with r of type R)."""

    subject_types: set[str] = field(default_factory=set)
    lookups: dict[str, set[tuple[str, str, str]]] = field(default_factory=dict)
    indexes: dict[str, set[tuple[str, str]]] = field(default_factory=dict)


def dependencies(packs: list[Pack]) -> Dependencies:
    """Read from the compiled rules which records can change which subjects' decisions."""
    deps = Dependencies()
    for pack in packs:
        for rule in pack.rules:
            deps.subject_types.add(rule.subject)
            types = {"subject": rule.subject}
            for lk in rule.lookups:
                types[lk.name] = lk.record_type
                key = lk.key.node
                if not (isinstance(key, Attr) and isinstance(key.obj, Name) and key.obj.name == "subject"):
                    raise FatalError(msg("watch.lookup_key", rule=rule.id, lookup=lk.name, key=lk.key.text))
                deps.lookups.setdefault(lk.record_type, set()).add((rule.subject, lk.by, key.name))
            for node in rule.nodes():
                _indexes(node, types, deps)
    return deps


def _indexes(node: Node, types: dict[str, str], deps: Dependencies) -> None:
    if isinstance(node, Comp):
        inner = dict(types)
        if isinstance(node.iterable, Name) and node.iterable.name in types:
            inner[node.var] = types[node.iterable.name]
        for part in (node.elem, node.cond):
            if part is not None:
                _indexes(part, inner, deps)
        _indexes(node.iterable, types, deps)
        return
    if isinstance(node, Index) and isinstance(node.obj, Name) and isinstance(node.key, Attr) \
            and isinstance(node.key.obj, Name) and node.key.obj.name in types:
        deps.indexes.setdefault(node.obj.name, set()).add((types[node.key.obj.name], node.key.name))
    for child in children(node):
        _indexes(child, types, deps)


class Watcher:
    """Keeps a dataset and its decisions current as changes arrive."""

    def __init__(self, engine: Engine, as_of: dt.date, overrides: dict[str, Decimal] | None = None,
                 dataset: Dataset | None = None):
        self.engine = engine
        self.as_of = as_of
        self.overrides = overrides
        self.dataset = dataset or Dataset()
        self.deps = dependencies(engine.packs)
        self.decisions: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.errors: list[EvaluationError] = []
        # the starting dataset's rejected records: unknown, not absent, until a change gives their type and id
        self.rejected: list[Rejected] = self.dataset.rejected
        self._taint: Taint | None = None
        for rtype in sorted(self.deps.subject_types):
            for subject in self.dataset.records[rtype]:
                self._store(self._decide(subject))
            for sid in sorted({str(r.id) for r in self.rejected if r.record_type == rtype and r.id is not None}):
                self._store(self._decide_id(rtype, sid))

    def _found(self) -> Taint:
        if self._taint is None:
            self._taint = taint(self.engine.packs, self.rejected, DatasetSource(self.dataset))
        return self._taint

    def _decide(self, subject: RecordModel) -> list[Decision]:
        out = self.engine.decide(subject, self.dataset, self.as_of, self.overrides, self.errors)
        if self.rejected:
            for d in out:
                d.depend_on(self._found().inputs(d.rule_id, d.subject_id, d.status))
        return out

    def _decide_id(self, subject_type: str, sid: str) -> list[Decision]:
        """The decisions about a subject: an accepted record's, a rejected one's (undetermined), or none."""
        subject = self.dataset.by_id(subject_type, sid)
        if subject is not None:
            return self._decide(subject)
        if not any(r.record_type == subject_type and r.id == sid for r in self.rejected):
            return []
        found = self._found()
        return [Decision.for_rejected(rule, found.inputs(rule.id, sid))
                for pack in self.engine.packs for rule in pack.rules if rule.subject == subject_type]

    def _superseded(self, record_type: str, record_id: str) -> set[tuple[str, str]]:
        """Drop the rejected records a change of (type, id) replaces; the subjects they could reach."""
        gone = [r for r in self.rejected if r.record_type == record_type and r.id == record_id]
        if not gone:
            return set()
        reached = taint(self.engine.packs, gone, DatasetSource(self.dataset))
        subject_of = {rule.id: rule.subject for pack in self.engine.packs for rule in pack.rules}
        out = {(subject_of[rid], sid) for rid, sid in reached.some} | {(record_type, record_id)}
        for rid in reached.every:
            out |= {(subject_of[rid], rec.id) for rec in self.dataset.records[subject_of[rid]]}
        self.rejected = [r for r in self.rejected if not (r.record_type == record_type and r.id == record_id)]
        return out

    def _store(self, decisions: Iterable[Decision]) -> None:
        for d in decisions:
            self.decisions[d.sort_key] = d.as_dict()

    def affected(self, record: RecordModel) -> set[tuple[str, str]]:
        """(subject type, id) of every subject whose decisions may read ``record``."""
        out: set[tuple[str, str]] = set()
        seen: set[tuple[str, str]] = set()
        todo = [record]
        while todo:
            rec = todo.pop()
            if (rec.record_type, rec.id) in seen:
                continue
            seen.add((rec.record_type, rec.id))
            if rec.record_type in self.deps.subject_types:
                out.add((rec.record_type, rec.id))
            for subject_type, by, subject_field in self.deps.lookups.get(rec.record_type, ()):
                for subject in self.dataset.where(subject_type, subject_field, getattr(rec, by)):
                    out.add((subject_type, subject.id))
            for holder_type, fld in self.deps.indexes.get(rec.record_type, ()):
                todo.extend(self.dataset.where(holder_type, fld, rec.id))
        return out

    def apply(self, change: dict[str, Any], line: int) -> list[dict[str, Any]]:
        """Apply one change; the output lines for the decisions it changed. Raises ChangeError for a bad change."""
        op, record_type, record = _parse(change)
        self._taint = None
        if op == "upsert":
            ds = validate_rows({record_type: [record]})
            if ds.errors:
                raise ChangeError(join([msg("watch.field", field=e.field, message=e.message, value=e.value)
                                        for e in ds.errors]))
            new = ds.records[record_type][0]
            touched = self._superseded(record_type, new.id)
            old = self.dataset.upsert(new, line)
            touched |= self.affected(new) | (self.affected(old) if old is not None else set())
            rid = new.id
        else:
            rid = record.get("id")
            rid = None if rid is None else str(rid)
            old = None if rid is None else self.dataset.by_id(record_type, rid)
            touched = set() if rid is None else self._superseded(record_type, rid)
            if old is None and not touched:
                raise ChangeError(msg("watch.no_record", type=record_type, id=rid))
            if old is not None:
                touched |= self.affected(old)
                self.dataset.remove(record_type, old.id)
        self._taint = None
        summary = {"line": line, "op": op, "record_type": record_type, "id": rid}
        return self._redecide(touched, summary)

    def _redecide(self, touched: set[tuple[str, str]], change: dict[str, Any]) -> list[dict[str, Any]]:
        now: dict[tuple[str, str, str], dict[str, Any]] = {}
        gone: set[tuple[str, str, str]] = set()
        for subject_type, sid in touched:
            before = {k for k in self.decisions if k[1] == subject_type and k[2] == sid}
            decided = self._decide_id(subject_type, sid)
            if not decided:
                gone |= before
                continue
            for d in decided:
                now[d.sort_key] = d.as_dict()
        out = []
        for key in sorted(set(now) | gone):
            previous, current = self.decisions.get(key), now.get(key)
            if previous == current:
                continue
            out.append({"change": change, "rule_id": key[0], "subject_type": key[1], "subject_id": key[2],
                        "decision": current, "previous": previous})
            if current is None:
                self.decisions.pop(key, None)
            else:
                self.decisions[key] = current
        return out


def _parse(change: Any) -> tuple[str, str, dict[str, Any]]:
    if not isinstance(change, dict):
        raise ChangeError(msg("watch.not_object"))
    op, record_type, record = change.get("op"), change.get("record_type"), change.get("record")
    if op not in ("upsert", "delete"):
        raise ChangeError(msg("watch.op", op=op))
    if record_type not in RECORD_TYPES:
        raise ChangeError(msg("watch.record_type", types=", ".join(RECORD_TYPES), value=record_type))
    if not isinstance(record, dict):
        raise ChangeError(msg("watch.record"))
    return op, record_type, record


def read_change(text: str) -> Any:
    """One JSON line, numbers kept exact."""
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ChangeError(msg("watch.bad_json", problem=exc.msg, col=exc.colno)) from None
