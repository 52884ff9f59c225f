"""JSON and YAML documents read exactly and within limits: nothing a hostile document holds takes the run down.

- **Numbers** are never binary floats: JSON numbers become ``int`` or ``Decimal``; a YAML dataset's scalars are
  kept as the text written (as a CSV cell is), so money ``1234567890123456.78`` stays exact, an id ``007``,
  ``0x1F``, ``1e3`` or ``true`` stays that text, and ``2021-02-30`` is a date the record validator rejects, not
  an exception from the YAML library. A number of 5,000 digits is a value like any other (the record bound
  rejects it).
- **Nesting** deeper than ``Limits.nesting`` rejects the record it is in (an :class:`UnreadableRow`), never the
  dataset; in a rule pack it is an error at its line.
- **YAML aliases** may add at most ``Limits.yaml_alias_nodes`` nodes when expanded, counted while composing, so
  a "billion laughs" document is refused after a few thousand steps; a recursive alias is refused outright.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from engine.errors import FatalError
from engine.messages import msg
from engine.data.limits import DEFAULT_LIMITS, Limits, limit_error
from engine.data.records import RECORD_TYPES, SHEET_ALIASES, UnreadableRow

__all__ = ["parse_json_document", "parse_yaml_document", "limited_yaml_loader", "load_yaml", "YamlLimitError",
           "TOO_DEEP_TAG", "json_number", "json_value_end", "too_deep_reason", "yaml_plain", "TooDeep"]

TOO_DEEP_TAG = "tag:chanjiao,2026:too-deep"
"""The tag of the placeholder node that stands for a collection nested deeper than the limit (not composed)."""


def json_number(text: str) -> int | Decimal:
    """A JSON integer as ``int`` (``Decimal`` when longer than Python's int-conversion limit allows)."""
    return int(text) if len(text) < 4000 else Decimal(text)


def too_deep_reason(limits: Limits) -> Any:
    """The rejection reason of a record nested deeper than ``limits.nesting`` (a catalogue message)."""
    return msg("limit.too_deep_record", n=limits.nesting)


# ---------------------------------------------------------------------------------------------- JSON


def parse_json_document(text: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """A JSON dataset document; a record nested too deep becomes an :class:`UnreadableRow`.

    Raises ``json.JSONDecodeError`` for malformed JSON, as ``json.loads`` does.
    """
    try:
        doc = json.loads(text, parse_float=Decimal, parse_int=json_number)
    except RecursionError:  # some value nests deeper than the interpreter's stack: read record by record
        doc = _json_by_record(text, limits)
    # a flat document has one bracket per list and per record: only a document with more is walked for depth
    flat = 1 + sum(1 + len(v) for v in doc.values() if isinstance(v, list)) if isinstance(doc, dict) else 0
    if text.count("{") + text.count("[") > flat:
        _mark_deep_records(doc, limits)
    return doc


def _depth(value: Any, stop: int) -> int:
    """The nesting depth of ``value`` (a scalar is 0), counted without recursion and no further than ``stop``."""
    deepest = 0
    todo: list[tuple[Any, int]] = [(value, 0)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, (dict, list)):
            d += 1
            deepest = max(deepest, d)
            if deepest > stop:
                return deepest
            todo.extend((c, d) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


def _is_record_key(key: Any) -> bool:
    name = str(key).strip()
    return name in RECORD_TYPES or name in SHEET_ALIASES


def _mark_deep_records(doc: Any, limits: Limits) -> None:
    """Replace every record of ``doc`` nested deeper than the limit (the document itself is level 1)."""
    if not isinstance(doc, dict):
        return
    for key, rows in doc.items():
        if not (_is_record_key(key) and isinstance(rows, list)):
            continue
        for i, row in enumerate(rows):
            if isinstance(row, dict) and not isinstance(row, UnreadableRow) \
                    and _depth(row, limits.nesting - 2) > limits.nesting - 2:
                rows[i] = UnreadableRow(too_deep_reason(limits))


_WS = re.compile(r"[ \t\n\r]*")
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.S)


def json_value_end(text: str, i: int, decoder: json.JSONDecoder) -> int:
    """Where the JSON value starting at ``i`` ends, found without parsing it (so without recursion)."""
    if i < len(text) and text[i] in "[{":
        depth = 0
        for m in _TOKEN.finditer(text, i):
            tok = m.group()
            if tok in "[{":
                depth += 1
            elif tok in "]}":
                depth -= 1
                if depth == 0:
                    return m.end()
        raise json.JSONDecodeError("unterminated array or object", text, i)
    return decoder.raw_decode(text, i)[1]


def _expect(text: str, i: int, chars: str) -> tuple[str, int]:
    i = _WS.match(text, i).end()  # type: ignore[union-attr]
    if i >= len(text) or text[i] not in chars:
        raise json.JSONDecodeError(f"expected one of {' '.join(chars)}", text, i)
    return text[i], _WS.match(text, i + 1).end()  # type: ignore[union-attr]


def _parse_part(text: str, start: int, end: int) -> Any:
    try:
        return json.loads(text[start:end], parse_float=Decimal, parse_int=json_number)
    except json.JSONDecodeError as exc:  # report it where it is in the whole document
        raise json.JSONDecodeError(exc.msg, text, start + exc.pos) from None


def _json_by_record(text: str, limits: Limits) -> Any:
    """The document ``{"type": [record, …], …}`` read one record at a time; a record too deep to parse is an
    :class:`UnreadableRow`. Anything else too deep to parse is malformed for the whole document."""
    decoder = json.JSONDecoder(parse_float=Decimal, parse_int=json_number)
    _, i = _expect(text, 0, "{")
    doc: dict[str, Any] = {}
    if text.startswith("}", i):
        i += 1
    else:
        while True:
            key, i = decoder.raw_decode(text, _WS.match(text, i).end())  # type: ignore[union-attr]
            if not isinstance(key, str):
                raise json.JSONDecodeError("expected a key in double quotes", text, i)
            _, i = _expect(text, i, ":")
            if text.startswith("[", i) and _is_record_key(key):
                rows: list[Any] = []
                i = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
                if text.startswith("]", i):
                    i += 1
                else:
                    while True:
                        end = json_value_end(text, i, decoder)
                        try:
                            rows.append(_parse_part(text, i, end))
                        except RecursionError:
                            rows.append(UnreadableRow(too_deep_reason(limits)))
                        sep, i = _expect(text, end, ",]")
                        if sep == "]":
                            break
                doc[key] = rows
            else:
                end = json_value_end(text, i, decoder)
                try:
                    doc[key] = _parse_part(text, i, end)
                except RecursionError:
                    raise json.JSONDecodeError(f"nested deeper than {limits.nesting} levels", text, i) from None
                i = end
            sep, i = _expect(text, i, ",}")
            if sep == "}":
                break
    if _WS.match(text, i).end() != len(text):  # type: ignore[union-attr]
        raise json.JSONDecodeError("Extra data", text, i)
    return doc


# ---------------------------------------------------------------------------------------------- YAML


_DEEP_MARKER = "\0chanjiao: too deep"  # no YAML document can hold a NUL, so no scalar can be this


class YamlLimitError(yaml.MarkedYAMLError):
    """A YAML document over a limit (aliases, nesting); ``limit`` names it, ``problem`` is the one-line message."""

    def __init__(self, limit: str, problem: str, mark: Any):
        super().__init__(problem=problem, problem_mark=mark)
        self.limit = limit


class _LimitedLoader(yaml.SafeLoader):
    """PyYAML's safe composer, with aliases' expansion counted and nesting bounded."""

    def __init__(self, text: str, limits: Limits):
        super().__init__(text)
        self.limits = limits
        self._depth = 0
        self._added = 0  # nodes that aliases add when the document is expanded
        self._sizes: dict[int, int] = {}  # id(node) -> expanded size, for every finished node

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:  # noqa: N803,D102 - PyYAML's scanner hook
        if self.flow_level < self.limits.nesting:
            super().fetch_flow_collection_start(TokenClass)
            return
        # Deeper than the limit: skip to the matching bracket without scanning what is inside (PyYAML's scanner
        # is quadratic in the flow depth) and stand a marker scalar in its place; the composer tags it too deep.
        self.save_possible_simple_key()
        start = self.get_mark()
        depth = 0
        while True:
            ch = self.peek()
            if ch == "\0":
                raise yaml.scanner.ScannerError("while scanning a flow collection", start,
                                                "found the end of the document before its closing bracket",
                                                self.get_mark())
            if ch in "\"'":
                self.forward()
                while self.peek() not in (ch, "\0"):
                    self.forward(2 if ch == '"' and self.peek() == "\\" and self.peek(1) != "\0" else 1)
                if self.peek() == "\0":
                    continue  # unterminated: reported at the end of the document above
            elif ch in "[{":
                depth += 1
            elif ch in "]}":
                depth -= 1
            self.forward()
            if depth == 0:
                break
        self.allow_simple_key = False
        self.tokens.append(yaml.tokens.ScalarToken(_DEEP_MARKER, True, start, self.get_mark()))

    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: D102 - PyYAML's hook
        if self.check_event(AliasEvent):
            event = self.peek_event()
            node = self.anchors.get(event.anchor)
            if node is not None:
                size = self._sizes.get(id(node))
                if size is None:  # its anchor is still being composed: the alias is inside itself
                    raise YamlLimitError("yaml_alias_nodes", msg("limit.recursive_alias", anchor=event.anchor),
                                         event.start_mark)
                self._added += size
                if self._added > self.limits.yaml_alias_nodes:
                    raise YamlLimitError("yaml_alias_nodes", str(limit_error("YAML", "yaml_alias_nodes", self.limits,
                                                                             f"*{event.anchor}")),
                                         event.start_mark)
            return super().compose_node(parent, index)
        if self.check_event(CollectionStartEvent) and self._depth >= self.limits.nesting:
            return self._skip_collection()
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, SequenceNode):
            size = 1 + sum(self._sizes.get(id(c), 1) for c in node.value)
        elif isinstance(node, MappingNode):
            size = 1 + sum(self._sizes.get(id(k), 1) + self._sizes.get(id(v), 1) for k, v in node.value)
        else:
            size = 1
            if node.value == _DEEP_MARKER and not node.style:
                node.tag = TOO_DEEP_TAG
        self._sizes[id(node)] = size
        return node

    def _skip_collection(self) -> Node:
        start = self.get_event()
        level = 1
        end = start
        while level:
            end = self.get_event()
            if isinstance(end, CollectionStartEvent):
                level += 1
            elif isinstance(end, CollectionEndEvent):
                level -= 1
        node = ScalarNode(TOO_DEEP_TAG, "", start.start_mark, end.end_mark)
        self._sizes[id(node)] = 1
        return node


def limited_yaml_loader(text: str, limits: Limits = DEFAULT_LIMITS) -> yaml.SafeLoader:
    """A safe YAML loader whose ``get_single_node()`` counts alias expansion and bounds nesting.

    It raises :class:`YamlLimitError` (a ``yaml.MarkedYAMLError``) over a limit; a collection nested deeper than
    ``limits.nesting`` is composed as a scalar node tagged :data:`TOO_DEEP_TAG`. Call ``dispose()`` when done.
    """
    return _LimitedLoader(text, limits)


def load_yaml(text: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """``yaml.safe_load`` within ``limits`` (aliases counted, nesting bounded): any unreadable document —
    malformed, over a limit, a 5,000-digit integer, an impossible date — raises ``yaml.YAMLError``."""
    loader = None
    try:
        loader = _LimitedLoader(text, limits)
        node = loader.get_single_node()
        return None if node is None else loader.construct_document(node)
    except (ValueError, OverflowError, TypeError, RecursionError) as exc:
        raise yaml.YAMLError(f"unreadable value: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") \
            from None
    finally:
        if loader is not None:
            loader.dispose()


def parse_yaml_document(text: str, where: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """A YAML dataset document with every scalar as the text written (``None`` for a plain null).

    Records nested too deep become :class:`UnreadableRow`. Raises ``yaml.YAMLError`` for malformed YAML and a
    one-line :class:`FatalError` over an alias limit.
    """
    loader = _LimitedLoader(text, limits)
    try:
        node = loader.get_single_node()
    except YamlLimitError as exc:
        mark = exc.problem_mark
        raise FatalError(f"{where}:{mark.line + 1}:{mark.column + 1}: {exc.problem}" if mark else
                         f"{where}: {exc.problem}") from None
    finally:
        loader.dispose()
    if node is None:
        return None
    if not isinstance(node, MappingNode):
        return yaml_plain(node)
    doc: dict[str, Any] = {}
    for k, v in node.value:
        key = _key(k)
        if _is_record_key(key) and isinstance(v, SequenceNode):
            doc[key] = [_record(r, limits) for r in v.value]
        else:
            doc[key] = yaml_plain(v)
    return doc


def _key(node: Node) -> str:
    return node.value if isinstance(node, ScalarNode) else "(复杂键 / complex key)"


def _scalar(node: ScalarNode) -> Any:
    if not node.style and node.tag.endswith(":null"):
        return None
    return node.value


def _record(node: Node, limits: Limits) -> Any:
    if not isinstance(node, MappingNode):
        return yaml_plain(node)
    row: dict[str, Any] = {}
    for k, v in node.value:
        value = yaml_plain(v)
        if _contains_too_deep(value):
            return UnreadableRow(too_deep_reason(limits))
        row[_key(k)] = value
    return row


class TooDeep:
    """Stands for a collection that was not composed."""


def yaml_plain(node: Node) -> Any:
    """A composed YAML node as lists, dicts and text: scalars as written, ``None`` for a plain null, a
    :class:`TooDeep` for a collection the composer did not compose; depth is bounded by the composer."""
    if isinstance(node, ScalarNode):
        return TooDeep() if node.tag == TOO_DEEP_TAG else _scalar(node)
    if isinstance(node, SequenceNode):
        return [yaml_plain(c) for c in node.value]
    if isinstance(node, MappingNode):
        return {_key(k): yaml_plain(v) for k, v in node.value}
    return None  # pragma: no cover - PyYAML has no other node kind


def _contains_too_deep(value: Any) -> bool:
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, TooDeep):
            return True
        if isinstance(v, dict):
            todo.extend(v.values())
        elif isinstance(v, list):
            todo.extend(v)
    return False
