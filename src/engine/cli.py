"""The ``chanjiao`` command: a thin layer over the library.

Exit status: 0 every record accepted; 1 some records rejected (all others still decided); 2 nothing could be
evaluated (unreadable dataset, invalid rule pack, bad arguments) — always one line on stderr, no traceback.
Set CHANJIAO_DEBUG=1 to see the traceback of an internal error. A bare ``chanjiao`` prints the usage (exit 0);
``chanjiao --version`` prints the version.

Messages are Chinese by default and English with ``--lang en`` (written anywhere on the line); without it the
locale decides (engine.messages.default_lang). Help texts are Chinese, with an example per command.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, NoReturn, Optional

import typer

from engine.policy.casetests import CaseEngines, disagreements, run_case_file
from engine.messages import msg, render, resolve_lang
from engine.errors import FatalError
from engine.engines import make_engine
from engine.engines.durable_compile import CompileError
from engine.output.explain import trace_to_dict, trace_to_text
from engine.policy.lint import lint_dirs
from engine.policy.packs import Pack
from engine.output.render import to_json, to_jsonl, to_table, write_csv, write_parquet, write_text, write_xlsx
from engine.run import AUTO_THRESHOLD_BYTES, Checker
from engine.output.safe import visible
from engine.output.schema import write_schemas
from engine.data.limits import parse_limits
from engine.policy.params import override_warnings
from engine.run.watch import ChangeError, Watcher, change_lines, read_change

__all__ = ["app", "main", "AUTO_THRESHOLD_BYTES"]

# click's exception classes, whether typer uses click itself or its own vendored copy (typer >= 0.29)
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")

app = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False,
                  help="chanjiao：产教融合政策合规检查——按规则给出带政策出处的判定。\n\n"
                       "\b\n示例：\n  chanjiao check examples/yichang-enterprise-2021.xlsx --as-of 2021-12-31\n"
                       "  chanjiao template 填报模板.xlsx\n  chanjiao check 数据.xlsx --lang en")
rules_app = typer.Typer(add_completion=False, rich_markup_mode=None,
                        help="列出、查看、检查和测试规则包。\n\n\b\n示例：\n  chanjiao rules list")
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


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("chanjiao")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree without installing
        return "unknown"


@app.callback(invoke_without_command=True)
def _root(ctx: typer.Context,
          lang: Optional[str] = typer.Option(None, "--lang", metavar="zh|en",
                                             help="消息语言：zh（中文，默认）或 en（英文）；未指定时跟随系统区域设置 "
                                                  "LC_ALL/LANG。可写在命令行任意位置。"),
          version: bool = typer.Option(False, "--version", help="显示版本号并退出。")) -> None:
    """chanjiao：产教融合政策合规检查。"""
    if version:
        print(f"chanjiao {_version()}")
        raise typer.Exit(0)
    try:
        ctx.obj = resolve_lang(lang)
    except ValueError as exc:
        _fail(exc.args[0])
    if ctx.invoked_subcommand is None:  # a bare `chanjiao`: the usage, exit 0
        print(ctx.get_help())
        raise typer.Exit(0)


def _lang(ctx: typer.Context) -> str:
    """The language of this run (set by the root callback from --lang or the locale)."""
    return ctx.obj if ctx.obj in ("zh", "en") else resolve_lang(None)


def _as_of(text: Optional[str]) -> dt.date:
    if text is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        _fail(msg("cli.bad_as_of", text=text))


def _packs(rules: Optional[list[Path]], include_shipped: bool = True) -> list[Pack]:
    return Checker(rules or [], include_shipped=include_shipped).packs


def _params(checker: Checker, param: Optional[list[str]], allow_out_of_range: bool,
            lang: str = "zh") -> dict[str, Decimal]:
    """The checked ``--param`` overrides; an out-of-range what-if (allowed) is a warning line on stderr."""
    overrides = checker.overrides(param, allow_out_of_range=allow_out_of_range)
    for w in override_warnings(overrides, checker.packs):
        print(f"chanjiao: {render(w.message, lang)}", file=sys.stderr)
    return overrides


def _engine(name: EngineName, packs: list[Pack]) -> Any:
    """The engine ``watch`` keeps: ``auto`` is the reference evaluator — durable-rules' C engine dies now and then
    (SIGSEGV) and in ``watch`` it lives in this process, so a crash would end the watch; it is slower per subject too
    (benchmarks/bench_engines.py). ``--engine durable`` keeps durable, with that risk."""
    if name is EngineName.auto:
        name = EngineName.reference
    try:
        return make_engine(name.value, packs)
    except CompileError as exc:
        _cannot_run(name, exc)


def _cannot_run(name: EngineName, exc: CompileError) -> NoReturn:
    _fail(msg("cli.cannot_run", engine=name.value, problem=str(exc)))


EngineOpt = typer.Option(EngineName.auto, "--engine",
                         help="判定引擎：auto、durable（durable-rules 判定每个条件）、reference（参考评估器）或 vectorised（按列、"
                              "可流式处理）；各引擎判定相同。auto：按实测成本选择——案件规模的提交用 durable，更大的用参考评估器或 "
                              f"vectorised（输入超过 {AUTO_THRESHOLD_BYTES // 1_000_000} MB 时流式处理）；durable "
                              "无法运行的规则由参考评估器判定。")
RulesOpt = typer.Option(None, "--rules", help="追加的规则包文件夹（或存放多个规则包的文件夹）；与内置规则包同 id 时替换之。")
AsOfOpt = typer.Option(None, "--as-of", help="评估日期 YYYY-MM-DD（默认今天）。")
ParamOpt = typer.Option(None, "--param", help="假设分析：覆盖参数 NAME=VALUE 或 PACK.NAME=VALUE（可重复）。")
AllowOpt = typer.Option(False, "--allow-out-of-range",
                        help="允许 --param 的假设值超出参数的政策范围（输出会注明是范围之外的测算）。")
LimitOpt = typer.Option(None, "--limit", metavar="NAME=VALUE",
                        help="提高输入的资源上限（可重复）：file_size、xlsx_unzipped、xlsx_cells、csv_columns、"
                             "line_length、nesting、yaml_alias_nodes；大小可带 K/M/G 后缀。")
PeriodOpt = typer.Option(None, "--period", help="只判定日期在该纳税年度（2021）或季度（2021Q3）内的记录，其余列为警告；"
                                                "--as-of 默认为该期间的最后一天。")


@app.command()
def check(
    ctx: typer.Context,
    dataset: Path = typer.Argument(..., help="数据集：JSON/YAML 文件、XLSX 工作簿或存放 CSV 文件的文件夹。"),
    as_of: Optional[str] = AsOfOpt,
    format: OutputFormat = typer.Option(OutputFormat.table, "--format",
                                        help="输出格式：table（表格）、json、csv、xlsx、jsonl（每行一项判定）或 parquet。"),
    output: Optional[Path] = typer.Option(None, "--output", help="写入此文件而非标准输出（xlsx、parquet 必填）。"),
    rules: Optional[list[Path]] = RulesOpt,
    param: Optional[list[str]] = ParamOpt,
    engine: EngineName = EngineOpt,
    chunk_size: int = typer.Option(50_000, "--chunk-size", min=1,
                                   help="流式处理时每个分区的企业数（内存占用随之变化）。"),
    workers: Optional[int] = typer.Option(None, "--workers", min=1,
                                          help="流式处理时并行判定的进程数（默认每个 CPU 一个；"
                                               "1 表示在本进程内完成）。"),
    quiet: bool = typer.Option(False, "--quiet", help="不在标准错误输出进度条和结束行。"),
    dask: Optional[str] = typer.Option(None, "--dask", metavar="SCHEDULER",
                                       help="在 Dask 集群上运行（tcp://host:8786，或 local / local:N 在本机启动 N 个"
                                            "工作进程）；--output 写成 Parquet 分片文件夹。"),
    partitions: Optional[int] = typer.Option(None, "--partitions", min=1,
                                             help="--dask 运行的分区数（默认每 --chunk-size 家企业一个，"
                                                  "至少每个工作线程一个）。"),
    header_row: Optional[int] = typer.Option(None, "--header-row", min=1,
                                             help="表头所在的行（从 1 起），用于每个工作表或 CSV 文件；默认自动找到标题行下面的表头。"),
    limit: Optional[list[str]] = LimitOpt,
    allow_out_of_range: bool = AllowOpt,
    period: Optional[str] = PeriodOpt,
    summary: bool = typer.Option(False, "--summary", help="表格格式只显示汇总，不逐条列出决定（适合大批数据）。"),
    enterprise: Optional[str] = typer.Option(None, "--enterprise", metavar="ID",
                                             help="只输出一家企业的政策享受情况表（文本；--format json 为数据）。"),
) -> None:
    """对数据集 DATASET 的每条记录判定每条规则。

    退出状态：0 全部记录通过校验；1 有记录被拒绝（其余记录照常判定）；2 无法判定（一行错误信息）。

    \b
    示例：
      chanjiao check examples/yichang-enterprise-2021.xlsx --as-of 2021-12-31
      chanjiao check examples/tonghua-finance-bureau --format xlsx --output 判定结果.xlsx
      chanjiao check examples/tonghua-finance-bureau --param certificate_subsidy_amount=1500
      chanjiao check examples/yichang-enterprise-2021.xlsx --period 2021
    """
    from engine.run.periods import default_as_of, parse_period

    lang = _lang(ctx)
    the_period = parse_period(period) if period is not None else None
    day = _as_of(as_of) if as_of is not None or the_period is None else default_as_of(the_period, dt.date.today())
    checker = Checker(rules or [])
    overrides = _params(checker, param, allow_out_of_range, lang)
    if format in (OutputFormat.xlsx, OutputFormat.parquet) and output is None:
        _fail(msg("cli.needs_output", fmt=format.value))
    if not dataset.exists():
        _fail(msg("file.not_found", path=dataset))
    if output is not None:
        _refuse_inputs(output, format, dataset)
    streamed = checker.streams(engine.value, dataset, output, format.value)
    if the_period is not None and (dask is not None or streamed):
        _fail(msg("period.streamed"))
    if dask is not None:
        _check_on_dask(checker, dataset, day, overrides, format, output, engine, dask, partitions, chunk_size, quiet,
                       lang, header_row)
        return
    if streamed:
        assert output is not None
        _report(checker.check_stream(dataset, output, format.value, as_of=day, params=overrides,
                                     chunk_size=chunk_size, workers=workers,
                                     progress=sys.stderr.isatty() and not quiet, lang=lang, header_row=header_row,
                                     limits=parse_limits(limit)),
                quiet, lang)
        return
    from engine.run.progress import SlowRunStatus

    with SlowRunStatus("chanjiao 判定中", enabled=sys.stderr.isatty() and not quiet):
        result = checker.check(dataset, as_of=day, params=overrides, engine=engine.value, lang=lang,
                               header_row=header_row, limits=parse_limits(limit), period=the_period)
    for note in result.notes:
        print(visible(f"chanjiao: {note}", keep_newlines=False), file=sys.stderr)
    if os.environ.get("CHANJIAO_DEBUG"):  # which engine decided which rule: never in the document
        print(f"chanjiao: debug: {json.dumps(result.decided_by, ensure_ascii=False)}", file=sys.stderr)
    try:
        if enterprise is not None:
            _write_benefits(result.document, result.dataset, checker.packs, day, overrides, enterprise, format,
                            output)
        else:
            _write(result.document, format, output, lang, summary_only=summary,
                   context=(result.dataset, checker.packs, day, dataset))
    except OSError as exc:
        _fail(msg("cli.cannot_write", path=output, reason=exc.strerror or exc))
    if result.exit_code == 2:
        print(render(msg("cli.nothing_decided", n=len(result.dataset.errors)), lang), file=sys.stderr)
        raise typer.Exit(2)
    if result.exit_code:
        print(render(msg("cli.record_errors", n=len(result.dataset.errors)), lang), file=sys.stderr)
        raise typer.Exit(result.exit_code)


def _check_on_dask(checker: Checker, dataset: Path, day: dt.date, overrides: dict[str, Decimal],
                   format: OutputFormat, output: Optional[Path], engine: EngineName, scheduler: str,
                   partitions: Optional[int], chunk_size: int, quiet: bool, lang: str = "zh",
                   header_row: Optional[int] = None) -> None:
    """``check --dask``: the vectorised backend over a Dask cluster, Parquet parts out (engine.run.cluster)."""
    if output is None:
        _fail(msg("cli.dask_output"))
    if format not in (OutputFormat.table, OutputFormat.parquet):
        _fail(msg("cli.dask_format", fmt=format.value))
    if engine not in (EngineName.auto, EngineName.vectorised):
        _fail(msg("cli.dask_engine", engine=engine.value))
    assert output is not None
    _report(checker.check_dask(dataset, output, scheduler, as_of=day, params=overrides, partitions=partitions,
                               chunk_size=chunk_size, lang=lang, header_row=header_row), quiet, lang)


def _report(res: Any, quiet: bool, lang: str = "zh") -> None:
    """The closing line of a streamed or Dask check; exit 1 when records were rejected, 2 when nothing was decided."""
    if not quiet:
        print(render(msg("cli.closing", records=res.records, decisions=res.decisions,
                         outputs=", ".join(str(p) for p in res.outputs)), lang), file=sys.stderr)
    if res.exit_code == 2:
        print(render(msg("cli.nothing_decided", n=res.rejected), lang), file=sys.stderr)
    elif res.exit_code == 1:
        print(render(msg("cli.record_errors_in", n=res.rejected, path=res.outputs[-1]), lang), file=sys.stderr)
    if res.exit_code:
        raise typer.Exit(res.exit_code)


def _refuse_inputs(output: Path, format: OutputFormat, dataset: Path, need_folder: bool = True) -> None:
    """--output (or a file written beside it) must not be an input of the run, and (``need_folder``) its folder
    must exist — checked before any work, so a long run cannot fail only at the end."""
    from engine.output.atomic import refuse_overwriting_inputs, require_folder

    if need_folder:
        require_folder(output)

    stem = output.with_suffix("")
    beside = [Path(f"{stem}.{n}") for n in ("summary.csv", "errors.csv", "tax.csv", "summary.json", "rollups.csv",
                                              "rollups.jsonl", "rollups.parquet")]
    refuse_overwriting_inputs([output, *beside], dataset)


def _write_benefits(doc: dict[str, Any], ds: Any, packs: list[Pack], day: dt.date, overrides: dict[str, Decimal],
                    enterprise: str, fmt: OutputFormat, output: Optional[Path]) -> None:
    """``check --enterprise ID``: the enterprise's benefits sheet (engine.output.benefits)."""
    from engine.output.benefits import benefits_sheet, benefits_text

    sheet = benefits_sheet(doc, ds, packs, day, overrides, enterprise)
    if fmt is OutputFormat.json:
        text = json.dumps(sheet, ensure_ascii=False, indent=2) + "\n"
    elif fmt is OutputFormat.table:
        text = benefits_text(sheet)
    else:
        _fail(msg("benefits.format", fmt=fmt.value))
    if output is None:
        sys.stdout.write(text)
    else:
        write_text(text, output)


def _write(doc: dict[str, Any], fmt: OutputFormat, output: Optional[Path], lang: str = "zh", *,
           summary_only: bool = False, context: Any = None) -> None:
    if fmt is OutputFormat.xlsx:
        from engine.output.report_context import report_context

        assert output is not None
        write_xlsx(doc, output, lang=lang, context=report_context(*context) if context else None)
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
        import shutil

        titles = {r.id: r.title for p in (context[1] if context else []) for r in p.rules}
        width = shutil.get_terminal_size((100, 24)).columns if output is None else 120
        text = to_table(doc, width=width, color=output is None and sys.stdout.isatty(), lang=lang,
                        summary_only=summary_only, titles=titles)
    if output is None:
        sys.stdout.write(text)
    else:
        write_text(text, output)


class CompareFormat(str, Enum):
    """Formats of ``chanjiao compare``."""

    table = "table"
    json = "json"
    xlsx = "xlsx"


@app.command()
def compare(
    ctx: typer.Context,
    dataset: Path = typer.Argument(..., help="按基准与测算情景分别判定的数据集。"),
    as_of: Optional[str] = AsOfOpt,
    period: Optional[str] = PeriodOpt,
    param: Optional[list[str]] = ParamOpt,
    scenario: Optional[Path] = typer.Option(None, "--scenario", help="测算情景 YAML 文件（name、params、rules）。"),
    rules: Optional[list[Path]] = typer.Option(None, "--rules", help="测算情景的规则包（追加到基准的内置规则包，"
                                                                     "同 id 时替换）。"),
    format: CompareFormat = typer.Option(CompareFormat.table, "--format", help="table、json 或 xlsx。"),
    output: Optional[Path] = typer.Option(None, "--output", help="写入该文件而不是标准输出（xlsx 必须指定）。"),
    engine: EngineName = EngineOpt,
) -> None:
    """把测算情景（--param、--scenario、--rules）与基准对比：变化的决定，以及按规则、学校、区县、年度的金额变化。

    \b
    示例：
      chanjiao compare examples/tonghua-finance-bureau --as-of 2021-12-31 --param certificate_subsidy_amount=1500
    """
    lang = _lang(ctx)
    from engine.output.compare import Scenario, compare_documents, comparison_table, load_scenario, write_comparison_xlsx
    from engine.run.periods import default_as_of, parse_period
    from engine.output.report_context import report_context

    the_period = parse_period(period) if period is not None else None
    day = _as_of(as_of) if as_of is not None or the_period is None else default_as_of(the_period, dt.date.today())
    what_if = load_scenario(scenario) if scenario is not None else Scenario(name="--param")
    what_if.params += param or []
    what_if.rules += rules or []
    if not what_if.params and not what_if.rules:
        _fail(msg("compare.no_scenario"))
    if format is CompareFormat.xlsx and output is None:
        _fail(msg("cli.needs_output", fmt="xlsx"))
    if not dataset.exists():
        _fail(msg("file.not_found", path=dataset))
    if output is not None:
        _refuse_inputs(output, OutputFormat.json, dataset)
    from engine.run.progress import SlowRunStatus

    baseline, checker = Checker(), Checker(what_if.rules)
    overrides = checker.overrides(what_if.params)
    packs = checker.packs
    with SlowRunStatus("chanjiao 测算中", enabled=sys.stderr.isatty()):
        ds = checker.load(dataset)
        chosen = checker.choose_engine(engine.value, dataset)
        base = baseline.check(ds, as_of=day, engine=chosen, period=the_period, lang=lang)
        new = checker.check(ds, as_of=day, params=overrides, engine=chosen, period=the_period, lang=lang)
    for note in base.notes + new.notes:
        print(visible(f"chanjiao: {note}", keep_newlines=False), file=sys.stderr)
    result = compare_documents(base.document, new.document, report_context(new.dataset, packs, day, None),
                               name=what_if.name)
    if format is CompareFormat.xlsx:
        from engine.output.atomic import OutputSet

        assert output is not None
        with OutputSet() as outs:
            write_comparison_xlsx(result, outs.path(output), lang=lang)
        return
    if format is CompareFormat.json:
        text = json.dumps(result, ensure_ascii=False, indent=2) + "\n"
    else:
        import shutil

        width = shutil.get_terminal_size((100, 24)).columns if output is None else 120
        text = comparison_table(result, width=width, titles={r.id: r.title for p in packs for r in p.rules})
    if output is None:
        sys.stdout.write(text)
    else:
        write_text(text, output)


@app.command()
def report(
    ctx: typer.Context,
    dataset: Path = typer.Argument(..., help="要出报告的数据集。"),
    output: Path = typer.Option(..., "--output", help="写入 index.html 的文件夹（离线即可打开）。"),
    as_of: Optional[str] = AsOfOpt,
    period: Optional[str] = PeriodOpt,
    rules: Optional[list[Path]] = RulesOpt,
    param: Optional[list[str]] = ParamOpt,
    engine: EngineName = EngineOpt,
) -> None:
    """写一份带图表（按区县、年度、规则、状态）的 HTML 报告；打开时不需要网络。

    \b
    示例：
      chanjiao report examples/tonghua-finance-bureau --as-of 2021-12-31 --output 报告
    """
    lang = _lang(ctx)
    from engine.output.html_report import write_html_report
    from engine.run.periods import default_as_of, parse_period
    from engine.output.report_context import report_context

    the_period = parse_period(period) if period is not None else None
    day = _as_of(as_of) if as_of is not None or the_period is None else default_as_of(the_period, dt.date.today())
    from engine.run.progress import SlowRunStatus

    checker = Checker(rules or [])
    overrides = checker.overrides(param)
    if not dataset.exists():
        _fail(msg("file.not_found", path=dataset))
    _refuse_inputs(output / "index.html", OutputFormat.json, dataset, need_folder=False)  # the report makes its folder
    with SlowRunStatus("chanjiao 判定中", enabled=sys.stderr.isatty()):
        res = checker.check(dataset, as_of=day, params=overrides, engine=checker.choose_engine(engine.value, dataset),
                            period=the_period, lang=lang)
    for note in res.notes:
        print(visible(f"chanjiao: {note}", keep_newlines=False), file=sys.stderr)
    doc = res.document
    try:
        page = write_html_report(doc, output, lang=lang,
                                 context=report_context(res.dataset, checker.packs, day, dataset))
    except OSError as exc:
        _fail(msg("cli.cannot_write", path=output, reason=exc.strerror or exc))
    print(f"chanjiao: {visible(str(page))}", file=sys.stderr)
    if doc["errors"]:
        raise typer.Exit(1)


@app.command()
def explain(
    ctx: typer.Context,
    dataset: Path = typer.Argument(..., help="判定对象所在的数据集。"),
    rule: str = typer.Option(..., "--rule", help="规则 id，例如 tonghua.frontline_share。"),
    subject: str = typer.Option(..., "--subject", help="判定对象记录的 id。"),
    as_of: Optional[str] = AsOfOpt,
    format: TraceFormat = typer.Option(TraceFormat.text, "--format", help="text（文字）或 json。"),
    rules: Optional[list[Path]] = RulesOpt,
    param: Optional[list[str]] = ParamOpt,
    limit: Optional[list[str]] = LimitOpt,
    allow_out_of_range: bool = AllowOpt,
) -> None:
    """说明一项判定如何得出：每个条件、读取的事实、参数及其政策出处，以及缺少哪些事实。

    \b
    示例：
      chanjiao explain examples/tonghua-self-assessment.json --rule tonghua.frontline_share \\
          --subject 91220502MA0Y0A0133 --as-of 2021-12-31
    """
    day = _as_of(as_of)
    checker = Checker(rules or [])
    trace = checker.explain(dataset, rule, subject, as_of=day, params=_params(checker, param, allow_out_of_range, _lang(ctx)),
                            limits=parse_limits(limit))
    if format is TraceFormat.json:
        sys.stdout.write(json.dumps(trace_to_dict(trace, lang=_lang(ctx)), ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(visible(trace_to_text(trace, lang=_lang(ctx))))  # data never reaches a terminal raw


@rules_app.command("list")
def rules_list(rules: Optional[list[Path]] = RulesOpt) -> None:
    """列出每条规则及其效力、判定对象和条款。

    \b
    示例：
      chanjiao rules list
    """
    for pack in _packs(rules):
        print(f"{pack.id}  {pack.document_number}  {pack.title}")
        for r in pack.rules:
            print(f"  {r.id:<45} {r.effect:<10} {r.subject:<20} {r.citation.clause}  {r.title}")


@rules_app.command("show")
def rules_show(ctx: typer.Context, rule_id: str = typer.Argument(..., help="规则 id。"),
               rules: Optional[list[Path]] = RulesOpt) -> None:
    """显示一条规则：政策出处、适用范围、判定条件及其 YAML 原文。

    \b
    示例：
      chanjiao rules show tonghua.frontline_share
    """
    pack, rule = Checker(rules or []).rule(rule_id)
    c = rule.citation
    print(f"{rule.id} — {rule.title}")
    lang = _lang(ctx)
    print(render(msg("rules.show_scope", effect=rule.effect, subject=rule.subject, jurisdiction=pack.jurisdiction,
                     prefixes=", ".join(p + "xx" for p in pack.region_prefixes), issued=pack.issued_on), lang))
    print(render(msg("rules.show_citation", document=c.document_number, clause=c.clause, quote=c.quote), lang))
    print(render(msg("rules.show_file", file=rule.file), lang) + "\n")
    print(Path(rule.file).read_text(encoding="utf-8"))


@rules_app.command("lint")
def rules_lint(ctx: typer.Context,
               directory: Optional[Path] = typer.Argument(None, help="规则包或存放规则包的文件夹（默认：内置规则包）。")) -> None:
    """检查规则包：格式、表达式类型、id 唯一、引文逐字见于原文、参数有出处、每种判定状态都有测试用例。

    \b
    示例：
      chanjiao rules lint
      chanjiao rules lint policy_rules/tonghua-2019
    """
    packs, problems = lint_dirs([directory] if directory else None, include_shipped=directory is None)
    for p in problems:
        print(p)
    errors = [p for p in problems if p.severity == "error"]
    n_rules = sum(len(p.rules) for p in packs)
    print(render(msg("rules.lint_summary", packs=len(packs), rules=n_rules, errors=len(errors),
                     warnings=len(problems) - len(errors)), _lang(ctx)))
    if errors:
        raise typer.Exit(1)


@rules_app.command("test")
def rules_test(ctx: typer.Context,
               directory: Optional[Path] = typer.Argument(None, help="规则包或存放规则包的文件夹（默认：内置规则包）。")) -> None:
    """用参考评估器运行规则包的 YAML 测试用例，并在每个引擎上运行每个用例。

    \b
    示例：
      chanjiao rules test
    """
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
                    print(render(msg("rules.test_fail", rule=result.rule_id, name=result.name, file=result.file),
                                 _lang(ctx)))
                    for f in result.failures:
                        print(f"     {f}")
    print(render(msg("rules.test_summary", passed=passed, failed=failed), _lang(ctx)))
    if failed:
        raise typer.Exit(1)


@app.command()
def watch(
    ctx: typer.Context,
    changes: Optional[Path] = typer.Argument(None, help="记录变更的 JSON Lines 文件（默认：标准输入）。"),
    dataset: Optional[Path] = typer.Option(None, "--dataset", help="从此数据集开始（不输出其判定）。"),
    as_of: Optional[str] = AsOfOpt,
    rules: Optional[list[Path]] = RulesOpt,
    param: Optional[list[str]] = ParamOpt,
    engine: EngineName = EngineOpt,
    limit: Optional[list[str]] = LimitOpt,
    allow_out_of_range: bool = AllowOpt,
) -> None:
    """实时重新判定：逐行读取记录变更，每当一项判定的结果改变就输出一行 JSON。

    一行变更：{"op": "upsert"|"delete", "record_type": "agreements", "record": {...}}。有误的行在标准错误中
    报告其行号并跳过；已知的数据不会丢失。

    \b
    示例：
      chanjiao watch changes.jsonl --dataset examples/tonghua-self-assessment.json --as-of 2021-12-31
    """
    day = _as_of(as_of)
    checker = Checker(rules or [])
    packs, overrides = checker.packs, _params(checker, param, allow_out_of_range, _lang(ctx))
    bounds = parse_limits(limit)
    initial = checker.load(dataset, limits=bounds) if dataset else None
    bad = _report_rejected(dataset, initial)
    try:  # bytes: a line that is not UTF-8 is reported and skipped, not the end of the stream
        stream = open(changes, "rb") if changes else sys.stdin.buffer
    except OSError as exc:
        _fail(msg("cli.cannot_open", path=changes, reason=exc.strerror))
    with _engine(engine, packs) as eng, stream:
        watcher = Watcher(eng, day, overrides, initial)
        for number, text in change_lines(stream, bounds):
            try:
                if isinstance(text, ChangeError):
                    raise text
                lines = watcher.apply(read_change(text, bounds), number)
            except ChangeError as exc:
                bad += 1
                print(visible(render(msg("cli.watch_line", line=number, problem=exc.args[0] if exc.args else str(exc)),
                                     _lang(ctx)), keep_newlines=False), file=sys.stderr)
                continue
            for line in lines:
                sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
            sys.stdout.flush()
    if bad:
        raise typer.Exit(1)


def _report_rejected(dataset: Optional[Path], ds: Any) -> int:
    """``watch --dataset``: each rejected record of the starting dataset, one line on stderr; how many."""
    for e in ds.errors if ds is not None else []:
        print(f"chanjiao: {dataset}: {e}", file=sys.stderr)
    return len(ds.errors) if ds is not None else 0


@app.command()
def schema(output: Path = typer.Option(Path("schemas"), "--output", help="写入 JSON Schema 的文件夹。")) -> None:
    """写出数据集、规则包、规则、规则测试和判定文档的 JSON Schema。

    \b
    示例：
      chanjiao schema --output schemas
    """
    for path in write_schemas(output):
        print(path)


class TemplateFormat(str, Enum):
    """Formats of ``chanjiao template``."""

    xlsx = "xlsx"
    csv = "csv"


@app.command()
def template(
    output: Path = typer.Argument(..., help="写出的工作簿（.xlsx），或 --format csv 时写出的文件夹。"),
    format: TemplateFormat = typer.Option(TemplateFormat.xlsx, "--format", help="xlsx（工作簿）或 csv（文件夹）。"),
    examples: bool = typer.Option(True, "--examples/--no-examples", help="每张表的第 2 行写一条示例记录（默认写）。"),
    force: bool = typer.Option(False, "--force", help="覆盖已存在的文件。"),
) -> None:
    """写出填报模板：每种记录一张表（中文表名和表头、下拉列表和数据验证、示例行），以及“说明”表。

    填好后用 chanjiao check 检查；未改动的模板本身也可通过检查，没有警告。

    \b
    示例：
      chanjiao template 填报模板.xlsx
      chanjiao template 填报模板 --format csv
    """
    from engine.data.template import write_template

    for path in write_template(output, format.value, examples=examples, force=force):
        print(path)


def _usage_message(exc: Any) -> Any:
    """A usage error of the command line (an unknown option, a missing argument, a bad value) as a catalogue
    message; click's own text for any other, or when this click version's exception looks different."""
    kind = type(exc).__name__
    try:
        if kind == "NoSuchOption":
            close = list(getattr(exc, "possibilities", None) or [])
            hint = msg("hint.did_you_mean", name=close[0]) if close else ""
            return msg("usage.no_such_option", option=exc.option_name, hint=hint)
        unknown = re.fullmatch(r"No such command '(.+?)'\.?(?: Did you mean (.+)\?)?", str(getattr(exc, "message", "")))
        if unknown:
            hint = msg("hint.did_you_mean", name=unknown.group(2).strip("'").split("', '")[0]) if unknown.group(2) else ""
            return msg("usage.no_such_command", name=unknown.group(1), hint=hint)
        param = getattr(exc, "param", None)
        if param is None or kind not in ("MissingParameter", "BadParameter"):
            return exc.format_message()
        is_option = getattr(param, "param_type_name", "") == "option"
        name = " / ".join(param.opts) if is_option else str(param.name).upper()
        if kind == "MissingParameter":
            return msg("usage.missing", what=msg("word.option" if is_option else "word.argument"), name=name)
        detail = str(exc.message).removeprefix("Value error, ")
        choice = re.fullmatch(r"'(.*)' is not one of (.+)\.", detail)
        if choice:
            return msg("usage.not_one_of", name=name, value=choice.group(1), choices=choice.group(2).replace("'", ""))
        return msg("usage.bad_value", name=name, detail=detail)
    except Exception:  # never a traceback for a usage error: click's own text
        return exc.format_message()


def lang_first(argv: list[str]) -> tuple[str | None, list[str]]:
    """``--lang X`` / ``--lang=X`` taken from anywhere on the command line (before a ``--``): (X, the rest)."""
    rest: list[str] = []
    value: str | None = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest += argv[i:]
            break
        if arg == "--lang" and i + 1 < len(argv):
            value, i = argv[i + 1], i + 2
            continue
        if arg.startswith("--lang="):
            value, i = arg.split("=", 1)[1], i + 1
            continue
        rest.append(arg)
        i += 1
    return value, rest


# the web service (engine.service.commands imports the web stack only inside each command)
from engine.service.commands import audit_app, serve, users_app  # noqa: E402

app.command("serve")(serve)
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")


def main() -> None:
    """Entry point of the ``chanjiao`` command."""
    from engine.output.atomic import terminate_on_sigterm

    terminate_on_sigterm()  # SIGTERM unwinds like Ctrl-C: temporary output files are removed on the way out
    option, rest = lang_first(sys.argv[1:])
    try:
        lang = resolve_lang(option)
    except ValueError as exc:
        print(render(msg("cli.error", problem=exc.args[0]), resolve_lang(None)), file=sys.stderr)
        sys.exit(2)
    try:
        code = app(args=(["--lang", lang] if option is not None else []) + rest, standalone_mode=False)
    except FatalError as exc:
        print(visible(render(msg("cli.error", problem=exc.args[0] if exc.args else ""), lang), keep_newlines=False),
              file=sys.stderr)
        sys.exit(2)
    except _ClickException as exc:  # usage errors: unknown option, missing argument, bad choice
        print(visible(render(msg("cli.error", problem=_usage_message(exc)), lang), keep_newlines=False),
              file=sys.stderr)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        print(render(msg("cli.interrupted"), lang), file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # the promise: no traceback, ever, unless asked for
        if os.environ.get("CHANJIAO_DEBUG"):
            raise
        print(visible(render(msg("cli.internal", name=type(exc).__name__, problem=exc), lang), keep_newlines=False),
              file=sys.stderr)
        sys.exit(2)
    if code == 130:  # click turns Ctrl-C (and SIGTERM, see terminate_on_sigterm) into exit status 130, silently
        print(render(msg("cli.interrupted"), lang), file=sys.stderr)
    sys.exit(code if isinstance(code, int) else 0)
