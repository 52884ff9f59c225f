"""Rule packs: their YAML form (pydantic models), loading with positions, compiling, and linting.

A pack is a folder::

    policy_rules/tonghua-2019/
        pack.yaml        document metadata, jurisdiction, dated parameters with citations, notes
        source.txt       the official text, verbatim: every quote must be found in it
        rules/*.yaml     one rule per file
        tests/*.yaml     the rule's test cases

:func:`load_packs` returns compiled packs (every expression parsed and type-checked against the record
schema) and the :class:`PolicyError` list, each at ``file:line:col``; nothing is raised for a bad pack.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.data.docparse import TOO_DEEP_TAG, YamlLimitError, limited_yaml_loader
from engine.errors import FatalError, PolicyError
from engine.language.expressions import (
    BOOL,
    DATE,
    NUMBER,
    STR,
    ExprError,
    ExprSyntaxError,
    Node,
    Template,
    Type,
    TypeEnv,
    check,
    fields_read,
    list_t,
    parse,
    parse_template,
    record_t,
    template_nodes,
)
from engine.data.limits import DEFAULT_LIMITS, check_file_size
from engine.data.records import RECORD_TYPES, field_kinds
from engine.output.terms import AMOUNT_KEYS, NEGATIVE, NOT_APPLICABLE, POSITIVE, RANGE_KEYS, UNDETERMINED

__all__ = [
    "CitationModel",
    "PackModel",
    "RuleModel",
    "Citation",
    "Pack",
    "Rule",
    "Criterion",
    "Parameter",
    "ParamRange",
    "Expr",
    "load_packs",
    "load_pack",
    "shipped_packs_dir",
    "possible_statuses",
    "quote_in_source",
]

Effect = Literal["benefit", "obligation", "encouraged"]


# ---------------------------------------------------------------------------------------------- YAML form


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CitationModel(_Strict):
    """Where a rule or parameter comes from: the clause and a verbatim quote of the source text."""

    clause: str
    quote: str
    note: str | None = None


class DocumentModel(_Strict):
    """The official document a pack encodes."""

    number: str
    title: str
    issuer: str
    issued_on: dt.date
    source: str = Field(description="file name of the verbatim source text, beside pack.yaml")
    jurisdiction: str = Field(description="name of the jurisdiction, e.g. 通化市")
    region_prefixes: list[str] = Field(min_length=1, description="GB/T 2260 code prefixes inside the jurisdiction")


class ParameterValueModel(_Strict):
    """One dated value of a parameter: in force from ``from`` until the next value's date."""

    from_: dt.date = Field(alias="from")
    value: Any = None


class RangeModel(_Strict):
    """The values a number parameter may take (``--param`` refuses others unless told a what-if goes beyond)."""

    min: Decimal | None = None
    max: Decimal | None = None
    citation: CitationModel | None = Field(
        default=None, description="the sentence that sets the range; none when the range is the value's domain "
                                  "(a ratio lies between 0 and 1, an amount is not negative)")


class ParameterModel(_Strict):
    """A dated parameter with its legal reference (OpenFisca style)."""

    description: str
    type: Literal["number", "str", "bool", "date"] = "number"
    unit: str | None = None
    values: list[ParameterValueModel] = Field(min_length=1)
    citation: CitationModel
    range: RangeModel | None = None


class PackModel(_Strict):
    """``pack.yaml``: one document, its jurisdiction and its parameters."""

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    document: DocumentModel
    parameters: dict[str, ParameterModel] = {}
    notes: str | None = None


class LookupModel(_Strict):
    """A related record (``many: false``) or records (``many: true``) whose ``by`` field equals ``key``."""

    record_type: str
    key: str
    by: str = "id"
    many: bool = False


class ScopeModel(_Strict):
    """Where and when a rule applies: a region-code expression and a reference-date expression."""

    region: str
    region_label: str
    date: str = "as_of"
    date_label: str = "评估日期"


class ConditionModel(_Strict):
    """An applicability condition: false → not_applicable with ``reason``; unknown → undetermined."""

    test: str
    reason: str


class ReasonVariantModel(_Strict):
    """A failure reason, used when ``when`` holds (the first matching variant wins; no ``when`` = default)."""

    when: str | None = None
    text: str


class CriterionModel(_Strict):
    """A condition of the positive outcome; every false one is named in a negative decision."""

    id: str
    label: str
    test: str
    fail: str | list[ReasonVariantModel]
    pass_: str | None = Field(default=None, alias="pass")
    gap: str | None = Field(default=None, description="how far from passing, rendered by explain when it fails")


class RollupModel(_Strict):
    """How positive decisions add up in the summary: per enterprise or school, optionally per period."""

    name: str
    group: Literal["enterprises", "schools"]
    key: str
    period: str | None = None


class RuleModel(_Strict):
    """``rules/*.yaml``: one rule."""

    id: str = Field(pattern=r"^[a-z0-9_]+\.[a-z0-9_]+$")
    title: str
    effect: Effect
    subject: str
    citation: CitationModel
    see_also: list[CitationModel] = []
    scope: ScopeModel
    lookups: dict[str, LookupModel] = {}
    applies_if: list[ConditionModel] = []
    criteria: list[CriterionModel] = Field(min_length=1)
    positive_reason: str | None = None
    amount: str | None = None
    amount_min: str | None = None
    amount_max: str | None = None
    amount_note: str | None = None
    rollup: RollupModel | None = None
    notes: str | None = None


# ---------------------------------------------------------------------------------------------- compiled form


@dataclass(frozen=True)
class Citation:
    """A citation as it travels with every decision."""

    document_number: str
    title: str
    issuer: str
    issued_on: str
    clause: str
    quote: str

    def as_dict(self) -> dict[str, str]:
        """The decision document's ``citation`` object."""
        return {
            "document_number": self.document_number,
            "title": self.title,
            "issuer": self.issuer,
            "issued_on": self.issued_on,
            "clause": self.clause,
            "quote": self.quote,
        }


@dataclass(frozen=True)
class Expr:
    """A parsed, checked expression with its source text and location."""

    text: str
    node: Node
    type: Type
    where: str


@dataclass(frozen=True)
class Tpl:
    """A parsed reason template with its location."""

    template: Template
    where: str


@dataclass(frozen=True)
class ParamRange:
    """The values a number parameter may take, and the citation that sets them (None: the value's domain)."""

    min: Decimal | None
    max: Decimal | None
    citation: Citation | None

    def contains(self, value: Decimal) -> bool:
        """Whether ``value`` lies in the range, both ends included."""
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


@dataclass(frozen=True)
class Parameter:
    """A compiled parameter: its dated values and citation."""

    name: str
    description: str
    type: str
    unit: str | None
    values: tuple[tuple[dt.date, Any], ...]
    citation: Citation
    range: ParamRange | None = None

    def value_on(self, day: dt.date) -> Any:
        """The value in force on ``day``, or None when none is (not configured)."""
        found = None
        for start, value in self.values:
            if start <= day:
                found = value
        return found


@dataclass(frozen=True)
class Lookup:
    """A compiled lookup."""

    name: str
    record_type: str
    by: str
    key: Expr
    many: bool


@dataclass(frozen=True)
class Condition:
    """A compiled applicability condition."""

    test: Expr
    reason: Tpl


@dataclass(frozen=True)
class Criterion:
    """A compiled criterion."""

    id: str
    label: str
    test: Expr
    fail: tuple[tuple[Expr | None, Tpl], ...]
    passed: Tpl | None
    gap: Tpl | None


@dataclass(frozen=True)
class Rollup:
    """A compiled roll-up."""

    name: str
    group: str
    key: Expr
    period: Expr | None


@dataclass(frozen=True)
class Rule:
    """A rule compiled to a typed tree: what every evaluator consumes."""

    id: str
    title: str
    effect: str
    subject: str
    citation: Citation
    see_also: tuple[Citation, ...]
    region: Expr
    region_label: str
    date: Expr
    date_label: str
    lookups: tuple[Lookup, ...]
    applies_if: tuple[Condition, ...]
    criteria: tuple[Criterion, ...]
    positive_reason: Tpl | None
    amount: Expr | None
    amount_min: Expr | None
    amount_max: Expr | None
    amount_note: str | None
    rollup: Rollup | None
    notes: str | None
    file: str

    def nodes(self) -> list[Node]:
        """Every expression tree of the rule, templates' holes included."""
        exprs = [self.region, self.date, *(lk.key for lk in self.lookups), *(c.test for c in self.applies_if)]
        exprs += list(self.amounts.values())
        tpls = [c.reason for c in self.applies_if] + [t for t in (self.positive_reason,) if t is not None]
        for cr in self.criteria:
            exprs.append(cr.test)
            exprs += [w for w, _ in cr.fail if w is not None]
            tpls += [t for _, t in cr.fail] + [t for t in (cr.passed, cr.gap) if t is not None]
        if self.rollup is not None:
            exprs += [e for e in (self.rollup.key, self.rollup.period) if e is not None]
        return [e.node for e in exprs] + [n for t in tpls for n in template_nodes(t.template)]

    @property
    def amounts(self) -> dict[str, Expr]:
        """The rule's amount expressions by amount key (engine.output.terms.AMOUNT_KEYS), in that order; the
        missing ones left out."""
        return {k: e for k in AMOUNT_KEYS if (e := getattr(self, k)) is not None}

    @property
    def ranged(self) -> bool:
        """Whether the rule gives a cited range (amount_min or amount_max): the summary then totals the range."""
        return any(getattr(self, k) is not None for k in RANGE_KEYS)

    @property
    def positive(self) -> str:
        """The status of the positive outcome (eligible or compliant)."""
        return POSITIVE[self.effect]

    @property
    def negative(self) -> str:
        """The status of the negative outcome (not_eligible or non_compliant)."""
        return NEGATIVE[self.effect]


@dataclass
class Pack:
    """A loaded pack: document, jurisdiction, parameters, rules, and where it came from."""

    id: str
    directory: Path
    document_number: str
    title: str
    issuer: str
    issued_on: dt.date
    jurisdiction: str
    region_prefixes: tuple[str, ...]
    source_text: str
    parameters: dict[str, Parameter]
    rules: list[Rule]
    digest: str
    notes: str | None
    test_files: list[Path] = field(default_factory=list)

    def citation(self, clause: str, quote: str) -> Citation:
        """A citation of this pack's document."""
        return Citation(self.document_number, self.title, self.issuer, self.issued_on.isoformat(), clause, quote)


# ---------------------------------------------------------------------------------------------- YAML with positions

# line (1-based), col (1-based), style, and for block scalars (offset in value, file line, indent) per content line
Pos = tuple[int, int, str, tuple[tuple[int, int, int], ...]]
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def _load_yaml(path: Path, errors: list[PolicyError]) -> tuple[Any, dict[tuple[Any, ...], Pos]]:
    """Load YAML keeping the position of every scalar, keyed by its path; floats become exact Decimals."""
    try:
        check_file_size(path, DEFAULT_LIMITS)  # a FIFO or a huge file is refused, not read
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, FatalError) as exc:
        errors.append(PolicyError(f"cannot read: {exc}", str(path)))
        return None, {}
    lines = text.splitlines()
    loader = None
    try:
        loader = limited_yaml_loader(text)  # aliases' expansion counted, nesting bounded (DEFAULT_LIMITS)
        node = loader.get_single_node()
    except (yaml.YAMLError, RecursionError) as exc:
        mark = getattr(exc, "problem_mark", None)
        what = exc.problem if isinstance(exc, YamlLimitError) else \
            f"malformed YAML: {getattr(exc, 'problem', None) or exc}"
        errors.append(PolicyError(str(what), str(path),
                                  mark.line + 1 if mark else 0, mark.column + 1 if mark else 0))
        return None, {}
    finally:
        if loader is not None:
            loader.dispose()
    positions: dict[tuple[Any, ...], Pos] = {}

    def convert(n: yaml.Node | None, p: tuple[Any, ...]) -> Any:
        if n is None:
            return None
        line, col = n.start_mark.line + 1, n.start_mark.column + 1
        style = getattr(n, "style", None) or ""
        starts: tuple[tuple[int, int, int], ...] = ()
        if style in ("|", ">"):
            starts = _block_lines(lines, line)
        positions[p] = (line, col, style, starts)
        if isinstance(n, yaml.MappingNode):
            out = {}
            for k, v in n.value:
                key = convert(k, p + ("<key?>",))  # a scratch path: p + (name, "<key>") holds the keys kept
                where = positions.pop(p + ("<key?>",))
                if isinstance(key, (list, dict)):  # unhashable: only text keys are meaningful in a pack
                    errors.append(PolicyError("a key must be text, not a list or mapping", str(path), *where[:2]))
                    continue
                if key in out:  # PyYAML would silently keep the last one: a condition lost without a word
                    errors.append(PolicyError(f"{'.'.join(map(str, p + (key,)))}: duplicate key {key!r} "
                                              f"(first at line {positions[p + (key, '<key>')][0]})",
                                              str(path), where[0], where[1]))
                    continue
                positions[p + (key, "<key>")] = where
                out[key] = convert(v, p + (key,))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [convert(v, p + (i,)) for i, v in enumerate(n.value)]
        tag = n.tag or ""
        if tag.endswith(":float"):
            try:
                return Decimal(n.value.replace("_", ""))
            except Exception:
                return _CONSTRUCTOR.construct_object(n, deep=True)
        if tag.endswith(":str"):
            return n.value
        if tag == TOO_DEEP_TAG:
            errors.append(PolicyError(f"nested deeper than {DEFAULT_LIMITS.nesting} levels", str(path), line, col))
            return None
        try:  # a 5,000-digit integer, 2021-02-30 or an unknown tag is an error at its place, not an exception
            return _CONSTRUCTOR.construct_object(n, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError, TypeError) as exc:
            errors.append(PolicyError(f"cannot read the value {n.value[:40]!r} ({str(exc).splitlines()[0]})",
                                      str(path), line, col))
            return n.value

    return convert(node, ()), positions




def _block_lines(lines: list[str], indicator_line: int) -> tuple[tuple[int, int, int], ...]:
    """Where each content line of a block scalar starts, as an offset into the (folded or literal) value."""
    out = []
    offset = 0
    indent = None
    for i in range(indicator_line, len(lines)):  # lines[indicator_line] is the first content line
        raw = lines[i]
        if not raw.strip():
            offset += 1
            continue
        this = len(raw) - len(raw.lstrip(" "))
        if indent is None:
            indent = this
        if this < indent:
            break
        out.append((offset, i + 1, indent))
        offset += len(raw) - indent + 1  # the line, then one separator (a space when folded, else a newline)
    return tuple(out)


def _locate(positions: dict[tuple[Any, ...], Pos], path: tuple[Any, ...], offset: int | None = None,
            text: str = "") -> tuple[int, int]:
    """The file line and column of a scalar at ``path``, or of ``offset`` characters into it."""
    p = path
    while p not in positions and p:
        p = p[:-1]
    if p not in positions:
        return 0, 0
    line, col, style, starts = positions[p]
    if offset is None or p != path:
        return line, col
    if style in ("|", ">"):
        found = (line + 1, 0, 0)
        for start in starts:  # (offset in the value, file line, indent) of each content line
            if start[0] <= offset:
                found = start
        return found[1], found[2] + 1 + offset - found[0]
    quote = 1 if style in ("'", '"') else 0
    return line, col + quote + offset


# ---------------------------------------------------------------------------------------------- compile


def shipped_packs_dir() -> Path:
    """The packs that ship with the product: inside the installed package, or the repository's policy_rules/."""
    inside = Path(str(resources.files("engine"))) / "policy_rules"
    if inside.is_dir():
        return inside
    return Path(__file__).resolve().parents[3] / "policy_rules"


def load_packs(extra_dirs: list[Path] | None = None, include_shipped: bool = True) -> tuple[list[Pack], list[PolicyError]]:
    """Load the shipped packs and those in ``extra_dirs`` (a pack folder, or a folder of packs).

    A pack in ``extra_dirs`` replaces a shipped pack with the same id. Rule ids must be unique across packs.
    """
    dirs: list[Path] = []
    if include_shipped:
        dirs.extend(_pack_dirs(shipped_packs_dir()))
    for d in extra_dirs or []:
        found = _pack_dirs(Path(d))
        if not found:
            return [], [PolicyError(f"no rule pack (pack.yaml) found in {d}", str(d))]
        dirs.extend(found)
    packs: dict[str, Pack] = {}
    errors: list[PolicyError] = []
    for d in dirs:
        pack, errs = load_pack(d)
        errors.extend(errs)
        if pack is not None:
            packs[pack.id] = pack
    seen: dict[str, str] = {}
    for pack in packs.values():
        for rule in pack.rules:
            if rule.id in seen:
                errors.append(PolicyError(f"rule id {rule.id!r} is already defined in {seen[rule.id]}", rule.file, 1, 1))
            seen.setdefault(rule.id, rule.file)
    return sorted(packs.values(), key=lambda p: p.id), errors


def _pack_dirs(d: Path) -> list[Path]:
    if (d / "pack.yaml").is_file():
        return [d]
    if d.is_dir():
        return sorted(p for p in d.iterdir() if (p / "pack.yaml").is_file())
    return []


def _digest(d: Path, files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in sorted(files):
        if not f.is_file():  # a FIFO or device is reported by the loader, never read
            continue
        h.update(str(f.relative_to(d) if f.is_relative_to(d) else f).encode())
        h.update(b"\0")
        h.update(f.read_bytes())
        h.update(b"\0")
    return "sha256:" + h.hexdigest()


def _model_errors(exc: ValidationError, model: type[BaseModel], file: str, positions: dict[tuple[Any, ...], Pos],
                  data: Any) -> list[PolicyError]:
    out = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        suggestion = None
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            known = _fields_at(model, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            suggestion = close[0] if close else None
            msg = f"unknown key {loc[-1]!r}"
            line, col = _locate(positions, loc + ("<key>",))
        else:
            line, col = _locate(positions, loc)
        where = ".".join(str(x) for x in loc)
        out.append(PolicyError(f"{where}: {msg}", file, line, col, suggestion))
    return out


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        info = current.model_fields.get(part) if hasattr(current, "model_fields") else None
        if info is None:
            return []
        current = _inner_model(info.annotation)
    if current is None or not hasattr(current, "model_fields"):
        return []
    return [info.alias or name for name, info in current.model_fields.items()]


def _inner_model(annotation: Any) -> Any:
    args = getattr(annotation, "__args__", None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for a in args or ():
        found = _inner_model(a)
        if found is not None:
            return found
    return None


def quote_in_source(quote: str, source: str) -> bool:
    """Whether a quote is found in the source once all white space is removed from both."""
    squash = re.compile(r"\s+")
    return squash.sub("", quote) in squash.sub("", source)


def load_pack(d: Path) -> tuple[Pack | None, list[PolicyError]]:
    """Load and compile one pack folder; every problem is returned as a PolicyError."""
    errors: list[PolicyError] = []
    pack_file = d / "pack.yaml"
    data, positions = _load_yaml(pack_file, errors)
    if data is None:
        return None, errors or [PolicyError("empty pack.yaml", str(pack_file))]
    try:
        pm = PackModel.model_validate(data)
    except ValidationError as exc:
        return None, errors + _model_errors(exc, PackModel, str(pack_file), positions, data)
    source_path = d / pm.document.source
    try:
        check_file_size(source_path, DEFAULT_LIMITS)
        source = source_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, FatalError) as exc:
        errors.append(PolicyError(f"document.source: cannot read {source_path.name}: {exc}", str(pack_file),
                                  *_locate(positions, ("document", "source"))))
        source = ""
    doc = pm.document
    cite = lambda c: Citation(doc.number, doc.title, doc.issuer, doc.issued_on.isoformat(), c.clause, c.quote)  # noqa: E731
    params: dict[str, Parameter] = {}
    for name, p in pm.parameters.items():
        values = []
        for i, v in enumerate(p.values):
            value, problem = _param_value(v.value, p.type)
            if problem:
                errors.append(PolicyError(f"parameters.{name}.values.{i}.value: {problem}", str(pack_file),
                                          *_locate(positions, ("parameters", name, "values", i, "value"))))
            values.append((v.from_, value))
        if source and not quote_in_source(p.citation.quote, source):
            errors.append(PolicyError(f"parameters.{name}.citation.quote is not found in {doc.source}", str(pack_file),
                                      *_locate(positions, ("parameters", name, "citation", "quote"))))
        rng = None
        if p.range is not None:
            rng = ParamRange(p.range.min, p.range.max, cite(p.range.citation) if p.range.citation else None)
            if p.range.citation and source and not quote_in_source(p.range.citation.quote, source):
                errors.append(PolicyError(f"parameters.{name}.range.citation.quote is not found in {doc.source}",
                                          str(pack_file), *_locate(positions, ("parameters", name, "range", "citation",
                                                                               "quote"))))
            for i, (_, value) in enumerate(values):
                if isinstance(value, Decimal) and not rng.contains(value):
                    errors.append(PolicyError(f"parameters.{name}.values.{i}.value: {value} is outside its range",
                                              str(pack_file),
                                              *_locate(positions, ("parameters", name, "values", i, "value"))))
        params[name] = Parameter(name, p.description, p.type, p.unit, tuple(sorted(values, key=lambda x: x[0])),
                                 cite(p.citation), rng)
    pack = Pack(pm.id, d, doc.number, doc.title, doc.issuer, doc.issued_on, doc.jurisdiction,
                tuple(doc.region_prefixes), source, params, [], "", pm.notes)
    rule_files = sorted((d / "rules").glob("*.yaml"))
    errors.extend(_unread_pack_files(d))
    if not rule_files and not errors:  # nothing would ever be decided, and nothing would say why
        errors.append(PolicyError("the pack has no rules: a pack's rules are the files rules/*.yaml", str(d)))
    for rf in rule_files:
        rule, errs = _compile_rule(rf, pack)
        errors.extend(errs)
        if rule is not None:
            pack.rules.append(rule)
    pack.rules.sort(key=lambda r: r.id)
    pack.test_files = sorted((d / "tests").glob("*.yaml"))
    pack.digest = _digest(d, [pack_file, *( [source_path] if source_path.is_file() else []), *rule_files])
    return pack, errors


def _unread_pack_files(d: Path) -> list[PolicyError]:
    """Files where rules or cases belong that the loader would skip in silence: rules/r0.yml, rules/R0.YAML,
    rules/sub/…, and a folder named like rules/ or tests/ (rule/, Rules/) holding YAML files."""
    def yaml_like(f: Path) -> bool:  # r0.yml, r0.YAML, r0.yaml.txt; a folder holding such files (not a README)
        return bool(re.search(r"\.ya?ml", f.name, re.IGNORECASE)) if f.is_file() else \
            f.is_dir() and any(yaml_like(x) for x in f.iterdir() if x.is_file())

    out = []
    for sub in ("rules", "tests"):
        for f in sorted((d / sub).iterdir()) if (d / sub).is_dir() else []:
            if f.name.startswith(".") or (f.suffix == ".yaml" and f.is_file()) or not yaml_like(f):
                continue
            right = f.with_suffix(".yaml").name if f.is_file() and f.suffix.lower() in (".yml", ".yaml") else None
            out.append(PolicyError(f"{sub}/{f.name} is not read: only the {sub}/*.yaml files directly in {sub}/ are",
                                   str(f), 0, 0, right))
    for f in sorted(d.iterdir()):
        close = difflib.get_close_matches(f.name.lower(), ["rules", "tests"], n=1, cutoff=0.6)
        if f.is_dir() and f.name not in ("rules", "tests") and close and yaml_like(f):
            out.append(PolicyError(f"folder {f.name}/ is not read: rules are read from rules/*.yaml, test cases from "
                                   "tests/*.yaml", str(f), 0, 0, close[0]))
    return out


def _param_value(value: Any, typ: str) -> tuple[Any, str | None]:
    if value is None:
        return None, None
    if typ == "number":
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            return None, f"expected a number, found {value!r}"
        return Decimal(value), None
    if typ == "bool":
        return (value, None) if isinstance(value, bool) else (None, f"expected true or false, found {value!r}")
    if typ == "date":
        return (value, None) if isinstance(value, dt.date) else (None, f"expected a date, found {value!r}")
    return str(value), None


_PARAM_TYPES = {"number": NUMBER, "str": STR, "bool": BOOL, "date": DATE}


class _RuleCompiler:
    def __init__(self, file: Path, pack: Pack, positions: dict[tuple[Any, ...], Pos]):
        self.file = file
        self.pack = pack
        self.positions = positions
        self.errors: list[PolicyError] = []
        self.env = TypeEnv({"as_of": DATE}, {n: _PARAM_TYPES[p.type] for n, p in pack.parameters.items()})

    def where(self, path: tuple[Any, ...]) -> str:
        line, col = _locate(self.positions, path)
        return f"{self.file}:{line}:{col}"

    def _report(self, e: ExprError, path: tuple[Any, ...], text: str) -> None:
        line, col = _locate(self.positions, path, e.pos, text)
        self.errors.append(PolicyError(e.message, str(self.file), line, col, e.suggestion))

    def expr(self, text: str, path: tuple[Any, ...], want: Type | None = None, env: TypeEnv | None = None) -> Expr | None:
        try:
            node = parse(text)
        except ExprSyntaxError as exc:
            self._report(exc.error, path, text)
            return None
        errs: list[ExprError] = []
        typ = check(node, env or self.env, errs)
        for e in errs:
            self._report(e, path, text)
        if not errs and want is not None and typ != want:
            self._report(ExprError(0, f"expected a {want} expression, found {typ}"), path, text)
            return None
        return None if errs else Expr(text, node, typ, self.where(path))

    def template(self, text: str | None, path: tuple[Any, ...]) -> Tpl | None:
        if text is None:
            return None
        try:
            tpl = parse_template(text)
        except ExprSyntaxError as exc:
            self._report(exc.error, path, text)
            return None
        ok = True
        for part in tpl.parts:
            if not isinstance(part, str):
                errs: list[ExprError] = []
                check(part[0], self.env, errs)
                for e in errs:
                    self._report(e, path, text)
                ok = ok and not errs
        return Tpl(tpl, self.where(path)) if ok else None


def _compile_rule(file: Path, pack: Pack) -> tuple[Rule | None, list[PolicyError]]:
    errors: list[PolicyError] = []
    data, positions = _load_yaml(file, errors)
    if data is None:
        return None, errors or [PolicyError("empty rule file", str(file))]
    try:
        rm = RuleModel.model_validate(data)
    except ValidationError as exc:
        return None, errors + _model_errors(exc, RuleModel, str(file), positions, data)
    c = _RuleCompiler(file, pack, positions)
    c.errors.extend(errors)  # what the YAML loader found (duplicate keys) keeps the rule from loading too
    if rm.subject not in RECORD_TYPES:
        close = difflib.get_close_matches(rm.subject, RECORD_TYPES, n=1)
        c.errors.append(PolicyError(f"unknown subject record type {rm.subject!r}", str(file),
                                    *_locate(positions, ("subject",)), close[0] if close else None))
        return None, c.errors
    if not rm.id.startswith(pack.id.split("-")[0] + "."):
        c.errors.append(PolicyError(f"rule id {rm.id!r} should start with {pack.id.split('-')[0]!r}.", str(file),
                                    *_locate(positions, ("id",))))
    for key, cit in [(("citation",), rm.citation)] + [(("see_also", i), s) for i, s in enumerate(rm.see_also)]:
        if pack.source_text and not quote_in_source(cit.quote, pack.source_text):
            c.errors.append(PolicyError(f"{'.'.join(map(str, key))}.quote is not found verbatim in the source text",
                                        str(file), *_locate(positions, key + ("quote",))))
    c.env.names["subject"] = record_t(rm.subject)
    lookups = []
    for name, lk in rm.lookups.items():
        if lk.record_type not in RECORD_TYPES:
            close = difflib.get_close_matches(lk.record_type, RECORD_TYPES, n=1)
            c.errors.append(PolicyError(f"unknown record type {lk.record_type!r}", str(file),
                                        *_locate(positions, ("lookups", name, "record_type")), close[0] if close else None))
            continue
        kinds = field_kinds(lk.record_type)
        if lk.by not in kinds:
            close = difflib.get_close_matches(lk.by, list(kinds), n=1)
            c.errors.append(PolicyError(f"unknown field {lk.by!r} of {lk.record_type}", str(file),
                                        *_locate(positions, ("lookups", name, "by")), close[0] if close else None))
            continue
        key = c.expr(lk.key, ("lookups", name, "key"), Type(kinds[lk.by].value_type))
        c.env.names[name] = list_t(record_t(lk.record_type)) if lk.many else record_t(lk.record_type)
        if key is not None:
            lookups.append(Lookup(name, lk.record_type, lk.by, key, lk.many))
    region = c.expr(rm.scope.region, ("scope", "region"), STR)
    date = c.expr(rm.scope.date, ("scope", "date"), DATE)
    conds = []
    for i, cond in enumerate(rm.applies_if):
        test = c.expr(cond.test, ("applies_if", i, "test"), BOOL)
        reason = c.template(cond.reason, ("applies_if", i, "reason"))
        if test and reason:
            conds.append(Condition(test, reason))
    criteria = []
    ids: set[str] = set()
    for i, cr in enumerate(rm.criteria):
        if cr.id in ids:
            c.errors.append(PolicyError(f"duplicate criterion id {cr.id!r}", str(file), *_locate(positions, ("criteria", i, "id"))))
        ids.add(cr.id)
        test = c.expr(cr.test, ("criteria", i, "test"), BOOL)
        variants = [ReasonVariantModel(text=cr.fail)] if isinstance(cr.fail, str) else cr.fail
        fails = []
        for j, v in enumerate(variants):
            base = ("criteria", i, "fail") if isinstance(cr.fail, str) else ("criteria", i, "fail", j)
            when = c.expr(v.when, base + ("when",), BOOL) if v.when else None
            text = c.template(v.text, base if isinstance(cr.fail, str) else base + ("text",))
            if text is not None:
                fails.append((when, text))
        if fails and fails[-1][0] is not None:
            c.errors.append(PolicyError(f"criteria.{i}.fail: the last reason variant must have no 'when' (the default)",
                                        str(file), *_locate(positions, ("criteria", i, "fail"))))
        if test is not None and fails:
            criteria.append(Criterion(cr.id, cr.label, test, tuple(fails), c.template(cr.pass_, ("criteria", i, "pass")),
                                      c.template(cr.gap, ("criteria", i, "gap"))))
    amounts = {k: (c.expr(getattr(rm, k), (k,), NUMBER) if getattr(rm, k) else None) for k in AMOUNT_KEYS}
    rollup = None
    if rm.rollup:
        key = c.expr(rm.rollup.key, ("rollup", "key"), STR)
        period = c.expr(rm.rollup.period, ("rollup", "period"), NUMBER) if rm.rollup.period else None
        if key is not None:
            rollup = Rollup(rm.rollup.name, rm.rollup.group, key, period)
    positive_reason = c.template(rm.positive_reason, ("positive_reason",))
    if c.errors or region is None or date is None:
        return None, c.errors
    rule = Rule(
        rm.id, rm.title, rm.effect, rm.subject, pack.citation(rm.citation.clause, rm.citation.quote),
        tuple(pack.citation(s.clause, s.quote) for s in rm.see_also), region, rm.scope.region_label, date,
        rm.scope.date_label, tuple(lookups), tuple(conds), tuple(criteria), positive_reason,
        *(amounts[k] for k in AMOUNT_KEYS), rm.amount_note, rollup, rm.notes,
        str(file),
    )
    return rule, c.errors


def possible_statuses(rule: Rule) -> set[str]:
    """The statuses a rule can give: both outcomes, not_applicable, and undetermined if any fact can be unknown."""
    out = {rule.positive, rule.negative, NOT_APPLICABLE}
    env = TypeEnv({"as_of": DATE, "subject": record_t(rule.subject)}, {})
    for lk in rule.lookups:
        env.names[lk.name] = list_t(record_t(lk.record_type)) if lk.many else record_t(lk.record_type)
    exprs = [rule.region, rule.date, *(c.test for c in rule.applies_if), *(c.test for c in rule.criteria)]
    exprs += list(rule.amounts.values())
    for e in exprs:
        for fact in fields_read(e.node, env):
            rtype, fld = fact.split(".")
            related = rtype != rule.subject or any(lk.record_type == rtype and not lk.many for lk in rule.lookups)
            if related or not field_kinds(rtype)[fld].required:
                out.add(UNDETERMINED)
    return out
