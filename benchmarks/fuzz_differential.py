#!/usr/bin/env python3
"""An independent differential fuzzer: random rule packs and datasets, every engine, through the CLI.

Written from the spec (../shared/spec/*.md) and the README ("Writing a rule", "The rule language", "Datasets"),
as a user would write packs and data: it imports nothing from the product or its tests. Each case is a rule pack
folder (pack.yaml, source.txt, rules/*.yaml) and a dataset (JSON, YAML-free JSON with Chinese keys, a CSV folder
with English or Chinese file names and headers, or an XLSX workbook), checked at several ``--as-of`` dates with

    chanjiao check DATA --rules PACK --as-of D --engine reference|durable|vectorised|auto --format json

(the reference defines the answer; the others must print the same document byte for byte, or — durable only —
refuse at load with one line naming the rule, exit 2), and, on CSV folders, the streamed path
(``--engine vectorised --format jsonl --output OUT --workers 2 --chunk-size 1|2|3``), whose decision rows must equal
the reference's decisions (or the stream refuses the pack in one line). Also ``--dask local:2`` (``--dask-every``),
``chanjiao watch`` on JSON cases (the dataset as ``--dataset``, then every record deleted and upserted again: the last
line printed for each decision must be the check's decision), what-ifs (``--param``) on every path, and, on clean
JSON cases, the reference's decisions written as the pack's YAML cases, which ``chanjiao rules test`` must pass on
every engine. A crash is exit 2 with "internal error" or a traceback on stderr, or an exit status other than 0/1/2.

Issue 11's other checks, independently: a sheet, file or key given a misspelt name (协议书, Sheet2, agreemnts)
must not exit 0; and (``--via lib``) every record the generator made invalid on purpose is put back as it was, and
replaced by other valid values in the field it broke: no decision the reference gave as definite (status, amounts)
may change — a rejected record is unknown, never absent.

Usage (from the repository root, with the package installed in .venv)::

    nice -n 10 .venv/bin/python benchmarks/fuzz_differential.py --seed 1 --cases 200 --out /tmp/fuzz
    .venv/bin/python benchmarks/fuzz_differential.py --seed 1 --only 17 --out /tmp/fuzz --keep   # replay case 17
    nice -n 10 .venv/bin/python benchmarks/fuzz_differential.py --seed 7 --cases 5000 --minutes 60 --via lib \
        --stream-every 1 --dask-every 12 --out /tmp/fuzz     # the campaign used: engines in process, paths by CLI
    options: --via cli|lib (lib: reference/durable/vectorised/auto through engine.run.Checker in this process and
             one engine per case through the CLI — several times faster), --stream-every N (every Nth CSV case;
             default 2), --dask-every N (0 = never), --watch-every N (JSON cases), --no-rules-test,
             --population DIR (random packs against one CSV population, e.g. benchmarks/generate.py 2000 DIR),
             --minutes M (stop after M minutes), --chanjiao PATH (default: .venv/bin/chanjiao beside this repo)

Every case is derived from (seed, case number) alone, so a finding replays with ``--seed S --only N``. Findings are
written to OUT/findings.jsonl (one line each: case, kind, as_of, engines, detail) and the case's folder is kept.
The script exits 1 when it found anything.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------------------------------ the data model (spec)

# field -> (expression type, required, value kind); value kinds say how the generator writes a value
MODEL: dict[str, dict[str, tuple[str, bool, str]]] = {
    "enterprises": {"id": ("str", True, "uscc"), "name": ("str", True, "text"), "region_code": ("str", True, "region"),
                    "fiscal_year": ("number", False, "int"), "total_wages": ("number", False, "money"),
                    "education_fund": ("number", False, "money"),
                    "frontline_training_spend": ("number", False, "money"),
                    "is_key_enterprise": ("bool", False, "bool"), "credit_blacklisted": ("bool", False, "bool"),
                    "outstanding_cooperation_results": ("bool", False, "bool"),
                    "values_employee_training": ("bool", False, "bool"), "leading_role": ("bool", False, "bool"),
                    "strong_overall_strength": ("bool", False, "bool")},
    "schools": {"id": ("str", True, "sid"), "name": ("str", True, "text"), "region_code": ("str", True, "region"),
                "school_type": ("str", True, "school_type"), "is_municipal": ("bool", False, "bool"),
                "enrolled_students": ("number", False, "int"), "demonstration_project": ("bool", False, "bool"),
                "training_fee_income": ("number", False, "money"), "training_cost": ("number", False, "money"),
                "fee_income_in_school_accounts": ("bool", False, "bool")},
    "agreements": {"id": ("str", True, "rid"), "enterprise_id": ("str", True, "eref"),
                   "school_id": ("str", True, "sref"), "signed_on": ("date", True, "date"),
                   "valid_from": ("date", False, "date"), "valid_to": ("date", False, "date")},
    "internship_payments": {"id": ("str", True, "rid"), "enterprise_id": ("str", True, "eref"),
                            "school_id": ("str", True, "sref"), "student_id": ("str", True, "text"),
                            "amount": ("number", True, "pmoney"), "paid_on": ("date", True, "date")},
    "practice_expenses": {"id": ("str", True, "rid"), "enterprise_id": ("str", True, "eref"),
                          "school_id": ("str", False, "sref"), "kind": ("str", True, "kind"),
                          "amount": ("number", True, "pmoney"), "incurred_on": ("date", True, "date"),
                          "reasonable": ("bool", False, "bool")},
    "certificates": {"id": ("str", True, "rid"), "employee_id": ("str", True, "text"),
                     "enterprise_id": ("str", True, "eref"), "insured": ("bool", False, "bool"),
                     "obtained_on": ("date", True, "date"), "title": ("str", False, "text")},
    "land_applications": {"id": ("str", True, "rid"), "enterprise_id": ("str", True, "eref"),
                          "region_code": ("str", True, "region"),
                          "builds_vocational_school": ("bool", False, "bool"),
                          "in_allocation_catalogue": ("bool", False, "bool")},
    "graduates": {"id": ("str", True, "rid"), "school_id": ("str", True, "sref"),
                  "employer_region_code": ("str", False, "region"), "employed_from": ("date", False, "date"),
                  "employed_to": ("date", False, "date")},
}
TYPES = list(MODEL)
ZH_TYPE = {"enterprises": "企业", "schools": "学校", "agreements": "校企合作协议", "internship_payments": "实习报酬",
           "practice_expenses": "实践费用", "certificates": "职业资格证书", "land_applications": "建设用地",
           "graduates": "毕业生"}
REFS = {"enterprise_id": "enterprises", "school_id": "schools"}


def zh_headers() -> dict[str, dict[str, str]]:
    """The Chinese header of every field, read from the README's field reference (first column)."""
    out: dict[str, dict[str, str]] = {t: {} for t in TYPES}
    current = None
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"#### \S+ `(\w+)`", line)
        if m:
            current = m.group(1)
            continue
        m = re.match(r"\| ([^|]+?) \| `(\w+)` \|", line)
        if current in out and m:
            out[current][m.group(2)] = m.group(1)
    return out


# ------------------------------------------------------------------------------------------ USCC (GB 32100)

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_W = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def uscc(region: str, n: int, rng: random.Random) -> str:
    """A valid 统一社会信用代码 registered in ``region``."""
    body = "91" + region + "".join(rng.choice(USCC_CHARS) for _ in range(8)) + USCC_CHARS[n % 31]
    s = sum(USCC_CHARS.index(c) * w for c, w in zip(body, USCC_W))
    return body + USCC_CHARS[(31 - s % 31) % 31]


def bad_uscc(code: str) -> str:
    last = USCC_CHARS[(USCC_CHARS.index(code[-1]) + 1) % 31]
    return code[:-1] + last


# ------------------------------------------------------------------------------------------ expressions

DATE_LITS = ["2019-07-25", "2020-01-01", "2020-02-29", "2020-06-18", "2021-03-01", "2021-12-31", "2022-06-30",
             "9999-12-31"]
NUM_LITS = ["0", "1", "2", "0.015", "0.025", "0.6", "0.45", "100", "450", "1000.5", "0.01", "3"]
STR_LITS = ["'220502'", "'4205'", "'2205'", "'secondary_vocational'", "'technical'", "'student_internship'",
            "'teacher_practice'", "'S1'", "''"]


class Env:
    """Names in scope: single records, lists of records, loop variables; parameters by type."""

    def __init__(self, recs: dict[str, str], lists: dict[str, str], params: dict[str, str]):
        self.recs = recs
        self.lists = lists
        self.params = params

    def with_var(self, name: str, rtype: str) -> "Env":
        return Env({**self.recs, name: rtype}, self.lists, self.params)


class ExprGen:
    """Random well-typed expressions of the rule language."""

    def __init__(self, rng: random.Random, simple: bool = False):
        self.rng = rng
        self.n = 0
        self.simple = simple  # only what durable's compiler takes: no count/sum/list, known/missing/coalesce

    def var(self) -> str:
        self.n += 1
        return f"v{self.n}"

    def fields(self, env: Env, typ: str) -> list[str]:
        out = []
        for name, rtype in env.recs.items():
            for f, (t, _, _) in MODEL[rtype].items():
                if t == typ:
                    out.append(f"{name}.{f}")
            if rtype in ("agreements", "internship_payments", "practice_expenses", "graduates"):
                if "school_id" in MODEL[rtype] and typ in ("str", "bool", "number"):
                    for f, (t, _, _) in MODEL["schools"].items():
                        if t == typ and self.rng.random() < 0.15:
                            out.append(f"schools[{name}.school_id].{f}")
            if "enterprise_id" in MODEL[rtype] and self.rng.random() < 0.15:
                for f, (t, _, _) in MODEL["enterprises"].items():
                    if t == typ:
                        out.append(f"enterprises[{name}.enterprise_id].{f}")
                        break
        return out

    def gen(self, typ: str, env: Env, depth: int) -> str:
        r = self.rng.random()
        leaf = depth <= 0 or r < 0.3
        if typ == "bool":
            return self.boolean(env, depth, leaf)
        if typ == "number":
            return self.number(env, depth, leaf)
        if typ == "date":
            return self.date(env, depth, leaf)
        return self.string(env, depth, leaf)

    def pick(self, options: list[str]) -> str:
        return self.rng.choice(options)

    def boolean(self, env: Env, depth: int, leaf: bool) -> str:
        rng = self.rng
        fs = self.fields(env, "bool")
        params = [f"param.{p}" for p, t in env.params.items() if t == "bool"]
        if leaf:
            opts = fs + params + ["true", "false"] * (1 if fs else 2)
            if rng.random() < 0.5:
                return self.compare(env, 0)
            return self.pick(opts)
        choice = rng.randrange(11)
        d = depth - 1
        if choice == 0:
            return f"({self.gen('bool', env, d)} and {self.gen('bool', env, d)})"
        if choice == 1:
            return f"({self.gen('bool', env, d)} or {self.gen('bool', env, d)})"
        if choice == 2:
            return f"not {self.gen('bool', env, d)}"
        if choice in (3, 4):
            return self.compare(env, d)
        if self.simple and choice in (5, 10):
            choice = 3
        if choice == 5:
            anyfield = self.fields(env, rng.choice(["number", "str", "date", "bool"]))
            if anyfield:
                return f"{rng.choice(['known', 'missing'])}({rng.choice(anyfield)})"
            return "true"
        if choice == 6:
            return f"starts_with({self.gen('str', env, d)}, {self.pick(STR_LITS)})"
        if choice in (7, 8) and env.lists:
            lname = rng.choice(list(env.lists))
            v = self.var()
            inner = env.with_var(v, env.lists[lname])
            cond = f" if {self.gen('bool', inner, d - 1)}" if rng.random() < 0.4 else ""
            return f"{rng.choice(['any', 'all'])}({self.gen('bool', inner, d)} for {v} in {lname}{cond})"
        if choice == 9:
            ags = [n for n, t in env.recs.items() if t == "agreements"]
            if ags:
                return f"valid_on({rng.choice(ags)}, {self.gen('date', env, d)})"
        if choice == 10:
            return f"coalesce({self.gen('bool', env, d)}, {self.pick(['true', 'false'])})"
        return self.compare(env, d)

    def compare(self, env: Env, depth: int) -> str:
        rng = self.rng
        typ = rng.choice(["number", "number", "date", "str"])
        ops = ["==", "!="] if typ == "str" else ["==", "!=", "<", "<=", ">", ">="]
        return f"{self.gen(typ, env, depth)} {rng.choice(ops)} {self.gen(typ, env, depth)}"

    def number(self, env: Env, depth: int, leaf: bool) -> str:
        rng = self.rng
        fs = self.fields(env, "number")
        params = [f"param.{p}" for p, t in env.params.items() if t == "number"]
        if leaf:
            return self.pick(fs * 3 + params * 2 + NUM_LITS) if (fs or params) else self.pick(NUM_LITS)
        d = depth - 1
        choice = rng.randrange(12)
        if self.simple and choice in (6, 7, 8):
            choice = 0
        if choice <= 3:
            op = rng.choice(["+", "-", "*", "/"])
            return f"({self.gen('number', env, d)} {op} {self.gen('number', env, d)})"
        if choice == 4 and rng.random() < 0.3:  # unary minus: the vectorised backend hands the rule over
            return f"-{self.gen('number', env, d)}"
        if choice == 5:
            return f"{rng.choice(['min', 'max'])}({self.gen('number', env, d)}, {self.gen('number', env, d)})"
        if choice == 6:
            return f"coalesce({self.gen('number', env, d)}, {self.pick(NUM_LITS)})"
        if choice in (7, 8) and env.lists:
            lname = rng.choice(list(env.lists))
            v = self.var()
            inner = env.with_var(v, env.lists[lname])
            cond = f" if {self.gen('bool', inner, d - 1)}" if rng.random() < 0.5 else ""
            if rng.random() < 0.5:
                return f"count({v} for {v} in {lname}{cond})"
            if rng.random() < 0.2:
                return f"sum([{self.gen('number', inner, d - 1)} for {v} in {lname}{cond}])"
            return f"sum({self.gen('number', inner, d - 1)} for {v} in {lname}{cond})"
        if choice == 9:
            return f"days_between({self.gen('date', env, d)}, {self.gen('date', env, d)})"
        if choice == 10:
            return f"year({self.gen('date', env, d)})"
        return f"{rng.choice(['ceil_fen', 'round_fen'])}({self.gen('number', env, d)})"

    def date(self, env: Env, depth: int, leaf: bool) -> str:
        rng = self.rng
        fs = self.fields(env, "date")
        params = [f"param.{p}" for p, t in env.params.items() if t == "date"]
        lits = [f"date('{x}')" for x in DATE_LITS]
        if leaf:
            return self.pick(fs * 3 + params + ["as_of"] * 2 + lits)
        d = depth - 1
        choice = rng.randrange(4)
        if self.simple and choice == 2:
            choice = 0
        if choice == 0:
            years = rng.choice(['1', '2', '-1', '0', '1', '2', '-1', '0', '0.5', '8000', '100000', '-2021', '-2022'])
            return f"add_years({self.gen('date', env, d)}, {years})"
        if choice == 1:
            return f"{rng.choice(['min', 'max'])}({self.gen('date', env, d)}, {self.gen('date', env, d)})"
        if choice == 2:
            return f"coalesce({self.gen('date', env, d)}, {rng.choice(lits + ['as_of'])})"
        return self.pick(fs + ["as_of"] + lits)

    def string(self, env: Env, depth: int, leaf: bool) -> str:
        rng = self.rng
        fs = self.fields(env, "str")
        params = [f"param.{p}" for p, t in env.params.items() if t == "str"]
        if leaf or self.simple or rng.random() < 0.7:
            return self.pick(fs * 3 + params + STR_LITS) if fs else self.pick(STR_LITS + params)
        return f"coalesce({self.gen('str', env, depth - 1)}, {self.pick(STR_LITS)})"

    def template(self, env: Env) -> str:
        rng = self.rng
        parts = [rng.choice(["未满足条件", "条件：", "企业 ", "学校", "合计", "比例", ""])]
        for _ in range(rng.randrange(0, 3)):
            typ = rng.choice(["number", "date", "str", "bool", "join", "rec"])
            if typ == "number":
                e = self.gen("number", env, 1)
                fmt = rng.choice(["", " | money", " | yuan", " | percent", " | int", " | number", " | text"])
            elif typ == "date":
                e, fmt = self.gen("date", env, 1), rng.choice(["", " | date", " | text"])
            elif typ == "str":
                e, fmt = self.gen("str", env, 0), ""
            elif typ == "bool":
                e, fmt = self.gen("bool", env, 0), ""
            elif typ == "join" and env.lists:
                lname = rng.choice(list(env.lists))
                v = self.var()
                e, fmt = f"join({v}.id for {v} in {lname})", ""
            elif env.recs:
                e, fmt = rng.choice(list(env.recs)), ""
            else:
                e, fmt = "as_of", ""
            parts.append("{" + e + fmt + "}")
            parts.append(rng.choice(["，", " ", "元", "、", ""]))
        return "".join(parts) or "x"


# ------------------------------------------------------------------------------------------ packs

QUOTE = "企业应当依法开展校企合作并按规定享受政策"
SOURCE = "某市人民政府关于开展产教融合的通知\n\n  一、" + QUOTE + "。\n二、其他事项另行规定。\n"
DATED = {"enterprises": [], "schools": [], "agreements": ["signed_on", "valid_from", "valid_to"],
         "internship_payments": ["paid_on"], "practice_expenses": ["incurred_on"], "certificates": ["obtained_on"],
         "land_applications": [], "graduates": ["employed_from", "employed_to"]}


def yaml_str(s: str) -> str:
    """A YAML double-quoted scalar."""
    return json.dumps(s, ensure_ascii=False)


def make_pack(rng: random.Random, folder: Path, n: int) -> dict[str, Any]:
    """Write a random pack into ``folder``; returns a description (issue date, parameter dates)."""
    issued = rng.choice(["2019-07-25", "2020-02-29", "2020-06-18", "2021-01-01"])
    prefixes = rng.choice([["2205"], ["4205"], ["2205", "4205"], ["22"]])
    params: dict[str, str] = {}
    lines = [f"id: fz{n}-2020", "document:", "  number: 某政发〔2020〕1号", "  title: 某市人民政府关于开展产教融合的通知",
             "  issuer: 某市人民政府", f"  issued_on: {issued}", "  source: source.txt", "  jurisdiction: 某市",
             f"  region_prefixes: {json.dumps(prefixes)}", "parameters:"]
    change_dates = []
    for i in range(rng.randrange(0, 4)):
        # a bool/str parameter makes the vectorised backend hand every rule of the pack to the reference (so the
        # stream refuses the pack): rare, so that the stream gets compared too
        typ = rng.choice(["number"] * 30 + ["date"] * 3 + ["bool", "str"])
        name = f"p{i}"
        params[name] = typ
        lines += [f"  {name}:", "    description: 参数", f"    type: {typ}", "    values:"]
        starts = sorted(rng.sample(["2019-01-01", issued, "2020-06-18", "2021-01-01", "2021-07-01"], rng.randrange(1, 4)))
        for s in starts:
            change_dates.append(s)
            if typ == "number":
                v = rng.choice(["0.015", "0.6", "450", "1000.00", "0", "null", "2", "0.5"])
            elif typ == "bool":
                v = rng.choice(["true", "false", "null"])
            elif typ == "date":
                v = rng.choice(["2020-06-18", "2021-03-01", "null"])
            else:
                v = rng.choice(["'S1'", "'2205'", "null"])
            lines.append(f"      - {{from: {s}, value: {v}}}")
        lines += ["    citation:", "      clause: 一", f"      quote: {QUOTE}"]
    if not params:
        lines[-1] = "parameters: {}"
    (folder / "rules").mkdir(parents=True)
    (folder / "pack.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "source.txt").write_text(SOURCE, encoding="utf-8")
    for r in range(rng.randrange(1, 4)):
        (folder / "rules" / f"r{r}.yaml").write_text(make_rule(rng, f"fz{n}.r{r}", params), encoding="utf-8")
    return {"issued": issued, "changes": change_dates, "params": params}


def make_rule(rng: random.Random, rule_id: str, params: dict[str, str]) -> str:
    simple = rng.random() < 0.4
    g = ExprGen(rng, simple)
    subject = rng.choice(TYPES)
    recs = {"subject": subject}
    lists: dict[str, str] = {}
    lookups = []
    fields = MODEL[subject]
    # single lookups by the subject's references
    for f, target in REFS.items():
        if f in fields and rng.random() < 0.6:
            name = "ent" if target == "enterprises" else "sch"
            lookups.append(f"  {name}: {{record_type: {target}, key: subject.{f}}}")
            recs[name] = target
    # many lookups
    for _ in range(rng.randrange(0, 3)):
        target = rng.choice(["agreements", "internship_payments", "practice_expenses", "certificates",
                             "land_applications", "graduates", "schools", "enterprises"])
        tf = MODEL[target]
        cands = []
        if "enterprise_id" in tf:
            if subject == "enterprises":
                cands.append(("enterprise_id", "subject.id"))
            if "enterprise_id" in fields:
                cands.append(("enterprise_id", "subject.enterprise_id"))
        if "school_id" in tf:
            if subject == "schools":
                cands.append(("school_id", "subject.id"))
            if "school_id" in fields:
                cands.append(("school_id", "subject.school_id"))
        if "region_code" in tf and "region_code" in fields:
            cands.append(("region_code", "subject.region_code"))
        if not cands:
            continue
        by, key = rng.choice(cands)
        name = f"l{len(lookups)}"
        many = simple or rng.random() < 0.85
        lookups.append(f"  {name}: {{record_type: {target}, by: {by}, key: {key}{', many: true' if many else ''}}}")
        if many:
            lists[name] = target
        else:
            recs[name] = target
    env = Env(recs, lists, params)
    region_opts = [f"{n}.region_code" for n, t in recs.items() if "region_code" in MODEL[t]]
    region_opts += [f"{n}.employer_region_code" for n, t in recs.items() if t == "graduates"]
    region_opts += ["'220502'", "'420502'", "'110105'"]
    region = rng.choice(region_opts)
    date_opts = ["as_of"] * 3 + [f"subject.{f}" for f in DATED[subject] if MODEL[subject][f][1]]
    date_opts += [f"subject.{f}" for f in DATED[subject]] if rng.random() < 0.2 else []
    date = rng.choice(date_opts)
    effect = rng.choice(["benefit", "obligation", "encouraged"])
    out = [f"id: {rule_id}", "title: 生成的规则", f"effect: {effect}", f"subject: {subject}", "citation:",
           "  clause: 一", f"  quote: {QUOTE}"]
    if lookups:
        out += ["lookups:"] + lookups
    out += ["scope:", f"  region: {yaml_str(region)}", "  region_label: 所在地"]
    if date != "as_of" or rng.random() < 0.3:
        out += [f"  date: {yaml_str(date)}", "  date_label: 日期"]
    if rng.random() < 0.5:
        out.append("applies_if:")
        for _ in range(rng.randrange(1, 3)):
            out += [f"  - test: {yaml_str(g.gen('bool', env, 2))}", f"    reason: {yaml_str(g.template(env) + '，不适用')}"]
    out.append("criteria:")
    for c in range(rng.randrange(1, 4)):
        out += [f"  - id: c{c}", f"    label: 条件{c}", f"    test: {yaml_str(g.gen('bool', env, 3))}"]
        if rng.random() < 0.3:
            out.append("    fail:")
            out += [f"      - when: {yaml_str(g.gen('bool', env, 2))}", f"        text: {yaml_str(g.template(env))}"]
            out += [f"      - text: {yaml_str(g.template(env))}"]
        else:
            out.append(f"    fail: {yaml_str(g.template(env))}")
        if rng.random() < 0.4:
            out.append(f"    pass: {yaml_str(g.template(env))}")
    if rng.random() < 0.4:
        out.append(f"positive_reason: {yaml_str(g.template(env))}")
    if rng.random() < 0.5:
        out.append(f"amount: {yaml_str(g.gen('number', env, 2))}")
    if rng.random() < 0.2:
        out.append(f"amount_min: {yaml_str(g.gen('number', env, 1))}")
        out.append(f"amount_max: {yaml_str(g.gen('number', env, 1))}")
    if rng.random() < 0.3:
        keys = []
        if subject == "enterprises":
            keys.append(("enterprises", "subject.id"))
        if subject == "schools":
            keys.append(("schools", "subject.id"))
        if "enterprise_id" in fields:
            keys.append(("enterprises", "subject.enterprise_id"))
        if "school_id" in fields and MODEL[subject]["school_id"][1]:
            keys.append(("schools", "subject.school_id"))
        if keys:
            group, key = rng.choice(keys)
            out += ["rollup:", "  name: total", f"  group: {group}", f"  key: {key}"]
            dated = [f for f in DATED[subject] if MODEL[subject][f][1]]
            if dated and rng.random() < 0.6:
                out.append(f"  period: year(subject.{dated[0]})")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------ datasets

MONEY = ["0", "0.00", "1", "1.5", "100", "1234.56", "100000.00", "1500.00", "2500.00", "1499.99", "2500.01",
         "600", "599.99", "-0", "0.01", "9999999999999999.99", "12,345.60", "¥1,000", "450元"]
BAD_MONEY = ["1.234", "abc", "-5", "1,50", "1e3", "NaN", "10000000000000000"]
DATES = ["2019-07-24", "2019-07-25", "2020-02-29", "2020-06-17", "2020-06-18", "2021-02-28", "2021-03-01",
         "2021-12-31", "2022-01-01", "9999-12-31", "9999-06-01", "0001-01-01", "2021/3/5", "2021年3月5日"]
BAD_DATES = ["2021-02-30", "2021-13-01", "31/12/2021", "3/5/2021", "tomorrow", "2019-02-29"]
BOOLS = ["true", "false", "是", "否", "1", "0", "yes", "no", "TRUE"]
REGIONS_E = ["220502", "220581", "420502", "420581", "110105"]


def make_dataset(rng: random.Random,
                 fixes: list[tuple[dict[str, str], dict[str, str], dict[str, str]]] | None = None
                 ) -> dict[str, list[dict[str, str]]]:
    """Raw records (text cells, '' = empty) with edges: rejected values, dangling refs, duplicates, boundaries.
    ``fixes`` receives (corrupted record, its valid original, the original with another valid value in the corrupted
    field) for every record made invalid on purpose."""
    bad = rng.random() < 0.6  # whether to plant rejected records at all
    ents = []
    for i in range(rng.randrange(0, 5)):
        region = rng.choice(REGIONS_E)
        ents.append(uscc(region if rng.random() < 0.9 else rng.choice(REGIONS_E), i, rng))
    schools = [f"S{i + 1}" for i in range(rng.randrange(0, 4))]
    dangling_e = uscc("220502", 30, rng)
    data: dict[str, list[dict[str, str]]] = {}

    def value(kind: str, required: bool, field: str, rtype: str) -> str:
        if not required and rng.random() < 0.3:
            return ""
        if kind in ("uscc", "sid", "rid"):
            return ""  # ids are filled by the caller
        if kind == "eref":
            return rng.choice(ents + [dangling_e]) if ents and rng.random() < 0.9 else dangling_e
        if kind == "sref":
            return rng.choice(schools + ["S9"]) if schools and rng.random() < 0.9 else "S9"
        if kind == "text":
            return rng.choice(["甲公司", "学生A", "x", "名 称", "=1+1", "\u00a0乙\u00a0"])
        if kind == "region":
            return rng.choice(REGIONS_E + ["420500", "220500"])
        if kind == "int":
            return rng.choice(["0", "1", "2021", "3260", "100"])
        if kind in ("money", "pmoney"):
            v = rng.choice(MONEY)
            return v if kind == "money" or v not in ("0", "0.00", "-0") else "1.00"
        if kind == "date":
            return rng.choice(DATES)
        if kind == "bool":
            return rng.choice(BOOLS)
        if kind == "school_type":
            return rng.choice(["secondary_vocational", "technical", "higher_vocational", "中职"])
        if kind == "kind":
            return rng.choice(["student_internship", "teacher_practice", "教师实践"])
        raise AssertionError(kind)

    def corrupt(rec: dict[str, str], rtype: str) -> str:
        fields = [f for f in rec if f != "id" or rng.random() < 0.1] or ["id"]
        f = rng.choice(fields)
        kind = MODEL[rtype][f][2]
        if kind in ("money", "pmoney"):
            rec[f] = rng.choice(BAD_MONEY)
        elif kind == "date":
            rec[f] = rng.choice(BAD_DATES)
        elif kind in ("eref", "uscc"):
            rec[f] = bad_uscc(rec[f]) if len(rec[f]) == 18 else "91XYZ"
        elif kind == "bool":
            rec[f] = "maybe"
        elif kind == "region":
            rec[f] = "12345"
        elif kind == "int":
            rec[f] = "-3"
        elif MODEL[rtype][f][1]:
            rec[f] = ""  # a required field left empty
        else:
            rec[f] = "x" * 1001
        return f

    def another(rtype: str, f: str) -> str:
        """Another valid value of the field (a rejected record could be any valid record)."""
        _, req, kind = MODEL[rtype][f]
        if kind == "uscc":
            return uscc(rng.choice(REGIONS_E), rng.randrange(31), rng)
        if kind == "sid":
            return rng.choice(schools + ["S8"])
        if kind == "rid":
            return f"ALT{rng.randrange(10**6)}"
        return value(kind, req, f, rtype)

    for rtype in TYPES:
        n = {"enterprises": len(ents), "schools": len(schools)}.get(rtype, rng.randrange(0, 5))
        rows = []
        for i in range(n):
            rec = {}
            for f, (_, req, kind) in MODEL[rtype].items():
                rec[f] = value(kind, req, f, rtype)
            if rtype == "enterprises":
                rec["id"] = ents[i]
            elif rtype == "schools":
                rec["id"] = schools[i]
            else:
                rec["id"] = f"{rtype[:2].upper()}{i + 1}"
            if rtype == "agreements" and rec["valid_from"] and rec["valid_to"] and rec["valid_to"] < rec["valid_from"]:
                rec["valid_to"], rec["valid_from"] = rec["valid_from"], rec["valid_to"]
            if bad and rng.random() < 0.2:
                valid = dict(rec)
                f = corrupt(rec, rtype)
                if fixes is not None:
                    fixes.append((rec, valid, {**valid, f: another(rtype, f)}))
            rows.append(rec)
        if rows and bad and rng.random() < 0.2:  # a repeated id
            dup = dict(rng.choice(rows))
            rows.append(dup)
        rng.shuffle(rows)
        if rows or rng.random() < 0.3:
            data[rtype] = rows
    return data


MISSPELT = {"enterprises": ["enterprize", "企业表"], "schools": ["scools", "学校名单"], "agreements": ["agreemnts", "协议书"],
            "internship_payments": ["internship_paymnts", "实习报酬表"], "practice_expenses": ["practise_expenses", "实践费"],
            "certificates": ["certificats", "证书表"], "land_applications": ["land_aplications"],
            "graduates": ["graduats", "毕业生表"]}


def source_name(rtype: str, zh: bool, misspelt: str | None, rng: random.Random) -> str:
    """The sheet, file or key name of a record type: English, Chinese, or (for ``misspelt``) a misspelling."""
    if rtype == misspelt:
        return rng.choice(MISSPELT[rtype] + ["Sheet2"])
    return ZH_TYPE[rtype] if zh else rtype


def write_json(data: dict[str, list[dict[str, str]]], path: Path, rng: random.Random,
               misspelt: str | None = None) -> None:
    zh = rng.random() < 0.3
    doc = {}
    for rtype, rows in data.items():
        out = []
        for r in rows:
            rec = {}
            for k, v in r.items():
                if v == "":
                    if rng.random() < 0.5:
                        continue
                    rec[k] = None
                elif MODEL[rtype][k][2] == "bool" and v in ("true", "false") and rng.random() < 0.5:
                    rec[k] = v == "true"
                else:
                    rec[k] = v
            out.append(rec)
        doc[source_name(rtype, zh, misspelt, rng)] = out
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")


def write_csv(data: dict[str, list[dict[str, str]]], folder: Path, rng: random.Random, zh: dict,
              misspelt: str | None = None) -> None:
    folder.mkdir(parents=True)
    for rtype, rows in data.items():
        chinese = rng.random() < 0.3
        name = source_name(rtype, rng.random() < 0.3, misspelt, rng) + ".csv"
        fields = list(MODEL[rtype])
        header = [zh[rtype].get(f, f) if chinese else f for f in fields]
        with open(folder / name, "w", encoding="utf-8-sig" if rng.random() < 0.3 else "utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            for r in rows:
                w.writerow([r[f] for f in fields])
                if rng.random() < 0.05:
                    w.writerow([""] * len(fields))  # a blank row (,,,,)


def write_parquet(data: dict[str, list[dict[str, str]]], folder: Path, rng: random.Random,
                  misspelt: str | None = None) -> None:
    """A Parquet folder: one file per type, text columns (an empty cell is null or '')."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True)
    for rtype, rows in data.items():
        fields = list(MODEL[rtype])
        nulls = rng.random() < 0.5
        cols = {f: pa.array([(None if nulls else "") if r[f] == "" else r[f] for r in rows], pa.string())
                for f in fields}
        pq.write_table(pa.table(cols), folder / (source_name(rtype, rng.random() < 0.3, misspelt, rng) + ".parquet"),
                       row_group_size=rng.choice([1, 2, 1000]))


def write_xlsx(data: dict[str, list[dict[str, str]]], path: Path, rng: random.Random, zh: dict,
               misspelt: str | None = None) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for rtype, rows in data.items():
        ws = wb.create_sheet(source_name(rtype, rng.random() < 0.4, misspelt, rng))
        fields = list(MODEL[rtype])
        chinese = rng.random() < 0.4
        ws.append([zh[rtype].get(f, f) if chinese else f for f in fields])
        for r in rows:
            cells: list[Any] = []
            for f in fields:
                v = r[f]
                kind = MODEL[rtype][f][2]
                if v and kind == "date" and re.fullmatch(r"\d{4}-\d\d-\d\d", v) and rng.random() < 0.5:
                    try:
                        cells.append(dt.date.fromisoformat(v))
                        continue
                    except ValueError:
                        pass
                cells.append(v if v != "" else None)
            ws.append(cells)
    wb.save(path)


# ------------------------------------------------------------------------------------------ running

class Runner:
    def __init__(self, chanjiao: str, out: Path):
        self.chanjiao = chanjiao
        self.out = out
        self.runs: dict[str, int] = {}

    def run(self, args: list[str], label: str, stdin: str | None = None, timeout: int = 300) -> tuple[int, str, str]:
        self.runs[label] = self.runs.get(label, 0) + 1
        env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        env.pop("CHANJIAO_DEBUG", None)
        try:
            p = subprocess.run([self.chanjiao, *args], capture_output=True, text=True, timeout=timeout, env=env,
                               input=stdin)
        except subprocess.TimeoutExpired:
            return -999, "", f"timeout after {timeout}s"
        return p.returncode, p.stdout, p.stderr


def crashed(rc: int, err: str) -> str | None:
    if rc not in (0, 1, 2):
        return f"exit {rc}"
    if "Traceback" in err:
        return "traceback"
    if "internal error" in err.lower() or "内部错误" in err:
        return "internal error"
    return None


def one_line(err: str) -> bool:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    return len(lines) == 1


STREAM_KEYS = ("rule_id", "subject_type", "subject_id", "status", "effect", "amount", "amount_min", "amount_max",
               "missing_facts", "reasons")


def project(d: dict[str, Any]) -> dict[str, Any]:
    """A document decision as the streamed row carries it."""
    out = {k: d.get(k) for k in STREAM_KEYS}
    c = d.get("citation") or {}
    out.update(document_number=c.get("document_number"), clause=c.get("clause"), quote=c.get("quote"))
    out["rejected_inputs"] = d.get("rejected_inputs") or []
    return out


def first_diff(a: Any, b: Any, path: str = "") -> str:
    if type(a) is not type(b):
        return f"{path}: {str(a)[:300]} != {str(b)[:300]}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: only in {'first' if k in a else 'second'}: {str(a.get(k, b.get(k)))[:300]}"
            if a[k] != b[k]:
                return first_diff(a[k], b[k], f"{path}.{k}")
    if isinstance(a, list):
        if len(a) != len(b):
            for i, (x, y) in enumerate(zip(a, b)):
                if x != y:
                    return first_diff(x, y, f"{path}[{i}]") + f" (lengths {len(a)} vs {len(b)})"
            return f"{path}: lengths {len(a)} vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return first_diff(x, y, f"{path}[{i}]")
    return f"{path}: {str(a)[:300]} != {str(b)[:300]}"


class Fuzzer:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.runner = Runner(args.chanjiao, self.out)
        self.zh = zh_headers()
        self.findings = 0
        self.stats: dict[str, int] = {}
        self.params: list[str] = []  # the case's --param arguments

    def bump(self, key: str, by: int = 1) -> None:
        self.stats[key] = self.stats.get(key, 0) + by

    def finding(self, case: int, kind: str, detail: str, **more: Any) -> None:
        self.findings += 1
        line = {"seed": self.args.seed, "case": case, "kind": kind, "detail": detail[:2000], **more}
        with open(self.out / "findings.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        print(f"  FINDING case {case}: {kind}: {detail[:300]}", flush=True)

    def case(self, n: int) -> bool:
        rng = random.Random(f"{self.args.seed}:{n}")
        d = self.out / f"case-{n:05d}"
        if d.exists():
            shutil.rmtree(d)
        d.mkdir()
        pack = d / "pack"
        info = make_pack(rng, pack, n)
        fixes: list[tuple[dict[str, str], dict[str, str], dict[str, str]]] = []
        data = make_dataset(rng, fixes)
        fixed = {id(bad): good for bad, good, _ in fixes}
        other = {id(bad): alt for bad, _, alt in fixes}
        fmt = rng.choice(["json", "csv", "csv", "xlsx", "parquet"])
        with_rows = [t for t, rows in data.items() if rows]
        misspelt = rng.choice(with_rows) if with_rows and rng.random() < 0.1 else None
        layout_seed = rng.random()  # the same layout (headers, names, cells) for the data and its repaired twin
        clean = {t: [fixed.get(id(r), r) for r in rows] for t, rows in data.items()} if fixes else None
        alt = {t: [other.get(id(r), r) for r in rows] for t, rows in data.items()} if fixes else None

        def write(data: dict[str, list[dict[str, str]]], base: Path, misspelt: str | None = misspelt) -> Path:
            lrng = random.Random(layout_seed)
            if fmt == "json":
                write_json(data, base / "data.json", lrng, misspelt)
                return base / "data.json"
            if fmt == "csv":
                write_csv(data, base / "data", lrng, self.zh, misspelt)
                return base / "data"
            if fmt == "parquet":
                write_parquet(data, base / "data", lrng, misspelt)
                return base / "data"
            write_xlsx(data, base / "data.xlsx", lrng, self.zh, misspelt)
            return base / "data.xlsx"

        if self.args.population:  # a given population (benchmarks/generate.py N DIR) instead of a generated dataset
            fmt, misspelt, clean, alt = "csv", None, None, None
            src = Path(self.args.population)
        else:
            src = write(data, d)
        if misspelt:
            (d / "named").mkdir()
            named_src = write(data, d / "named", None)
        if clean is not None and alt is not None:
            (d / "repaired").mkdir()
            clean_src = write(clean, d / "repaired")
            (d / "other").mkdir()
            alt_src = write(alt, d / "other")
        if misspelt:
            self.bump("misspelt-source")
        overrides: list[str] = []  # what-ifs: a pack parameter, and now and then a shipped one
        numbers = [p for p, t in info["params"].items() if t == "number"]
        if numbers and rng.random() < 0.3:
            overrides.append(f"fz{n}-2020.{rng.choice(numbers)}={rng.choice(['1500', '0.02', '0', '7.5', '0.015'])}")
        if rng.random() < 0.15:
            overrides.append(f"certificate_subsidy_amount={rng.choice(['1000', '1500.50', '2000'])}")
        if overrides:
            self.bump("with-param")
        self.params = [a for o in overrides for a in ("--param", o)]
        dates = {"2021-12-31", info["issued"], rng.choice(DATE_LITS)}
        day_before = (dt.date.fromisoformat(info["issued"]) - dt.timedelta(days=1)).isoformat()
        if rng.random() < 0.3:
            dates.add(day_before)
        if info["changes"] and rng.random() < 0.5:
            dates.add(rng.choice(info["changes"]))
        found_before = self.findings
        self.bump("cases")
        self.bump(f"format:{fmt}")
        engines = ["reference", "durable", "vectorised", "auto"]
        checker = self.lib_checker(pack) if self.args.via == "lib" else None
        cli_engine = rng.choice(engines[1:])  # in lib mode, one engine per case also goes through the CLI
        for as_of in sorted(dates):
            docs: dict[str, Any] = {}
            results = {}
            for eng in engines + (["cli-" + cli_engine] if checker is not None else []):
                if checker is not None and not eng.startswith("cli-"):
                    rc, out, err = self.lib_run(checker, src, as_of, eng)
                else:
                    rc, out, err = self.runner.run(["check", str(src), "--rules", str(pack), "--as-of", as_of,
                                                    "--engine", eng.removeprefix("cli-"), "--format", "json",
                                                    "--quiet", *self.params], eng)
                results[eng] = (rc, out, err)
                c = crashed(rc, err)
                if c:
                    self.finding(n, "crash", f"{eng} as_of {as_of}: {c}: {err.strip()[-1500:]}", engine=eng,
                                 as_of=as_of)
                    continue
                if rc == 2 and out.strip():  # no record accepted: exit 2, the document still written
                    if eng.startswith("cli-") and not one_line(err):
                        self.finding(n, "not-one-line", f"{eng} as_of {as_of}: {err.strip()[:800]}", engine=eng)
                    self.bump("nothing-accepted")
                elif rc == 2:
                    if not one_line(err):
                        self.finding(n, "not-one-line", f"{eng} as_of {as_of}: {err.strip()[:800]}", engine=eng)
                    docs[eng] = ("refused", err.strip())
                    continue
                try:
                    docs[eng] = ("doc", json.loads(out))
                except json.JSONDecodeError:
                    self.finding(n, "bad-json", f"{eng} as_of {as_of}: rc {rc} {out[:300]!r} {err[:300]}")
            ref = docs.get("reference")
            if ref is None:
                continue
            if ref[0] == "refused":
                self.bump("refused-by-reference")
                self.bump("refused-by-reference:" + re.sub(r"\S*case-\d+\S*", "", ref[1])[:70])
                for eng, got in docs.items():
                    if got[0] != "refused" and eng != "reference":
                        # the reference refusing the pack (or deciding nothing) while another decides is a finding
                        self.finding(n, "disagreement", f"{eng} as_of {as_of}: reference exit 2 ({ref[1][:300]}) "
                                                        f"but {eng} decided", engine=eng, as_of=as_of)
                break  # an invalid pack is invalid at every date
            if misspelt and results["reference"][0] == 0:
                self.finding(n, "misspelt-exit-0", f"the {misspelt} rows under a misspelt name: exit 0", as_of=as_of)
            self.bump("decided-cases-dates")
            self.bump("decisions", len(ref[1]["decisions"]))
            self.bump("with-rejected-inputs", sum(1 for x in ref[1]["decisions"] if x.get("rejected_inputs")))
            for eng, got in docs.items():
                if eng == "reference":
                    continue
                if got[0] == "refused":
                    if eng in ("durable", "cli-durable"):
                        self.bump("durable-refused")
                        continue
                    self.finding(n, "refused", f"{eng} as_of {as_of} refused what the reference decided: {got[1]}",
                                 engine=eng, as_of=as_of)
                    continue
                if results[eng][0] != results["reference"][0]:
                    self.finding(n, "exit-status", f"{eng} as_of {as_of}: exit {results[eng][0]} vs reference "
                                                   f"{results['reference'][0]}", engine=eng, as_of=as_of)
                if got[1] != ref[1]:
                    self.finding(n, "disagreement", f"{eng} as_of {as_of}: {first_diff(ref[1], got[1])}",
                                 engine=eng, as_of=as_of)
                self.bump(f"compared:{eng}")
            if misspelt and checker is not None and not isinstance(checker, tuple):
                self.repaired(n, checker, named_src, as_of, ref[1], f"the {misspelt} source named right")
            if clean is not None and checker is not None and not isinstance(checker, tuple):
                self.repaired(n, checker, clean_src, as_of, ref[1], "repaired")
                self.repaired(n, checker, alt_src, as_of, ref[1], "other valid values")
            if fmt == "json" and not misspelt and results["reference"][0] == 0 and as_of == min(dates) \
                    and self.args.rules_test and not overrides:
                self.rules_test(n, d, src, pack, as_of, ref[1])
            if fmt in ("csv", "parquet") and self.args.stream_every and n % self.args.stream_every == 0:
                self.stream(n, d, src, pack, as_of, ref[1], rng)
            if fmt in ("csv", "parquet") and self.args.dask_every and n % self.args.dask_every == 0:
                self.dask(n, d, src, pack, as_of, ref[1])
            if self.args.watch_every and n % self.args.watch_every == 0 and fmt == "json":
                self.watch(n, d, src, pack, as_of, ref[1], rng)
        kept = self.findings > found_before or self.args.keep
        if not kept:
            shutil.rmtree(d, ignore_errors=True)
        return not kept

    def lib_checker(self, pack: Path) -> Any:
        """In-process checker (``--via lib``): a FatalError at load is the one-line refusal, as the CLI's exit 2."""
        from engine.errors import FatalError
        from engine.run import Checker

        try:
            return Checker(rules=[pack], include_shipped=True)
        except FatalError as exc:
            return ("refused", str(exc))

    def lib_run(self, checker: Any, src: Path, as_of: str, eng: str) -> tuple[int, str, str]:
        import traceback

        from engine.errors import FatalError

        self.runner.runs[eng] = self.runner.runs.get(eng, 0) + 1
        if isinstance(checker, tuple):
            return 2, "", checker[1]
        try:
            params = checker.overrides([o for o in self.params if o != "--param"])
            res = checker.check(src, as_of=dt.date.fromisoformat(as_of), engine=eng, params=params)
        except FatalError as exc:
            return 2, "", str(exc)
        except Exception:  # noqa: BLE001 - every other exception is a crash the fuzzer reports
            return 3, "", "Traceback (in process)\n" + traceback.format_exc()
        for note in res.notes:
            self.bump(f"note:{eng}:{note[:40]}")
        return res.exit_code, json.dumps(res.document, ensure_ascii=False), "\n".join(res.notes)

    def repaired(self, n: int, checker: Any, clean_src: Path, as_of: str, ref: dict, how: str) -> None:
        """Issue 11.1, independently: every record made invalid on purpose is put back as it was (a valid record
        with the same readable fields); no decision the reference gave as definite may change."""
        rc, out, err = self.lib_run(checker, clean_src, as_of, "reference")
        if rc == 2 and not out.strip():
            return
        after = {(x["rule_id"], x["subject_type"], x["subject_id"]): x for x in json.loads(out)["decisions"]}
        self.bump("compared:repaired")
        for x in ref["decisions"]:
            if x["status"] == "undetermined":
                continue
            y = after.get((x["rule_id"], x["subject_type"], x["subject_id"]))
            keys = ("status", "amount", "amount_min", "amount_max")
            if y is None or any(x[k] != y[k] for k in keys):
                self.finding(n, "rejected-not-unknown",
                             f"as_of {as_of} {x['rule_id']} {x['subject_id']}: {[x[k] for k in keys]} with the rejected "
                             f"rows, {None if y is None else [y[k] for k in keys]} with them {how}; "
                             f"reasons {x['reasons']}", as_of=as_of)
                return

    def rules_test(self, n: int, d: Path, src: Path, pack: Path, as_of: str, ref: dict) -> None:
        """The reference's decisions of this case as the pack's YAML test cases: ``chanjiao rules test`` runs them
        on every engine and must pass them all (exit 0)."""
        raw = json.loads(src.read_text(encoding="utf-8"))
        if any(k not in MODEL for k in raw):
            return
        tests = pack / "tests"
        tests.mkdir(exist_ok=True)
        rules = sorted({x["rule_id"] for x in ref["decisions"] if x["rule_id"].startswith("fz")})
        for rid in rules:
            expect = [{"subject": x["subject_id"], "status": x["status"], "amount": x["amount"],
                       "amount_min": x["amount_min"], "amount_max": x["amount_max"],
                       "missing_facts": x["missing_facts"]}
                      for x in ref["decisions"] if x["rule_id"] == rid]
            if not expect or len({e["subject"] for e in expect}) != len(expect):
                continue
            case = {"rule": rid, "as_of": as_of, "cases": [{"name": f"case {n}", "dataset": raw, "expect": expect}]}
            (tests / f"{rid.split('.')[1]}.yaml").write_text(json.dumps(case, ensure_ascii=False, indent=1),
                                                             encoding="utf-8")
        rc, out, err = self.runner.run(["rules", "test", str(pack)], "rules-test")
        shutil.rmtree(tests)
        c = crashed(rc, err)
        self.bump("compared:rules-test")
        if c or rc != 0:
            self.finding(n, "rules-test", f"as_of {as_of}: exit {rc}: {(out + err).strip()[-1500:]}",
                         engine="rules test", as_of=as_of)

    def stream(self, n: int, d: Path, src: Path, pack: Path, as_of: str, ref: dict, rng: random.Random) -> None:
        out = d / f"stream-{as_of}" / "out.jsonl"
        out.parent.mkdir(exist_ok=True)
        chunk = rng.choice(["1", "2", "3"])
        rc, o, err = self.runner.run(["check", str(src), "--rules", str(pack), "--as-of", as_of, "--engine",
                                      "vectorised", "--format", "jsonl", "--output", str(out), "--workers", "2",
                                      "--chunk-size", chunk, "--quiet", *self.params], "stream")
        c = crashed(rc, err)
        if c:
            self.finding(n, "crash", f"stream as_of {as_of}: {c}: {err.strip()[-1500:]}", engine="stream")
            return
        if rc == 2:  # refusing a pack it cannot stream, in one line, is allowed
            if not one_line(err):
                self.finding(n, "not-one-line", f"stream as_of {as_of}: {err.strip()[:800]}", engine="stream")
            self.bump("stream-refused")
            self.bump("stream-refused:" + re.sub(r"\S*case-\d+\S*|fz\d+\.r\d", "", err.strip())[:90])
            return
        rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines() if x.strip()]
        got = sorted((project_row(r) for r in rows), key=sort_key)
        want = sorted((project(x) for x in ref["decisions"]), key=sort_key)
        self.bump("compared:stream")
        if got != want:
            self.finding(n, "disagreement", f"stream as_of {as_of} chunk {chunk}: {first_diff(want, got)}",
                         engine="stream", as_of=as_of)
        self.summary(n, "stream", as_of, out.with_suffix(".summary.json"), ref)

    def dask(self, n: int, d: Path, src: Path, pack: Path, as_of: str, ref: dict) -> None:
        out = d / f"dask-{as_of}" / "out"
        out.parent.mkdir(exist_ok=True)
        rc, o, err = self.runner.run(["check", str(src), "--rules", str(pack), "--as-of", as_of, "--dask", "local:2",
                                      "--output", str(out), "--chunk-size", "2", "--quiet", *self.params], "dask",
                                     timeout=600)
        c = crashed(rc, err)
        if c:
            self.finding(n, "crash", f"dask as_of {as_of}: {c}: {err.strip()[-1500:]}", engine="dask")
            return
        if rc == 2:
            if not one_line(err):
                self.finding(n, "not-one-line", f"dask as_of {as_of}: {err.strip()[:800]}", engine="dask")
            self.bump("dask-refused")
            return
        import pyarrow.parquet as pq

        rows = pq.read_table(out).to_pylist()
        got = sorted((project_row(r) for r in rows), key=sort_key)
        want = sorted((project(x) for x in ref["decisions"]), key=sort_key)
        self.bump("compared:dask")
        if got != want:
            self.finding(n, "disagreement", f"dask as_of {as_of}: {first_diff(want, got)}", engine="dask",
                         as_of=as_of)
        self.summary(n, "dask", as_of, out.with_suffix(".summary.json"), ref)

    def summary(self, n: int, path: str, as_of: str, file: Path, ref: dict) -> None:
        """A streamed run's summary file: the counts and totals per rule, the missing facts and the parameters
        in force must be the document's."""
        got = json.loads(file.read_text(encoding="utf-8"))
        for key, want in (("by_rule", ref["summary"]["by_rule"]), ("missing_facts", ref["summary"]["missing_facts"]),
                          ("parameters", ref["parameters"])):
            if got.get(key) != want:
                self.finding(n, "disagreement", f"{path} as_of {as_of} summary {key}: {first_diff(want, got.get(key))}",
                             engine=path, as_of=as_of)
                return

    def watch(self, n: int, d: Path, src: Path, pack: Path, as_of: str, ref: dict, rng: random.Random) -> None:
        """Start from the dataset, delete and re-insert every valid record: the last line per decision is the check's."""
        doc = json.loads(src.read_text(encoding="utf-8"))
        rejected = {(e["record_type"], e.get("row")) for e in ref["errors"]}
        lines = []
        for key, rows in doc.items():
            rtype = key if key in MODEL else {v: k for k, v in ZH_TYPE.items()}.get(key)
            if rtype is None:  # a misspelt key: its rows were never accepted
                continue
            seen = set()
            for i, r in enumerate(rows, 1):
                if (rtype, i) in rejected or r.get("id") in seen:
                    continue
                seen.add(r.get("id"))
                lines.append((rtype, r))
        rng.shuffle(lines)
        # some records come back changed: a field (a reference too: the record moves) taken from another valid record
        moved = {}
        for t, r in lines:
            donors = [x for u, x in lines if u == t and x is not r]
            fields = [k for k in r if k != "id"]
            if donors and fields and rng.random() < 0.3:
                k = rng.choice(fields)
                moved[id(r)] = {**r, k: rng.choice(donors).get(k)}
        changes = [json.dumps({"op": "delete", "record_type": t, "record": {"id": r["id"]}}, ensure_ascii=False)
                   for t, r in lines]
        changes += [json.dumps({"op": "upsert", "record_type": t, "record": moved.get(id(r), r)}, ensure_ascii=False)
                    for t, r in reversed(lines)]
        (d / f"changes-{as_of}.jsonl").write_text("\n".join(changes) + "\n", encoding="utf-8")
        if moved:  # what the watch must end at: a fresh check of the changed dataset
            final = d / f"final-{as_of}.json"
            final.write_text(json.dumps({k: [moved.get(id(r), r) for r in rows] for k, rows in doc.items()},
                                        ensure_ascii=False), encoding="utf-8")
            rc, o, err = self.runner.run(["check", str(final), "--rules", str(pack), "--as-of", as_of, "--engine",
                                          "reference", "--format", "json", "--quiet", *self.params], "watch-final")
            if crashed(rc, err) or not o.strip():
                return
            ref = json.loads(o)
        for eng in ("reference", "durable", "vectorised"):
            rc, o, err = self.runner.run(["watch", "--dataset", str(src), "--rules", str(pack), "--as-of", as_of,
                                          "--engine", eng, *self.params], f"watch-{eng}",
                                         stdin="\n".join(changes) + "\n")
            c = crashed(rc, err)
            if c:
                self.finding(n, "crash", f"watch {eng} as_of {as_of}: {c}: {err.strip()[-1500:]}", engine="watch")
                continue
            if rc == 2:
                continue
            last: dict[tuple, Any] = {}
            for x in o.split("\n"):
                if x.strip():
                    j = json.loads(x)
                    last[(j["rule_id"], j["subject_type"], j["subject_id"])] = j["decision"]
            want = {(x["rule_id"], x["subject_type"], x["subject_id"]): x for x in ref["decisions"]}
            self.bump(f"compared:watch-{eng}")
            for k, dec in last.items():
                if dec is None or k not in want:
                    continue  # a subject whose rejected twin the watch never saw
                if want[k].get("rejected_inputs"):
                    continue  # watch does not see rejected rows once deleted: they are not in its state
                if strip_debug(dec) != strip_debug(want[k]):
                    self.finding(n, "disagreement", f"watch {eng} as_of {as_of} {k}: {first_diff(want[k], dec)}",
                                 engine="watch", as_of=as_of)
                    break


def strip_debug(d: dict) -> dict:
    """What watch must agree on: the decision proper (a watch line carries no ``gap``, which annotates documents)."""
    return {k: v for k, v in d.items() if k not in ("engine", "gap")}


def project_row(r: dict[str, Any]) -> dict[str, Any]:
    out = {k: r.get(k) for k in STREAM_KEYS}
    for k in ("missing_facts", "reasons"):
        if isinstance(out[k], str):
            out[k] = json.loads(out[k])
        elif out[k] is not None:
            out[k] = list(out[k])
    out.update(document_number=r.get("document_number"), clause=r.get("clause"), quote=r.get("quote"))
    ri = r.get("rejected_inputs")
    if isinstance(ri, str):
        ri = json.loads(ri) if ri else []
    out["rejected_inputs"] = ri or []
    return out


def sort_key(d: dict[str, Any]) -> tuple:
    return d["rule_id"], d["subject_type"], d["subject_id"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cases", type=int, default=50)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--only", type=int, nargs="*")
    ap.add_argument("--out", default="/tmp/chanjiao-fuzz")
    ap.add_argument("--keep", action="store_true", help="keep every case folder, not only those with findings")
    ap.add_argument("--stream-every", type=int, default=2)
    ap.add_argument("--dask-every", type=int, default=0)
    ap.add_argument("--watch-every", type=int, default=3)
    ap.add_argument("--no-rules-test", dest="rules_test", action="store_false",
                    help="do not turn JSON cases into YAML test cases for `chanjiao rules test`")
    ap.add_argument("--minutes", type=float, default=0)
    ap.add_argument("--population", help="a CSV folder to check every random pack against (e.g. written by "
                                         "benchmarks/generate.py 2000 DIR) instead of generated datasets")
    ap.add_argument("--via", choices=["cli", "lib"], default="cli",
                    help="cli: every engine through the command; lib: engines in this process (engine.run.Checker, "
                         "much faster) and one engine per case through the command")
    ap.add_argument("--chanjiao", default=str(ROOT / ".venv" / "bin" / "chanjiao"))
    args = ap.parse_args()
    fz = Fuzzer(args)
    start = time.monotonic()
    numbers = args.only if args.only else range(args.start, args.start + args.cases)
    for n in numbers:
        if args.minutes and time.monotonic() - start > args.minutes * 60:
            break
        print(f"case {n}", flush=True)
        try:
            fz.case(n)
        except Exception:  # noqa: BLE001 - a bug of the fuzzer itself: say so and go on
            import traceback

            fz.bump("fuzzer-errors")
            print(traceback.format_exc(), flush=True)
        snapshot = {**fz.stats, **{f"runs:{k}": v for k, v in fz.runner.runs.items()}, "findings": fz.findings}
        (fz.out / f"stats-{args.seed}.json").write_text(json.dumps(snapshot, indent=1, sort_keys=True))
    fz.stats.update({f"runs:{k}": v for k, v in fz.runner.runs.items()})
    fz.stats["findings"] = fz.findings
    print(json.dumps(fz.stats, indent=1, sort_keys=True))
    (fz.out / f"stats-{args.seed}.json").write_text(json.dumps(fz.stats, indent=1, sort_keys=True))
    return 1 if fz.findings else 0


if __name__ == "__main__":
    sys.exit(main())
