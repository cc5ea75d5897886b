"""Tables and figures for the book: every number comes from the rows in ``runs/``.

Notebooks call these so no plotting or table code is repeated between pages.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from . import poster
from .analysis import fmt, stats
from .experiments import PROFILE_RANK
from .results import Store, runs_root

METRICS = fmt.METRIC_NAMES  # column -> label; the claims' metrics first
HIGHER_IS_BETTER = {m: False for m in fmt.LOWER_IS_BETTER}
# What the tables call the rows' columns (the glossary page defines each).
COLUMN_NAMES = {
    "gap_label": "gap", "gap": "g (logits)", "gap_mult": "g / m0", "train_acc": "train acc",
    "train_mean_margin": "train mean margin", "logged_mean_margin": "logged-style mean margin",
    "test_mean_margin": "test mean margin", "min_width": "minimum width", "seeds": "seeds",
    "head_label": "head", "arch": "architecture", "variant": "", "rule": "rule", "members": "members",
    **METRICS,
}
PM_NOTE = ("± is the sample standard deviation over seeds (n − 1 in the denominator). Verdicts follow the "
           "[verdict rule](../glossary.html#the-verdict-rule): a paired t interval of the difference over seeds, Holm-adjusted "
           "across each profile's family of comparisons in the summary (unadjusted 95 % in a page's own tables); "
           "*supported* / *contradicted* when it excludes 0 on the claimed / the other side, else *inconclusive*.")


# ----------------------------------------------------------------------------- loading

def rows(experiment: str, profile: str) -> pd.DataFrame:
    rs = [r for r in Store(profile, experiment).rows() if r.get("profile") == profile]
    return pd.json_normalize(rs, sep="_") if rs else pd.DataFrame()


def best_profile(experiment: str) -> str | None:
    """The best profile with results for ``experiment`` (the order of ``experiments.PROFILE_RANK``)."""
    for p in PROFILE_RANK:
        if (runs_root() / p / experiment / "results.csv").exists():
            return p
    return None


def provenance(df: pd.DataFrame) -> str:
    """One Markdown paragraph: what produced these numbers."""
    if df.empty:
        return "*No results yet.*"
    first = df.iloc[0]
    wall = df.filter(regex=r"(train_wall_time_s|member_wall_time_s)$").sum().sum()
    seeds = sorted(set(int(s) for s in df["seed"]))
    hw = ", ".join(sorted(set(f"{h} ({d})" for h, d in zip(df["env_hardware"], df["env_device"]))))
    if "member_trained_on" in df:  # boosting rows: members may have been trained elsewhere (cached outputs)
        where = {}  # "hardware (device), torch X" -> the commits its members were trained at
        for t in df["member_trained_on"].dropna():
            place, _, commit = str(t).partition(", commit ")
            where.setdefault(place, set()).add(commit or "?")
        hw = "members trained on " + "; ".join(
            f"{k} ({len(v)} commit{'s' * (len(v) != 1)}: {', '.join(sorted(v))})" if len(v) > 1 else f"{k}, commit {next(iter(v))}"
            for k, v in sorted(where.items())) + f"; ensemble metrics on {hw}"
    if "precision" in df and df["precision"].notna().all():
        prec = "/".join(sorted(set(df["precision"])))
    else:  # rows written before precision was recorded: the trainer's default then, by device
        where = df["member_trained_on"] if "member_trained_on" in df else df["env_device"]  # boosting: the members'
        prec = "/".join(sorted({"bf16" if "cuda" in str(d) else "fp32" for d in where})) + \
            " (not recorded; the trainer's default for the device)"
    n_tr = "full" if first["dataset"] != "synthetic" and int(first["n_train"]) >= 50_000 else f"{int(first['n_train']):,}"
    ex = "/".join(sorted(set(df["executor"].fillna("local")))) if "executor" in df else "local"
    if first.get("split", "standard") == "authors":
        n_tr += ", the authors' split: 'test' = the last 5k training images"
    epochs = sorted(set(int(e) for e in df["epochs"]))
    epochs = str(epochs[0]) if len(epochs) == 1 else "/".join(map(str, epochs))
    return (f"**Run:** profile `{first['profile']}` · data `{first['dataset']}` (train {n_tr}, "
            f"test {int(first['n_test']):,}) · recipe `{first['recipe']}`, {epochs} epochs, "
            f"batch {int(first['batch_size'])} · precision {prec} · executor {ex} · seeds {seeds} · {len(df)} rows · hardware {hw} · "
            f"training wall time {wall / 60:.1f} min · torch {first['env_torch']} · commit {first['env_git_commit']}.")


# ----------------------------------------------------------------------------- statistics

def pm(values, digits: int = 4) -> str:
    v = np.asarray(values, float)
    if len(v) == 0:
        return "–"
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}"


def verdict(diffs, higher_is_better: bool = True) -> str:
    """A page table's verdict from paired differences (treatment − control): the glossary's rule
    with an *unadjusted* 95 % paired-t interval (one comparison read alone; the summary's verdicts
    adjust across each profile's family with Holm).  n < 2: inconclusive (n too small)."""
    d = np.asarray(diffs, float)
    r = stats.paired_test(d, np.zeros_like(d))
    if r["n"] < 2:
        return "inconclusive (n too small)"
    lo, hi = stats.t_interval(r["mean"], r["se"], r["df"], stats.ALPHA)
    return stats.decide(lo, hi, 1 if higher_is_better else -1)


def paired(df: pd.DataFrame, by: str = "variant", metrics=("test_acc", "test_auc_proba", "test_auc_logits")) -> pd.DataFrame:
    """gap 0 vs gap = m0 per ``by`` group, paired on seed: mean ± std and the paired difference."""
    out = []
    d0 = df[df["gap_label"] == "0"]
    d1 = df[df["gap_label"] == "m0"]
    for name, g0 in d0.groupby(by, sort=False):
        g1 = d1[d1[by] == name]
        m = g0.merge(g1, on="seed", suffixes=("_0", "_1"))
        if m.empty:
            continue
        row = {by: name, "seeds": len(m), "m0 (train mean margin, gap 0)": pm(m["train_mean_margin_0"], 2),
               "train acc (gap 0)": pm(m["train_acc_0"], 3)}
        for k in metrics:
            diff = m[f"{k}_1"] - m[f"{k}_0"]
            row[f"{METRICS.get(k, k)}: gap 0"] = pm(m[f"{k}_0"])
            row[f"{METRICS.get(k, k)}: gap m0"] = pm(m[f"{k}_1"])
            row[f"{METRICS.get(k, k)}: diff"] = pm(diff)
            row[f"{METRICS.get(k, k)}: verdict"] = verdict(diff, HIGHER_IS_BETTER.get(k, True))
        out.append(row)
    return pd.DataFrame(out).set_index(by).T if out else pd.DataFrame()  # one column per group: no hidden columns


def paired_wide(df: pd.DataFrame, by: str = "variant", metrics=("test_acc", "test_auc_proba", "test_auc_logits")) -> pd.DataFrame:
    """gap 0 vs gap m0 paired on seed, one row per (group, metric): the absolute values of both
    arms (mean ± std), their difference and the verdict -- a table that reads across, not down."""
    out = []
    d0, d1 = df[df["gap_label"] == "0"], df[df["gap_label"] == "m0"]
    groups = list(dict.fromkeys(d0[by])) if by in d0 else []
    for name in groups:
        m = d0[d0[by] == name].merge(d1[d1[by] == name], on="seed", suffixes=("_0", "_1"))
        if m.empty:
            continue
        for k in ("train_acc", *metrics):
            diff = m[f"{k}_1"] - m[f"{k}_0"]
            row = {COLUMN_NAMES.get(by, by) or "group": name} if len(groups) > 1 else {}
            row.update({"metric": COLUMN_NAMES.get(k, k) + ("" if HIGHER_IS_BETTER.get(k, True) else " (lower is better)"),
                        "gap 0": pm(m[f"{k}_0"], 3 if k == "train_acc" else 4),
                        "gap m0": pm(m[f"{k}_1"], 3 if k == "train_acc" else 4),
                        "gap m0 − gap 0": pm(diff, 3 if k == "train_acc" else 4), "seeds": len(m),
                        "verdict": "" if k == "train_acc" else verdict(diff, HIGHER_IS_BETTER.get(k, True))})
            out.append(row)
    if not out:
        return pd.DataFrame()
    t = pd.DataFrame(out)
    return t.set_index([c for c in t.columns if c in ("metric",) or c == (COLUMN_NAMES.get(by, by) or "group")])


def m0_note(df: pd.DataFrame, by: str = "variant") -> str:
    """m0 of each group's gap-0 nets (the gap its gap-m0 nets trained with), mean ± std over seeds."""
    g0 = df[df["gap_label"] == "0"]
    if g0.empty:
        return ""
    parts = [f"{name}: {pm(g['train_mean_margin'], 2)}" for name, g in g0.groupby(by, sort=False)]
    what = "m0 (train mean margin of the gap-0 net, the gap of its gap-m0 pair)"
    return f"{what}: " + "; ".join(parts) + "." if len(parts) > 1 else f"{what}: {parts[0].split(': ', 1)[1]}."


def grid_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """The gap grid of one seed: one row per trained net, in human column names."""
    d = sweep.copy()
    d["gap_mult"] = gap_mult(d)
    cols = ["gap_mult", "gap", "train_acc", "train_mean_margin", "test_acc", "test_auc_proba", "test_nll", "test_ece",
            "min_width"]
    d = d.sort_values("gap")[[c for c in cols if c in d]]
    fmt = dict(gap_mult="{:.3g}", gap="{:.3g}", train_acc="{:.4f}", train_mean_margin="{:.3g}", test_acc="{:.4f}",
               test_auc_proba="{:.4f}", test_nll="{:.3f}", test_ece="{:.4f}", min_width="{:.3g}")
    for c in d.columns:
        d[c] = d[c].map(lambda v, f=fmt[c]: "" if v != v else f.format(v))
    d.columns = [COLUMN_NAMES.get(c, c) for c in d.columns]
    return d.reset_index(drop=True)


def caption(number: int, text: str, df: pd.DataFrame) -> str:
    """A numbered figure caption that names the profile and seeds the figure was drawn from."""
    if df.empty:
        return f"**Figure {number}.** {text}"
    profs = ", ".join(f"`{p}`" for p in dict.fromkeys(df["profile"]))
    seeds = sorted(set(int(s) for s in df["seed"]))
    return f"**Figure {number}.** {text} Profile {profs}; seeds {seeds}."


def partial_note(cfg, df: pd.DataFrame) -> str:
    """A banner for a page rendered from the rows so far (``experiments.run(cfg, train=False)``)."""
    return (f"**Rendered from the rows in `runs/{cfg.profile}/{cfg.experiment}/`** ({len(df)} rows), without "
            "training: tables and verdicts cover the rows present. Where the profile asks for more (a run still "
            "going, or seeds added since), `python -m dboost.batch --profile " + cfg.profile + "` trains them.")


def smoke_warning(df: pd.DataFrame) -> str:
    """A banner for pages whose best run is the synthetic smoke profile."""
    if not df.empty and (df["profile"] == "smoke").all():
        return ("**Pipeline check only:** this page shows the `smoke` profile (synthetic data, tiny nets). "
                "It tests the code path and says nothing about the poster's claims; run the `interp`, `cpu` or `gpu` profile.")
    return ""


# ----------------------------------------------------------------------------- figures

def _sns():
    import matplotlib
    import seaborn as sns
    sns.set_theme(style="whitegrid", context="notebook")
    matplotlib.rcParams["figure.dpi"] = 110
    return sns


def _overlaps(ref, ours, pad: float) -> bool:
    """Whether the poster's values ``ref`` come within ``pad`` of the range of ``ours``.  If so they
    share our axis; if not (another regime) they get one of their own, so neither is squashed."""
    return min(ref) <= float(np.max(ours)) + pad and max(ref) >= float(np.min(ours)) - pad


def _own_axis(ax, label: str, **text_kw):
    """A right-hand axis for the poster's values beside ours (see :func:`_overlaps`)."""
    t = ax.twinx()
    t.grid(False)
    t.set_ylabel(label, **text_kw)
    return t


def plot_gap_sweep(df: pd.DataFrame):
    """Accuracy (relative and absolute gap), ROC-AUC and mean margins against the gap, with the poster's points.

    Top left: gap / m0, the scale the poster's rule (g ≈ m0) speaks in; top right: the absolute
    gap, where the poster's points sit where they were measured -- the two can disagree when our
    m0 is far from the poster's.
    """
    import matplotlib.pyplot as plt
    _sns()
    d = df.copy()
    d["gap_rel"] = d["gap"] / d["m0"].fillna(d["train_mean_margin"])
    d = d.sort_values("gap_rel")
    x = np.maximum(d["gap_rel"], 1e-3)
    m0 = float(d["m0"].dropna().iloc[0]) if d["m0"].notna().any() else float("nan")
    fig, axs = plt.subplots(2, 2, figsize=(13, 8.6))
    ax = axs.ravel()
    pg, pa = zip(*poster.GAP_SWEEP_ACC)
    own = not _overlaps(pa, d["test_acc"], 0.02)  # the poster's test accuracy against ours

    def ref(a):
        return _own_axis(a, "poster test accuracy (triangles, this axis)", fontsize=9) if own else a
    ax[0].plot(x, d["test_acc"], "o-", label="ours (test)")
    ax[0].plot(x, d["train_acc"], "s--", alpha=0.6, label="ours (train)")
    r0 = ref(ax[0])
    r0.plot(np.array(pg) / poster.M0, pa, "k^:", label=f"poster (test; gap / {poster.M0:g}, its m0)")
    ax[0].set(title="accuracy vs gap / m0", ylabel="accuracy", xlabel="gap / m0 (gap 0 drawn at 1e-3)")
    ax[0].axvline(1.0, color="tab:red", lw=1, alpha=0.5)
    xa = np.maximum(d["gap"], 0.03)
    ax[1].plot(xa, d["test_acc"], "o-", label="ours (test)")
    r1 = ref(ax[1])
    r1.plot(pg, pa, "k^:", label="poster (test)")
    ax[1].axvline(m0, color="tab:red", lw=1, alpha=0.5, label=f"our m0 = {m0:.3g}")
    ax[1].axvline(poster.M0, color="k", lw=1, ls="--", alpha=0.5, label=f"poster m0 ≈ {poster.M0:g}")
    ax[1].set(title="accuracy vs absolute gap", ylabel="accuracy", xlabel="gap g (logits; gap 0 drawn at 0.03)")
    for col, mk, lab in (("test_auc_proba", "o-", "softmax f32"), ("test_auc_logits", "s--", "logits"),
                         ("test_auc_log_proba", "d:", "exact probs")):
        ax[2].plot(x, d[col], mk, label=lab)
    r2 = ax[2]
    if not _overlaps((poster.AUC_CE, poster.AUC_DISCOUNTED), d[["test_auc_proba", "test_auc_logits"]].to_numpy(), 0.01):
        r2 = _own_axis(ax[2], "poster ROC-AUC (lines, this axis)", fontsize=9)
        r2.set_ylim(poster.AUC_CE - 0.0005, poster.AUC_DISCOUNTED + 0.0003)
    r2.axhline(poster.AUC_CE, color="k", ls=":", lw=1, label="poster, CE")
    r2.axhline(poster.AUC_DISCOUNTED, color="k", ls="--", lw=1, label="poster, discounted")
    ax[2].set(title="macro one-vs-rest ROC-AUC vs gap / m0", ylabel="ROC-AUC", xlabel="gap / m0")
    ax[3].plot(x, d["train_mean_margin"], "o-", label="ours, train")
    ax[3].plot(x, d["test_mean_margin"], "s--", label="ours, test")
    pos = d["gap"] > 0  # the margin = gap line only where there is a gap (a log axis cannot show 0)
    ax[3].plot(x[pos], d.loc[pos, "gap"], color="grey", lw=1, label="margin = gap")
    ax[3].set(title="mean margin vs gap / m0", ylabel="mean margin (logits)", yscale="log", xlabel="gap / m0")
    for a in ax:
        a.set_xscale("log")
        a.legend(fontsize=8)
    for a, r in ((ax[0], r0), (ax[1], r1), (ax[2], r2)):
        if r is not a:  # one legend per panel, with the poster's entry from its own axis
            h, lab = a.get_legend_handles_labels()
            h2, lab2 = r.get_legend_handles_labels()
            a.legend(h + h2, lab + lab2, fontsize=8)
    for a in (ax[2], ax[3]):
        a.axvline(1.0, color="tab:red", lw=1, alpha=0.5)
    fig.suptitle("red line: gap = m0, the train mean margin of our gap-0 model", fontsize=10)
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
    inside = poster_bands is None or all(_overlaps(b, d[metric], 0.02) for b in poster_bands.values())
    w = max(6, 1.3 * d[by].nunique() + 3)
    if inside:
        fig, ax = plt.subplots(figsize=(w, 4.2))
    else:
        fig, (ax, pax) = plt.subplots(1, 2, figsize=(w + 1.6, 4.2), gridspec_kw=dict(width_ratios=[w, 1.6]))
    sns.stripplot(data=d, x=by, y=metric, hue="loss", dodge=True, ax=ax, size=4, alpha=0.6, legend=False)
    sns.pointplot(data=d, x=by, y=metric, hue="loss", dodge=0.4, ax=ax, errorbar="sd", linestyle="none",
                  markers="D", capsize=0.1)
    ax.set(title=title, ylabel=METRICS.get(metric, metric), xlabel="")
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


def figure(fig, number: int, text: str, df: pd.DataFrame) -> None:
    """Show ``fig`` in a notebook with its numbered caption below it (and close it, so the inline
    backend does not show it a second time at the end of the cell)."""
    import matplotlib.pyplot as plt
    from IPython.display import Markdown, display
    display(fig)
    plt.close(fig)
    display(Markdown(caption(number, text, df)))


def plot_boosting(df: pd.DataFrame, with_poster: bool = True):
    import matplotlib.pyplot as plt
    _sns()
    fig, ax = plt.subplots(1, 2, figsize=(13, 4.2))
    drawn = with_poster and bool(set(df["rule"]) & set(poster.BOOSTING))  # the poster has some of our rules
    for i, (col, lab) in enumerate((("test_acc", "test accuracy"), ("test_auc_proba", "ROC-AUC (OvR, softmax)"))):
        ref = [v[i] for r in poster.BOOSTING.values() for k, v in r.items() if k <= df["members"].max()]
        rax = ax[i] if not drawn or _overlaps(ref, df[col], 0.02) else \
            _own_axis(ax[i], f"{lab}, poster (triangles, this axis)")
        for j, (rule, g) in enumerate(df.groupby("rule", sort=False)):
            s = g.groupby("members")[col].agg(["mean", "std"]).reset_index()
            ax[i].plot(s["members"], s["mean"], "o-", label=rule, color=f"C{j}")
            if g["seed"].nunique() > 1:
                ax[i].fill_between(s["members"], s["mean"] - s["std"], s["mean"] + s["std"], color=f"C{j}", alpha=0.15)
            if with_poster and rule in poster.BOOSTING:  # the poster's sizes up to ours (15 is off our axis)
                pts = [(k, v) for k, v in sorted(poster.BOOSTING[rule].items()) if k <= df["members"].max()]
                rax.plot([k for k, _ in pts], [v[i] for _, v in pts], "^:", color=f"C{j}", alpha=0.6)
        ax[i].set_xlim(0.5, df["members"].max() + 0.5)  # our sizes; poster points beyond are clipped
        ax[i].set(xlabel="members", ylabel=lab + " (ours: lines)", title=f"{lab} of the ensemble vs size")
    handles, labels = ax[0].get_legend_handles_labels()  # one legend for both panels, below them: off the data
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def boosting_table(df: pd.DataFrame, metrics=("test_acc", "test_auc_proba")) -> pd.DataFrame:
    out = []
    for (rule, k), g in df.groupby(["rule", "members"], sort=False):
        row = {"rule": rule, "members": k, "seeds": g["seed"].nunique()}
        for m in metrics:
            row[METRICS.get(m, m)] = pm(g[m])
        ref = poster.BOOSTING.get(rule, {}).get(int(k))
        row["poster acc / AUC"] = f"{ref[0]:.3f} / {ref[1]:.4f}" if ref else ""
        out.append(row)
    return pd.DataFrame(out).sort_values(["rule", "members"]).set_index(["rule", "members"])


def boosting_vs_plain(df: pd.DataFrame, rules=("save_mean_reverse", "zero_mean_reverse", "constant"),
                      metric: str = "test_acc", control: str = "zero") -> pd.DataFrame:
    """Paired (seed, members) difference of each rule against the plain ensemble (rule ``control``,
    by default ``zero``: every member trained with gap 0)."""
    base = df[df["rule"] == control][["seed", "members", metric]]
    out = []
    for r in rules:
        m = df[df["rule"] == r][["seed", "members", metric]].merge(base, on=["seed", "members"], suffixes=("", "_plain"))
        for k, g in m.groupby("members"):
            diff = g[metric] - g[f"{metric}_plain"]
            name = METRICS.get(metric, metric)
            ctrl = "plain ensemble" if control == "zero" else f"{control} ensemble"
            same = k == 1 and bool((diff == 0).all())  # the rule's first member *is* the control's
            out.append({"rule": r, "members": k, "seeds": len(g), f"{name}: rule": pm(g[metric]),
                        f"{name}: {ctrl}": pm(g[f"{metric}_plain"]), "rule − control": pm(diff),
                        "verdict": "— (the same first network)" if same else
                        verdict(diff, HIGHER_IS_BETTER.get(metric, True))})
    return pd.DataFrame(out).set_index(["rule", "members"]) if out else pd.DataFrame()


def check_line(df: pd.DataFrame, cols=("test_acc", "test_auc_proba"), by=("key",), digits: int = 3) -> str:
    """A short deterministic digest for nbval (rounded, sorted)."""
    d = df.sort_values(list(by))
    return "\n".join(" ".join([str(r[b]) for b in by] + [f"{c}={r[c]:.{digits}f}" for c in cols]) for _, r in d.iterrows())


# ----------------------------------------------------------------------------- training length

def _length_pairs(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (head, length, seed): the gap-0 net and its gap-m0 partner side by side."""
    cols = ["head_label", "length_epochs", "seed", "train_acc", "test_acc", "train_mean_margin", "test_auc_proba"]
    g0 = df[df["gap_label"] == "0"][cols]
    g1 = df[df["gap_label"] == "m0"][cols]
    m = g0.merge(g1, on=["head_label", "length_epochs", "seed"], suffixes=("_0", "_m0"))
    m["gain"] = m["test_acc_m0"] - m["test_acc_0"]
    return m


def training_length_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per head and training length: how well the gap-0 net fits, and what gap m0 adds (paired on seed)."""
    out = []
    for (head, e), g in _length_pairs(df).groupby(["head_label", "length_epochs"]):
        out.append({"head": head, "epochs": int(e), "seeds": len(g),
                    "train acc (gap 0)": pm(g["train_acc_0"], 3), "m0": pm(g["train_mean_margin_0"], 2),
                    "test acc, gap 0": pm(g["test_acc_0"]), "test acc, gap m0": pm(g["test_acc_m0"]),
                    "gap m0 − gap 0": pm(g["gain"]), "verdict": verdict(g["gain"])})
    if not out:
        return pd.DataFrame()
    t = pd.DataFrame(out)
    if t["seeds"].nunique() == 1:  # the same n everywhere: said once (the caption above), not in a column
        t = t.drop(columns="seeds")
    return t.set_index(["head", "epochs"])


def plot_training_length(df: pd.DataFrame):
    """Left: the gain in test accuracy (mean ± std over seeds) against the train accuracy of the gap-0
    net, one line per head, each point labelled with its epochs.  Right: test accuracy against
    epochs for both gaps (bands: ± std over seeds)."""
    import matplotlib.pyplot as plt
    _sns()
    m = _length_pairs(df)
    fig, ax = plt.subplots(1, 2, figsize=(13, 4.6))
    for j, (head, g) in enumerate(m.groupby("head_label", sort=False)):
        s = g.groupby("length_epochs").agg(x=("train_acc_0", "mean"), xs=("train_acc_0", "std"),
                                           y=("gain", "mean"), ys=("gain", "std")).reset_index()
        ax[0].errorbar(s["x"], s["y"], xerr=s["xs"].fillna(0), yerr=s["ys"].fillna(0), fmt="o-", capsize=3,
                       color=f"C{j}", label=head)
        for r in s.itertuples():
            ax[0].annotate(f"{r.length_epochs} ep", (r.x, r.y), textcoords="offset points", xytext=(5, 5), fontsize=8,
                           color=f"C{j}")
        for gap, ls in (("0", "--"), ("m0", "-")):
            t = g.groupby("length_epochs")[f"test_acc_{gap}"].agg(["mean", "std"]).reset_index()
            ax[1].plot(t["length_epochs"], t["mean"], "o" + ls, color=f"C{j}", label=f"{head}, gap {gap}")
            ax[1].fill_between(t["length_epochs"], t["mean"] - t["std"].fillna(0), t["mean"] + t["std"].fillna(0),
                               color=f"C{j}", alpha=0.12)
    ax[0].axhline(0, color="k", lw=1)
    ax[0].set(xlabel="train accuracy of the gap-0 net (un-augmented training set)",
              ylabel="gain in test accuracy (gap m0 − gap 0)", title="does the gain survive as training fits the data?")
    ax[1].set(xscale="log", xlabel="epochs (log scale)", ylabel="test accuracy", title="test accuracy vs training length")
    lengths = sorted(m["length_epochs"].unique())
    ax[1].set_xticks(lengths, [str(int(e)) for e in lengths])
    ax[1].minorticks_off()
    for a in ax:
        a.legend(fontsize=8)
    fig.tight_layout()
    return fig


def gap_mult(df: pd.DataFrame) -> pd.Series:
    """The gap of each sweep row as a multiple of its own gap-0 net's m0."""
    m0 = df["m0"].fillna(df["train_mean_margin"]) if "m0" in df else df["train_mean_margin"]
    return (df["gap"] / m0).where(df["gap_label"] != "0", 0.0)


def sweep_across_seeds(df: pd.DataFrame, metrics=("train_acc", "test_acc", "test_auc_proba", "test_nll", "test_ece")) -> pd.DataFrame:
    """Sweep points trained on more than one seed: mean ± std over seeds per gap multiple."""
    d = df.assign(mult=gap_mult(df).round(6))
    out = []
    for k, g in d.groupby("mult"):
        if g["seed"].nunique() < 2:
            continue
        row = {"gap / m0": f"{k:g}", "seeds": g["seed"].nunique(), "gap g": pm(g["gap"], 2)}
        row.update({METRICS.get(m, m.replace("_", " ")): pm(g[m]) for m in metrics if m in g})
        out.append(row)
    return pd.DataFrame(out).set_index("gap / m0") if out else pd.DataFrame()
