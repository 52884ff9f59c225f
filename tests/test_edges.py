"""Edge data every engine must decide alike: a far-future date, -0, blank CSV rows, a what-if's reasons."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SCALE, make_uscc, write_formats
from engine.engines.durable import DurableEngine
from engine.engines.vectorised import VectorisedEngine
from engine.engines.reference import evaluate_dataset, parse_param_overrides
from engine.language.expressions import add_years, format_value
from engine.data.loaders import load_dataset
from engine.policy.packs import load_packs
from engine.data.records import validate_rows
from test_stream import assert_same_as_reference

PACKS, _ = load_packs()
DURABLE = DurableEngine(PACKS)
ENT = make_uscc("420502", 1)
TH = make_uscc("220502", 2)


def _docs(raw, as_of, overrides=None):
    """The document of every in-memory engine, as JSON text."""
    ds = validate_rows(raw)
    docs = {"reference": evaluate_dataset(ds, PACKS, as_of, overrides),
            "durable": DURABLE.evaluate_dataset(ds, as_of, overrides),
            "vectorised": VectorisedEngine(PACKS).evaluate_dataset(ds, as_of, overrides)}
    return {k: json.dumps(v, ensure_ascii=False) for k, v in docs.items()}


def _far(day):
    return {
        "enterprises": [{"id": ENT, "name": "宜昌企业", "region_code": "420502"}],
        "schools": [{"id": "S1", "name": "学校", "region_code": "420502", "school_type": "technical"}],
        "agreements": [{"id": "A1", "enterprise_id": ENT, "school_id": "S1", "signed_on": day}],
        "internship_payments": [{"id": "P1", "enterprise_id": ENT, "school_id": "S1", "student_id": "x",
                                 "amount": "1.00", "paid_on": day}],
        "graduates": [{"id": "G1", "school_id": "S1", "employer_region_code": "420502", "employed_from": day},
                      {"id": "G2", "school_id": "S1", "employer_region_code": "420502", "employed_from": "9998-12-31",
                       "employed_to": day}],
        "certificates": [{"id": "C1", "employee_id": "e", "enterprise_id": ENT, "insured": True, "obtained_on": day}],
    }


@pytest.mark.parametrize("day", ["9999-06-01", "9999-12-31", "9999-02-28"])
@pytest.mark.parametrize("as_of", [dt.date(2021, 12, 31), dt.date(9999, 12, 31)])
def test_a_far_future_date_is_decided_alike_by_every_engine(day, as_of):
    docs = _docs(_far(day), as_of)
    assert docs["reference"] == docs["durable"] == docs["vectorised"]
    doc = json.loads(docs["reference"])
    assert not doc["errors"] and len(doc["decisions"]) == 10  # every record decided


def test_a_far_future_date_streams_as_the_reference(tmp_path):
    assert_same_as_reference(write_formats(_far("9999-06-01"), tmp_path / "in")["csv"], tmp_path, "jsonl", 1)


@given(st.dates(min_value=dt.date(9900, 1, 1)), st.integers(0, 300))
def test_add_years_past_9999_counts_days_as_the_calendar_does(day, years):
    later = add_years(day, years)
    if later.year <= 9999:
        assert isinstance(later, dt.date)
        return
    # the Gregorian calendar repeats every 400 years, 146,097 days
    cycles = (later.year - 9999 + 399) // 400
    same = dt.date(later.year - 400 * cycles, later.month, later.day)
    assert later.toordinal() == same.toordinal() + 146097 * cycles
    assert later > dt.date.max and dt.date.max < later and later - day == dt.timedelta(later.toordinal() - day.toordinal())
    assert format_value(later) == f"{later.year}-{later.month:02d}-{later.day:02d}"


@pytest.mark.parametrize("zero", ["-0", "-0.0", "-0.00", -0.0])
def test_minus_zero_money_is_zero_without_a_sign_on_every_engine(zero):
    raw = {"enterprises": [{"id": TH, "name": "通化企业", "region_code": "220502", "total_wages": "100.00",
                            "education_fund": zero, "frontline_training_spend": zero}],
           "certificates": [{"id": "C1", "employee_id": "e", "enterprise_id": TH, "insured": True,
                             "obtained_on": "2021-06-01"}]}
    docs = _docs(raw, dt.date(2021, 12, 31),  # 0 is below the cited 1000-2000: an out-of-range what-if
                 parse_param_overrides(["certificate_subsidy_amount=-0"], PACKS, allow_out_of_range=True))
    assert docs["reference"] == docs["durable"] == docs["vectorised"]
    assert not re.search(r"(^|[^0-9])-0", docs["reference"])  # no signed zero (dates have a digit before "-0")
    doc = json.loads(docs["reference"])
    cert = next(d for d in doc["decisions"] if d["rule_id"] == "tonghua.certificate_subsidy")
    assert cert["amount"] == "0.00"
    assert "职工教育经费占工资总额 0.00%，低于 1.5% 下限" in json.dumps(doc, ensure_ascii=False)


@given(st.decimals(min_value=Decimal("-1000"), max_value=Decimal("1000"), places=4))
def test_no_zero_is_written_with_a_sign(value):
    for fmt in ("money", "yuan", "percent", "int", "number", "text"):
        text = format_value(value, fmt)
        if "-" in text:  # a sign only in front of a figure that is not zero
            assert value < 0 and any(c in "123456789" for c in text), (value, fmt, text)


def test_blank_csv_rows_are_no_records_in_the_stream(tmp_path):
    raw = _far("2021-06-01")
    raw["certificates"].append({"id": "C2", "employee_id": "e", "enterprise_id": ENT, "obtained_on": "2021-02-30"})
    folder = write_formats(raw, tmp_path / "in")["csv"]
    path = folder / "certificates.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    commas = "," * lines[0].count(",")
    path.write_text("\n".join([lines[0], commas, lines[1], commas.replace(",", " ,\t"), *lines[2:]]) + "\n",
                    encoding="utf-8")
    doc = evaluate_dataset(load_dataset(folder), PACKS, dt.date(2021, 12, 31))
    assert [e["row"] for e in doc["errors"]] == [2]  # the bad certificate is the second record, whatever the blanks
    assert_same_as_reference(folder, tmp_path, "csv", 1)


@settings(max_examples=20 * SCALE, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1"), places=4))
def test_a_what_if_of_the_school_subsidy_ratio_is_the_ratio_in_the_reasons(tmp_path_factory, ratio):
    raw = {"schools": [{"id": "S1", "name": "中职", "region_code": "220502", "school_type": "secondary_vocational",
                        "demonstration_project": True, "enrolled_students": 10}]}
    overrides = parse_param_overrides([f"school_subsidy_ratio={ratio}"], PACKS)
    docs = _docs(raw, dt.date(2021, 12, 31), overrides)
    assert docs["reference"] == docs["durable"] == docs["vectorised"]
    [d] = [d for d in json.loads(docs["reference"])["decisions"] if d["rule_id"] == "tonghua.school_subsidy"]
    per_student = format(Decimal(1000) * ratio, "f").rstrip("0").rstrip(".")
    assert f"（{per_student}元/人）" in d["reasons"][0]
    base = tmp_path_factory.mktemp("w")
    assert_same_as_reference(write_formats(raw, base / "in")["csv"], base, "jsonl", 1, overrides)


def test_the_shipped_school_subsidy_reason_is_unchanged():
    raw = {"schools": [{"id": "S1", "name": "中职", "region_code": "220502", "school_type": "secondary_vocational",
                        "demonstration_project": True, "enrolled_students": 10}]}
    [d] = [d for d in evaluate_dataset(validate_rows(raw), PACKS, dt.date(2021, 12, 31))["decisions"]
           if d["rule_id"] == "tonghua.school_subsidy"]
    assert d["reasons"] == ["承担示范性实训基地建设的中职学校，按生均 1,000.00 元 × 45.00%（450元/人）× 在校生 10 人奖补"]
    assert d["amount"] == "4500.00"
