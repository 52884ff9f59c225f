"""Outputs that cannot attack their reader: one function per concern, used by every writer.

- :func:`spreadsheet_cell` — a text cell a spreadsheet would read as a formula (it starts with ``=``, ``+``, ``-``,
  ``@``, a tab or a carriage return) gets a leading apostrophe, as OWASP recommends for CSV injection; a plain
  number (``-12.50``) is left alone, so money stays a number. :func:`spreadsheet_column` does the same for an Arrow
  string column (the streamed and Dask writers), with the same result cell for cell (property-tested).
- :func:`visible` — control characters (C0, DEL, C1, and the bidirectional overrides that reorder text on screen)
  become visible escapes such as ``\\x1b``, so an id holding a terminal escape sequence prints as text, never as
  a command to the terminal. Used for the table view, ``explain``, every line on stderr and XLSX cells (which may
  not hold most control characters at all).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["FORMULA_STARTS", "spreadsheet_cell", "spreadsheet_column", "visible", "visible_data", "xlsx_text", "is_plain_number"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?\Z")
_NUMBER_PATTERN = r"^[+-]?[0-9]+(\.[0-9]+)?$"
# C0 controls but tab and line feed, DEL, C1 controls, and the bidirectional embeddings/overrides/isolates
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# XLSX (XML 1.0) cannot hold C0 controls other than tab, LF, CR: those become visible too
_CONTROL_ALL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def is_plain_number(text: str) -> bool:
    """Whether ``text`` is a plain decimal number such as ``-12.50`` (a spreadsheet reads it as a number, not a formula)."""
    return _NUMBER.match(text) is not None


def spreadsheet_cell(value: Any) -> Any:
    """A value safe to write into a CSV or XLSX cell: formula-like text gets a leading ``'``; other values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not is_plain_number(value):
        return "'" + value
    return value


def spreadsheet_column(array: Any) -> Any:
    """:func:`spreadsheet_cell` over an Arrow string array (nulls stay null)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return array
    risky = pc.and_(pc.match_substring_regex(array, r"^[=+\-@\t\r]"),
                    pc.invert(pc.match_substring_regex(array, _NUMBER_PATTERN)))
    if not pc.any(risky).as_py():
        return array
    return pc.if_else(risky, pc.binary_join_element_wise(pa.scalar("'", array.type), array, pa.scalar("", array.type)),
                      array)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: Any, *, keep_newlines: bool = True) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``); tab and, unless told, newline kept."""
    s = str(text)
    return (_CONTROL if keep_newlines else _CONTROL_ALL).sub(_escape, s)


def xlsx_text(value: Any) -> Any:
    """A text value an XLSX cell can hold and a spreadsheet will not run: control characters visible, formulas
    neutralised. Non-text values are returned unchanged."""
    if not isinstance(value, str):
        return value
    return spreadsheet_cell(_CONTROL_ALL.sub(lambda m: m.group() if m.group() in "\t\n" else _escape(m), value))


def visible_data(value: Any) -> Any:
    """A JSON-like value (a document) with :func:`visible` applied to every string, newlines included."""
    if isinstance(value, str):
        return visible(value, keep_newlines=False)
    if isinstance(value, dict):
        return {k: visible_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [visible_data(v) for v in value]
    return value
