"""chanjiao: rules-as-code compliance checking for 产教融合 policies.

The library entry point is :class:`engine.run.Checker` (the command line and the web service call it)::

    from engine.run import Checker
    checker = Checker()                                   # the shipped packs, loaded and compiled once
    result = checker.check("examples/tonghua-finance-bureau", as_of=datetime.date(2021, 12, 31))
    result.document                                       # the decision document (what --format json prints)

The reference evaluator's own calls remain::

    from engine import load_dataset, load_packs, evaluate_dataset
    packs, problems = load_packs()
    document = evaluate_dataset(load_dataset("examples/tonghua-finance-bureau"), packs, as_of=...)
"""

from typing import Any

from engine.engines.reference import decide, evaluate_dataset
from engine.data.loaders import load_dataset
from engine.policy.packs import load_packs

__all__ = ["Checker", "decide", "evaluate_dataset", "load_dataset", "load_packs", "__version__"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``engine.Checker``, imported on first use (it brings in every engine)."""
    if name == "Checker":
        from engine.run import Checker

        return Checker
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
