"""Where each record sits in a partitioned check, and where each rule is decided: derived from the rules.

A streamed or Dask check spreads records over partitions by a hash of one field per record type
(:data:`PLACEMENT`, read from the data model's references): an enterprise by its id, every record that refers to an
enterprise by its ``enterprise_id``, a record with no enterprise by its own id. The record type the others refer to
besides enterprises (schools) is kept whole and given to every partition.

Which rule can be decided partition by partition is read from its lookups and indexes, never assumed:
a rule is *local* when every record it can read is in its subject's partition — a lookup or ``T[key]`` is local when
``T`` is kept whole, or when ``T`` is placed by the field the lookup matches and the key is the placing field of a
record already known to be in the partition (the subject, or a local lookup's record). A rule whose subjects are
kept whole, or with a lookup that crosses partitions, is decided once, in the *whole* partition, over the whole
tables of every record type it reads (its records are held in memory there) — never on partial data.
:func:`plan_for` gives the :class:`PartitionPlan` both :mod:`engine.run.stream` and :mod:`engine.run.cluster` follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.language.expressions import Attr, Comp, Index, Name, Node, children
from engine.policy.packs import Pack, Rule
from engine.data.records import RECORD_TYPES, REFERENCES

__all__ = ["PLACEMENT", "PartitionPlan", "plan_for", "crossing"]


def _placement() -> dict[str, str | None]:
    """Per record type, the field whose hash places it (None: kept whole), from the data model's references."""
    shared = {target for target in REFERENCES.values() if target != "enterprises"}
    out: dict[str, str | None] = {}
    for rtype in RECORD_TYPES:
        by_enterprise = [f for (t, f), target in REFERENCES.items() if t == rtype and target == "enterprises"]
        if rtype == "enterprises":
            out[rtype] = "id"
        elif by_enterprise:
            out[rtype] = by_enterprise[0]
        elif rtype in shared:
            out[rtype] = None
        else:
            out[rtype] = "id"
    return out


PLACEMENT: dict[str, str | None] = _placement()
"""Record type -> the field whose hash places its records; None for a type kept whole in every partition."""


@dataclass(frozen=True)
class PartitionPlan:
    """Which rules are decided in the partitions, which once over whole tables, and what those tables are.

    ``whole_rules`` maps a rule id to why it is decided in the whole partition; ``whole_types`` are the record types
    that partition holds entirely (the types kept whole, and every type a whole-partition rule reads).
    """

    placement: dict[str, str | None]
    whole_rules: dict[str, str] = field(default_factory=dict)
    whole_types: frozenset[str] = frozenset()
    partitioned_rules: frozenset[str] = frozenset()
    subject_of: dict[str, str] = field(default_factory=dict)  # rule id -> its subject type

    def partitioned(self, rule_id: str) -> bool:
        """Whether the rule is decided partition by partition (else once, in the whole partition)."""
        return rule_id not in self.whole_rules

    def rules(self, whole: bool) -> set[str]:
        """The ids of the rules the whole partition (``whole``) or every other partition decides."""
        return set(self.whole_rules) if whole else set(self.partitioned_rules)

    def subjects(self, whole: bool) -> set[str]:
        """The subject types of :meth:`rules`."""
        return {self.subject_of[r] for r in self.rules(whole)}

    def reads_whole(self) -> frozenset[str]:
        """The partitioned record types the whole partition must read entirely (beyond those kept whole)."""
        return frozenset(t for t in self.whole_types if self.placement.get(t) is not None)


def plan_for(packs: list[Pack], placement: dict[str, str | None] | None = None) -> PartitionPlan:
    """The plan for these packs: each rule's locality read from its lookups and indexes."""
    placement = dict(PLACEMENT if placement is None else placement)
    whole_rules: dict[str, str] = {}
    whole_types = {t for t, f in placement.items() if f is None}
    local: set[str] = set()
    subject_of = {rule.id: rule.subject for pack in packs for rule in pack.rules}
    for pack in packs:
        for rule in pack.rules:
            why = crossing(rule, placement)
            if why is not None:
                whole_rules[rule.id] = why
                whole_types |= _types_read(rule)
            else:
                local.add(rule.id)
    return PartitionPlan(placement, whole_rules, frozenset(whole_types), frozenset(local), subject_of)


def crossing(rule: Rule, placement: dict[str, str | None]) -> str | None:
    """Why a rule cannot be decided partition by partition (None when it can)."""
    if placement.get(rule.subject) is None:
        return f"its subjects ({rule.subject}) are kept whole"
    # name -> (record type or None, whether the record is in the subject's partition by its placement)
    env: dict[str, tuple[str | None, bool]] = {"subject": (rule.subject, True)}
    for lk in rule.lookups:
        by = placement.get(lk.record_type)
        if by is not None and not (lk.by == by and _partition_value(lk.key.node, env, placement)):
            return (f"lookup {lk.name} finds {lk.record_type} by {lk.by} = {lk.key.text}, and {lk.record_type} are "
                    f"partitioned by {by}")
        env[lk.name] = (lk.record_type, by is not None)
    for node in rule.nodes():
        why = _index_crossing(node, env, placement)
        if why is not None:
            return why
    return None


def _partition_value(node: Node, env: dict[str, tuple[str | None, bool]], placement: dict[str, str | None]) -> bool:
    """Whether ``node`` is the placing field of a record in the partition: its value hashes to this partition."""
    if not isinstance(node, Attr):
        return False
    rtype, local = _record(node.obj, env, placement)
    return local and rtype is not None and placement.get(rtype) == node.name


def _record(node: Node, env: dict[str, tuple[str | None, bool]], placement: dict[str, str | None]
            ) -> tuple[str | None, bool]:
    if isinstance(node, Name):
        return env.get(node.name, (None, False))
    if isinstance(node, Index) and isinstance(node.obj, Name) and node.obj.name not in env:
        by = placement.get(node.obj.name)
        return node.obj.name, by == "id" and _partition_value(node.key, env, placement)
    return None, False


def _index_crossing(node: Node, env: dict[str, tuple[str | None, bool]], placement: dict[str, str | None]
                    ) -> str | None:
    if isinstance(node, Comp):
        why = _index_crossing(node.iterable, env, placement)
        if why is not None:
            return why
        it = node.iterable
        inner = {**env, node.var: env[it.name] if isinstance(it, Name) and it.name in env else (None, False)}
        for part in (node.elem, node.cond):
            why = _index_crossing(part, inner, placement) if part is not None else None
            if why is not None:
                return why
        return None
    if isinstance(node, Index) and isinstance(node.obj, Name) and node.obj.name not in env:
        by = placement.get(node.obj.name)
        if by is not None and not (by == "id" and _partition_value(node.key, env, placement)):
            return f"{node.obj.name}[…] finds {node.obj.name} by id, and {node.obj.name} are partitioned by {by}"
    for child in children(node):
        why = _index_crossing(child, env, placement)
        if why is not None:
            return why
    return None


def _types_read(rule: Rule) -> set[str]:
    """Every record type a rule can read: its subject, its lookups' types and the types it indexes."""
    out = {rule.subject, *(lk.record_type for lk in rule.lookups)}
    for node in rule.nodes():
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, Index) and isinstance(n.obj, Name) and n.obj.name in RECORD_TYPES:
                out.add(n.obj.name)
            stack.extend(children(n))
    return out
