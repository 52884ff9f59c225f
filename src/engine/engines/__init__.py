"""Engines that decide rule packs; every one gives the reference evaluator's decisions exactly.

- ``reference``: :class:`engine.engines.reference.ReferenceEngine`, the definition of the semantics;
- ``durable``: :class:`engine.engines.durable.DurableEngine`, durable-rules deciding every test;
- ``vectorised``: :class:`engine.engines.vectorised.VectorisedEngine`, a column at a time (numpy, Arrow).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Protocol

from engine.output.decisions import Decision
from engine.errors import EvaluationError
from engine.policy.packs import Pack
from engine.data.records import Dataset, RecordModel

__all__ = ["AUTO_DURABLE_MAX_RECORDS", "AUTO_REFERENCE_MAX_RECORDS", "ENGINES", "Engine", "cheapest_engine", "decided_by", "make_engine"]

ENGINES = ("durable", "reference", "vectorised")

AUTO_DURABLE_MAX_RECORDS = 1_845
"""``auto`` gives durable-rules a submission of at most this many accepted records (a case: one enterprise's
workbook, a school's return). durable decides one subject per session, so its cost grows fastest with the records.
Set from ``benchmarks/bench_engines.py``: the largest submission for which durable costs at most a second more
than the fastest engine — measured 2026-11-29 on the 2-core machine: 300 enterprises (1,845 records) durable 0.51 s
against the reference's 0.09 s; 1,000 enterprises (6,150 records) 1.65 s against 0.33 s."""

AUTO_REFERENCE_MAX_RECORDS = 5_000
"""Above durable's share and up to this many records ``auto`` takes the reference evaluator, above it the vectorised
backend, whose set-up (a few hundred milliseconds) pays off only on larger submissions. Set from
``benchmarks/bench_engines.py``: the largest submission for which the reference is not slower than the vectorised
backend — measured 2026-11-29: faster up to 1,845 records (0.09 s against 0.28 s), level at 6,150 (0.34 s against
0.33 s), slower at 18,450 (1.12 s against 0.68 s); 5,000 lies where the two are within noise."""


def cheapest_engine(dataset: Dataset) -> str:
    """The engine ``auto`` stands for on this dataset, by measured cost: durable-rules for a case-sized submission,
    the reference evaluator for a middling one, the vectorised backend above."""
    if dataset.accepted_count <= AUTO_DURABLE_MAX_RECORDS:
        return "durable"
    return "reference" if dataset.accepted_count <= AUTO_REFERENCE_MAX_RECORDS else "vectorised"


def decided_by(name: str, packs: list[Pack]) -> dict[str, str]:
    """Which engine decides each rule when ``name`` runs these packs (``auto``'s per-rule fallbacks): a debug view,
    never part of the decision document. durable hands a rule its compiler refuses to the reference evaluator, and
    the vectorised backend a rule it does not vectorise."""
    rules = [r.id for p in packs for r in p.rules]
    if name == "durable":
        from engine.engines.durable_compile import compile_rules

        refused = compile_rules(packs).refused
        return {r: "reference" if r in refused else "durable" for r in rules}
    if name == "vectorised":
        from engine.engines.vectorised import VectorisedEngine

        fallback = VectorisedEngine(packs).fallback_rules
        return {r: "reference" if r in fallback else "vectorised" for r in rules}
    return {r: name for r in rules}


class Engine(Protocol):
    """What every backend offers."""

    packs: list[Pack]

    def decide(self, subject: RecordModel, dataset: Dataset, as_of: dt.date, overrides: dict[str, Decimal] | None,
               errors: list[EvaluationError]) -> list[Decision]:
        """Every rule's decision about one subject."""

    def evaluate_dataset(self, dataset: Dataset, as_of: dt.date,
                         overrides: dict[str, Decimal] | None = None) -> dict[str, Any]:
        """The decision document for a whole dataset."""

    def close(self) -> None:
        """Free what the engine holds."""


def make_engine(name: str, packs: list[Pack], fallback: bool = False) -> Engine:
    """The engine called ``name`` for these packs; the caller closes it.

    durable raises :class:`engine.engines.durable_compile.CompileError` naming a rule it cannot express, unless
    ``fallback`` lets the reference evaluator decide that rule (the document is the same).
    """
    if name == "durable":
        from engine.engines.durable import DurableEngine

        return DurableEngine(packs, fallback=fallback)
    if name == "vectorised":
        from engine.engines.vectorised import VectorisedEngine

        return VectorisedEngine(packs)
    if name == "reference":
        from engine.engines.reference import ReferenceEngine

        return ReferenceEngine(packs)
    raise ValueError(f"unknown engine {name!r}; engines: {', '.join(ENGINES)}")
