"""Problems as values: every error or warning carries the path of what it is about.

Loaders, the pack compiler and the evaluator *collect* these and return them; only a fatal condition
(nothing at all can be evaluated) is raised, as :class:`FatalError`, and the CLI turns it into one line.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Problem",
    "PolicyError",
    "RecordError",
    "RecordWarning",
    "EvaluationError",
    "FatalError",
]


@dataclass(frozen=True)
class Problem:
    """Base of every reported problem; ``message`` is a full human sentence."""

    message: str

    def __str__(self) -> str:  # pragma: no cover - overridden
        return self.message


@dataclass(frozen=True)
class PolicyError(Problem):
    """A problem in a rule pack, located at ``file:line:col`` (1-based; 0 when unknown)."""

    file: str = ""
    line: int = 0
    col: int = 0
    suggestion: str | None = None
    severity: str = "error"

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}:{self.col}"
        text = f"{where}: {self.severity}: {self.message}" if where else self.message
        if self.suggestion:
            text += f" (did you mean {self.suggestion!r}?)"
        return text


@dataclass(frozen=True)
class RecordError(Problem):
    """A rejected record: record type, 1-based row among its type, id where readable, field and value."""

    record_type: str = ""
    row: int = 0
    id: str | None = None
    field: str | None = None
    value: Any = None
    place: str | None = None
    """Where the user finds it: ``校企合作协议!C7`` (sheet and cell), ``企业.csv:7`` (file and physical line)."""
    readable: tuple[tuple[str, Any], ...] | None = dataclasses.field(default=None, compare=False, repr=False)
    """The rejected record's fields that could still be read, as (name, validated value) pairs; None for an error
    that is not about a record's content (a duplicate id: the record was read, another one kept)."""

    def as_dict(self) -> dict[str, Any]:
        """The JSON form used in the decision document's ``errors`` (``place`` only when known)."""
        out = {
            "record_type": self.record_type,
            "row": self.row,
            "id": _jsonable(self.id),
            "field": self.field,
            "value": _jsonable(self.value),
            "message": self.message,
        }
        if self.place is not None:
            out["place"] = self.place
        return out

    def __str__(self) -> str:
        return f"{self.record_type} row {self.row} field {self.field}: {self.message}"


@dataclass(frozen=True)
class RecordWarning(Problem):
    """Something odd about a record that does not stop it being evaluated."""

    record_type: str = ""
    row: int | None = None
    id: str | None = None
    field: str | None = None
    suggestion: str | None = None
    place: str | None = None
    """Where the user finds it, as for :class:`RecordError`."""

    def as_dict(self) -> dict[str, Any]:
        """The JSON form used in the decision document's ``warnings`` (``place`` only when known)."""
        out: dict[str, Any] = {
            "record_type": self.record_type,
            "row": self.row,
            "id": _jsonable(self.id),
            "field": self.field,
            "message": self.message,
        }
        if self.suggestion is not None:
            out["suggestion"] = self.suggestion
        if self.place is not None:
            out["place"] = self.place
        return out

    def __str__(self) -> str:
        where = self.record_type + (f" row {self.row}" if self.row else "")
        return f"{where}: warning: {self.message}"


@dataclass(frozen=True)
class EvaluationError(Problem):
    """A rule that could not be evaluated for one subject (for example a division by zero)."""

    rule_id: str = ""
    subject_id: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The JSON form used in the decision document's ``errors``."""
        return {"rule_id": self.rule_id, "subject_id": self.subject_id, "message": self.message}


class FatalError(Exception):
    """Nothing can be evaluated (unreadable dataset, invalid pack, bad argument): exit status 2."""


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (int, bool)):
        return value
    # a lone surrogate (from a JSON escape) has no UTF-8 form: shown escaped, so any writer can write it
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")
