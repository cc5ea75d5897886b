"""The data-size study read from its rows: does the gain of gap m0 shrink with training data?

Torch-free (pandas, numpy, scipy).  Rows: ``runs/<profile>/data_size/rows`` (see
``dboost.experiments.data_size``): per size, head and seed a gap-0 and a gap-m0 net on the
seed's own class-balanced subset.  Effects are paired on seed; intervals are 95 % paired-t.  The
trend is an ordinary least-squares line of the per-seed gains on log10(size); its value at the
poster's 50,000 images is an **extrapolation** and is always labelled so.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from . import fmt
from .stats import paired_interval

POSTER_N = 50_000
FIT = 0.99  # "fits its training set": gap-0 train accuracy at least this (the profile's size_fit)


def _t_interval(x: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of the paired-t interval of gains ``x`` (the verdict rule's, unadjusted);
    (mean, nan, nan) below 2 values."""
    r = paired_interval(x, alpha=1 - level)
    return r["mean"], r["lo"], r["hi"]


def pairs(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (size, head, seed) with a gap-0 and a gap-m0 net of the same length: accuracies,
    the gain, the gap-0 net's train accuracy and m0.  Probe rows without a gap-m0 partner drop out."""
    if df.empty:
        return pd.DataFrame(columns=["size", "head_label", "seed", "epochs", "acc0", "acc_m0", "gain", "train_acc0",
                                     "m0", "nll0", "nll_m0", "nll_cal0", "nll_cal_m0"])
    cols = ["size", "head_label", "seed", "size_epochs"]
    base = df[df.gap_label == "0"].set_index(cols)
    disc = df[df.gap_label == "m0"].set_index(cols)
    idx = base.index.intersection(disc.index)
    b, d = base.loc[idx], disc.loc[idx]
    out = pd.DataFrame(dict(acc0=b.test_acc, acc_m0=d.test_acc, gain=d.test_acc - b.test_acc,
                            train_acc0=b.train_acc, m0=b.train_mean_margin, nll0=b.test_nll, nll_m0=d.test_nll,
                            nll_cal0=b.get("test_cal_nll"), nll_cal_m0=d.get("test_cal_nll")), index=idx)
    return out.reset_index().rename(columns={"size_epochs": "epochs"}).sort_values(["head_label", "size", "seed"])


def table(df: pd.DataFrame) -> pd.DataFrame:
    """Per head and size: seeds, length, gap-0 train accuracy (lowest seed), gap-0 test accuracy and the
    gain in points with its 95 % interval and paired-t p."""
    rows = []
    for (head, n), g in pairs(df).groupby(["head_label", "size"], sort=True):
        r = paired_interval(g.gain.to_numpy() * 100)
        m, lo, hi, p = r["mean"], r["lo"], r["hi"], r["p"]
        rows.append({"head": fmt.head_short(head), "training images": f"{int(n):,}", "seeds": len(g),
                     "epochs (steps)": f"{int(g.epochs.iloc[0])} ({int(g.epochs.iloc[0]) * _steps_per_epoch(n):,})",
                     "gap-0 train acc (min)": f"{100 * g.train_acc0.min():.1f} %",
                     "gap-0 test acc": f"{100 * g.acc0.mean():.1f} %",
                     "gain": f"{m:+.1f} pt".replace("-", "−"), "95 % interval": _fmt_ci(lo, hi),
                     "p": f"{p:.2g}" if not math.isnan(p) else "n/a"})
    return pd.DataFrame(rows)


def probes(df: pd.DataFrame, max_doublings: int | None = None, head: str = "freeze_last x10") -> str:
    """The length probes as they ran, from the rows: per size, the first seed's gap-0 net at each length
    tried (epochs, steps, train accuracy), and whether the last one fits (``FIT``) -- the record of
    how each size's length was chosen; a size whose last probe does not fit is still doubling."""
    d = df[(df.gap_label == "0") & (df.head_label == head)] if len(df) else df
    if d.empty:
        return ""
    d = d[d.seed == d.seed.min()]
    parts = []
    for n, g in d.sort_values("size_epochs").groupby("size"):
        tries = [f"{int(e)} epochs ({int(e) * _steps_per_epoch(int(n)):,} steps): {100 * a:.1f} %"
                 for e, a in zip(g.size_epochs, g.train_acc)]
        last = g.train_acc.iloc[-1]
        spent = max_doublings is not None and len(tries) > max_doublings
        parts.append(f"{int(n):,} images: " + " → ".join(tries)
                     + ("" if last >= FIT else " (below the fit after the last doubling allowed: this size is not in "
                        "the interpolating regime)" if spent else
                        " (below the fit: the next doubling is what the size waits for)"))
    return (f"**Length probes** (seed {int(d.seed.min())}, gap 0, train accuracy; the first length that reaches "
            f"{100 * FIT:.0f} % is the size's length): " + "; ".join(parts) + ".")


def _steps_per_epoch(n: int, batch_size: int = 100) -> int:
    return n // min(batch_size, n)


def _s(x: float) -> str:
    """A signed number as the book prints it: '+1.2', '−0.4' (a minus sign, not a hyphen)."""
    return f"{x:+.1f}".replace("-", "−")


def _fmt_ci(lo: float, hi: float) -> str:
    return "n/a (n < 2)" if math.isnan(lo) else f"[{lo:+.1f}, {hi:+.1f}] pt".replace("-", "−")


def trend(df: pd.DataFrame, head: str = "freeze_last x10") -> dict | None:
    """OLS of per-seed gains (points) on log10(size): slope per tenfold data with its 95 % interval,
    and the line's value at 50,000 images with a 95 % prediction interval (an extrapolation)."""
    pr = pairs(df)
    pr = pr[pr.head_label == head]
    if pr["size"].nunique() < 3:
        return None
    x, y = np.log10(pr["size"].to_numpy(float)), pr.gain.to_numpy() * 100
    fit = stats.linregress(x, y)
    dof = len(x) - 2
    tq = float(stats.t.ppf(0.975, dof))
    resid = y - (fit.intercept + fit.slope * x)
    s = math.sqrt(float(resid @ resid) / dof)
    x0 = math.log10(POSTER_N)
    se_pred = s * math.sqrt(1 + 1 / len(x) + (x0 - x.mean()) ** 2 / float(((x - x.mean()) ** 2).sum()))
    at = fit.intercept + fit.slope * x0
    return dict(head=head, n_points=len(x), sizes=sorted(int(v) for v in pr["size"].unique()),
                slope=float(fit.slope), slope_lo=float(fit.slope - tq * fit.stderr),
                slope_hi=float(fit.slope + tq * fit.stderr), p=float(fit.pvalue), at_poster=float(at),
                at_poster_lo=float(at - tq * se_pred), at_poster_hi=float(at + tq * se_pred))


def seed_trend(df: pd.DataFrame, head: str = "freeze_last x10") -> dict | None:
    """The trend counted once per seed: each seed's own OLS line of gain (points) on log10(size) through
    its nested subsets, then the mean slope with its 95 % t interval over seeds.

    :func:`trend` treats every (size, seed) gain as independent, but seed s trains every size from the
    same initialisation on nested subsets, so its gains may move together; this reading makes no such
    assumption (seeds are independent draws), at the price of few degrees of freedom.  Seeds with fewer
    than two sizes have no slope and drop out."""
    pr = pairs(df)
    pr = pr[pr.head_label == head]
    slopes = {s: float(np.polyfit(np.log10(g["size"].to_numpy(float)), 100 * g.gain.to_numpy(), 1)[0])
              for s, g in pr.groupby("seed") if g["size"].nunique() >= 2}
    if len(slopes) < 2:
        return None
    r = paired_interval(np.array(list(slopes.values())))
    return dict(head=head, n_seeds=len(slopes), slope=r["mean"], slope_lo=r["lo"], slope_hi=r["hi"], p=r["p"],
                slopes=slopes)


def _direction(lo: float, hi: float) -> str:
    """How the gain moves with data, read from an interval of its change: "shrinks with data", ..."""
    return ("shrinks with data" if hi < 0 else "grows with data" if lo > 0 else
            "shows no trend with data that we can tell from zero")


def lack_of_fit(df: pd.DataFrame, head: str = "freeze_last x10") -> dict | None:
    """Does a straight line in log10(size) describe the per-size gains?  The classical lack-of-fit F
    test with replicates (seeds): the line's residual sum of squares split into pure error (seeds
    around their size's mean) and lack of fit (size means around the line).  None below 3 sizes or
    without a replicate."""
    pr = pairs(df)
    pr = pr[pr.head_label == head]
    k, n = pr["size"].nunique(), len(pr)
    if k < 3 or n - k < 1:
        return None
    x, y = np.log10(pr["size"].to_numpy(float)), pr.gain.to_numpy() * 100
    fit = stats.linregress(x, y)
    ss_resid = float(((y - fit.intercept - fit.slope * x) ** 2).sum())
    ss_pure = float(((y - pr.assign(y=y).groupby("size").y.transform("mean").to_numpy()) ** 2).sum())
    if ss_pure == 0:
        return None
    f = ((ss_resid - ss_pure) / (k - 2)) / (ss_pure / (n - k))
    means = pr.assign(y=y).groupby("size").y.mean()
    return dict(F=float(f), df1=k - 2, df2=n - k, p=float(stats.f.sf(f, k - 2, n - k)), peak=int(means.idxmax()))


def change_from(df: pd.DataFrame, ref_size: int, head: str = "freeze_last x10") -> dict | None:
    """The gain at the largest size trained minus the gain at ``ref_size`` (the profile's own size,
    where the other pages' evidence comes from), paired on seed -- seed s trains both sizes from one
    initialisation, its ``ref_size`` images inside its larger subset; unadjusted 95 % t interval."""
    pr = pairs(df)
    pr = pr[pr.head_label == head]
    big = int(pr["size"].max()) if len(pr) else 0
    if big <= ref_size or ref_size not in set(pr["size"]):
        return None
    g = pr.pivot_table(index="seed", columns="size", values="gain")[[ref_size, big]].dropna()
    if len(g) < 2:
        return None
    r = paired_interval(100 * g[big].to_numpy(), 100 * g[ref_size].to_numpy())
    return dict(ref=ref_size, big=big, n=int(r["n"]), mean=r["mean"], lo=r["lo"], hi=r["hi"], p=r["p"])


def context(poster_gain_pt: float, poster_base: float, profile: str = "interp") -> str:
    """Why this page exists, in numbers read from the rows: claim 1 at ``profile``'s fixed subset (its
    size, gap-0 accuracy and paired gain) beside the poster's gain at 50,000 images."""
    from .rows import rows
    from .verdicts import claim_verdicts
    poster = (f"The poster reports {poster_gain_pt:+.1f} pt over its own {100 * poster_base:.1f} % gap-0 net at "
              f"{POSTER_N:,} images (read off its figure).")
    d = rows("frozen_last_layer", profile)
    v = claim_verdicts(profile) if len(d) else pd.DataFrame()
    c1 = v[(v.claim == "1") & (v.role == "primary")] if len(v) else v
    if c1.empty or d.n_train.isna().all():
        return poster + f" Claim 1 has no `{profile}` rows yet to set beside it."
    r = c1.iloc[0]
    ours_cut = r["mean"] / (1 - r.control_mean)          # share of the gap-0 net's test errors removed
    theirs_cut = poster_gain_pt / 100 / (1 - poster_base)
    return (f"At `{profile}` ({int(d.n_train.dropna().iloc[0]):,} training images, one fixed subset), claim 1's gap-0 "
            f"net reaches {fmt.pct(r.control_mean)} and gap m0 gains {fmt.estimate(r['mean'], r.lo, r.hi)} "
            f"(Holm-adjusted 95 % interval, n = {int(r.n)} paired seeds: {r.verdict}). " + poster
            + f" The two differ in width, recipe and length as well as in data, so they are no data-size trend; and "
              f"counted as the share of the gap-0 net's test errors removed, the gain is {100 * ours_cut:.0f} % here "
              f"and {100 * theirs_cut:.0f} % for the poster. This page varies the data alone.")


def verdict(df: pd.DataFrame, poster_gain_pt: float, ref_size: int | None = None) -> str:
    """The page's conclusion, from the rows: the gain per size, whether it shrinks (a line in log size,
    counted pooled and per seed, with its lack of fit; and, given the profile's own size ``ref_size``,
    the change from there to the largest size), the extrapolation."""
    pr = pairs(df)
    if pr.empty:
        return "No data-size rows yet."
    fr = pr[pr.head_label == "freeze_last x10"]
    unfit = fr[fr.train_acc0 < FIT]
    parts = []
    by = fr.groupby("size").gain.agg(["mean", "count"])
    parts.append("With the frozen ×10 head the gain of gap m0 is " + ", ".join(
        f"{_s(100 * r['mean'])} pt at {int(n):,} images (n = {int(r['count'])})" for n, r in by.iterrows()) + ".")
    if len(unfit):
        parts.append(f"{len(unfit)} gap-0 net(s) stay below {100 * FIT:.0f} % train accuracy "
                     f"(sizes {sorted(set(int(v) for v in unfit['size']))}): those sizes are not in the interpolating regime.")
    ep = fr.groupby("size").epochs.first()
    if ep.nunique() > 1:  # each size's length is its own probe's: data and length change together
        parts.append("The sizes do not share one length (" + "; ".join(
            f"{int(n):,} images: {int(e)} epochs ({int(e) * _steps_per_epoch(int(n)):,} steps)" for n, e in ep.items())
            + ", each the length its probe chose), so a difference between sizes is one of data and length "
            "together; the training-length page measures how the gain moves with length alone.")
    t = trend(df)
    if t is None:
        parts.append("Fewer than three sizes have paired rows, so no trend is fitted yet.")
        return " ".join(parts)
    if not all(math.isfinite(t[k]) for k in ("slope_lo", "slope_hi", "at_poster_lo", "at_poster_hi")):
        parts.append("The per-seed gains do not vary, so no trend with an interval can be fitted.")
        return " ".join(parts)
    direction = _direction(t["slope_lo"], t["slope_hi"])
    ch = change_from(df, ref_size) if ref_size else None
    if ch is not None and math.isfinite(ch["lo"]):
        parts.append(f"From the profile's own {ch['ref']:,} images to the largest size trained ({ch['big']:,}) the gain "
                     f"changes by {_s(ch['mean'])} pt (95 % interval [{_s(ch['lo'])}, {_s(ch['hi'])}], paired on seed, "
                     f"n = {ch['n']}): measured, the gain {_direction(ch['lo'], ch['hi'])}.")
    parts.append(f"Per tenfold more data the gain changes by {_s(t['slope'])} pt (95 % interval "
                 f"[{_s(t['slope_lo'])}, {_s(t['slope_hi'])}], {t['n_points']} paired seeds over sizes "
                 f"{', '.join(f'{n:,}' for n in t['sizes'])}): on a straight line in log size the gain {direction}.")
    st = seed_trend(df)
    if st is not None and math.isfinite(st["slope_lo"]):
        d2 = _direction(st["slope_lo"], st["slope_hi"])
        parts.append(f"Counting each seed once (its own line through its nested subsets, so a seed's sizes are not "
                     f"taken as independent): {_s(st['slope'])} pt per tenfold, 95 % interval "
                     f"[{_s(st['slope_lo'])}, {_s(st['slope_hi'])}] over {st['n_seeds']} seeds: "
                     + ("the same reading." if d2 == direction else
                        f"by this reading the gain {d2}, so **the two readings disagree** and the trend "
                        "is not settled."))
    lof = lack_of_fit(df)
    if lof is not None:
        parts.append(f"**A straight line does not describe the gains** (lack-of-fit F = {lof['F']:.1f} on "
                     f"{lof['df1']} and {lof['df2']} degrees of freedom, p = {lof['p']:.2g}; the mean gain peaks at "
                     f"{lof['peak']:,} images), so the slope above and the extrapolation below rest on a line the "
                     "data reject." if lof["p"] < 0.05 else
                     f"A straight line is not rejected by the per-size means (lack-of-fit p = {lof['p']:.2g}).")
    parts.append(f"*Extrapolation, not a measurement:* the line predicts {_s(t['at_poster'])} pt at the poster's "
                 f"50,000 images (95 % prediction interval [{_s(t['at_poster_lo'])}, {_s(t['at_poster_hi'])}]), "
                 f"where the poster reports {_s(poster_gain_pt)} pt over its own baseline "
                 "(width 64 and 50 epochs there, width 16 here).")
    return " ".join(parts)


# The claims a resampled seed re-tests (issue 19): claim 1 and both readings of claim 3 -- the ones whose
# arms (frozen ×10 and trainable Linear heads, gap 0 and gap m0) the study trains at the profile's own size.
RESAMPLED_CLAIMS = ("1", "3", "3-ours")


def _at_size(dz: pd.DataFrame, size: int) -> pd.DataFrame:
    """The data-size rows at ``size`` images of the lengths that pair a gap-0 with a gap-m0 net (a probe
    length without its partner drops out), with claim 1's arm column (``variant``) set as the gap sweep's."""
    pr = pairs(dz)
    keep = pr[pr["size"] == size][["head_label", "seed", "epochs"]].rename(columns={"epochs": "size_epochs"})
    d = dz[dz["size"] == size].merge(keep, on=["head_label", "seed", "size_epochs"])
    return d.assign(variant="sweep")


def resampled(profile: str) -> pd.DataFrame:
    """Claims 1, 3 and 3b over seeds that share one training subset (the other pages' rows) beside the
    same comparisons over seeds that each draw their own (the data-size study at the profile's own size),
    from the claims' declarations; unadjusted 95 % paired-t intervals and their widths."""
    from .claims import claim
    from .rows import rows
    from .verdicts import paired_arms
    dz = rows("data_size", profile)
    out = []
    for cid in RESAMPLED_CLAIMS:
        c = claim(cid)
        fixed = rows(c.experiment, profile)
        if fixed.empty or dz.empty or "n_train" not in fixed or fixed["n_train"].isna().all():
            continue
        size = int(fixed["n_train"].dropna().iloc[0])
        own = _at_size(dz, size)
        if cid == "1":
            own = own[own["head_label"] == "freeze_last x10"]  # claim 1 is the frozen ×10 head's
        for label, d in (("one subset for every seed", fixed), ("each seed its own subset", own)):
            both = paired_arms(c, d, c.control[0], c.metric) if len(d) else pd.DataFrame(columns=["t", "c"])
            r = paired_interval(both["t"], both["c"]) if len(both) else dict(n=0, mean=float("nan"), lo=float("nan"),
                                                                              hi=float("nan"))
            n = int(r["n"])
            # the seeds' standard deviation of the effect, back from the interval: a spread that does not
            # depend on n, so an own-subset sd above the fixed subset's is data-sampling variance
            sd = (100 * (r["hi"] - r["lo"]) / (2 * float(stats.t.ppf(0.975, n - 1))) * math.sqrt(n)
                  if n >= 2 else float("nan"))
            out.append(dict(claim=c.label, subsets=label, size=size, n=n, mean=100 * r["mean"],
                            lo=100 * r["lo"], hi=100 * r["hi"], width=100 * (r["hi"] - r["lo"]), sd=sd))
    return pd.DataFrame(out)


def resampled_table(profile: str) -> pd.DataFrame:
    """:func:`resampled` as the page and the summary show it, with the widening of each interval."""
    t = resampled(profile)
    if t.empty:
        return t
    rows = []
    for claim_label, g in t.groupby("claim", sort=False):
        base = g.iloc[0]["width"]
        for _, r in g.iterrows():
            widen = r["width"] / base if r["subsets"] != g.iloc[0]["subsets"] and base == base and base > 0 else float("nan")
            rows.append({"claim": claim_label.split(". ", 1)[0], "training subsets": r["subsets"], "seeds": r["n"],
                         "effect": "–" if r["n"] == 0 else f"{r['mean']:+.1f} pt".replace("-", "−"),
                         "95 % interval (unadjusted)": _fmt_ci(r["lo"], r["hi"]) if r["n"] else "no rows yet",
                         "interval width": "–" if r["width"] != r["width"] else f"{r['width']:.1f} pt",
                         "sd across seeds": "–" if r["sd"] != r["sd"] else f"{r['sd']:.1f} pt",
                         "width × the fixed subset's": "" if widen != widen else f"{widen:.2f}"})
    return pd.DataFrame(rows)


def resampled_sentence(profile: str) -> str:
    """How much the intervals widen when each seed draws its own training subset (the summary's line)."""
    t = resampled(profile)
    if t.empty:
        return ""
    own = t[(t["subsets"] == "each seed its own subset") & (t["n"] >= 2)]
    if own.empty:
        return (f"*Seeds that draw their own training subset:* no paired rows yet at `{profile}` "
                f"(`dboost run --profile {profile} --only data_size` trains them).")
    parts = []
    for _, r in own.iterrows():
        f = t[(t["claim"] == r["claim"]) & (t["subsets"] == "one subset for every seed")].iloc[0]
        est = lambda x: fmt.estimate(x["mean"] / 100, x["lo"] / 100, x["hi"] / 100)  # noqa: E731 -- points back to fractions
        ours = f"{est(r)} over {int(r['n'])} seeds with their own subsets"
        if f["n"] >= 2 and f["width"] > 0:
            ours += (f" against {est(f)} over {int(f['n'])} seeds sharing one "
                     f"({r['width'] / f['width']:.2f} × as wide"
                     + (f"; the sd across seeds is {r['sd']:.1f} against {f['sd']:.1f} pt, {r['sd'] / f['sd']:.2f} ×"
                        + ("" if int(r["n"]) == int(f["n"]) else
                           f", so {'all' if r['sd'] <= f['sd'] else 'part'} of the widening is the t quantile of "
                           f"{int(r['n'])} against {int(f['n'])} seeds") + ")"))
        else:
            ours += f" (the fixed subset has {int(f['n'])} paired seed{'s' * (int(f['n']) != 1)}: no interval to set beside it)"
        parts.append(f"claim {r['claim'].split('. ', 1)[0]}: " + ours.replace("-", "−"))
    fixed = t[t["subsets"] == "one subset for every seed"].set_index("claim")["sd"]
    wider = [r["sd"] > fixed.get(r["claim"], float("inf")) for _, r in own.iterrows()]
    close = ("The fixed-subset intervals of the other pages leave out data-sampling variance; here it shows: where "
             "the sd across own-subset seeds is larger, the verdicts above are that much less certain than they read."
             if any(wider) else
             f"The fixed-subset intervals of the other pages leave out data-sampling variance, but on these seeds it "
             f"adds no spread: the sd across seeds that draw their own subsets is no larger than across seeds that "
             f"share one (with {int(own['n'].min())} seeds an sd is itself uncertain, so this is a weak check, not "
             "a proof).")
    return (f"**Seeds that draw their own training subset** (`{profile}`, {int(own['size'].iloc[0]):,} images, "
            "unadjusted 95 % paired-t intervals): " + "; ".join(parts) + ". " + close)


def plot(df: pd.DataFrame, poster_gain_pt: float):
    """Left: gain (points, mean ± 95 % interval) against training-set size on a log axis, the poster's
    point at 50k on the same axis; right: gap-0 test accuracy per size."""
    import matplotlib.pyplot as plt
    pr = pairs(df)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for head, g in pr.groupby("head_label"):
        stats_ = [(n, *_t_interval(h.gain.to_numpy() * 100)) for n, h in g.groupby("size")]
        n, m, lo, hi = map(np.array, zip(*stats_))
        err = np.vstack([m - np.where(np.isnan(lo), m, lo), np.where(np.isnan(hi), m, hi) - m])
        ax.errorbar(n, m, yerr=err, marker="o", capsize=3, label=f"ours: {fmt.head_short(head)}")
        ax.scatter(g["size"], g.gain * 100, s=8, alpha=0.4)
        acc = g.groupby("size").acc0.mean()
        ax2.plot(acc.index, acc.values * 100, marker="o", label=f"{fmt.head_short(head)}, gap 0")
    ax.scatter([POSTER_N], [poster_gain_pt], marker="*", s=160, color="black", zorder=5,
               label="poster (its own baseline, width 64)")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xscale="log", xlabel="training images (log scale)", ylabel="gain of gap m0 over gap 0 (pt)")
    ax.legend(fontsize=8)
    ax2.set(xscale="log", xlabel="training images (log scale)", ylabel="gap-0 test accuracy (%)")
    ax2.legend(fontsize=8)
    # ticks at the sizes trained (and the poster's), named as a reader says them; no crowded minor labels
    sizes = sorted(set(int(v) for v in pr["size"])) if len(pr) else []
    for a, ticks in ((ax, [*sizes, POSTER_N]), (ax2, sizes)):
        if ticks:
            a.set_xticks(ticks, [f"{t / 1000:g}k" if t >= 1000 else str(t) for t in ticks])
            a.xaxis.set_minor_formatter(plt.NullFormatter())
            a.set_xlim(min(ticks) / 1.5, max(ticks) * 1.5)
    fig.tight_layout()
    return fig
