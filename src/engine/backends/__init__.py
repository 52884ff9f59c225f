"""Engines that decide rule packs; every one gives the reference evaluator's decisions exactly.

- ``reference``: :class:`engine.evaluate.ReferenceEngine`, the definition of the semantics;
- ``durable``: :class:`engine.backends.durable.DurableEngine`, durable-rules deciding every test;
- ``vectorised``: :class:`engine.backends.vectorised.VectorisedEngine`, a column at a time (numpy, Arrow).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Protocol

from ..decisions import Decision
from ..errors import EvaluationError
from ..policy import Pack
from ..records import Dataset, RecordModel

__all__ = ["ENGINES", "Engine", "make_engine"]

ENGINES = ("durable", "reference", "vectorised")


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


def make_engine(name: str, packs: list[Pack]) -> Engine:
    """The engine called ``name`` for these packs; the caller closes it."""
    if name == "durable":
        from .durable import DurableEngine

        return DurableEngine(packs)
    if name == "vectorised":
        from .vectorised import VectorisedEngine

        return VectorisedEngine(packs)
    if name == "reference":
        from ..evaluate import ReferenceEngine

        return ReferenceEngine(packs)
    raise ValueError(f"unknown engine {name!r}; engines: {', '.join(ENGINES)}")
