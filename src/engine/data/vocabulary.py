"""One field vocabulary: every record type, field and enum value with its Chinese label, aliases, meaning and unit.

This module is the single place where people's words for the data are defined. From it come header aliases on
input (``field_for``: 统一社会信用代码 / 信用代码 / USCC → ``id``), sheet and file names (``record_type_for``),
enum and yes/no spellings (``enum_value_for``, ``bool_for``), Chinese names of facts (``fact_label``), the titles
and descriptions of the JSON Schemas, the README's field reference (``field_reference_markdown``) and the fill-in
template (``engine.data.template``). What a field *holds* (its kind, whether it is required, its enum values) stays
with the record models (``engine.data.records.field_kinds``); :func:`fields` joins the two, and a test checks that
both name exactly the same fields.

Matching is by a normal form (:func:`normalise`): Unicode NFKC (full-width letters, digits and brackets become
ASCII), case-folded, without white space, ``_``, ``-``, ``*`` or a trailing colon, and without a leading 是否
for yes/no fields. A header may carry a trailing bracket holding the field's unit or its English name
(``工资总额（元）``, ``企业名称 (name)``); any other bracket — ``工资总额（万元）`` — does not match, because a figure
in another unit must not be read as yuan.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "RECORD_TYPES",
    "RecordTypeInfo",
    "FieldInfo",
    "record_type_for",
    "record_type_info",
    "record_type_label",
    "field_for",
    "enum_value_for",
    "enum_label",
    "bool_for",
    "field_label",
    "fact_label",
    "fields",
    "normalise",
    "TRUE_SPELLINGS",
    "FALSE_SPELLINGS",
    "field_reference_markdown",
    "write_readme_section",
    "README_START",
    "README_END",
    "kind_text",
    "enum_label",
]


@dataclass(frozen=True)
class RecordTypeInfo:
    """A record type as people name it: ``label_zh`` is also its sheet name in the template."""

    name: str
    label_zh: str
    label_en: str
    aliases: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class FieldInfo:
    """One field of one record type, as people read and write it.

    ``kind`` and ``required`` come from the record model; ``enum_labels`` maps each enum value to its Chinese
    labels (the first is the one shown); ``source`` is the standard or policy clause that makes the field matter.
    """

    record_type: str
    name: str
    label_zh: str
    label_en: str
    aliases: tuple[str, ...]
    description: str
    unit: str | None
    example: str
    kind: str
    required: bool
    source: str
    enum_labels: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def canonical_example(self) -> Any:
        """The example as JSON carries it: true/false, a whole number, the enum value; None when there is none."""
        if not self.example:
            return None
        if self.kind == "bool":
            return bool_for(self.example)
        if self.kind == "int":
            return int(self.example)
        if self.kind == "enum":
            return enum_value_for(self.record_type, self.name, self.example)
        return self.example

    @property
    def header(self) -> str:
        """The Chinese column header: the label, with the unit in full-width brackets (工资总额（元）)."""
        return f"{self.label_zh}（{self.unit}）" if self.unit else self.label_zh


_RT: tuple[RecordTypeInfo, ...] = (
    RecordTypeInfo("enterprises", "企业", "Enterprises",
                   ("企业信息", "企业基本信息", "企业名单", "企业情况", "enterprise", "companies", "company"),
                   "企业：以统一社会信用代码标识，含工资总额、职工教育经费等年度数字"),
    RecordTypeInfo("schools", "学校", "Schools",
                   ("职业院校", "学校信息", "院校", "院校信息", "school"),
                   "职业院校：中职、技工院校、高职"),
    RecordTypeInfo("agreements", "校企合作协议", "Agreements",
                   ("合作协议", "协议", "校企协议", "校企合作", "agreement"),
                   "企业与学校签订的校企合作协议"),
    RecordTypeInfo("internship_payments", "实习报酬", "Internship payments",
                   ("学生实习报酬", "实习报酬支付", "实习报酬明细", "internship payment", "intern pay"),
                   "企业支付给学校学生在企业实习的报酬"),
    RecordTypeInfo("practice_expenses", "实践费用", "Practice expenses",
                   ("实习实践费用", "实践活动费用", "与学生实习、教师实践活动相关的费用", "practice expense"),
                   "企业发生的与学生实习、教师实践活动相关的费用"),
    RecordTypeInfo("certificates", "职业资格证书", "Certificates",
                   ("证书", "职工职业资格证书", "企业职工职业资格证书", "资格证书", "certificate"),
                   "企业职工取得的职业资格证书"),
    RecordTypeInfo("land_applications", "建设用地", "Land applications",
                   ("职业学校建设用地", "用地申请", "建设用地申请", "land application", "land"),
                   "企业投资或与政府合作建设职业学校的建设用地"),
    RecordTypeInfo("graduates", "毕业生", "Graduates",
                   ("毕业生就业", "职业院校毕业生就业", "毕业生就业情况", "graduate"),
                   "职业院校毕业生的就业情况"),
)

RECORD_TYPES: tuple[tuple[str, str], ...] = tuple((t.name, t.label_zh) for t in _RT)
"""The eight record types with their Chinese labels, in the order of the data model: (name, 中文名)."""

_YICHANG = "宜发改社会〔2020〕76号"
_TONGHUA = "通市政办发〔2019〕10号"
_USCC_SRC = "GB 32100-2015《法人和其他组织统一社会信用代码编码规则》"
_REGION_SRC = "GB/T 2260《中华人民共和国行政区划代码》"
_DM = "数据模型（data-model.md）"

# (name, 中文名, English label, aliases, 说明, unit, example, source); one tuple per field, in model order.
_F = tuple[str, str, str, tuple[str, ...], str, str | None, str, str]
_ENT_ID_ALIASES = ("企业统一社会信用代码", "企业信用代码", "统一社会信用代码", "信用代码", "社会信用代码", "企业代码",
                   "纳税人识别号", "USCC", "enterprise", "enterprise id", "company id")
_SCHOOL_ID_ALIASES = ("学校代码", "学校编号", "院校代码", "学校标识码", "school", "school id", "school code")

_FIELDS: dict[str, tuple[_F, ...]] = {
    "enterprises": (
        ("id", "统一社会信用代码", "Unified social credit code",
         ("信用代码", "社会信用代码", "统一代码", "企业代码", "纳税人识别号", "USCC", "credit code",
          "unified social credit code", "enterprise id"),
         "企业的18位统一社会信用代码，第18位为校验码", None, "91220502MA0Y0A0133", _USCC_SRC),
        ("name", "企业名称", "Name", ("名称", "单位名称", "纳税人名称", "企业", "company name", "enterprise name"),
         "企业的登记名称", None, "通化东宝药业股份有限公司", _DM),
        ("region_code", "注册地行政区划代码", "Region code",
         ("行政区划代码", "区划代码", "注册地代码", "注册地区划代码", "地区代码", "region"),
         "企业注册地的六位行政区划代码（如通化市东昌区 220502）", None, "220502", _REGION_SRC),
        ("fiscal_year", "所属年度", "Fiscal year", ("年度", "会计年度", "纳税年度", "财务年度", "year"),
         "下列金额（工资总额、职工教育经费等）所属的年度", None, "2021", _DM),
        ("total_wages", "工资总额", "Total wages", ("职工工资总额", "年度工资总额", "工资薪金总额", "wages", "payroll"),
         "企业本年度职工工资总额", "元", "55800000.00", f"{_TONGHUA} 二（二）11（职工教育经费按工资总额的1.5%至2.5%提取）"),
        ("education_fund", "职工教育经费", "Employee education fund",
         ("职工教育经费提取额", "教育经费", "职工教育经费提取", "education fund"),
         "本年度提取的职工教育经费", "元", "820000.00", f"{_TONGHUA} 二（二）11"),
        ("frontline_training_spend", "一线职工教育培训经费", "Frontline training spend",
         ("用于一线职工教育和培训的经费", "一线职工培训经费", "一线培训经费", "一线职工教育和培训经费",
          "frontline training", "frontline spend"),
         "职工教育经费中用于一线职工教育和培训的部分", "元", "480000.00",
         f"{_TONGHUA} 二（二）11（不低于职工教育经费的60%）"),
        ("is_key_enterprise", "重点企业", "Key enterprise", ("是否重点企业", "key enterprise"),
         "是否属于当地确定的重点企业", None, "是", f"{_TONGHUA} 二（二）8"),
        ("credit_blacklisted", "列入信用黑名单", "Credit-blacklisted",
         ("是否列入信用黑名单", "信用黑名单", "黑名单", "列入黑名单", "blacklisted"),
         "是否被列入信用“黑名单”", None, "否", f"{_TONGHUA} 二（五）25"),
        ("outstanding_cooperation_results", "深度参与校企合作并取得突出成效", "Outstanding cooperation results",
         ("校企合作突出成效", "校企合作取得突出成效", "突出成效", "cooperation results"),
         "经主管部门认定，深度参与校企合作并取得突出成效", None, "是", f"{_YICHANG} 二（三）"),
        ("values_employee_training", "重视职工教育培训", "Values employee training", ("重视职工培训",),
         "经主管部门认定，重视职工教育培训", None, "是", f"{_YICHANG} 二（三）"),
        ("leading_role", "发挥引领作用", "Leading role", ("引领作用",),
         "经主管部门认定，发挥引领作用", None, "是", f"{_YICHANG} 二（三）"),
        ("strong_overall_strength", "综合实力较强", "Strong overall strength", ("综合实力",),
         "经主管部门认定，综合实力较强", None, "是", f"{_YICHANG} 二（三）"),
    ),
    "schools": (
        ("id", "学校代码", "School code",
         ("学校编号", "院校代码", "学校标识码", "学校id", "编号", "school id", "school code"),
         "学校的代码，在本数据集中唯一（如教育部学校标识码）", None, "TH-ZZ01", _DM),
        ("name", "学校名称", "Name", ("院校名称", "名称", "school name"), "学校的名称", None, "通化市职业教育中心", _DM),
        ("region_code", "所在地行政区划代码", "Region code",
         ("行政区划代码", "区划代码", "所在地代码", "所在地区划代码", "region"),
         "学校所在地的六位行政区划代码", None, "220502", _REGION_SRC),
        ("school_type", "学校类型", "School type", ("办学类型", "院校类型", "学校类别", "类型", "type"),
         "中等职业学校（中专、职高、职教中心）、技工院校或高职院校", None, "中职", f"{_TONGHUA} 二（五）22（中职学校）"),
        ("is_municipal", "市本级院校", "Municipal", ("是否市本级", "市本级", "市属院校", "municipal"),
         "是否为市本级职业院校", None, "是", f"{_TONGHUA} 二（二）8"),
        ("enrolled_students", "在校生数", "Enrolled students", ("在校学生数", "在校生人数", "学生数", "在校生", "students"),
         "在校学生人数，用于计算生均公用经费奖补", "人", "3260", f"{_TONGHUA} 二（五）22（450元/人）"),
        ("demonstration_project", "承担示范性实训基地建设", "Demonstration project",
         ("示范性实训基地建设", "加强基础能力、示范性实训基地建设", "承担加强基础能力、示范性实训基地建设", "示范项目",
          "示范性实训基地"),
         "是否承担加强基础能力、示范性实训基地建设", None, "是", f"{_TONGHUA} 二（五）22"),
        ("training_fee_income", "培训服务收费收入", "Training fee income",
         ("职工培训服务收费收入", "培训收费收入", "培训费收入", "培训收入", "fee income"),
         "为企业职工提供培训服务收取的费用", "元", "286000.00", f"{_TONGHUA} 二（二）12"),
        ("training_cost", "培训服务成本", "Training cost", ("培训成本", "cost"),
         "提供培训服务的成本", "元", "301500.00", f"{_TONGHUA} 二（二）12（成本补偿和非盈利）"),
        ("fee_income_in_school_accounts", "收入纳入学校财务统一管理", "Fee income in school accounts",
         ("纳入学校财务统一管理", "纳入学校财务", "收入纳入学校财务", "in school accounts"),
         "培训收入是否纳入学校财务统一管理", None, "是", f"{_TONGHUA} 二（二）12"),
    ),
    "agreements": (
        ("id", "协议编号", "Agreement number", ("协议号", "合同编号", "编号", "agreement id", "agreement number"),
         "协议的编号，在本数据集中唯一", None, "TH-XQ-001", _DM),
        ("enterprise_id", "企业统一社会信用代码", "Enterprise", _ENT_ID_ALIASES,
         "签订协议的企业的统一社会信用代码", None, "91220502MA0Y0A0133", _USCC_SRC),
        ("school_id", "学校代码", "School", _SCHOOL_ID_ALIASES,
         "签订协议的学校的代码（与学校表一致）", None, "TH-ZZ01", _DM),
        ("signed_on", "签订日期", "Signed on", ("签约日期", "签署日期", "协议签订日期", "signed"),
         "协议的签订日期", None, "2019-09-01", f"{_YICHANG} 二（八）"),
        ("valid_from", "生效日期", "Valid from", ("有效期起", "有效期自", "起始日期", "开始日期", "起始时间"),
         "协议开始生效的日期；空白时为签订日期", None, "2019-09-01", _DM),
        ("valid_to", "截止日期", "Valid to", ("有效期至", "有效期止", "到期日期", "终止日期", "结束日期", "截止时间"),
         "协议的截止日期；空白表示长期有效，不得早于生效日期", None, "2024-08-31", _DM),
    ),
    "internship_payments": (
        ("id", "支付编号", "Payment number", ("付款编号", "凭证号", "凭证编号", "编号", "payment id", "payment number"),
         "该笔报酬支付的编号，在本数据集中唯一", None, "ZF-2021-0001", _DM),
        ("enterprise_id", "企业统一社会信用代码", "Enterprise", _ENT_ID_ALIASES,
         "支付报酬的企业的统一社会信用代码", None, "91220502MA0Y0A0133", _USCC_SRC),
        ("school_id", "学校代码", "School", _SCHOOL_ID_ALIASES,
         "实习学生所在学校的代码", None, "TH-ZZ01", _DM),
        ("student_id", "学生学号", "Student", ("学号", "学生编号", "学生", "student", "student id"),
         "实习学生的学号或编号", None, "2021010101", _DM),
        ("amount", "实习报酬金额", "Amount", ("报酬金额", "实习报酬", "支付金额", "金额", "amount"),
         "支付给学生的实习报酬，大于零", "元", "2400.00", f"{_YICHANG} 二（八）"),
        ("paid_on", "支付日期", "Paid on", ("付款日期", "发放日期", "支付时间", "paid", "date"),
         "报酬的支付日期", None, "2021-07-15", f"{_YICHANG} 二（八）"),
    ),
    "practice_expenses": (
        ("id", "费用编号", "Expense number", ("凭证号", "凭证编号", "编号", "expense id", "expense number"),
         "该笔费用的编号，在本数据集中唯一", None, "SJ-2021-0001", _DM),
        ("enterprise_id", "企业统一社会信用代码", "Enterprise", _ENT_ID_ALIASES,
         "发生费用的企业的统一社会信用代码", None, "91220502MA0Y0A0133", _USCC_SRC),
        ("school_id", "学校代码", "School", _SCHOOL_ID_ALIASES,
         "相关学校的代码（可空）", None, "TH-ZZ01", _DM),
        ("kind", "费用类别", "Kind", ("类别", "费用类型", "活动类型", "活动类别", "type"),
         "学生实习或教师实践", None, "教师实践", f"{_YICHANG} 二（八）"),
        ("amount", "费用金额", "Amount", ("金额", "支出金额", "amount"),
         "费用金额，大于零", "元", "3600.00", f"{_YICHANG} 二（八）"),
        ("incurred_on", "发生日期", "Incurred on", ("支出日期", "费用发生日期", "日期", "incurred", "date"),
         "费用的发生日期", None, "2021-08-20", f"{_YICHANG} 二（八）"),
        ("reasonable", "合理费用", "Reasonable", ("是否合理", "费用合理", "合理", "reasonable"),
         "经税务机关认定为合理的费用", None, "是", f"{_YICHANG} 二（八）（合理费用）"),
    ),
    "certificates": (
        ("id", "证书编号", "Certificate number", ("证书号", "编号", "certificate id", "certificate number"),
         "证书的编号，在本数据集中唯一", None, "ZS-2021-0001", _DM),
        ("employee_id", "职工编号", "Employee", ("员工编号", "工号", "职工号", "身份证号", "employee", "employee id"),
         "取得证书的职工的编号", None, "YG00101", _DM),
        ("enterprise_id", "企业统一社会信用代码", "Enterprise", _ENT_ID_ALIASES,
         "职工所在企业的统一社会信用代码", None, "91220502MA0Y0A0133", _USCC_SRC),
        ("insured", "符合参保条件", "Insured", ("是否参保", "参保", "是否符合参保条件", "insured"),
         "职工是否符合参保条件", None, "是", f"{_TONGHUA} 二（二）11"),
        ("obtained_on", "取得日期", "Obtained on", ("发证日期", "取证日期", "获证日期", "obtained", "date"),
         "取得证书的日期", None, "2021-05-20", f"{_TONGHUA} 二（二）11"),
        ("title", "证书名称", "Certificate title", ("职业资格名称", "证书", "资格名称", "certificate"),
         "职业资格证书的名称及等级", None, "药物制剂工（四级）", _DM),
    ),
    "land_applications": (
        ("id", "用地申请编号", "Application number", ("申请编号", "编号", "application id", "application number"),
         "用地申请的编号，在本数据集中唯一", None, "TD-2021-07", _DM),
        ("enterprise_id", "企业统一社会信用代码", "Enterprise", _ENT_ID_ALIASES,
         "申请用地的企业的统一社会信用代码", None, "91220502MA0Y0A0133", _USCC_SRC),
        ("region_code", "用地所在地行政区划代码", "Region code",
         ("行政区划代码", "区划代码", "用地所在地", "所在地代码", "region"),
         "用地所在地的六位行政区划代码", None, "220502", _REGION_SRC),
        ("builds_vocational_school", "投资或合作建设职业学校", "Builds a vocational school",
         ("企业投资或与政府合作建设职业学校", "建设职业学校", "是否建设职业学校", "builds school"),
         "企业投资或与政府合作建设职业学校", None, "是", f"{_TONGHUA} 二（五）22"),
        ("in_allocation_catalogue", "符合《划拨用地目录》", "In the allocation catalogue",
         ("符合划拨用地目录", "划拨用地目录", "是否符合划拨用地目录", "allocation catalogue"),
         "用地是否符合《划拨用地目录》", None, "是", f"{_TONGHUA} 二（五）22"),
    ),
    "graduates": (
        ("id", "毕业生编号", "Graduate number", ("学号", "编号", "学生编号", "graduate id", "graduate number"),
         "毕业生的学号或编号，在本数据集中唯一", None, "TH-BY-2021-001", _DM),
        ("school_id", "学校代码", "School", ("毕业院校代码",) + _SCHOOL_ID_ALIASES,
         "毕业院校的代码", None, "TH-ZZ01", _DM),
        ("employer_region_code", "就业地行政区划代码", "Employer region code",
         ("就业地", "就业地区划代码", "就业地代码", "就业单位所在地", "employer region"),
         "就业单位所在地的六位行政区划代码", None, "220502", f"{_YICHANG} 二（六）（在宜就业）"),
        ("employed_from", "就业起始日期", "Employed from", ("入职日期", "就业日期", "就业开始日期", "employed"),
         "开始就业的日期", None, "2021-07-01", f"{_YICHANG} 二（六）（稳岗一年）"),
        ("employed_to", "就业截止日期", "Employed to", ("离职日期", "就业结束日期"),
         "离职日期；空白表示仍在职", None, "", f"{_YICHANG} 二（六）（稳岗一年）"),
    ),
}

# enum values: record type -> field -> value -> Chinese labels (the first is shown) and English spellings
_ENUMS: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("schools", "school_type"): {
        "secondary_vocational": ("中职", "中等职业学校", "中职学校", "中专", "职高", "职业高中", "职教中心",
                                 "职业教育中心", "中等专业学校", "secondary vocational"),
        "technical": ("技工院校", "技工学校", "技师学院", "技校", "technical school"),
        "higher_vocational": ("高职", "高职院校", "高等职业学校", "高等职业院校", "职业技术学院", "高职高专",
                              "higher vocational"),
    },
    ("practice_expenses", "kind"): {
        "student_internship": ("学生实习", "实习", "学生实习活动", "student internship", "internship"),
        "teacher_practice": ("教师实践", "教师实践活动", "教师企业实践", "实践", "teacher practice"),
    },
}

TRUE_SPELLINGS: tuple[str, ...] = ("是", "√", "✓", "✔", "yes", "y", "true", "t", "1")
"""Spellings of yes (compared after :func:`normalise`; the first is the one written)."""
FALSE_SPELLINGS: tuple[str, ...] = ("否", "×", "✗", "✘", "no", "n", "false", "f", "0")
"""Spellings of no (compared after :func:`normalise`; the first is the one written)."""

_UNITS_ACCEPTED = {"元": ("元", "人民币元", "rmb", "yuan", "cny"), "人": ("人", "名", "个")}


def normalise(text: str) -> str:
    """The form names are compared in: NFKC, case-folded, without white space, ``_``, ``-``, ``*`` or a colon."""
    folded = unicodedata.normalize("NFKC", str(text)).casefold()
    return re.sub(r"[\s_\-*:·]+", "", folded)


def record_type_info(record_type: str) -> RecordTypeInfo:
    """The record type's labels and aliases; KeyError for an unknown name."""
    for info in _RT:
        if info.name == record_type:
            return info
    raise KeyError(record_type)


@lru_cache(maxsize=None)
def _record_type_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for info in _RT:
        for spelling in (info.name, info.label_zh, info.label_en, *info.aliases):
            index.setdefault(normalise(spelling), info.name)
    return index


def record_type_for(name: str) -> str | None:
    """The record type a sheet, file or key name stands for ('企业', '企业信息', 'Enterprises ' → 'enterprises')."""
    return _record_type_index().get(normalise(name))


def record_type_label(record_type: str, lang: str = "zh") -> str:
    """The record type's name for people: 企业 (zh) or Enterprises (en); the name itself if unknown."""
    try:
        info = record_type_info(record_type)
    except KeyError:
        return record_type
    return info.label_en if lang == "en" else info.label_zh


@lru_cache(maxsize=None)
def _fields(record_type: str) -> tuple[FieldInfo, ...]:
    from engine.data.records import field_kinds  # imported here: engine.data.records may use this module

    kinds = field_kinds(record_type)
    out = []
    for name, zh, en, aliases, desc, unit, example, source in _FIELDS[record_type]:
        kind = kinds[name]
        labels = _ENUMS.get((record_type, name), {})
        out.append(FieldInfo(record_type, name, zh, en, aliases, desc, unit, example, kind.name, kind.required,
                             source, dict(labels)))
    return tuple(out)


def fields(record_type: str) -> list[FieldInfo]:
    """Every field of a record type, in the record model's order, with its labels, meaning, unit and example."""
    return list(_fields(record_type))


def _field_info(record_type: str, name: str) -> FieldInfo | None:
    if record_type not in _FIELDS:
        return None
    return next((f for f in _fields(record_type) if f.name == name), None)


@lru_cache(maxsize=None)
def _field_index(record_type: str) -> dict[str, str]:
    index: dict[str, str] = {}
    infos = _fields(record_type)
    for f in infos:  # exact names and labels first: they win over another field's alias
        for spelling in (f.name, f.label_zh, f.header, f.label_en):
            index.setdefault(normalise(spelling), f.name)
    for f in infos:
        for spelling in f.aliases:
            index.setdefault(normalise(spelling), f.name)
    return index


_BRACKET = re.compile(r"^(.*?)[(\[]([^()\[\]]*)[)\]]$")


def field_for(record_type: str, header: str) -> str | None:
    """The field a column header stands for in a record type, or None.

    '统一社会信用代码' / '信用代码' / 'USCC' / 'id' → 'id' for enterprises; '工资总额（元）' → 'total_wages';
    a bracket with another unit ('工资总额（万元）') gives None, so the column is reported, never misread.
    """
    if record_type not in _FIELDS or header is None:
        return None
    index = _field_index(record_type)
    key = normalise(header)
    if not key:
        return None
    found = index.get(key)
    if found is None and key.startswith("是否"):
        found = index.get(key[2:])
    if found is not None:
        return found
    m = _BRACKET.match(key)
    if m is None:
        return None
    base, inner = m.group(1), m.group(2)
    name = field_for(record_type, base)
    if name is None:
        return None
    info = _field_info(record_type, name)
    assert info is not None
    if inner == normalise(name) or index.get(inner) == name:
        return name  # 企业名称 (name)
    if info.unit and inner in {normalise(u) for u in _UNITS_ACCEPTED.get(info.unit, (info.unit,))}:
        return name
    return None


def enum_value_for(record_type: str, field_name: str, text: str) -> str | None:
    """The enum value a spelling stands for ('中职' / '中等职业学校' / 'secondary_vocational' → 'secondary_vocational')."""
    labels = _ENUMS.get((record_type, field_name))
    if labels is None or text is None:
        return None
    key = normalise(text)
    for value, spellings in labels.items():
        if key == normalise(value) or any(key == normalise(s) for s in spellings):
            return value
    return None


def enum_label(record_type: str, field_name: str, value: str, lang: str = "zh") -> str:
    """The label shown for an enum value: 中职 for secondary_vocational (zh); the value itself in English."""
    labels = _ENUMS.get((record_type, field_name), {}).get(value)
    if lang == "en" or not labels:
        return value
    return labels[0]


_TRUE = frozenset(normalise(s) for s in TRUE_SPELLINGS)
_FALSE = frozenset(normalise(s) for s in FALSE_SPELLINGS)


def bool_for(text: Any) -> bool | None:
    """Yes or no from a spelling people use (是/否, √/×, yes/no, true/false, 1/0, Y/N); None when it is neither."""
    if isinstance(text, bool):
        return text
    if text is None:
        return None
    key = normalise(str(text))
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    return None


def field_label(record_type: str, field_name: str, lang: str = "zh") -> str:
    """A field's name for people: 一线职工教育培训经费 (zh) or Frontline training spend (en); the name if unknown."""
    info = _field_info(record_type, field_name)
    if info is None:
        return field_name
    return info.label_en if lang == "en" else info.label_zh


def fact_label(fact: str, lang: str = "zh") -> str:
    """A fact ``record_type.field`` for people, keeping the fact so it can be found in the data.

    'enterprises.frontline_training_spend' → '一线职工教育培训经费（enterprises.frontline_training_spend）';
    in English 'Frontline training spend (enterprises.frontline_training_spend)'. A fact the vocabulary does not
    know is returned as it is.
    """
    record_type, _, name = fact.partition(".")
    info = _field_info(record_type, name)
    if info is None:
        return fact
    if lang == "en":
        return f"{info.label_en} ({fact})"
    return f"{info.label_zh}（{fact}）"


_KIND_TEXT = {
    "text": ("文本", "text"),
    "uscc": ("18位统一社会信用代码", "18-character USCC"),
    "region_code": ("6位行政区划代码", "6-digit region code"),
    "int": ("整数", "whole number"),
    "money": ("金额（元，最多两位小数）", "money (yuan, ≤ 2 decimals)"),
    "date": ("日期", "date"),
    "bool": ("是/否", "yes/no"),
    "enum": ("选项", "choice"),
}


def kind_text(info: FieldInfo, lang: str = "zh") -> str:
    """What a field holds, in words (一个选项：中职、技工院校、高职 for an enum)."""
    zh, en = _KIND_TEXT[info.kind]
    if info.enum_labels:
        if lang == "en":
            return "one of " + ", ".join(info.enum_labels)
        return "选项：" + "、".join(labels[0] for labels in info.enum_labels.values())
    return en if lang == "en" else zh


README_START = "<!-- field-reference:start -->"
README_END = "<!-- field-reference:end -->"


def write_readme_section(readme: str | Path) -> bool:
    """Replace the README's text between :data:`README_START` and :data:`README_END` with the field reference.

    Returns whether the file changed. ``python -c "from engine.data.vocabulary import write_readme_section as w;
    w('README.md')"`` regenerates it; a test fails when it is stale.
    """
    path = Path(readme)
    text = path.read_text(encoding="utf-8")
    start, end = text.index(README_START) + len(README_START), text.index(README_END)
    new = text[:start] + "\n" + field_reference_markdown() + "\n" + text[end:]
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def field_reference_markdown() -> str:
    """The README's field reference: one table per record type, generated from this vocabulary."""
    lines = ["<!-- generated by engine.data.vocabulary.field_reference_markdown(); a test fails when it is stale -->", ""]
    for info in _RT:
        lines.append(f"#### {info.label_zh} `{info.name}`")
        lines.append("")
        lines.append(f"{info.description}。表名（工作表名、文件名）也可写作：" + "、".join(info.aliases[:4]) + "。")
        lines.append("")
        lines.append("| 中文表头 | 字段 | 必填 | 类型 | 说明 | 示例 | 也接受的表头 |")
        lines.append("|---|---|---|---|---|---|---|")
        for f in _fields(info.name):
            aliases = "、".join(a for a in f.aliases if not a.isascii())
            english = ", ".join(a for a in f.aliases if a.isascii())
            accepted = "；".join(x for x in (aliases, english) if x)
            lines.append(f"| {f.header} | `{f.name}` | {'是' if f.required else '否'} | {kind_text(f)} | "
                         f"{f.description} | {f.example or '（空）'} | {accepted} |")
        lines.append("")
    return "\n".join(lines)
