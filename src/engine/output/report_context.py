"""What a report shows beside the decisions: who each subject is, where, which year; and where the run came from.

:func:`subject_facts` gives, for every decided subject, its name, enterprise, school, region code, district (from
:mod:`engine.output.districts`) and year — read from the dataset once, so every report (XLSX, HTML, compare, the
benefits sheet) shows the same. :class:`ReportContext` adds the run's provenance: input file names and SHA-256,
tool version and time of the run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.run.annotate import deduction_rules
from engine.output.districts import district_name
from engine.run.periods import dated_fields
from engine.policy.packs import Pack
from engine.data.records import Dataset

__all__ = ["SubjectFacts", "subject_facts", "ReportContext", "report_context", "file_digests", "tool_version"]


@dataclass(frozen=True)
class SubjectFacts:
    """One subject as a report shows it."""

    name: str | None = None
    enterprise_id: str | None = None
    enterprise_name: str | None = None
    school_id: str | None = None
    school_name: str | None = None
    region_code: str | None = None
    district: str | None = None
    year: int | None = None
    month: str | None = None  # YYYY-MM of the subject's own date, when it has one


def _name(rec: Any) -> str | None:
    for attr in ("name", "title", "student_id", "employee_id"):
        value = getattr(rec, attr, None)
        if value:
            return str(value)
    return None


def subject_facts(dataset: Dataset, packs: list[Pack], as_of: dt.date) -> dict[tuple[str, str], SubjectFacts]:
    """(record type, id) → :class:`SubjectFacts` for every accepted record of the dataset."""
    dated = dated_fields(packs)
    out: dict[tuple[str, str], SubjectFacts] = {}
    for rtype, records in dataset.records.items():
        for rec in records:
            ent = rec if rtype == "enterprises" else (dataset.by_id("enterprises", getattr(rec, "enterprise_id", None))
                                                      if getattr(rec, "enterprise_id", None) else None)
            school = rec if rtype == "schools" else (dataset.by_id("schools", getattr(rec, "school_id", None))
                                                     if getattr(rec, "school_id", None) else None)
            region = getattr(rec, "region_code", None)
            if region is None:
                region = getattr(ent, "region_code", None) if ent is not None else None
            if region is None and rtype == "graduates":
                region = getattr(rec, "employer_region_code", None) or getattr(school, "region_code", None)
            if region is None and school is not None:
                region = school.region_code
            day = getattr(rec, dated[rtype], None) if rtype in dated else None
            year = day.year if isinstance(day, dt.date) else getattr(rec, "fiscal_year", None) or as_of.year
            out[(rtype, rec.id)] = SubjectFacts(
                name=_name(rec),
                enterprise_id=ent.id if ent is not None else getattr(rec, "enterprise_id", None),
                enterprise_name=getattr(ent, "name", None) if ent is not None else None,
                school_id=school.id if school is not None else getattr(rec, "school_id", None),
                school_name=getattr(school, "name", None) if school is not None else None,
                region_code=region,
                district=district_name(region),
                year=int(year) if year is not None else None,
                month=day.strftime("%Y-%m") if isinstance(day, dt.date) else None,
            )
    return out


def file_digests(path: Path) -> list[tuple[str, str]]:
    """(name, SHA-256 hex) of the input file, or of each file of an input folder in name order."""
    path = Path(path)
    files = sorted(f for f in path.iterdir() if f.is_file()) if path.is_dir() else [path]
    out = []
    for f in files:
        h = hashlib.sha256()
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        out.append((f.name if path.is_dir() else f.name, h.hexdigest()))
    return out


def tool_version() -> str:
    """The installed chanjiao version."""
    try:
        from importlib.metadata import version

        return version("chanjiao")
    except Exception:  # noqa: BLE001 - not installed as a distribution
        return "unknown"


@dataclass
class ReportContext:
    """Provenance and subject facts a report shows; everything optional (a report from a document alone works)."""

    input_name: str | None = None
    input_files: list[tuple[str, str]] = field(default_factory=list)
    tool_version: str = field(default_factory=tool_version)
    run_at: str = field(default_factory=lambda: dt.datetime.now().astimezone().isoformat(timespec="seconds"))
    subjects: dict[tuple[str, str], SubjectFacts] = field(default_factory=dict)
    rule_titles: dict[str, str] = field(default_factory=dict)
    pack_titles: dict[str, str] = field(default_factory=dict)
    deduction_rules: set[str] = field(default_factory=set)

    def facts(self, subject_type: str, subject_id: str) -> SubjectFacts:
        """The subject's facts, empty when unknown."""
        return self.subjects.get((subject_type, subject_id), SubjectFacts())


def report_context(dataset: Dataset | None, packs: list[Pack], as_of: dt.date, input_path: Path | None = None
                   ) -> ReportContext:
    """The context of one run: subject facts from the dataset, rule titles from the packs, the input's digests."""
    return ReportContext(
        input_name=Path(input_path).name if input_path is not None else None,
        input_files=file_digests(input_path) if input_path is not None and Path(input_path).exists() else [],
        subjects=subject_facts(dataset, packs, as_of) if dataset is not None else {},
        rule_titles={r.id: r.title for p in packs for r in p.rules},
        pack_titles={p.id: p.title for p in packs},
        deduction_rules={r.id for r, _ in deduction_rules(packs)},
    )
