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
from .errors import EvaluationError
from .expressions import Attr, Comp, Index, Name, Node, children
from .policy import Pack
from .records import RECORD_TYPES, Dataset, RecordModel, validate_rows

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
    everything: set[str] = field(default_factory=set)  # subject types any change may reach (a computed key)


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
                    deps.everything.add(rule.subject)  # which subjects a record reaches is not a field match
                    continue
                deps.lookups.setdefault(lk.record_type, set()).add((rule.subject, lk.by, key.name))
            for node in rule.nodes():
                if not _indexes(node, types, deps):
                    deps.everything.add(rule.subject)
    return deps


def _indexes(node: Node, types: dict[str, str], deps: Dependencies) -> bool:
    """Record the ``T[r.f]`` indexes under ``node``; False if one is keyed otherwise (then any change may reach)."""
    if isinstance(node, Comp):
        inner = dict(types)
        if isinstance(node.iterable, Name) and node.iterable.name in types:
            inner[node.var] = types[node.iterable.name]
        else:
            inner.pop(node.var, None)
        return all([_indexes(part, inner, deps) for part in (node.elem, node.cond) if part is not None]
                   + [_indexes(node.iterable, types, deps)])
    ok = True
    if isinstance(node, Index):
        if isinstance(node.obj, Name) and isinstance(node.key, Attr) \
                and isinstance(node.key.obj, Name) and node.key.obj.name in types:
            deps.indexes.setdefault(node.obj.name, set()).add((types[node.key.obj.name], node.key.name))
        else:
            ok = False
    return all([_indexes(child, types, deps) for child in children(node)]) and ok


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
        for rtype in sorted(self.deps.subject_types):
            for subject in self.dataset.records[rtype]:
                self._store(self._decide(subject))

    def _decide(self, subject: RecordModel) -> list[Decision]:
        return self.engine.decide(subject, self.dataset, self.as_of, self.overrides, self.errors)

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
            for subject_type in self.deps.everything:
                out.update((subject_type, subject.id) for subject in self.dataset.records[subject_type])
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
        if op == "upsert":
            ds = validate_rows({record_type: [record]})
            if ds.errors:
                raise ChangeError("; ".join(f"field {e.field}: {e.message} (value {e.value!r})" for e in ds.errors))
            new = ds.records[record_type][0]
            old = self.dataset.upsert(new, line)
            touched = self.affected(new) | (self.affected(old) if old is not None else set())
        else:
            rid = record.get("id")
            if rid is None or self.dataset.by_id(record_type, str(rid)) is None:
                raise ChangeError(f"no {record_type} record with id {rid!r} to delete")
            old = self.dataset.by_id(record_type, str(rid))
            assert old is not None
            touched = self.affected(old)
            self.dataset.remove(record_type, old.id)
        summary = {"line": line, "op": op, "record_type": record_type, "id": (new if op == "upsert" else old).id}
        return self._redecide(touched, summary)

    def _redecide(self, touched: set[tuple[str, str]], change: dict[str, Any]) -> list[dict[str, Any]]:
        now: dict[tuple[str, str, str], dict[str, Any]] = {}
        gone: set[tuple[str, str, str]] = set()
        for subject_type, sid in touched:
            subject = self.dataset.by_id(subject_type, sid)
            before = {k for k in self.decisions if k[1] == subject_type and k[2] == sid}
            if subject is None:
                gone |= before
                continue
            for d in self._decide(subject):
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
        raise ChangeError("a change must be a JSON object")
    op, record_type, record = change.get("op"), change.get("record_type"), change.get("record")
    if op not in ("upsert", "delete"):
        raise ChangeError(f"op must be 'upsert' or 'delete', not {op!r}")
    if record_type not in RECORD_TYPES:
        raise ChangeError(f"record_type must be one of {', '.join(RECORD_TYPES)}, not {record_type!r}")
    if not isinstance(record, dict):
        raise ChangeError("record must be an object")
    return op, record_type, record


def read_change(text: str) -> Any:
    """One JSON line, numbers kept exact."""
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ChangeError(f"malformed JSON: {exc.msg} at column {exc.colno}") from None
