"""Parameters in force on a date, and ``--param NAME=VALUE``: a what-if value checked against the parameter's type,
unit and cited range.

The value of a pack's parameter on a day is defined here once, for every engine and output: :func:`in_force` (one
day: the value and whether it is the pack's or a what-if) and :func:`schedule` (the dated values with any what-if
applied, for the vectorised backend, which looks the value up per row). A what-if is given as ``NAME`` or
``PACK.NAME`` (the latter wins) and holds on every day; otherwise the value in force on a day is the last one whose
start is on or before it (:meth:`engine.policy.packs.Parameter.value_on`), None before the first or where the
pack gives none (not configured).

A value is an exact decimal (``1500``, ``1500.00``), optionally followed by the parameter's unit (``1500元/证``,
``1500元``) or, for a ratio, a percent sign (``60%`` is 0.60). NaN, infinities, exponents and other units are
refused. A value outside the parameter's ``range`` in pack.yaml is refused with the range's citation, unless the
caller allows an out-of-range what-if; then :func:`override_warnings` gives the warning the output must carry.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any, Literal, Mapping, NamedTuple

from engine.errors import RecordWarning
from engine.messages import msg
from engine.policy.packs import Pack, Parameter

__all__ = ["InForce", "override_of", "in_force", "schedule", "parse_overrides", "override_warnings", "ALLOW_OPTION"]

ALLOW_OPTION = "--allow-out-of-range"
"""The command-line option that lets a what-if go beyond a parameter's range."""


class InForce(NamedTuple):
    """A parameter's value on a day (None: not configured) and where it comes from: the pack, or a what-if."""

    value: Any
    source: Literal["pack", "override"]


def override_of(pack: Pack, name: str, overrides: Mapping[str, Decimal] | None) -> Decimal | None:
    """The what-if value given for ``pack``'s parameter ``name`` (``PACK.NAME`` wins over ``NAME``), or None."""
    if not overrides:
        return None
    for key in (f"{pack.id}.{name}", name):
        if key in overrides:
            return overrides[key]
    return None


def in_force(pack: Pack, name: str, day: dt.date, overrides: Mapping[str, Decimal] | None = None) -> InForce:
    """The value of ``pack``'s parameter ``name`` on ``day``: a what-if's when one is given, else the pack's value
    in force that day (None when none is)."""
    given = override_of(pack, name, overrides)
    if given is not None:
        return InForce(given, "override")
    return InForce(pack.parameters[name].value_on(day), "pack")


def schedule(pack: Pack, name: str, overrides: Mapping[str, Decimal] | None = None) -> tuple[tuple[dt.date, Any], ...]:
    """``pack``'s parameter ``name`` as dated values (start, value), ascending, with a what-if applied (one value from
    ``date.min``): the value in force on a day is the last one starting on or before it, as :func:`in_force` says."""
    given = override_of(pack, name, overrides)
    return ((dt.date.min, given),) if given is not None else pack.parameters[name].values


_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)", re.ASCII)  # ASCII digits only: １５００ is refused


def _parameters(name: str, packs: list[Pack]) -> list[Parameter]:
    pack_id, dot, short = name.rpartition(".")
    return [p.parameters[short if dot else name] for p in packs
            if (not dot or p.id == pack_id) and (short if dot else name) in p.parameters]


def _range_text(param: Parameter) -> str:
    rng = param.range
    assert rng is not None
    unit = "" if param.unit in (None, "ratio") else f" {param.unit}"
    if rng.min is not None and rng.max is not None:
        span = f"{rng.min}–{rng.max}{unit}"
    elif rng.min is not None:
        span = f"≥ {rng.min}{unit}"
    else:
        span = f"≤ {rng.max}{unit}"
    if rng.citation is None:
        return span
    c = rng.citation
    return f"{span}（{c.document_number} {c.clause}：“{c.quote}”）"


def _value(text: str, param: Parameter) -> Decimal | None:
    text = text.strip()
    unit = param.unit or ""
    percent = False
    if unit == "ratio" and text.endswith("%"):
        text, percent = text[:-1].strip(), True
    elif unit and unit != "ratio":
        for suffix in (unit, unit.split("/")[0]):  # 1500元/证 or 1500元
            if suffix and text.endswith(suffix):
                text = text[: -len(suffix)].strip()
                break
    if not _NUMBER.fullmatch(text):
        return None
    value = Decimal(text)
    if value.is_zero():
        value = value.copy_abs()  # -0 is 0
    return value / 100 if percent else value


def parse_overrides(items: list[str], packs: list[Pack], allow_out_of_range: bool = False) -> dict[str, Decimal]:
    """``NAME=VALUE`` or ``PACK.NAME=VALUE`` items as exact values; ValueError names the first bad one."""
    known = sorted({n for p in packs for n in p.parameters} | {f"{p.id}.{n}" for p in packs for n in p.parameters})
    out: dict[str, Decimal] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        params = _parameters(name, packs) if sep else []
        if not sep:
            raise ValueError(msg("param.form", text=item))
        if not params:
            raise ValueError(msg("param.unknown", name=name, known=", ".join(known)))
        for param in params:
            if param.type != "number":
                raise ValueError(msg("override.type", name=name, type=param.type))
            value = _value(text, param)
            if value is None:
                raise ValueError(msg("override.not_number", name=name, text=text.strip(),
                                     unit=msg("override.unit", unit=param.unit) if param.unit else ""))
            if param.range is not None and not param.range.contains(value) and not allow_out_of_range:
                raise ValueError(msg("override.out_of_range", name=name, value=value, range=_range_text(param)))
            out[name] = value
    return out


def override_warnings(overrides: dict[str, Decimal], packs: list[Pack]) -> list[RecordWarning]:
    """One warning per override outside its parameter's range: the document then says it is a what-if beyond
    what the policy allows (record type ``parameters``, id the parameter's name)."""
    out = []
    for name, value in sorted(overrides.items()):
        for param in _parameters(name, packs):
            if param.range is not None and not param.range.contains(value):
                out.append(RecordWarning(msg("override.beyond", name=name, value=value, range=_range_text(param)),
                                         "parameters", None, name, "value"))
    return out
