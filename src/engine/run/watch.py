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
from typing import Any, BinaryIO, Iterable, Iterator

from engine.engines import Engine
from engine.output.decisions import Decision
from engine.data.docparse import json_number
from engine.errors import EvaluationError
from engine.data.limits import DEFAULT_LIMITS, Limits
from engine.language.expressions import Attr, Comp, Index, Name, Node, children
from engine.messages import join, msg
from engine.policy.packs import Pack
from engine.data.records import RECORD_TYPES, Dataset, RecordModel, Rejected, readable_fields, validate_rows
from engine.engines.rejected import DatasetSource, Taint, taint

__all__ = ["Watcher", "ChangeError", "dependencies", "read_change", "change_lines"]


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


def _any_of(gone: list[Rejected], inputs: list[Rejected]) -> bool:
    return any(r in inputs for r in gone)


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
        # what they reach with every rejected record present: a rejected record can lead to another (a rejected
        # agreement's readable school_id to a rejected school), so the gone ones alone would miss subjects
        reached = self._found()
        subject_of = {rule.id: rule.subject for pack in self.engine.packs for rule in pack.rules}
        out = {(subject_of[rid], sid) for (rid, sid), inputs in reached.some.items() if _any_of(gone, inputs)}
        out.add((record_type, record_id))
        for rid, inputs in reached.every.items():
            if _any_of(gone, inputs):
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
        self._taint = None
        if op == "upsert":
            ds = validate_rows({record_type: [record]})
            if ds.errors:
                raise ChangeError(join([msg("watch.field", field=e.field, message=e.message, value=_shown(e.value))
                                        for e in ds.errors]))
            new = ds.records[record_type][0]
            touched = self._superseded(record_type, new.id)
            old = self.dataset.upsert(new, line)
            touched |= self.affected(new) | (self.affected(old) if old is not None else set())
            rid = new.id
        else:
            rid = record.get("id")
            # the id as an upsert reads it (white space trimmed, full-width forms folded), else as written
            rid = None if rid is None else dict(readable_fields(record_type, {"id": rid}, set())).get("id") or str(rid)
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


def _shown(value: Any) -> Any:
    """A rejected value as a message shows it: itself, or its first characters when it is long (5,000 digits)."""
    text = str(value)
    return value if len(text) <= 80 else f"{text[:60]}…({len(text):,} characters)"


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


def read_change(text: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """One JSON line, numbers kept exact (a 5,000-digit number too); nesting deeper than ``limits.nesting`` is
    a ChangeError, like malformed JSON."""
    try:
        change = json.loads(text, parse_float=Decimal, parse_int=json_number)
    except json.JSONDecodeError as exc:
        raise ChangeError(msg("watch.bad_json", problem=exc.msg, col=exc.colno)) from None
    except RecursionError:
        change = _TOO_DEEP
    if change is _TOO_DEEP or _too_deep(change, limits.nesting):
        raise ChangeError(msg("limit.too_deep_record", n=limits.nesting))
    return change


_TOO_DEEP = object()


def _too_deep(value: Any, limit: int) -> bool:
    todo = [(value, 1)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, (dict, list)):
            if d > limit:
                return True
            todo.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return False


def change_lines(stream: BinaryIO, limits: Limits = DEFAULT_LIMITS) -> Iterator[tuple[int, str | ChangeError]]:
    """The lines of a JSON Lines byte stream as (line number, text), or (line number, ChangeError) for a line
    that cannot be text: invalid UTF-8, or longer than ``limits.line_length`` bytes (skipped without being held).

    Lines end at LF only (a bare CR is part of its line, white space to JSON); a UTF-8 BOM before the first line
    is dropped. Blank lines are not yielded.
    """
    number = 0
    while True:
        raw = stream.readline(limits.line_length + 1)
        if not raw:
            return
        number += 1
        if len(raw) > limits.line_length and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # the rest of the over-long line, read and dropped
                raw = stream.readline(1 << 20)
            yield number, ChangeError(msg("watch.line_too_long", n=f"{limits.line_length:,}"))
            continue
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, ChangeError(msg("watch.not_utf8", byte=exc.start + 1, reason=exc.reason))
            continue
        if text.strip():
            yield number, text
