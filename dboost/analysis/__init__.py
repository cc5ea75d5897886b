"""Claims, rows and verdicts without torch: what the book concludes, computed from ``runs/``.

``claims``: one declaration per claim (the poster's wording, the arms, the metric, the direction).
``rows``: the stored rows of an experiment as a DataFrame.  ``stats``: the paired t interval and
Holm's step-down adjustment.  ``verdicts``: every declared comparison per profile, each claim's
verdict and the headline across profiles; ``answer_box``: the landing page's answer in words.  ``forest``: the forest plot.
Only pandas, numpy, scipy (and matplotlib for the plot) -- so a reader can recompute every verdict
on a machine without torch.
"""
from .claims import CLAIMS, Arm, Claim, claim
from .rows import PROFILE_ORDER, profiles_with_rows, rows
from .stats import ALPHA, holm, paired_interval, paired_test
from .answer_box import answer
from .verdicts import claim_verdicts, comparisons, headline

__all__ = ["ALPHA", "Arm", "CLAIMS", "Claim", "PROFILE_ORDER", "answer", "claim", "claim_verdicts", "comparisons",
           "headline", "holm", "paired_interval", "paired_test", "profiles_with_rows", "rows"]
