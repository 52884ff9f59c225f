"""Vectorised validation gives exactly the records, errors and warnings of the record models."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import EXAMPLES, SCALE, make_uscc
from engine.engines.columns import tables_from_dataset
from engine.data.records import (RECORD_TYPES, field_kinds, org_code_check_char, rejected_records, uscc_check_char,
                            validate_rows)
from engine.data.vvalidate import finish_tables, read_csv_columns, validate_columns

_WRONG_ORG = "91220502MA0000019"  # organisation code check character wrong (GB 11714), USCC check right
USCCS = [make_uscc("220502", i) for i in range(1, 4)] + [make_uscc("420502", 7), _WRONG_ORG + uscc_check_char(_WRONG_ORG)]
MESSY = {
    "text": ["S1", "S2", "A1", " 学校 ", "", "\u3000", "x y", "多\n行", "Ｓ１", "（集团）", "x" * 1001, "学" * 400,
             "合计", "小 计：", "制表人：张三", "注：单位为元"],
    "uscc": USCCS + [USCCS[0].lower(), USCCS[1][:17] + "0", "91220502MA000001", "", " " + USCCS[2],
                     "91220502MA0000010I"],
    "region_code": ["220502", "420502", "110101", "990101", "22050", " 220502", "２２０５０２", "", "42050a",
                    "000000", "٤٢٠٥٠٢", "\u3000"],
    "int": ["0", "1200", "1,200", "12.0", "-3", "1.5", "abc", "", "00007", "12345678901234567",
            "123456789012345678", "१२", " "],
    "money": ["0", "0.00", "1000", "69157.68", "1,000.50", "1.005", "-1", "1e3", " 12.5 ", "", "12.", ".5", "1.2.3",
              "12.5", "00012.50", "9999999999999999.99", "99999999999999999", "１２", "\t",
              "¥1,950.50", "2345.67元", "￥1,234", "1,50", ",100", "1234,56", "1.234,5", "１，２３４．５", "¥", "元"],
    "date": ["2021-03-01", "2020-02-29", "2021-02-29", "2021-13-01", "2021/03/01", "0999-01-01", " 2021-03-01", "",
             "2021-3-01", "2021-03-1a", "2021x03-01", "2021-00-10", "2021-04-31", "１９９９-01-01", "\u3000",
             "2021/3/5", "2021.3.5", "2021年3月5日", "2021 年 3 月 5 日", "3/5/2021", "2021/2/30", "2021-3-5 ",
             "2021/3/5 0:00", "2021-03-05 00:00:00", "2021-03-05 14:30", "2021年3月5日 00:00"],
    "bool": ["true", "FALSE", "1", "0", "是", "否", "Yes", " y ", "maybe", "", "√", "×", "✓", "合计"],
}

CLEAN = {  # values of the strict forms that validation converts column by column
    "text": ["S1", "S2", "A1", "学校"],
    "uscc": USCCS,
    "region_code": ["220502", "420502", "110101"],
    "int": ["0", "1200", "00007", "12345678901234567"],
    "money": ["0", "0.00", "1000", "69157.68", "12.5", "00012.50", "9999999999999999.99", "1"],
    "date": ["2021-03-01", "2020-02-29", "1999-12-31"],
    "bool": ["true", "FALSE", "1", "0", "是", "否", "Yes"],
}

assert org_code_check_char("MA000001") != "9"


@st.composite
def raw_columns(draw, record_type):
    kinds = field_kinds(record_type)
    n = draw(st.integers(0, 8))
    cols = {}
    for name, kind in kinds.items():
        if name != "id" and not kind.required and draw(st.integers(0, 9)) == 0:
            continue  # a column the file does not have
        pool = list(kind.choices) + ["other", "", "中职", "高职", "教师实践", "学生实习", "Teacher Practice"] \
            if kind.name == "enum" else MESSY[kind.name]
        clean = list(kind.choices) if kind.name == "enum" else CLEAN[kind.name]
        if name == "id":
            pool = clean = USCCS if kind.name == "uscc" else ["R1", "R2", "R3", "", " R1", "Ｒ１", "合计", "填报日期：2021年"]
        # mostly clean cells, so that many rows pass every column check and are converted column by column
        cols[name] = [draw(st.sampled_from(pool if draw(st.integers(0, 5)) == 0 else clean)) for _ in range(n)]
    if draw(st.booleans()):
        cols["totl_wages"] = ["1"] * n
    return cols


@st.composite
def raw_datasets(draw):
    return {t: draw(raw_columns(t)) for t in RECORD_TYPES if draw(st.booleans())}


def _vectorised(raw):
    validated = {}
    for t, cols in raw.items():
        n = len(next(iter(cols.values()))) if cols else 0
        validated[t] = validate_columns(t, {k: pa.array(v, pa.string()) for k, v in cols.items()},
                                        np.arange(1, n + 1))
    return finish_tables(validated)


def _rows(cols):
    n = len(next(iter(cols.values()))) if cols else 0
    return [{k: v[i] for k, v in cols.items()} for i in range(n)]


def _same_tables(a, b):
    for t in RECORD_TYPES:
        assert list(a[t].ids) == list(b[t].ids), t
        assert list(a[t].rows) == list(b[t].rows), t
        for name, ca in a[t].columns.items():
            cb = b[t].columns[name]
            assert ca.known.tolist() == cb.known.tolist(), (t, name)
            assert ca.data[ca.known].tolist() == cb.data[cb.known].tolist(), (t, name)


@settings(max_examples=300 * SCALE, deadline=None)
@given(raw_datasets())
def test_same_records_errors_and_warnings_as_the_models(raw):
    ds = validate_rows({t: _rows(c) for t, c in raw.items()})
    tables, errors, warnings = _vectorised(raw)
    assert [e.as_dict() for e in errors] == [e.as_dict() for e in ds.errors]
    assert rejected_records(errors) == ds.rejected  # the same rejected input, repeated ids with all their fields
    assert [w.as_dict() for w in warnings] == [w.as_dict() for w in ds.warnings]
    _same_tables(tables, tables_from_dataset(ds))


def test_the_finance_bureau_csv_files():
    from engine.data.loaders import load_dataset

    folder = EXAMPLES / "tonghua-finance-bureau"
    validated = {}
    for f in sorted(folder.glob("*.csv")):
        cols = read_csv_columns(f)
        validated[f.stem] = validate_columns(f.stem, cols, np.arange(1, len(next(iter(cols.values()))) + 1))
    tables, errors, warnings = finish_tables(validated)
    ds = load_dataset(folder)
    unplaced = lambda p: {k: v for k, v in p.as_dict().items() if k != "place"}  # noqa: E731 (the reader places them)
    assert [e.as_dict() for e in errors] == [unplaced(e) for e in ds.errors]
    assert [w.as_dict() for w in warnings] == [unplaced(w) for w in ds.warnings]
    _same_tables(tables, tables_from_dataset(ds))


def test_the_arrow_space_class_is_pythons_isspace():
    import sys

    import pyarrow.compute as pc

    from engine.engines.columns import SPACE_RE2

    chars = [chr(i) for i in range(sys.maxunicode + 1) if not 0xD800 <= i <= 0xDFFF]
    matched = pc.match_substring_regex(pa.array(chars), f"^{SPACE_RE2}$").to_pylist()
    assert [c for c, m in zip(chars, matched) if m] == [c for c in chars if c.isspace()]
    from engine.engines.columns import SPACE_CHARS

    assert sorted(SPACE_CHARS) == [c for c in chars if c.isspace()]  # what utf8_trim strips in validation


@settings(max_examples=300 * SCALE)
@given(st.lists(st.tuples(st.integers(0, 10001), st.integers(-1, 14), st.integers(-1, 32)), min_size=1, max_size=50))
def test_day_numbers_are_datetime_dates(ymd):
    """Days since 1970 and whether a date is real, as datetime.date decides it (leap years, month ends, bounds)."""
    import datetime as dt

    from engine.engines.columns import day_number, day_numbers

    y, m, d = (np.array(c, dtype=np.int64) for c in zip(*ymd))
    days, real = day_numbers(y, m, d)
    for (yy, mm, dd), got, ok in zip(ymd, days, real):
        try:
            want = day_number(dt.date(yy, mm, dd))
        except ValueError:
            assert not ok, (yy, mm, dd)
        else:
            assert ok and got == want, (yy, mm, dd)
