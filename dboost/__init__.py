"""dboost: discounted loss, margins, boosting gap rules and a fast trainer (see README).

The public API, in the order a training loop uses it::

    from dboost import DiscountedCrossEntropy, margins, next_gaps, chain, Ensemble
"""
from .boost import Ensemble, chain
from .loss import DiscountedCrossEntropy, check_inputs, discounted_cross_entropy, margins
from .rules import RULES, next_gaps, register

__all__ = ["discounted_cross_entropy", "DiscountedCrossEntropy", "check_inputs", "margins", "next_gaps", "register",
           "RULES", "chain", "Ensemble"]
__version__ = "0.1.0"
