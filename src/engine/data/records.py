"""The eight record types of data-model.md, as pydantic v2 models, and their validation into a Dataset.

Every field carries a :class:`Kind` in its metadata (``money``, ``date``, ``bool`` …) so that the expression
type checker and other backends read the same schema as the validators. Raw rows (dicts of whatever a loader
read: strings from CSV, numbers from JSON, cells from XLSX) go through :func:`validate_rows`, which returns
the accepted records and every rejected one as a :class:`RecordError`; nothing is dropped silently.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Callable, ClassVar, Iterable

from pydantic import BaseModel, ConfigDict, PlainValidator, ValidationError, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from engine.errors import RecordError, RecordWarning
from engine.data.vocabulary import bool_for, enum_value_for
from engine.messages import Message, msg
from engine.data.vocabulary import enum_label, field_label, record_type_label

__all__ = [
    "Kind",
    "RECORD_MODELS",
    "RECORD_TYPES",
    "SHEET_ALIASES",
    "Dataset",
    "Rejected",
    "rejected_records",
    "Enterprise",
    "School",
    "Agreement",
    "InternshipPayment",
    "PracticeExpense",
    "Certificate",
    "LandApplication",
    "Graduate",
    "field_kinds",
    "uscc_check_char",
    "org_code_check_char",
    "validate_rows",
    "validate_record",
    "readable_fields",
    "record_fields",
    "rejected_rows",
    "to_decimal",
    "UnreadableRow",
    "ROW_PROBLEM",
    "MAX_CELL_CHARS",
    "half_width",
    "parse_date_text",
    "is_total_row",
    "total_word",
    "total_row_warning",
    "TOTAL_WORDS",
    "FOOTER_WORDS",
    "footer_word",
    "DATE_FORMS",
    "NUMBER_FORMS",
    "unknown_field_message",
    "dangling_message",
]

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
# GB/T 2260 province-level prefixes (the first two digits of every valid administrative division code).
PROVINCE_PREFIXES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82".split()
)
ROW_PROBLEM = "\x00problem"
"""A raw row's key for a problem its reader found (a formula without a value, a key given twice): a tuple
(field, value, message) that rejects the record with that message."""
MAX_CELL_CHARS = 1000
"""The longest cell read, in characters: a longer one rejects its record (a pasted document, not a value)."""
TRUE_WORDS = frozenset({"true", "1", "是", "yes", "y", "t"})
FALSE_WORDS = frozenset({"false", "0", "否", "no", "n", "f"})


@dataclass(frozen=True)
class Kind:
    """What a field holds, as the rest of the engine sees it.

    ``name`` is one of text, uscc, region_code, int, money, date, bool, enum; ``expected`` is the phrase an
    error message uses (a :class:`engine.messages.Message`); ``minimum`` / ``positive`` bound numbers; ``choices`` lists an enum's values.
    """

    name: str
    required: bool
    expected: str
    positive: bool = False
    minimum: int | None = None
    choices: tuple[str, ...] = ()

    @property
    def value_type(self) -> str:
        """The expression-language type of the field: number, str, date or bool."""
        return {"money": "number", "int": "number", "date": "date", "bool": "bool"}.get(self.name, "str")


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _fail(kind: Kind, detail: Message | None = None) -> PydanticCustomError:
    if detail is None:
        return _error(msg("record.expected", expected=kind.expected))
    return _error(msg("record.expected_detail", expected=kind.expected, detail=detail))


def _error(message: Message, error_type: str = "chanjiao") -> PydanticCustomError:
    """A pydantic error carrying the catalogue message (read back by validate_record)."""
    return PydanticCustomError(error_type, "{m}", {"m": message})


def _fail_forms(kind: Kind, forms: str) -> PydanticCustomError:
    """The error for a value in none of the accepted spellings, listing them (``forms`` is a catalogue key)."""
    return _error(msg("record.expected_forms", expected=kind.expected, forms=msg(forms)))


_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20, 0xFFE5: 0xA5}
_FULLWIDTH_ALNUM = {cp: cp - 0xFEE0 for lo, hi in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
                    for cp in range(lo, hi + 1)}


def half_width(text: str, alnum_only: bool = False) -> str:
    """Full-width forms as typed by a Chinese input method, in their ASCII form (``２２０５０２`` → ``220502``).

    ``alnum_only`` keeps full-width punctuation (free text such as a name keeps its （）) and converts only
    digits and Latin letters; otherwise every full-width ASCII form, the ideographic space and ``￥`` are converted.
    """
    return text.translate(_FULLWIDTH_ALNUM if alnum_only else _FULLWIDTH)


_PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_GROUPED_NUMBER = re.compile(r"[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?")
NUMBER_FORMS = str(msg("forms.money"))
"""The spellings of a number the readers accept, as the message ``forms.money`` lists them."""


def to_decimal(value: Any) -> Decimal:
    """Convert a number read from any format to an exact Decimal.

    Strings are parsed as written: full-width digits are read as digits, a leading ``¥``/``￥`` and a trailing
    ``元`` are dropped, and commas are thousands separators only where they group by three (``1,234.5``; ``1,50``,
    ``,100``, ``1234,56`` and ``1.234,5`` are ambiguous and refused). Binary floats (YAML numbers, XLSX cells)
    are read at 15 significant digits, the precision a spreadsheet shows, so a cell holding 69157.68 is 69157.68
    and not 69157.679999….
    """
    if isinstance(value, bool):
        raise InvalidOperation("a boolean is not a number")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidOperation("not a finite number")
        if value.is_zero():
            return Decimal(0).copy_sign(value)  # 0E+999999999 is zero: its exponent is dropped
        if abs(value.adjusted()) > 1000:  # 1E+999999999: no arithmetic on it (it would overflow); beyond every bound
            return Decimal(f"1E{'+' if value.adjusted() > 0 else '-'}1000").copy_sign(value)
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidOperation("not a finite number")
        return Decimal(format(value, ".15g"))
    if isinstance(value, str):
        text = half_width(value).strip()
        if text[:1] == "\u00a5":
            text = text[1:].strip()
        if text[-1:] == "元":
            text = text[:-1].strip()
        if _GROUPED_NUMBER.fullmatch(text):
            text = text.replace(",", "")
        if not _PLAIN_NUMBER.fullmatch(text):
            raise InvalidOperation(f"not a number: {value!r}")
        return Decimal(text)
    raise InvalidOperation(f"not a number: {value!r}")


def _validator(kind: Kind) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
            raise _error(msg("record.too_long", max=MAX_CELL_CHARS, n=len(value), expected=kind.expected))
        if _is_empty(value):
            if kind.required:
                raise _error(msg("record.required", expected=kind.expected))
            return None
        return _CONVERT[kind.name](value, kind)

    return validate


_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(value: Any, kind: Kind) -> str:
    if isinstance(value, bool):
        raise _fail(kind)
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # an XLSX cell holding a numeric code
    if isinstance(value, (int, Decimal)):
        value = str(value)
    if not isinstance(value, str):
        raise _fail(kind)
    if _SURROGATE.search(value):  # from a JSON/YAML escape such as \ud800: no UTF-8 encoding exists
        raise _fail(kind, msg("detail.surrogate"))
    return half_width(value, alnum_only=True).strip()


def _uscc(value: Any, kind: Kind) -> str:
    text = _text(value, kind)
    if len(text) != 18:
        raise _fail(kind, msg("detail.uscc_length", n=len(text)))
    bad = [c for c in text if c not in USCC_CHARSET]
    if bad and text.upper() != text and all(c in USCC_CHARSET for c in text.upper()):
        raise _fail(kind, msg("detail.uscc_lowercase", upper=text.upper()))
    if bad:
        raise _fail(kind, msg("detail.uscc_char", char=bad[0]))
    check = uscc_check_char(text[:17])
    if text[17] != check:
        raise _fail(kind, msg("detail.uscc_check", got=text[17], want=check))
    return text


def _region(value: Any, kind: Kind) -> str:
    text = _text(value, kind)
    if not re.fullmatch(r"[0-9]{6}", text):
        raise _fail(kind, msg("detail.six_digits"))
    if text[:2] not in PROVINCE_PREFIXES:
        raise _fail(kind, msg("detail.province", prefix=text[:2]))
    return text


MAX_YUAN = 10**16
"""Money is below 10¹⁶ yuan (some 75 times China's GDP): a larger figure is a data-entry error, and every amount
then fits a 64-bit integer of fen, as the vectorised engine keeps it."""
MAX_WHOLE = 10**17
"""Whole numbers (counts, years) have at most 17 digits, for the same reason."""


def _int(value: Any, kind: Kind) -> int:
    try:
        number = to_decimal(value)
    except InvalidOperation:
        raise _fail(kind) from None
    if number != number.to_integral_value():
        raise _fail(kind, msg("detail.not_whole"))
    if kind.minimum is not None and number < kind.minimum:
        raise _fail(kind)
    if abs(number) >= MAX_WHOLE:
        raise _fail(kind, msg("detail.over_17_digits"))
    return int(number)


def _money(value: Any, kind: Kind) -> Decimal:
    try:
        number = to_decimal(value)
    except InvalidOperation:
        raise _fail_forms(kind, "forms.money") from None
    if number.is_signed() and number != 0:
        raise _fail(kind, msg("detail.negative"))
    if kind.positive and number == 0:
        raise _fail(kind, msg("detail.zero"))
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise _fail(kind, msg("detail.decimals"))
    if number >= MAX_YUAN:
        raise _fail(kind, msg("detail.over_16_digits"))
    return number.copy_abs().quantize(Decimal("0.01"))  # -0 is 0: no sign survives into a reason or an amount


_DATE_FORMS = (re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"), re.compile(r"([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})"),
               re.compile(r"([0-9]{4})\.([0-9]{1,2})\.([0-9]{1,2})"),
               re.compile(r"([0-9]{4})\s*年\s*([0-9]{1,2})\s*月\s*([0-9]{1,2})\s*日"))
DATE_FORMS = "2021-03-05、2021-3-5、2021/3/5、2021.3.5、2021年3月5日"
"""The spellings of a date the readers accept (year first: 3/5/2021 is ambiguous and refused; the message
``forms.date`` lists them)."""


_MIDNIGHT = re.compile(r"(?<=[0-9日])\s+0?0:00(:00)?$")


def parse_date_text(text: str) -> dt.date | None:
    """A date written year first in one of :data:`DATE_FORMS`; None when it is not one of them.

    A trailing midnight (``2021/3/5 0:00``, ``2021-03-05 00:00:00``, as a spreadsheet exports a date cell) is
    the same day; any other time is not a date. Raises ValueError for a well-formed date that does not exist
    (2021-02-30).
    """
    text = _MIDNIGHT.sub("", half_width(text).strip())
    for form in _DATE_FORMS:
        m = form.fullmatch(text)
        if m:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
    return None


def _date(value: Any, kind: Kind) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            day = parse_date_text(value)
        except ValueError:
            raise _fail(kind, msg("detail.no_such_date")) from None
        if day is not None:
            return day
        raise _fail_forms(kind, "forms.date")
    raise _fail(kind)


def _bool(value: Any, kind: Kind) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = half_width(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        found = bool_for(word)  # √, ×, ✓ … from the field vocabulary
        if found is not None:
            return found
    raise _fail(kind)


def _enum(value: Any, kind: Kind) -> str:
    text = _text(value, kind)
    if text in kind.choices:
        return text
    where = _ENUM_FIELDS.get(kind.choices)
    found = enum_value_for(where[0], where[1], text) if where else None  # 中职 → secondary_vocational
    if found is None:
        raise _fail(kind)
    return found


_CONVERT: dict[str, Callable[[Any, Kind], Any]] = {
    "text": _text,
    "uscc": _uscc,
    "region_code": _region,
    "int": _int,
    "money": _money,
    "date": _date,
    "bool": _bool,
    "enum": _enum,
}

_JSON_SCHEMA: dict[str, dict[str, Any]] = {
    "text": {"type": "string"},
    "uscc": {"type": "string", "pattern": "^[0-9A-HJ-NP-RTUW-Y]{18}$"},
    "region_code": {"type": "string", "pattern": "^[0-9]{6}$"},
    "int": {"type": "integer", "minimum": -(10**17) + 1, "maximum": 10**17 - 1},
    "money": {"type": "string", "pattern": r"^[0-9]{1,16}(\.[0-9]{1,2})?$"},
    "date": {"type": "string", "format": "date"},
    "bool": {"type": "boolean"},
    "enum": {"type": "string"},
}


def _field(name: str, required: bool, expected: Message, py: Any, **extra: Any) -> Any:
    kind = Kind(name, required, expected, **extra)
    schema = dict(_JSON_SCHEMA[name])
    if kind.choices:
        schema["enum"] = list(kind.choices)
    if kind.minimum is not None:
        schema["minimum"] = kind.minimum
    if not required:
        schema = {"anyOf": [schema, {"type": "null"}]}
    return Annotated[py if required else py | None, kind, PlainValidator(_validator(kind)), WithJsonSchema(schema)]


def _one_of(record_type: str, field_name: str, choices: tuple[str, ...]) -> Message:
    """What an enum field expects, with each value's Chinese label (secondary_vocational（中职）)."""
    zh = "、".join(f"{c}（{enum_label(record_type, field_name, c)}）" for c in choices)
    return msg("expect.one_of", choices=", ".join(choices), choices_zh=zh)


_SCHOOL_TYPES = ("secondary_vocational", "technical", "higher_vocational")
_EXPENSE_KINDS = ("student_internship", "teacher_practice")
Text = _field("text", True, msg("expect.text"), str)
OptText = _field("text", False, msg("expect.text"), str)
Uscc = _field("uscc", True, msg("expect.uscc"), str)
RegionCode = _field("region_code", True, msg("expect.region_code"), str)
OptRegionCode = _field("region_code", False, msg("expect.region_code"), str)
OptYear = _field("int", False, msg("expect.year"), int)
OptCount = _field("int", False, msg("expect.count"), int, minimum=0)
OptMoney = _field("money", False, msg("expect.money"), Decimal)
PositiveMoney = _field("money", True, msg("expect.money_positive"), Decimal, positive=True)
Date = _field("date", True, msg("expect.date"), dt.date)
OptDate = _field("date", False, msg("expect.date"), dt.date)
OptBool = _field("bool", False, msg("expect.bool"), bool)
SchoolType = _field("enum", True, _one_of("schools", "school_type", _SCHOOL_TYPES), str, choices=_SCHOOL_TYPES)
ExpenseKind = _field("enum", True, _one_of("practice_expenses", "kind", _EXPENSE_KINDS), str, choices=_EXPENSE_KINDS)


class RecordModel(BaseModel):
    """Base of the record models: frozen, unknown fields ignored (the loader warns about them)."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    record_type: ClassVar[str]
    label: ClassVar[str]


class Enterprise(RecordModel):
    """企业: an enterprise, identified by its 统一社会信用代码."""

    record_type: ClassVar[str] = "enterprises"
    label: ClassVar[str] = record_type_label("enterprises")
    id: Uscc
    name: Text
    region_code: RegionCode
    fiscal_year: OptYear = None
    total_wages: OptMoney = None
    education_fund: OptMoney = None
    frontline_training_spend: OptMoney = None
    is_key_enterprise: OptBool = None
    credit_blacklisted: OptBool = None
    outstanding_cooperation_results: OptBool = None
    values_employee_training: OptBool = None
    leading_role: OptBool = None
    strong_overall_strength: OptBool = None


class School(RecordModel):
    """职业院校: a vocational school."""

    record_type: ClassVar[str] = "schools"
    label: ClassVar[str] = record_type_label("schools")
    id: Text
    name: Text
    region_code: RegionCode
    school_type: SchoolType
    is_municipal: OptBool = None
    enrolled_students: OptCount = None
    demonstration_project: OptBool = None
    training_fee_income: OptMoney = None
    training_cost: OptMoney = None
    fee_income_in_school_accounts: OptBool = None


class Agreement(RecordModel):
    """校企合作协议: an agreement between an enterprise and a school; valid_from defaults to signed_on."""

    record_type: ClassVar[str] = "agreements"
    label: ClassVar[str] = record_type_label("agreements")
    id: Text
    enterprise_id: Uscc
    school_id: Text
    signed_on: Date
    valid_from: OptDate = None
    valid_to: OptDate = None

    @model_validator(mode="after")
    def _validity(self) -> "Agreement":
        if self.valid_from is None:
            object.__setattr__(self, "valid_from", self.signed_on)
        if self.valid_to is not None and self.valid_from is not None and self.valid_to < self.valid_from:
            raise _error(msg("record.valid_to", valid_from=self.valid_from.isoformat()), "chanjiao_valid_to")
        return self


class InternshipPayment(RecordModel):
    """学生实习报酬: intern pay from an enterprise to a school's student."""

    record_type: ClassVar[str] = "internship_payments"
    label: ClassVar[str] = record_type_label("internship_payments")
    id: Text
    enterprise_id: Uscc
    school_id: Text
    student_id: Text
    amount: PositiveMoney
    paid_on: Date


class PracticeExpense(RecordModel):
    """与学生实习、教师实践活动相关的费用."""

    record_type: ClassVar[str] = "practice_expenses"
    label: ClassVar[str] = record_type_label("practice_expenses")
    id: Text
    enterprise_id: Uscc
    school_id: OptText = None
    kind: ExpenseKind
    amount: PositiveMoney
    incurred_on: Date
    reasonable: OptBool = None


class Certificate(RecordModel):
    """企业职工职业资格证书."""

    record_type: ClassVar[str] = "certificates"
    label: ClassVar[str] = record_type_label("certificates")
    id: Text
    employee_id: Text
    enterprise_id: Uscc
    insured: OptBool = None
    obtained_on: Date
    title: OptText = None


class LandApplication(RecordModel):
    """职业学校建设用地."""

    record_type: ClassVar[str] = "land_applications"
    label: ClassVar[str] = record_type_label("land_applications")
    id: Text
    enterprise_id: Uscc
    region_code: RegionCode
    builds_vocational_school: OptBool = None
    in_allocation_catalogue: OptBool = None


class Graduate(RecordModel):
    """职业院校毕业生就业."""

    record_type: ClassVar[str] = "graduates"
    label: ClassVar[str] = record_type_label("graduates")
    id: Text
    school_id: Text
    employer_region_code: OptRegionCode = None
    employed_from: OptDate = None
    employed_to: OptDate = None


RECORD_MODELS: dict[str, type[RecordModel]] = {
    m.record_type: m
    for m in (Enterprise, School, Agreement, InternshipPayment, PracticeExpense, Certificate, LandApplication, Graduate)
}
RECORD_TYPES: tuple[str, ...] = tuple(RECORD_MODELS)
SHEET_ALIASES: dict[str, str] = {m.label: name for name, m in RECORD_MODELS.items()}
_ENUM_FIELDS: dict[tuple[str, ...], tuple[str, str]] = {
    kind.choices: (rtype, name)
    for rtype, model in RECORD_MODELS.items() for name, info in model.model_fields.items()
    for kind in info.metadata if isinstance(kind, Kind) and kind.choices
}
TOTAL_WORDS = frozenset({"合计", "小计", "总计", "共计", "总合计", "合計", "小計", "總計", "共計"})
"""A row whose id is empty (or one of these words) and one of whose cells says one of them is a subtotal or total
row of a spreadsheet: it is skipped with a warning naming it, never read as a record."""


def total_word(value: Any) -> str | None:
    """The total word a cell says (``合 计：`` → ``合计``), or None."""
    if not isinstance(value, str) or len(value) > 12:
        return None
    word = "".join(value.split()).rstrip(":：")
    return word if word in TOTAL_WORDS else None


FOOTER_WORDS = ("制表人", "填表人", "填报人", "审核人", "复核人", "负责人", "单位负责人", "财务负责人", "经办人",
                "联系人", "联系电话", "填报日期", "制表日期", "填表日期", "报送日期", "注：", "注:", "说明：", "说明:")
"""The words a form's footer lines start with (signatures, dates, notes): a row whose every filled cell starts with
one of them, and whose id is empty or one of them, is skipped with a warning naming it."""


def footer_word(value: Any) -> str | None:
    """The footer word a cell starts with (``制表人：张三`` → ``制表人``), or None."""
    if not isinstance(value, str):
        return None
    text = "".join(value.split())
    return next((w for w in FOOTER_WORDS if text.startswith(w)), None)


def is_total_row(row: dict[str, Any]) -> str | None:
    """The word of a subtotal or total row (its id empty or that word, some cell a total word) or of a footer row
    (its id empty or a footer, every filled cell a footer: 制表人：…, 填报日期：…), or None."""
    rid = row.get("id")
    if not _is_empty(rid) and total_word(rid) is None and footer_word(rid) is None:
        return None
    filled = [v for v in row.values() if not _is_empty(v)]
    for value in filled:
        word = total_word(value)
        if word is not None:
            return word
    words = [footer_word(v) for v in filled]
    if words and all(words):
        return words[0]
    return None


def total_row_warning(record_type: str, row_no: int, word: str) -> RecordWarning:
    """The warning for a skipped subtotal, total or footer row (the same from every reader and engine)."""
    key = "record.total_row" if word in TOTAL_WORDS else "record.footer_row"
    return RecordWarning(msg(key, row=row_no, word=word), record_type, row_no)

# References checked for dangling ids: (record type, field) -> referenced record type.
REFERENCES: dict[tuple[str, str], str] = {
    ("agreements", "enterprise_id"): "enterprises",
    ("agreements", "school_id"): "schools",
    ("internship_payments", "enterprise_id"): "enterprises",
    ("internship_payments", "school_id"): "schools",
    ("practice_expenses", "enterprise_id"): "enterprises",
    ("practice_expenses", "school_id"): "schools",
    ("certificates", "enterprise_id"): "enterprises",
    ("land_applications", "enterprise_id"): "enterprises",
    ("graduates", "school_id"): "schools",
}


def field_kinds(record_type: str) -> dict[str, Kind]:
    """The fields of a record type and their kinds, in declaration order."""
    model = RECORD_MODELS[record_type]
    out: dict[str, Kind] = {}
    for name, info in model.model_fields.items():
        for meta in info.metadata:
            if isinstance(meta, Kind):
                out[name] = meta
    return out


def uscc_check_char(first17: str) -> str:
    """The 18th character of a 统一社会信用代码 for its first 17 characters (GB 32100-2015)."""
    total = sum(USCC_CHARSET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def org_code_check_char(body8: str) -> str | None:
    """The check character of an 组织机构代码 body (GB 11714), or None when the body is not alphanumeric."""
    values = []
    for c in body8:
        if c.isdigit():
            values.append(int(c))
        elif "A" <= c <= "Z":
            values.append(ord(c) - ord("A") + 10)
        else:
            return None
    check = 11 - sum(v * w for v, w in zip(values, ORG_WEIGHTS, strict=True)) % 11
    return {10: "X", 11: "0"}.get(check, str(check))


@dataclass(frozen=True)
class Rejected:
    """A rejected record as the rules see it: unknown, not absent. ``fields`` are the fields that could still be
    read (name → validated value); every other field is unknown. ``id`` is None when the id is unreadable."""

    record_type: str
    row: int
    fields: tuple[tuple[str, Any], ...]
    place: str | None = None
    """Where the user finds it (``实习报酬!E2``, ``企业.csv:7``), when known. ``row`` is 0 for a row that is no record
    of its type's numbering (a CSV row whose cells do not match the header, a second source of the type)."""

    @property
    def id(self) -> Any:
        """The record's id where readable, else None."""
        return dict(self.fields).get("id")

    def readable(self, name: str) -> bool:
        """Whether the field could be read (an empty optional field is readable: it is known to be empty)."""
        return any(n == name for n, _ in self.fields)

    def value(self, name: str) -> Any:
        """A readable field's value (None when it is empty)."""
        return dict(self.fields).get(name)

    def as_dict(self) -> dict[str, Any]:
        """The form a decision's ``rejected_inputs`` lists: record type, 1-based row, id (null when unreadable), and
        the place where known."""
        out = {"record_type": self.record_type, "row": self.row, "id": self.id}
        if self.place is not None:
            out["place"] = self.place
        return out


def rejected_records(errors: Iterable[Any]) -> list["Rejected"]:
    """The rejected records behind record errors, one per (type, row), in record-type then row (then place) order.

    Every error about a record (or rows) of a record type counts, with the fields it could still read: a row that
    failed validation, a discarded duplicate id, a row or source that was not read at all (nothing readable, row 0).
    An error with ``readable`` None is about no record (an unknown sheet, say).
    """
    seen: dict[tuple[str, int, str | None], Rejected] = {}
    for e in errors:
        if not isinstance(e, RecordError) or e.readable is None or e.record_type not in RECORD_MODELS:
            continue
        row = e.row or 0
        key = (e.record_type, row, e.place if not row else None)
        if key not in seen:
            seen[key] = Rejected(e.record_type, row, e.readable, e.place)
    order = {t: i for i, t in enumerate(RECORD_TYPES)}
    return sorted(seen.values(), key=lambda r: (order.get(r.record_type, len(order)), r.row, r.place or ""))


@dataclass
class Dataset:
    """The accepted records of one submission, with every rejected record and warning.

    ``records[type]`` keeps the input order; ``rows[(type, id)]`` is the record's 1-based row.
    """

    records: dict[str, list[RecordModel]] = field(default_factory=lambda: {t: [] for t in RECORD_TYPES})
    rows: dict[tuple[str, str], int] = field(default_factory=dict)
    errors: list[RecordError] = field(default_factory=list)
    warnings: list[RecordWarning] = field(default_factory=list)
    _index: dict[tuple[str, str], dict[Any, list[RecordModel]]] = field(default_factory=dict, repr=False)

    @property
    def rejected(self) -> list[Rejected]:
        """The rejected records (unknown, not absent), from the errors."""
        return rejected_records(self.errors)

    def by_id(self, record_type: str, record_id: Any) -> RecordModel | None:
        """The record of that type with that id, or None when the dataset has none."""
        found = self.where(record_type, "id", record_id)
        return found[0] if found else None

    def where(self, record_type: str, field_name: str, value: Any) -> list[RecordModel]:
        """Records of a type whose field equals value (indexed on first use), ordered by id.

        Ordering by id, not by input position, keeps every decision independent of the order of the records.
        """
        key = (record_type, field_name)
        index = self._index.get(key)
        if index is None:
            index = {}
            for rec in sorted(self.records[record_type], key=lambda r: r.id):
                index.setdefault(getattr(rec, field_name), []).append(rec)
            self._index[key] = index
        return index.get(value, [])

    def upsert(self, record: RecordModel, row: int) -> RecordModel | None:
        """Insert or replace a record (by type and id), keeping the indexes current; returns the old version."""
        rtype = record.record_type
        old = self.by_id(rtype, record.id)
        records = self.records[rtype]
        if old is None:
            records.append(record)
        else:
            records[next(i for i, r in enumerate(records) if r.id == record.id)] = record
        self.rows[(rtype, record.id)] = row
        self._reindex(rtype, old, record)
        return old

    def remove(self, record_type: str, record_id: str) -> RecordModel | None:
        """Delete a record if present, keeping the indexes current; returns it."""
        old = self.by_id(record_type, record_id)
        if old is not None:
            self.records[record_type].remove(old)
            self.rows.pop((record_type, record_id), None)
            self._reindex(record_type, old, None)
        return old

    def _reindex(self, record_type: str, old: RecordModel | None, new: RecordModel | None) -> None:
        for (rtype, fld), index in self._index.items():
            if rtype != record_type:
                continue
            if old is not None:
                bucket = index.get(getattr(old, fld), [])
                bucket[:] = [r for r in bucket if r.id != old.id]
            if new is not None:
                bucket = index.setdefault(getattr(new, fld), [])
                bucket.append(new)
                bucket.sort(key=lambda r: r.id)

    @property
    def accepted_count(self) -> int:
        """How many records were accepted, all types together."""
        return sum(len(v) for v in self.records.values())


class UnreadableRow(dict):  # type: ignore[type-arg]
    """A raw row a loader could not read (nested too deep, say): validation rejects it with ``reason``."""

    def __init__(self, reason: str):
        super().__init__()
        self.reason = reason


def validate_rows(raw: dict[str, list[dict[str, Any]]], warnings: Iterable[RecordWarning] = ()) -> Dataset:
    """Validate raw rows of every record type into a Dataset, collecting errors and warnings.

    ``raw`` maps record type to its rows in input order (row 1 first); values may be strings, numbers,
    booleans, dates or None. Loader-level warnings (unknown sheets, say) are passed through.
    """
    ds = Dataset()
    ds.warnings.extend(warnings)
    for record_type in RECORD_TYPES:
        rows = raw.get(record_type) or []
        kinds = field_kinds(record_type)
        _warn_unknown_fields(ds, record_type, rows, kinds)
        seen: set[str] = set()
        for row_no, row in enumerate(rows, start=1):
            if isinstance(row, UnreadableRow):
                ds.errors.append(RecordError(row.reason, record_type, row_no, None, None, None))
                continue
            word = is_total_row(row)
            if word is not None:
                ds.warnings.append(total_row_warning(record_type, row_no, word))
                continue
            rec, errors = validate_record(record_type, row_no, row)
            if rec is None:
                ds.errors.extend(errors)
                continue
            if rec.id in seen:  # discarded, so rejected input: the decisions reading its id are undetermined
                ds.errors.append(
                    RecordError(msg("record.duplicate_id", id=rec.id), record_type, row_no, rec.id, "id", rec.id,
                                readable=record_fields(rec))
                )
                continue
            seen.add(rec.id)
            ds.records[record_type].append(rec)
            ds.rows[(record_type, rec.id)] = row_no
    _warn_references(ds)
    _warn_enterprise_codes(ds)
    order = {t: i for i, t in enumerate(RECORD_TYPES)}
    ds.warnings.sort(key=lambda w: (order.get(w.record_type, -1), w.row or 0))
    return ds


def validate_record(record_type: str, row_no: int, row: dict[str, Any]) -> tuple[RecordModel | None, list[RecordError]]:
    """One raw row as a record, or the errors that reject it (field by field, as the document lists them)."""
    kinds = field_kinds(record_type)
    raw_id = row.get("id")
    shown_id = None if _is_empty(raw_id) else _text_or_repr(raw_id)
    if ROW_PROBLEM in row:  # a problem its reader found: the other fields may still be readable
        fld, value, message = row[ROW_PROBLEM]
        rest = {k: v for k, v in row.items() if k != ROW_PROBLEM}
        return None, [RecordError(message, record_type, row_no, shown_id, fld, value,
                                  readable=readable_fields(record_type, rest, {fld}))]
    try:
        return RECORD_MODELS[record_type].model_validate({k: v for k, v in row.items() if k in kinds}), []
    except ValidationError as exc:
        found = []
        for err in exc.errors():
            fld = str(err["loc"][0]) if err["loc"] else _model_level_field(err)
            value = row.get(fld) if fld else None
            message = err["ctx"]["m"] if err["type"].startswith("chanjiao") else _pydantic_message(err, kinds, fld)
            found.append((message, fld, value))
        readable = readable_fields(record_type, row, {fld for _, fld, _ in found})
        return None, [RecordError(message, record_type, row_no, shown_id, fld, value, readable=readable)
                      for message, fld, value in found]


def record_fields(rec: RecordModel) -> tuple[tuple[str, Any], ...]:
    """Every field of an accepted (valid) record as (name, value) pairs: what a discarded duplicate leaves readable."""
    return tuple((name, getattr(rec, name)) for name in field_kinds(type(rec).record_type))


def readable_fields(record_type: str, row: dict[str, Any], bad: set[str | None]) -> tuple[tuple[str, Any], ...]:
    """The fields of a rejected row that can still be read: each valid on its own, as its validated value.

    A field named in ``bad`` (or every field, when an error names none) is unreadable. An agreement's
    ``valid_from`` defaults to a readable ``signed_on``, as in the model.
    """
    if None in bad:
        return ()
    out: dict[str, Any] = {}
    for name, kind in field_kinds(record_type).items():
        if name in bad:
            continue
        try:
            out[name] = _validator(kind)(row.get(name))
        except (ValueError, PydanticCustomError):  # pragma: no cover - the model accepted it
            continue
    if record_type == "agreements" and out.get("valid_from", 0) is None and "signed_on" in out:
        out["valid_from"] = out["signed_on"]
    return tuple(out.items())


def _text_or_repr(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _model_level_field(err: Any) -> str | None:
    return "valid_to" if err["type"] == "chanjiao_valid_to" else None


def _pydantic_message(err: Any, kinds: dict[str, Kind], fld: str | None) -> str:
    kind = kinds.get(fld or "")
    if err["type"] == "missing" and kind is not None:
        return msg("record.required", expected=kind.expected)
    return str(err["msg"])


def _warn_unknown_fields(ds: Dataset, record_type: str, rows: list[dict[str, Any]], kinds: dict[str, Kind]) -> None:
    reported: set[str] = set()
    for row_no, row in enumerate(rows, start=1):
        for name in row:
            if name in kinds or name in reported or name == ROW_PROBLEM:
                continue
            reported.add(name)
            close = difflib.get_close_matches(str(name), list(kinds), n=1, cutoff=0.6)
            ds.warnings.append(
                RecordWarning(
                    unknown_field_message(str(name), close[0] if close else None),
                    record_type, row_no, _text_or_repr(row.get("id")) if not _is_empty(row.get("id")) else None,
                    str(name), close[0] if close else None,
                )
            )


def rejected_rows(rejected: Iterable[Rejected]) -> dict[str, dict[Any, int]]:
    """Per record type, the first row of each readable rejected id."""
    out: dict[str, dict[Any, int]] = {}
    for r in rejected:
        if r.id is not None:
            out.setdefault(r.record_type, {}).setdefault(r.id, r.row)
    return out


def _warn_references(ds: Dataset) -> None:
    rejected = rejected_rows(ds.rejected)
    for (record_type, fld), target in REFERENCES.items():
        known = {r.id for r in ds.records[target]}
        for rec in ds.records[record_type]:
            ref = getattr(rec, fld)
            if ref is not None and ref not in known:
                ds.warnings.append(
                    RecordWarning(
                        dangling_message(record_type, fld, ref, target, rejected.get(target, {}).get(ref)),
                        record_type, ds.rows[(record_type, rec.id)], rec.id, fld,
                    )
                )


def _warn_enterprise_codes(ds: Dataset) -> None:
    for ent in ds.records["enterprises"]:
        assert isinstance(ent, Enterprise)
        row = ds.rows[("enterprises", ent.id)]
        registered = ent.id[2:8]
        if registered[:4] != ent.region_code[:4]:
            ds.warnings.append(
                RecordWarning(
                    msg("record.other_city", region=ent.region_code, registered=registered),
                    "enterprises", row, ent.id, "region_code",
                )
            )
        body, check = ent.id[8:16], ent.id[16]
        expected = org_code_check_char(body)
        if expected is not None and expected != check:
            ds.warnings.append(
                RecordWarning(
                    msg("record.org_code", code=ent.id[8:17], expected=expected),
                    "enterprises", row, ent.id, "id",
                )
            )



def unknown_field_message(name: str, close: str | None) -> Message:
    """The warning for a column that is no field of its record type, with the closest field as a suggestion."""
    return msg("record.unknown_field", name=name, hint=msg("hint.did_you_mean", name=close) if close else "")


def dangling_message(record_type: str, field_name: str, ref: Any, target: str,
                     rejected_row: int | None = None) -> Message:
    """The warning for a reference (``enterprise_id``, ``school_id``) to no accepted record: to a rejected one (its
    row), or to none at all."""
    if rejected_row is not None:
        return msg("record.dangling_rejected", field=field_name, field_zh=field_label(record_type, field_name),
                   ref=ref, target=target, target_zh=f"{record_type_label(target)}（{target}）", row=rejected_row)
    return msg("record.dangling", field=field_name, field_zh=field_label(record_type, field_name), ref=ref,
               target=target, target_zh=f"{record_type_label(target)}（{target}）")
