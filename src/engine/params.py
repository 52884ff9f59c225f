"""``--param NAME=VALUE``: a what-if value checked against the parameter's type, unit and cited range.

A value is an exact decimal (``1500``, ``1500.00``), optionally followed by the parameter's unit (``1500元/证``,
``1500元``) or, for a ratio, a percent sign (``60%`` is 0.60). NaN, infinities, exponents and other units are
refused. A value outside the parameter's ``range`` in pack.yaml is refused with the range's citation, unless the
caller allows an out-of-range what-if; then :func:`override_warnings` gives the warning the output must carry.
"""

from __future__ import annotations

import re
from decimal import Decimal

from .errors import RecordWarning
from .policy import Pack, Parameter

__all__ = ["parse_overrides", "override_warnings", "ALLOW_OPTION"]

ALLOW_OPTION = "--allow-out-of-range"
"""The command-line option that lets a what-if go beyond a parameter's range."""

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
        if not params:
            raise ValueError(f"unknown parameter {name!r} (known: {', '.join(known)})")
        for param in params:
            if param.type != "number":
                raise ValueError(f"参数 {name} 的类型是 {param.type}，不能用 --param 改变 / parameter {name} is a "
                                 f"{param.type}; only number parameters can be overridden")
            value = _value(text, param)
            unit = f"（单位 {param.unit}）" if param.unit else ""
            if value is None:
                raise ValueError(f"参数 {name} 的值 {text.strip()!r} 不是数字{unit} / {text.strip()!r} is not a "
                                 f"plain decimal number{' in ' + param.unit if param.unit else ''}")
            if param.range is not None and not param.range.contains(value) and not allow_out_of_range:
                raise ValueError(f"参数 {name}={value} 超出范围 {_range_text(param)}；如需测算范围之外的值请加 "
                                 f"{ALLOW_OPTION} / {value} is outside the parameter's range; add {ALLOW_OPTION} "
                                 "for such a what-if")
            out[name] = value
    return out


def override_warnings(overrides: dict[str, Decimal], packs: list[Pack]) -> list[RecordWarning]:
    """One warning per override outside its parameter's range: the document then says it is a what-if beyond
    what the policy allows (record type ``parameters``, id the parameter's name)."""
    out = []
    for name, value in sorted(overrides.items()):
        for param in _parameters(name, packs):
            if param.range is not None and not param.range.contains(value):
                out.append(RecordWarning(
                    f"参数 {name}={value} 超出政策规定的范围 {_range_text(param)}：本结果是范围之外的假设测算，"
                    f"不是政策结论 / outside the parameter's range: a what-if, not the policy's outcome",
                    "parameters", None, name, "value"))
    return out
