"""The enterprise self-assessment interview: facts in, decisions out, and the next questions worth asking.

The page starts with the enterprise's code, name, region and year; each round runs the same check as
``chanjiao check`` on a one-enterprise dataset and asks next only for the enterprise facts that an undetermined
decision of the chosen document lists in ``missing_facts``. Nothing is stored here.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from engine.output.terms import NOT_APPLICABLE, UNDETERMINED
from engine.errors import FatalError
from engine.output.explain import STATUS_LABELS
from engine.data.vocabulary import fact_label, fields
from engine.service.checking import Upload, read_upload
from engine.service.core import Service

__all__ = ["FIELDS", "AGREEMENT_FIELDS", "AGREEMENT_ROWS", "FACT_KEYS", "BASIC", "Field", "Assessment", "assess", "facts_dataset", "city_choices"]


@dataclass(frozen=True)
class Field:
    """An enterprise fact the interview can ask: name, Chinese label, input kind and a hint."""

    name: str
    label: str
    kind: str  # text | int | money | bool
    hint: str = ""


# The enterprise fields, labelled from the one vocabulary (engine.data.vocabulary); a yes/no fact is asked as a question.
ENTERPRISE_FIELDS = ("id", "name", "region_code", "fiscal_year", "total_wages", "education_fund",
                     "frontline_training_spend", "is_key_enterprise", "credit_blacklisted",
                     "outstanding_cooperation_results", "values_employee_training", "leading_role",
                     "strong_overall_strength")


def _field(name: str, record_type: str = "enterprises") -> Field:
    info = next(f for f in fields(record_type) if f.name == name)
    kind = {"money": "money", "int": "int", "bool": "bool", "date": "date"}.get(info.kind, "text")
    label = info.label_zh + (f"（{info.unit}）" if info.unit else "")
    if kind == "bool" and not label.startswith("是否"):
        label = "是否" + label
    return Field(name, label, kind, f"例如 {info.example}" if kind in ("text", "int", "money") and info.example else "")


FIELDS = tuple(_field(n) for n in ENTERPRISE_FIELDS)
BY_NAME = {f.name: f for f in FIELDS}
# an enterprise may list its 校企合作协议 (agreements) in the interview: school, signing date, end date
AGREEMENT_ROWS = 3
AGREEMENT_FIELDS = (_field("school_id", "agreements"), _field("signed_on", "agreements"),
                    Field("valid_to", _field("valid_to", "agreements").label + "（长期有效可不填）", "date"))
AGREEMENT_KEYS = tuple(f"agreement_{i}_{f.name}" for i in range(1, AGREEMENT_ROWS + 1) for f in AGREEMENT_FIELDS)
FACT_KEYS = tuple(f.name for f in FIELDS) + AGREEMENT_KEYS
BASIC = ("id", "name", "region_code", "fiscal_year")
REQUIRED = ("id", "name", "region_code")


def city_choices(svc: Service) -> list[dict[str, str]]:
    """The documents an enterprise can assess itself against: pack id, city, document number, default region."""
    out = []
    for p in svc.checker.packs:
        prefix = p.region_prefixes[0] if p.region_prefixes else ""
        out.append({"id": p.id, "city": p.jurisdiction, "document_number": p.document_number, "title": p.title,
                    "region": prefix + "0" * (6 - len(prefix)) if len(prefix) <= 6 else ""})
    return out


def facts_dataset(facts: Mapping[str, str]) -> bytes:
    """The one-enterprise dataset (JSON) the facts describe; blank facts are left out (unknown)."""
    record: dict[str, Any] = {}
    for f in FIELDS:
        value = (facts.get(f.name) or "").strip()
        if not value:
            continue
        if f.kind == "bool":
            record[f.name] = {"true": True, "false": False}.get(value, value)
        else:
            record[f.name] = value
    agreements = []
    for i in range(1, AGREEMENT_ROWS + 1):
        row = {f.name: (facts.get(f"agreement_{i}_{f.name}") or "").strip() for f in AGREEMENT_FIELDS}
        if any(row.values()):
            agreements.append({"id": f"自评协议-{i}", "enterprise_id": record.get("id", ""),
                               **{k: v for k, v in row.items() if v}})
    dataset: dict[str, Any] = {"enterprises": [record]}
    if agreements:
        dataset["agreements"] = agreements
    return json.dumps(dataset, ensure_ascii=False).encode("utf-8")


@dataclass
class Assessment:
    """One round of the interview: decisions of the chosen document, the fields to show, errors to fix."""

    pack_id: str
    facts: dict[str, str]
    as_of: dt.date
    decisions: list[dict[str, Any]] = field(default_factory=list)
    ask: list[str] = field(default_factory=list)  # fields asked because an undetermined decision needs them
    show: list[str] = field(default_factory=list)  # basic + asked + already filled, in form order
    other_missing: list[str] = field(default_factory=list)  # facts of other record types (upload a workbook)
    field_errors: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    document: dict[str, Any] | None = None
    ready: bool = False


def assess(svc: Service, pack_id: str, facts: Mapping[str, str], as_of: dt.date) -> Assessment:
    """Run one round: check the facts (the same check as ``chanjiao check``) and choose the next questions."""
    clean = {k: (facts.get(k) or "").strip() for k in FACT_KEYS}
    packs = {p.id: p for p in svc.checker.packs}
    if pack_id not in packs:
        pack_id = svc.checker.packs[0].id
    a = Assessment(pack_id, clean, as_of)
    missing_basic = [n for n in REQUIRED if not clean[n]]
    if missing_basic:
        a.show = [n for n in BASIC] + [f.name for f in FIELDS if f.name not in BASIC and clean[f.name]]
        return a
    try:
        ds = read_upload(svc.checker, Upload("自评.json", facts_dataset(clean)), svc.settings.max_unzipped_bytes)
        result = svc.checker.check(ds, as_of=as_of, engine=svc.engine_for(0))
    except FatalError as exc:
        a.problems.append(str(exc))
        a.show = list(BASIC)
        return a
    doc = result.document
    a.document = doc
    for err in doc.get("errors", []):
        if err.get("record_type") == "agreements":
            a.field_errors[f"agreement_{err.get('row')}_{err.get('field')}"] = err.get("message", "")
        elif err.get("field") in BY_NAME:
            a.field_errors[err["field"]] = err.get("message", "")
        else:
            a.problems.append(err.get("message", ""))
    rule_ids = {r.id for r in packs[pack_id].rules}
    subject = clean["id"]
    asked: list[str] = []
    other: list[str] = []
    for d in doc.get("decisions", []):
        if d["rule_id"] not in rule_ids:
            continue
        if d["subject_type"] == "enterprises" and d["subject_id"] != subject:
            continue
        view = dict(d)
        view["status_label"] = STATUS_LABELS.get(d["status"], d["status"])
        view["title"] = svc.checker.rule(d["rule_id"])[1].title
        view["gaps"] = _gaps(svc, ds, d, as_of)
        view["missing_labels"] = [fact_label(m) for m in d.get("missing_facts", [])]
        a.decisions.append(view)
        for fact in d.get("missing_facts", []):
            rtype, _, name = fact.partition(".")
            if rtype == "enterprises" and name in BY_NAME:
                if name not in asked:
                    asked.append(name)
            elif fact not in other:
                other.append(fact)
    a.ask = [f.name for f in FIELDS if f.name in asked]
    a.other_missing = other
    a.show = [f.name for f in FIELDS if f.name in BASIC or f.name in asked or clean[f.name]
              or f.name in a.field_errors]
    a.ready = not a.field_errors
    return a


def _gaps(svc: Service, ds: Any, decision: dict[str, Any], as_of: dt.date) -> list[str]:
    """How far the enterprise is from each threshold of a decided rule: the explanation's gap sentences."""
    if decision["status"] in (UNDETERMINED, NOT_APPLICABLE):
        return []
    try:
        trace = svc.checker.explain(ds, decision["rule_id"], decision["subject_id"], as_of=as_of)
    except FatalError:
        return []
    return [str(s.gap) for s in trace.steps if getattr(s, "gap", None)]
