"""One enterprise's benefits sheet (``chanjiao check DATASET --enterprise ID``): what it qualifies for, what not
and why, and what it could claim if it supplied the missing facts — in Chinese.

Built from the annotated decision document (so every engine gives the same sheet) plus the joint target of the
enterprise's threshold rules (:func:`engine.output.gaps.joint_targets`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from engine.errors import FatalError
from engine.messages import msg
from engine.output.explain import STATUS_LABELS
from engine.output.reasons import NO, YES
from engine.output.terms import AMOUNT_KEYS, COMPLIANT, ELIGIBLE, NON_COMPLIANT, NOT_APPLICABLE, NOT_ELIGIBLE, UNDETERMINED
from engine.output.gaps import favourable_values, gap_text, joint_targets
from engine.policy.packs import Pack
from engine.data.records import Dataset
from engine.output.safe import visible
from engine.data.vocabulary import fact_label

__all__ = ["benefits_sheet", "benefits_text"]


def _belongs(d: dict[str, Any], dataset: Dataset, enterprise_id: str) -> bool:
    if d["subject_type"] == "enterprises":
        return d["subject_id"] == enterprise_id
    rec = dataset.by_id(d["subject_type"], d["subject_id"])
    return rec is not None and getattr(rec, "enterprise_id", None) == enterprise_id


def benefits_sheet(doc: dict[str, Any], dataset: Dataset, packs: list[Pack], as_of: dt.date,
                   overrides: dict[str, Decimal] | None, enterprise_id: str,
                   titles: dict[str, str] | None = None) -> dict[str, Any]:
    """The sheet as data: ``qualified``, ``not_qualified``, ``undetermined``, ``not_applicable`` decisions about the
    enterprise and its records, the per-year tax totals, and the joint target of its thresholds.

    FatalError when the dataset has no accepted enterprise with that id."""
    ent = dataset.by_id("enterprises", enterprise_id)
    if ent is None:
        rejected = [e for e in doc["errors"] if e.get("record_type") == "enterprises" and e.get("id") == enterprise_id]
        why = msg("benefits.rejected_row", row=rejected[0]["row"], problem=rejected[0]["message"]) if rejected else ""
        raise FatalError(msg("benefits.no_enterprise", id=repr(visible(enterprise_id)), why=why))
    titles = titles or {r.id: r.title for p in packs for r in p.rules}
    rules = {r.id: (r, p) for p in packs for r in p.rules}
    groups: dict[str, list[dict[str, Any]]] = {"qualified": [], "not_qualified": [], UNDETERMINED: [],
                                               NOT_APPLICABLE: []}
    for d in doc["decisions"]:
        if not _belongs(d, dataset, enterprise_id):
            continue
        key = {ELIGIBLE: "qualified", COMPLIANT: "qualified", NOT_ELIGIBLE: "not_qualified",
               NON_COMPLIANT: "not_qualified"}.get(d["status"], d["status"])
        item = {"rule_id": d["rule_id"], "title": titles.get(d["rule_id"], ""), "subject_type": d["subject_type"],
                "subject_id": d["subject_id"], "status": d["status"],
                **{k: d[k] for k in AMOUNT_KEYS}, "reasons": d["reasons"],
                "missing_facts": d["missing_facts"], "gap": d.get("gap"),
                "citation": f"{d['citation']['document_number']} {d['citation']['clause']}"}
        if key == UNDETERMINED:
            found = rules.get(d["rule_id"])
            subject = dataset.by_id(d["subject_type"], d["subject_id"])
            if found is not None and subject is not None:
                item["favourable"] = favourable_values(found[0], found[1], subject, dataset, as_of, overrides,
                                                       d["missing_facts"])
        groups[key].append(item)
    return {
        "enterprise": {"id": ent.id, "name": ent.name, "region_code": ent.region_code},
        "as_of": doc["as_of"], "period": doc.get("period"),
        **groups,
        "tax_by_year": doc["summary"].get("tax_by_enterprise_year", {}).get(enterprise_id, {}),
        "joint_target": joint_targets(packs, ent, dataset, as_of, overrides),
        "titles": {rid: title for rid, title in titles.items() if rid in {r.id for r, _ in rules.values()}},
    }


def _amount(item: dict[str, Any]) -> str:
    if item["amount"] is not None:
        return f" ¥{Decimal(item['amount']):,.2f}"
    if item["amount_min"] is not None:
        return f" ¥{Decimal(item['amount_min']):,.2f}–{Decimal(item['amount_max']):,.2f}"
    return ""


def benefits_text(sheet: dict[str, Any]) -> str:
    """The sheet for people, in Chinese (control characters in the data shown escaped)."""
    e = sheet["enterprise"]
    lines = [f"企业政策享受情况 — {e['name']}（{e['id']}，行政区划 {e['region_code']}）",
             f"评估日期 {sheet['as_of']}" + (f"    期间 {sheet['period']['from']} 至 {sheet['period']['to']}"
                                          if sheet.get("period") else ""), ""]
    numbers = iter("一二三四五六七八九")
    sections = (("qualified", "符合条件 / 合规"), ("not_qualified", "不符合条件 / 不合规及原因"),
                (UNDETERMINED, "无法判定：补充以下事实后可申请"))
    for key, head in sections:
        items = sheet[key]
        lines.append(f"{next(numbers)}、{head}（{len(items)} 项）")
        for it in items:
            lines.append(f"  · {it['title']}  [{STATUS_LABELS[it['status']]}]  {it['subject_type']} "
                         f"{it['subject_id']}{_amount(it)}  依据 {it['citation']}")
            if key != "qualified":
                for reason in it["reasons"]:
                    lines.append(f"      {reason}")
            if it["gap"]:
                lines.append(f"      差距：{gap_text(it['gap'])}")
            if key == UNDETERMINED and it.get("favourable"):
                values = "、".join(f"{fact_label(f)} 为“{YES if v else NO}”" for f, v in it["favourable"].items())
                lines.append(f"      如能证明 {values}，即可判定为符合条件 / 合规")
            elif key == UNDETERMINED and it["missing_facts"]:
                lines.append(f"      如能补充 {'、'.join(fact_label(f) for f in it['missing_facts'])}，即可判定")
        lines.append("")
    if sheet[NOT_APPLICABLE]:
        lines.append(f"{next(numbers)}、不适用（{len(sheet['not_applicable'])} 项）："
                     + "、".join(sorted({it['title'] for it in sheet['not_applicable']})))
        lines.append("")
    if sheet["tax_by_year"]:
        lines.append(f"{next(numbers)}、税前扣除（按年度）")
        for year, v in sheet["tax_by_year"].items():
            lines.append(f"  {year} 年：可扣除 ¥{Decimal(v['deductible']):,.2f}；不可扣除（纳税调增）"
                         f"¥{Decimal(v['non_deductible']):,.2f}；待定 ¥{Decimal(v['undetermined']):,.2f}")
        lines.append("")
    jt = sheet.get("joint_target")
    if jt and not jt["feasible"]:
        lines.append(f"{next(numbers)}、各项比例要求无法同时满足（工资总额过小，1.5%—2.5% 之间没有以分计的金额）")
        lines.append("")
    elif jt and jt["changes"]:
        lines.append(f"{next(numbers)}、同时满足各项比例要求的目标（一次调整到位）")
        for fact, delta in jt["changes"].items():
            verb = "增加" if Decimal(delta) > 0 else "减少"
            lines.append(f"  {fact_label(fact)} {verb} ¥{abs(Decimal(delta)):,.2f}，"
                         f"达到 ¥{Decimal(jt['targets'][fact]):,.2f}")
        lines.append("  调整后：" + "；".join(f"{sheet['titles'].get(r, r)} {STATUS_LABELS[s]}"
                                             for r, s in jt["statuses"].items()))
        lines.append("")
    return visible("\n".join(lines)) + "\n"
