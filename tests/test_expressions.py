"""The expression language: parsing with positions, type checking with suggestions, Kleene evaluation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from engine.language.expressions import (
    DATE,
    NUMBER,
    Context,
    ExprSyntaxError,
    RecordRef,
    TypeEnv,
    Unknown,
    add_years,
    check,
    evaluate,
    format_value,
    list_t,
    parse,
    parse_template,
    record_t,
    render_template,
)
from engine.data.records import Agreement, Enterprise

from conftest import make_uscc

ENV = TypeEnv({"subject": record_t("enterprises"), "as_of": DATE, "agreements": list_t(record_t("agreements"))},
              {"min_ratio": NUMBER})


def errors_of(text):
    errs = []
    check(parse(text), ENV, errs)
    return [(e.pos, e.message, e.suggestion) for e in errs]


def test_a_typo_in_a_field_is_an_error_at_its_position_with_a_suggestion():
    [(pos, msg, sugg)] = errors_of("subject.total_wage > 0")
    assert pos == len("subject.") and "total_wage" in msg and sugg == "total_wages"


@pytest.mark.parametrize("text,fragment", [
    ("subject.name < 3", "cannot compare str with number"),
    ("subject.name < 'a'", "compares numbers or dates"),
    ("param.min_rato", "unknown parameter"),
    ("subjct.id", "unknown name"),
    ("subject.total_wages and true", "must be bool"),
    ("startswith(subject.id, '9')", "unknown function"),
    ("any(a.school_id for a in agreements)", "needs conditions"),
    ("date('2021-02-30') < as_of", "literal 'YYYY-MM-DD'"),
    ("schools[1].name", "must be str"),
    ("sum(a.id for a in agreements)", "needs numbers"),
])
def test_type_errors(text, fragment):
    assert any(fragment in m for _, m, _ in errors_of(text)), errors_of(text)


@pytest.mark.parametrize("text,pos", [("subject.id ==", 13), ("1 < 2 < 3", 6), ("a $ b", 2), ("f(1,", 4)])
def test_syntax_errors_carry_positions(text, pos):
    with pytest.raises(ExprSyntaxError) as info:
        parse(text)
    assert info.value.error.pos == pos


ENT = Enterprise(id=make_uscc("220502", 1), name="x", region_code="220502", total_wages=Decimal("1000.00"))


def run(text, **names):
    ctx = Context({"subject": RecordRef("enterprises", ENT, ENT.id), "as_of": dt.date(2021, 1, 1), **names},
                  {"min_ratio": Decimal("0.015")}, lambda t, k: None)
    return evaluate(parse(text), ctx)


def test_missing_fields_are_unknown_with_their_names_never_false_or_zero():
    v = run("subject.education_fund >= 0")
    assert isinstance(v, Unknown) and v.missing == {"enterprises.education_fund"}
    assert run("subject.education_fund + 1 > 0").missing == {"enterprises.education_fund"}


@pytest.mark.parametrize("text,expected", [
    ("false and subject.leading_role", False),
    ("true or subject.leading_role", True),
    ("not subject.leading_role", "unknown"),
    ("true and subject.leading_role", "unknown"),
    ("false or subject.leading_role", "unknown"),
    ("known(subject.leading_role)", False),
    ("missing(subject.leading_role)", True),
    ("coalesce(subject.education_fund, 7) == 7", True),
])
def test_kleene(text, expected):
    v = run(text)
    assert (isinstance(v, Unknown) if expected == "unknown" else v is expected)


def test_exact_arithmetic():
    assert run("subject.total_wages * param.min_ratio") == Decimal("15.00000")
    assert run("0.1 + 0.2 == 0.3") is True


def test_comprehensions_over_related_records():
    ags = [RecordRef("agreements", Agreement(id=f"A{i}", enterprise_id=ENT.id, school_id=s, signed_on=dt.date(2020, 1, 1),
                                             valid_to=to), f"A{i}")
           for i, (s, to) in enumerate([("S1", None), ("S2", dt.date(2020, 6, 30))])]
    assert run("any(valid_on(a, as_of) and a.school_id == 'S1' for a in agreements)", agreements=ags) is True
    assert run("any(valid_on(a, as_of) and a.school_id == 'S2' for a in agreements)", agreements=ags) is False
    assert run("count(a for a in agreements if a.school_id == 'S2')", agreements=ags) == 1
    assert run("join(a.id for a in agreements)", agreements=ags) == "A0、A1"
    absent = run("any(schools[a.school_id].is_municipal for a in agreements)", agreements=ags)
    assert isinstance(absent, Unknown) and absent.missing == {"schools.is_municipal"}
    assert run("all(valid_on(a, as_of) for a in agreements)", agreements=ags) is False


def test_add_years_on_29_february():
    assert add_years(dt.date(2020, 2, 29), 1) == dt.date(2021, 2, 28)
    assert add_years(dt.date(2020, 2, 29), 4) == dt.date(2024, 2, 29)


def test_templates_render_formats_and_braces():
    tpl = parse_template("比例 {subject.total_wages * param.min_ratio / subject.total_wages | percent} {{x}} ¥{subject.total_wages | money}")
    ctx = Context({"subject": RecordRef("enterprises", ENT, ENT.id)}, {"min_ratio": Decimal("0.015")}, lambda t, k: None)
    assert render_template(tpl, ctx) == "比例 1.50% {x} ¥1,000.00"
    assert format_value(Unknown()) == "未知" and format_value(Decimal("1234.565"), "yuan") == "¥1,234.57"
    with pytest.raises(ExprSyntaxError):
        parse_template("{subject.id | fancy}")
