"""Names of the county-level divisions of the cities the shipped packs cover (GB/T 2260 codes).

A small table, not a gazetteer: 宜昌市 (4205xx) and 通化市 (2205xx). :func:`district_name` names a six-digit code
of these cities, falls back to the city for a code of the city not listed, and gives None elsewhere.
"""

from __future__ import annotations

__all__ = ["DISTRICTS", "CITIES", "district_name", "city_name"]

CITIES: dict[str, str] = {"4205": "宜昌市", "2205": "通化市"}

DISTRICTS: dict[str, str] = {
    # 宜昌市 420500
    "420500": "宜昌市",
    "420501": "宜昌市市辖区",
    "420502": "西陵区",
    "420503": "伍家岗区",
    "420504": "点军区",
    "420505": "猇亭区",
    "420506": "夷陵区",
    "420525": "远安县",
    "420526": "兴山县",
    "420527": "秭归县",
    "420528": "长阳土家族自治县",
    "420529": "五峰土家族自治县",
    "420581": "宜都市",
    "420582": "当阳市",
    "420583": "枝江市",
    # 通化市 220500
    "220500": "通化市",
    "220501": "通化市市辖区",
    "220502": "东昌区",
    "220503": "二道江区",
    "220521": "通化县",
    "220523": "辉南县",
    "220524": "柳河县",
    "220581": "梅河口市",
    "220582": "集安市",
}


def city_name(code: str | None) -> str | None:
    """The city of a region code (宜昌市, 通化市), or None outside them."""
    if not code:
        return None
    return CITIES.get(code[:4])


def district_name(code: str | None) -> str | None:
    """The district, county or county-level city of a six-digit code; the city's name for an unlisted code of the
    city (``宜昌市（420599）``); None for a code outside the cities."""
    if not code:
        return None
    if code in DISTRICTS:
        return DISTRICTS[code]
    city = city_name(code)
    return f"{city}（{code}）" if city else None
