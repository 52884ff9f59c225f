"""The reasons a decision gives in the engine's own words: every phrase, defined once.

A decision's reasons are mostly the rule pack's own templates (a failed criterion's ``fail`` text, ``applies_if``
reasons, ``positive_reason``). The rest — why a rule does not apply (outside the jurisdiction, before the
document's issue date), why it cannot be decided (missing facts, an unconfigured parameter, a record not in the
dataset, a rejected record), an evaluation error — are written here, and every engine (the reference evaluator,
durable-rules through it, the vectorised backend, streamed, Dask, ``watch``) and the expression evaluator call
these functions, so they cannot drift apart.

Why plain functions and not keys of the message catalogue (:mod:`engine.messages`): a reason is part of the
decision itself, which every engine must give byte for byte, and it is Chinese whatever ``--lang`` says
(output.md: "``reasons`` are human sentences, Chinese first; an English rendering may be added as
``reasons_en``"). A catalogue :class:`~engine.messages.Message` is put into the user's language by
:func:`~engine.messages.localise` at the end of a run, which would turn reasons English under ``--lang en``; and
reasons travel as plain ``str`` through Arrow columns, worker processes and the Parquet output. So each phrase
is a function returning ``str``. The vectorised backend builds a scope phrase around a per-row value with Arrow,
so the two scope phrases also come as ``(before, after)`` pieces (:func:`outside_jurisdiction_parts`,
:func:`before_issue_parts`) from which the one-value form is made.

This module imports only the field vocabulary, so the expression language can use it too.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable

from engine.data.vocabulary import fact_label

__all__ = [
    "UNDETERMINED_SCOPE", "UNDETERMINED_CRITERIA", "AMOUNT_UNCOMPUTABLE", "AMOUNT_BEYOND_BOUND", "undetermined",
    "parameter_not_configured", "absent_record", "evaluation_error", "region_codes", "within_jurisdiction",
    "outside_jurisdiction", "outside_jurisdiction_parts", "not_before_issue", "before_issue", "before_issue_parts",
    "row_place", "rejected_input", "rejected_not_absent", "more_rejected", "UNKNOWN_VALUE", "YES", "NO",
    "NOT_CONFIGURED",
]

NOT_CONFIGURED = "未配置"
"""How a parameter with no value in force is written (a reason's note, ``explain``, ``compare``)."""

UNKNOWN_VALUE = "未知"
"""How a reason writes a value that is unknown (a template's hole, a record looked up by an unknown key)."""

YES, NO = "是", "否"
"""How a reason writes true and false."""

UNDETERMINED_SCOPE = "无法判定是否适用本条"
"""The lead of an undetermined decision whose scope (region, date, ``applies_if``) is unknown."""

UNDETERMINED_CRITERIA = "无法判定"
"""The lead of an undetermined decision whose rule applies but whose criteria are unknown."""

AMOUNT_UNCOMPUTABLE = "条件已满足，但无法计算金额"
"""The lead of an undetermined decision whose criteria are met but whose amount reads an unknown fact."""

AMOUNT_BEYOND_BOUND = "条件已满足，但计算出的金额达到或超过 10¹⁶ 元的金额上限（数据或参数有误？），不给出金额"
"""The reason of a decision whose computed amount is beyond the money bound (engine.data.records.MAX_YUAN): it is
undetermined, with no amount, in every engine."""


def undetermined(lead: str, facts: Iterable[str], notes: Iterable[str] = ()) -> str:
    """An undetermined decision's reason: ``lead：缺少 <the facts' labels>（<notes>）``, facts and notes sorted
    (empty notes left out), each part only when there is one."""
    names = sorted(facts)
    text = f"{lead}：缺少 {'、'.join(fact_label(f) for f in names)}" if names else lead
    said = sorted(n for n in notes if n)
    return text + f"（{'；'.join(said)}）" if said else text


def parameter_not_configured(name: str) -> str:
    """The note on an unknown that comes from a parameter with no value in force: ``参数 NAME 未配置``."""
    return f"参数 {name} {NOT_CONFIGURED}"


def absent_record(record_type: str, key: object) -> str:
    """The note on an unknown fact of a related record that is not in the dataset: ``schools S1 不在数据集中``."""
    return f"{record_type} {key} 不在数据集中"


def evaluation_error(problem: object) -> str:
    """The reason of a decision its rule could not be evaluated for (a division by zero)."""
    return f"规则求值出错：{problem}"


def region_codes(prefixes: Iterable[str]) -> str:
    """A jurisdiction's region-code prefixes as people write them: ``2205xx、2206xx``."""
    return "、".join(p + "xx" for p in prefixes)


def within_jurisdiction(jurisdiction: str, prefixes: Iterable[str]) -> str:
    """What the region scope test requires (``explain``): ``在通化市辖区内（2205xx）``."""
    return f"在{jurisdiction}辖区内（{region_codes(prefixes)}）"


def outside_jurisdiction_parts(label: str, jurisdiction: str, prefixes: Iterable[str]) -> tuple[str, str]:
    """:func:`outside_jurisdiction` as the text before and after the region code."""
    return f"{label} ", f" 不在{jurisdiction}辖区（行政区划代码 {region_codes(prefixes)}）"


def outside_jurisdiction(label: str, region: str, jurisdiction: str, prefixes: Iterable[str]) -> str:
    """Why a rule does not apply to a subject outside its jurisdiction:
    ``注册地行政区划代码 420502 不在通化市辖区（行政区划代码 2205xx）``."""
    before, after = outside_jurisdiction_parts(label, jurisdiction, prefixes)
    return before + region + after


def not_before_issue(document_number: str, issued_on: dt.date) -> str:
    """What the date scope test requires (``explain``): ``不早于《…》发布日期 2019-03-20``."""
    return f"不早于《{document_number}》发布日期 {issued_on.isoformat()}"


def before_issue_parts(label: str, document_number: str, issued_on: dt.date) -> tuple[str, str]:
    """:func:`before_issue` as the text before and after the date."""
    return f"{label} ", f" 早于《{document_number}》发布日期 {issued_on.isoformat()}"


def before_issue(label: str, day: str, document_number: str, issued_on: dt.date) -> str:
    """Why a rule does not apply to a subject dated before its document was issued:
    ``评估日期 2018-12-31 早于《通市政办发〔2019〕10号》发布日期 2019-03-20``."""
    before, after = before_issue_parts(label, document_number, issued_on)
    return before + day + after


def row_place(row: int, place: str | None) -> str:
    """Where a rejected record is, as its reason says it: its place (``实习报酬!E2``) where known, else its row."""
    return place if place is not None else f"第 {row} 行"


def rejected_input(label: str, record_id: object, row: int, place: str | None) -> str:
    """The reason a decision gives for a rejected record it depends on (``label`` the record type's Chinese name):
    ``实习报酬 P1（实习报酬!E2）被拒绝，无法判断``; without a readable id ``校企合作协议（第 3 行，编号无法读取）…``;
    for rows its reader could not read at all (row 0) ``学校有未能读取的行（学校.csv:7），无法判断``."""
    if not row:
        return f"{label}有未能读取的行（{place}），无法判断" if place else f"{label}有未能读取的行，无法判断"
    if record_id is None:
        return f"{label}（{row_place(row, place)}，编号无法读取）被拒绝，无法判断"
    return f"{label} {record_id}（{row_place(row, place)}）被拒绝，无法判断"


def rejected_not_absent(record_type: str, record_id: object, row: int, place: str | None) -> str:
    """:func:`absent_record` said of a record that was rejected rather than absent: ``schools S1 被拒绝（第 2 行）``."""
    return f"{record_type} {record_id} 被拒绝（{row_place(row, place)}）"


def more_rejected(n: int) -> str:
    """The reason counting the rejected records a decision depends on beyond those it names."""
    return f"另有 {n} 条被拒绝的记录可能影响本决定，无法判断"
