"""The rule expression language: parsed into a tree (no eval), type-checked, evaluated in Kleene logic.

Syntax (Python-like, see the README's reference)::

    subject.education_fund >= param.min_ratio * subject.total_wages
    any(a.school_id == subject.school_id and valid_on(a, subject.paid_on) for a in agreements)
    starts_with(enterprise.region_code, '4205')
    schools[a.school_id].is_municipal

Values are exact: numbers are :class:`decimal.Decimal`. A fact that is absent evaluates to :class:`Unknown`,
which carries the ``record_type.field`` names it stands for; ``and``/``or``/``not``/``any``/``all`` follow
Kleene's strong three-valued logic, and every other operation with an unknown operand is unknown.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, DivisionByZero, InvalidOperation, localcontext
from typing import Any, Callable, Iterable, Sequence

from engine.messages import msg
from engine.data.records import RECORD_TYPES, field_kinds
from engine.output.reasons import NO, UNKNOWN_VALUE, YES, absent_record

__all__ = [
    "Unknown",
    "Node",
    "Type",
    "BOOL",
    "NUMBER",
    "STR",
    "DATE",
    "RecordT",
    "ListT",
    "record_t",
    "list_t",
    "ExprError",
    "ExprEvalError",
    "ExprSyntaxError",
    "tidy_piece",
    "CJK_PUNCTUATION",
    "Template",
    "parse",
    "parse_template",
    "TypeEnv",
    "check",
    "Context",
    "RecordRef",
    "evaluate",
    "render_template",
    "format_value",
    "kleene_and",
    "kleene_or",
    "kleene_not",
    "fields_read",
    "params_used",
    "template_nodes",
    "children",
    "walk",
]

PRECISION = 60  # decimal digits for intermediate arithmetic: far beyond any yuan amount, so × and + are exact


# ---------------------------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Unknown:
    """A value that depends on facts the dataset does not have.

    ``missing`` names them as ``record_type.field``; ``notes`` says why (for example a related record that is
    not in the dataset). An Unknown with no missing facts comes from a parameter that is not configured.
    """

    missing: frozenset[str] = frozenset()
    notes: frozenset[str] = frozenset()

    def __or__(self, other: "Unknown") -> "Unknown":
        return Unknown(self.missing | other.missing, self.notes | other.notes)


def _merge(values: Iterable[Any]) -> Unknown:
    out = Unknown()
    for v in values:
        if isinstance(v, Unknown):
            out = out | v
    return out


def kleene_and(values: Iterable[Any]) -> Any:
    """Kleene conjunction: False if any is False, else Unknown if any is unknown, else True."""
    vals = list(values)
    if any(v is False for v in vals):
        return False
    unknowns = [v for v in vals if isinstance(v, Unknown)]
    return _merge(unknowns) if unknowns else True


def kleene_or(values: Iterable[Any]) -> Any:
    """Kleene disjunction: True if any is True, else Unknown if any is unknown, else False."""
    vals = list(values)
    if any(v is True for v in vals):
        return True
    unknowns = [v for v in vals if isinstance(v, Unknown)]
    return _merge(unknowns) if unknowns else False


def kleene_not(value: Any) -> Any:
    """Kleene negation: unknown stays unknown."""
    return value if isinstance(value, Unknown) else (not value)


@dataclass(frozen=True)
class RecordRef:
    """A record as the evaluator sees it: its type, the record (None when not in the dataset) and its key."""

    record_type: str
    record: Any
    key: Any = None


# ---------------------------------------------------------------------------------------------- types


@dataclass(frozen=True)
class Type:
    """A type of the expression language: bool, number, str, date, record<T>, list<…>, table<T>, params."""

    name: str

    def __str__(self) -> str:
        return self.name


BOOL, NUMBER, STR, DATE = Type("bool"), Type("number"), Type("str"), Type("date")
ANY = Type("?")  # the type of an expression that already had an error: no further errors about it
PARAMS = Type("params")


@dataclass(frozen=True)
class RecordT(Type):
    """A record of one record type."""

    record_type: str = ""


@dataclass(frozen=True)
class ListT(Type):
    """A list of values of one type."""

    elem: Type = ANY


@dataclass(frozen=True)
class TableT(Type):
    """A whole record type, indexable by id: ``schools[a.school_id]``."""

    record_type: str = ""


def record_t(record_type: str) -> RecordT:
    """The type of a record of ``record_type``."""
    return RecordT(record_type, record_type)


def list_t(elem: Type) -> ListT:
    """The type of a list of ``elem``."""
    return ListT(f"list<{elem}>", elem)


# ---------------------------------------------------------------------------------------------- syntax tree


@dataclass(frozen=True)
class Node:
    """A syntax-tree node; ``pos`` is the 0-based offset of its first character in the expression text."""

    pos: int


@dataclass(frozen=True)
class Lit(Node):
    value: Any
    type: Type


@dataclass(frozen=True)
class Name(Node):
    name: str


@dataclass(frozen=True)
class Attr(Node):
    obj: Node
    name: str
    name_pos: int


@dataclass(frozen=True)
class Index(Node):
    obj: Node
    key: Node


@dataclass(frozen=True)
class Call(Node):
    func: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Comp(Node):
    """``func(elem for var in iterable if cond)``; func is 'list' for ``[elem for …]``."""

    func: str
    elem: Node
    var: str
    iterable: Node
    cond: Node | None


@dataclass(frozen=True)
class Unary(Node):
    op: str
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class ExprError:
    """A syntax or type error at ``pos`` in an expression, with an optional suggestion."""

    pos: int
    message: str
    suggestion: str | None = None


class ExprSyntaxError(Exception):
    """Raised by the parser; carries an :class:`ExprError`."""

    def __init__(self, error: ExprError):
        super().__init__(error.message)
        self.error = error


class ExprEvalError(Exception):
    """An expression that cannot be evaluated for a subject (division by zero)."""


# ---------------------------------------------------------------------------------------------- lexer

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
      |(?P<num>\d+(?:\.\d+)?)
      |(?P<str>'[^']*'|"[^"]*")
      |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
      |(?P<op>==|!=|<=|>=|[<>+\-*/().,\[\]])""",
    re.VERBOSE,
)
KEYWORDS = {"and", "or", "not", "for", "in", "if", "true", "false"}


@dataclass(frozen=True)
class Tok:
    kind: str  # num, str, name, kw, op, end
    text: str
    pos: int


def tokenize(text: str) -> list[Tok]:
    """Split an expression into tokens; an unexpected character is an ExprSyntaxError at its position."""
    out: list[Tok] = []
    i = 0
    while i < len(text):
        m = _TOKEN.match(text, i)
        if not m:
            raise ExprSyntaxError(ExprError(i, f"unexpected character {text[i]!r}"))
        kind = m.lastgroup or ""
        if kind != "ws":
            tok = m.group()
            if kind == "name" and tok in KEYWORDS:
                kind = "kw"
            out.append(Tok(kind, tok, i))
        i = m.end()
    out.append(Tok("end", "", len(text)))
    return out


# ---------------------------------------------------------------------------------------------- parser

AGGREGATES = ("any", "all", "count", "sum", "join")
COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")


class _Parser:
    def __init__(self, text: str):
        self.toks = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Tok:
        return self.toks[self.i]

    def take(self, text: str | None = None, kind: str | None = None) -> Tok | None:
        t = self.tok
        if (text is None or t.text == text) and (kind is None or t.kind == kind) and t.kind != "end":
            self.i += 1
            return t
        return None

    def expect(self, text: str, what: str) -> Tok:
        t = self.take(text)
        if t is None:
            found = self.tok.text or "end of expression"
            raise ExprSyntaxError(ExprError(self.tok.pos, f"expected {what}, found {found!r}"))
        return t

    def parse(self) -> Node:
        node = self.expr()
        if self.tok.kind != "end":
            raise ExprSyntaxError(ExprError(self.tok.pos, f"unexpected {self.tok.text!r}"))
        return node

    def expr(self) -> Node:
        left = self.and_expr()
        while (t := self.take("or", "kw")) is not None:
            left = Binary(t.pos, "or", left, self.and_expr())
        return left

    def and_expr(self) -> Node:
        left = self.not_expr()
        while (t := self.take("and", "kw")) is not None:
            left = Binary(t.pos, "and", left, self.not_expr())
        return left

    def not_expr(self) -> Node:
        t = self.take("not", "kw")
        if t is not None:
            return Unary(t.pos, "not", self.not_expr())
        return self.comparison()

    def comparison(self) -> Node:
        left = self.additive()
        if self.tok.kind == "op" and self.tok.text in COMPARISONS:
            t = self.take()
            assert t is not None
            right = self.additive()
            if self.tok.kind == "op" and self.tok.text in COMPARISONS:
                raise ExprSyntaxError(ExprError(self.tok.pos, "chained comparisons are not allowed; use 'and'"))
            return Binary(t.pos, t.text, left, right)
        return left

    def additive(self) -> Node:
        left = self.multiplicative()
        while self.tok.kind == "op" and self.tok.text in "+-":
            t = self.take()
            assert t is not None
            left = Binary(t.pos, t.text, left, self.multiplicative())
        return left

    def multiplicative(self) -> Node:
        left = self.unary()
        while self.tok.kind == "op" and self.tok.text in "*/":
            t = self.take()
            assert t is not None
            left = Binary(t.pos, t.text, left, self.unary())
        return left

    def unary(self) -> Node:
        t = self.take("-", "op")
        if t is not None:
            return Unary(t.pos, "-", self.unary())
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        while True:
            if self.take(".", "op"):
                name = self.take(kind="name")
                if name is None:
                    raise ExprSyntaxError(ExprError(self.tok.pos, "expected a field name after '.'"))
                node = Attr(node.pos, node, name.text, name.pos)
            elif self.take("[", "op"):
                key = self.expr()
                self.expect("]", "']'")
                node = Index(node.pos, node, key)
            else:
                return node

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "num":
            self.i += 1
            return Lit(t.pos, Decimal(t.text), NUMBER)
        if t.kind == "str":
            self.i += 1
            return Lit(t.pos, t.text[1:-1], STR)
        if t.kind == "kw" and t.text in ("true", "false"):
            self.i += 1
            return Lit(t.pos, t.text == "true", BOOL)
        if t.kind == "name":
            self.i += 1
            if self.take("(", "op"):
                return self.call(t)
            return Name(t.pos, t.text)
        if self.take("(", "op"):
            node = self.expr()
            self.expect(")", "')'")
            return node
        if self.take("[", "op"):
            elem = self.expr()
            comp = self.comprehension("list", elem, t.pos)
            self.expect("]", "']'")
            return comp
        raise ExprSyntaxError(ExprError(t.pos, f"expected a value, found {t.text or 'end of expression'!r}"))

    def comprehension(self, func: str, elem: Node, pos: int) -> Comp:
        self.expect("for", "'for'")
        var = self.take(kind="name")
        if var is None:
            raise ExprSyntaxError(ExprError(self.tok.pos, "expected a variable name after 'for'"))
        self.expect("in", "'in'")
        iterable = self.expr()
        cond = self.expr() if self.take("if", "kw") else None
        return Comp(pos, func, elem, var.text, iterable, cond)

    def call(self, name: Tok) -> Node:
        args: list[Node] = []
        if self.take(")", "op"):
            return Call(name.pos, name.text, ())
        first = self.expr()
        if self.tok.kind == "kw" and self.tok.text == "for":
            comp = self.comprehension(name.text, first, name.pos)
            self.expect(")", "')'")
            return comp
        args.append(first)
        while self.take(",", "op"):
            args.append(self.expr())
        self.expect(")", "')' or ','")
        return Call(name.pos, name.text, tuple(args))


def parse(text: str) -> Node:
    """Parse an expression into its tree; raises ExprSyntaxError with the offending position."""
    return _Parser(text).parse()


# ---------------------------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class Template:
    """A reason text with ``{expression}`` or ``{expression | format}`` holes (``{{``/``}}`` are braces)."""

    parts: tuple[str | tuple[Node, str], ...]
    source: str


FORMATS = ("money", "yuan", "percent", "int", "number", "date", "text")


def parse_template(text: str) -> Template:
    """Parse a reason template; a hole's expression errors carry positions within the whole text."""
    parts: list[str | tuple[Node, str]] = []
    buf = ""
    i = 0
    while i < len(text):
        c = text[i]
        if c in "{}" and text[i : i + 2] in ("{{", "}}"):
            buf += c
            i += 2
            continue
        if c == "}":
            raise ExprSyntaxError(ExprError(i, "unmatched '}' (write '}}' for a brace)"))
        if c != "{":
            buf += c
            i += 1
            continue
        end = text.find("}", i)
        if end < 0:
            raise ExprSyntaxError(ExprError(i, "unclosed '{' (write '{{' for a brace)"))
        inner = text[i + 1 : end]
        fmt = "text"
        expr_text = inner
        if "|" in inner:
            expr_text, fmt = inner.rsplit("|", 1)
            fmt = fmt.strip()
            if fmt not in FORMATS:
                close = difflib.get_close_matches(fmt, FORMATS, n=1)
                raise ExprSyntaxError(
                    ExprError(i + 1 + inner.rindex("|") + 1, f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}",
                              close[0] if close else None)
                )
        try:
            node = parse(expr_text)
        except ExprSyntaxError as exc:
            raise ExprSyntaxError(ExprError(exc.error.pos + i + 1, exc.error.message, exc.error.suggestion)) from None
        if buf:
            parts.append(buf)
            buf = ""
        parts.append((_shift(node, i + 1), fmt))
        i = end + 1
    if buf:
        parts.append(buf)
    return Template(tuple(parts), text)


def _shift(node: Node, by: int) -> Node:
    """The same tree with every position moved by ``by`` (holes of a template are parsed on their own)."""
    if by == 0:
        return node
    kw: dict[str, Any] = {"pos": node.pos + by}
    for f in node.__dataclass_fields__:
        v = getattr(node, f)
        if isinstance(v, Node):
            kw[f] = _shift(v, by)
        elif f == "args":
            kw[f] = tuple(_shift(a, by) for a in v)
        elif f == "name_pos":
            kw[f] = v + by
    return type(node)(**{**{f: getattr(node, f) for f in node.__dataclass_fields__}, **kw})


# ---------------------------------------------------------------------------------------------- type checker


@dataclass
class TypeEnv:
    """What names mean when a rule's expressions are checked: variables, parameters and their types."""

    names: dict[str, Type]
    params: dict[str, Type] = field(default_factory=dict)

    def child(self, name: str, typ: Type) -> "TypeEnv":
        """The same environment with one more variable (a comprehension's loop variable)."""
        return TypeEnv({**self.names, name: typ}, self.params)


_FUNCS = (
    "starts_with", "known", "missing", "coalesce", "min", "max", "add_years", "days_between", "year",
    "date", "ceil_fen", "round_fen", "valid_on",
) + AGGREGATES


def check(node: Node, env: TypeEnv, errors: list[ExprError]) -> Type:
    """Type-check ``node``; errors are appended to ``errors`` (never raised) and the inferred type returned."""
    return _Checker(env, errors).check(node)


class _Checker:
    def __init__(self, env: TypeEnv, errors: list[ExprError]):
        self.env = env
        self.errors = errors

    def err(self, pos: int, msg: str, suggestion: str | None = None) -> Type:
        self.errors.append(ExprError(pos, msg, suggestion))
        return ANY

    def want(self, node: Node, typ: Type, env: TypeEnv | None = None, what: str = "") -> Type:
        got = self.check(node, env)
        if got is not ANY and got != typ:
            self.err(node.pos, f"{what or 'operand'} must be {typ}, found {got}")
        return got

    def check(self, node: Node, env: TypeEnv | None = None) -> Type:
        env = env or self.env
        saved, self.env = self.env, env
        try:
            return self._check(node)
        finally:
            self.env = saved

    def _check(self, node: Node) -> Type:
        if isinstance(node, Lit):
            return node.type
        if isinstance(node, Name):
            if node.name in self.env.names:
                return self.env.names[node.name]
            if node.name == "param":
                return PARAMS
            if node.name in RECORD_TYPES:
                return TableT(f"table<{node.name}>", node.name)
            known = list(self.env.names) + ["param"] + list(RECORD_TYPES)
            close = difflib.get_close_matches(node.name, known, n=1)
            return self.err(node.pos, f"unknown name {node.name!r}", close[0] if close else None)
        if isinstance(node, Attr):
            obj = self.check(node.obj)
            if obj is ANY:
                return ANY
            if obj == PARAMS:
                if node.name in self.env.params:
                    return self.env.params[node.name]
                close = difflib.get_close_matches(node.name, list(self.env.params), n=1)
                return self.err(node.name_pos, f"unknown parameter {node.name!r}", close[0] if close else None)
            if isinstance(obj, RecordT):
                kinds = field_kinds(obj.record_type)
                if node.name in kinds:
                    return Type(kinds[node.name].value_type)
                close = difflib.get_close_matches(node.name, list(kinds), n=1, cutoff=0.5)
                return self.err(node.name_pos, f"unknown field {node.name!r} of {obj.record_type}",
                                close[0] if close else None)
            return self.err(node.name_pos, f"{obj} has no fields")
        if isinstance(node, Index):
            obj = self.check(node.obj)
            if obj is ANY:
                return ANY
            if not isinstance(obj, TableT):
                return self.err(node.pos, f"only a record type can be indexed by id, not {obj}")
            self.want(node.key, STR, what="an id")
            return record_t(obj.record_type)
        if isinstance(node, Unary):
            if node.op == "not":
                self.want(node.operand, BOOL, what="the operand of 'not'")
                return BOOL
            self.want(node.operand, NUMBER, what="the operand of '-'")
            return NUMBER
        if isinstance(node, Binary):
            return self._binary(node)
        if isinstance(node, Comp):
            return self._comp(node)
        if isinstance(node, Call):
            return self._call(node)
        raise AssertionError(node)  # pragma: no cover

    def _binary(self, node: Binary) -> Type:
        if node.op in ("and", "or"):
            self.want(node.left, BOOL, what=f"an operand of '{node.op}'")
            self.want(node.right, BOOL, what=f"an operand of '{node.op}'")
            return BOOL
        left, right = self.check(node.left), self.check(node.right)
        if ANY in (left, right):
            return BOOL if node.op in COMPARISONS else ANY
        if node.op in COMPARISONS:
            if left != right:
                return self.err(node.pos, f"cannot compare {left} with {right}") or BOOL
            if node.op not in ("==", "!=") and left not in (NUMBER, DATE):
                self.err(node.pos, f"'{node.op}' compares numbers or dates, not {left}")
            if isinstance(left, (RecordT, ListT, TableT)):
                self.err(node.pos, f"cannot compare {left} values")
            return BOOL
        if left != NUMBER or right != NUMBER:
            return self.err(node.pos, f"'{node.op}' needs numbers, found {left} and {right}")
        return NUMBER

    def _comp(self, node: Comp) -> Type:
        it = self.check(node.iterable)
        if it is ANY:
            return ANY
        if not isinstance(it, ListT):
            return self.err(node.iterable.pos, f"'for … in' needs a list, found {it}")
        inner = self.env.child(node.var, it.elem)
        elem = self.check(node.elem, inner)
        if node.cond is not None:
            self.want(node.cond, BOOL, inner, "the 'if' condition")
        if node.func == "list":
            return list_t(elem)
        if node.func in ("any", "all"):
            if elem not in (BOOL, ANY):
                self.err(node.elem.pos, f"{node.func}() needs conditions, found {elem}")
            return BOOL
        if node.func == "count":
            return NUMBER
        if node.func == "sum":
            if elem not in (NUMBER, ANY):
                self.err(node.elem.pos, f"sum() needs numbers, found {elem}")
            return NUMBER
        if node.func == "join":
            return STR
        return self.err(node.pos, f"{node.func}() does not take 'for … in'")

    def _call(self, node: Call) -> Type:
        f, args = node.func, node.args
        if f not in _FUNCS:
            close = difflib.get_close_matches(f, _FUNCS, n=1)
            return self.err(node.pos, f"unknown function {f!r}", close[0] if close else None)
        arity = {"known": 1, "missing": 1, "year": 1, "date": 1, "ceil_fen": 1, "round_fen": 1, "count": 1,
                 "any": 1, "all": 1, "sum": 1, "join": 1}.get(f, 2)
        if len(args) != arity:
            return self.err(node.pos, f"{f}() takes {arity} argument{'s' if arity > 1 else ''}, given {len(args)}")
        if f == "starts_with":
            self.want(args[0], STR)
            self.want(args[1], STR)
            return BOOL
        if f in ("known", "missing"):
            self.check(args[0])
            return BOOL
        if f in ("coalesce", "min", "max"):
            a, b = self.check(args[0]), self.check(args[1])
            if ANY not in (a, b) and a != b:
                self.err(node.pos, f"{f}() needs two values of one type, found {a} and {b}")
            if f != "coalesce" and a not in (NUMBER, DATE, ANY):
                self.err(node.pos, f"{f}() compares numbers or dates, not {a}")
            return a
        if f == "add_years":
            self.want(args[0], DATE)
            self.want(args[1], NUMBER)
            return DATE
        if f == "days_between":
            self.want(args[0], DATE)
            self.want(args[1], DATE)
            return NUMBER
        if f == "year":
            self.want(args[0], DATE)
            return NUMBER
        if f == "date":
            a = args[0]
            if not (isinstance(a, Lit) and a.type == STR and _iso_date(a.value) is not None):
                self.err(a.pos, "date() takes a literal 'YYYY-MM-DD'")
            return DATE
        if f in ("ceil_fen", "round_fen"):
            self.want(args[0], NUMBER)
            return NUMBER
        if f == "valid_on":
            a = self.check(args[0])
            if a is not ANY and a != record_t("agreements"):
                self.err(args[0].pos, f"valid_on() takes an agreement, found {a}")
            self.want(args[1], DATE)
            return BOOL
        # an aggregate over a plain list
        a = self.check(args[0])
        if a is not ANY and not isinstance(a, ListT):
            return self.err(args[0].pos, f"{f}() needs a list, found {a}")
        if f == "count":
            return NUMBER
        elem = a.elem if isinstance(a, ListT) else ANY
        want = {"any": BOOL, "all": BOOL, "sum": NUMBER, "join": STR}[f]
        if elem not in (want, ANY):
            self.err(args[0].pos, f"{f}() needs a list of {want}, found {a}")
        return BOOL if f in ("any", "all") else want


def _iso_date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:
        return None


def fields_read(node: Node, env: TypeEnv) -> set[str]:
    """The ``record_type.field`` facts an expression can read (used by lint to tell optional inputs)."""
    out: set[str] = set()

    def visit(n: Node, e: TypeEnv) -> None:
        if isinstance(n, Attr):
            t = check(n.obj, e, [])
            if isinstance(t, RecordT):
                out.add(f"{t.record_type}.{n.name}")
        if isinstance(n, Comp):
            it = check(n.iterable, e, [])
            inner = e.child(n.var, it.elem if isinstance(it, ListT) else ANY)
            visit(n.iterable, e)
            visit(n.elem, inner)
            if n.cond is not None:
                visit(n.cond, inner)
            return
        for child in children(n):
            visit(child, e)

    visit(node, env)
    return out


def children(node: Node) -> list[Node]:
    """A node's direct sub-expressions, in source order."""
    out: list[Node] = []
    for f in node.__dataclass_fields__:
        v = getattr(node, f)
        if isinstance(v, Node):
            out.append(v)
        elif f == "args":
            out.extend(v)
    return out


def walk(node: Node) -> Iterable[Node]:
    """Every node of a tree, the root first."""
    yield node
    for child in children(node):
        yield from walk(child)


def params_used(node: Node) -> set[str]:
    """The names of the parameters an expression reads (``param.NAME``)."""
    return {n.name for n in walk(node) if isinstance(n, Attr) and isinstance(n.obj, Name) and n.obj.name == "param"}


def template_nodes(tpl: Template) -> list[Node]:
    """The expressions in a template's holes."""
    return [p[0] for p in tpl.parts if not isinstance(p, str)]


# ---------------------------------------------------------------------------------------------- evaluator


@dataclass
class Context:
    """Everything an expression can read while one decision is made, and the trace of what it read.

    ``names`` binds subject, lookups and as_of; ``params`` maps parameter names to values (Unknown when not
    configured); ``table`` looks a record up by type and id; ``reads`` collects (fact, value) pairs in order.
    """

    names: dict[str, Any]
    params: dict[str, Any]
    table: Callable[[str, Any], Any]
    reads: list[tuple[str, Any]] = field(default_factory=list)
    params_read: list[str] = field(default_factory=list)

    def child(self, name: str, value: Any) -> "Context":
        """The same context with one more variable; reads are still collected in this one."""
        return Context({**self.names, name: value}, self.params, self.table, self.reads, self.params_read)


def evaluate(node: Node, ctx: Context) -> Any:
    """Evaluate a checked expression: bool, Decimal, str, date, RecordRef, list, or Unknown."""
    with localcontext() as dc:
        dc.prec = PRECISION
        dc.traps[DivisionByZero] = True
        dc.traps[InvalidOperation] = True
        return _ev(node, ctx)


def _read_field(ref: RecordRef, name: str, ctx: Context) -> Any:
    fact = f"{ref.record_type}.{name}"
    if ref.record is None:
        if isinstance(ref.key, Unknown):
            return ref.key | Unknown(frozenset({fact}))
        note = absent_record(ref.record_type, ref.key) if ref.key is not None else ""
        value: Any = Unknown(frozenset({fact}), frozenset({note}) if note else frozenset())
        ctx.reads.append((f"{ref.record_type}[{ref.key}].{name}", value))
        return value
    raw = getattr(ref.record, name)
    value = Unknown(frozenset({fact})) if raw is None else (Decimal(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw)
    ctx.reads.append((f"{ref.record_type}[{ref.record.id}].{name}", value))
    return value


def _ev(node: Node, ctx: Context) -> Any:
    if isinstance(node, Lit):
        return node.value
    if isinstance(node, Name):
        if node.name in ctx.names:
            return ctx.names[node.name]
        if node.name == "param":
            return _PARAMS
        return TableRef(node.name)
    if isinstance(node, Attr):
        obj = _ev(node.obj, ctx)
        if obj is _PARAMS:
            ctx.params_read.append(node.name)
            return ctx.params[node.name]
        if isinstance(obj, Unknown):
            return obj
        return _read_field(obj, node.name, ctx)
    if isinstance(node, Index):
        table = _ev(node.obj, ctx)
        key = _ev(node.key, ctx)
        if isinstance(key, Unknown):
            return RecordRef(table.record_type, None, key)
        return RecordRef(table.record_type, ctx.table(table.record_type, key), key)
    if isinstance(node, Unary):
        v = _ev(node.operand, ctx)
        if node.op == "not":
            return kleene_not(v)
        return v if isinstance(v, Unknown) else -v
    if isinstance(node, Binary):
        if node.op == "and":
            left = _ev(node.left, ctx)
            return False if left is False else kleene_and([left, _ev(node.right, ctx)])
        if node.op == "or":
            left = _ev(node.left, ctx)
            return True if left is True else kleene_or([left, _ev(node.right, ctx)])
        left, right = _ev(node.left, ctx), _ev(node.right, ctx)
        if isinstance(left, Unknown) or isinstance(right, Unknown):
            return _merge([left, right])
        return _BINOPS[node.op](left, right)
    if isinstance(node, Comp):
        return _comp(node, ctx)
    if isinstance(node, Call):
        return _call(node, ctx)
    raise AssertionError(node)  # pragma: no cover


@dataclass(frozen=True)
class TableRef:
    """The value of a bare record-type name: something to index by id."""

    record_type: str


_PARAMS = object()


def _divide(a: Decimal, b: Decimal) -> Decimal:
    if b == 0:
        raise ExprEvalError(msg("eval.division_by_zero"))
    return a / b


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _divide,
}


def _items(node: Comp, ctx: Context) -> list[Any] | Unknown:
    """The (elem) values of a comprehension whose 'if' holds; Unknown if some 'if' is unknown."""
    seq = _ev(node.iterable, ctx)
    if isinstance(seq, Unknown):
        return seq
    out: list[Any] = []
    unknown = Unknown()
    undecided = False
    for item in seq:
        inner = ctx.child(node.var, item)
        if node.cond is not None:
            c = _ev(node.cond, inner)
            if isinstance(c, Unknown):
                if node.func in ("any", "all"):
                    out.append(kleene_and([c, _ev(node.elem, inner)]) if node.func == "any"
                               else kleene_or([kleene_not(c), _ev(node.elem, inner)]))
                    continue
                unknown, undecided = unknown | c, True
                continue
            if c is False:
                continue
        out.append(_ev(node.elem, inner))
    return unknown if undecided else out


def _comp(node: Comp, ctx: Context) -> Any:
    items = _items(node, ctx)
    if isinstance(items, Unknown):
        return items
    return _aggregate(node.func, items)


def _aggregate(func: str, items: Sequence[Any]) -> Any:
    if func == "list":
        return list(items)
    if func == "any":
        return kleene_or(items)
    if func == "all":
        return kleene_and(items)
    if func == "count":
        unknown = [v for v in items if isinstance(v, Unknown)]
        if unknown:
            return _merge(unknown)
        return Decimal(sum(1 for v in items if v is not False))
    unknown = [v for v in items if isinstance(v, Unknown)]
    if unknown:
        return _merge(unknown)
    if func == "sum":
        return sum(items, Decimal(0))
    if func == "join":
        return "、".join(str(v) for v in items)
    raise AssertionError(func)  # pragma: no cover


class LateDate:
    """A day after 9999-12-31, which ``datetime.date`` cannot hold: what ``add_years`` gives for a valid date late in
    year 9999 (a record's 9999-06-01 plus one year). It compares, subtracts and prints like a date, so a rule
    decides it as the vectorised engine (days since 1970 in int64) does."""

    __slots__ = ("year", "month", "day", "_ordinal")

    def __init__(self, year: int, month: int, day: int):
        self.year, self.month, self.day = year, month, day
        # days from civil (H. Hinnant), counted as date.toordinal() counts
        y = year - (month <= 2)
        era, yoe = divmod(y, 400)
        doy = (153 * (month - 3 if month > 2 else month + 9) + 2) // 5 + day - 1
        self._ordinal = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468 + 719163

    def toordinal(self) -> int:
        """Days as ``datetime.date.toordinal`` counts them (0001-01-01 is day 1)."""
        return self._ordinal

    def isoformat(self) -> str:
        """YYYYY-MM-DD."""
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    def __repr__(self) -> str:
        return f"LateDate({self.isoformat()})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (dt.date, LateDate)) and self._ordinal == other.toordinal()

    def __hash__(self) -> int:
        return hash(self._ordinal)

    def __lt__(self, other: Any) -> bool:
        return self._ordinal < other.toordinal()

    def __le__(self, other: Any) -> bool:
        return self._ordinal <= other.toordinal()

    def __gt__(self, other: Any) -> bool:
        return self._ordinal > other.toordinal()

    def __ge__(self, other: Any) -> bool:
        return self._ordinal >= other.toordinal()

    def __sub__(self, other: Any) -> dt.timedelta:
        return dt.timedelta(days=self._ordinal - other.toordinal())

    def __rsub__(self, other: Any) -> dt.timedelta:
        return dt.timedelta(days=other.toordinal() - self._ordinal)

    def replace(self, year: int) -> "LateDate":
        """The same month and day in another year (after 9999)."""
        return LateDate(year, self.month, self.day)


def add_years(d: dt.date, years: int) -> Any:
    """The same month and day ``years`` later; 29 February becomes 28 February in a common year. A day after
    9999-12-31 is a :class:`LateDate`."""
    year = d.year + years
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    day = 28 if d.month == 2 and d.day == 29 and not leap else d.day
    if 1 <= year <= 9999:
        return dt.date(year, d.month, day)
    return LateDate(year, d.month, day)


def _call(node: Call, ctx: Context) -> Any:
    f = node.func
    if f in AGGREGATES:  # over a list that may itself be unknown (a list comprehension's unknown 'if', a lookup's key)
        seq = _ev(node.args[0], ctx)
        return seq if isinstance(seq, Unknown) else _aggregate(f, seq)
    if f == "date":
        return dt.date.fromisoformat(node.args[0].value)  # type: ignore[attr-defined]
    if f in ("known", "missing"):
        v = _ev(node.args[0], ctx)
        return (not isinstance(v, Unknown)) if f == "known" else isinstance(v, Unknown)
    if f == "coalesce":
        v = _ev(node.args[0], ctx)
        return _ev(node.args[1], ctx) if isinstance(v, Unknown) else v
    if f == "valid_on":
        ag, day = _ev(node.args[0], ctx), _ev(node.args[1], ctx)
        if isinstance(day, Unknown):
            return day
        frm = _read_field(ag, "valid_from", ctx)
        if ag.record is None:
            return frm
        to = ag.record.valid_to
        return frm <= day and (to is None or day <= to)
    args = [_ev(a, ctx) for a in node.args]
    if any(isinstance(a, Unknown) for a in args):
        return _merge(args)
    if f == "starts_with":
        return args[0].startswith(args[1])
    if f == "min":
        return min(args[0], args[1])
    if f == "max":
        return max(args[0], args[1])
    if f == "add_years":
        return add_years(args[0], int(args[1]))
    if f == "days_between":
        return Decimal((args[1] - args[0]).days)
    if f == "year":
        return Decimal(args[0].year)
    if f == "ceil_fen":
        return args[0].quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    if f == "round_fen":
        return args[0].quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    raise AssertionError(f)  # pragma: no cover


# ---------------------------------------------------------------------------------------------- rendering


def format_value(value: Any, fmt: str = "text") -> str:
    """Render a value for a reason: ``money`` 1,234.56; ``yuan`` ¥1,234.56; ``percent`` 1.20% (of a ratio);
    ``number`` the exact value without trailing zeros (450, 455.5)."""
    if isinstance(value, Unknown):
        return UNKNOWN_VALUE
    if isinstance(value, bool):
        return YES if value else NO
    if isinstance(value, RecordRef):  # its id; the key it was looked up by when absent (未知 if that is unknown)
        key = value.key if value.record is None else value.record.id
        return UNKNOWN_VALUE if isinstance(key, Unknown) else str(key)
    if isinstance(value, list):
        return "、".join(format_value(v, fmt) for v in value)
    if isinstance(value, Decimal):
        if fmt in ("money", "yuan"):
            text = f"{_unsigned(value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)):,}"
            return "¥" + text if fmt == "yuan" else text
        if fmt == "percent":
            with localcontext() as dc:
                dc.prec = PRECISION
                return f"{_unsigned((value * 100).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP))}%"
        if fmt == "int":
            return str(_unsigned(value.quantize(Decimal(1), rounding=ROUND_HALF_UP)))
        if fmt == "number":  # exact, without trailing zeros: 450.00 → 450, 455.50 → 455.5
            text = format(_unsigned(value), "f")
            return text.rstrip("0").rstrip(".") if "." in text else text
        return str(_unsigned(value))
    if isinstance(value, (dt.date, LateDate)):
        return value.isoformat()
    return str(value)


def _unsigned(value: Decimal) -> Decimal:
    """A zero without a sign: -0 (say -1 × 0, or a negative rounded to zero) is written 0, as integer columns hold it."""
    return value.copy_abs() if value.is_zero() else value


def render_template(tpl: Template, ctx: Context) -> str:
    """Fill a template's holes; an unknown value is written 未知, never guessed."""
    out = []
    for part in tpl.parts:
        if isinstance(part, str):
            out.append(part)
        else:
            node, fmt = part
            try:
                out.append(format_value(evaluate(node, ctx), fmt))
            except ExprEvalError:
                out.append(UNKNOWN_VALUE)
    return _tidy("".join(out))


CJK_PUNCTUATION = "，。；：、（）“”《》"  # no white space is kept around these in a reason
_CJK_PUNCT = re.compile(rf"\s*([{CJK_PUNCTUATION}])\s*")


def _tidy(text: str) -> str:
    """Fold the white space that YAML's folded scalars leave: none around Chinese punctuation, single elsewhere."""
    return tidy_piece(text, True, True)


def tidy_piece(text: str, first: bool, last: bool) -> str:
    """:func:`_tidy` of one literal piece of a template whose holes hold no white space or Chinese punctuation.

    Such a hole cannot join or separate white space, so the folding happens inside each piece; only the first
    piece's start and the last piece's end are stripped.
    """
    text = _CJK_PUNCT.sub(r"\1", re.sub(r"\s+", " ", text))
    text = text.lstrip() if first else text
    return text.rstrip() if last else text
