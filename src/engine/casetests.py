"""The rule packs' YAML test cases: their format, and running them against the reference evaluator.

A file ``policy_rules/<pack>/tests/<rule>.yaml``::

    rule: tonghua.education_fund_ratio
    as_of: 2021-03-31            # default for every case
    dataset: {enterprises: [...]} # records shared by every case (optional)
    cases:
      - name: exactly 1.5 % is compliant
        dataset: {enterprises: [...]}   # added to the shared records
        params: {certificate_subsidy_amount: 1500}   # optional overrides
        expect:
          - subject: 91220500MA0Y000167
            status: compliant
            amount: null                 # checked only when the key is present
            missing_facts: []
            reasons_include: ["1.50%"]   # substrings of the joined reasons

``chanjiao rules test`` and pytest (tests/test_rule_cases.py) both run them through :func:`run_case_file`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .decisions import money
from .docparse import load_yaml
from .errors import FatalError
from .evaluate import decide
from .limits import DEFAULT_LIMITS, check_file_size
from .policy import Pack, Rule
from .records import validate_rows

__all__ = ["CaseFileModel", "CaseResult", "load_case_file", "run_case_file", "expected_statuses"]


class ExpectModel(BaseModel):
    """What one subject's decision must be."""

    model_config = ConfigDict(extra="forbid")
    subject: str
    status: str
    amount: str | None = "<unchecked>"
    amount_min: str | None = "<unchecked>"
    amount_max: str | None = "<unchecked>"
    missing_facts: list[str] | None = None
    reasons_include: list[str] = []


class CaseModel(BaseModel):
    """One test case: a small dataset and the expected decisions."""

    model_config = ConfigDict(extra="forbid")
    name: str
    as_of: dt.date | None = None
    params: dict[str, Decimal] = {}
    dataset: dict[str, list[dict[str, Any]]] = {}
    expect: list[ExpectModel] = Field(min_length=1)


class CaseFileModel(BaseModel):
    """A file of test cases for one rule."""

    model_config = ConfigDict(extra="forbid")
    rule: str
    as_of: dt.date
    dataset: dict[str, list[dict[str, Any]]] = {}
    cases: list[CaseModel] = Field(min_length=1)


@dataclass
class CaseResult:
    """The outcome of one case: the failures (empty when it passed)."""

    file: str
    name: str
    rule_id: str
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether every expectation held."""
        return not self.failures


def load_case_file(path: Path) -> CaseFileModel:
    """Read and validate a test-case file; raises ValueError with a readable message."""
    try:
        check_file_size(path, DEFAULT_LIMITS)  # a FIFO or a huge file is refused, not read
        data = load_yaml(path.read_text(encoding="utf-8"))  # aliases and nesting bounded, odd values an error
        return CaseFileModel.model_validate(data)
    except (yaml.YAMLError, ValidationError, OSError, UnicodeDecodeError, FatalError) as exc:
        raise ValueError(f"{path}: {exc}") from None


def expected_statuses(path: Path) -> tuple[str, set[str]]:
    """The rule a case file tests and the statuses its expectations cover."""
    cf = load_case_file(path)
    return cf.rule, {e.status for c in cf.cases for e in c.expect}


def run_case_file(path: Path, packs: list[Pack], engine: str = "reference") -> list[CaseResult]:
    """Run every case of a file; a case whose dataset is rejected or whose rule is unknown fails.

    ``engine`` is ``reference`` (one decision at a time) or ``vectorised`` (the whole case's dataset at once).
    """
    try:
        cf = load_case_file(path)
    except ValueError as exc:
        return [CaseResult(str(path), "(file)", "?", [str(exc)])]
    found = [(p, r) for p in packs for r in p.rules if r.id == cf.rule]
    if not found:
        return [CaseResult(str(path), "(file)", cf.rule, [f"unknown rule {cf.rule!r}"])]
    pack, rule = found[0]
    return [_run_case(path, cf, case, pack, rule, engine) for case in cf.cases]


def _run_case(path: Path, cf: CaseFileModel, case: CaseModel, pack: Pack, rule: Rule, engine: str) -> CaseResult:
    result = CaseResult(str(path), case.name, rule.id)
    raw: dict[str, list[dict[str, Any]]] = {}
    for source in (cf.dataset, case.dataset):
        for rtype, rows in source.items():
            raw.setdefault(rtype, []).extend(dict(r) for r in rows)  # validated like any YAML dataset
    ds = validate_rows(raw)
    if ds.errors:
        result.failures.extend(f"test dataset rejected: {e}" for e in ds.errors)
        return result
    as_of = case.as_of or cf.as_of
    batch: dict[str, Any] = {}
    if engine == "vectorised":
        from .backends.vectorised import decide_rule
        from .columns import tables_from_dataset

        batch = {d.subject_id: d for d in
                 decide_rule(rule, pack, tables_from_dataset(ds), as_of, dict(case.params)).decisions()}
    for exp in case.expect:
        subject = ds.by_id(rule.subject, exp.subject)
        if subject is None:
            result.failures.append(f"no {rule.subject} record with id {exp.subject!r} in the case's dataset")
            continue
        d = batch[subject.id] if batch else decide(rule, pack, subject, ds, as_of, dict(case.params)).decision
        got = {"status": d.status, "amount": money(d.amount), "amount_min": money(d.amount_min),
               "amount_max": money(d.amount_max), "missing_facts": d.missing_facts}
        want: dict[str, Any] = {"status": exp.status}
        for key in ("amount", "amount_min", "amount_max"):
            if getattr(exp, key) != "<unchecked>":
                want[key] = getattr(exp, key)
        if exp.missing_facts is not None:
            want["missing_facts"] = sorted(exp.missing_facts)
        for key, value in want.items():
            if got[key] != value:
                result.failures.append(f"{exp.subject}: {key} is {got[key]!r}, expected {value!r} (reasons: {d.reasons})")
        joined = " ".join(d.reasons)
        for text in exp.reasons_include:
            if text not in joined:
                result.failures.append(f"{exp.subject}: reasons {d.reasons} do not include {text!r}")
    return result
