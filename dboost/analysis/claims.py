"""One declaration per claim: the poster's wording, what we test, the arms, the metric, the direction.

Pages, the summary and the landing page read these; nothing matches a claim by its display text.
A claim is tested in one or more *cells* (the boosting claims: one per ensemble size; claim 4: one
per architecture); a claim that says "every size" / "every architecture" is supported only when
every cell is.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import poster
from . import fmt


@dataclass(frozen=True)
class Arm:
    """Rows whose columns equal the given values, e.g. ``Arm((("gap_label", "m0"),))``."""
    where: tuple[tuple[str, object], ...]

    def select(self, df):
        keep = None
        for col, val in self.where:
            hit = (df[col] == val) if col in df else (df.index < 0)
            keep = hit if keep is None else keep & hit
        return df[keep] if keep is not None else df

    def label(self) -> str:
        return ", ".join(f"{c} {v}" for c, v in self.where)


def arm(**where) -> Arm:
    return Arm(tuple(where.items()))


@dataclass(frozen=True)
class Claim:
    """A claim and how it is tested.

    kind: ``paired`` (treatment − control, paired on seed within a cell), ``gain_difference``
    (the gain m0 − 0 of the treatment arm minus that of the control arm, paired on seed), or
    ``optimum`` (where the most accurate gap lies, in multiples of m0, against ``target``).
    cells_by / cells: the column that splits the comparison into cells, and which cells count
    (``all``, ``above_one`` -- ensemble sizes > 1, ``largest`` -- the longest training only).
    """
    id: str                       # stable key: "1", "2", "2-ours", "3", "3-ours", ...
    label: str                    # short display name, starts with the number ("3. ..."; ours say "(ours)")
    poster_wording: str           # the poster's claim, as it says it
    tested: str                   # what we test, in words
    ours: bool                    # True: our wording (a rewording or our own question), not the poster's
    experiment: str
    kind: str = "paired"
    metric: str = "test_acc"      # the pre-declared primary metric
    treatment: Arm = arm()
    control: tuple[Arm, ...] = ()
    direction: int = +1           # +1: the claim says treatment > control on the primary metric
    secondary: tuple[str, ...] = ()
    family: str = "primary"       # Holm family of the primary metric (secondary metrics: "secondary")
    cells_by: str | None = None
    cells: str = "all"
    target: tuple[float, float] | None = None  # kind "optimum": the poster's range, × m0
    poster_value: str = ""        # the poster's number(s) for this claim
    same_pairs_as: str | None = None  # a claim whose comparison this one can coincide with (then counted once)
    poster_secondary: tuple[tuple[str, str], ...] = ()  # (metric, the poster's number(s)) of a secondary metric

    @property
    def tag(self) -> str:
        """The short name sentences use: the label up to its first '. ' ("2b (ours)"), with the rule for boosting."""
        head = self.label.split(". ", 1)[0]
        rule = dict(self.treatment.where).get("rule")
        return f"{head} ({fmt.RULE_NAMES[rule]})" if rule and not self.ours else head



# calibrated NLL / ECE (test_cal_*: temperature cross-fitted on test halves, dboost.calibration) exist only in
# rows whose test logits are stored; the others leave those comparisons (n counts what has them)
_CLAIM1_SECONDARY = ("test_auc_proba", "test_auc_logits", "test_mis_auroc", "test_nll", "test_ece", "test_cal_nll",
                     "test_cal_ece")
GAP0, GAPM0 = arm(gap_label="0"), arm(gap_label="m0")
FROZEN, LINEAR, STRONG = "freeze_last x10", "Linear", "strong: Linear + LS0.1"
_LO, _HI = poster.BEST_GAP_RANGE


def _boost_ref(rule: str, ctrl: str, column: int = 0) -> str:
    """The poster's table, rule vs control, at three of its sizes: accuracy (``column`` 0) or ROC-AUC (1)."""
    digits = 1 if column == 0 else 2  # its ROC-AUC column has four digits: 0.9976 -> 99.76 %
    return " · ".join(f"{k}: {poster.BOOSTING[rule][k][column] * 100:.{digits}f} % vs "
                      f"{poster.BOOSTING[ctrl][k][column] * 100:.{digits}f} %" for k in (2, 5, 15))


def _boosting_claim(id_: str, label: str, rule: str, control: str, *,
                    wording: str = "Per-sample gaps turn the loss into boosting: the ensemble beats a plain deep "
                                   "ensemble of the same size.",
                    tested: str = "test accuracy of the ensemble, rule − plain ensemble at the same size (one cell "
                                  "per size > 1), paired on seed",
                    ours: bool = False) -> Claim:
    """A boosting claim: ensemble rule ``rule`` against rule ``control``, one cell per size > 1, ROC-AUC secondary."""
    return Claim(id_, label, wording, tested, ours, "boosting", treatment=arm(rule=rule), control=(arm(rule=control),),
                 secondary=("test_auc_proba",), cells_by="members", cells="above_one",
                 poster_value=_boost_ref(rule, control),
                 poster_secondary=(("test_auc_proba", _boost_ref(rule, control, 1) + " (which ROC-AUC: unstated)"),))


CLAIMS: tuple[Claim, ...] = (
    Claim("1", "1. gap = m0 beats plain cross-entropy (frozen ×10 head)",
          "With the right gap the test accuracy and the ROC-AUC improve over plain cross-entropy.",
          "test accuracy, gap m0 − gap 0, frozen ×10 ResNet9, paired on seed", False, "gap_sweep",
          treatment=arm(variant="sweep", gap_label="m0"), control=(arm(variant="sweep", gap_label="0"),),
          secondary=_CLAIM1_SECONDARY,
          poster_value=f"{poster.FROZEN_GAP0 * 100:.1f} % → {poster.FROZEN_GAPM0 * 100:.1f} %",
          poster_secondary=(("test_auc_proba", f"{poster.AUC_CE * 100:.3f} % → {poster.AUC_DISCOUNTED * 100:.3f} % "
                                               "(which ROC-AUC: unstated)"),)),
    Claim("2", "2. the best constant gap is ≈ m0 (the poster's figure: best at 0.5–1.2 × m0)",
          "The right gap is the mean margin of a normally trained network: g = m0.",
          f"the most accurate gap of each seed's grid (points every seed ran), in × m0, with its 95 % interval over "
          f"seeds, against the poster's best range {_LO:g}–{_HI:g} at m0 ≈ {poster.M0:g}", False, "gap_sweep",
          kind="optimum", treatment=arm(variant="sweep"), target=(_LO / poster.M0, _HI / poster.M0),
          poster_value=f"best g ≈ {_LO:g}–{_HI:g} with m0 ≈ {poster.M0:g} ({_LO / poster.M0:.1f}–{_HI / poster.M0:.1f} × m0): "
                       f"its figure peaks at g ≈ {poster.BEST_GAP_FIGURE[0]:g}–{poster.BEST_GAP_FIGURE[1]:g} "
                       f"({poster.BEST_GAP_FIGURE[0] / poster.M0:.2f}–{poster.BEST_GAP_FIGURE[1] / poster.M0:.2f} × m0), "
                       f"the thesis' best is {poster.BEST_GAP_THESIS:g} ({poster.BEST_GAP_THESIS / poster.M0:.2f} × m0)"),
    Claim("2-ours", "2b (ours). gap m0 beats its grid neighbours 0.5 × m0 and 2 × m0",
          "The right gap is the mean margin of a normally trained network: g = m0.",
          "test accuracy, gap m0 − gap 0.5 × m0 and gap m0 − gap 2 × m0 (one cell each), paired on seed", True,
          "gap_sweep", treatment=arm(variant="sweep", gap_label="m0"),
          control=(arm(variant="sweep", gap_label="m0x0.5"), arm(variant="sweep", gap_label="m0x2")),
          poster_value="not compared by the authors (their sweep: one seed)"),
    Claim("3", "3. the last layer must be frozen: frozen ×10 + gap m0 beats a trainable Linear head + gap m0",
          "The last layer must be frozen, otherwise the network meets any gap by scaling its logits.",
          "test accuracy, frozen ×10 head + gap m0 − trainable Linear head + gap m0, paired on seed", False,
          "frozen_last_layer", treatment=arm(head_label=FROZEN, gap_label="m0"),
          control=(arm(head_label=LINEAR, gap_label="m0"),),
          poster_value=f"frozen ≈ {poster.FROZEN_GAPM0 * 100:.1f} % with gap m0; heads with gap m0 "
                       f"{poster.HEADS_GAPM0[0] * 100:.1f}–{poster.HEADS_GAPM0[1] * 100:.1f} %"),
    Claim("3-ours", "3b (ours). gap m0 helps the frozen ×10 head more than a trainable Linear head",
          "The last layer must be frozen, otherwise the network meets any gap by scaling its logits.",
          "test accuracy, (frozen: gap m0 − gap 0) − (Linear: gap m0 − gap 0), paired on seed", True,
          "frozen_last_layer", kind="gain_difference", treatment=arm(head_label=FROZEN),
          control=(arm(head_label=LINEAR),),
          poster_value=f"frozen ≈ {poster.FROZEN_GAP0 * 100:.1f} → {poster.FROZEN_GAPM0 * 100:.1f} %; "
                       "trainable heads gain ≈ as much in its figure"),
    Claim("4", "4. the gain (gap m0 − gap 0) is > 0 on every architecture",
          "The gain does not depend on the architecture.",
          "test accuracy, gap m0 − gap 0 per architecture (one cell each, frozen ×10 head), paired on seed", False,
          "architectures", treatment=GAPM0, control=(GAP0,), cells_by="arch", poster_value="claimed; figure lost"),
    _boosting_claim("5-save", "5. save mean; reverse margin beats the plain ensemble (every size > 1)",
                    "save_mean_reverse", "zero"),
    _boosting_claim("5-zero", "5. zero mean; reverse margin beats the plain ensemble (every size > 1)",
                    "zero_mean_reverse", "zero"),
    _boosting_claim("5c", "5c (ours). save mean; reverse margin beats the constant-gap (m0) ensemble (every size > 1)",
                    "save_mean_reverse", "constant",
                    wording="(Not claimed: the poster's own table has the constant-gap ensemble ahead in accuracy.)",
                    tested="test accuracy, rule − constant-gap ensemble at the same size (one cell per size > 1), "
                           "paired on seed", ours=True),
    Claim("S1", "S1 (ours). frozen ×10 + gap m0 beats the strong baseline (trainable head, label smoothing 0.1, gap 0)",
          "Not tested by the authors (their baseline: 91.6 %).",
          "test accuracy, frozen ×10 + gap m0 − strong baseline with gap 0, paired on seed", True,
          "frozen_last_layer", treatment=arm(head_label=FROZEN, gap_label="m0"),
          control=(arm(head_label=STRONG, gap_label="0"),), poster_value="not tested by the authors"),
    Claim("S2", "S2 (ours). gap m0 on top of the strong baseline beats it",
          "Not tested by the authors.",
          "test accuracy, strong baseline: gap m0 − gap 0, paired on seed", True, "frozen_last_layer",
          treatment=arm(head_label=STRONG, gap_label="m0"), control=(arm(head_label=STRONG, gap_label="0"),),
          secondary=("test_auc_proba",), poster_value="not tested by the authors"),
    Claim("T", "T (ours). gap m0 still beats gap 0 at the longest training (frozen ×10 head)",
          "Not asked by the authors.",
          "test accuracy, frozen ×10 head at the longest length run: gap m0 − gap 0, paired on seed", True,
          "training_length", treatment=arm(head_label=FROZEN, gap_label="m0"),
          control=(arm(head_label=FROZEN, gap_label="0"),), cells_by="length_epochs", cells="largest",
          poster_value="not asked by the authors", same_pairs_as="1"),
)


# What qualifies a supported claim in the same regime, for the landing page's answer: (claim, the
# other claim, that one's verdicts that qualify it, what it means; {against} / {cells}: how many of the
# other claim's cells lean against it, of how many).  Declared here, beside the claims,
# so the answer says it wherever the rows say it -- and nowhere they do not.
CAVEATS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("1", "S1", ("inconclusive", "contradicted"),
     "the frozen head with gap m0 is not shown to beat a trainable label-smoothing head trained without a gap"),
    ("3-ours", "3", ("inconclusive", "contradicted"),
     "the poster's own claim 3, that the frozen head with gap m0 beats a trainable one with gap m0, is not supported"),
    ("5-save", "5c", ("contradicted",), "a constant-gap ensemble of the same size is ahead of it at {against} of "
                                         "{cells} sizes"),
    ("5-zero", "5c", ("contradicted",), "a constant-gap ensemble is ahead of save mean; reverse margin at {against} "
                                        "of {cells} sizes"),
)


def claim(claim_id: str) -> Claim:
    """The declaration with this id (KeyError naming the known ids otherwise)."""
    for c in CLAIMS:
        if c.id == claim_id:
            return c
    raise KeyError(f"unknown claim {claim_id!r}; known: {', '.join(c.id for c in CLAIMS)}")
