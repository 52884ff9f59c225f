"""The bundled examples: realistic, several statuses each, totals checked against the raw rows."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from conftest import EXAMPLES
from engine.engines.reference import evaluate_dataset
from engine.data.loaders import load_dataset

AS_OF = dt.date(2021, 12, 31)


@pytest.mark.parametrize("name", ["yichang-enterprise-2021.xlsx", "tonghua-finance-bureau", "tonghua-self-assessment.json",
                                  "yichang-accountant-2021.xlsx", "tonghua-finance-bureau-gbk"])
def test_examples_are_clean_and_varied(packs, name):
    doc = evaluate_dataset(load_dataset(EXAMPLES / name), packs, AS_OF)
    assert doc["errors"] == []
    statuses = Counter(d["status"] for d in doc["decisions"])
    assert len(statuses) >= 4, statuses


def test_yichang_deductible_intern_pay_matches_the_agreements(packs):
    """Recompute the deductible total straight from the workbook's rows and agreement dates."""
    wb = load_workbook(EXAMPLES / "yichang-enterprise-2021.xlsx", data_only=True)
    agreements = [dict(zip([c.value for c in wb["校企合作协议"][1]], [c.value for c in row], strict=True))
                  for row in wb["校企合作协议"].iter_rows(min_row=2)]
    total = Decimal(0)
    for row in wb["实习报酬"].iter_rows(min_row=2, values_only=True):
        _, _, school, _, amount, paid = row
        paid = paid.date()
        for a in agreements:
            start = (a["valid_from"] or a["signed_on"]).date()
            end = a["valid_to"].date() if a["valid_to"] else None
            if a["school_id"] == school and start <= paid and (end is None or paid <= end):
                total += Decimal(str(amount))
                break
    doc = evaluate_dataset(load_dataset(EXAMPLES / "yichang-enterprise-2021.xlsx"), packs, AS_OF)
    [(ent, rollups)] = doc["summary"]["by_enterprise"].items()
    assert rollups["intern_pay_deductible"] == {"2021": f"{total:.2f}"}
    assert doc["summary"]["by_rule"]["yichang.intern_pay_deduction"]["amount_total"] == f"{total:.2f}"


def test_tonghua_school_subsidy_total_is_450_per_student(packs):
    with open(EXAMPLES / "tonghua-finance-bureau" / "schools.csv", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    expected = sum(Decimal(450) * int(r["enrolled_students"]) for r in rows
                   if r["school_type"] == "secondary_vocational" and r["demonstration_project"] == "是"
                   and r["enrolled_students"])
    doc = evaluate_dataset(load_dataset(EXAMPLES / "tonghua-finance-bureau"), packs, AS_OF)
    assert doc["summary"]["by_rule"]["tonghua.school_subsidy"]["amount_total"] == f"{expected:.2f}"
    assert doc["summary"]["by_rule"]["tonghua.school_subsidy"]["undetermined"] == 2


@pytest.mark.parametrize("kept,canonical,notes", [
    ("yichang-accountant-2021.xlsx", "yichang-enterprise-2021.xlsx", {"实习报酬!47:47": "合计", "实习报酬!49:49": "制表人"}),
    ("tonghua-finance-bureau-gbk", "tonghua-finance-bureau",
     {"企业.csv": "GB18030", "企业.csv:9": "合计", "企业.csv:10": "制表人", "学校.csv": "GB18030", "学校.csv:12": "合计",
      "校企合作协议.csv": "GB18030", "职业资格证书.csv": "GB18030", "建设用地.csv": "GB18030"}),
])
def test_files_as_people_keep_them_give_the_canonical_decisions(packs, kept, canonical, notes):
    """Title rows, Chinese names and headers, Excel date and money spellings, 中职/√, GBK and 合计 rows: the same
    decisions and summary as the canonical example, with only the warnings that say what was read how."""
    got = evaluate_dataset(load_dataset(EXAMPLES / kept), packs, AS_OF)
    want = evaluate_dataset(load_dataset(EXAMPLES / canonical), packs, AS_OF)
    assert got["decisions"] == want["decisions"] and got["summary"] == want["summary"]
    assert got["errors"] == []
    extra = {w["place"]: w["message"] for w in got["warnings"]}
    for place, word in notes.items():
        assert word in extra.pop(place)
    assert sorted(w["message"] for w in got["warnings"] if w["place"] in extra) == \
        sorted(w["message"] for w in want["warnings"])
