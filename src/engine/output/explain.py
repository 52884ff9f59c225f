"""Render a decision's trace for people (text) or programs (JSON).

The trace is recorded by :func:`engine.engines.reference.decide`; this module only formats it: each step with the
expression it evaluated, the facts it read and their values, the parameters it used with their citations,
the outcome, how far a failed threshold is from passing, and which unknown facts to supply.
"""

from __future__ import annotations

from typing import Any

from engine.output.decisions import money
from engine.output.reasons import NOT_CONFIGURED
from engine.output.terms import AMOUNT_KEYS, STATUS_WORDS
from engine.engines.reference import Step, Trace
from engine.language.expressions import RecordRef, Unknown, format_value
from engine.messages import msg, render
from engine.data.vocabulary import fact_label

__all__ = ["trace_to_dict", "trace_to_text", "STATUS_LABELS"]

STATUS_LABELS = STATUS_WORDS["zh"]
"""A status in Chinese (engine.output.terms.STATUS_WORDS)."""
KIND_LABELS = {"lookup": "关联记录", "scope": "适用范围", "applies_if": "适用条件", "criterion": "判定条件", "amount": "金额"}


def _value(v: Any) -> Any:
    """A JSON value for a traced value: unknowns say which facts they miss."""
    if isinstance(v, Unknown):
        return {"unknown": sorted(v.missing), "notes": sorted(n for n in v.notes if n)}
    if isinstance(v, list):
        return [_value(x) for x in v]
    if isinstance(v, RecordRef):
        return None if v.record is None else v.record.id
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    return format_value(v)


def _step_dict(step: Step, trace: Trace) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": step.kind,
        "label": step.label,
        "expression": step.expression,
        "where": step.where,
        "result": _value(step.result),
        "facts": [{"fact": f, "value": _value(v)} for f, v in step.reads],
        "parameters": [
            {"name": p, "value": _value(trace.params.get(p)), "citation": trace.pack.parameters[p].citation.as_dict()}
            for p in step.params
        ],
    }
    if step.kind == "scope":
        out["in_scope"] = _value(step.verdict)
        out["requirement"] = step.reason
    elif step.reason:
        out["reason"] = step.reason
    if step.gap:
        out["gap"] = step.gap
    return out


def _supply_hints(trace: Trace, lang: str = "zh") -> list[str]:
    """What to supply, naming each missing fact as people know it: 一线职工教育培训经费（enterprises.…）未知：…"""
    return [render(msg("explain.supply", label=fact_label(fact, lang)), lang) for fact in trace.decision.missing_facts]


def trace_to_dict(trace: Trace, lang: str = "zh") -> dict[str, Any]:
    """The trace as data (``chanjiao explain --format json``); ``to_supply`` is in ``lang``."""
    d = trace.decision
    return {
        "rule_id": trace.rule.id,
        "title": trace.rule.title,
        "subject_type": trace.subject_type,
        "subject_id": trace.subject_id,
        "as_of": trace.as_of.isoformat(),
        "steps": [_step_dict(s, trace) for s in trace.steps],
        "decision": d.as_dict(),
        "gaps": [s.gap for s in trace.steps if s.gap],
        "to_supply": _supply_hints(trace, lang),
        "rule_file": trace.rule.file,
    }


def _mark(result: Any) -> str:
    if result is True:
        return "✓"
    if result is False:
        return "✗"
    if isinstance(result, Unknown):
        return "?"
    return "·"


def trace_to_text(trace: Trace, lang: str = "zh") -> str:
    """The trace for people: Chinese labels, every fact and parameter with its value and citation.

    The facts to supply are named in ``lang``.
    """
    rule, d = trace.rule, trace.decision
    c = rule.citation
    lines = [
        f"规则 {rule.id} — {rule.title}",
        f"依据 {c.document_number}《{c.title}》{c.clause}：“{c.quote}”",
        f"对象 {trace.subject_type} {trace.subject_id}    评估日期 {trace.as_of.isoformat()}",
        "",
    ]
    current = None
    for step in trace.steps:
        if step.kind != current:
            current = step.kind
            lines.append(KIND_LABELS.get(step.kind, step.kind))
        verdict = step.verdict if step.kind == "scope" else step.result
        lines.append(f"  {_mark(verdict)} {step.label}")
        lines.append(f"      {step.expression}  →  {_text(step.result)}")
        for fact, value in step.reads:
            lines.append(f"      读取 {fact} = {_text(value)}")
        for p in step.params:
            cit = trace.pack.parameters[p].citation
            lines.append(f"      参数 {p} = {_text(trace.params.get(p))}（{cit.clause}：“{cit.quote}”）")
        if step.kind == "scope":
            lines.append(f"      要求 {step.reason}")
        elif step.reason:
            lines.append(f"      理由 {step.reason}")
        if step.gap:
            lines.append(f"      差距 {step.gap}")
    lines.append("")
    lines.append(f"结论 {d.status}（{STATUS_LABELS[d.status]}）")
    for key in AMOUNT_KEYS:
        value = getattr(d, key)
        if value is not None:
            lines.append(f"  {key} = {money(value)}")
    for reason in d.reasons:
        lines.append(f"  · {reason}")
    for hint in _supply_hints(trace, lang):
        lines.append(f"  ! {hint}")
    return "\n".join(lines) + "\n"


def _text(value: Any) -> str:
    if isinstance(value, Unknown):
        return "未知（缺少 " + "、".join(sorted(value.missing)) + "）" if value.missing else NOT_CONFIGURED
    if isinstance(value, list):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return format_value(value)
