"""A property: any dataset, written the way Chinese offices keep it, is read to the canonical document.

Each generated dataset (tests/test_properties.py) is written twice more — as an accountant's workbook (Chinese
sheet names and headers, title rows, dates as 2021/3/5, 2021年3月5日, 2021.3.5 or date cells, money as ¥1,950.50,
1950.50元 or numbers, 中职 / 教师实践 / √ / ×, full-width digits, a 合计 row) and as a finance bureau's GBK CSV
export (Chinese file names, a title line, the same text spellings, a 合计 line) — and both must give the decisions,
summary, errors and warnings of the canonical JSON, apart from the places and the warnings that say what was read
how (GBK, total rows).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SCALE, write_formats
from engine.engines.reference import evaluate_dataset
from engine.data.loaders import load_dataset
from engine.policy.packs import load_packs
from engine.data.records import field_kinds
from engine.data.vocabulary import enum_label, field_label, record_type_label
from test_properties import datasets

PACKS, _ = load_packs()
AS_OF = dt.date(2021, 12, 31)
_FULL = str.maketrans("0123456789", "０１２３４５６７８９")
_SET_ASIDE = {"record.total_row", "record.footer_row", "loader.gbk"}


def _spell(rtype: str, name: str, value: Any, rnd: random.Random, cells: bool) -> Any:
    """A value as people write it (a native cell where ``cells`` and the spreadsheet would hold one)."""
    if value is None:
        return None
    kind = field_kinds(rtype)[name].name
    if kind == "date":
        d = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        forms = [f"{d.year}/{d.month}/{d.day}", f"{d.year}年{d.month}月{d.day}日", f"{d.year}.{d.month}.{d.day}",
                 f"{d.year}-{d.month}-{d.day}"] + ([dt.datetime(d.year, d.month, d.day)] if cells else [])
        return rnd.choice(forms)
    if kind == "money":
        m = Decimal(str(value))
        forms = [f"¥{m:,.2f}", f"{m}元", f"￥{m:,}", f"{m:,.2f}", str(m)] + ([float(m)] if cells else [])
        return rnd.choice(forms)
    if kind == "bool":
        return rnd.choice([["×", "否", "no", "N"], ["√", "是", "yes", "Y"]][bool(value)])
    if kind == "enum":
        return rnd.choice([enum_label(rtype, name, value), value])
    if kind == "region_code":
        return rnd.choice([value, str(value).translate(_FULL)])
    if kind == "int":
        return rnd.choice([f"{int(value):,}", str(value)] + ([int(value)] if cells else []))
    return value


def _rows(raw: dict[str, list[dict[str, Any]]], rtype: str, rnd: random.Random, cells: bool
          ) -> tuple[list[str], list[list[Any]]]:
    fields = [f for f in field_kinds(rtype) if any(f in r for r in raw[rtype])]
    header = [field_label(rtype, f) for f in fields]
    extra = [k for r in raw[rtype] for k in r if k not in field_kinds(rtype)]
    header += list(dict.fromkeys(extra))  # an unknown field keeps its name (and its warning)
    rows = [[_spell(rtype, f, r.get(f), rnd, cells) for f in fields] + [r.get(k) for k in dict.fromkeys(extra)]
            for r in raw[rtype]]
    return header, rows


def _total(header: list[str], rows: list[list[Any]]) -> list[Any]:
    return ["合计"] + [None] * (len(header) - 1)


def _workbook(raw: dict[str, list[dict[str, Any]]], path: Any, rnd: random.Random) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for rtype, records in raw.items():
        if not records:
            continue
        ws = wb.create_sheet(record_type_label(rtype))
        header, rows = _rows(raw, rtype, rnd, cells=True)
        for _ in range(rnd.randint(0, 2)):
            ws.append([f"{record_type_label(rtype)}台账（单位：元）"])
        ws.append(header)
        for row in rows:
            ws.append(row)
        ws.append(_total(header, rows))
        if rnd.random() < 0.5:  # a form's footer: signatures and the date
            ws.append(["制表人：张三", None, "审核人：李四"][:max(1, len(header))])
    wb.save(path)


def _gbk_folder(raw: dict[str, list[dict[str, Any]]], folder: Any, rnd: random.Random) -> None:
    folder.mkdir()
    for rtype, records in raw.items():
        if not records:
            continue
        header, rows = _rows(raw, rtype, rnd, cells=False)
        out = io.StringIO(newline="")
        w = csv.writer(out, lineterminator="\r\n")
        if rnd.random() < 0.5:
            w.writerow([f"{record_type_label(rtype)}（财政局导出）"] + [""] * (len(header) - 1))
        w.writerow(header)
        for row in rows:  # GBK has no ¥ (U+00A5): a Chinese keyboard types ￥
            w.writerow(["" if v is None else str(v).replace("¥", "￥") for v in row])
        w.writerow(["" if v is None else v for v in _total(header, rows)])
        if rnd.random() < 0.5:  # a form's footer line
            w.writerow((["填报日期：2021年12月31日"] + [""] * len(header))[:len(header)])
        (folder / f"{record_type_label(rtype)}.csv").write_bytes(out.getvalue().encode("gbk"))


def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    doc = dict(doc)
    doc["errors"] = [{k: v for k, v in e.items() if k != "place"} for e in doc["errors"]]
    doc["warnings"] = [{k: v for k, v in w.items() if k != "place"} for w in doc["warnings"]
                       if getattr(w["message"], "key", None) not in _SET_ASIDE]
    return doc


@settings(max_examples=12 * SCALE, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=datasets(), seed=st.integers(0, 2**32 - 1))
def test_people_spellings_give_the_canonical_document(raw, seed, tmp_path_factory):
    rnd = random.Random(seed)
    base = tmp_path_factory.mktemp("people")
    canonical = evaluate_dataset(load_dataset(write_formats(raw, base)["json"]), PACKS, AS_OF)
    _workbook(raw, base / "台账.xlsx", rnd)
    _gbk_folder(raw, base / "导出", rnd)
    for path in (base / "台账.xlsx", base / "导出"):
        doc = evaluate_dataset(load_dataset(path), PACKS, AS_OF)
        assert _comparable(doc) == _comparable(canonical), path
        totals = [w for w in doc["warnings"] if getattr(w["message"], "key", None) == "record.total_row"]
        assert all(w["place"] for w in doc["warnings"] if getattr(w["message"], "key", None) == "record.footer_row")
        assert len(totals) == sum(1 for v in raw.values() if v)  # one 合计 row per sheet or file, each named
        assert all(w["place"] for w in doc["warnings"] + doc["errors"])
    # the streamed check reads the GBK export to the same errors and warnings, at the same places
    from engine.output.render import _issue_rows
    from engine.run.stream import check_stream

    doc = evaluate_dataset(load_dataset(base / "导出"), PACKS, AS_OF)
    (base / "out").mkdir()
    res = check_stream(base / "导出", PACKS, AS_OF, None, base / "out" / "d.csv", "csv", chunk_enterprises=2,
                       progress=False, workers=1)
    with open(base / "out" / "d.errors.csv", encoding="utf-8") as fh:
        assert list(csv.reader(fh))[1:] == [["" if v is None else str(v) for v in r] for r in _issue_rows(doc)]
    assert res.decisions == len(doc["decisions"])
