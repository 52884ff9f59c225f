"""The vectorised backend: decisions, reasons, errors and roll-ups identical to the reference evaluator."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import EXAMPLES, SCALE, make_uscc
from engine.engines.vectorised import VectorisedEngine, _add_years, _round_half_up
from engine.policy.casetests import load_case_file, run_case_file
from engine.engines.columns import day_number
from engine.engines.reference import evaluate_dataset
from engine.language.expressions import add_years
from engine.data.loaders import load_dataset
from engine.policy.packs import load_packs
from engine.data.records import validate_rows
from test_properties import datasets

PACKS, _ = load_packs()
AS_OF = dt.date(2021, 12, 31)
ENGINE = VectorisedEngine(PACKS)
FILES = [f for p in PACKS for f in p.test_files]
CASES = [(f, c.name) for f in FILES for c in load_case_file(f).cases]


def dumps(doc):
    return json.dumps(doc, ensure_ascii=False, indent=1)


def test_every_shipped_rule_is_vectorised():
    assert ENGINE.fallback_rules == {}


@pytest.mark.parametrize("name", ["yichang-enterprise-2021.xlsx", "tonghua-finance-bureau",
                                  "tonghua-self-assessment.json", "bad-records.json"])
def test_examples_are_byte_identical(name):
    ds = load_dataset(EXAMPLES / name)
    assert dumps(ENGINE.evaluate_dataset(ds, AS_OF)) == dumps(evaluate_dataset(ds, PACKS, AS_OF))


@pytest.mark.parametrize("file,name", CASES, ids=[f"{f.stem}: {n}" for f, n in CASES])
def test_rule_case_through_the_vectorised_backend(file, name):
    [result] = [r for r in run_case_file(file, PACKS, engine="vectorised") if r.name == name]
    assert result.passed, "\n".join(result.failures)


@settings(max_examples=300 * SCALE, deadline=None)
@given(datasets(), st.sampled_from([AS_OF, dt.date(2020, 6, 1), dt.date(2024, 2, 29)]))
def test_generated_datasets_are_identical(raw, as_of):
    ds = validate_rows(raw)
    assert dumps(ENGINE.evaluate_dataset(ds, as_of)) == dumps(evaluate_dataset(ds, PACKS, as_of))


@settings(max_examples=100 * SCALE, deadline=None)
@given(datasets(), st.sampled_from(["1000", "1500.005", "1999.99"]))
def test_what_ifs_are_identical(raw, amount):
    ds = validate_rows(raw)
    over = {"certificate_subsidy_amount": Decimal(amount), "school_subsidy_ratio": Decimal("0.333")}
    assert dumps(ENGINE.evaluate_dataset(ds, AS_OF, over)) == dumps(evaluate_dataset(ds, PACKS, AS_OF, over))


def test_huge_amounts_stay_exact():
    """Products beyond int64 switch to Python integers instead of overflowing."""
    ent = {"id": make_uscc("220502", 1), "name": "大企业", "region_code": "220502",
           "total_wages": "9999999999999999.99", "education_fund": "249999999999999.99",
           "frontline_training_spend": "9999999999999999.99"}
    ds = validate_rows({"enterprises": [ent]})
    assert dumps(ENGINE.evaluate_dataset(ds, AS_OF)) == dumps(evaluate_dataset(ds, PACKS, AS_OF))


@given(st.integers(-10**15, 10**15), st.integers(1, 10**6))
def test_round_half_up_matches_decimal(num, den):
    from decimal import ROUND_HALF_UP, localcontext

    with localcontext() as ctx:
        ctx.prec = 60
        want = int((Decimal(num) / Decimal(den)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert int(_round_half_up(np.array([num], dtype=np.int64), den)[0]) == want


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31)), st.integers(-5, 5))
def test_add_years_matches_the_reference(day, years):
    got = _add_years(np.array([day_number(day)]), np.array([years]))[0]
    assert got == day_number(add_years(day, years))


@settings(max_examples=100 * SCALE, deadline=None)
@given(st.lists(st.integers(0, 10**30), min_size=1, max_size=40))
def test_thousands_separators_are_pythons(numbers):
    import pyarrow as pa

    from engine.engines.vectorised import _commas

    assert _commas(pa.array([str(n) for n in numbers])).to_pylist() == [f"{n:,}" for n in numbers]


# hole texts that fold with their neighbours: empty, white space (ASCII and ideographic), Chinese punctuation
hole_texts = st.text(alphabet=st.sampled_from(list("Ab1 \t\u3000，、（）。")), max_size=5)


@settings(max_examples=300 * SCALE, deadline=None)
@given(st.lists(st.tuples(hole_texts, st.booleans(), hole_texts, st.booleans()), min_size=1, max_size=8),
       st.sampled_from(["{a}", " 协议 {a} 与 {b} ，有效 ", "{a}{b}", "（{a}） {b}。", "学校 {a}", "{a} ：{b}"]))
def test_reasons_fold_white_space_as_the_reference(rows, template):
    """Rows whose holes cannot fold are tidied piece by piece, the others by regex: both as the reference."""
    from engine.engines.vectorised import Ctx, Env, Registry, V, render
    from engine.language.expressions import parse_template, tidy_piece

    def column(texts, known):
        return V("str", np.array(texts, dtype=object), np.array(known, dtype=bool))

    env = Env(len(rows), {"a": column([r[0] for r in rows], [r[1] for r in rows]),
                          "b": column([r[2] for r in rows], [r[3] for r in rows])}, Ctx({}, Registry()))
    got = render(parse_template(template), env).to_pylist()
    want = [tidy_piece(template.replace("{a}", a if ka else "未知").replace("{b}", b if kb else "未知"), True, True)
            for a, ka, b, kb in rows]
    assert got == want


@settings(max_examples=200 * SCALE, deadline=None)
@given(st.lists(st.sampled_from(["E1", "E2", "E3", "X1", "X2", None]), max_size=12),
       st.lists(st.sampled_from(["E1", "E2", "E3", "X1", "X2", None]), max_size=12))
def test_joins_by_position_match_text_equality(keys, refs):
    """A many-lookup joined through positions in the referenced ids (E…) finds exactly the records whose text is
    equal, dangling values (X…, in no table) included."""
    from engine.engines.vectorised import ListRel, V, _join_pairs
    from engine.engines.columns import Column, Table

    def column(values):
        return Column("str", np.array([v or "" for v in values], dtype=object), np.array([v is not None for v in values]))

    ids = column(["E1", "E2", "E3"])
    related = Table("agreements", {"id": column([f"A{i:02d}" for i in range(len(refs))]), "enterprise_id": column(refs)})
    holder = column(keys)
    key = V("str", holder.data, holder.known.copy())
    key.source = (holder, np.arange(len(keys)))
    want = [(r, j) for r, k in enumerate(keys) if k is not None for j, v in enumerate(refs) if v == k]
    for target in (ids, None):
        rows, pos = _join_pairs(ListRel(related, "enterprise_id", key, target))
        assert list(zip(rows.tolist(), pos.tolist())) == want
