"""A deterministic generator of realistic datasets for benchmarks.

    python benchmarks/generate.py 100000 out/bench-100k     # writes a CSV directory

For N enterprises: N/10 schools, ~N agreements, ~2N intern payments, ~N/2 practice expenses, ~N certificates,
N/20 land applications and N/2 graduates, across Yichang (4205xx), Tonghua (2205xx) and other regions; about
5 % of optional fields unknown; money values planted exactly at the 1.5 %, 2.5 % and 60 % thresholds and one fen
either side; a few dangling references. The same N and seed always give the same records.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import sys
from pathlib import Path
from typing import Any, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from engine.data.records import org_code_check_char, uscc_check_char  # noqa: E402

REGIONS = ["420502", "420503", "420581", "220502", "220521", "220581", "110105", "420100"]
FEN = 100


def uscc(region: str, n: int) -> str:
    """A valid 统一社会信用代码 for the n-th company registered in ``region``."""
    body = f"MA{n:06X}"[-8:]
    first = "91" + region + body + org_code_check_char(body)
    return first + uscc_check_char(first)


def _yuan(fen: int) -> str:
    return f"{fen // FEN}.{fen % FEN:02d}"


def _maybe(rng: random.Random, value: Any) -> Any:
    return None if rng.random() < 0.05 else value


def _day(rng: random.Random, start: dt.date, span: int) -> str:
    return (start + dt.timedelta(days=rng.randrange(span))).isoformat()


def generate(n: int, seed: int = 2026) -> dict[str, Iterator[dict[str, Any]]]:
    """Record generators per record type (lazy, so a large N streams straight to disk)."""
    rng = random.Random(seed)
    n_schools = max(1, n // 10)
    school_ids = [f"SCH{i:06d}" for i in range(n_schools)]
    ent_ids = [uscc(REGIONS[i % len(REGIONS)], i) for i in range(n)]

    def enterprises() -> Iterator[dict[str, Any]]:
        for i, eid in enumerate(ent_ids):
            wages = rng.randrange(100_000, 500_000_000) * FEN
            kind = i % 7  # plant exact thresholds: 1.5 %, 2.5 %, one fen either side; 60 % share likewise
            fund = {0: wages * 15 // 1000, 1: wages * 25 // 1000, 2: wages * 15 // 1000 - 1,
                    3: wages * 25 // 1000 + 1}.get(kind, wages * rng.randrange(5, 35) // 1000)
            front = {4: fund * 6 // 10, 5: fund * 6 // 10 - 1}.get(kind, fund * rng.randrange(30, 90) // 100)
            yield {"id": eid, "name": f"企业{i}", "region_code": eid[2:8], "fiscal_year": 2021,
                   "total_wages": _maybe(rng, _yuan(wages)), "education_fund": _maybe(rng, _yuan(fund)),
                   "frontline_training_spend": _maybe(rng, _yuan(front)),
                   "is_key_enterprise": _maybe(rng, rng.random() < 0.3),
                   "outstanding_cooperation_results": _maybe(rng, rng.random() < 0.5),
                   "values_employee_training": _maybe(rng, rng.random() < 0.7),
                   "leading_role": _maybe(rng, rng.random() < 0.4),
                   "strong_overall_strength": _maybe(rng, rng.random() < 0.5)}

    def schools() -> Iterator[dict[str, Any]]:
        kinds = ["secondary_vocational", "technical", "higher_vocational"]
        for i, sid in enumerate(school_ids):
            income = rng.randrange(0, 500_000) * FEN
            yield {"id": sid, "name": f"学校{i}", "region_code": REGIONS[i % len(REGIONS)], "school_type": kinds[i % 3],
                   "is_municipal": _maybe(rng, rng.random() < 0.3),
                   "enrolled_students": _maybe(rng, rng.randrange(0, 8000)),
                   "demonstration_project": _maybe(rng, rng.random() < 0.5),
                   "training_fee_income": _maybe(rng, _yuan(income)),
                   "training_cost": _maybe(rng, _yuan(max(0, income + rng.randrange(-50_000, 50_000) * FEN))),
                   "fee_income_in_school_accounts": _maybe(rng, rng.random() < 0.8)}

    def agreements() -> Iterator[dict[str, Any]]:
        for i in range(n):
            signed = _day(rng, dt.date(2019, 1, 1), 1200)
            end = None if rng.random() < 0.4 else (dt.date.fromisoformat(signed) + dt.timedelta(days=rng.randrange(200, 1500))).isoformat()
            yield {"id": f"AG{i:08d}", "enterprise_id": ent_ids[rng.randrange(n)],
                   "school_id": school_ids[rng.randrange(n_schools)] if rng.random() > 0.01 else "SCH-MISSING",
                   "signed_on": signed, "valid_from": None, "valid_to": end}

    def payments() -> Iterator[dict[str, Any]]:
        for i in range(2 * n):
            yield {"id": f"PAY{i:08d}", "enterprise_id": ent_ids[rng.randrange(n)],
                   "school_id": school_ids[rng.randrange(n_schools)], "student_id": f"ST{i:08d}",
                   "amount": _yuan(rng.randrange(50_000, 600_000)), "paid_on": _day(rng, dt.date(2020, 1, 1), 1000)}

    def expenses() -> Iterator[dict[str, Any]]:
        for i in range(n // 2):
            yield {"id": f"EXP{i:08d}", "enterprise_id": ent_ids[rng.randrange(n)], "school_id": None,
                   "kind": "student_internship" if i % 2 else "teacher_practice",
                   "amount": _yuan(rng.randrange(10_000, 9_000_000)), "incurred_on": _day(rng, dt.date(2020, 1, 1), 1000),
                   "reasonable": _maybe(rng, rng.random() < 0.8)}

    def certificates() -> Iterator[dict[str, Any]]:
        for i in range(n):
            owner = ent_ids[rng.randrange(n)] if rng.random() > 0.01 else uscc("220502", n + 1 + i)
            yield {"id": f"CERT{i:08d}", "employee_id": f"EMP{i:08d}", "enterprise_id": owner,
                   "insured": _maybe(rng, rng.random() < 0.85), "obtained_on": _day(rng, dt.date(2019, 1, 1), 1200),
                   "title": "电工（四级）"}

    def land() -> Iterator[dict[str, Any]]:
        for i in range(max(1, n // 20)):
            yield {"id": f"LAND{i:07d}", "enterprise_id": ent_ids[rng.randrange(n)],
                   "region_code": REGIONS[i % len(REGIONS)], "builds_vocational_school": _maybe(rng, rng.random() < 0.7),
                   "in_allocation_catalogue": _maybe(rng, rng.random() < 0.6)}

    def graduates() -> Iterator[dict[str, Any]]:
        for i in range(n // 2):
            start = _day(rng, dt.date(2019, 6, 1), 900)
            yield {"id": f"GRAD{i:08d}", "school_id": school_ids[rng.randrange(n_schools)],
                   "employer_region_code": _maybe(rng, REGIONS[rng.randrange(len(REGIONS))]),
                   "employed_from": _maybe(rng, start),
                   "employed_to": None if rng.random() < 0.6 else _day(rng, dt.date.fromisoformat(start), 700)}

    return {"enterprises": enterprises(), "schools": schools(), "agreements": agreements(),
            "internship_payments": payments(), "practice_expenses": expenses(), "certificates": certificates(),
            "land_applications": land(), "graduates": graduates()}


def generate_raw(n: int, seed: int = 2026) -> dict[str, list[dict[str, Any]]]:
    """The whole dataset in memory (for small N)."""
    return {k: list(v) for k, v in generate(n, seed).items()}


def write_csv(n: int, folder: Path, seed: int = 2026) -> Path:
    """Write the dataset as a CSV directory, streaming."""
    folder.mkdir(parents=True, exist_ok=True)
    for rtype, rows in generate(n, seed).items():
        with open(folder / f"{rtype}.csv", "w", encoding="utf-8", newline="") as fh:
            writer = None
            for row in rows:
                if writer is None:
                    writer = csv.DictWriter(fh, fieldnames=list(row))
                    writer.writeheader()
                writer.writerow({k: "" if v is None else ("true" if v is True else "false" if v is False else v)
                                 for k, v in row.items()})
    return folder


if __name__ == "__main__":
    size, out = int(sys.argv[1]), Path(sys.argv[2])
    print(write_csv(size, out))
