"""dboost: discounted loss, margins, boosting gap rules and a fast trainer (see README).

The public API, in the order a training loop uses it::

    from dboost import DiscountedCrossEntropy, margins, next_gaps, chain, Ensemble

The torch-backed names are imported on first use (PEP 562), so ``dboost.analysis`` -- claims,
rows and verdicts -- works without importing torch.
"""
import importlib

__all__ = ["discounted_cross_entropy", "DiscountedCrossEntropy", "check_inputs", "margins", "next_gaps", "register",
           "RULES", "chain", "Ensemble"]
__version__ = "0.1.0"
_LAZY = {"discounted_cross_entropy": "loss", "DiscountedCrossEntropy": "loss", "check_inputs": "loss",
         "margins": "loss", "next_gaps": "rules", "register": "rules", "RULES": "rules", "chain": "boost",
         "Ensemble": "boost"}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # later look-ups skip this hook
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
