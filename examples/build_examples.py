"""Rebuild the bundled example datasets (deterministic; run from the repository root).

    python examples/build_examples.py

- yichang-enterprise-2021.xlsx: one Yichang enterprise's tax-year submission (Chinese sheet names, numeric money
  cells, date cells) for a tax officer: intern pay, practice expenses, agreements, graduates.
- tonghua-finance-bureau/: a Tonghua finance bureau's schools, employers, certificates and land, as CSV files
  exported from a spreadsheet (UTF-8 with BOM).
- tonghua-self-assessment.json: a Tonghua enterprise checking itself.
- bad-records.json: what rejected records look like (exit status 1).
- yichang-accountant-2021.xlsx: the Yichang workbook as an enterprise's accountant keeps it — title rows above
  Chinese headers, dates as Excel writes them on Chinese Windows (2021/3/5, 2021年3月5日, 2021.3.5, date cells),
  money as ¥1,950.50 / 2345.67元 / 38,650,000.00, 中职 / 教师实践 / √ / ×, a 合计 row. Same decisions as the
  canonical workbook (tested).
- tonghua-finance-bureau-gbk/: the Tonghua CSV export as a finance bureau's clerk saves it from Excel ("CSV（逗号分
  隔）"): GBK, Chinese file names and headers, a title line, 2020/1/15 dates, thousands separators, a 合计 line.
  Same decisions as tonghua-finance-bureau/ (tested).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

from engine.data.records import org_code_check_char, uscc_check_char

HERE = Path(__file__).resolve().parent


def uscc(region: str, body: str) -> str:
    """A valid 统一社会信用代码 for a company (91) registered in ``region`` with organisation-code body ``body``."""
    first = "91" + region + body + org_code_check_char(body)
    return first + uscc_check_char(first)


D = dt.date.fromisoformat

# ------------------------------------------------------------------------------------------- Yichang workbook
YC = uscc("420502", "MA4F0A01")
YC_SCHOOLS = [
    ["YC-GZ01", "三峡职业技术学院", "420500", "higher_vocational", True, 11800],
    ["YC-ZZ02", "宜昌市机电工程学校", "420502", "secondary_vocational", True, 2400],
    ["YC-JS03", "湖北三峡技师学院", "420503", "technical", True, 5200],
    ["YC-ZZ04", "宜都市职业教育中心", "420581", "secondary_vocational", False, 1900],
]
YC_AGREEMENTS = [
    ["XQ-2020-011", YC, "YC-GZ01", D("2020-08-20"), D("2020-09-01"), D("2023-08-31")],
    ["XQ-2021-003", YC, "YC-ZZ02", D("2021-03-01"), D("2021-03-15"), None],
    ["XQ-2019-027", YC, "YC-JS03", D("2019-09-01"), None, D("2021-06-30")],
]


def yichang_payments() -> list[list[object]]:
    rows = []
    n = 0
    plans = [("YC-GZ01", ["S21001", "S21002", "S21003"], Decimal("2600.00")),
             ("YC-ZZ02", ["S21101", "S21102"], Decimal("1850.50")),
             ("YC-JS03", ["S21201"], Decimal("2345.67")),
             ("YC-ZZ04", ["S21301"], Decimal("1500.00"))]
    for school, students, pay in plans:
        for month in (1, 3, 5, 7, 9, 11):
            for k, student in enumerate(students):
                n += 1
                rows.append([f"SX-2021-{n:03d}", YC, school, student, pay + k * Decimal("100.00"),
                             dt.date(2021, month, 25)])
    return rows


def build_yichang() -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "企业"
    ws.append(["id", "name", "region_code", "fiscal_year", "total_wages", "education_fund", "is_key_enterprise",
               "outstanding_cooperation_results", "values_employee_training", "leading_role", "strong_overall_strength"])
    ws.append([YC, "宜昌三峡机电装备有限公司", "420502", 2021, 38650000.00, 579750.00, "否", "是", "是", "是", None])
    sheets = {
        "学校": (["id", "name", "region_code", "school_type", "is_municipal", "enrolled_students"], YC_SCHOOLS),
        "校企合作协议": (["id", "enterprise_id", "school_id", "signed_on", "valid_from", "valid_to"], YC_AGREEMENTS),
        "实习报酬": (["id", "enterprise_id", "school_id", "student_id", "amount", "paid_on"], yichang_payments()),
        "实践费用": (["id", "enterprise_id", "school_id", "kind", "amount", "incurred_on", "reasonable"], [
            ["FY-2021-01", YC, "YC-GZ01", "teacher_practice", 18600.00, D("2021-07-12"), "是"],
            ["FY-2021-02", YC, "YC-GZ01", "student_internship", 42380.40, D("2021-09-03"), "是"],
            ["FY-2021-03", YC, "YC-ZZ02", "student_internship", 69157.68, D("2021-10-15"), None],
            ["FY-2021-04", YC, None, "teacher_practice", 8800.00, D("2021-11-20"), "否"],
            ["FY-2020-09", YC, "YC-JS03", "student_internship", 5600.00, D("2020-05-28"), "是"],
        ]),
        "毕业生": (["id", "school_id", "employer_region_code", "employed_from", "employed_to"], [
            ["BY-2019-001", "YC-GZ01", "420502", D("2019-07-15"), None],
            ["BY-2021-002", "YC-ZZ02", "420502", D("2021-07-01"), None],
            ["BY-2020-003", "YC-JS03", "420502", D("2020-07-10"), D("2021-03-31")],
            ["BY-2020-004", "YC-GZ01", None, D("2020-07-01"), None],
            ["BY-2020-005", "YC-GZ01", "420100", D("2020-07-01"), None],
        ]),
    }
    for title, (header, rows) in sheets.items():
        ws = wb.create_sheet(title)
        ws.append(header)
        for row in rows:
            ws.append([float(v) if isinstance(v, Decimal) else v for v in row])
    wb.save(HERE / "yichang-enterprise-2021.xlsx")


# ------------------------------------------------------------------------------------------- Tonghua CSV directory
TH = {k: uscc(r, b) for k, r, b in [
    ("dongbao", "220502", "MA0Y0A01"), ("gangtie", "220502", "MA0Y0A02"), ("putaojiu", "220521", "MA0Y0A03"),
    ("yiyao", "220581", "MA0Y0A04"), ("jidian", "220523", "MA0Y0A05"), ("wuliu", "220524", "MA0Y0A06"),
]}


def write_csv(name: str, header: list[str], rows: list[list[object]]) -> None:
    folder = HERE / "tonghua-finance-bureau"
    folder.mkdir(exist_ok=True)
    with open(folder / f"{name}.csv", "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for row in rows:
            w.writerow(["" if v is None else v for v in row])


def build_tonghua() -> None:
    write_csv("schools", ["id", "name", "region_code", "school_type", "is_municipal", "enrolled_students",
                          "demonstration_project", "training_fee_income", "training_cost", "fee_income_in_school_accounts"], [
        ["TH-ZZ01", "通化市职业教育中心", "220502", "secondary_vocational", "是", 3260, "是", "286000.00", "301500.00", "是"],
        ["TH-ZZ02", "通化县职业教育中心", "220521", "secondary_vocational", "否", 1180, "是", "96000.00", "80000.00", "是"],
        ["TH-ZZ03", "辉南县职业技术学校", "220523", "secondary_vocational", "否", "", "是", "", "", ""],
        ["TH-ZZ04", "柳河县职业技术学校", "220524", "secondary_vocational", "否", 960, "否", "0", "", ""],
        ["TH-ZZ05", "梅河口市职业教育中心", "220581", "secondary_vocational", "否", 2210, "", "54000.00", "61000.00", "否"],
        ["TH-ZZ06", "集安市职业教育中心", "220582", "secondary_vocational", "否", 870, "是", "", "", ""],
        ["TH-JS01", "通化市技师学院", "220502", "technical", "是", 4100, "是", "410000.00", "398000.00", "是"],
        ["TH-WS01", "通化市卫生学校", "220502", "secondary_vocational", "是", 2650, "是", "120000.00", "", "是"],
        ["TH-GZ01", "通化医药健康职业学院", "220502", "higher_vocational", "否", 6300, "是", "", "", ""],
    ])
    write_csv("enterprises", ["id", "name", "region_code", "fiscal_year", "total_wages", "education_fund",
                              "frontline_training_spend", "is_key_enterprise"], [
        [TH["dongbao"], "通化东宝药业股份有限公司", "220502", 2020, "52400000.00", "786000.00", "495000.00", "是"],
        [TH["gangtie"], "通化钢铁集团配件制造有限公司", "220502", 2020, "18300000.00", "201300.00", "150000.00", "是"],
        [TH["putaojiu"], "通化葡萄酒股份有限公司", "220521", 2020, "9650000.00", "250900.00", "140000.00", "否"],
        [TH["yiyao"], "梅河口市医药物流有限公司", "220581", 2020, "4100000.00", "", "", ""],
        [TH["jidian"], "辉南县机电设备有限公司", "220523", 2020, "0", "0", "0", "否"],
        [TH["wuliu"], "柳河县商贸物流有限公司", "220524", 2020, "2380000.00", "59500.00", "35700.00", "是"],
    ])
    write_csv("agreements", ["id", "enterprise_id", "school_id", "signed_on", "valid_from", "valid_to"], [
        ["TH-XQ-001", TH["dongbao"], "TH-WS01", "2019-09-01", "", ""],
        ["TH-XQ-002", TH["gangtie"], "TH-ZZ02", "2020-03-01", "", "2023-02-28"],
        ["TH-XQ-003", TH["gangtie"], "TH-JS01", "2018-09-01", "", "2020-08-31"],
        ["TH-XQ-004", TH["wuliu"], "TH-YY09", "2020-09-01", "", ""],
    ])
    insured = ["是", "是", "是", "否", "是", "", "是", "是", "否", "是"]
    titles = ["电工（四级）", "焊工（三级）", "药物制剂工（四级）", "育婴员（四级）", "数控车工（三级）"]
    owners = [TH["dongbao"], TH["gangtie"], TH["putaojiu"], TH["yiyao"], TH["wuliu"]]
    certs = []
    for i in range(30):
        certs.append([f"ZS-2020-{i + 1:04d}", f"YG{i + 1:05d}", owners[i % 5], insured[i % 10],
                      (dt.date(2020, 1, 15) + dt.timedelta(days=23 * i)).isoformat(), titles[i % 5]])
    certs.append(["ZS-2019-0099", "YG09999", TH["dongbao"], "是", "2019-06-30", "电工（四级）"])
    certs.append(["ZS-2020-0100", "YG10000", uscc("220502", "MA0Y0A99"), "是", "2020-10-10", "焊工（四级）"])
    write_csv("certificates", ["id", "employee_id", "enterprise_id", "insured", "obtained_on", "title"], certs)
    write_csv("land_applications", ["id", "enterprise_id", "region_code", "builds_vocational_school",
                                    "in_allocation_catalogue"], [
        ["TD-2020-01", TH["dongbao"], "220502", "是", "是"],
        ["TD-2020-02", TH["gangtie"], "220502", "是", "否"],
        ["TD-2020-03", TH["putaojiu"], "220521", "否", ""],
        ["TD-2021-04", TH["wuliu"], "220524", "是", ""],
    ])


# ------------------------------------------------------------------------------------------- JSON documents
def build_json() -> None:
    me = TH["dongbao"]
    doc = {
        "enterprises": [{"id": me, "name": "通化东宝药业股份有限公司", "region_code": "220502", "fiscal_year": 2021,
                         "total_wages": "55800000.00", "education_fund": "820000.00",
                         "frontline_training_spend": "480000.00", "is_key_enterprise": True}],
        "schools": [{"id": "TH-WS01", "name": "通化市卫生学校", "region_code": "220502",
                     "school_type": "secondary_vocational", "is_municipal": True}],
        "agreements": [{"id": "TH-XQ-001", "enterprise_id": me, "school_id": "TH-WS01", "signed_on": "2019-09-01"},
                       {"id": "TH-XQ-010", "enterprise_id": me, "school_id": "TH-GZ01", "signed_on": "2021-09-01"}],
        "certificates": [
            {"id": "ZS-2021-0001", "employee_id": "YG00101", "enterprise_id": me, "insured": True,
             "obtained_on": "2021-05-20", "title": "药物制剂工（四级）"},
            {"id": "ZS-2021-0002", "employee_id": "YG00102", "enterprise_id": me, "insured": None,
             "obtained_on": "2021-06-18", "title": "化学检验员（四级）"},
            {"id": "ZS-2021-0003", "employee_id": "YG00103", "enterprise_id": me, "insured": False,
             "obtained_on": "2021-08-02", "title": "电工（四级）"},
        ],
        "land_applications": [{"id": "TD-2021-07", "enterprise_id": me, "region_code": "220502",
                               "builds_vocational_school": True}],
    }
    (HERE / "tonghua-self-assessment.json").write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n",
                                                       encoding="utf-8")
    bad = {
        "enterprises": [
            {"id": uscc("220502", "MA0Y0B01"), "name": "通化示例甲公司", "region_code": "220502",
             "total_wages": "1000000.00", "education_fund": "15000.00"},
            {"id": "91220502MA0Y0B02X9", "name": "校验码错误的公司", "region_code": "220502"},
            {"id": uscc("220502", "MA0Y0B03"), "name": "金额三位小数的公司", "region_code": "220502",
             "total_wages": "1000000.005", "total_wage": "1"},
            {"id": uscc("220502", "MA0Y0B01"), "name": "重复的公司", "region_code": "220502"},
        ],
        "agreements": [{"id": "XQ-BAD", "enterprise_id": uscc("220502", "MA0Y0B01"), "school_id": "TH-ZZ01",
                        "signed_on": "2021-02-30"}],
    }
    (HERE / "bad-records.json").write_text(json.dumps(bad, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------------- as people keep them
def _money_text(v: Decimal, k: int) -> object:
    """Money as an accountant types it, varied by row: ¥1,950.50, 2345.67元, ￥12,000, or a numeric cell."""
    style = k % 4
    if style == 0:
        return f"¥{v:,.2f}"
    if style == 1:
        return f"{v}元"
    if style == 2:
        return f"￥{v:,.2f}"
    return float(v)


def _date_text(d: dt.date | None, k: int) -> object:
    """A date as Excel on Chinese Windows shows it, varied by row: 2021/3/5, 2021年3月5日, 2021.3.5, a date cell."""
    if d is None:
        return None
    style = k % 4
    if style == 0:
        return f"{d.year}/{d.month}/{d.day}"
    if style == 1:
        return f"{d.year}年{d.month}月{d.day}日"
    if style == 2:
        return f"{d.year}.{d.month}.{d.day}"
    return dt.datetime(d.year, d.month, d.day)


_TYPE_ZH = {"secondary_vocational": "中职", "higher_vocational": "高职", "technical": "技工院校"}
_KIND_ZH = {"teacher_practice": "教师实践", "student_internship": "学生实习"}


def build_yichang_accountant() -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()

    def sheet(title: str, caption: str, header: list[str], rows: list[list[object]]) -> None:
        ws = wb.active if wb.active.title == "Sheet" and wb.active.max_row == 1 and not wb.active["A1"].value \
            else wb.create_sheet()
        ws.title = title
        ws.append([caption])
        ws["A1"].font = Font(bold=True, size=14)
        ws.append(["填报单位：宜昌三峡机电装备有限公司财务部", None, None, "单位：元"])
        ws.append([])
        ws.append(header)
        for row in rows:
            ws.append(row)

    sheet("企业信息", "2021 年度企业基本情况", ["统一社会信用代码", "企业名称", "行政区划代码", "所属年度", "工资总额（元）",
                                     "职工教育经费（元）", "是否重点企业", "深度参与校企合作并取得突出成效",
                                     "重视职工教育培训", "发挥引领作用", "综合实力较强"],
          [[YC, "宜昌三峡机电装备有限公司", "420502", 2021, "38,650,000.00", "¥579,750.00", "否", "√", "√", "是", None]])
    sheet("学校", "合作院校名单", ["学校代码", "学校名称", "所在地行政区划代码", "学校类型", "是否市本级", "在校生人数"],
          [[i, n, r, _TYPE_ZH[t], "是" if m else "否", f"{s:,}"] for i, n, r, t, m, s in YC_SCHOOLS])
    sheet("校企合作协议", "校企合作协议台账", ["协议编号", "企业统一社会信用代码", "学校代码", "签订日期", "生效日期", "截止日期"],
          [[a, e, sc, _date_text(d1, k), _date_text(d2, k + 1), _date_text(d3, k + 2)]
           for k, (a, e, sc, d1, d2, d3) in enumerate(YC_AGREEMENTS)])
    pays = yichang_payments()
    total = sum((p[4] for p in pays), Decimal(0))
    sheet("实习报酬", "2021 年学生实习报酬发放明细", ["支付编号", "企业统一社会信用代码", "学校代码", "学生学号",
                                          "实习报酬金额（元）", "支付日期"],
          [[i, e, sc, st, _money_text(v, k), _date_text(d, k)] for k, (i, e, sc, st, v, d) in enumerate(pays)]
          + [["合计", None, None, None, f"¥{total:,.2f}", None], [],
             ["制表人：王会计", None, "审核人：李经理", None, "填报日期：2022年1月15日"]])
    sheet("实践费用", "与学生实习、教师实践活动相关的费用", ["费用编号", "企业统一社会信用代码", "学校代码", "费用类别",
                                               "费用金额", "发生日期", "是否合理"], [
        ["FY-2021-01", YC, "YC-GZ01", _KIND_ZH["teacher_practice"], "18,600.00", "2021/7/12", "√"],
        ["FY-2021-02", YC, "YC-GZ01", _KIND_ZH["student_internship"], "¥42,380.40", "2021年9月3日", "√"],
        ["FY-2021-03", YC, "YC-ZZ02", _KIND_ZH["student_internship"], 69157.68, dt.datetime(2021, 10, 15), None],
        ["FY-2021-04", YC, None, _KIND_ZH["teacher_practice"], "8800元", "2021.11.20", "×"],
        ["FY-2020-09", YC, "YC-JS03", _KIND_ZH["student_internship"], "5,600.00", "2020/5/28", "√"],
    ])
    sheet("毕业生就业", "毕业生在宜就业情况", ["毕业生编号", "学校代码", "就业地行政区划代码", "就业起始日期", "就业截止日期"], [
        ["BY-2019-001", "YC-GZ01", "420502", "2019/7/15", None],
        ["BY-2021-002", "YC-ZZ02", "420502", "2021年7月1日", None],
        ["BY-2020-003", "YC-JS03", "420502", "2020.7.10", "2021/3/31"],
        ["BY-2020-004", "YC-GZ01", None, dt.datetime(2020, 7, 1), None],
        ["BY-2020-005", "YC-GZ01", "420100", "2020/7/1", None],
    ])
    wb.save(HERE / "yichang-accountant-2021.xlsx")


_GBK_FILES = {  # canonical file -> (Chinese file name, title line or None, Chinese headers)
    "schools": ("学校", "通化市职业院校基本情况（财政局导出）", ["学校代码", "学校名称", "所在地行政区划代码", "学校类型",
                                                  "是否市本级", "在校生人数", "是否示范性实训基地建设",
                                                  "培训服务收费收入（元）", "培训服务成本（元）", "收入纳入学校财务统一管理"]),
    "enterprises": ("企业", "通化市产教融合企业名单", ["统一社会信用代码", "企业名称", "注册地行政区划代码", "所属年度",
                                           "工资总额（元）", "职工教育经费（元）", "一线职工教育培训经费（元）", "是否重点企业"]),
    "agreements": ("校企合作协议", None, ["协议编号", "企业统一社会信用代码", "学校代码", "签订日期", "生效日期", "截止日期"]),
    "certificates": ("职业资格证书", "2020 年职业资格证书补贴申报汇总", ["证书编号", "职工编号", "企业统一社会信用代码",
                                                          "是否参保", "取得日期", "证书名称"]),
    "land_applications": ("建设用地", None, ["用地申请编号", "企业统一社会信用代码", "用地所在地行政区划代码",
                                        "投资或合作建设职业学校", "符合《划拨用地目录》"]),
}


def build_tonghua_gbk() -> None:
    """The canonical Tonghua CSV files rewritten as a finance bureau exports them (GBK), from the files themselves."""
    src = HERE / "tonghua-finance-bureau"
    folder = HERE / "tonghua-finance-bureau-gbk"
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*.csv"):
        old.unlink()
    for stem, (name, title, header) in _GBK_FILES.items():
        with open(src / f"{stem}.csv", encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
        fields = rows[0]
        out = io.StringIO(newline="")
        w = csv.writer(out, lineterminator="\r\n")  # as Excel writes it
        if title:
            w.writerow([title] + [""] * (len(header) - 1))
        w.writerow(header)
        totals: dict[int, Decimal] = {}
        for k, row in enumerate(rows[1:]):
            cells = []
            for i, (f, v) in enumerate(zip(fields, row)):
                if v and f in ("signed_on", "valid_from", "valid_to", "obtained_on"):
                    d = dt.date.fromisoformat(v)
                    v = f"{d.year}/{d.month}/{d.day}"  # Excel's short date on Chinese Windows
                elif v and f in ("total_wages", "education_fund", "frontline_training_spend", "training_fee_income",
                                 "training_cost"):
                    totals[i] = totals.get(i, Decimal(0)) + Decimal(v)
                    v = f"{Decimal(v):,.2f}"
                elif v and f == "school_type":
                    v = _TYPE_ZH[v]
                cells.append(v)
            w.writerow(cells)
        if totals:  # a totals line, as the clerk's sheet has it
            w.writerow(["合计" if i == 1 else (f"{totals[i]:,.2f}" if i in totals else "") for i in range(len(header))])
        if stem == "enterprises":  # and the form's footer
            w.writerow(["制表人：财政局教科文科", "", "填报日期：2021年3月31日"] + [""] * (len(header) - 3))
        (folder / f"{name}.csv").write_bytes(out.getvalue().encode("gbk"))


if __name__ == "__main__":
    build_yichang()
    build_tonghua()
    build_json()
    build_yichang_accountant()
    build_tonghua_gbk()
    print("examples rebuilt in", HERE)
