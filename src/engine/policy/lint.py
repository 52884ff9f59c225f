"""``chanjiao rules lint``: everything that can be wrong with a rule pack, found before any data is seen.

Loading already checks the schema, expression types, unique ids and verbatim quotes (see
:mod:`engine.policy.packs`); lint adds what needs the whole pack: every parameter used and cited, every rule with a
test file whose cases cover each status the rule can give, and every case decided alike by every engine
(durable, vectorised, streamed) — a disagreement is an error at the case's ``file:line``.
"""

from __future__ import annotations

from pathlib import Path

from engine.policy.casetests import CaseEngines, disagreements, expected_statuses
from engine.errors import PolicyError
from engine.language.expressions import params_used
from engine.policy.packs import Pack, load_packs, possible_statuses

__all__ = ["lint_packs", "lint_dirs"]


def lint_dirs(dirs: list[Path] | None, include_shipped: bool,
              every_engine: bool = True) -> tuple[list[Pack], list[PolicyError]]:
    """Load packs (shipped and/or from ``dirs``) and lint them; returns the packs and every problem."""
    packs, errors = load_packs(dirs, include_shipped=include_shipped)
    return packs, errors + lint_packs(packs, every_engine)


def lint_packs(packs: list[Pack], every_engine: bool = True) -> list[PolicyError]:
    """Pack-level problems: unused parameters, rules without test files, statuses no case covers, and (with
    ``every_engine``) cases an engine decides differently from the reference evaluator."""
    problems: list[PolicyError] = []
    if every_engine and packs:
        engines = CaseEngines(packs)
        try:
            files = {r.id: r.file for p in packs for r in p.rules}
            for rule_id, why in engines.refused.items():
                problems.append(PolicyError(f"durable-rules cannot run this rule ({why}); --engine auto decides it "
                                            "with the reference evaluator, --engine durable refuses the pack",
                                            files[rule_id], 1, 1, severity="warning"))
            for rule_id, why in engines.not_vectorised.items():
                problems.append(PolicyError(f"the vectorised backend does not evaluate {rule_id} ({why}); in memory "
                                            "the reference decides it, a streamed or Dask check refuses the pack",
                                            files[rule_id], 1, 1, severity="warning"))
            for pack in packs:
                for tf in pack.test_files:
                    problems += disagreements(tf, packs, engines)
        finally:
            engines.close()
    for pack in packs:
        used = {name for r in pack.rules for node in r.nodes() for name in params_used(node)}
        for name in pack.parameters:
            if name not in used:
                problems.append(PolicyError(f"parameter {name!r} is not used by any rule", str(pack.directory / "pack.yaml"),
                                            severity="warning"))
        covered: dict[str, set[str]] = {}
        for tf in pack.test_files:
            try:
                rule_id, statuses = expected_statuses(tf)
            except ValueError as exc:
                problems.append(PolicyError(str(exc), str(tf)))
                continue
            covered.setdefault(rule_id, set()).update(statuses)
        for rule in pack.rules:
            need = possible_statuses(rule)
            have = covered.get(rule.id)
            if have is None:
                problems.append(PolicyError(f"rule {rule.id} has no test cases (expected a file in tests/ with rule: {rule.id})",
                                            rule.file, 1, 1))
                continue
            lacking = sorted(need - have)
            if lacking:
                problems.append(PolicyError(f"rule {rule.id}: no test case expects {', '.join(lacking)}", rule.file, 1, 1))
    return problems

