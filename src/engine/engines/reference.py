"""The reference evaluator: the definition of what every rule decides.

For each rule and each accepted record of the rule's subject type, :func:`decide` evaluates, in order:

1. the lookups (related records; an absent one makes its facts unknown);
2. the scope: region code inside the jurisdiction, reference date on or after the issue date, then the
   rule's ``applies_if`` conditions — all in Kleene logic; false → ``not_applicable``;
3. the criteria (Kleene conjunction): true → positive (eligible/compliant) with the amounts; false → negative,
   naming every failed criterion; unknown → ``undetermined`` with the missing facts;
4. amounts: an amount that depends on an unknown fact makes a positive decision ``undetermined``; one that
   depends only on a parameter that is not configured is null.

Every step is recorded in a :class:`Trace` (facts read, parameters used, result) that ``explain`` renders.
Later backends must give exactly the decisions this module gives.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping

from engine.output import reasons
from engine.output.decisions import Decision, amount_beyond_bound, build_document
from engine.output.terms import NOT_APPLICABLE, UNDETERMINED
from engine.errors import EvaluationError
from engine.language.expressions import (
    Context,
    ExprEvalError,
    RecordRef,
    Unknown,
    evaluate,
    format_value,
    kleene_and,
    render_template,
)
from engine.policy.packs import Expr, Pack, Rule
from engine.policy.params import in_force
from engine.data.records import Dataset

__all__ = [
    "BackendMismatch",
    "Outcomes",
    "ReferenceEngine",
    "Step",
    "Trace",
    "decide",
    "decision_for",
    "evaluate_dataset",
    "params_for",
    "parse_param_overrides",
    "outcome_keys",
]

Outcomes = Mapping[str, "bool | None"]


class BackendMismatch(Exception):
    """A backend left a test open that the expression evaluator decides, or the other way round: a bug."""


def outcome_keys(rule: Rule) -> list[str]:
    """The keys of the tests a rule makes, in evaluation order; backends report outcomes under these keys."""
    return (["scope:date", "scope:region"] + [f"applies_if:{i}" for i in range(len(rule.applies_if))]
            + [f"criterion:{c.id}" for c in rule.criteria])


@dataclass
class Step:
    """One evaluated piece of a rule: what it tested, the facts it read, the parameters it used, its result."""

    kind: str  # lookup, scope, applies_if, criterion, amount
    label: str
    expression: str
    result: Any
    reads: list[tuple[str, Any]] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    reason: str | None = None
    gap: str | None = None
    where: str = ""
    verdict: Any = None  # for scope steps: whether the value is inside the scope (True/False/Unknown)


@dataclass
class Trace:
    """Everything one decision was made from, in evaluation order."""

    rule: Rule
    pack: Pack
    subject_type: str
    subject_id: str
    as_of: dt.date
    steps: list[Step]
    params: dict[str, Any]
    decision: Decision


def params_for(pack: Pack, day: dt.date, overrides: dict[str, Decimal] | None = None) -> dict[str, Any]:
    """The ``param`` names of a rule's expressions on ``day``: each parameter's value in force
    (:func:`engine.policy.params.in_force`); one with no value in force is Unknown (not configured)."""
    out: dict[str, Any] = {}
    for name in pack.parameters:
        value = in_force(pack, name, day, overrides).value
        out[name] = Unknown(notes=frozenset({reasons.parameter_not_configured(name)})) if value is None else value
    return out


def parse_param_overrides(items: list[str], packs: list[Pack], allow_out_of_range: bool = False) -> dict[str, Decimal]:
    """Parse ``NAME=VALUE`` (or ``PACK.NAME=VALUE``) parameter overrides, checked against each parameter's type,
    unit and cited range (:func:`engine.policy.params.parse_overrides`; -0 is 0); raise ValueError naming a bad one."""
    from engine.policy.params import parse_overrides

    return parse_overrides(items, packs, allow_out_of_range)


class _Run:
    """The state of one decision being made: context, steps, and the facts read since the last step."""

    def __init__(self, rule: Rule, pack: Pack, subject: Any, dataset: Dataset, as_of: dt.date,
                 overrides: dict[str, Decimal] | None, outcomes: Outcomes | None):
        self.rule, self.pack, self.dataset, self.as_of, self.overrides = rule, pack, dataset, as_of, overrides
        names: dict[str, Any] = {"subject": RecordRef(rule.subject, subject, subject.id), "as_of": as_of}
        self.ctx = Context(names, params_for(pack, as_of, overrides), dataset.by_id)
        self.steps: list[Step] = []
        self.outcomes = outcomes

    def run(self, kind: str, label: str, expr: Expr) -> Any:
        mark_r, mark_p = len(self.ctx.reads), len(self.ctx.params_read)
        result = evaluate(expr.node, self.ctx)
        self.steps.append(Step(kind, label, expr.text, result, self.ctx.reads[mark_r:],
                               sorted(set(self.ctx.params_read[mark_p:])), where=expr.where))
        return result

    def test(self, key: str, kind: str, label: str, expr: Expr) -> Any:
        """A test's outcome: the backend's when it decided it, else the evaluator's (which must then be unknown)."""
        if self.outcomes is not None:
            given = self.outcomes.get(key)
            if given is not None:
                self.steps.append(Step(kind, label, expr.text, given, where=expr.where))
                return given
        result = self.run(kind, label, expr)
        if self.outcomes is not None and not isinstance(result, Unknown):
            raise BackendMismatch(f"{self.rule.id} {self.ctx.names['subject'].key}: the backend left {key} open, "
                                  f"the evaluator decides {result!r}")
        return result

    def given(self, key: str, computed: Any) -> Any:
        """A scope outcome: the backend's when it decided it; the computed one must agree."""
        if self.outcomes is None:
            return computed
        value = self.outcomes.get(key)
        if (value is None) != isinstance(computed, Unknown) or (value is not None and value is not computed):
            raise BackendMismatch(f"{self.rule.id} {self.ctx.names['subject'].key}: the backend says {key} is "
                                  f"{value!r}, the evaluator {computed!r}")
        return computed if value is None else value


def decide(rule: Rule, pack: Pack, subject: Any, dataset: Dataset, as_of: dt.date,
           overrides: dict[str, Decimal] | None = None, outcomes: Outcomes | None = None) -> Trace:
    """Decide one rule for one subject record; the trace carries the decision.

    ``outcomes`` are test outcomes decided by another backend (keys of :func:`outcome_keys`; None = left open):
    a decided test is taken as is, an open one is evaluated for its missing facts and must be unknown.
    """
    r = _Run(rule, pack, subject, dataset, as_of, overrides, outcomes)
    ctx = r.ctx
    for lk in rule.lookups:
        key = r.run("lookup", f"{lk.name}: {lk.record_type}.{lk.by} = {lk.key.text}", lk.key)
        if lk.many:
            value: Any = key if isinstance(key, Unknown) else [
                RecordRef(lk.record_type, rec, rec.id) for rec in dataset.where(lk.record_type, lk.by, key)]
            r.steps[-1].result = value
        else:
            found = None if isinstance(key, Unknown) else next(iter(dataset.where(lk.record_type, lk.by, key)), None)
            value = RecordRef(lk.record_type, found, key)
            r.steps[-1].result = "未找到" if found is None else found.id
        ctx.names[lk.name] = value

    day = r.run("scope", rule.date_label, rule.date)
    if not isinstance(day, Unknown):
        ctx.params = params_for(pack, day, overrides)
    in_time = r.given("scope:date", day if isinstance(day, Unknown) else day >= pack.issued_on)
    r.steps[-1].verdict = in_time
    r.steps[-1].reason = reasons.not_before_issue(pack.document_number, pack.issued_on)
    region = r.run("scope", rule.region_label, rule.region)
    in_region = r.given("scope:region", region if isinstance(region, Unknown)
                        else any(region.startswith(p) for p in pack.region_prefixes))
    r.steps[-1].verdict = in_region
    r.steps[-1].reason = reasons.within_jurisdiction(pack.jurisdiction, pack.region_prefixes)
    not_applicable: list[str] = []
    if in_region is False:
        not_applicable.append(reasons.outside_jurisdiction(rule.region_label, region, pack.jurisdiction,
                                                           pack.region_prefixes))
    if in_time is False:
        not_applicable.append(reasons.before_issue(rule.date_label, format_value(day), pack.document_number,
                                                   pack.issued_on))
    scope_results = [in_region, in_time]
    for i, cond in enumerate(rule.applies_if):
        res = r.test(f"applies_if:{i}", "applies_if", cond.test.text, cond.test)
        scope_results.append(res)
        if res is False:
            not_applicable.append(render_template(cond.reason.template, ctx))
    applies = kleene_and(scope_results)

    crit_results = []
    for cr in rule.criteria if applies is not False else ():  # a rule that does not apply is not examined
        res = r.test(f"criterion:{cr.id}", "criterion", cr.label, cr.test)
        crit_results.append(res)
        step = r.steps[-1]
        if res is False:
            step.reason = _fail_reason(cr.fail, ctx)
            if cr.gap is not None:
                step.gap = render_template(cr.gap.template, ctx)
        elif res is True and cr.passed is not None:
            step.reason = render_template(cr.passed.template, ctx)
    met = kleene_and(crit_results)

    d = Decision(rule.id, rule.subject, subject.id, UNDETERMINED, rule.effect, rule.citation)
    if applies is False:
        d.status, d.reasons = NOT_APPLICABLE, not_applicable
    elif isinstance(applies, Unknown):
        unknown = applies | met if isinstance(met, Unknown) else applies
        d.missing_facts = sorted(unknown.missing)
        d.reasons = [_undetermined_reason(unknown, reasons.UNDETERMINED_SCOPE)]
    elif met is False:
        d.status = rule.negative
        d.reasons = [s.reason for s in r.steps if s.kind == "criterion" and s.result is False and s.reason]
    elif isinstance(met, Unknown):
        d.missing_facts = sorted(met.missing)
        d.reasons = [_undetermined_reason(met, reasons.UNDETERMINED_CRITERIA)]
    else:
        _positive(r, d)
    return Trace(rule, pack, rule.subject, subject.id, as_of, r.steps, dict(ctx.params), d)


def _positive(r: _Run, d: Decision) -> None:
    rule, ctx = r.rule, r.ctx
    amounts: dict[str, Any] = {}
    blocked = Unknown()
    for key, expr in rule.amounts.items():
        value = r.run("amount", key, expr)
        if isinstance(value, Unknown):
            if value.missing:
                blocked = blocked | value
            value = None
        amounts[key] = value
    if blocked.missing:
        d.missing_facts = sorted(blocked.missing)
        d.reasons = [_undetermined_reason(blocked, reasons.AMOUNT_UNCOMPUTABLE)]
        return
    if any(amount_beyond_bound(v) for v in amounts.values()):  # no amount beyond the documented money bound
        d.reasons = [reasons.AMOUNT_BEYOND_BOUND]
        return
    d.status = rule.positive
    for key, value in amounts.items():
        setattr(d, key, value)
    if rule.positive_reason is not None:
        d.reasons = [render_template(rule.positive_reason.template, ctx)]
    else:
        d.reasons = [s.reason for s in r.steps if s.kind == "criterion" and s.reason]
    if rule.amount_note:
        d.reasons.append(rule.amount_note)
    if rule.rollup is not None:
        key = evaluate(rule.rollup.key.node, ctx)
        period = evaluate(rule.rollup.period.node, ctx) if rule.rollup.period else None
        if not isinstance(key, Unknown) and not isinstance(period, Unknown):
            d.rollup = (rule.rollup.name, rule.rollup.group, str(key), None if period is None else format_value(period))


def _fail_reason(variants: tuple[tuple[Expr | None, Any], ...], ctx: Context) -> str:
    for when, tpl in variants:
        if when is None or evaluate(when.node, ctx) is True:
            return render_template(tpl.template, ctx)
    return ""  # pragma: no cover - the compiler requires a default variant


def _undetermined_reason(unknown: Unknown, lead: str) -> str:
    return reasons.undetermined(lead, unknown.missing, unknown.notes)


def decision_for(rule: Rule, pack: Pack, subject: Any, dataset: Dataset, as_of: dt.date,
                 overrides: dict[str, Decimal] | None, errors: list[EvaluationError],
                 outcomes: Outcomes | None = None) -> Decision:
    """:func:`decide` for a document: a subject the rule cannot be evaluated for (a division by zero) gets an
    undetermined decision saying so, and the error is appended to ``errors``."""
    try:
        return decide(rule, pack, subject, dataset, as_of, overrides, outcomes).decision
    except ExprEvalError as exc:
        errors.append(EvaluationError(exc.args[0], rule.id, subject.id))
        return Decision(rule.id, rule.subject, subject.id, UNDETERMINED, rule.effect, rule.citation,
                        reasons=[reasons.evaluation_error(exc)])


class ReferenceEngine:
    """The reference evaluator behind the same small interface as the other backends."""

    def __init__(self, packs: list[Pack]):
        self.packs = packs

    def decide(self, subject: Any, dataset: Dataset, as_of: dt.date, overrides: dict[str, Decimal] | None,
               errors: list[EvaluationError]) -> list[Decision]:
        """Every rule's decision about one subject."""
        return [decision_for(rule, pack, subject, dataset, as_of, overrides, errors)
                for pack in self.packs for rule in pack.rules if rule.subject == subject.record_type]

    def evaluate_dataset(self, dataset: Dataset, as_of: dt.date,
                         overrides: dict[str, Decimal] | None = None) -> dict[str, Any]:
        """The decision document of output.md."""
        return evaluate_dataset(dataset, self.packs, as_of, overrides)

    def close(self) -> None:
        """Nothing to free."""

    def __enter__(self) -> "ReferenceEngine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def evaluate_dataset(dataset: Dataset, packs: list[Pack], as_of: dt.date,
                     overrides: dict[str, Decimal] | None = None) -> dict[str, Any]:
    """Decide every rule of every pack for every accepted record; the decision document of output.md."""
    decisions: list[Decision] = []
    errors: list[EvaluationError] = []
    for pack in packs:
        for rule in pack.rules:
            for subject in dataset.records[rule.subject]:
                decisions.append(decision_for(rule, pack, subject, dataset, as_of, overrides, errors))
    return build_document(as_of, packs, decisions, dataset, errors)
