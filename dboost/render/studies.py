"""The verdicts of our own questions, in sentences generated from their rows: does the gain survive
interpolation (training length), does it shrink with data (data size), is the NLL harm only a
temperature (calibration) -- each beside the summary's Holm-adjusted reading of the same networks."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import analysis, poster
from ..analysis import fmt
from .markdown import VERDICT_RULE, term
from .provenance import load_rows
from .tables import _length_pairs, verdict


def _interval(gains) -> str:
    """The unadjusted 95 % paired-t interval of per-seed gains, '[+4.8, +7.1]' ('n/a' below 2 seeds)."""
    r = analysis.paired_interval(gains)
    return "n/a" if r["n"] < 2 else fmt.interval(r["lo"], r["hi"])


def _course(g: pd.DataFrame) -> str:
    """'; on the 3 seeds every length ran, the gain is −0.3, +2.9, +5.2 and +5.9 pt at 15, 30, 60 and 150
    epochs: it rises with training' -- the course of the mean gain on one set of seeds, so a change of
    seeds between lengths cannot make a trend."""
    lengths = sorted(int(e) for e in g["length_epochs"].unique())
    seeds = set.intersection(*(set(ge["seed"]) for _, ge in g.groupby("length_epochs")))
    if len(lengths) < 3 or len(seeds) < 2:
        return ""
    m = g[g["seed"].isin(seeds)].groupby("length_epochs")["gain"].mean().reindex(lengths).to_numpy()
    shape = ("it rises with training" if (np.diff(m) > 0).all() else
             "it falls with training" if (np.diff(m) < 0).all() else
             f"it peaks at {lengths[int(np.argmax(m))]} epochs" if 0 < int(np.argmax(m)) < len(m) - 1 else
             "it is largest at the longest training, not rising at every step" if int(np.argmax(m)) == len(m) - 1 else
             "it is largest at the shortest training")
    return (f"; on the {len(seeds)} seeds every length ran, the mean gain is "
            + ", ".join(fmt.pt(x) for x in m) + f" at {', '.join(map(str, lengths))} epochs: {shape}")


def training_length_verdict(profile: str | None = None) -> str:
    """The training-length study in one paragraph, computed from its rows."""
    df, p = load_rows("training_length", profile)
    if df.empty:
        return "*The training-length study has not run yet.*"
    m = _length_pairs(df)
    parts, concl = [], []
    for head, g in m.groupby("head_label", sort=False):
        lo, hi = g["length_epochs"].min(), g["length_epochs"].max()
        gs, gl = g[g["length_epochs"] == lo], g[g["length_epochs"] == hi]
        v = verdict(gl["gain"])
        parts.append(f"with {fmt.head_name(head)} the gain of gap m0 in test accuracy goes from {fmt.diff_pm(gs['gain'])} at "
                     f"{int(lo)} epoch{'s' * int(lo != 1)} (n={len(gs)}; gap-0 train accuracy "
                     f"{fmt.level_pm(gs['train_acc_0'])}) to {fmt.diff_pm(gl['gain'])} at {int(hi)} epochs (n={len(gl)}; "
                     f"train accuracy {fmt.level_pm(gl['train_acc_0'])}; unadjusted 95 % interval "
                     f"{_interval(gl['gain'])}: {v})")
        fitting = [e for e, ge in g.groupby("length_epochs") if ge["train_acc_0"].min() >= 0.99]
        if p == "smoke":
            continue
        if not fitting:
            concl.append(f"with {fmt.head_name(head)} no length reaches interpolation (gap-0 train accuracy ≥ 99 % on "
                         "every seed), so it cannot tell the two explanations apart")
            continue
        gf = g[g["length_epochs"].isin(fitting)]
        vs = {int(e): verdict(ge["gain"]) for e, ge in gf.groupby("length_epochs")}
        at = "at the one length that interpolates" if len(vs) == 1 else f"at each of the {len(vs)} lengths that interpolate"
        how = (f"{at} the gain's unadjusted 95 % interval excludes 0" if set(vs.values()) == {"supported"}
               else "the gain reverses at interpolation" if set(vs.values()) == {"contradicted"}
               else "at interpolation the verdicts are mixed")
        concl.append(f"with {fmt.head_name(head)} every gap-0 net fits its training set at "
                     + ", ".join(f"{e}" for e in vs) + f" epochs, and {how} ("
                     + "; ".join(f"{e} epochs: {v}" for e, v in vs.items()) + ")" + _course(g)
                     + ("; so for this head the discounted loss does more than speed up an under-trained network"
                        if set(vs.values()) == {"supported"} else
                        "; so for this head the rows cannot rule out that the gap only speeds up training"))
    text = "; ".join(parts)
    if p == "smoke":
        end = "This is the synthetic smoke run: a pipeline check that says nothing about the question."
    else:
        end = "; ".join(concl)
        end = end[:1].upper() + end[1:] + "."  # each head's clause answers the page's question for that head
        end += _claim_t_sentence(p, set(df["length_epochs"].astype(int)))
    return (f"**Verdict (`{p}` {term('profile')}; {VERDICT_RULE}, unadjusted).** " + text[:1].upper()
            + text[1:] + ". " + end)


def _claim_t_sentence(profile: str, lengths: set[int]) -> str:
    """" Holm-adjusted ...": the summary's verdicts of the same pairs at the profile's own length --
    claim T (the frozen x10 head) and claim S2 (the strong head, whose networks these are) -- so a
    reader of the page's unadjusted verdicts above sees where the two readings part.  ``lengths``: the
    epochs the study's rows hold (the caller's rows, not read again)."""
    t = analysis.claim_verdicts(profile)
    if t.empty:
        return ""
    from ..config import PROFILES
    own = int(PROFILES[profile]["epochs"]) if profile in PROFILES else None
    t = t[(t["role"] == "primary") & ((t["claim"] == "T") | ((t["claim"] == "S2") & (own in lengths)))]
    parts = [f"{analysis.claim(r['claim']).label} ({r['cell'] if r['claim'] == 'T' else f'epochs {own}'}): "
             f"{fmt.estimate(r['mean'], r['lo'], r['hi'])}, n={int(r['n'])}, **{r['verdict']}**"
             for _, r in t.sort_values("claim", ascending=False).iterrows()]
    if not parts:
        return ""
    return (f" The summary's verdicts of the same networks, Holm-adjusted across the profile's "
            f"{int(t['family_size'].iloc[0])} primary comparisons ({VERDICT_RULE}): " + "; ".join(parts) + ".")


def calibration_verdict(profile: str = "interp") -> str:
    """Does gap m0's NLL harm survive temperature scaling?  Claim 1's pairs (and the data-size study's)
    whose test logits are stored, raw against calibrated NLL, paired on seed (unadjusted 95 % t interval)."""
    from ..analysis import data_size as ds
    from ..analysis.stats import paired_interval
    sw = analysis.rows("gap_sweep", profile)
    out = []
    sources = []
    if not sw.empty and "test_cal_nll" in sw:
        c = analysis.claim("1")  # its pairs (treatment, control) on the seeds whose logits are stored
        cal = analysis.verdicts.paired_arms(c, sw, c.control[0], "test_cal_nll")
        raw = analysis.verdicts.paired_arms(c, sw, c.control[0], "test_nll").loc[cal.index]
        both = pd.DataFrame(dict(test_nll_t=raw["t"], test_nll_c=raw["c"], test_cal_nll_t=cal["t"],
                                 test_cal_nll_c=cal["c"]))
        sources.append(("claim 1's seeds (one fixed subset)", both))
    dz = analysis.rows("data_size", profile)
    if not dz.empty and "test_cal_nll" in dz:
        pr = ds.pairs(dz).dropna(subset=["nll_cal0", "nll_cal_m0"])
        pr = pr[pr.head_label == "freeze_last x10"]
        both = pd.DataFrame(dict(test_nll_t=pr.nll_m0.values, test_nll_c=pr.nll0.values,
                                 test_cal_nll_t=pr.nll_cal_m0.values, test_cal_nll_c=pr.nll_cal0.values))
        sources.append(("the data-size study's pairs (every size, own subsets)", both))
    n_rows = len(sw)
    n_with = int(sw["test_cal_nll"].notna().sum()) if "test_cal_nll" in sw else 0
    for name, b in sources:
        if len(b) < 2:
            out.append(f"{name}: {len(b)} pair{'s' * (len(b) != 1)} with stored logits, too few for an interval.")
            continue
        parts = []
        for col, label in (("test_nll", "raw NLL"), ("test_cal_nll", "NLL after temperature scaling")):
            r = paired_interval(b[f"{col}_t"], b[f"{col}_c"])
            lo, hi = r["lo"], r["hi"]
            parts.append(f"{label} {fmt.estimate(r['mean'], lo, hi, 'test_nll')}")
            if col == "test_cal_nll":
                few = len(b) < 3  # an interval from 1 degree of freedom: a direction, not a finding
                word = (("the harm survives calibration" if lo > 0 else "calibration turns it into a gain" if hi < 0
                         else "after calibration the difference cannot be told from zero")
                        + (" (2 seeds: a direction to check with more seeds, not a finding)" if few and (lo > 0 or hi < 0)
                           else ""))
        out.append(f"{name}, n = {len(b)} paired seeds, unadjusted 95 % intervals: " + "; ".join(parts)
                   + f" (gap m0 − gap 0): on these seeds {word}.")
    if not out:
        return ("*No row of this profile has stored test logits yet* (they are kept for units trained since the "
                "logit store existed), so calibrated NLL is not available.")
    note = (f" {n_rows - n_with} of the {n_rows} gap-sweep rows of `{profile}` were trained before test logits were "
            "stored and have no calibrated metrics." if n_rows - n_with else "")
    return (f"**Calibrated {term('NLL')} (`{profile}`; temperature fitted on one half of the test set and scored on the "
            "other, then swapped).** " + " ".join(out) + note + _nll_holm(profile))


def _nll_holm(profile: str) -> str:
    """Claim 1's raw and calibrated NLL as the summary's tables read them (Holm-adjusted within the
    secondary family), so the unadjusted intervals above are never the only reading."""
    t = analysis.claim_verdicts(profile)
    if t.empty:
        return ""
    t = t[(t["claim"] == "1") & t["metric"].isin(["test_nll", "test_cal_nll"])].set_index("metric")
    parts = [f"{what} {fmt.estimate(t.loc[m, 'mean'], t.loc[m, 'lo'], t.loc[m, 'hi'], m)}, n={int(t.loc[m, 'n'])}, "
             f"**{t.loc[m, 'verdict']}**" for m, what in (("test_nll", "raw NLL"), ("test_cal_nll", "calibrated NLL"))
             if m in t.index and t.loc[m, "n"] >= 2]
    return (" Holm-adjusted within the secondary metrics' family, as the summary's tables read claim 1 "
            f"({VERDICT_RULE}): " + "; ".join(parts) + "." if parts else "")


def nll_by_profile() -> str:
    """Claim 1's raw NLL difference in every regime that ran it (Holm-adjusted, secondary family)."""
    h = [(p, analysis.claim_verdicts(p)) for p in analysis.verdicts.headline_profiles()]
    parts = []
    for p, t in h:
        r = t[(t["claim"] == "1") & (t["metric"] == "test_nll")] if not t.empty else t
        if not r.empty and int(r["n"].iloc[0]) >= 2:
            r = r.iloc[0]
            parts.append(f"`{p}` {fmt.estimate(r['mean'], r['lo'], r['hi'], 'test_nll')} ({r['verdict']})")
    if not parts:
        return ""
    return ("Raw NLL of gap m0 − gap 0 (claim 1's pairs, lower is better, Holm-adjusted within the secondary family): "
            + "; ".join(parts) + ".")


def data_size_verdict(profile: str = "interp") -> str:
    """The data-size study's conclusion (``dboost.analysis.data_size.verdict``) or where it stands."""
    from ..analysis import data_size as ds
    dz = analysis.rows("data_size", profile)
    if dz.empty:
        return (f"*The data-size study has no rows at `{profile}` yet*: `dboost run --profile {profile} --only "
                "data_size` trains it (smallest sizes first, so the figure exists early).")
    from ..config import PROFILES
    own = ds.resampled_sentence(profile)
    return (f"**`{profile}`.** " + ds.verdict(dz, 100 * (poster.FROZEN_GAPM0 - poster.FROZEN_GAP0),
                                             PROFILES[profile].get("n_train"))
            + (f"\n\n{own}" if own else ""))
