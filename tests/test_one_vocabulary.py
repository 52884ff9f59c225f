"""One vocabulary: statuses, amount keys, reason phrases and parameters in force are each defined in one place.

The source scans fail when a module spells out again what :mod:`engine.output.terms` or :mod:`engine.output.reasons`
defines (the probes below show each scan finds what it looks for); the parameter tests pin
:func:`engine.policy.params.in_force` at its boundaries and hold :func:`~engine.policy.params.schedule`, which the
vectorised backend looks up per row, to the same answer on every day.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.engines.reference import params_for
from engine.language.expressions import Unknown
from engine.output import reasons
from engine.output.terms import AMOUNT_KEYS, NEGATIVE, POSITIVE, STATUS_WORDS, STATUSES, Status
from engine.policy.packs import Pack, Parameter
from engine.policy.params import in_force, override_of, schedule
from engine.run.annotate import parameters_in_force

SRC = Path(__file__).resolve().parents[1] / "src" / "engine"
TERMS = SRC / "output" / "terms.py"
REASONS = SRC / "output" / "reasons.py"
SCANNED = sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.relative_to(SRC).parts)

# fragments of the reason phrases engine.output.reasons writes: no other module may write them
REASON_FRAGMENTS = ("不在数据集中", " 未配置", "无法判定是否适用本条", "条件已满足", "规则求值出错", "辖区（行政区划代码",
                    "辖区内（", "发布日期", "无法判断", "有未能读取的行", "被拒绝（", "：缺少 ")
# and the words a reason writes values with, when a literal is nothing but one of them
REASON_WORDS = (reasons.NOT_CONFIGURED, reasons.UNKNOWN_VALUE)


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    # an attribute docstring: a string statement right after an assignment
    for node in ast.walk(tree):
        for body in (getattr(node, "body", None), getattr(node, "orelse", None)):
            if isinstance(body, list):
                for prev, stmt in zip(body, body[1:]):
                    if (isinstance(prev, (ast.Assign, ast.AnnAssign)) and isinstance(stmt, ast.Expr)
                            and isinstance(stmt.value, ast.Constant)):
                        out.add(id(stmt.value))
    return out


def _constants(node: ast.AST) -> list[str]:
    return [n.value for n in ([node] if not isinstance(node, (ast.Tuple, ast.List, ast.Set)) else node.elts)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def amount_key_spellings(text: str, name: str) -> list[str]:
    """Tuples, lists and sets naming two or more amount keys, as strings or as attributes (``d.amount_min``)."""
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            strings = [c for c in _constants(node) if c in AMOUNT_KEYS]
            attrs = [e.attr for e in node.elts if isinstance(e, ast.Attribute) and e.attr in AMOUNT_KEYS]
            if len(strings) >= 2 or len(attrs) >= 2:
                found.append(f"{name}:{node.lineno} {ast.unparse(node)[:80]}")
    return found


def status_spellings(text: str, name: str) -> list[str]:
    """Statuses written as string literals where they are compared, tested for membership, listed or mapped."""
    found = []
    for node in ast.walk(ast.parse(text)):
        hits: list[str] = []
        if isinstance(node, ast.Compare):
            hits = [c for side in (node.left, *node.comparators) for c in _constants(side) if c in STATUSES]
        elif isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant) and k.value in STATUSES]
            hits = keys if len(keys) >= 2 else []
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            hits = [c for c in _constants(node) if c in STATUSES]
            hits = hits if len(hits) >= 2 else []
        if hits:
            found.append(f"{name}:{node.lineno} {ast.unparse(node)[:80]}")
    return found


def reason_spellings(text: str, name: str) -> list[str]:
    """String literals (f-string pieces included, docstrings not) holding a reason phrase's words."""
    tree = ast.parse(text)
    docs = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            hits = [f for f in REASON_FRAGMENTS if f in node.value] + [w for w in REASON_WORDS if node.value == w]
            if hits:
                found.append(f"{name}:{node.lineno} {hits[0]!r} in {node.value[:60]!r}")
    return found


def _scan(check, skip: Path) -> list[str]:
    return [hit for path in SCANNED if path != skip
            for hit in check(path.read_text(encoding="utf-8"), str(path.relative_to(SRC)))]


def test_the_amount_keys_are_listed_only_in_engine_output_terms() -> None:
    found = _scan(amount_key_spellings, TERMS)
    assert not found, "amount keys spelt out again (use engine.output.terms.AMOUNT_KEYS):\n" + "\n".join(found)


def test_statuses_are_spelt_only_in_engine_output_terms() -> None:
    found = _scan(status_spellings, TERMS)
    assert not found, "statuses spelt out again (use engine.output.terms):\n" + "\n".join(found)


def test_reason_phrases_are_written_only_in_engine_output_reasons() -> None:
    found = _scan(reason_spellings, REASONS)
    assert not found, "reason phrases written again (use engine.output.reasons):\n" + "\n".join(found)


def parameter_resolutions(text: str, name: str) -> list[str]:
    """Parameters resolved by hand: a call of ``Parameter.value_on`` or a what-if key ``f"{pack.id}.{name}"``."""
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "value_on":
            found.append(f"{name}:{node.lineno} {ast.unparse(node)[:80]}")
        elif (isinstance(node, ast.JoinedStr) and len(node.values) == 3
              and isinstance(node.values[0], ast.FormattedValue) and isinstance(node.values[0].value, ast.Attribute)
              and node.values[0].value.attr == "id" and isinstance(node.values[1], ast.Constant)
              and node.values[1].value == "."):
            found.append(f"{name}:{node.lineno} {ast.unparse(node)[:80]}")
    return found


def test_parameters_in_force_are_resolved_only_by_engine_policy_params() -> None:
    found = [hit for path in sorted(SRC.rglob("*.py")) if path != SRC / "policy" / "params.py"
             for hit in parameter_resolutions(path.read_text(encoding="utf-8"), str(path.relative_to(SRC)))]
    assert not found, "parameters resolved by hand (use engine.policy.params.in_force):\n" + "\n".join(found)


def test_the_scans_find_what_they_look_for() -> None:
    probe = 'v = p.value_on(day)\nfor key in (name, f"{pack.id}.{name}"):\n    pass\nx = f"{a}.{b}"\n'
    assert [h.split(" ")[0] for h in parameter_resolutions(probe, "p.py")] == ["p.py:1", "p.py:2"]
    probe = ('for key in ("amount", "amount_min", "amount_max"):\n    pass\n'
             'x = [d.amount, d.amount_min]\n'
             'ok = ("amount", 16)\n')
    assert [h.split(" ")[0] for h in amount_key_spellings(probe, "p.py")] == ["p.py:1", "p.py:3"]
    probe = ('if d.status == "undetermined": pass\n'
             'if s in ("eligible", "compliant"): pass\n'
             'styles = {"eligible": "green", "not_applicable": "dim"}\n'
             'TAX = ("deductible", "non_deductible", "undetermined")\n'
             'v = row["undetermined"]\n')
    assert sorted({h.split(" ")[0] for h in status_spellings(probe, "p.py")}) == ["p.py:1", "p.py:2", "p.py:3"]
    probe = ('"""A docstring may quote 参数 x 未配置."""\n'
             'def f(name):\n    return f"参数 {name} 未配置"\n'
             'NOTE = "schools S1 不在数据集中"\n"""its docstring: 不在数据集中"""\n'
             'x = "未知" if y else "未知（缺少 a）"\n')
    assert sorted(h.split(" ")[0] for h in reason_spellings(probe, "p.py")) == ["p.py:3", "p.py:4", "p.py:6"]


def test_the_status_type_and_words_follow_the_statuses() -> None:
    assert Status.__args__ == STATUSES
    assert all(tuple(words) == STATUSES for words in STATUS_WORDS.values())
    assert set(POSITIVE.values()) | set(NEGATIVE.values()) | {"undetermined", "not_applicable"} == set(STATUSES)


# ---------------------------------------------------------------------------------------------- reason phrases


def test_the_reason_phrases_read_as_the_documents_write_them() -> None:
    assert reasons.outside_jurisdiction("注册地行政区划代码", "420502", "通化市", ("2205",)) == \
        "注册地行政区划代码 420502 不在通化市辖区（行政区划代码 2205xx）"
    assert reasons.before_issue("评估日期", "2018-12-31", "通市政办发〔2019〕10号", dt.date(2019, 3, 20)) == \
        "评估日期 2018-12-31 早于《通市政办发〔2019〕10号》发布日期 2019-03-20"
    assert reasons.within_jurisdiction("通化市", ("2205", "2206")) == "在通化市辖区内（2205xx、2206xx）"
    assert reasons.parameter_not_configured("x") == "参数 x 未配置"
    assert reasons.absent_record("schools", "S1") == "schools S1 不在数据集中"
    assert reasons.rejected_not_absent("schools", "S1", 2, None) == "schools S1 被拒绝（第 2 行）"
    assert reasons.rejected_input("学校", "S1", 2, "学校.csv:3") == "学校 S1（学校.csv:3）被拒绝，无法判断"
    assert reasons.rejected_input("学校", None, 2, None) == "学校（第 2 行，编号无法读取）被拒绝，无法判断"
    assert reasons.rejected_input("学校", None, 0, None) == "学校有未能读取的行，无法判断"


@given(st.text(max_size=8), st.text(max_size=8), st.text(max_size=8), st.text(max_size=8))
def test_a_scope_phrase_is_its_parts_around_the_value(label: str, value: str, place: str, number: str) -> None:
    before, after = reasons.outside_jurisdiction_parts(label, place, ("22",))
    assert before + value + after == reasons.outside_jurisdiction(label, value, place, ("22",))
    before, after = reasons.before_issue_parts(label, number, dt.date(2020, 1, 1))
    assert before + value + after == reasons.before_issue(label, value, number, dt.date(2020, 1, 1))


def test_an_undetermined_reason_sorts_its_facts_and_notes_and_drops_empty_notes() -> None:
    lead = reasons.UNDETERMINED_CRITERIA
    assert reasons.undetermined(lead, [], []) == lead
    one = reasons.undetermined(lead, ["schools.name", "enterprises.name"], ["b", "", "a"])
    assert one == reasons.undetermined(lead, ["enterprises.name", "schools.name"], ["a", "b"])
    assert one.startswith(lead + "：缺少 ") and one.endswith("（a；b）")


# ---------------------------------------------------------------------------------------------- parameters in force

D1, D2 = dt.date(2019, 1, 1), dt.date(2021, 7, 1)


@pytest.fixture(scope="module")
def pack(packs: list[Pack]) -> Pack:
    """A shipped pack whose parameters are: ``rate`` 450 from D1 and 500 from D2; ``unset`` given no value."""
    base = packs[0]
    cite = next(iter(base.parameters.values())).citation
    params = {"rate": Parameter("rate", "a rate", "number", "元/人", ((D1, Decimal(450)), (D2, Decimal(500))), cite),
              "unset": Parameter("unset", "not configured", "number", None, ((D1, None),), cite)}
    return dataclasses.replace(base, parameters=params)


def test_the_value_in_force_changes_on_the_day_the_new_value_starts(pack: Pack) -> None:
    assert in_force(pack, "rate", D2 - dt.timedelta(days=1)) == (Decimal(450), "pack")
    assert in_force(pack, "rate", D2) == (Decimal(500), "pack")
    assert in_force(pack, "rate", D1) == (Decimal(450), "pack")
    assert in_force(pack, "rate", D1 - dt.timedelta(days=1)) == (None, "pack")  # before the first: not configured


def test_a_what_if_holds_on_every_day_and_the_pack_qualified_name_wins(pack: Pack) -> None:
    assert in_force(pack, "rate", D1 - dt.timedelta(days=1), {"rate": Decimal(1)}) == (Decimal(1), "override")
    assert in_force(pack, "rate", D2, {"rate": Decimal(1)}) == (Decimal(1), "override")
    both = {"rate": Decimal(1), f"{pack.id}.rate": Decimal(2)}
    assert in_force(pack, "rate", D2, both) == (Decimal(2), "override")
    assert in_force(pack, "rate", D2, {"other_pack.rate": Decimal(3)}) == (Decimal(500), "pack")
    assert override_of(pack, "unset", {"rate": Decimal(1)}) is None


def test_an_unset_parameter_is_unknown_to_the_rules_and_says_so(pack: Pack) -> None:
    assert in_force(pack, "unset", D2) == (None, "pack")
    value = params_for(pack, D2)["unset"]
    assert isinstance(value, Unknown) and value.notes == frozenset({"参数 unset 未配置"})
    assert params_for(pack, D2)["rate"] == Decimal(500)
    assert params_for(pack, D2, {"unset": Decimal(7)})["unset"] == Decimal(7)


def test_the_documents_parameters_are_the_values_in_force(pack: Pack) -> None:
    rows = {p["name"]: p for p in parameters_in_force([pack], D2 - dt.timedelta(days=1), {"unset": Decimal(7)})}
    assert rows["rate"] == {"pack": pack.id, "name": "rate", "value": "450.00", "source": "pack", "unit": "元/人"}
    assert rows["unset"] == {"pack": pack.id, "name": "unset", "value": "7", "source": "override"}


@settings(max_examples=200, deadline=None)
@given(day=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 12, 31)),
       what_if=st.sampled_from([None, "rate", "pack.rate"]))
def test_the_schedule_gives_the_value_in_force_on_every_day(pack: Pack, day: dt.date, what_if: str | None) -> None:
    overrides = None if what_if is None else {what_if.replace("pack", pack.id): Decimal(9)}
    dated = schedule(pack, "rate", overrides)
    assert list(dated) == sorted(dated, key=lambda x: x[0])
    last = [value for start, value in dated if start <= day]
    assert (last[-1] if last else None) == in_force(pack, "rate", day, overrides).value
