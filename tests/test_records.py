"""Record validation: every rule of data-model.md, errors as values with row, field, value and expectation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from conftest import make_uscc
from engine.messages import render
from engine.data.records import org_code_check_char, to_decimal, uscc_check_char, validate_rows

ENT = make_uscc("220502", 1)


def ent(**kw):
    return {"id": ENT, "name": "测试企业", "region_code": "220502", **kw}


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000600037341L"])
def test_spec_example_usccs_are_valid(code):
    assert uscc_check_char(code[:17]) == code[17]
    assert org_code_check_char(code[8:16]) == code[16]


@pytest.mark.parametrize("bad,why", [
    ("91350100M000100Y44", "check character"),
    ("91350100M000100Y4", "17 characters"),
    ("91350100I000100Y43", "'I' is not allowed"),
    ("91350100S000100Y43", "'S' is not allowed"),
])
def test_bad_uscc_is_rejected_with_the_reason(bad, why):
    ds = validate_rows({"enterprises": [ent(id=bad)]})
    assert not ds.records["enterprises"]
    [err] = ds.errors
    assert (err.record_type, err.row, err.field, err.value) == ("enterprises", 1, "id", bad)
    assert why in render(err.message, "en")


def test_lowercase_uscc_is_rejected_with_the_uppercase_suggested():
    ds = validate_rows({"enterprises": [ent(id=ENT.lower())]})
    [err] = ds.errors
    assert not ds.records["enterprises"] and f"did you mean {ENT!r}" in render(err.message, "en")


def test_failed_organization_code_is_only_a_warning():
    first = "91220502" + "MA0000010"  # wrong GB 11714 check character on purpose
    if org_code_check_char("MA000001") == "0":
        first = first[:-1] + "1"
    code = first + uscc_check_char(first)
    ds = validate_rows({"enterprises": [ent(id=code)]})
    assert ds.records["enterprises"] and not ds.errors
    assert any("GB 11714" in render(w.message, "en") for w in ds.warnings)


@pytest.mark.parametrize("value,expected", [
    ("12000.00", Decimal("12000.00")), ("12000", Decimal("12000.00")), (69157.68, Decimal("69157.68")),
    (Decimal("0.1"), Decimal("0.10")), (0, Decimal("0.00")), ("1,234.50", Decimal("1234.50")),
    ("9999999999999999.99", Decimal("9999999999999999.99")),
])
def test_money_is_exact(value, expected):
    ds = validate_rows({"enterprises": [ent(total_wages=value)]})
    got = ds.records["enterprises"][0].total_wages
    assert got == expected and isinstance(got, Decimal) and str(got) == str(expected)


@pytest.mark.parametrize("value,why", [("100.105", "more than 2 decimal places"), ("-1", "negative"),
                                       ("abc", "expected money"), (True, "expected money"), (float("nan"), "expected money"),
                                       ("10000000000000000", "more than 16 digits before the decimal point")])
def test_bad_money_is_rejected(value, why):
    ds = validate_rows({"enterprises": [ent(total_wages=value)]})
    [err] = ds.errors
    assert err.field == "total_wages" and why in render(err.message, "en")


@pytest.mark.parametrize("value,ok", [("99999999999999999", True), ("100000000000000000", False)])
def test_whole_numbers_have_at_most_17_digits(value, ok):
    ds = validate_rows({"enterprises": [ent(fiscal_year=value)]})
    assert bool(ds.records["enterprises"]) == ok
    assert ok or "more than 17 digits" in render(ds.errors[0].message, "en")


def test_xlsx_float_noise_reads_as_the_shown_value():
    assert to_decimal(0.1 + 0.2) == Decimal("0.3")
    assert to_decimal(69157.68) == Decimal("69157.68")


def test_payment_amount_must_be_positive():
    row = {"id": "P1", "enterprise_id": ENT, "school_id": "S", "student_id": "x", "amount": "0", "paid_on": "2021-01-01"}
    ds = validate_rows({"internship_payments": [row]})
    [err] = ds.errors
    assert err.field == "amount" and "greater than zero" in render(err.message, "en")


@pytest.mark.parametrize("word,expected", [("是", True), ("否", False), ("TRUE", True), ("no", False), ("1", True),
                                           (0, False), ("", None), (None, None)])
def test_bool_words(word, expected):
    ds = validate_rows({"enterprises": [ent(is_key_enterprise=word)]})
    assert ds.records["enterprises"][0].is_key_enterprise is expected


def test_bad_bool_and_enum_and_region_and_date():
    rows = {
        "enterprises": [ent(is_key_enterprise="maybe")],
        "schools": [{"id": "S1", "name": "x", "region_code": "2205", "school_type": "university"}],
        "agreements": [{"id": "A1", "enterprise_id": ENT, "school_id": "S1", "signed_on": "2021-02-30"}],
    }
    ds = validate_rows(rows)
    fields = sorted((e.record_type, e.field) for e in ds.errors)
    assert fields == [("agreements", "signed_on"), ("enterprises", "is_key_enterprise"),
                      ("schools", "region_code"), ("schools", "school_type")]


def test_required_fields_are_named():
    ds = validate_rows({"schools": [{"id": "S1", "name": "", "region_code": "220502"}]})
    assert sorted(e.field for e in ds.errors) == ["name", "school_type"]
    assert all("required" in render(e.message, "en") for e in ds.errors)


def test_valid_from_defaults_to_signed_on_and_valid_to_before_it_is_rejected():
    rows = [{"id": "A1", "enterprise_id": ENT, "school_id": "S1", "signed_on": "2021-03-01"},
            {"id": "A2", "enterprise_id": ENT, "school_id": "S1", "signed_on": "2021-03-01", "valid_to": "2021-02-28"}]
    ds = validate_rows({"agreements": rows})
    assert ds.records["agreements"][0].valid_from == dt.date(2021, 3, 1)
    [err] = ds.errors
    assert (err.row, err.id, err.field, err.value) == (2, "A2", "valid_to", "2021-02-28")


def test_duplicates_after_the_first_are_rejected_and_others_kept():
    ds = validate_rows({"enterprises": [ent(name="first"), ent(name="second"), ent(id=make_uscc("220502", 2))]})
    assert [e.name for e in ds.records["enterprises"]] == ["first", "测试企业"]
    [err] = ds.errors
    assert err.row == 2 and "duplicate" in render(err.message, "en")


def test_unknown_fields_warn_with_a_suggestion_and_the_record_is_kept():
    ds = validate_rows({"enterprises": [ent(total_wage="1")]})
    assert ds.records["enterprises"]
    [w] = ds.warnings
    assert w.field == "total_wage" and w.suggestion == "total_wages"


def test_dangling_references_and_region_mismatch_warn():
    other = make_uscc("420502", 3)
    ds = validate_rows({
        "enterprises": [{"id": other, "name": "x", "region_code": "220502"}],
        "certificates": [{"id": "C1", "employee_id": "e", "enterprise_id": ENT, "obtained_on": "2021-01-01"}],
    })
    messages = " ".join(render(w.message, "en") for w in ds.warnings)
    assert "another city" in messages and "not among the dataset's enterprises" in messages
    assert not ds.errors and len(ds.records["certificates"]) == 1


def test_messages_are_chinese_by_default_and_english_on_request():
    ds = validate_rows({"enterprises": [ent(total_wages="1.234"), ent(), ent(name="重复")],
                        "agreements": [{"id": "A1", "enterprise_id": ENT, "school_id": "S9", "signed_on": "2021-02-30"},
                                       {"id": "A2", "enterprise_id": ENT, "school_id": "S9", "signed_on": "2021-02-28"}]})
    by_field = {e.field: e.message for e in ds.errors}
    assert by_field["total_wages"] == "超过两位小数；应填写金额：不小于 0 的元数，最多两位小数，例如 1950.50"
    assert render(by_field["total_wages"], "en") == (
        "expected money: yuan ≥ 0 with at most 2 decimal places, e.g. 1950.50 (more than 2 decimal places)")
    assert by_field["signed_on"].startswith("没有这一天；应填写日期")
    assert by_field["id"] == f"id“{ENT}”重复：保留第一条使用该 id 的记录"
    [dangling] = [w.message for w in ds.warnings if w.field == "school_id"]
    assert dangling == "学校代码（school_id）“S9”不在本数据集的学校（schools）中：相关事实未知"
    assert render(dangling, "en") == "school_id 'S9' is not among the dataset's schools: its facts are unknown"
