"""One library entry point: load rule packs once, check many datasets.

The ``chanjiao`` command and the web service are thin layers over :class:`Checker`::

    checker = Checker()                                  # the shipped packs, loaded and compiled once
    params = checker.overrides(["certificate_subsidy_amount=1500"])
    result = checker.check(Path("examples/tonghua-finance-bureau"), as_of=date(2021, 12, 31), params=params)
    result.document["summary"], result.exit_code

Every problem that stops a check is a :class:`engine.errors.FatalError` with a one-line message; rejected records
are values in ``result.dataset.errors`` (and the document's ``errors``), never exceptions.
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping, Sequence

from engine.engines import ENGINES, cheapest_engine, make_engine
from engine.engines.durable_compile import compile_rules
from engine.errors import FatalError
from engine.engines.reference import Trace, decide, parse_param_overrides
from engine.data.limits import DEFAULT_LIMITS, Limits
from engine.data.loaders import load_dataset
from engine.messages import localise, msg
from engine.run.periods import Period
from engine.policy.packs import Pack, Rule, load_packs
from engine.data.records import Dataset
from engine.engines.rejected import DatasetSource, taint
from engine.data.vocabulary import record_type_label

__all__ = ["AUTO_THRESHOLD_BYTES", "CheckResult", "Checker", "ENGINE_CHOICES"]

# above this much input, `auto` takes the vectorised backend (durable decides ~3,000 decisions/s;
# 20 MB is about 100,000 records, half a minute for durable, about a second vectorised)
AUTO_THRESHOLD_BYTES = 20_000_000

ENGINE_CHOICES = ("auto", *ENGINES)


@dataclass
class CheckResult:
    """What one check gives: the decision document, the dataset it decided, and who decided it.

    ``notes`` are lines a caller shows its user beside the document (for example that durable-rules crashed and
    the reference evaluator decided instead); ``exit_code`` is 0 when every record was accepted, 1 when some
    were rejected (every other record is still decided).
    """

    document: dict[str, Any]
    dataset: Dataset
    engine: str
    notes: list[str] = field(default_factory=list)
    decided_by: dict[str, str] = field(default_factory=dict)
    """Which engine decided each rule (a debug view, never in the document): with ``auto``, durable hands the
    reference evaluator a rule its compiler refuses, and the vectorised backend a rule it does not vectorise."""

    @property
    def exit_code(self) -> int:
        """0 every record accepted; 1 some records rejected; 2 no record could be decided (none was accepted)."""
        if not self.dataset.accepted_count:
            return 2
        return 1 if self.dataset.errors else 0


class Checker:
    """Rule packs loaded once, checking any number of datasets.

    ``rules`` are pack folders (or folders of packs) to add; one with a shipped pack's id replaces it.
    Raises :class:`FatalError` when a pack is invalid. A checker holds no engine between calls, so one checker
    may serve concurrent callers.
    """

    def __init__(self, rules: Sequence[Path] = (), include_shipped: bool = True):
        packs, problems = load_packs(list(rules), include_shipped=include_shipped)
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            more = msg("cli.more_pack_errors", n=len(errors) - 1) if len(errors) > 1 else ""
            raise FatalError(msg("cli.invalid_pack", first=str(errors[0]), more=more))
        self.packs: list[Pack] = packs

    # -- inputs ------------------------------------------------------------------------------------------------

    def overrides(self, params: Sequence[str] | None, *, allow_out_of_range: bool = False) -> dict[str, Decimal]:
        """``NAME=VALUE`` / ``PACK.NAME=VALUE`` what-if overrides, checked against the packs' parameters: their
        type, unit and cited range (a value beyond the range only with ``allow_out_of_range``; the document of
        a check with it then carries a warning)."""
        try:
            return parse_param_overrides(list(params or []), self.packs, allow_out_of_range)
        except ValueError as exc:
            raise FatalError(msg("cli.param", problem=exc.args[0] if exc.args else str(exc))) from None

    def load(self, source: Path | str, *, header_row: int | None = None, limits: Limits = DEFAULT_LIMITS) -> Dataset:
        """The dataset at ``source`` (JSON/YAML file, XLSX workbook, CSV or Parquet directory), validated;
        ``header_row`` (1-based) names the header row of every sheet or CSV file (found by default); input over
        one of ``limits`` is refused (:class:`FatalError` naming the limit and ``--limit``)."""
        path = Path(source)
        if not path.exists():
            raise FatalError(msg("file.not_found", path=path))
        return load_dataset(path, header_row=header_row, limits=limits)

    def rule(self, rule_id: str) -> tuple[Pack, Rule]:
        """The pack and rule with this id; :class:`FatalError` with a suggestion when there is none."""
        for pack in self.packs:
            for rule in pack.rules:
                if rule.id == rule_id:
                    return pack, rule
        ids = [r.id for p in self.packs for r in p.rules]
        close = difflib.get_close_matches(rule_id, ids, n=1)
        hint = msg("hint.did_you_mean", name=close[0]) if close else msg("cli.rules_known", ids=", ".join(ids))
        raise FatalError(msg("cli.no_rule", rule=rule_id, hint=hint))

    # -- checks ------------------------------------------------------------------------------------------------

    def choose_engine(self, engine: str, source: Path | Dataset | None = None) -> str:
        """The engine ``auto`` stands for on this input, by measured cost: vectorised above AUTO_THRESHOLD_BYTES of
        files; for a loaded dataset :func:`engine.engines.cheapest_engine` (durable-rules for a case-sized one)."""
        if engine not in ENGINE_CHOICES:
            raise FatalError(msg("cli.unknown_engine", engine=engine, engines=", ".join(ENGINE_CHOICES)))
        if engine != "auto":
            return engine
        if isinstance(source, Dataset):
            return cheapest_engine(source)
        if not isinstance(source, Path):
            return "durable"
        files = [f for f in source.iterdir() if f.is_file()] if source.is_dir() else [source]
        size = sum(f.stat().st_size for f in files)
        return "vectorised" if size > AUTO_THRESHOLD_BYTES else "durable"

    def streams(self, engine: str, source: Path, output: Path | None, fmt: str) -> bool:
        """Whether ``check`` of ``source`` is streamed (:meth:`check_stream`): the vectorised engine chosen for a
        folder, written to a file as csv, jsonl or parquet (the other formats need the whole document at once)."""
        return (output is not None and fmt in ("csv", "jsonl", "parquet") and source.is_dir()
                and self.choose_engine(engine, source) == "vectorised")

    def check(self, dataset: Dataset | Path | str, *, as_of: dt.date, params: Mapping[str, Decimal] | None = None,
              engine: str = "auto", lang: str = "zh", header_row: int | None = None,
              limits: Limits = DEFAULT_LIMITS, period: Period | None = None) -> CheckResult:
        """Decide every rule of every pack for every accepted record of ``dataset``.

        ``lang`` ('zh' or 'en') is the language of the document's error and warning messages and of the notes;
        ``header_row`` (1-based) names the header row of every sheet or CSV file (found by default); input over
        one of ``limits`` is refused.
        With ``period`` (:func:`engine.run.periods.parse_period`) only the dated records in it are decided; the others
        are listed in the warnings (``result.dataset`` is the dataset decided). The document carries the
        parameters in force, the period, threshold gaps and per-enterprise, per-year tax totals
        (:func:`engine.run.annotate.annotate_document`), the same whichever engine decided.
        """
        result = self._check(dataset, as_of=as_of, params=params, engine=engine, header_row=header_row,
                             limits=limits, period=period)
        for key in ("errors", "warnings"):
            result.document[key] = localise(result.document[key], lang)
        result.notes = [localise(n, lang) for n in result.notes]
        return result

    def _check(self, dataset: Dataset | Path | str, *, as_of: dt.date, params: Mapping[str, Decimal] | None,
               engine: str, header_row: int | None = None, limits: Limits = DEFAULT_LIMITS,
               period: Period | None = None) -> CheckResult:
        from engine.run.periods import restrict_to_period

        source = Path(dataset) if isinstance(dataset, (str, Path)) else None
        ds = self.load(source, header_row=header_row, limits=limits) if source is not None else dataset
        assert isinstance(ds, Dataset)
        ds = restrict_to_period(ds, self.packs, period, as_of)
        chosen = self.choose_engine(engine, source)
        if engine == "auto" and chosen == "durable":
            chosen = self.choose_engine(engine, ds)  # the records counted: durable for a case-sized one only
        overrides = dict(params or {})
        notes: list[str] = []
        rule_ids = [r.id for p in self.packs for r in p.rules]
        if chosen == "durable":
            from engine.engines.durable import DurableCrashed, evaluate_isolated

            if engine != "auto":
                self.require_engine("durable")
            refused = compile_rules(self.packs).refused  # auto: the reference decides these rules
            decided = {r: "reference" if r in refused else "durable" for r in rule_ids}
            try:
                document = self._warn_params(evaluate_isolated(self.packs, ds, as_of, overrides, fallback=True),
                                             overrides)
                return self._annotated(CheckResult(document, ds, "durable", decided_by=decided), as_of, overrides,
                                       period)
            except DurableCrashed as exc:
                notes.append(msg("cli.durable_crashed", problem=str(exc)))
                chosen = "reference"
        with make_engine(chosen, self.packs) as eng:  # type: ignore[attr-defined]
            document = self._warn_params(eng.evaluate_dataset(ds, as_of, overrides), overrides)
            fallback = getattr(eng, "fallback_rules", {})
            decided = {r: "reference" if r in fallback else chosen for r in rule_ids}
            return self._annotated(CheckResult(document, ds, chosen, notes, decided), as_of, overrides, period)

    def _annotated(self, result: CheckResult, as_of: dt.date, overrides: Mapping[str, Decimal],
                   period: Period | None) -> CheckResult:
        """The result with its document annotated (engine.run.annotate): the same whichever engine decided."""
        from engine.run.annotate import annotate_document

        result.document = annotate_document(result.document, dataset=result.dataset, packs=self.packs, as_of=as_of,
                                            overrides=dict(overrides), period=period)
        return result

    def _warn_params(self, document: dict[str, Any], overrides: Mapping[str, Decimal]) -> dict[str, Any]:
        """The document, its warnings led by one per override beyond its parameter's cited range."""
        from engine.policy.params import override_warnings

        beyond = [w.as_dict() for w in override_warnings(dict(overrides), self.packs)]
        if beyond:
            document["warnings"] = beyond + document["warnings"]
        return document

    def require_engine(self, engine: str) -> None:
        """:class:`FatalError` in one line, naming the rule, when ``engine`` cannot run these packs (``auto`` then
        decides that rule with the reference evaluator)."""
        if engine == "durable":
            refused = compile_rules(self.packs).refused
            if refused:
                why = next(iter(refused.values()))
                more = f" (+{len(refused) - 1})" if len(refused) > 1 else ""
                raise FatalError(msg("cli.cannot_run", engine="durable", problem=why + more))

    def check_stream(self, source: Path, output: Path, fmt: str, *, as_of: dt.date,
                     params: Mapping[str, Decimal] | None = None, chunk_size: int = 50_000,
                     workers: int | None = None, progress: bool | None = None, lang: str = "zh",
                     header_row: int | None = None, limits: Limits = DEFAULT_LIMITS) -> Any:
        """The vectorised check of a CSV/Parquet directory in bounded memory, written to ``output``
        (``csv``, ``jsonl`` or ``parquet``); returns :class:`engine.run.stream.StreamResult`."""
        from engine.run.stream import check_stream

        return check_stream(source, self.packs, as_of, dict(params or {}), output, fmt, chunk_size,
                            progress=progress, workers=workers, lang=lang, header_row=header_row, limits=limits)

    def check_dask(self, source: Path, output: Path, scheduler: Any, *, as_of: dt.date,
                   params: Mapping[str, Decimal] | None = None, partitions: int | None = None,
                   chunk_size: int = 50_000, lang: str = "zh", header_row: int | None = None) -> Any:
        """The vectorised check on a Dask cluster (engine.run.cluster), Parquet parts written to ``output``."""
        from engine.run.cluster import check_dask

        return check_dask(source, self.packs, as_of, dict(params or {}), output, scheduler, partitions, chunk_size,
                          lang=lang, header_row=header_row)

    def explain(self, dataset: Dataset | Path | str, rule_id: str, subject_id: str, *, as_of: dt.date,
                params: Mapping[str, Decimal] | None = None, limits: Limits = DEFAULT_LIMITS) -> Trace:
        """The recorded trace of one decision; :class:`FatalError` when the subject is not an accepted record."""
        pack, rule = self.rule(rule_id)
        ds = self.load(dataset, limits=limits) if isinstance(dataset, (str, Path)) else dataset
        record = ds.by_id(rule.subject, subject_id)
        if record is None:
            rejected = [e for e in ds.errors if e.record_type == rule.subject and e.id == subject_id]
            why = msg("cli.subject_rejected", row=rejected[0].row, message=rejected[0].message) if rejected else ""
            raise FatalError(msg("cli.no_subject", type=rule.subject, type_zh=record_type_label(rule.subject),
                                 id=subject_id, why=why))
        trace = decide(rule, pack, record, ds, as_of, dict(params or {}))
        found = taint(self.packs, ds.rejected, DatasetSource(ds))  # as check decides it: rejected input is unknown
        trace.decision.depend_on(found.inputs(rule.id, subject_id, trace.decision.status))
        return trace
