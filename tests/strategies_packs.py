"""Hypothesis strategies for rule packs nobody has written yet, and datasets to decide them on.

:func:`rule_packs` draws a well-typed pack from the rule language: one-lookups and many-lookups (by id and by a
reference field), comprehensions with ``any``/``all``/``count``/``sum``/``join`` and list comprehensions,
plain aggregates over a lookup, ``schools[...]`` indexes, arithmetic (``+ - * /``, unary minus, ``min``/``max``,
``ceil_fen``/``round_fen``), comparisons of numbers, dates and text, ``starts_with``, ``valid_on``, ``add_years``,
``days_between``, ``year``, unknown facts through ``known``/``missing``/``coalesce``, region and date scopes, dated
parameters (one not configured on some days), applicability conditions, reason variants, templates with every
format, amounts and roll-ups. :func:`pack_datasets` draws records for it: optional fields left empty, boundary
dates (the issue date, a parameter's change date, the evaluation date and the days beside them), money at 0 and
one fen, dangling references, and rejected records (bad dates, bad money, a missing id).

A drawn pack is plain data (:class:`PackSpec`); :func:`write_pack` writes it as a pack folder.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from conftest import make_uscc
from engine.data.records import RECORD_TYPES, field_kinds

ISSUED = dt.date(2020, 1, 1)
CHANGE = dt.date(2021, 7, 1)  # a dated parameter changes value here
AS_OFS = (dt.date(2021, 6, 30), dt.date(2021, 7, 1), dt.date(2021, 12, 31), dt.date(2019, 12, 31))
SOURCE = "第一条 企业应当依法合作。第二条 学校应当依法办学。第三条 补贴标准按年度确定。"
QUOTES = ("企业应当依法合作", "学校应当依法办学", "补贴标准按年度确定")

# the lookups a subject can make: (record type, by, key field of the subject, many)
_ONE = {
    "enterprise_id": ("enterprises", "id"),
    "school_id": ("schools", "id"),
}
_MANY_BY_ENTERPRISE = ("agreements", "internship_payments", "practice_expenses", "certificates", "land_applications")
_MANY_BY_SCHOOL = ("agreements", "internship_payments", "graduates", "practice_expenses")


def _fields(rtype: str, value_type: str) -> list[str]:
    return [n for n, k in field_kinds(rtype).items() if k.value_type == value_type]


@dataclass
class Scope:
    """The names an expression may read: record-valued names, list-valued names, parameters by type."""

    records: dict[str, str]  # name -> record type (subject, one-lookups, loop variables)
    lists: dict[str, str]  # name -> record type (many-lookups)
    params: dict[str, str]  # parameter name -> type
    fresh: list[int] = field(default_factory=lambda: [0])

    def with_var(self, name: str, rtype: str) -> "Scope":
        return Scope({**self.records, name: rtype}, self.lists, self.params, self.fresh)

    def var(self) -> str:
        self.fresh[0] += 1
        return f"v{self.fresh[0]}"


NUM_LITS = ("0", "1", "2", "0.015", "0.6", "100", "1000.50", "0.01")
DATE_LITS = ("date('2020-01-01')", "date('2021-07-01')", "date('2021-06-30')", "date('2020-02-29')")
STR_LITS = ("'2205'", "'42'", "'S1'", "'secondary_vocational'", "'teacher_practice'", "''")


def _field_of(draw: Any, scope: Scope, value_type: str) -> str | None:
    options = [(n, f) for n, rt in sorted(scope.records.items()) for f in _fields(rt, value_type)]
    if not options:
        return None
    name, fld = draw(st.sampled_from(options))
    return f"{name}.{fld}"


def _param(draw: Any, scope: Scope, value_type: str) -> str | None:
    options = sorted(n for n, t in scope.params.items() if t == value_type)
    return f"param.{draw(st.sampled_from(options))}" if options else None


def expr(draw: Any, scope: Scope, typ: str, depth: int) -> str:
    """A well-typed expression of type ``typ`` (bool, number, date, str) over ``scope``."""
    leaf = depth <= 0 or draw(st.integers(0, 3)) == 0
    if typ == "bool":
        return _bool(draw, scope, depth, leaf)
    if typ == "number":
        return _number(draw, scope, depth, leaf)
    if typ == "date":
        return _date(draw, scope, depth, leaf)
    return _str(draw, scope, depth, leaf)


def _bool(draw: Any, scope: Scope, depth: int, leaf: bool) -> str:
    f = _field_of(draw, scope, "bool")
    if leaf:
        choices = ["lit"] + (["field"] * 3 if f else []) + ["cmp"]
    else:
        choices = ["cmp", "cmp", "and", "or", "not", "known", "missing", "starts", "datecmp", "strcmp", "boolcmp"]
        if scope.lists:
            choices += ["any", "all", "any", "countcmp"]
        if any(rt == "agreements" for rt in scope.records.values()):
            choices.append("valid_on")
    kind = draw(st.sampled_from(choices))
    d = depth - 1
    if kind == "lit":
        return draw(st.sampled_from(["true", "false"]))
    if kind == "field":
        return f  # type: ignore[return-value]
    if kind == "cmp":
        op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
        return f"({expr(draw, scope, 'number', d)} {op} {expr(draw, scope, 'number', d)})"
    if kind == "datecmp":
        op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
        return f"({expr(draw, scope, 'date', d)} {op} {expr(draw, scope, 'date', d)})"
    if kind == "strcmp":
        op = draw(st.sampled_from(["==", "!="]))
        return f"({expr(draw, scope, 'str', d)} {op} {expr(draw, scope, 'str', d)})"
    if kind == "boolcmp":
        op = draw(st.sampled_from(["==", "!="]))
        return f"({expr(draw, scope, 'bool', d)} {op} {expr(draw, scope, 'bool', d)})"
    if kind == "starts":
        return f"starts_with({expr(draw, scope, 'str', d)}, {draw(st.sampled_from(STR_LITS))})"
    if kind in ("and", "or"):
        return f"({expr(draw, scope, 'bool', d)} {kind} {expr(draw, scope, 'bool', d)})"
    if kind == "not":
        return f"(not {expr(draw, scope, 'bool', d)})"
    if kind in ("known", "missing"):
        typ = draw(st.sampled_from(["number", "date", "str", "bool"]))
        return f"{kind}({expr(draw, scope, typ, d)})"
    if kind in ("any", "all"):
        lst = draw(st.sampled_from(sorted(scope.lists)))
        v = scope.var()
        inner = scope.with_var(v, scope.lists[lst])
        cond = f" if {expr(draw, inner, 'bool', d)}" if draw(st.booleans()) else ""
        return f"{kind}({expr(draw, inner, 'bool', d)} for {v} in {lst}{cond})"
    if kind == "countcmp":
        op = draw(st.sampled_from([">", ">=", "=="]))
        return f"({_aggregate(draw, scope, d)} {op} {draw(st.sampled_from(['0', '1', '2']))})"
    if kind == "valid_on":
        ag = draw(st.sampled_from(sorted(n for n, rt in scope.records.items() if rt == "agreements")))
        return f"valid_on({ag}, {expr(draw, scope, 'date', d)})"
    raise AssertionError(kind)


def _aggregate(draw: Any, scope: Scope, d: int) -> str:
    lst = draw(st.sampled_from(sorted(scope.lists)))
    rtype = scope.lists[lst]
    v = scope.var()
    inner = scope.with_var(v, rtype)
    cond = f" if {expr(draw, inner, 'bool', d)}" if draw(st.booleans()) else ""
    kind = draw(st.sampled_from(["count", "count", "sum", "sum", "countplain", "countbool"]
                                + (["sumlist"] if draw(st.integers(0, 3)) == 0 else [])))
    nums = _fields(rtype, "number")
    if kind == "count":
        return f"count({v} for {v} in {lst}{cond})"
    if kind == "countbool":  # counts the items whose value is not false (unknown ones make it unknown)
        return f"count({expr(draw, inner, 'bool', d)} for {v} in {lst}{cond})"
    if kind == "countplain":
        return f"count({lst})"
    if kind == "sum" and nums:
        return f"sum({v}.{draw(st.sampled_from(nums))} for {v} in {lst}{cond})"
    if kind == "sumlist" and nums:
        return f"sum([{v}.{draw(st.sampled_from(nums))} for {v} in {lst}{cond}])"
    return f"count({v} for {v} in {lst}{cond})"


def _number(draw: Any, scope: Scope, depth: int, leaf: bool) -> str:
    f = _field_of(draw, scope, "number")
    p = _param(draw, scope, "number")
    choices = ["lit"] + (["field"] * 3 if f else []) + (["param"] if p else [])
    if not leaf:
        choices += ["arith", "arith", "arith", "div", "coalesce", "minmax", "days", "year", "fen"]
        choices += ["neg"] if draw(st.integers(0, 9)) == 0 else []
        if scope.lists:
            choices += ["agg", "agg"]
    kind = draw(st.sampled_from(choices))
    d = depth - 1
    if kind == "lit":
        return draw(st.sampled_from(NUM_LITS))
    if kind == "field":
        return f  # type: ignore[return-value]
    if kind == "param":
        return p  # type: ignore[return-value]
    if kind == "arith":
        op = draw(st.sampled_from(["+", "-", "*"]))
        return f"({expr(draw, scope, 'number', d)} {op} {expr(draw, scope, 'number', d)})"
    if kind == "div":
        return f"({expr(draw, scope, 'number', d)} / {expr(draw, scope, 'number', d)})"
    if kind == "neg":
        return f"-{expr(draw, scope, 'number', d)}"
    if kind == "coalesce":
        return f"coalesce({expr(draw, scope, 'number', d)}, {draw(st.sampled_from(NUM_LITS))})"
    if kind == "minmax":
        fn = draw(st.sampled_from(["min", "max"]))
        return f"{fn}({expr(draw, scope, 'number', d)}, {expr(draw, scope, 'number', d)})"
    if kind == "days":
        return f"days_between({expr(draw, scope, 'date', d)}, {expr(draw, scope, 'date', d)})"
    if kind == "year":
        return f"year({expr(draw, scope, 'date', d)})"
    if kind == "fen":
        fn = draw(st.sampled_from(["ceil_fen", "round_fen"]))
        return f"{fn}({expr(draw, scope, 'number', d)})"
    if kind == "agg":
        return _aggregate(draw, scope, d)
    raise AssertionError(kind)


def _date(draw: Any, scope: Scope, depth: int, leaf: bool) -> str:
    f = _field_of(draw, scope, "date")
    p = _param(draw, scope, "date")
    choices = ["lit", "as_of"] + (["field"] * 3 if f else []) + (["param"] if p else [])
    if not leaf:
        choices += ["add_years", "coalesce", "minmax"]
    kind = draw(st.sampled_from(choices))
    d = depth - 1
    if kind == "lit":
        return draw(st.sampled_from(DATE_LITS))
    if kind == "as_of":
        return "as_of"
    if kind == "field":
        return f  # type: ignore[return-value]
    if kind == "param":
        return p  # type: ignore[return-value]
    if kind == "add_years":
        return f"add_years({expr(draw, scope, 'date', d)}, {draw(st.sampled_from(['1', '-1', '2']))})"
    if kind == "coalesce":
        return f"coalesce({expr(draw, scope, 'date', d)}, {draw(st.sampled_from(DATE_LITS))})"
    if kind == "minmax":
        fn = draw(st.sampled_from(["min", "max"]))
        return f"{fn}({expr(draw, scope, 'date', d)}, {expr(draw, scope, 'date', d)})"
    raise AssertionError(kind)


def _str(draw: Any, scope: Scope, depth: int, leaf: bool) -> str:
    f = _field_of(draw, scope, "str")
    choices = ["lit"] + (["field"] * 3 if f else [])
    school_refs = [(n, "school_id") for n, rt in sorted(scope.records.items()) if "school_id" in field_kinds(rt)]
    ent_refs = [(n, "enterprise_id") for n, rt in sorted(scope.records.items()) if "enterprise_id" in field_kinds(rt)]
    ent_refs += [(n, "name") for n, rt in sorted(scope.records.items()) if rt == "enterprises"]  # not its key
    if not leaf:
        choices += ["coalesce"] + (["index"] if school_refs else []) + (["join"] if scope.lists else [])
        choices += ["ent_index"] if ent_refs else []
    kind = draw(st.sampled_from(choices))
    d = depth - 1
    if kind == "lit":
        return draw(st.sampled_from(STR_LITS))
    if kind == "field":
        return f  # type: ignore[return-value]
    if kind == "coalesce":
        return f"coalesce({expr(draw, scope, 'str', d)}, {draw(st.sampled_from(STR_LITS))})"
    if kind == "index":
        name, fld = draw(st.sampled_from(school_refs))
        key = f"{name}.{fld}" if draw(st.integers(0, 4)) else "'S2'"
        return f"schools[{key}].{draw(st.sampled_from(['name', 'region_code', 'school_type', 'id']))}"
    if kind == "ent_index":
        name, fld = draw(st.sampled_from(ent_refs))
        return f"enterprises[{name}.{fld}].{draw(st.sampled_from(['name', 'region_code', 'id']))}"
    if kind == "join":
        lst = draw(st.sampled_from(sorted(scope.lists)))
        v = scope.var()
        nums = _fields(scope.lists[lst], "number")
        what = f"{v}.{draw(st.sampled_from(nums))}" if nums and draw(st.booleans()) else f"{v}.id"
        return f"join({what} for {v} in {lst})"
    raise AssertionError(kind)


def template(draw: Any, scope: Scope, depth: int = 1) -> str:
    """A reason template with zero to two holes, each formatted as its type allows."""
    parts = [draw(st.sampled_from(["理由", "条件未满足：", "金额 ", "（说明）"]))]
    if scope.lists and draw(st.integers(0, 39)) == 0:  # a list, or a related record, written into the reason
        lst = draw(st.sampled_from(sorted(scope.lists)))
        v = scope.var()
        parts.append(f"{{[{v}.id for {v} in {lst}]}}")
    if draw(st.integers(0, 5)) == 0:
        parts.append(f"{{{draw(st.sampled_from(sorted(scope.records)))}}}")
    for _ in range(draw(st.integers(0, 2))):
        typ = draw(st.sampled_from(["number", "date", "str", "bool"]))
        fmt = {"number": st.sampled_from(["money", "yuan", "percent", "int", "text"]),
               "date": st.sampled_from(["date", "text"]), "str": st.just("text"), "bool": st.just("text")}[typ]
        parts.append(f"{{{expr(draw, scope, typ, depth)} | {draw(fmt)}}}")
        parts.append(draw(st.sampled_from(["，", " 元", "", "；其余"])))
    return "".join(parts)


@dataclass
class PackSpec:
    """A drawn pack: pack.yaml's data and each rule's data, ready to be written."""

    pack: dict[str, Any]
    rules: dict[str, dict[str, Any]]

    def describe(self) -> str:
        """The pack as YAML, for a failing example's report."""
        return yaml.dump({"pack": self.pack, "rules": self.rules}, Dumper=_Dumper, allow_unicode=True, sort_keys=False)


@st.composite
def rule_specs(draw: Any, index: int, params: dict[str, str]) -> dict[str, Any]:
    """One rule's YAML data."""
    subject = draw(st.sampled_from(RECORD_TYPES))
    kinds = field_kinds(subject)
    lookups: dict[str, Any] = {}
    records = {"subject": subject}
    lists: dict[str, str] = {}
    for key_field, (rtype, by) in _ONE.items():
        if key_field in kinds and draw(st.booleans()):
            name = "ent" if rtype == "enterprises" else "sch"
            key = f"subject.{key_field}"
            if not kinds[key_field].required and draw(st.booleans()):
                key = f"coalesce({key}, 'S1')"  # a computed key
            lookups[name] = {"record_type": rtype, "key": key}
            records[name] = rtype
    many: list[tuple[str, str, str]] = []
    if subject == "enterprises":
        many += [(t, "enterprise_id", "subject.id") for t in _MANY_BY_ENTERPRISE]
    if subject == "schools":
        many += [(t, "school_id", "subject.id") for t in _MANY_BY_SCHOOL]
    if "enterprise_id" in kinds:
        many += [(t, "enterprise_id", "subject.enterprise_id") for t in _MANY_BY_ENTERPRISE if t != subject]
    if "school_id" in kinds:
        many += [(t, "school_id", "subject.school_id") for t in ("agreements", "graduates") if t != subject]
    if "ent" in records:  # keyed by another lookup's record
        many += [("certificates", "enterprise_id", "ent.id")]
    for k, (rtype, by, key) in enumerate(draw(st.lists(st.sampled_from(many), max_size=2, unique=True)) if many else []):
        name = f"rel{k}"
        one = draw(st.integers(0, 5)) == 0  # now and then the first record by id, not the list
        lookups[name] = {"record_type": rtype, "by": by, "key": key, **({} if one else {"many": True})}
        (records if one else lists)[name] = rtype
    scope = Scope(records, lists, params)
    depth = draw(st.integers(1, 3))
    region_options = [f"{n}.{f}" for n, rt in sorted(records.items()) for f in field_kinds(rt)
                      if f in ("region_code", "employer_region_code")] + ["'220502'"]
    date_options = ["as_of"] + [f"subject.{f}" for f in _fields(subject, "date")]
    date_options += [f"{n}.{f}" for n, rt in sorted(records.items()) if n != "subject" for f in _fields(rt, "date")]
    rule: dict[str, Any] = {
        "id": f"fuzz.r{index}",
        "title": f"生成的规则 {index}",
        "effect": draw(st.sampled_from(["benefit", "obligation", "encouraged"])),
        "subject": subject,
        "citation": {"clause": f"第{index + 1}条", "quote": draw(st.sampled_from(QUOTES))},
        "scope": {"region": draw(st.sampled_from(region_options)), "region_label": "所在地",
                  **({"date": draw(st.sampled_from(date_options)), "date_label": "发生日期"}
                     if draw(st.booleans()) else {})},
    }
    if lookups:
        rule["lookups"] = lookups
    applies = [{"test": expr(draw, scope, "bool", depth), "reason": template(draw, scope)}
               for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2])))]
    if applies:
        rule["applies_if"] = applies
    criteria = []
    for c in range(draw(st.integers(1, 3))):
        crit: dict[str, Any] = {"id": f"c{c}", "label": f"条件{c}", "test": expr(draw, scope, "bool", depth)}
        if draw(st.booleans()):
            crit["fail"] = template(draw, scope)
        else:
            crit["fail"] = [{"when": expr(draw, scope, "bool", 1), "text": template(draw, scope)},
                            {"text": template(draw, scope)}]
        if draw(st.booleans()):
            crit["pass"] = template(draw, scope)
        if draw(st.booleans()):
            crit["gap"] = template(draw, scope)
        criteria.append(crit)
    rule["criteria"] = criteria
    if draw(st.booleans()):
        rule["positive_reason"] = template(draw, scope)
    if draw(st.booleans()):
        rule["amount"] = expr(draw, scope, "number", depth)
    if draw(st.integers(0, 3)) == 0:
        rule["amount_min"] = expr(draw, scope, "number", 1)
        rule["amount_max"] = expr(draw, scope, "number", 1)
    if draw(st.booleans()):
        rule["amount_note"] = "金额按生成的参数计算"
    group_keys = [("enterprises", "subject.id")] if subject == "enterprises" else []
    group_keys += [("enterprises", "subject.enterprise_id")] if "enterprise_id" in kinds else []
    group_keys += [("schools", "subject.id")] if subject == "schools" else []
    group_keys += [("schools", "subject.school_id")] if "school_id" in kinds and kinds["school_id"].required else []
    if group_keys and draw(st.booleans()):
        group, key = draw(st.sampled_from(group_keys))
        rollup: dict[str, Any] = {"name": f"fuzz_r{index}", "group": group, "key": key}
        dates = _fields(subject, "date")
        if dates and kinds[dates[0]].required and draw(st.booleans()):
            rollup["period"] = f"year(subject.{dates[0]})"
        rule["rollup"] = rollup
    return rule


@st.composite
def rule_packs(draw: Any, max_rules: int = 3) -> PackSpec:
    """A pack of one to ``max_rules`` generated rules, with dated parameters."""
    params: dict[str, Any] = {}
    param_types: dict[str, str] = {}
    for k in range(draw(st.integers(0, 3))):
        typ = draw(st.sampled_from(["number", "number", "date"]))
        name = f"p{k}"
        if typ == "number":
            first, second = draw(st.sampled_from(NUM_LITS)), draw(st.sampled_from(NUM_LITS + (None,)))
        else:
            first, second = "2020-06-30", draw(st.sampled_from(["2021-07-01", None]))
        values = [{"from": ISSUED, "value": _yaml_value(first, typ)}]
        if draw(st.booleans()):  # a second value from CHANGE on (None: not configured from then on)
            values.append({"from": CHANGE, "value": _yaml_value(second, typ)})
        params[name] = {"description": f"参数{k}", "type": typ, "values": values,
                        "citation": {"clause": "第三条", "quote": QUOTES[2]}}
        param_types[name] = typ
    rules = {f"r{i}": draw(rule_specs(i, param_types)) for i in range(draw(st.integers(1, max_rules)))}
    pack = {
        "id": "fuzz-2020",
        "document": {"number": "生成〔2020〕1号", "title": "生成的政策文件", "issuer": "生成机关",
                     "issued_on": ISSUED, "source": "source.txt", "jurisdiction": "生成市",
                     "region_prefixes": draw(st.sampled_from([["2205"], ["42", "2205"], ["420502"]]))},
    }
    if params:
        pack["parameters"] = params
    return PackSpec(pack, rules)


def _yaml_value(text: str | None, typ: str) -> Any:
    if text is None:
        return None
    return Decimal(text) if typ == "number" else dt.date.fromisoformat(text)


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> Any:
    return dumper.represent_scalar("tag:yaml.org,2002:float", str(value))


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(Decimal, _represent_decimal)


def write_pack(spec: PackSpec, folder: Path) -> Path:
    """Write a drawn pack as a pack folder (pack.yaml, source.txt, rules/*.yaml); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rules").mkdir(exist_ok=True)
    (folder / "pack.yaml").write_text(yaml.dump(spec.pack, Dumper=_Dumper, allow_unicode=True, sort_keys=False),
                                      encoding="utf-8")
    (folder / "source.txt").write_text(SOURCE, encoding="utf-8")
    for name, rule in spec.rules.items():
        (folder / "rules" / f"{name}.yaml").write_text(
            yaml.dump(rule, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=10_000), encoding="utf-8")
    return folder


# ------------------------------------------------------------------------------------------------ datasets

_DAYS = (ISSUED - dt.timedelta(days=1), ISSUED, CHANGE - dt.timedelta(days=1), CHANGE, dt.date(2021, 12, 31),
         dt.date(2022, 1, 1), dt.date(2020, 2, 29), dt.date(2021, 3, 15))
_MONEY = (None, Decimal("0"), Decimal("0.01"), Decimal("100.00"), Decimal("1000.50"), Decimal("15"), Decimal("60"))
_REGIONS = ("220502", "420502", "110000", "220521")


@st.composite
def pack_datasets(draw: Any) -> dict[str, list[dict[str, Any]]]:
    """Raw rows of every record type, small and full of edges; some rows are rejected by validation."""
    money = st.sampled_from(_MONEY)
    flag = st.sampled_from([True, False, None])
    day = st.sampled_from(_DAYS)
    opt_day = st.sampled_from((None,) + _DAYS)
    ent_ids = [make_uscc(r, i + 1) for i, r in enumerate(draw(st.lists(st.sampled_from(_REGIONS), min_size=1,
                                                                        max_size=3)))]
    refs = ent_ids + [make_uscc("420502", 99)]  # one dangling reference
    school_ids = ["S1", "S2"]
    school_refs = school_ids + ["S9"]
    ents = [{"id": e, "name": f"企业{i}", "region_code": draw(st.sampled_from(_REGIONS)),
             "fiscal_year": draw(st.sampled_from([None, 2021])), "total_wages": draw(money),
             "education_fund": draw(money), "frontline_training_spend": draw(money),
             "is_key_enterprise": draw(flag), "credit_blacklisted": draw(flag),
             "outstanding_cooperation_results": draw(flag), "values_employee_training": draw(flag),
             "leading_role": draw(flag), "strong_overall_strength": draw(flag)} for i, e in enumerate(ent_ids)]
    schools = [{"id": s, "name": f"学校{s}", "region_code": draw(st.sampled_from(_REGIONS)),
                "school_type": draw(st.sampled_from(["secondary_vocational", "technical", "higher_vocational"])),
                "is_municipal": draw(flag), "enrolled_students": draw(st.sampled_from([None, 0, 120])),
                "demonstration_project": draw(flag), "training_fee_income": draw(money),
                "training_cost": draw(money), "fee_income_in_school_accounts": draw(flag)}
               for s in school_ids[:draw(st.integers(1, 2))]]
    agreements = []
    for k in range(draw(st.integers(0, 5))):
        start = draw(day)
        end = draw(st.sampled_from([None, start, start + dt.timedelta(days=366)]))
        agreements.append({"id": f"A{k}", "enterprise_id": draw(st.sampled_from(refs)),
                           "school_id": draw(st.sampled_from(school_refs)), "signed_on": start,
                           "valid_from": draw(st.sampled_from([None, start])), "valid_to": end})
    payments = [{"id": f"P{k}", "enterprise_id": draw(st.sampled_from(refs)),
                 "school_id": draw(st.sampled_from(school_refs)), "student_id": f"st{k}",
                 "amount": draw(st.sampled_from(_MONEY[2:])), "paid_on": draw(day)}
                for k in range(draw(st.integers(0, 4)))]
    expenses = [{"id": f"E{k}", "enterprise_id": draw(st.sampled_from(refs)),
                 "school_id": draw(st.sampled_from((None,) + tuple(school_refs))),
                 "kind": draw(st.sampled_from(["student_internship", "teacher_practice"])),
                 "amount": draw(st.sampled_from(_MONEY[2:])), "incurred_on": draw(day), "reasonable": draw(flag)}
                for k in range(draw(st.integers(0, 2)))]
    certs = [{"id": f"C{k}", "employee_id": f"e{k}", "enterprise_id": draw(st.sampled_from(refs)),
              "insured": draw(flag), "obtained_on": draw(day), "title": draw(st.sampled_from([None, "电工"]))}
             for k in range(draw(st.integers(0, 2)))]
    land = [{"id": f"L{k}", "enterprise_id": draw(st.sampled_from(refs)), "region_code": draw(st.sampled_from(_REGIONS)),
             "builds_vocational_school": draw(flag), "in_allocation_catalogue": draw(flag)}
            for k in range(draw(st.integers(0, 2)))]
    grads = [{"id": f"G{k}", "school_id": draw(st.sampled_from(school_refs)),
              "employer_region_code": draw(st.sampled_from((None,) + _REGIONS)), "employed_from": draw(opt_day),
              "employed_to": draw(opt_day)} for k in range(draw(st.integers(0, 2)))]
    raw = {"enterprises": ents, "schools": schools, "agreements": agreements, "internship_payments": payments,
           "practice_expenses": expenses, "certificates": certs, "land_applications": land, "graduates": grads}
    for _ in range(draw(st.integers(0, 2))):  # rejected records: a readable id and a bad cell
        rtype = draw(st.sampled_from([t for t in ("agreements", "internship_payments", "schools", "certificates")
                                      if raw[t]]) if any(raw[t] for t in ("agreements", "internship_payments",
                                                                           "schools", "certificates")) else
                     st.just("enterprises"))
        bad = dict(draw(st.sampled_from(raw[rtype])))
        bad["id"] = f"{bad['id']}X" if draw(st.booleans()) else bad["id"]  # a new id, or a duplicate of one
        wrong = {"agreements": ("signed_on", "2021-02-30"), "internship_payments": ("amount", "-5"),
                 "schools": ("school_type", "university"), "certificates": ("obtained_on", "明天"),
                 "enterprises": ("total_wages", "1.234")}[rtype]
        bad[wrong[0]] = wrong[1]
        raw[rtype].append(bad)
    return raw
