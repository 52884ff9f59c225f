"""The field vocabulary: one place for every record type's and field's Chinese label, aliases and meaning."""

from __future__ import annotations

import pytest

from engine.data import vocabulary as v
from engine.data.records import RECORD_TYPES, field_kinds


def test_record_types_follow_the_models() -> None:
    assert tuple(name for name, _ in v.RECORD_TYPES) == RECORD_TYPES
    assert dict(v.RECORD_TYPES)["enterprises"] == "企业"


@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_every_field_has_one_entry_with_labels(record_type: str) -> None:
    infos = v.fields(record_type)
    assert [f.name for f in infos] == list(field_kinds(record_type))
    for f in infos:
        assert f.label_zh and not f.label_zh.isascii(), f.name
        assert f.label_en and f.description
        assert f.kind == field_kinds(record_type)[f.name].name
        assert f.required == field_kinds(record_type)[f.name].required
        assert f.source
        if f.kind == "money":
            assert f.unit == "元"
        if f.kind == "enum":
            assert set(f.enum_labels) == set(field_kinds(record_type)[f.name].choices)


@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_no_spelling_stands_for_two_fields(record_type: str) -> None:
    owner: dict[str, str] = {}
    for f in v.fields(record_type):
        for spelling in (f.name, f.label_zh, f.header, f.label_en, *f.aliases):
            key = v.normalise(spelling)
            assert owner.setdefault(key, f.name) == f.name, (spelling, owner[key], f.name)
            assert v.field_for(record_type, spelling) == f.name, spelling


@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_each_field_is_found_by_its_name_label_and_header(record_type: str) -> None:
    for f in v.fields(record_type):
        assert v.field_for(record_type, f.name) == f.name
        assert v.field_for(record_type, f.label_zh) == f.name
        assert v.field_for(record_type, f.header) == f.name


@pytest.mark.parametrize("header, expected", [
    ("统一社会信用代码", "id"), ("信用代码", "id"), ("USCC", "id"), ("id", "id"), (" ID ", "id"),
    ("工资总额（元）", "total_wages"), ("工资总额(元)", "total_wages"), ("工资总额 （ 元 ）", "total_wages"),
    ("Total_Wages", "total_wages"), ("total wages", "total_wages"), ("企业名称（name）", "name"),
    ("是否重点企业", "is_key_enterprise"), ("一线职工教育培训经费*", "frontline_training_spend"),
    ("ＵＳＣＣ", "id"),
    ("工资总额（万元）", None), ("工资总额（美元）", None), ("wage", None), ("", None),
])
def test_field_for_enterprises(header: str, expected: str | None) -> None:
    assert v.field_for("enterprises", header) == expected


def test_the_same_words_mean_the_field_of_the_record_type() -> None:
    assert v.field_for("agreements", "统一社会信用代码") == "enterprise_id"
    assert v.field_for("agreements", "学校代码") == "school_id"
    assert v.field_for("schools", "学校代码") == "id"
    assert v.field_for("nonsense", "id") is None


@pytest.mark.parametrize("name, expected", [
    ("enterprises", "enterprises"), ("企业", "enterprises"), ("企业信息", "enterprises"), ("Enterprises ", "enterprises"),
    ("internship payments", "internship_payments"), ("学生实习报酬", "internship_payments"), ("校企合作协议", "agreements"),
    ("毕业生", "graduates"), ("notes", None), ("Sheet1", None),
])
def test_record_type_for(name: str, expected: str | None) -> None:
    assert v.record_type_for(name) == expected


@pytest.mark.parametrize("text, expected", [
    ("中职", "secondary_vocational"), ("中等职业学校", "secondary_vocational"), ("secondary_vocational", "secondary_vocational"),
    (" 技工学校 ", "technical"), ("高职院校", "higher_vocational"), ("大学", None),
])
def test_enum_value_for_school_type(text: str, expected: str | None) -> None:
    assert v.enum_value_for("schools", "school_type", text) == expected


def test_enum_value_for_expense_kind_and_labels() -> None:
    assert v.enum_value_for("practice_expenses", "kind", "教师实践") == "teacher_practice"
    assert v.enum_value_for("practice_expenses", "kind", "学生实习") == "student_internship"
    assert v.enum_value_for("schools", "name", "中职") is None
    assert v.enum_label("schools", "school_type", "secondary_vocational") == "中职"
    assert v.enum_label("schools", "school_type", "secondary_vocational", "en") == "secondary_vocational"


@pytest.mark.parametrize("text, expected", [
    ("是", True), ("否", False), ("√", True), ("×", False), ("yes", True), ("NO", False), ("true", True),
    ("False", False), ("1", True), ("0", False), ("Y", True), ("n", False), (" 是 ", True), (True, True),
    ("", None), ("maybe", None), ("有", None), (None, None), ("2", None),
])
def test_bool_for(text: object, expected: bool | None) -> None:
    assert v.bool_for(text) is expected


def test_labels_of_fields_and_facts() -> None:
    assert v.field_label("enterprises", "frontline_training_spend") == "一线职工教育培训经费"
    assert v.field_label("enterprises", "frontline_training_spend", "en") == "Frontline training spend"
    assert v.fact_label("enterprises.frontline_training_spend") == (
        "一线职工教育培训经费（enterprises.frontline_training_spend）")
    assert v.fact_label("enterprises.frontline_training_spend", "en") == (
        "Frontline training spend (enterprises.frontline_training_spend)")
    assert v.fact_label("enterprises.nonsense") == "enterprises.nonsense"
    assert v.field_label("enterprises", "nonsense") == "nonsense"


def test_no_record_type_spelling_stands_for_two_types() -> None:
    owner: dict[str, str] = {}
    for name, _ in v.RECORD_TYPES:
        info = v.record_type_info(name)
        for spelling in (info.name, info.label_zh, info.label_en, *info.aliases):
            assert owner.setdefault(v.normalise(spelling), name) == name, spelling
            assert v.record_type_for(spelling) == name


@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_the_examples_make_a_valid_record(record_type: str) -> None:
    from engine.data.records import validate_record

    row = {f.name: f.canonical_example for f in v.fields(record_type)}
    record, errors = validate_record(record_type, 1, row)
    assert errors == [] and record is not None


def test_dataset_schema_titles_come_from_the_vocabulary() -> None:
    from engine.output.schema import schema_documents

    schema = schema_documents()["dataset.schema.json"]
    prop = schema["$defs"]["Enterprise"]["properties"]["frontline_training_spend"]
    assert prop["title"] == "一线职工教育培训经费"
    assert "单位：元" in prop["description"] and prop["examples"] == ["480000.00"]
    assert schema["properties"]["schools"]["title"] == "学校（Schools）"
    assert schema["$defs"]["School"]["properties"]["school_type"]["examples"] == ["secondary_vocational"]


def test_the_readme_field_reference_is_current(tmp_path) -> None:
    from pathlib import Path

    readme = Path(__file__).resolve().parents[1] / "README.md"
    copy = tmp_path / "README.md"
    copy.write_text(readme.read_text(encoding="utf-8"), encoding="utf-8")
    stale = v.write_readme_section(copy)
    assert not stale, ("README's field reference is stale: run python -c \"from engine.data.vocabulary import "
                       "write_readme_section as w; w('README.md')\"")
    assert "| 一线职工教育培训经费（元） | `frontline_training_spend` |" in readme.read_text(encoding="utf-8")
