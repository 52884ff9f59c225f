"""Hostile and careless input, one generated class at a time (issue 12, points 2-4): bounded resources, values
that are exact and unambiguous, ``--param`` checked against its cited range. Each test generates its class
(sizes, depths, spellings) rather than trying one example; the laws are those of the README: a refusal is one
line naming the limit and how to raise it, a bad record is rejected alone, nothing is lost.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SCALE, make_uscc
from engine.data.docparse import parse_yaml_document
from engine.errors import FatalError
from engine.data.limits import DEFAULT_LIMITS, Limits, parse_limits
from engine.data.loaders import load_dataset
from engine.policy.params import override_warnings, parse_overrides
from engine.policy.packs import load_packs, shipped_packs_dir

_BESIDE = Path(sys.executable).parent / "chanjiao"
CHANJIAO = str(_BESIDE) if _BESIDE.exists() else "chanjiao"
ENT = make_uscc("220502", 1)


def some(n: int) -> Any:
    return settings(max_examples=n * SCALE, deadline=None, suppress_health_check=list(HealthCheck))


def school(i: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"S{i}", "name": f"职校{i}", "region_code": "220502", "school_type": "technical", **extra}


def one_line(exc: BaseException, *fragments: str) -> None:
    """One line in Chinese and in English (--lang en), each fragment in one of them."""
    from engine.messages import render

    text = str(exc)
    english = render(exc.args[0], "en") if exc.args else text
    for t in (text, english):
        assert "\n" not in t and "Traceback" not in t
    for f in fragments:
        assert f in text or f in english, (text, english)


def write(tmp: Path, name: str, data: bytes | str) -> Path:
    p = tmp / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return p


def rejected_rows(ds: Any, rtype: str) -> set[int]:
    return {e.row for e in ds.errors if e.record_type == rtype}


# ---------------------------------------------------------------------------------------------- non-regular files


@pytest.mark.parametrize("name", ["data.json", "data.yaml", "data.xlsx", "enterprises.csv"])
def test_fifo_is_refused_not_read(tmp_path: Path, name: str) -> None:
    fifo = tmp_path / name
    os.mkfifo(fifo)
    target = tmp_path if name.endswith(".csv") else fifo  # a CSV directory holding a FIFO too
    t0 = time.monotonic()
    with pytest.raises(FatalError) as info:
        load_dataset(target)
    assert time.monotonic() - t0 < 5
    one_line(info.value, "不是普通文件", "FIFO")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_device_is_refused(device: str) -> None:
    if not Path(device).exists():
        pytest.skip(f"no {device}")
    with pytest.raises(FatalError) as info:
        load_dataset(device)
    one_line(info.value, "not a regular file")


def test_fifo_in_a_rule_pack_is_an_error_not_a_hang(tmp_path: Path) -> None:
    import shutil

    pack = tmp_path / "tonghua-2019"
    shutil.copytree(shipped_packs_dir() / "tonghua-2019", pack)
    os.mkfifo(pack / "rules" / "zz_fifo.yaml")
    _, errors = load_packs([pack], include_shipped=False)
    assert any("不是普通文件" in str(e) for e in errors)


def test_cli_fifo_one_line_exit_2(tmp_path: Path) -> None:
    fifo = tmp_path / "data.json"
    os.mkfifo(fifo)
    proc = subprocess.run([CHANJIAO, "check", str(fifo), "--as-of", "2021-12-31"], capture_output=True, text=True,
                          timeout=60)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "不是普通文件" in lines[0], proc.stderr


# ---------------------------------------------------------------------------------------------- size limits


@some(15)
@given(fmt=st.sampled_from(["json", "yaml", "csv"]), limit=st.integers(50, 400), pad=st.integers(0, 400))
def test_file_size_limit(tmp_path_factory: Any, fmt: str, limit: int, pad: int) -> None:
    tmp = tmp_path_factory.mktemp("size")
    rec = school(1, name="x" * pad + "y")
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, list(rec))
        w.writeheader()
        w.writerow(rec)
        path = write(tmp, "schools.csv", buf.getvalue())
    else:
        path = write(tmp, f"d.{fmt}", json.dumps({"schools": [rec]}, ensure_ascii=False))
    size = path.stat().st_size
    limits = Limits(file_size=limit)
    if size > limit:
        with pytest.raises(FatalError) as info:
            load_dataset(tmp if fmt == "csv" else path, limits=limits)
        one_line(info.value, "文件大小超过上限", "--limit file_size=")
    else:
        assert len(load_dataset(tmp if fmt == "csv" else path, limits=limits).records["schools"]) == 1


@some(20)
@given(lengths=st.lists(st.integers(0, 300), min_size=1, max_size=8), limit=st.integers(20, 250),
       crlf=st.booleans())
def test_csv_line_length_limit(tmp_path_factory: Any, lengths: list[int], limit: int, crlf: bool) -> None:
    tmp = tmp_path_factory.mktemp("lines")
    end = "\r\n" if crlf else "\n"
    header = "id,name,region_code,school_type"
    lines = [header] + [f"S{i},{'x' * n}y,220502,technical" for i, n in enumerate(lengths)]
    write(tmp, "schools.csv", end.join(lines) + end)
    sizes = [len(line.encode()) + (1 if crlf else 0) for line in lines]
    too_long = [i + 1 for i, n in enumerate(sizes) if n > limit]
    if too_long:
        with pytest.raises(FatalError) as info:
            load_dataset(tmp, limits=Limits(line_length=limit))
        one_line(info.value, f"schools.csv:{too_long[0]}", "--limit line_length=")
    else:
        assert len(load_dataset(tmp, limits=Limits(line_length=limit)).records["schools"]) == len(lengths)


@some(10)
@given(columns=st.integers(1, 60), limit=st.integers(4, 50))
def test_csv_column_limit(tmp_path_factory: Any, columns: int, limit: int) -> None:
    tmp = tmp_path_factory.mktemp("cols")
    header = ["id", "name", "region_code", "school_type"] + [f"extra{i}" for i in range(columns)]
    write(tmp, "schools.csv", ",".join(header) + "\nS1,a,220502,technical\n")
    if len(header) > limit:
        with pytest.raises(FatalError) as info:
            load_dataset(tmp, limits=Limits(csv_columns=limit))
        one_line(info.value, "CSV 列数超过上限", "--limit csv_columns=")
    else:
        load_dataset(tmp, limits=Limits(csv_columns=limit))


def _workbook(rows: int, cols: int) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "schools"
    ws.append(["id", "name", "region_code", "school_type"] + [f"x{i}" for i in range(max(0, cols - 4))])
    for r in range(rows):
        ws.append([f"S{r}", "a", "220502", "technical"] + ["v"] * max(0, cols - 4))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@some(8)
@given(rows=st.integers(1, 30), cols=st.integers(4, 12), limit=st.integers(10, 200))
def test_xlsx_cell_limit(tmp_path_factory: Any, rows: int, cols: int, limit: int) -> None:
    path = write(tmp_path_factory.mktemp("cells"), "d.xlsx", _workbook(rows, cols))
    if (rows + 1) * cols > limit:  # the header row's cells are read too
        with pytest.raises(FatalError) as info:
            load_dataset(path, limits=Limits(xlsx_cells=limit))
        one_line(info.value, "XLSX 单元格数超过上限", "--limit xlsx_cells=")
    else:
        assert len(load_dataset(path, limits=Limits(xlsx_cells=limit)).records["schools"]) == rows


def _patch_part(blob: bytes, part: str, edit: Any) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(blob))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for n in src.namelist():
            out.writestr(n, edit(src.read(n)) if n == part else src.read(n))
    return buf.getvalue()


def test_xlsx_forged_dimension_counts_the_padded_cells(tmp_path: Path) -> None:
    """A sheet claiming A1:XFD1048576 makes the reader pad every row to 16,384 cells: counted, so bounded."""
    blob = _patch_part(_workbook(10, 4), "xl/worksheets/sheet1.xml",
                       lambda x: x.replace(b'<dimension ref="A1:D11" />', b'<dimension ref="A1:XFD1048576" />'))
    path = write(tmp_path, "d.xlsx", blob)
    with pytest.raises(FatalError) as info:
        load_dataset(path, limits=Limits(xlsx_cells=100_000))  # 10 rows x 16,384 padded cells
    one_line(info.value, "--limit xlsx_cells=")
    assert len(load_dataset(path).records["schools"]) == 10  # within the default: every record still read


@pytest.mark.parametrize("megabytes", [2, 8])
def test_xlsx_zip_bomb_is_refused_before_unpacking(tmp_path: Path, megabytes: int) -> None:
    blob = _patch_part(_workbook(1, 4), "xl/sharedStrings.xml" if False else "docProps/app.xml",
                       lambda x: x + b" " * (megabytes << 20))
    path = write(tmp_path, "d.xlsx", blob)
    assert path.stat().st_size < 200_000  # a few kilobytes that unpack to megabytes
    with pytest.raises(FatalError) as info:
        load_dataset(path, limits=Limits(xlsx_unzipped=1 << 20))
    one_line(info.value, "XLSX 解压后大小超过上限", "--limit xlsx_unzipped=")


def test_parse_limits() -> None:
    assert parse_limits(["file_size=2G", "nesting=64", "line-length=4M"]) == Limits(
        file_size=2 << 30, nesting=64, line_length=4 << 20)
    for bad in ["nope=1", "file_size", "file_size=-1", "file_size=0", "file_size=1X"]:
        with pytest.raises(FatalError) as info:
            parse_limits([bad])
        one_line(info.value, "--limit")


# ---------------------------------------------------------------------------------------------- YAML aliases


def laughs(width: int, depth: int) -> tuple[str, int]:
    """A "billion laughs" document and the nodes its aliases add when expanded."""
    lines = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    size = {0: width + 1}
    for d in range(1, depth + 1):
        lines.append(f"l{d}: &l{d} [" + ", ".join([f"*l{d - 1}"] * width) + "]")
        size[d] = 1 + width * size[d - 1]
    added = sum(width * size[d - 1] for d in range(1, depth + 1))
    return "\n".join(lines) + "\n", added


@some(25)
@given(width=st.integers(2, 10), depth=st.integers(1, 9), limit=st.integers(10, 5000))
def test_yaml_alias_expansion_is_bounded(width: int, depth: int, limit: int) -> None:
    text, added = laughs(width, depth)
    limits = Limits(yaml_alias_nodes=limit)
    t0 = time.monotonic()
    if added > limit:
        with pytest.raises(FatalError) as info:
            parse_yaml_document(text, "d.yaml", limits)
        one_line(info.value, "YAML 别名展开节点数超过上限", "--limit yaml_alias_nodes=")
    else:
        parse_yaml_document(text, "d.yaml", limits)
    assert time.monotonic() - t0 < 10


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "a: &a {b: *a}\n", "a: &a [1, [2, *a]]\n"])
def test_recursive_alias_is_refused(text: str) -> None:
    with pytest.raises(FatalError) as info:
        parse_yaml_document(text, "d.yaml")
    one_line(info.value, "递归的 YAML 别名")


@pytest.mark.parametrize("file", ["pack.yaml", "rules/frontline_share.yaml"])
def test_alias_bomb_in_a_rule_pack_is_an_error_at_its_line(tmp_path: Path, file: str) -> None:
    import shutil

    pack = tmp_path / "tonghua-2019"
    shutil.copytree(shipped_packs_dir() / "tonghua-2019", pack)
    target = pack / file
    target.write_text(target.read_text(encoding="utf-8") + "\n" + laughs(9, 9)[0].replace("l", "zz"),
                      encoding="utf-8")
    t0 = time.monotonic()
    _, errors = load_packs([pack], include_shipped=False)
    assert time.monotonic() - t0 < 30
    assert any("yaml_alias_nodes" in str(e) and e.line > 0 for e in errors), errors


# ---------------------------------------------------------------------------------------------- nesting, huge numbers


def _nested(depth: int, flow_yaml: bool = True) -> str:
    return "[" * depth + "]" * depth


@some(25)
@given(fmt=st.sampled_from(["json", "yaml"]), depth=st.integers(1, 120) | st.sampled_from([3000, 100_000]),
       field=st.sampled_from(["name", "enrolled_students", "id"]), position=st.integers(0, 2))
def test_deep_nesting_rejects_that_record_only(tmp_path_factory: Any, fmt: str, depth: int, field: str,
                                               position: int) -> None:
    tmp = tmp_path_factory.mktemp("deep")
    records = [json.dumps(school(i), ensure_ascii=False) for i in range(3)]
    without = {k: v for k, v in school(position).items() if k != field}  # the field once (twice is its own error)
    records[position] = json.dumps(without, ensure_ascii=False)[:-1] + f', "{field}": {_nested(depth)}}}'
    text = '{"schools": [' + ", ".join(records) + "]}"
    path = write(tmp, f"d.{fmt}", text)  # JSON is YAML too (flow style)
    ds = load_dataset(path)
    assert rejected_rows(ds, "schools") == {position + 1}
    assert len(ds.records["schools"]) == 2
    if 3 + depth > DEFAULT_LIMITS.nesting:
        assert any("嵌套超过" in e.message for e in ds.errors)


@some(10)
@given(depth=st.integers(30, 400))
def test_deep_block_nesting_in_yaml(tmp_path_factory: Any, depth: int) -> None:
    text = "schools:\n  - {id: S1, name: a, region_code: '220502', school_type: technical}\n  - id: S2\n    name:\n"
    text += "      " + "- " * depth + "x\n"
    ds = load_dataset(write(tmp_path_factory.mktemp("block"), "d.yaml", text))
    assert rejected_rows(ds, "schools") == {2} and [s.id for s in ds.records["schools"]] == ["S1"]


@some(25)
@given(fmt=st.sampled_from(["json", "yaml", "csv"]), digits=st.integers(1, 6000),
       field=st.sampled_from(["enrolled_students", "training_cost", "training_fee_income"]),
       fraction=st.sampled_from(["", ".5", ".123"]))
def test_huge_numbers_reject_one_record(tmp_path_factory: Any, fmt: str, digits: int, field: str,
                                        fraction: str) -> None:
    tmp = tmp_path_factory.mktemp("big")
    number = "9" * digits + (fraction if field != "enrolled_students" else "")
    rows = [school(1), school(2), school(3)]
    if fmt == "csv":
        header = list(rows[0]) + [field]
        lines = [",".join(header)] + [",".join(list(r.values()) + [number if i == 1 else ""])
                                      for i, r in enumerate(rows)]
        write(tmp, "schools.csv", "\n".join(lines) + "\n")
        ds = load_dataset(tmp)
    else:
        recs = [json.dumps(r, ensure_ascii=False) for r in rows]
        recs[1] = recs[1][:-1] + f', "{field}": {number}}}'
        ds = load_dataset(write(tmp, f"d.{fmt}", '{"schools": [' + ", ".join(recs) + "]}"))
    # enrolled_students is a count: it gets no fraction, so a .123 makes only money fields invalid
    too_big = digits > (17 if field == "enrolled_students" else 16) or (fraction == ".123" and field != "enrolled_students")
    assert rejected_rows(ds, "schools") == ({2} if too_big else set())
    assert len(ds.records["schools"]) == (2 if too_big else 3)
    for e in ds.errors:
        json.dumps(e.as_dict(), ensure_ascii=False).encode("utf-8")


# ---------------------------------------------------------------------------------------------- exact YAML values

YAML_SPELLINGS = st.one_of(
    st.integers(0, 10**6).map(lambda n: f"0{n}"),                      # 007: octal to YAML 1.1
    st.integers(0, 10**6).map(lambda n: f"0x{n:X}"),                    # hexadecimal
    st.integers(0, 10**6).map(lambda n: f"0o{n:o}"),
    st.tuples(st.integers(1, 9), st.integers(0, 30)).map(lambda t: f"{t[0]}e{t[1]}"),
    st.integers(1, 10**6).map(lambda n: f"{n:_}"),                      # 1_000
    st.tuples(st.integers(1, 59), st.integers(0, 59)).map(lambda t: f"{t[0]}:{t[1]:02d}"),  # sexagesimal
    st.sampled_from(["true", "false", "yes", "no", "on", "off", "y", "n", "True", "NO", ".inf", ".nan", "-.inf",
                     "2021-01-01", "2021-02-30", "1.0", "+12", "-0"]),
)


@some(40)
@given(spelling=YAML_SPELLINGS)
def test_yaml_ids_are_the_text_written(spelling: str) -> None:
    doc = parse_yaml_document(f"schools:\n  - id: {spelling}\n    school_id: {spelling}\n", "d.yaml")
    assert doc["schools"][0] == {"id": spelling, "school_id": spelling}


@some(40)
@given(whole=st.integers(0, 10**18), decimals=st.sampled_from(["", ".5", ".05", ".50", ".123", ".0"]))
def test_yaml_money_behaves_as_json(tmp_path_factory: Any, whole: int, decimals: str) -> None:
    tmp = tmp_path_factory.mktemp("money")
    number = f"{whole}{decimals}"
    rec = json.dumps(school(1))[:-1] + f', "training_cost": {number}}}'
    as_json = load_dataset(write(tmp, "d.json", '{"schools": [' + rec + "]}"))
    as_yaml = load_dataset(write(tmp, "d.yaml", f"schools:\n  - {rec}\n"))
    block = "schools:\n" + "".join(f"  {'-' if i == 0 else ' '} {k}: {v}\n"
                                   for i, (k, v) in enumerate({**school(1), "training_cost": number}.items()))
    as_block = load_dataset(write(tmp, "b.yaml", block))
    for ds in (as_yaml, as_block):
        assert [e.message for e in ds.errors] == [e.message for e in as_json.errors]
        assert [s.training_cost for s in ds.records["schools"]] == [s.training_cost for s in as_json.records["schools"]]
    if not as_json.errors:
        assert as_json.records["schools"][0].training_cost == Decimal(number).quantize(Decimal("0.01"))


def _bad_day(t: tuple[int, int, int]) -> str:
    y, m, extra = t
    import calendar

    return f"{y:04d}-{m:02d}-{calendar.monthrange(y, m)[1] + extra:02d}"


@some(25)
@given(day=st.tuples(st.integers(1900, 2100), st.integers(1, 12), st.integers(1, 3)).map(_bad_day),
       field=st.sampled_from(["signed_on", "valid_from", "valid_to"]))
def test_impossible_dates_reject_that_record_in_every_format(tmp_path_factory: Any, day: str, field: str) -> None:
    tmp = tmp_path_factory.mktemp("dates")
    rows = [{"id": f"A{i}", "enterprise_id": ENT, "school_id": "S1", "signed_on": "2020-01-01"} for i in range(3)]
    rows[1][field] = day
    header = ["id", "enterprise_id", "school_id", "signed_on", "valid_from", "valid_to"]
    (tmp / "csv").mkdir()
    write(tmp / "csv", "agreements.csv", "\n".join([",".join(header)] + [",".join(r.get(h, "") for h in header)
                                                                        for r in rows]) + "\n")
    plain = "agreements:\n" + "".join("  - {" + ", ".join(f"{k}: {v}" for k, v in r.items()) + "}\n" for r in rows)
    for path in (write(tmp, "d.json", json.dumps({"agreements": rows})), write(tmp, "d.yaml", plain), tmp / "csv"):
        ds = load_dataset(path)
        assert rejected_rows(ds, "agreements") == {2}, (path, ds.errors)
        assert [e.field for e in ds.errors] == [field] and "没有这一天" in ds.errors[0].message
        assert [a.id for a in ds.records["agreements"]] == ["A0", "A2"]


def test_lone_surrogates_are_rejected_and_writable(tmp_path: Path) -> None:
    rows = [school(1), school(2, name="\ud800x"), school(3, id="S\udfff")]
    path = write(tmp_path, "d.json", json.dumps({"schools": rows}))  # ensure_ascii escapes them as \ud800
    ds = load_dataset(path)
    assert rejected_rows(ds, "schools") == {2, 3}
    for e in ds.errors:
        json.dumps(e.as_dict(), ensure_ascii=False).encode("utf-8")


# ---------------------------------------------------------------------------------------------- --param ranges


@pytest.fixture(scope="module")
def packs() -> Any:
    return load_packs()[0]


@some(40)
@given(value=st.decimals(min_value=-10**6, max_value=10**6, places=2, allow_nan=False),
       spelling=st.sampled_from(["{}", "{}元", "{}元/证", " {} "]))
def test_certificate_subsidy_override_against_its_cited_range(packs: Any, value: Decimal, spelling: str) -> None:
    item = "certificate_subsidy_amount=" + spelling.format(value)
    if Decimal(1000) <= value <= Decimal(2000):
        assert parse_overrides([item], packs) == {"certificate_subsidy_amount": value}
        assert override_warnings({"certificate_subsidy_amount": value}, packs) == []
        return
    with pytest.raises(ValueError) as info:
        parse_overrides([item], packs)
    one_line(info.value, "超出范围", "二（二）11", "1000—2000元补贴", "--allow-out-of-range")
    assert parse_overrides([item], packs, allow_out_of_range=True) == {"certificate_subsidy_amount": value}
    (w,) = override_warnings({"certificate_subsidy_amount": value}, packs)
    assert w.record_type == "parameters" and "假设测算" in w.message


@pytest.mark.parametrize("text", ["NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf", "1e3", "1,500", "", "abc",
                                  "1500美元", "0x5DC", "１５００", "1500元/人"])
def test_non_numbers_and_other_units_are_refused(packs: Any, text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_overrides([f"certificate_subsidy_amount={text}"], packs, allow_out_of_range=True)
    one_line(info.value, "不是数字")


@some(20)
@given(percent=st.decimals(min_value=0, max_value=150, places=1, allow_nan=False))
def test_ratio_in_percent(packs: Any, percent: Decimal) -> None:
    item = f"frontline_min_share={percent}%"
    if percent <= 100:
        assert parse_overrides([item], packs) == {"frontline_min_share": percent / 100}
    else:
        with pytest.raises(ValueError, match="超出范围"):
            parse_overrides([item], packs)


def test_every_shipped_number_parameter_has_a_range(packs: Any) -> None:
    for pack in packs:
        for p in pack.parameters.values():
            assert p.type != "number" or p.range is not None, p.name


@pytest.mark.parametrize("edit,message", [
    (("value: 1000.00}", "value: 999.99}"), "outside its range"),
    (("quote: 符合参保条件的企业职工取得职业资格证书的,政府给予1000—2000元补贴\n    values",
      "quote: 政府给予3000元补贴\n    values"), "range.citation.quote is not found"),
])
def test_pack_range_is_linted(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    import shutil

    pack = tmp_path / "tonghua-2019"
    shutil.copytree(shipped_packs_dir() / "tonghua-2019", pack)
    f = pack / "pack.yaml"
    text = f.read_text(encoding="utf-8")
    assert edit[0] in text
    f.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    _, errors = load_packs([pack], include_shipped=False)
    assert any(message in str(e) for e in errors), errors


def test_cli_out_of_range_what_if_says_so(tmp_path: Path) -> None:
    from conftest import EXAMPLES

    base = [CHANJIAO, "check", str(EXAMPLES / "tonghua-finance-bureau"), "--as-of", "2021-12-31", "--format", "json"]
    refused = subprocess.run(base + ["--param", "certificate_subsidy_amount=5000"], capture_output=True, text=True,
                             timeout=120)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "二（二）11" in refused.stderr
    allowed = subprocess.run(base + ["--param", "certificate_subsidy_amount=5000", "--allow-out-of-range"],
                             capture_output=True, text=True, timeout=120)
    doc = json.loads(allowed.stdout)
    assert any(w["record_type"] == "parameters" and "假设测算" in w["message"] for w in doc["warnings"])
    assert "假设测算" in allowed.stderr


# ---------------------------------------------------------------------------------------------- watch survives


def _change(i: int, **extra: Any) -> dict[str, Any]:
    return {"op": "upsert", "record_type": "schools",
            "record": {**school(i % 4, demonstration_project=True, enrolled_students=10 + i),
                       "school_type": "secondary_vocational", **extra}}


def _line(change: dict[str, Any]) -> bytes:
    return json.dumps(change, ensure_ascii=True).encode()


HOSTILE_LINES = {
    "invalid utf-8": st.integers(0, 40).map(lambda k: _line(_change(k))[:20] + b"\xff\xc3" + _line(_change(k))[20:]),
    "truncated utf-8": st.just('{"op": "upsert", "record_type": "schools", "record": {"name": "职'.encode()[:-1]),
    "lone surrogate": st.sampled_from(["\ud800", "a\udfff", "\udbff\udc00"[0]]).map(
        lambda s: _line(_change(1, name=s))),
    "huge number": st.integers(4000, 6000).map(
        lambda n: _line(_change(2))[:-2] + b', "training_cost": ' + b"9" * n + b"}}"),
    "deep nesting": st.integers(DEFAULT_LIMITS.nesting, 5000).map(
        lambda d: _line(_change(3))[:-2] + b', "name": ' + b"[" * d + b"]" * d + b"}}"),
    "bare CR in a string": st.just(_line(_change(1)).replace(b'"name": "', b'"name": "a\rb')),
    "BOM after line 1": st.just(b"\xef\xbb\xbf" + _line(_change(2))),
    "over-long": st.integers(2100, 5000).map(lambda n: _line(_change(1, name="x" * n))),
    "not a change": st.sampled_from([b"[]", b"null", b"42", b'"x"', b"{}", b'{"op": "upsert"}']),
}


@some(30)
@given(data=st.data())
def test_watch_skips_every_bad_line_and_applies_every_other(data: Any) -> None:
    from engine.engines import make_engine
    from engine.run.watch import ChangeError, Watcher, change_lines, read_change

    limits = Limits(line_length=2000)
    valid = [_line(_change(i)) for i in range(data.draw(st.integers(1, 6)))]
    bad_kinds = data.draw(st.lists(st.sampled_from(sorted(HOSTILE_LINES)), min_size=1, max_size=5))
    bad = [data.draw(HOSTILE_LINES[k]) for k in bad_kinds]
    # a valid change first: a BOM is an error on any line but the first
    order = [("ok", valid[0])] + data.draw(st.permutations([("ok", v) for v in valid[1:]] + [("bad", b) for b in bad]))
    bom_first = data.draw(st.booleans())
    lines = [b for _, b in order]
    if bom_first:
        lines[0] = b"\xef\xbb\xbf" + lines[0]  # a BOM on the first line is not an error
    packs = load_packs()[0]

    def run(stream: bytes) -> tuple[dict[Any, Any], list[int]]:
        skipped = []
        with make_engine("reference", packs) as eng:
            watcher = Watcher(eng, dt.date(2021, 12, 31))
            for number, text in change_lines(io.BytesIO(stream), limits):
                try:
                    if isinstance(text, ChangeError):
                        raise text
                    watcher.apply(read_change(text, limits), number)
                except ChangeError as exc:
                    assert "\n" not in str(exc)
                    skipped.append(number)
            return dict(watcher.decisions), skipped

    decisions, skipped = run(b"\n".join(lines) + b"\n")
    assert skipped == [i + 1 for i, (kind, _) in enumerate(order) if kind == "bad"]
    only_valid, none = run(b"\n".join(b for kind, b in order if kind == "ok") + b"\n")
    assert none == [] and decisions == only_valid


def test_cli_watch_reports_each_bad_line_and_the_datasets_rejected_records(tmp_path: Path) -> None:
    start = write(tmp_path, "start.json", json.dumps({"schools": [school(1), school(2, region_code="99")]}))
    bad = [b"\xff\xfe", _line(_change(1, name="\ud800")), _line(_change(2))[:-2] + b', "training_cost": '
           + b"9" * 5000 + b"}}", _line(_change(3))[:-2] + b', "name": ' + b"[" * 3000 + b"]" * 3000 + b"}}",
           _line(_change(1)).replace(b'"name": "', b'"name": "a\rb')]
    lines = [b"\xef\xbb\xbf" + _line(_change(0))] + bad + [_line(_change(5))]
    changes = write(tmp_path, "changes.jsonl", b"\n".join(lines) + b"\r\n")
    proc = subprocess.run([CHANJIAO, "watch", str(changes), "--dataset", str(start), "--as-of", "2021-12-31",
                           "--engine", "reference"], capture_output=True, timeout=120)
    err = proc.stderr.decode("utf-8")
    assert proc.returncode == 1 and "Traceback" not in err, err
    for n in range(2, 2 + len(bad)):
        assert f"第 {n} 行" in err or f"line {n}:" in err, err
    assert "start.json" in err and "schools row 2" in err  # the starting dataset's rejected record
    applied = {json.loads(o)["change"]["line"] for o in proc.stdout.decode().splitlines()}
    assert applied == {1, len(lines)}


# ---------------------------------------------------------------------------------------------- the money bound

_EDGE = 10**16 // 450  # 450 yuan per student: the last enrolment whose subsidy stays below 10¹⁶ yuan


@some(15)
@given(students=st.integers(_EDGE - 3, _EDGE + 3) | st.integers(1, 10**17 - 1),
       base=st.sampled_from([None, "1000", "123456789.12"]))
def test_computed_amounts_stay_within_the_money_bound_in_every_engine(students: int, base: str | None) -> None:
    from engine.engines import make_engine
    from engine.output.reasons import AMOUNT_BEYOND_BOUND
    from engine.data.records import validate_rows

    packs = load_packs()[0]
    ds = validate_rows({"schools": [school(1, school_type="secondary_vocational", demonstration_project=True,
                                           enrolled_students=students)]})
    overrides = parse_overrides([f"school_subsidy_base_per_student={base}"], packs) if base else {}
    docs = []
    for name in ("reference", "vectorised"):
        with make_engine(name, packs) as eng:
            docs.append(eng.evaluate_dataset(ds, dt.date(2021, 12, 31), overrides))
    assert docs[0] == docs[1]
    (d,) = [d for d in docs[0]["decisions"] if d["rule_id"] == "tonghua.school_subsidy"]
    amount = Decimal(base or 1000) * Decimal("0.45") * students
    if amount >= 10**16:
        assert d["status"] == "undetermined" and d["amount"] is None and d["reasons"] == [AMOUNT_BEYOND_BOUND]
    else:
        assert d["status"] == "eligible" and Decimal(d["amount"]) == amount.quantize(Decimal("0.01"))


# ---------------------------------------------------------------------------------------------- the streamed reader


def _stream(folder: Path, **kw: Any) -> Any:
    from engine.run.stream import check_stream

    out = folder.parent / f"{folder.name}-out"
    out.mkdir(exist_ok=True)
    return check_stream(folder, load_packs()[0], dt.date(2021, 12, 31), None, out / "d.csv", "csv", workers=1,
                        progress=False, **kw)


def test_stream_refuses_a_fifo(tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    write(d, "schools.csv", "id,name,region_code,school_type\nS1,a,220502,technical\n")
    os.mkfifo(d / "enterprises.csv")
    with pytest.raises(FatalError) as info:
        _stream(d)
    one_line(info.value, "FIFO")


@some(4)
@given(columns=st.integers(1, 40), limit=st.integers(5, 30))
def test_stream_header_columns_are_bounded(tmp_path_factory: Any, columns: int, limit: int) -> None:
    d = tmp_path_factory.mktemp("scols")
    header = ["id", "name", "region_code", "school_type"] + [f"x{i}" for i in range(columns)]
    write(d, "schools.csv", ",".join(header) + "\nS1,a,220502,technical" + "," * columns + "\n")
    if len(header) > limit:
        with pytest.raises(FatalError) as info:
            _stream(d, limits=Limits(csv_columns=limit))
        one_line(info.value, "--limit csv_columns=")
    else:
        assert _stream(d, limits=Limits(csv_columns=limit)).records == 1


@pytest.mark.parametrize("chunk,ok", [(10_000, False), (50_000, True)])
def test_stream_line_longer_than_its_read_block(tmp_path: Path, chunk: int, ok: bool) -> None:
    d = tmp_path / "in"
    d.mkdir()
    extra = [f"x{i}" for i in range(30)]  # 30 cells of 100,000 bytes: a 3 MB line, each cell a readable field
    write(d, "schools.csv", ",".join(["id", "name", "region_code", "school_type", *extra]) + "\n"
          + "S1,a,220502,technical," + ",".join("y" * 100_000 for _ in extra) + "\n"
          + "S2,b,220502,technical" + "," * len(extra) + "\n")
    if ok:
        assert _stream(d, chunk_enterprises=chunk).records == 2
    else:
        with pytest.raises(FatalError) as info:
            _stream(d, chunk_enterprises=chunk)
        one_line(info.value, "--chunk-size")


@some(25)
@given(mantissa=st.sampled_from(["1", "9.99", "-1", "0", "123456789012345678"]),
       exponent=st.integers(-10**12, 10**12) | st.integers(-30, 30),
       field=st.sampled_from(["enrolled_students", "training_cost"]))
def test_json_exponents_of_any_size_reject_or_accept_one_record(tmp_path_factory: Any, mantissa: str, exponent: int,
                                                                field: str) -> None:
    number = Decimal(f"{mantissa}E{exponent}")
    rec = json.dumps(school(2))[:-1] + f', "{field}": {mantissa}e{exponent}}}'
    ds = load_dataset(write(tmp_path_factory.mktemp("exp"), "d.json",
                            '{"schools": [' + json.dumps(school(1)) + ", " + rec + "]}"))
    assert [s.id for s in ds.records["schools"]][:1] == ["S1"]
    fine = (number == number.to_integral_value() and 0 <= number < 10**17) if field == "enrolled_students" else \
        (0 <= number < 10**16 and number == number.quantize(Decimal("0.01")) if abs(exponent) < 100 else number == 0)
    assert rejected_rows(ds, "schools") == (set() if fine else {2})


@some(8)
@given(bad=st.sampled_from([b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]), where=st.integers(0, 5))
def test_invalid_utf8_in_a_parquet_string_is_one_line(tmp_path_factory: Any, bad: bytes, where: int) -> None:
    """Parquet does not check its strings: invalid UTF-8 in one is refused in one line, never an Arrow exception."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([{"id": ENT, "name": "abcdef", "region_code": "220502"}]), buf,
                   compression="none")
    d = tmp_path_factory.mktemp("pq")
    write(d, "enterprises.parquet", buf.getvalue().replace(b"abcdef", (b"abcdef"[:where] + bad + b"abcdef")[:6]))
    with pytest.raises(FatalError) as info:
        _stream(d)
    one_line(info.value, "enterprises.parquet", "UTF8")


def test_money_bound_is_the_same_in_the_durable_engine_and_the_stream(tmp_path: Path) -> None:
    from engine.run import Checker

    rows = [school(i, school_type="secondary_vocational", demonstration_project=True, enrolled_students=n)
            for i, n in enumerate([_EDGE, _EDGE + 1, 10**17 - 1])]
    d = tmp_path / "in"
    d.mkdir()
    write(d, "schools.csv", "\n".join([",".join(rows[0])] + [",".join(str(v) for v in r.values()) for r in rows]) + "\n")
    checker = Checker()
    docs = {e: checker.check(d, as_of=dt.date(2021, 12, 31), engine=e).document for e in ("reference", "durable")}
    assert docs["reference"] == docs["durable"]
    statuses = {x["subject_id"]: x["status"] for x in docs["reference"]["decisions"]
                if x["rule_id"] == "tonghua.school_subsidy"}
    assert statuses == {"S0": "eligible", "S1": "undetermined", "S2": "undetermined"}
    res = _stream(d)
    import csv as _csv

    with open(tmp_path / "in-out" / "d.csv", encoding="utf-8-sig") as fh:  # chanjiao's CSV files start with a BOM
        streamed = {r["subject_id"]: r["status"] for r in _csv.DictReader(fh) if r["rule_id"] == "tonghua.school_subsidy"}
    assert streamed == statuses and res.records == 3
