"""The result pages' figures (seaborn on one axis per quantity, no second y-axis) and their
numbered captions."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import poster
from ..analysis import fmt, stats
from .markdown import term
from .tables import METRICS, _length_pairs, gap_mult, rule_name

# ----------------------------------------------------------------------------- captions

def caption(number: int, text: str, df: pd.DataFrame) -> str:
    """A numbered figure caption that names the profile and seeds the figure was drawn from."""
    if df.empty:
        return f"**Figure {number}.** {text}"
    profs = ", ".join(f"`{p}`" for p in dict.fromkeys(df["profile"]))
    seeds = sorted(set(int(s) for s in df["seed"]))
    return f"**Figure {number}.** {text} {term('Profile', 'profile')} {profs}; seeds {seeds}."


def figure(fig, number: int, text: str, df: pd.DataFrame) -> None:
    """Show ``fig`` in a notebook with its numbered caption below it (and close it, so the inline
    backend does not show it a second time at the end of the cell)."""
    import matplotlib.pyplot as plt
    from IPython.display import Markdown, display
    display(fig)
    plt.close(fig)
    display(Markdown(caption(number, text, df)))


# ----------------------------------------------------------------------------- figures

def _percent(axis) -> None:
    """Tick labels of a proportion axis in percent (the data stay proportions), as the book's text."""
    from matplotlib.ticker import PercentFormatter
    axis.set_major_formatter(PercentFormatter(1.0, decimals=None))


def _sns():
    import matplotlib
    import seaborn as sns
    sns.set_theme(style="whitegrid", context="notebook")
    matplotlib.rcParams["figure.dpi"] = 110
    return sns


def _overlaps(ref, ours, pad: float) -> bool:
    """Whether the poster's values ``ref`` come within ``pad`` of the range of ``ours``.  If so they
    share our axis; if not (another regime) they get a panel of their own, so neither is squashed."""
    return min(ref) <= float(np.max(ours)) + pad and max(ref) >= float(np.min(ours)) - pad


def _mean_ci(values) -> tuple[float, float, float]:
    """Mean and unadjusted 95 % t interval over seeds (no interval for one seed)."""
    r = stats.paired_interval(values)
    return r["mean"], r["lo"], r["hi"]


def _band(ax, x, s, color, label, marker="o-"):
    """Mean line with its 95 % interval as error bars (seeds as faint dots are drawn by the caller)."""
    ax.errorbar(x, s["mean"], yerr=[s["mean"] - s["lo"].fillna(s["mean"]), s["hi"].fillna(s["mean"]) - s["mean"]],
                fmt=marker, color=color, capsize=3, label=label)


def _by_multiple(d: pd.DataFrame, col: str) -> pd.DataFrame:
    rows_ = [(k, *_mean_ci(g[col].dropna()), g[col].notna().sum()) for k, g in d.groupby("mult")]
    return pd.DataFrame(rows_, columns=["mult", "mean", "lo", "hi", "n"])


def plot_gap_sweep(df: pd.DataFrame):
    """The sweep on every seed, on one axis per quantity.

    Top: the gain over the same source's gap-0 net, in points -- ours (mean and 95 % interval over
    the paired seeds, dots: seeds) and the poster's (its sweep minus its g = 0.1 point) -- for test
    accuracy and ROC-AUC, against the gap in multiples of m0 (log axis; gap 0 is the zero line).
    Bottom: train accuracy and mean margins, with gap 0 in a narrow panel of its own at the left
    (a log axis has no place for 0)."""
    import matplotlib.pyplot as plt
    _sns()
    d = df.copy()
    d["mult"] = gap_mult(d)
    base = d[d["gap_label"] == "0"].set_index("seed")
    for col in ("test_acc", "test_auc_proba"):
        d[f"gain_{col}"] = 100 * (d[col] - d["seed"].map(base[col]))
    fig, ax = plt.subplot_mosaic([["acc", "acc", "auc", "auc"], ["tr0", "tr", "mg0", "mg"]], figsize=(13, 8.4),
                                 gridspec_kw=dict(width_ratios=[1, 6, 1, 6]))
    pos = d[d["mult"] > 0]
    pg, pa = zip(*poster.GAP_SWEEP_ACC)
    for key, col, ref, lab in (("acc", "test_acc", None, "test accuracy"), ("auc", "test_auc_proba", None, "ROC-AUC")):
        a = ax[key]
        a.plot(pos["mult"], pos[f"gain_{col}"], ".", color="C0", alpha=0.35)
        s = _by_multiple(pos, f"gain_{col}")
        _band(a, s["mult"], s, "C0", f"ours: mean, 95 % interval over seeds (n = {int(s['n'].min())}–{int(s['n'].max())})")
        a.axhline(0, color="k", lw=1)
        a.axvline(1.0, color="tab:red", lw=1, alpha=0.5)
        a.set(xscale="log", xlabel="gap / m0 (each source's own m0)", ylabel=f"{lab}: gain over gap 0 (points)",
              title=f"{lab}, gain of the gap over the same source's gap 0")
    ax["acc"].plot(np.array(pg[1:]) / poster.M0, 100 * (np.array(pa[1:]) - pa[0]), "k^:",
                   label=f"poster: its sweep − its g = {pg[0]:g} point (one seed; m0 ≈ {poster.M0:g})")
    ax["auc"].plot([1.0], [100 * (poster.AUC_DISCOUNTED - poster.AUC_CE)], "k^", ms=9,
                   label="poster: discounted − CE (its one pair)")
    for key, col, lab in (("tr", "train_acc", "train accuracy"), ("mg", "train_mean_margin", "train mean margin")):
        z = d[d["mult"] == 0]
        ax[key + "0"].plot(np.zeros(len(z)), z[col], ".", color="C1", alpha=0.5)
        s0 = _by_multiple(z, col)
        _band(ax[key + "0"], [0.0], s0, "C1", None)
        ax[key + "0"].set(xticks=[0], xticklabels=["gap 0"], xlim=(-0.5, 0.5), ylabel=lab, xlabel="")
        if col == "train_acc":
            _percent(ax[key + "0"].yaxis)
        ax[key].sharey(ax[key + "0"])
        ax[key].tick_params(labelleft=False)
        ax[key].plot(pos["mult"], pos[col], ".", color="C1", alpha=0.35)
        s = _by_multiple(pos, col)
        _band(ax[key], s["mult"], s, "C1", "ours: mean, 95 % interval over seeds")
        ax[key].axvline(1.0, color="tab:red", lw=1, alpha=0.5)
        ax[key].set(xscale="log", xlabel="gap / m0", title=f"{lab} vs gap (gap 0: left, apart)")
    ax["mg"].plot(s["mult"], s["mult"] * float(base["train_mean_margin"].mean()), color="grey", lw=1,
                  label="margin = gap (at the mean m0)")
    if (d["train_mean_margin"] > 0).all():  # a log axis for margins spanning decades; not for a net with m < 0
        for k in ("mg0", "mg"):
            ax[k].set_yscale("log")
    ticks = sorted(set(pos["mult"]))
    for k in ("acc", "auc", "tr", "mg"):  # the grid's multiples as plain numbers, not 3×10⁻¹
        ax[k].set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax[k].minorticks_off()
    for k in ("acc", "auc", "tr", "mg"):
        ax[k].legend(fontsize=8)
    fig.suptitle("red line: gap = m0, the train mean margin of each seed's gap-0 net", fontsize=10)
    fig.tight_layout()
    return fig


def plot_pairs(df: pd.DataFrame, by: str, metric: str = "test_acc", title: str = "", poster_bands: dict | None = None):
    """Gap 0 vs gap m0 per group: one dot per seed, and the mean ± std over seeds (a dot plot, not
    bars: the axis need not start at 0 to be honest).

    poster_bands: {"gap 0 (CE)" / "gap = m0": (low, high)} -- the poster's range for each arm.  Drawn
    as bands on our axis where they overlap our values; else (another regime) in a small panel of
    its own to the right, with its own axis, so neither is squashed."""
    import matplotlib.pyplot as plt
    sns = _sns()
    d = df.copy()
    d["loss"] = d["gap_label"].map({"0": "gap 0 (CE)", "m0": "gap = m0"})
    if by == "head_label":
        d[by] = d[by].map(fmt.head_short)
    inside = poster_bands is None or all(_overlaps(b, d[metric], 0.02) for b in poster_bands.values())
    w = max(6, 1.3 * d[by].nunique() + 3)
    if inside:
        fig, ax = plt.subplots(figsize=(w, 4.2))
    else:
        fig, (ax, pax) = plt.subplots(1, 2, figsize=(w + 1.6, 4.2), gridspec_kw=dict(width_ratios=[w, 1.6]))
    # seaborn jitters the dots with numpy's global generator: seeded for this call only, so a page
    # draws the same figure on every render, and the caller's random stream is left as it was
    state = np.random.get_state()
    np.random.seed(0)
    try:
        sns.stripplot(data=d, x=by, y=metric, hue="loss", dodge=True, ax=ax, size=4, alpha=0.6, legend=False)
    finally:
        np.random.set_state(state)
    sns.pointplot(data=d, x=by, y=metric, hue="loss", dodge=0.4, ax=ax, errorbar="sd", linestyle="none",
                  markers="D", capsize=0.1)
    ax.set(title=title, ylabel=METRICS.get(metric, metric), xlabel="")
    if metric not in fmt.NOT_A_PROPORTION:
        _percent(ax.yaxis)
        if not inside and poster_bands:
            _percent(pax.yaxis)
    ax.tick_params(axis="x", rotation=20)
    if poster_bands and inside:
        for j, (arm, (b0, b1)) in enumerate(poster_bands.items()):
            ax.axhspan(b0, b1, color=f"C{j}", alpha=0.12, label=f"poster, {arm}: {b0:g}–{b1:g}")
    elif poster_bands:
        for j, (arm, (b0, b1)) in enumerate(poster_bands.items()):
            pax.plot([j, j], [b0, b1], color=f"C{j}", lw=8, alpha=0.5, solid_capstyle="butt")
        pax.set(xlim=(-0.7, len(poster_bands) - 0.3), xticks=range(len(poster_bands)),
                title="poster", ylabel="")
        pax.set_xticklabels(list(poster_bands), rotation=20, fontsize=8)
        pax.yaxis.tick_right()
    ax.legend(title="mean ± std over seeds; dots: seeds" + ("; bands: poster" if poster_bands and inside else ""),
              fontsize=8, title_fontsize=8, loc="upper left",
              bbox_to_anchor=(1.01, 1.0) if inside else (0.0, -0.28))
    fig.tight_layout()
    return fig


def plot_boosting(df: pd.DataFrame, with_poster: bool = True):
    """Each rule's gain over the plain ensemble (rule ``zero``) of the same size, in points, for test
    accuracy and ROC-AUC: ours (mean and 95 % interval over the paired seeds) and the poster's table
    (its rule − its plain ensemble) on the same axis -- gains, so the two regimes compare."""
    import matplotlib.pyplot as plt
    _sns()
    fig, ax = plt.subplots(1, 2, figsize=(13, 4.4))
    plain = df[df["rule"] == "zero"].set_index(["seed", "members"])
    kmax = df["members"].max()
    rules = [r for r in dict.fromkeys(df["rule"]) if r != "zero"]
    n_at: dict[int, set] = {}  # members -> the paired-seed counts of the rules there: the seed sets differ by size
    for i, (col, lab) in enumerate((("test_acc", "test accuracy"), ("test_auc_proba", "ROC-AUC (OvR, softmax)"))):
        for j, rule in enumerate(rules):
            g = df[df["rule"] == rule].set_index(["seed", "members"])
            gain = (100 * (g[col] - plain[col].reindex(g.index))).dropna().reset_index()
            if gain.empty:
                continue
            for k, x in gain.groupby("members"):
                n_at.setdefault(int(k), set()).add(len(x))
            s = pd.DataFrame([(k, *_mean_ci(x[col])) for k, x in gain.groupby("members")],
                             columns=["members", "mean", "lo", "hi"])
            _band(ax[i], s["members"] + 0.06 * (j - len(rules) / 2), s, f"C{j}", rule_name(rule))
            if with_poster and rule in poster.BOOSTING:
                pts = [k for k in sorted(poster.BOOSTING[rule]) if k <= kmax]
                ax[i].plot(pts, [100 * (poster.BOOSTING[rule][k][i] - poster.BOOSTING["zero"][k][i]) for k in pts],
                           "^:", color=f"C{j}", alpha=0.6)
        ax[i].axhline(0, color="k", lw=1)
        ax[i].set_xlim(0.5, kmax + 0.5)
        ax[i].set(xlabel="members", ylabel="gain over the plain ensemble (points)",
                  title=f"{lab}: rule − plain ensemble of the same size")
    ticks = sorted(n_at)
    names = [f"{k}\nn={min(n_at[k])}" + (f"–{max(n_at[k])}" if len(n_at[k]) > 1 else "") for k in ticks]
    for a in ax:
        a.set_xticks(ticks, names)
    handles, labels = ax[0].get_legend_handles_labels()
    handles.append(plt.Line2D([], [], ls=":", marker="^", color="grey", label="poster's table (rule − its plain ensemble)"))
    labels.append("poster's table (rule − its plain ensemble)")
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def plot_training_length(df: pd.DataFrame):
    """Left: the gain in test accuracy (mean ± std over seeds) against the train accuracy of the gap-0
    net, one line per head, each point labelled with its epochs and paired seeds.  Right: test accuracy against
    epochs for both gaps (bands: ± std over seeds)."""
    import matplotlib.pyplot as plt
    _sns()
    m = _length_pairs(df)
    fig, ax = plt.subplots(1, 2, figsize=(13, 4.6))
    for j, (head, g) in enumerate(m.groupby("head_label", sort=False)):
        s = g.groupby("length_epochs").agg(x=("train_acc_0", "mean"), xs=("train_acc_0", "std"),
                                           y=("gain", "mean"), ys=("gain", "std"), n=("gain", "size")).reset_index()
        s[["y", "ys"]] *= 100  # percentage points, as every gain in the book
        ax[0].errorbar(s["x"], s["y"], xerr=s["xs"].fillna(0), yerr=s["ys"].fillna(0), fmt="o-", capsize=3,
                       color=f"C{j}", label=fmt.head_short(head))
        for r in s.itertuples():
            ax[0].annotate(f"{r.length_epochs} ep, n={r.n}", (r.x, r.y), textcoords="offset points", xytext=(5, 5), fontsize=8,
                           color=f"C{j}")
        for gap, ls in (("0", "--"), ("m0", "-")):
            t = g.groupby("length_epochs")[f"test_acc_{gap}"].agg(["mean", "std"]).reset_index()
            ax[1].plot(t["length_epochs"], t["mean"], "o" + ls, color=f"C{j}", label=f"{fmt.head_short(head)}, gap {gap}")
            ax[1].fill_between(t["length_epochs"], t["mean"] - t["std"].fillna(0), t["mean"] + t["std"].fillna(0),
                               color=f"C{j}", alpha=0.12)
    ax[0].axhline(0, color="k", lw=1)
    ax[0].set(xlabel="train accuracy of the gap-0 net (un-augmented training set)",
              ylabel="gain in test accuracy, gap m0 − gap 0 (points)", title="does the gain survive as training fits the data?")
    ax[1].set(xscale="log", xlabel="epochs (log scale)", ylabel="test accuracy", title="test accuracy vs training length")
    _percent(ax[0].xaxis)
    _percent(ax[1].yaxis)
    lengths = sorted(m["length_epochs"].unique())
    ax[1].set_xticks(lengths, [str(int(e)) for e in lengths])
    ax[1].minorticks_off()
    for a in ax:
        a.legend(fontsize=8)
    fig.tight_layout()
    return fig
