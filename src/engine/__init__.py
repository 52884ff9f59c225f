"""chanjiao: rules-as-code compliance checking for 产教融合 policies.

The library's main calls::

    from engine import load_dataset, load_packs, evaluate_dataset
    packs, problems = load_packs()
    dataset = load_dataset("examples/tonghua-finance-bureau")
    document = evaluate_dataset(dataset, packs, as_of=datetime.date(2021, 12, 31))
"""

from engine.engines.reference import decide, evaluate_dataset
from engine.data.loaders import load_dataset
from engine.policy.packs import load_packs

__all__ = ["decide", "evaluate_dataset", "load_dataset", "load_packs", "__version__"]
__version__ = "0.1.0"
