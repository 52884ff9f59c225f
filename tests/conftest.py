"""Shared helpers: valid USCCs, the shipped packs, a dataset written in every format."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import os

import pytest
import yaml

from engine.policy.packs import Pack, load_packs
from engine.data.records import org_code_check_char, uscc_check_char

# CHANJIAO_EXAMPLES_SCALE=20 runs every property test with 20 times the examples (a nightly-style run).
SCALE = int(os.environ.get("CHANJIAO_EXAMPLES_SCALE", "1"))

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def make_uscc(region: str, n: int) -> str:
    """A valid 统一社会信用代码 registered in ``region``, distinct for each n."""
    body = f"MA{n:06d}"
    first = "91" + region + body + org_code_check_char(body)
    return first + uscc_check_char(first)


@pytest.fixture(scope="session")
def packs() -> list[Pack]:
    loaded, errors = load_packs()
    assert not errors, errors
    return loaded


def _cell(v: Any) -> Any:
    if isinstance(v, (dt.date, Decimal)):
        return str(v)
    return v


def write_formats(raw: dict[str, list[dict[str, Any]]], folder: Path) -> dict[str, Path]:
    """Write one dataset as JSON, YAML, a CSV directory and an XLSX workbook (numbers and dates as native cells)."""
    from openpyxl import Workbook

    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    out["json"] = folder / "data.json"
    out["json"].write_text(json.dumps({k: [{f: _cell(v) for f, v in r.items()} for r in rows] for k, rows in raw.items()},
                                      ensure_ascii=False), encoding="utf-8")
    out["yaml"] = folder / "data.yaml"
    out["yaml"].write_text(yaml.safe_dump({k: [{f: _cell(v) for f, v in r.items()} for r in rows]
                                           for k, rows in raw.items()}, allow_unicode=True), encoding="utf-8")
    csv_dir = folder / "csv"
    csv_dir.mkdir(exist_ok=True)
    wb = Workbook()
    wb.remove(wb.active)
    for rtype, rows in raw.items():
        header: list[str] = []
        for r in rows:
            header += [k for k in r if k not in header]
        with open(csv_dir / f"{rtype}.csv", "w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            for r in rows:
                w.writerow(["" if r.get(h) is None else _csv_text(r.get(h)) for h in header])
        ws = wb.create_sheet(rtype)
        ws.append(header)
        for r in rows:
            ws.append([_xlsx_cell(r.get(h)) for h in header])
    out["csv"] = csv_dir
    out["xlsx"] = folder / "data.xlsx"
    wb.save(out["xlsx"])
    return out


def _csv_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _xlsx_cell(v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v)  # a numeric cell, as a spreadsheet holds it
    return v


def generated(folder: Path, n: int) -> Path:
    """The benchmark generator's population of ``n`` enterprises, written as CSV files in ``folder``."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
    from generate import write_csv

    return write_csv(n, folder)


def as_document_row(row: dict[str, Any], fmt: str = "jsonl") -> dict[str, Any]:
    """A streamed decision row as the in-memory document writes the decision: a run with rejected records has the
    rejected-input columns in every row (empty, null), the document only where a decision has them (CSV: text)."""
    inputs = row.pop("rejected_inputs", None)
    total = row.pop("rejected_inputs_total", None)
    if fmt == "csv" and inputs is not None:
        inputs, total = json.loads(inputs), (int(total) if total else None)
    if inputs:
        row["rejected_inputs"] = inputs
    if total is not None:
        row["rejected_inputs_total"] = total
    return row
