"""Compile rules to durable-rules' JSON ruleset format: a pure function whose output is plain data.

durable-rules matches two-valued patterns; the rules are three-valued. Every test a rule makes (scope date,
scope region, each ``applies_if``, each criterion) is compiled twice, into a form that matches exactly when the
test is definitely **true** and one that matches exactly when it is definitely **false** (Kleene)::

    T(a and b) = T(a) ∧ T(b)      F(a and b) = F(a) ∨ F(b)      T(not a) = F(a)
    T(any(b for x in L)) = ∃x∈L: T(b)          F(any(b for x in L)) = ¬∃x∈L: ¬F(b)

A subject for which neither form fires leaves the test open (unknown). Each disjunct becomes one durable rule
whose action (named by the returned ``actions`` table) records the outcome.

What durable matches natively: joins of related records (``by`` field = the outer record's key), string and
date comparisons between two records (dates as day numbers), ``$not`` patterns for "no such record". What it
cannot do exactly is decimal arithmetic (its numbers are doubles), so every test that reads one record is an
**atom**, computed exactly by the expression evaluator when the record is turned into a fact and matched as
a boolean field ``_aN`` (absent when unknown). :class:`CompiledRules` lists the atoms for the fact builder.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from engine.language.expressions import DATE, STR, Attr, Binary, Call, Comp, Lit, Name, Node, Unary, children, walk
from engine.engines.reference import outcome_keys
from engine.policy.packs import Pack, Rule
from engine.data.records import field_kinds

__all__ = ["Atom", "CompiledRules", "CompileError", "check_fact_width", "compile_rules", "date_number", "derived_fields", "fact_field", "negate_cond", "scope_tests", "SUBJECT"]

SUBJECT = "x_subject"  # the subject's alias in every durable rule (short names like 's' or 'm' clash with durable)
VALID_UNTIL = "_valid_until"  # an agreement's valid_to, or the last representable day when it is open-ended


def fact_field(name: str) -> str:
    """The fact field holding a record field: durable treats ``id`` as the fact's identity, so ids are ``rid``."""
    return "rid" if name == "id" else name


class CompileError(Exception):
    """A rule uses a form the durable backend cannot express; the message names the rule and the form."""


@dataclass(frozen=True)
class Atom:
    """A one-record test computed exactly in Python and matched as the boolean fact field ``_a<index>``.

    ``var`` is the name the expression reads the record by (``subject``, a lookup name or a loop variable);
    ``record_type`` the type of the facts it is computed on.
    """

    index: int
    rule_id: str
    record_type: str
    var: str
    node: Node

    @property
    def field(self) -> str:
        """The fact field that carries the atom's value."""
        return f"_a{self.index}"


@dataclass
class CompiledRules:
    """The durable rulesets (one per subject type), the action table and the atoms, all plain data."""

    rulesets: dict[str, dict[str, Any]] = field(default_factory=dict)
    actions: dict[str, tuple[str, str, bool]] = field(default_factory=dict)  # durable rule name -> (rule, test, value)
    atoms: list[Atom] = field(default_factory=list)
    lookups: dict[str, list[tuple[str, str, str, str]]] = field(default_factory=dict)  # subject type -> joins
    refused: dict[str, str] = field(default_factory=dict)  # rule id -> why durable cannot decide it (a value)

    def definition(self) -> dict[str, Any]:
        """The rulesets with every action named by a string: what a snapshot test compares."""
        return {name: {r: {**body, "run": r} for r, body in rules.items()} for name, rules in self.rulesets.items()}


# --------------------------------------------------------------------------------------- patterns

@dataclass(frozen=True)
class _Pat:
    """One fact in a durable ``all`` sequence: alias, record type, join, conditions, and whether it is negated."""

    alias: str
    record_type: str
    join: tuple[str, str, str] | None = None  # (by field, outer alias, outer field)
    conds: tuple[Any, ...] = ()
    negated: bool = False

    def _replace_conds(self, conds: tuple[Any, ...]) -> "_Pat":
        return _Pat(self.alias, self.record_type, self.join, conds, self.negated)


Alt = tuple[_Pat, ...]  # a conjunction of patterns
Form = list[Alt]  # a disjunction of conjunctions

TRUE: Form = [()]
FALSE: Form = []


def _and(a: Form, b: Form) -> Form:
    """Conjunction: every pair of alternatives, conditions on the same (positive) fact merged."""
    out = []
    for x in a:
        for y in b:
            merged: dict[str, _Pat] = {}
            negated: list[_Pat] = []
            for p in x + y:
                if p.negated:
                    negated.append(p)
                elif p.alias in merged:
                    merged[p.alias] = _Pat(p.alias, p.record_type, p.join, merged[p.alias].conds + p.conds)
                else:
                    merged[p.alias] = p
            out.append(tuple(merged.values()) + tuple(negated))
    return out


def _or(a: Form, b: Form) -> Form:
    return a + b


_NEGATE_OP = {"$lt": "$gte", "$gte": "$lt", "$gt": "$lte", "$lte": "$gt"}


def negate_cond(cond: dict[str, Any]) -> dict[str, Any]:
    """The durable condition that matches exactly when ``cond`` does not (an absent field fails every test)."""
    (op, body), = cond.items()
    if op == "$and":
        return {"$or": [negate_cond(c) for c in body]}
    if op == "$or":
        return {"$and": [negate_cond(c) for c in body]}
    if op == "$nex":
        return {"$ex": body}
    if op == "$ex":
        return {"$nex": body}
    if op in _NEGATE_OP or op == "$neq":
        (fld, value), = body.items()
        flipped = {_NEGATE_OP[op]: {fld: value}} if op != "$neq" else {fld: value}
    else:  # equality {field: value}
        fld, value, flipped = op, body, {"$neq": {op: body}}
    if isinstance(value, dict):
        # a join: both fields are always present (the compiler allows no other), and durable raises
        # ERR_PROPERTY_NOT_FOUND (311) for a join on an absent field even inside an $or, so no $nex branch
        return flipped
    return {"$or": [{"$nex": {fld: 1}}, flipped]}


# --------------------------------------------------------------------------------------- compiler

@dataclass(frozen=True)
class _Var:
    """What a name stands for inside a test: an alias of a fact pattern, or a list of related records."""

    alias: str
    record_type: str
    join: tuple[str, str, str] | None = None  # (by field, outer alias, outer field) for a joined record
    many: bool = False
    may_be_absent: bool = False  # a one-lookup: no fact at all when the dataset has no such record


class _RuleCompiler:
    def __init__(self, rule: Rule, out: CompiledRules):
        self.rule = rule
        self.out = out
        self.names: dict[str, _Var] = {"subject": _Var(SUBJECT, rule.subject)}
        self.fresh = 0
        for lk in rule.lookups:
            key = lk.key.node
            if not (isinstance(key, Attr) and isinstance(key.obj, Name) and key.obj.name == "subject"
                    and field_kinds(rule.subject)[key.name].required):
                raise CompileError(f"{rule.id}: lookup {lk.name} must be keyed by a required field of the subject")
            if not field_kinds(lk.record_type)[lk.by].required:
                raise CompileError(f"{rule.id}: lookup {lk.name} joins on {lk.record_type}.{lk.by}, which may be absent; "
                                   "durable cannot join on such a field (ERR_PROPERTY_NOT_FOUND)")
            if not lk.many and lk.by != "id":
                raise CompileError(f"{rule.id}: lookup {lk.name} takes one {lk.record_type} record by {lk.by}; durable "
                                   "would match every record with that value, the rule the first one by id")
            join = (fact_field(lk.by), SUBJECT, fact_field(key.name))
            self.names[lk.name] = _Var(f"x_{lk.name}", lk.record_type, join, lk.many, not lk.many)
            self.out.lookups.setdefault(rule.subject, [])
            entry = (lk.record_type, lk.by, key.name, "many" if lk.many else "one")
            if entry not in self.out.lookups[rule.subject]:
                self.out.lookups[rule.subject].append(entry)

    # -- which names an expression reads -------------------------------------------------------
    def _vars(self, node: Node, bound: dict[str, _Var]) -> set[str]:
        if isinstance(node, Name):
            return {node.name} if node.name in bound and node.name != "as_of" else set()
        if isinstance(node, Comp):
            inner = self._vars(node.iterable, bound)
            sub = {k: v for k, v in bound.items() if k != node.var}
            inner |= self._vars(node.elem, sub) | (self._vars(node.cond, sub) if node.cond else set())
            return inner
        return set().union(*(self._vars(child, bound) for child in children(node)))

    # -- T and F forms -----------------------------------------------------------------------------
    def forms(self, node: Node, bound: dict[str, _Var]) -> tuple[Form, Form]:
        """(definitely true, definitely false) forms of a boolean expression."""
        if isinstance(node, Lit) and isinstance(node.value, bool):
            return (TRUE, FALSE) if node.value else (FALSE, TRUE)
        if isinstance(node, Unary) and node.op == "not":
            t, f = self.forms(node.operand, bound)
            return f, t
        if isinstance(node, Binary) and node.op in ("and", "or"):
            lt, lf = self.forms(node.left, bound)
            rt, rf = self.forms(node.right, bound)
            if node.op == "and":
                return _and(lt, rt), _or(lf, rf)
            return _or(lt, rt), _and(lf, rf)
        if isinstance(node, Comp) and node.func in ("any", "all") and isinstance(node.iterable, Name) \
                and bound.get(node.iterable.name, _Var("", "")).many:
            return self._quantifier(node, bound)
        used = self._vars(node, bound)
        if len(used) <= 1:
            return self._atom(node, bound, next(iter(used), "subject"))
        return self._cross(node, bound, used)

    def _with(self, var: _Var, cond: dict[str, Any] | None = None, negated: bool = False) -> _Pat:
        """The pattern of ``var``'s fact carrying ``cond``."""
        return _Pat(var.alias, var.record_type, var.join, (cond,) if cond is not None else (), negated)

    def _atom(self, node: Node, bound: dict[str, _Var], name: str) -> tuple[Form, Form]:
        var = bound[name]
        if var.many:
            raise CompileError(f"{self.rule.id}: a test reads {name}, a list of {var.record_type}, as a whole "
                               "(count, sum, join or a list); durable matches records one at a time and cannot "
                               "aggregate them")
        if var.may_be_absent and any(isinstance(n, Call) and n.func in _DEFINED_WHEN_ABSENT for n in walk(node)):
            raise CompileError(f"{self.rule.id}: a test on {name} uses known(), missing() or coalesce(), so it is "
                               f"decided even when no {var.record_type} record is found; durable matches only "
                               "records that exist")
        if var.may_be_absent and _decided_without(node, name):
            raise CompileError(f"{self.rule.id}: a test on {name} holds an 'and' or 'or' with a side that does not "
                               f"read {name}, so it may be decided even when no {var.record_type} record is found; "
                               "durable matches only records that exist")
        atom = Atom(len(self.out.atoms), self.rule.id, var.record_type, name, node)
        self.out.atoms.append(atom)
        return [(self._with(var, {atom.field: True}),)], [(self._with(var, {atom.field: False}),)]

    def _cross(self, node: Node, bound: dict[str, _Var], used: set[str]) -> tuple[Form, Form]:
        """A comparison between fields of two records, matched natively as a join condition."""
        if isinstance(node, Call) and node.func == "valid_on":
            inner, outer = node.args
            if not (isinstance(inner, Name) and _is_field(outer)):
                raise CompileError(f"{self.rule.id}: valid_on() needs a related agreement and a field of another record")
            var = bound[inner.name]
            ref = self._ref(outer, bound)
            t = self._with(var, {"$and": [{"$lte": {"valid_from": ref}}, {"$gte": {VALID_UNTIL: ref}}]})
            f1 = self._with(var, {"$gt": {"valid_from": ref}})
            f2 = self._with(var, {"$lt": {VALID_UNTIL: ref}})
            return [(t,)], [(f1,), (f2,)]
        if isinstance(node, Binary) and node.op in ("==", "!=", "<", "<=", ">", ">=") \
                and _is_field(node.left) and _is_field(node.right):
            left, right, op = node.left, node.right, node.op
            if bound[left.obj.name].alias == SUBJECT:  # type: ignore[attr-defined]  # joins refer to the subject
                left, right, op = right, left, _MIRROR[op]
            var = bound[left.obj.name]  # type: ignore[attr-defined]
            ref = self._ref(right, bound)
            fld = left.name  # type: ignore[attr-defined]
            if not field_kinds(var.record_type)[fld].required:
                raise CompileError(f"{self.rule.id}: {var.record_type}.{fld} is optional; durable cannot join on a "
                                   "field that may be absent (ERR_PROPERTY_NOT_FOUND)")
            if field_kinds(var.record_type)[fld].value_type not in ("str", "date", "bool"):
                raise CompileError(f"{self.rule.id}: {var.record_type}.{fld}: durable compares numbers as doubles; "
                                   "compare numbers of two records in a single-record test instead")
            positive, negative = _COMPARE[op]
            fld = fact_field(fld)
            return [(self._with(var, positive(fld, ref)),)], [(self._with(var, negative(fld, ref)),)]
        raise CompileError(f"{self.rule.id}: cannot compare fields of {', '.join(sorted(used))} in one test this way; "
                           "the durable backend supports ==, !=, <, <=, >, >= between two fields and valid_on()")

    def _ref(self, node: Node, bound: dict[str, _Var]) -> dict[str, str]:
        assert isinstance(node, Attr) and isinstance(node.obj, Name)
        var = bound[node.obj.name]
        if var.alias != SUBJECT:
            raise CompileError(f"{self.rule.id}: a join may compare a related record only with the subject's fields")
        kind = field_kinds(var.record_type)[node.name]
        if not kind.required:
            raise CompileError(f"{self.rule.id}: {var.record_type}.{node.name} is optional; a join may compare only "
                               "with required fields of the outer record")
        return {var.alias: fact_field(node.name)}

    def _quantifier(self, node: Comp, bound: dict[str, _Var]) -> tuple[Form, Form]:
        assert isinstance(node.iterable, Name)
        many = bound[node.iterable.name]
        self.fresh += 1
        var = _Var(f"{many.alias}_{self.fresh}", many.record_type, many.join)
        inner = {**bound, node.var: var}
        body: Node = node.elem
        if node.cond is not None:  # any(b for x in L if c) = any(c and b); all(b … if c) = all(not c or b)
            body = (Binary(node.pos, "and", node.cond, body) if node.func == "any"
                    else Binary(node.pos, "or", Unary(node.pos, "not", node.cond), body))
        bt, bf = self.forms(body, inner)
        exists, never = (bt, bf) if node.func == "any" else (bf, bt)
        for alt in exists + never:
            if any(p.alias != var.alias or p.negated for p in alt):
                raise CompileError(f"{self.rule.id}: the body of {node.func}() may read its own record and compare "
                                   "it with required fields of outer records, nothing else")
        # ∃x: E(x) — one alternative per disjunct of E, each with x's pattern (joined to its outer record)
        found: Form = [(self._with(var)._replace_conds(tuple(c for p in alt for c in p.conds)),) for alt in exists]
        # ¬∃x: ¬N(x), N the disjunction of the 'never' alternatives: x is an exception unless one of them holds
        if any(not alt for alt in never):  # N always holds: no record can be an exception
            absent: Form = TRUE
        else:
            conds = [_conj(tuple(c for p in alt for c in p.conds)) for alt in never]
            exception = negate_cond({"$or": conds}) if conds else None
            absent = [(self._with(var, exception, negated=True),)]
        return (found, absent) if node.func == "any" else (absent, found)


_DEFINED_WHEN_ABSENT = ("known", "missing", "coalesce")


def _decided_without(node: Node, name: str) -> bool:
    """Whether an 'and' or 'or' inside ``node`` has a side that does not read ``name``: that side alone may decide it
    (``false and x``, ``p >= 0.6 or x``), so the test is decided even when ``name``'s record is absent."""
    return any(isinstance(n, Binary) and n.op in ("and", "or")
               and any(not any(isinstance(m, Name) and m.name == name for m in walk(side)) for side in (n.left, n.right))
               for n in walk(node))


def rc_names(node: Node) -> set[str]:
    """The bare names an expression reads (``subject``, ``as_of``, lookup names …), parameters excluded."""
    return {n.name for n in walk(node) if isinstance(n, Name) and n.name != "param"}


def _conj(conds: tuple[Any, ...]) -> Any:
    return conds[0] if len(conds) == 1 else {"$and": list(conds)}


def _is_field(node: Node) -> bool:
    return isinstance(node, Attr) and isinstance(node.obj, Name)


_MIRROR = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_OPS = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_NEG = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_COMPARE = {
    "==": (lambda f, r: {f: r}, lambda f, r: {"$neq": {f: r}}),
    "!=": (lambda f, r: {"$neq": {f: r}}, lambda f, r: {f: r}),
    **{op: ((lambda o: lambda f, r: {_OPS[o]: {f: r}})(op), (lambda o: lambda f, r: {_OPS[_NEG[o]]: {f: r}})(op))
       for op in _OPS},
}


def scope_tests(rule: Rule, pack: Pack) -> dict[str, Node]:
    """The scope as two boolean expressions: reference date on or after the issue date, region in jurisdiction."""
    date_node = Binary(0, ">=", rule.date.node, Lit(0, pack.issued_on, DATE))
    region: Node = Lit(0, False, STR)
    for i, prefix in enumerate(pack.region_prefixes):
        test = Call(0, "starts_with", (rule.region.node, Lit(0, prefix, STR)))
        region = test if i == 0 else Binary(0, "or", region, test)
    return {"date": date_node, "region": region}


def compile_rules(packs: list[Pack]) -> CompiledRules:
    """Compile every rule of every pack: one ruleset per subject type, a T and an F rule per test and disjunct.

    A rule durable cannot express exactly is not compiled: ``refused`` says why, per rule, and leaves the rest
    of the packs compiled (the caller decides that rule with another engine, or refuses the packs).
    """
    out = CompiledRules()
    for pack in packs:
        for rule in pack.rules:
            saved = (len(out.atoms), {k: list(v) for k, v in out.lookups.items()})
            try:
                _compile_rule(rule, pack, out)
            except CompileError as exc:
                out.refused[rule.id] = str(exc)
                del out.atoms[saved[0]:]
                out.lookups = saved[1]
                for ruleset in out.rulesets.values():
                    for name in [n for n in ruleset if n.startswith(rule.id + "|")]:
                        del ruleset[name]
                        del out.actions[name]
    out.rulesets = {subject: rules for subject, rules in out.rulesets.items() if rules}
    check_fact_width(out)
    return out


def _compile_rule(rule: Rule, pack: Pack, out: CompiledRules) -> None:
    if rc_names(rule.date.node) - {"subject", "as_of"}:
        raise CompileError(f"{rule.id}: scope.date may read only the subject and as_of in the durable backend")
    rc = _RuleCompiler(rule, out)
    scope = scope_tests(rule, pack)
    nodes = [scope["date"], scope["region"], *(c.test.node for c in rule.applies_if),
             *(c.test.node for c in rule.criteria)]
    tests = dict(zip(outcome_keys(rule), nodes, strict=True))
    ruleset = out.rulesets.setdefault(rule.subject, {})
    for key, node in tests.items():
        t, f = rc.forms(node, dict(rc.names))
        for value, form in ((True, t), (False, f)):
            for i, alt in enumerate(form):
                name = f"{rule.id}|{key}|{'T' if value else 'F'}{i}"
                ruleset[name] = {"all": _sequence(rule.subject, alt)}
                out.actions[name] = (rule.id, key, value)


MAX_FACT_FIELDS = 250  # durable 2.0.28 fails with error 302 (ERR_EVENT_MAX_PROPERTIES) at 254 fields; measured


def check_fact_width(compiled: CompiledRules) -> None:
    """Refuse rules that would put more fields on one fact than durable accepts."""
    for record_type in {a.record_type for a in compiled.atoms}:
        fields = 4 + len(field_kinds(record_type)) + 1  # sid, t, _subject, _n; the record; a derived field
        atoms = sum(1 for a in compiled.atoms if a.record_type == record_type)
        if fields + atoms > MAX_FACT_FIELDS:
            raise CompileError(f"{record_type}: {atoms} conditions on one record type give its facts {fields + atoms} "
                               f"fields; durable accepts at most {MAX_FACT_FIELDS}")


def _sequence(subject_type: str, alt: Alt) -> list[dict[str, Any]]:
    """A durable ``all`` list: the subject first, then joined records, then 'no such record' patterns."""
    subject_conds: list[Any] = [{"t": subject_type}, {"_subject": True}]
    rest = []
    for p in alt:
        if p.alias == SUBJECT and not p.negated:
            subject_conds.extend(p.conds)
        else:
            rest.append(p)
    rest.sort(key=lambda p: p.negated)
    seq = [{SUBJECT: {"$and": subject_conds}}]
    for p in rest:
        join = [{p.join[0]: {p.join[1]: p.join[2]}}] if p.join else []
        body = {"$and": [{"t": p.record_type}, {"_subject": False}, *join, *p.conds]}
        seq.append({f"{p.alias}$not" if p.negated else p.alias: body})
    return seq


def date_number(day: dt.date) -> int:
    """How a date is given to durable: its proleptic ordinal (an exact integer)."""
    return day.toordinal()


def derived_fields(record: Any) -> dict[str, Any]:
    """Fact fields the compiled joins rely on that are always present (see VALID_UNTIL)."""
    if record.record_type == "agreements":
        return {VALID_UNTIL: date_number(record.valid_to or dt.date.max)}
    return {}
