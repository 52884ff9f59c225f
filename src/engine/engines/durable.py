"""durable-rules as the engine that decides every test of every rule.

:class:`DurableEngine` is an object the caller owns: it holds its own durable host (which starts none of
durable's timer threads), registers the compiled rulesets under names unique to itself, and frees them on
:meth:`close`. Each subject is decided in its own session: its facts (the subject, its related records, the
exact atoms) are asserted one by one, the T/F rules that fire record the test outcomes, and the session is
deleted. The decision is then assembled by :func:`engine.engines.reference.decide` from those outcomes, so the
document is the reference evaluator's byte for byte — and if durable ever leaves open a test the evaluator
decides (or the other way round), :class:`engine.engines.reference.BackendMismatch` is raised, never hidden.

Traps of durable-rules 2.0.28 handled here: ``delete_ruleset`` corrupts memory (see
:meth:`DurableEngine.close`); a fact that matches no pattern raises MessageNotHandledException
(and would lose the rest of a batch, so facts go one at a time and such a fact is irrelevant); identical or
hash-colliding facts raise MessageObservedException (every fact carries a unique ``_n``); aliases ``s`` and
``m`` clash with durable's closure (aliases are prefixed ``x_``); numbers are doubles (exact arithmetic is done
before facts are made); the host's timer threads (not started); rulesets cannot be replaced (a new engine is
built and the old one dropped).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, Callable

from durable.engine import Host, MessageNotHandledException

from engine.output.decisions import Decision, build_document
from engine.errors import EvaluationError
from engine.engines.reference import BackendMismatch, decision_for, params_for
from engine.language.expressions import Context, ExprEvalError, RecordRef, Unknown, evaluate
from engine.policy.packs import Pack, Rule
from engine.data.records import Dataset, RecordModel, field_kinds
from engine.engines.durable_compile import CompiledRules, CompileError, compile_rules, date_number, derived_fields, fact_field

__all__ = ["DurableCrashed", "DurableEngine", "evaluate_isolated"]


class _QuietHost(Host):
    """A durable host that starts no dispatch or timer threads: actions run inside the assert calls."""

    def __init__(self, actions: Callable[[str], Callable[[Any], None]]):
        self._lookup_action = actions
        super().__init__()

    def _run(self) -> None:  # the base class starts two self-re-arming threading.Timer loops here
        return None

    def get_action(self, action_name: str) -> Callable[[Any], None]:
        return self._lookup_action(action_name)


class DurableEngine:
    """Decides rule packs with durable-rules; one engine per set of packs, closed when done.

    A rule the compiler refuses (``refused``: rule id -> why) makes the engine raise :class:`CompileError`
    naming it, unless ``fallback`` is set: then the reference evaluator decides that rule (the document is the
    same; :meth:`decided_by` says which engine decided which rule).
    """

    def __init__(self, packs: list[Pack], fallback: bool = False):
        self.packs = packs
        self.compiled: CompiledRules = compile_rules(packs)
        self.refused: dict[str, str] = dict(self.compiled.refused)
        if self.refused and not fallback:
            raise CompileError(next(iter(self.refused.values())))
        self._rules: dict[str, tuple[Pack, Rule]] = {r.id: (p, r) for p in packs for r in p.rules}
        # a fresh name per engine (id(self) is reused once an engine is freed): no two engines in a process share one
        tag = uuid.uuid4().hex
        self._names = {subject: f"chanjiao_{tag}_{subject}" for subject in self.compiled.rulesets}
        self._fallback = fallback
        self._outcomes: dict[tuple[str, str], bool] | None = None
        self._seq = 0
        self._sessions = 0
        self._host: _QuietHost | None = _QuietHost(self._action)
        definition = self.compiled.definition()
        self._host.set_rulesets({self._names[s]: definition[s] for s in definition})

    def decided_by(self) -> dict[str, str]:
        """Which engine decides each rule: ``durable``, or ``reference`` for a rule durable refused."""
        return {r.id: "reference" if r.id in self.refused else "durable" for p in self.packs for r in p.rules}

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop using the engine. Its rulesets stay allocated in durable's C heap (about 1 MB per engine):
        durable's ``delete_ruleset`` corrupts its handle table — a soak test of engines created and deleted
        in a loop crashed with a segmentation fault after 500–750 cycles, while 6,000 engines never deleted
        ran to the end. Create one engine per set of packs and reuse it; sessions are freed after each subject.
        """
        self._host = None

    def __enter__(self) -> "DurableEngine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def replace_packs(self, packs: list[Pack]) -> "DurableEngine":
        """An engine for changed packs; this one is closed (durable has no way to replace a ruleset in place)."""
        self.close()
        return DurableEngine(packs, fallback=bool(self._fallback))

    # -- actions ---------------------------------------------------------------------------------
    def _action(self, name: str) -> Callable[[Any], None]:
        rule_id, key, value = self.compiled.actions[name]

        def record(_closure: Any) -> None:
            assert self._outcomes is not None, "an action fired outside a session"
            previous = self._outcomes.setdefault((rule_id, key), value)
            if previous is not value:
                raise BackendMismatch(f"{rule_id} {key}: both the true and the false form matched")

        return record

    # -- facts -----------------------------------------------------------------------------------
    def _fact(self, sid: str, record: RecordModel, is_subject: bool) -> dict[str, Any]:
        self._seq += 1
        fact: dict[str, Any] = {"sid": sid, "t": record.record_type, "_subject": is_subject, "_n": self._seq}
        for name, kind in field_kinds(record.record_type).items():
            value = getattr(record, name)
            if value is None or kind.value_type == "number":  # numbers never reach durable: atoms compare them
                continue
            fact[fact_field(name)] = date_number(value) if isinstance(value, dt.date) else value
        fact.update(derived_fields(record))
        return fact

    def _atom_contexts(self, subject: RecordModel, dataset: Dataset, as_of: dt.date,
                       overrides: dict[str, Decimal] | None) -> dict[str, Context]:
        """Per rule, the context its atoms are computed in: as_of and the parameters in force on its date."""
        out = {}
        for rule_id, (pack, rule) in self._rules.items():
            if rule.subject != subject.record_type or rule_id in self.refused:
                continue
            ctx = Context({"subject": RecordRef(rule.subject, subject, subject.id), "as_of": as_of},
                          params_for(pack, as_of, overrides), dataset.by_id)
            try:
                day = evaluate(rule.date.node, ctx)
            except ExprEvalError:
                day = Unknown()
            if not isinstance(day, Unknown):
                ctx.params = params_for(pack, day, overrides)
            out[rule_id] = ctx
        return out

    def _facts(self, subject: RecordModel, dataset: Dataset, as_of: dt.date,
               overrides: dict[str, Decimal] | None, failed: set[str], sid: str) -> list[dict[str, Any]]:
        """The session's facts, related records first; ``failed`` collects rules with an atom that raised."""
        subject_fact = self._fact(sid, subject, True)
        related: dict[tuple[str, str], dict[str, Any]] = {}
        for record_type, by, key_field, kind in self.compiled.lookups.get(subject.record_type, []):
            key = getattr(subject, key_field)
            found = dataset.where(record_type, by, key) if key is not None else []
            for rec in found if kind == "many" else found[:1]:
                related.setdefault((record_type, rec.id), self._fact(sid, rec, False))
        contexts = self._atom_contexts(subject, dataset, as_of, overrides)
        for atom in self.compiled.atoms:
            ctx = contexts.get(atom.rule_id)
            if ctx is None:
                continue
            targets = [(subject, subject_fact)] if atom.var == "subject" else [
                (dataset.by_id(t, i), f) for (t, i), f in related.items() if t == atom.record_type]
            for record, fact in targets:
                names = {"as_of": ctx.names["as_of"], atom.var: RecordRef(atom.record_type, record, record.id)}
                try:
                    value = evaluate(atom.node, Context(names, ctx.params, ctx.table))
                except ExprEvalError:
                    failed.add(atom.rule_id)  # decided by the evaluator, which reports the error as the reference does
                    continue
                if isinstance(value, bool):
                    fact[atom.field] = value
        # the subject last: when it arrives every related record is already there, so a 'no such record'
        # pattern cannot fire early (durable never takes back an action it has run)
        return [*related.values(), subject_fact]

    # -- deciding --------------------------------------------------------------------------------
    def outcomes(self, subject: RecordModel, dataset: Dataset, as_of: dt.date,
                 overrides: dict[str, Decimal] | None = None) -> dict[str, dict[str, bool] | None]:
        """Run one subject's session: per rule id, the tests durable decided (open tests are absent), or None
        for a rule one of whose exact atoms could not be computed (a division by zero): the evaluator decides
        that rule for this subject and reports the error, exactly as the reference does."""
        if self._host is None:
            raise RuntimeError("the engine is closed")
        name = self._names.get(subject.record_type)
        if name is None:
            return {}
        self._outcomes = {}
        # A session is named by a number of this engine, never by the record's id: durable's C layer writes a
        # session name into its own messages unescaped, so an id with a backslash, a quote or a control
        # character could not be deleted — and a later session of that id would still see its old facts.
        self._sessions += 1
        sid = f"s{self._sessions}"
        failed: set[str] = set()
        try:
            for fact in self._facts(subject, dataset, as_of, overrides, failed, sid):
                try:
                    self._host.assert_fact(name, fact)
                except MessageNotHandledException:
                    pass  # the fact matches no pattern of any rule: nothing depends on it
            result: dict[str, dict[str, bool] | None] = {}
            for (rule_id, key), value in self._outcomes.items():
                result.setdefault(rule_id, {})[key] = value  # type: ignore[index]
            result.update({rule_id: None for rule_id in failed})
            return result
        finally:
            self._outcomes = None
            try:
                self._host.delete_state(name, sid)
            except Exception:  # noqa: BLE001 - a session with no facts has no state to delete
                pass

    def decide(self, subject: RecordModel, dataset: Dataset, as_of: dt.date,
               overrides: dict[str, Decimal] | None, errors: list[EvaluationError]) -> list[Decision]:
        """Every rule's decision about one subject, assembled from durable's outcomes."""
        found = self.outcomes(subject, dataset, as_of, overrides)
        return [decision_for(rule, pack, subject, dataset, as_of, overrides, errors,
                             None if rule_id in self.refused else found[rule_id] if rule_id in found else {})
                for rule_id, (pack, rule) in self._rules.items() if rule.subject == subject.record_type]

    def evaluate_dataset(self, dataset: Dataset, as_of: dt.date,
                         overrides: dict[str, Decimal] | None = None) -> dict[str, Any]:
        """The decision document of output.md, decided by durable-rules."""
        decisions: list[Decision] = []
        errors: list[EvaluationError] = []
        for subject_type in dict.fromkeys(rule.subject for _, rule in self._rules.values()):
            for subject in dataset.records[subject_type]:
                decisions.extend(self.decide(subject, dataset, as_of, overrides, errors))
        return build_document(as_of, self.packs, decisions, dataset, errors)


class DurableCrashed(Exception):
    """durable-rules' C engine died (a segmentation fault, a known defect of the unmaintained library)."""


def evaluate_isolated(packs: list[Pack], dataset: Dataset, as_of: dt.date,
                      overrides: dict[str, Decimal] | None = None, fallback: bool = False) -> dict[str, Any]:
    """:meth:`DurableEngine.evaluate_dataset` in a forked child process, so a crash of durable's C engine cannot
    take the caller with it; raises :class:`DurableCrashed` when the child dies instead of answering.

    durable-rules 2.0.28 occasionally dies with SIGSEGV inside ``assert_fact`` (about one run in forty on the
    Yichang example, depending on memory layout; its tracker has such reports open, #381): the caller decides
    what to do then (the CLI falls back to the reference evaluator, which gives the same document).
    """
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)

    def run() -> None:
        from engine.output.atomic import die_with_parent

        die_with_parent()  # a parent killed outright takes the child with it
        try:
            with DurableEngine(packs, fallback) as engine:
                answer: tuple[str, Any] = ("document", engine.evaluate_dataset(dataset, as_of, overrides))
        except Exception as exc:  # noqa: BLE001 - a Python error is the caller's to see, not a crash
            answer = ("error", exc)
        send.send(answer)

    child = ctx.Process(target=run, daemon=True)
    child.start()
    send.close()  # the child holds the only sending end: its death ends the pipe
    try:
        kind, value = receive.recv()
    except EOFError:  # no answer: the child died
        child.join()
        raise DurableCrashed(f"durable-rules' engine died (exit status {child.exitcode})") from None
    finally:
        receive.close()
    child.join()
    if kind == "error":
        raise value
    return value
