"""The ``chanjiao`` command: a thin layer over the library.

Exit status: 0 every record accepted; 1 some records rejected (all others still decided); 2 nothing could be
evaluated (unreadable dataset, invalid rule pack, bad arguments) — always one line on stderr, no traceback.
Set CHANJIAO_DEBUG=1 to see the traceback of an internal error.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, NoReturn, Optional

import typer

from .casetests import CaseEngines, disagreements, run_case_file
from .errors import FatalError, RecordError
from .backends import make_engine
from .backends.durable_compile import CompileError
from .explain import trace_to_dict, trace_to_text
from .lint import lint_dirs
from .policy import Pack
from .render import to_json, to_jsonl, to_table, write_csv, write_parquet, write_xlsx
from .run import AUTO_THRESHOLD_BYTES, Checker
from .schema import write_schemas
from .watch import ChangeError, Watcher, read_change

__all__ = ["app", "main", "AUTO_THRESHOLD_BYTES"]

# click's exception classes, whether typer uses click itself or its own vendored copy (typer >= 0.29)
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")

app = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False,
                  help="chanjiao: cited policy decisions for 产教融合 (industry-education integration) policies.")
rules_app = typer.Typer(add_completion=False, rich_markup_mode=None, help="List, show, lint and test rule packs.")
app.add_typer(rules_app, name="rules")


class OutputFormat(str, Enum):
    """Formats of ``chanjiao check``."""

    table = "table"
    json = "json"
    csv = "csv"
    xlsx = "xlsx"
    jsonl = "jsonl"
    parquet = "parquet"


class EngineName(str, Enum):
    """Engines of ``chanjiao check`` and ``chanjiao watch``."""

    auto = "auto"
    durable = "durable"
    reference = "reference"
    vectorised = "vectorised"


class TraceFormat(str, Enum):
    """Formats of ``chanjiao explain``."""

    text = "text"
    json = "json"


def _fail(message: str) -> NoReturn:
    raise FatalError(message)


def _as_of(text: Optional[str]) -> dt.date:
    if text is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        _fail(f"--as-of {text!r} is not a date YYYY-MM-DD")


def _packs(rules: Optional[list[Path]], include_shipped: bool = True) -> list[Pack]:
    return Checker(rules or [], include_shipped=include_shipped).packs


def _engine(name: EngineName, packs: list[Pack]) -> Any:
    auto = name is EngineName.auto
    if auto:  # one subject at a time (watch, small files): durable, the reference deciding what it refuses
        name = EngineName.durable
    try:
        return make_engine(name.value, packs, fallback=auto)
    except CompileError as exc:
        _cannot_run(name, exc)


def _cannot_run(name: EngineName, exc: CompileError) -> NoReturn:
    _fail(f"the {name.value} engine cannot run rule {exc} (use --engine auto or reference)")


EngineOpt = typer.Option(EngineName.auto, "--engine",
                         help="auto, durable (durable-rules decides every test), reference or vectorised (column-wise, "
                              "streamed); the decisions are identical. auto: by measured cost, durable for a case-sized "
                              "submission, the vectorised backend (streamed) above "
                              f"{AUTO_THRESHOLD_BYTES // 1_000_000} MB of input; a rule durable cannot run is "
                              "decided by the reference.")
RulesOpt = typer.Option(None, "--rules", help="A rule pack folder, or a folder of packs, to add (replaces a shipped pack with the same id).")
AsOfOpt = typer.Option(None, "--as-of", help="Evaluation date YYYY-MM-DD (default: today).")
ParamOpt = typer.Option(None, "--param", help="Override a parameter: NAME=VALUE or PACK.NAME=VALUE (repeatable).")


@app.command()
def check(
    dataset: Path = typer.Argument(..., help="A JSON/YAML file, an XLSX workbook, or a directory of CSV files."),
    as_of: Optional[str] = AsOfOpt,
    format: OutputFormat = typer.Option(OutputFormat.table, "--format",
                                        help="table, json, csv, xlsx, jsonl (one decision per line) or parquet."),
    output: Optional[Path] = typer.Option(None, "--output", help="Write here instead of stdout (required for xlsx)."),
    rules: Optional[list[Path]] = RulesOpt,
    param: Optional[list[str]] = ParamOpt,
    engine: EngineName = EngineOpt,
    chunk_size: int = typer.Option(50_000, "--chunk-size", min=1,
                                   help="Enterprises per partition when streaming (memory follows it)."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1,
                                          help="Processes deciding a streamed check side by side (default: one "
                                               "per CPU; 1 keeps it in this process)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar or closing line on stderr."),
    dask: Optional[str] = typer.Option(None, "--dask", metavar="SCHEDULER",
                                       help="Run on a Dask cluster (tcp://host:8786, or local / local:N workers "
                                            "on this machine); writes --output as a directory of Parquet parts."),
    partitions: Optional[int] = typer.Option(None, "--partitions", min=1,
                                             help="Partitions of a --dask run (default: one per --chunk-size "
                                                  "enterprises, at least one per worker thread)."),
) -> None:
    """Decide every rule for every record of DATASET."""
    day = _as_of(as_of)
    checker = Checker(rules or [])
    overrides = checker.overrides(param)
    if format in (OutputFormat.xlsx, OutputFormat.parquet) and output is None:
        _fail(f"--format {format.value} needs --output FILE")
    if not dataset.exists():
        _fail(f"{dataset}: no such file or directory")
    if dask is not None:
        _check_on_dask(checker, dataset, day, overrides, format, output, engine, dask, partitions, chunk_size, quiet)
        return
    chosen = checker.choose_engine(engine.value, dataset)
    streamed = (chosen == "vectorised" and dataset.is_dir() and output is not None
                and format in (OutputFormat.csv, OutputFormat.jsonl, OutputFormat.parquet))
    if streamed:
        assert output is not None
        _report(checker.check_stream(dataset, output, format.value, as_of=day, params=overrides,
                                     chunk_size=chunk_size, workers=workers,
                                     progress=sys.stderr.isatty() and not quiet), quiet)
        return
    result = checker.check(dataset, as_of=day, params=overrides, engine=engine.value)
    for note in result.notes:
        print(f"chanjiao: {note}", file=sys.stderr)
    if os.environ.get("CHANJIAO_DEBUG"):  # which engine decided which rule: never in the document
        print(f"chanjiao: debug: {json.dumps(result.decided_by, ensure_ascii=False)}", file=sys.stderr)
    try:
        _write(result.document, format, output)
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")
    if result.exit_code:
        print(f"chanjiao: {len(result.dataset.errors)} record error(s): rejected records are listed in the output's "
              "errors; every other record was decided", file=sys.stderr)
        raise typer.Exit(result.exit_code)


def _check_on_dask(checker: Checker, dataset: Path, day: dt.date, overrides: dict[str, Decimal],
                   format: OutputFormat, output: Optional[Path], engine: EngineName, scheduler: str,
                   partitions: Optional[int], chunk_size: int, quiet: bool) -> None:
    """``check --dask``: the vectorised backend over a Dask cluster, Parquet parts out (engine.cluster)."""
    if output is None:
        _fail("--dask needs --output DIR (a directory of Parquet parts)")
    if format not in (OutputFormat.table, OutputFormat.parquet):
        _fail(f"--dask writes Parquet; --format {format.value} is not available there")
    if engine not in (EngineName.auto, EngineName.vectorised):
        _fail(f"--dask runs the vectorised backend, not --engine {engine.value}")
    assert output is not None
    _report(checker.check_dask(dataset, output, scheduler, as_of=day, params=overrides, partitions=partitions,
                               chunk_size=chunk_size), quiet)


def _report(res: Any, quiet: bool) -> None:
    """The closing line of a streamed or Dask check; exit 1 when records were rejected."""
    if not quiet:
        print(f"chanjiao: {res.records:,} records, {res.decisions:,} decisions → "
              f"{', '.join(str(p) for p in res.outputs)}", file=sys.stderr)
    n_err = sum(isinstance(e, RecordError) for e in res.errors)
    if n_err:
        print(f"chanjiao: {n_err} record error(s): rejected records are listed in {res.outputs[-1]}; every other "
              "record was decided", file=sys.stderr)
        raise typer.Exit(1)


def _write(doc: dict[str, Any], fmt: OutputFormat, output: Optional[Path]) -> None:
    if fmt is OutputFormat.xlsx:
        assert output is not None
        write_xlsx(doc, output)
        return
    if fmt is OutputFormat.csv:
        text = write_csv(doc, output)
        if text is not None:
            sys.stdout.write(text)
        return
    if fmt is OutputFormat.parquet:
        assert output is not None
        write_parquet(doc, output)
        return
    if fmt is OutputFormat.json:
        text = to_json(doc)
    elif fmt is OutputFormat.jsonl:
        text = to_jsonl(doc)
    else:
        text = to_table(doc, color=output is None and sys.stdout.isatty())
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


@app.command()
def explain(
    dataset: Path = typer.Argument(..., help="The dataset the subject is in."),
    rule: str = typer.Option(..., "--rule", help="Rule id, e.g. tonghua.frontline_share."),
    subject: str = typer.Option(..., "--subject", help="The subject record's id."),
    as_of: Optional[str] = AsOfOpt,
    format: TraceFormat = typer.Option(TraceFormat.text, "--format", help="text or json."),
    rules: Optional[list[Path]] = RulesOpt,
    param: Optional[list[str]] = ParamOpt,
) -> None:
    """Show how one decision was made: every condition, fact, parameter and citation."""
    day = _as_of(as_of)
    checker = Checker(rules or [])
    trace = checker.explain(dataset, rule, subject, as_of=day, params=checker.overrides(param))
    if format is TraceFormat.json:
        sys.stdout.write(json.dumps(trace_to_dict(trace), ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(trace_to_text(trace))


@rules_app.command("list")
def rules_list(rules: Optional[list[Path]] = RulesOpt) -> None:
    """List every rule with its effect, subject and clause."""
    for pack in _packs(rules):
        print(f"{pack.id}  {pack.document_number}  {pack.title}")
        for r in pack.rules:
            print(f"  {r.id:<45} {r.effect:<10} {r.subject:<20} {r.citation.clause}  {r.title}")


@rules_app.command("show")
def rules_show(rule_id: str = typer.Argument(..., help="Rule id."), rules: Optional[list[Path]] = RulesOpt) -> None:
    """Show a rule: its citation, scope, criteria and the YAML it is written in."""
    pack, rule = Checker(rules or []).rule(rule_id)
    c = rule.citation
    print(f"{rule.id} — {rule.title}")
    print(f"effect {rule.effect}; subject {rule.subject}; jurisdiction {pack.jurisdiction} "
          f"({', '.join(p + 'xx' for p in pack.region_prefixes)}); from {pack.issued_on}")
    print(f"citation {c.document_number} {c.clause}: “{c.quote}”")
    print(f"file {rule.file}\n")
    print(Path(rule.file).read_text(encoding="utf-8"))


@rules_app.command("lint")
def rules_lint(directory: Optional[Path] = typer.Argument(None, help="A pack or folder of packs (default: the shipped packs).")) -> None:
    """Check packs: schema, types, ids, verbatim quotes, cited parameters, test coverage of every status."""
    packs, problems = lint_dirs([directory] if directory else None, include_shipped=directory is None)
    for p in problems:
        print(p)
    errors = [p for p in problems if p.severity == "error"]
    n_rules = sum(len(p.rules) for p in packs)
    print(f"{len(packs)} pack(s), {n_rules} rule(s): {len(errors)} error(s), {len(problems) - len(errors)} warning(s)")
    if errors:
        raise typer.Exit(1)


@rules_app.command("test")
def rules_test(directory: Optional[Path] = typer.Argument(None, help="A pack or folder of packs (default: the shipped packs).")) -> None:
    """Run the packs' YAML test cases against the reference evaluator, and every case on every engine."""
    packs = _packs([directory] if directory else None, include_shipped=directory is None)
    passed = failed = 0
    engines = CaseEngines(packs)
    for pack in packs:
        for tf in pack.test_files:
            for problem in disagreements(tf, packs, engines):
                failed += 1
                print(f"FAIL {problem}")
            for result in run_case_file(tf, packs):
                if result.passed:
                    passed += 1
                else:
                    failed += 1
                    print(f"FAIL {result.rule_id}: {result.name} ({result.file})")
                    for f in result.failures:
                        print(f"     {f}")
    print(f"{passed} passed, {failed} failed")
    if failed:
        raise typer.Exit(1)


@app.command()
def watch(
    changes: Optional[Path] = typer.Argument(None, help="A JSON Lines file of changes (default: standard input)."),
    dataset: Optional[Path] = typer.Option(None, "--dataset", help="Start from this dataset (its decisions are not printed)."),
    as_of: Optional[str] = AsOfOpt,
    rules: Optional[list[Path]] = RulesOpt,
    param: Optional[list[str]] = ParamOpt,
    engine: EngineName = EngineOpt,
) -> None:
    """Apply JSON Lines changes and print one JSON line per decision whose outcome changed.

    A change: {"op": "upsert"|"delete", "record_type": "agreements", "record": {...}}. Bad lines are reported on
    stderr with their line number and skipped; nothing already known is lost.
    """
    day = _as_of(as_of)
    checker = Checker(rules or [])
    packs, overrides = checker.packs, checker.overrides(param)
    initial = checker.load(dataset) if dataset else None
    try:
        stream = open(changes, encoding="utf-8") if changes else sys.stdin
    except OSError as exc:
        _fail(f"{changes}: {exc.strerror}")
    bad = 0
    with _engine(engine, packs) as eng, stream:
        watcher = Watcher(eng, day, overrides, initial)
        for number, text in enumerate(stream, start=1):
            if not text.strip():
                continue
            try:
                lines = watcher.apply(read_change(text), number)
            except ChangeError as exc:
                bad += 1
                print(f"chanjiao: line {number}: {exc}; skipped", file=sys.stderr)
                continue
            for line in lines:
                sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
            sys.stdout.flush()
    if bad:
        raise typer.Exit(1)


@app.command()
def schema(output: Path = typer.Option(Path("schemas"), "--output", help="Folder to write the JSON Schemas into.")) -> None:
    """Write the JSON Schemas of the dataset, rule pack, rule, rule tests and decision document."""
    for path in write_schemas(output):
        print(path)


def main() -> None:
    """Entry point of the ``chanjiao`` command."""
    try:
        code = app(standalone_mode=False)
    except FatalError as exc:
        print(f"chanjiao: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except _ClickException as exc:  # usage errors: unknown option, missing argument, bad choice
        print(f"chanjiao: error: {exc.format_message()}", file=sys.stderr)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        print("chanjiao: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # the promise: no traceback, ever, unless asked for
        if os.environ.get("CHANJIAO_DEBUG"):
            raise
        print(f"chanjiao: internal error: {type(exc).__name__}: {exc} (set CHANJIAO_DEBUG=1 for details)", file=sys.stderr)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
