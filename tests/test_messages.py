"""The message catalogue: every message defined once, in Chinese and English, chosen by --lang or the locale."""

from __future__ import annotations

import pickle
import re
import string
from pathlib import Path

import pytest

from engine.messages import CATALOGUE, Message, default_lang, localise, msg, render, resolve_lang

SRC = Path(__file__).resolve().parents[1] / "src" / "engine"


def _fields(template: str) -> set[str]:
    return {name.split("!")[0].split(":")[0] for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_both_languages_take_the_same_parameters(key: str) -> None:
    """English may name a value whose Chinese text uses its label (``target`` and ``target_zh``), nothing else."""
    zh, en = CATALOGUE[key]
    assert zh and en
    zh_names, en_names = _fields(zh), _fields(en)
    assert {n for n in zh_names if not n.endswith("_zh")} <= en_names
    assert {n for n in en_names if n not in zh_names} <= {n[:-3] for n in zh_names if n.endswith("_zh")}


def test_every_key_used_in_the_source_is_in_the_catalogue() -> None:
    used = set()
    for path in SRC.rglob("*.py"):
        used |= set(re.findall(r"""\bmsg\(\s*f?["']([a-z_]+\.[a-z_0-9]+)["']""", path.read_text(encoding="utf-8")))
    assert used, "no messages found: the pattern is wrong"
    assert used <= set(CATALOGUE), used - set(CATALOGUE)


def test_a_message_is_its_chinese_text_and_renders_in_english() -> None:
    m = msg("record.expected_detail", expected=msg("expect.money"), detail=msg("detail.decimals"))
    assert isinstance(m, str) and m == "超过两位小数；应填写金额：不小于 0 的元数，最多两位小数，例如 1950.50"
    assert m.render("en") == "expected money: yuan ≥ 0 with at most 2 decimal places, e.g. 1950.50 (more than 2 decimal places)"
    assert render(m, "zh") == str(m) and render("plain", "en") == "plain"
    copy = pickle.loads(pickle.dumps(m))
    assert isinstance(copy, Message) and copy == m and copy.render("en") == m.render("en")


def test_localise_renders_every_message_in_a_document() -> None:
    doc = {"errors": [{"message": msg("detail.zero"), "row": 1}], "warnings": [], "n": 2, "t": (msg("word.sheet"),)}
    assert localise(doc, "en") == {"errors": [{"message": "must be greater than zero", "row": 1}], "warnings": [],
                                   "n": 2, "t": ("sheet",)}
    zh = localise(doc, "zh")
    assert zh["errors"][0]["message"] == "必须大于零" and type(zh["errors"][0]["message"]) is str


@pytest.mark.parametrize("env, lang", [
    ({}, "zh"), ({"LANG": "C.UTF-8"}, "zh"), ({"LANG": "en_US.UTF-8"}, "en"), ({"LANG": "zh_CN.UTF-8"}, "zh"),
    ({"LC_ALL": "en_GB.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"), ({"LC_ALL": "zh_CN.UTF-8", "LANG": "en_US"}, "zh"),
    ({"LC_ALL": "", "LANG": "en_US"}, "en"), ({"LC_MESSAGES": "en_US", "LANG": "zh_CN"}, "en"),
])
def test_the_default_follows_the_locale(env: dict[str, str], lang: str) -> None:
    assert default_lang(env) == lang


def test_an_explicit_language_wins() -> None:
    assert resolve_lang("en", {"LANG": "zh_CN"}) == "en"
    assert resolve_lang("ZH", {"LANG": "en_US"}) == "zh"
    assert resolve_lang(None, {"LANG": "en_US"}) == "en"
    with pytest.raises(ValueError) as info:
        resolve_lang("fr")
    assert render(info.value.args[0], "en") == "--lang must be zh or en, not 'fr'"


def test_no_key_is_defined_twice() -> None:
    """A dict literal keeps the last of two equal keys silently: each message must be written once."""
    import ast

    tree = ast.parse((SRC / "messages.py").read_text(encoding="utf-8"))
    [catalogue] = [n.value for n in ast.walk(tree) if isinstance(n, ast.AnnAssign)
                   and getattr(n.target, "id", "") == "CATALOGUE"]
    keys = [k.value for k in catalogue.keys]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
