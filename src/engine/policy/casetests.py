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
import json
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.output.decisions import money
from engine.output.terms import AMOUNT_KEYS
from engine.data.docparse import load_yaml
from engine.errors import FatalError, PolicyError
from engine.engines.reference import decide, decision_for
from engine.data.limits import DEFAULT_LIMITS, check_file_size
from engine.policy.packs import Pack, Rule
from engine.data.records import RECORD_TYPES, Dataset, validate_rows

__all__ = ["CaseEngines", "CaseFileModel", "CaseResult", "case_lines", "disagreements", "load_case_file",
           "run_case_file", "expected_statuses"]


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
        from engine.engines.vectorised import decide_rule
        from engine.engines.columns import tables_from_dataset

        batch = {d.subject_id: d for d in
                 decide_rule(rule, pack, tables_from_dataset(ds), as_of, dict(case.params)).decisions()}
    for exp in case.expect:
        subject = ds.by_id(rule.subject, exp.subject)
        if subject is None:
            result.failures.append(f"no {rule.subject} record with id {exp.subject!r} in the case's dataset")
            continue
        d = batch[subject.id] if batch else decide(rule, pack, subject, ds, as_of, dict(case.params)).decision
        got = {"status": d.status, **{k: money(getattr(d, k)) for k in AMOUNT_KEYS}, "missing_facts": d.missing_facts}
        want: dict[str, Any] = {"status": exp.status}
        for key in AMOUNT_KEYS:
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


# ------------------------------------------------------------------------------------------------ every engine

_COMPARED = ("status", *AMOUNT_KEYS, "missing_facts", "reasons")


class CaseEngines:
    """The engines every case runs on besides the reference, built once for a set of packs.

    durable decides what its compiler accepts (a rule it refuses is named in ``refused`` and not compared: ``auto``
    gives it to the reference); the vectorised backend in memory decides what it vectorises; the stream (partitions
    of one enterprise, in this process) runs when the vectorised backend takes every rule, as it requires.
    """

    def __init__(self, packs: list[Pack]):
        from engine.engines.durable import DurableEngine
        from engine.engines.vectorised import VectorisedEngine

        self.packs = packs
        self.durable = DurableEngine(packs, fallback=True)
        self.refused = dict(self.durable.refused)
        self.not_vectorised = dict(VectorisedEngine(packs).fallback_rules)

    def close(self) -> None:
        """Stop using the durable engine."""
        self.durable.close()


def case_lines(path: Path) -> list[int]:
    """The 1-based line of each case in a test file (the line of its ``name``), in order; [] if unreadable."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == "cases" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def disagreements(path: Path, packs: list[Pack], engines: CaseEngines) -> list[PolicyError]:
    """Run every case of a file on every engine; each decision an engine gives differently from the reference
    evaluator is an error at the case's ``file:line`` naming the engine, the subject and the first field that
    differs."""
    try:
        cf = load_case_file(path)
    except ValueError:
        return []  # reported by run_case_file and lint already
    found = [(p, r) for p in packs for r in p.rules if r.id == cf.rule]
    if not found:
        return []
    pack, rule = found[0]
    lines = case_lines(path)
    out: list[PolicyError] = []
    for i, case in enumerate(cf.cases):
        raw = _case_rows(cf, case)
        ds = validate_rows(raw)
        if ds.errors:
            continue  # the case fails on its own (run_case_file says why)
        as_of, params = case.as_of or cf.as_of, dict(case.params)
        for engine, got, want in _engine_decisions(rule, pack, raw, ds, as_of, params, engines):
            for sid in sorted(set(got) | set(want)):
                a, b = got.get(sid), want.get(sid)
                diff = next((k for k in _COMPARED if (a or {}).get(k) != (b or {}).get(k)), None)
                if a is None or b is None or diff is not None:
                    what = (f"{diff} is {a[diff]!r}, the reference's {b[diff]!r}" if a and b and diff
                            else "no decision" if a is None else "a decision the reference does not give")
                    out.append(PolicyError(f"case {case.name!r}: the {engine} engine disagrees with the reference "
                                           f"on {rule.subject} {sid}: {what}", str(path),
                                           lines[i] if i < len(lines) else 0, 1 if i < len(lines) else 0))
    return out


def _case_rows(cf: CaseFileModel, case: CaseModel) -> dict[str, list[dict[str, Any]]]:
    raw: dict[str, list[dict[str, Any]]] = {}
    for source in (cf.dataset, case.dataset):
        for rtype, rows in source.items():
            raw.setdefault(rtype, []).extend(dict(r) for r in rows)
    return raw


def _engine_decisions(rule: Rule, pack: Pack, raw: dict[str, list[dict[str, Any]]], ds: Dataset, as_of: dt.date,
                      params: dict[str, Decimal], engines: CaseEngines) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(engine, its decisions by subject id, the reference's decisions by subject id) for each engine that runs."""
    import tempfile

    def pick(decisions: Any) -> dict[str, Any]:
        return {d.subject_id: d.as_dict() for d in decisions if d.rule_id == rule.id}

    def reference(dataset: Dataset) -> dict[str, Any]:
        return pick(decision_for(rule, pack, s, dataset, as_of, params, []) for s in dataset.records[rule.subject])

    want = reference(ds)
    out = []
    if rule.id not in engines.refused:
        errors: list[Any] = []
        out.append(("durable", pick(d for s in ds.records[rule.subject]
                                    for d in engines.durable.decide(s, ds, as_of, params, errors)), want))
    if rule.id not in engines.not_vectorised:
        from engine.engines.vectorised import decide_rule
        from engine.engines.columns import tables_from_dataset

        out.append(("vectorised", pick(decide_rule(rule, pack, tables_from_dataset(ds), as_of, params).decisions()),
                    want))
    if not engines.not_vectorised:
        from engine.data.loaders import load_dataset
        from engine.run.stream import check_stream

        with tempfile.TemporaryDirectory(prefix="chanjiao-case-") as tmp:
            folder = _write_csv(raw, Path(tmp) / "data")
            out_file = Path(tmp) / "d.jsonl"
            try:
                check_stream(folder, [replace(pack, rules=[rule])], as_of, params, out_file, "jsonl", 1,
                             progress=False, workers=1)
            except FatalError:
                return out
            rows = [json.loads(line) for line in out_file.read_text(encoding="utf-8").splitlines()] \
                if out_file.exists() else []
            got = {r["subject_id"]: r for r in rows if r["rule_id"] == rule.id}
            out.append(("streamed", got, reference(load_dataset(folder))))
    return out


def _write_csv(raw: dict[str, list[dict[str, Any]]], folder: Path) -> Path:
    """A case's records as a directory of CSV files, one per record type."""
    import csv

    folder.mkdir(parents=True)
    for rtype in RECORD_TYPES:
        rows = raw.get(rtype) or []
        if not rows:
            continue
        header: list[str] = []
        for r in rows:
            header += [k for k in r if k not in header]
        with open(folder / f"{rtype}.csv", "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            for r in rows:
                w.writerow([_cell(r.get(h)) for h in header])
    return folder


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
