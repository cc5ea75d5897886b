"""dboost: discounted loss, margins, boosting gap rules and a fast trainer (see README)."""
from .loss import DiscountedCrossEntropy, discounted_cross_entropy, margins
from .rules import RULES, next_gaps

__all__ = ["discounted_cross_entropy", "DiscountedCrossEntropy", "margins", "next_gaps", "RULES"]
__version__ = "0.1.0"
