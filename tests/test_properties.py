"""Properties that must hold for every input: Kleene laws, exact thresholds, determinism, order invariance."""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SCALE, make_uscc, write_formats
from engine.engines.reference import decide, evaluate_dataset
from engine.language.expressions import Unknown, kleene_and, kleene_not, kleene_or
from engine.data.loaders import load_dataset
from engine.policy.packs import load_packs
from engine.data.records import validate_rows

AS_OF = dt.date(2021, 12, 31)
truth = st.sampled_from([True, False, Unknown(frozenset({"x.a"})), Unknown(frozenset({"x.b"}))])


def same(a, b):
    return (isinstance(a, Unknown) and isinstance(b, Unknown)) or a is b


@given(truth, truth, truth)
def test_kleene_laws(a, b, c):
    assert same(kleene_and([a, b]), kleene_and([b, a]))
    assert same(kleene_or([a, b]), kleene_or([b, a]))
    assert same(kleene_and([a, kleene_and([b, c])]), kleene_and([kleene_and([a, b]), c]))
    assert same(kleene_not(kleene_and([a, b])), kleene_or([kleene_not(a), kleene_not(b)]))
    assert same(kleene_not(kleene_or([a, b])), kleene_and([kleene_not(a), kleene_not(b)]))
    assert same(kleene_and([a, kleene_or([b, c])]), kleene_or([kleene_and([a, b]), kleene_and([a, c])]))
    assert same(kleene_and([a, True]), a) and same(kleene_or([a, False]), a)
    assert kleene_and([a, False]) is False and kleene_or([a, True]) is True


@given(truth, truth)
def test_unknown_keeps_every_missing_fact(a, b):
    r = kleene_and([a, b])
    if isinstance(r, Unknown):
        expected = set().union(*(x.missing for x in (a, b) if isinstance(x, Unknown)))
        assert r.missing == expected


PACKS, _ = load_packs()


def _status(rule_id, **fields):
    ent = {"id": make_uscc("220502", 7), "name": "x", "region_code": "220502", **fields}
    ds = validate_rows({"enterprises": [ent]})
    assert not ds.errors, ds.errors
    pack, rule = next((p, r) for p in PACKS for r in p.rules if r.id == rule_id)
    return decide(rule, pack, ds.records["enterprises"][0], ds, AS_OF).decision.status


fen = Decimal("0.01")
wages = st.integers(min_value=1, max_value=10**13).map(lambda n: Decimal(n) * fen)


@settings(max_examples=200 * SCALE)
@given(wages)
def test_education_fund_boundaries_are_exact(w):
    """For any wages W: the smallest fen amount >= 1.5 % W and the largest <= 2.5 % W are compliant (when such
    amounts exist), and one fen outside either is not."""
    lo = (w * Decimal("0.015")).quantize(fen, rounding=ROUND_CEILING)
    hi = (w * Decimal("0.025")).quantize(fen, rounding=ROUND_FLOOR)
    status = lambda fund: _status("tonghua.education_fund_ratio", total_wages=w, education_fund=fund)  # noqa: E731
    if lo <= hi:
        assert status(lo) == "compliant"
        assert status(hi) == "compliant"
    else:  # W so small that no fen amount lies in the band
        assert status(lo) == "non_compliant"
    if lo >= fen:
        assert status(lo - fen) == "non_compliant"
    assert status(hi + fen) == "non_compliant"


@settings(max_examples=200 * SCALE)
@given(st.integers(min_value=1, max_value=10**12).map(lambda n: Decimal(n) * fen))
def test_frontline_share_boundary_is_exact(fund):
    least = (fund * Decimal("0.6")).quantize(fen, rounding=ROUND_CEILING)
    status = lambda spend: _status("tonghua.frontline_share", education_fund=fund, frontline_training_spend=spend)  # noqa: E731
    assert status(least) == "compliant"
    assert status(least - fen) == "non_compliant"


# ------------------------------------------------------------------------------------------- generated datasets
money = st.one_of(st.none(), st.integers(min_value=0, max_value=10**9).map(lambda n: Decimal(n) * fen))
flag = st.sampled_from([True, False, None])
day = st.dates(min_value=dt.date(2019, 1, 1), max_value=dt.date(2022, 12, 31))
region = st.sampled_from(["220502", "220521", "420502", "420581", "110000"])
school_ids = st.sampled_from(["S1", "S2", "S3", "S4"])


@st.composite
def datasets(draw):
    n_ent = draw(st.integers(min_value=1, max_value=5))
    ents = []
    for i in range(n_ent):
        wages, fund = draw(money), draw(money)
        if wages is not None and draw(st.booleans()):  # plant the fund at a threshold, or one fen beside it
            edge = (wages * draw(st.sampled_from([Decimal("0.015"), Decimal("0.025")]))).quantize(fen, rounding=ROUND_CEILING)
            fund = max(Decimal(0), edge + draw(st.sampled_from([-fen, Decimal(0), fen])))
        ents.append({"id": make_uscc(draw(region), i + 1), "name": f"企业{i}", "region_code": draw(region),
                     "total_wages": wages, "education_fund": fund, "frontline_training_spend": draw(money),
                     "is_key_enterprise": draw(flag), "outstanding_cooperation_results": draw(flag),
                     "values_employee_training": draw(flag), "leading_role": draw(flag),
                     "strong_overall_strength": draw(flag)})
    ids = [e["id"] for e in ents] + [make_uscc("420502", 99)]  # one dangling reference
    schools = [{"id": s, "name": f"学校{s}", "region_code": draw(region),
                "school_type": draw(st.sampled_from(["secondary_vocational", "technical", "higher_vocational"])),
                "is_municipal": draw(flag), "enrolled_students": draw(st.one_of(st.none(), st.integers(0, 5000))),
                "demonstration_project": draw(flag), "training_fee_income": draw(money), "training_cost": draw(money),
                "fee_income_in_school_accounts": draw(flag)} for s in ("S1", "S2", "S3")]
    agreements = []
    for k in range(draw(st.integers(0, 6))):
        start = draw(day)
        end = draw(st.one_of(st.none(), st.dates(min_value=start, max_value=dt.date(2023, 12, 31))))
        agreements.append({"id": f"A{k}", "enterprise_id": draw(st.sampled_from(ids)), "school_id": draw(school_ids),
                           "signed_on": start, "valid_to": end})
    payments = [{"id": f"P{k}", "enterprise_id": draw(st.sampled_from(ids)), "school_id": draw(school_ids),
                 "student_id": f"st{k}", "amount": Decimal(draw(st.integers(1, 10**7))) * fen, "paid_on": draw(day)}
                for k in range(draw(st.integers(0, 6)))]
    certs = [{"id": f"C{k}", "employee_id": f"e{k}", "enterprise_id": draw(st.sampled_from(ids)),
              "insured": draw(flag), "obtained_on": draw(day)} for k in range(draw(st.integers(0, 4)))]
    grads = [{"id": f"G{k}", "school_id": draw(school_ids), "employer_region_code": draw(st.one_of(st.none(), region)),
              "employed_from": draw(st.one_of(st.none(), day)), "employed_to": draw(st.one_of(st.none(), day))}
             for k in range(draw(st.integers(0, 3)))]
    expenses = [{"id": f"E{k}", "enterprise_id": draw(st.sampled_from(ids)), "kind": "teacher_practice",
                 "amount": Decimal(draw(st.integers(1, 10**7))) * fen, "incurred_on": draw(day), "reasonable": draw(flag)}
                for k in range(draw(st.integers(0, 3)))]
    land = [{"id": f"L{k}", "enterprise_id": draw(st.sampled_from(ids)), "region_code": draw(region),
             "builds_vocational_school": draw(flag), "in_allocation_catalogue": draw(flag)}
            for k in range(draw(st.integers(0, 2)))]
    if draw(st.booleans()):
        ents[0]["total_wage"] = "1"  # an unknown field: a warning, the record still decided
    return {"enterprises": ents, "schools": schools, "agreements": agreements, "internship_payments": payments,
            "certificates": certs, "graduates": grads, "practice_expenses": expenses, "land_applications": land}


def _doc(raw):
    return evaluate_dataset(validate_rows(raw), PACKS, AS_OF)


@settings(max_examples=60 * SCALE, deadline=None)
@given(datasets(), st.randoms(use_true_random=False))
def test_record_order_does_not_change_decisions(raw, rnd):
    doc = _doc(raw)
    shuffled = {k: rnd.sample(v, len(v)) for k, v in raw.items()}
    other = _doc(shuffled)
    assert json.dumps(other["decisions"], ensure_ascii=False) == json.dumps(doc["decisions"], ensure_ascii=False)
    assert other["summary"] == doc["summary"]
    assert _doc(raw) == doc  # determinism


@settings(max_examples=60 * SCALE, deadline=None)
@given(datasets())
def test_every_decision_is_well_formed(raw):
    doc = _doc(raw)
    for d in doc["decisions"]:
        if d["missing_facts"]:
            assert d["status"] == "undetermined"
        if d["status"] not in ("eligible", "compliant"):
            assert d["amount"] is None and d["amount_min"] is None
        assert d["reasons"] and all(r.strip() for r in d["reasons"])
    counts = {r: sum(v for k, v in c.items() if k in ("eligible", "not_eligible", "compliant", "non_compliant",
                                                      "undetermined", "not_applicable"))
              for r, c in doc["summary"]["by_rule"].items()}
    subjects = {k: len(v) for k, v in raw.items()}
    for rule_id, n in counts.items():
        kind = next(d["subject_type"] for d in doc["decisions"] if d["rule_id"] == rule_id) if n else None
        if kind:
            assert n == subjects[kind]


@settings(max_examples=15 * SCALE, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=datasets())
def test_json_csv_and_xlsx_give_identical_documents(raw, tmp_path_factory):
    paths = write_formats(raw, tmp_path_factory.mktemp("fmt"))
    docs = [evaluate_dataset(load_dataset(paths[f]), PACKS, AS_OF) for f in ("json", "csv", "xlsx")]
    for doc in docs:  # the places differ by format (data.json:3, enterprises.csv:4, enterprises!A4): set aside
        places = [p.pop("place") for p in doc["errors"] + doc["warnings"] if p.get("row")]
        assert all(places)
    assert docs[0] == docs[1] == docs[2]
