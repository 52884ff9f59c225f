"""Messages in Chinese by default, English with --lang en or an English locale; help, --version, a bare chanjiao."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES

_BESIDE = Path(sys.executable).parent / "chanjiao"
CHANJIAO = str(_BESIDE) if _BESIDE.exists() else "chanjiao"
BAD = EXAMPLES / "bad-records.json"


def run(*args: str, locale: str | None = "C.UTF-8") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANG")}
    if locale is not None:
        env["LANG"] = locale
    return subprocess.run([CHANJIAO, *args], capture_output=True, text=True, timeout=120, env=env)


def test_record_errors_are_chinese_by_default_and_english_with_lang_en(tmp_path: Path) -> None:
    zh = run("check", str(BAD), "--as-of", "2021-12-31", "--format", "json")
    en = run("check", str(BAD), "--as-of", "2021-12-31", "--format", "json", "--lang", "en")
    assert zh.returncode == en.returncode == 1
    zh_doc, en_doc = json.loads(zh.stdout), json.loads(en.stdout)
    by_field = {(e["row"], e["field"]): e["message"] for e in zh_doc["errors"]}
    assert by_field[(3, "total_wages")] == "超过两位小数；应填写金额：不小于 0 的元数，最多两位小数，例如 1950.50"
    en_by_field = {(e["row"], e["field"]): e["message"] for e in en_doc["errors"]}
    assert en_by_field[(3, "total_wages")].startswith("expected money: yuan ≥ 0 with at most 2 decimal places")
    assert zh_doc["warnings"][0]["message"] == "未知字段“total_wage”，已忽略；是否应为“total_wages”？"
    assert en_doc["warnings"][0]["message"] == "unknown field 'total_wage' is ignored; did you mean 'total_wages'?"
    assert zh_doc["decisions"] == en_doc["decisions"]  # only messages change with the language
    assert zh.stderr.startswith("chanjiao: 4 条记录错误") and en.stderr.startswith("chanjiao: 4 record error(s)")


@pytest.mark.parametrize("args, locale, expected", [
    (["check", "/no/such.json"], "C.UTF-8", "chanjiao: 错误：/no/such.json：文件或文件夹不存在"),
    (["check", "/no/such.json"], None, "chanjiao: 错误：/no/such.json：文件或文件夹不存在"),
    (["check", "/no/such.json"], "zh_CN.UTF-8", "chanjiao: 错误：/no/such.json：文件或文件夹不存在"),
    (["check", "/no/such.json"], "en_US.UTF-8", "chanjiao: error: /no/such.json: no such file or directory"),
    (["check", "/no/such.json", "--lang", "en"], "zh_CN.UTF-8", "chanjiao: error: /no/such.json: no such file or directory"),
    (["--lang=zh", "check", "/no/such.json"], "en_US.UTF-8", "chanjiao: 错误：/no/such.json：文件或文件夹不存在"),
    (["check", str(BAD), "--as-of", "2021-13-01"], "C.UTF-8", "chanjiao: 错误：--as-of“2021-13-01”不是日期 YYYY-MM-DD（例如 2021-12-31）"),
    (["check", str(BAD), "--lang", "fr"], "C.UTF-8", "chanjiao: 错误：--lang 应为 zh 或 en，不是“fr”"),
    (["explain", str(BAD), "--rule", "tonghua.frontline_shar", "--subject", "x"], "C.UTF-8",
     "chanjiao: 错误：没有规则“tonghua.frontline_shar”；是否应为“tonghua.frontline_share”？"),
    (["check"], "C.UTF-8", "chanjiao: 错误：缺少参数 DATASET（chanjiao --help 查看用法）"),
    (["check"], "en_US.UTF-8", "chanjiao: error: Missing argument DATASET."),
    (["check", str(BAD), "--formt", "json"], "C.UTF-8",
     "chanjiao: 错误：没有选项 --formt；是否应为“--format”？（chanjiao --help 查看用法）"),
    (["check", str(BAD), "--format", "pdf"], "C.UTF-8",
     "chanjiao: 错误：--format 的值“pdf”不是可选值之一：table, json, csv, xlsx, jsonl, parquet"),
    (["check", str(BAD), "--format", "pdf"], "en_US.UTF-8",
     "chanjiao: error: Invalid value for --format: 'pdf' is not one of table, json, csv, xlsx, jsonl, parquet."),
    (["chek"], "C.UTF-8", "chanjiao: 错误：没有命令“chek”；是否应为“check”？（chanjiao --help 列出全部命令）"),
    (["explain", str(BAD), "--rule", "x"], "C.UTF-8", "chanjiao: 错误：缺少选项 --subject（chanjiao --help 查看用法）"),
    (["nosuch"], "C.UTF-8", "chanjiao: 错误：没有命令“nosuch”（chanjiao --help 列出全部命令）"),
])
def test_one_line_errors_follow_the_language(args: list[str], locale: str | None, expected: str) -> None:
    proc = run(*args, locale=locale)
    assert proc.returncode == 2 and proc.stderr.strip() == expected, proc.stderr


def test_version_and_a_bare_command() -> None:
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("chanjiao ") and version.stdout.split()[1][0].isdigit()
    bare = run()
    assert bare.returncode == 0 and bare.stdout.startswith("Usage: chanjiao")
    assert "产教融合" in bare.stdout and "check" in bare.stdout and "--lang" in bare.stdout


@pytest.mark.parametrize("command", [["check"], ["explain"], ["watch"], ["schema"], ["template"], ["rules", "list"],
                                     ["rules", "show"], ["rules", "lint"], ["rules", "test"]])
def test_help_is_chinese_with_an_example(command: list[str]) -> None:
    proc = run(*command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "示例：" in proc.stdout and f"chanjiao {' '.join(command)}" in proc.stdout.split("示例：")[1]
    description = proc.stdout.split("\n\n")[1]
    assert any("\u4e00" <= c <= "\u9fff" for c in description), description


def test_a_streamed_error_file_follows_the_language(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "enterprises.csv").write_text("id,name,region_code,total_wages\n91220502MA0Y0A0133,甲,220502,-5\n"
                                          "91220502MA0Y0A021X,乙,220502,5\n", encoding="utf-8")  # one decided: exit 1
    for lang, expected in (("zh", "为负数；应填写金额"), ("en", "expected money: yuan ≥ 0")):
        out = tmp_path / f"{lang}.csv"
        proc = run("check", str(data), "--engine", "vectorised", "--format", "csv", "--output", str(out),
                   "--workers", "1", "--lang", lang)
        assert proc.returncode == 1, proc.stderr
        rows = list(csv.DictReader(open(tmp_path / f"{lang}.errors.csv", encoding="utf-8-sig")))
        assert rows[0]["message"].startswith(expected), rows
