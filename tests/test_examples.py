"""The bundled examples: realistic, several statuses each, totals checked against the raw rows."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from conftest import EXAMPLES
from engine.evaluate import evaluate_dataset
from engine.loaders import load_dataset

AS_OF = dt.date(2021, 12, 31)


@pytest.mark.parametrize("name", ["yichang-enterprise-2021.xlsx", "tonghua-finance-bureau", "tonghua-self-assessment.json"])
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
