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
from .config import PROFILE_RANK
from .analysis.rows import row_list, rows, runs_root, unit_row

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


def term(text: str, target: str | None = None) -> str:
    """``text`` linked to the glossary entry ``target`` (default: ``text``) in generated Markdown:
    the MyST {term} role (the book parses displayed Markdown as MyST, ``nb_render_markdown_format``).
    Only for Markdown; a table cell (HTML) shows it verbatim."""
    return f"{{term}}`{text} <{target}>`" if target else f"{{term}}`{text}`"


VERDICT_RULE = "{ref}`the verdict rule <verdict-rule>`"  # the glossary's section that states it
PM_NOTE = (f"± is the sample standard deviation over seeds (n − 1 in the denominator; {term('mean ± std')}). "
           f"Verdicts follow {VERDICT_RULE}: a paired t interval of the difference over {term('paired seeds')}, "
           "Holm-adjusted across each profile's family of comparisons in the summary (unadjusted 95 % in a page's own "
           "tables); *supported* / *contradicted* when it excludes 0 on the claimed / the other side, else *inconclusive*.")


# ----------------------------------------------------------------------------- loading

def best_profile(experiment: str) -> str | None:
    """The best profile with results for ``experiment`` (the order of ``experiments.PROFILE_RANK``)."""
    for p in PROFILE_RANK:
        if (runs_root() / p / experiment / "results.csv").exists():
            return p
    return None


def provenance(df: pd.DataFrame, rerun: bool = True) -> str:
    """One Markdown paragraph: what produced these numbers (and, with ``rerun``, a second one: the
    command that reruns the page and its measured cost, :func:`rerun_line`)."""
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
    with_rerun = rerun and "experiment" in df  # its line gives the training time, each network counted once
    return (f"**Run:** {term('profile')} `{first['profile']}` · data `{first['dataset']}` (train {n_tr}, "
            f"test {int(first['n_test']):,}) · recipe `{first['recipe']}`, {epochs} epochs, "
            f"batch {int(first['batch_size'])} · precision {prec} · executor {ex} · seeds {seeds} · {len(df)} rows · hardware {hw} · "
            + ("" if with_rerun else f"training wall time {wall / 60:.1f} min (sum over rows) · ")
            + f"torch {first['env_torch']} · commit {first['env_git_commit']}."
            + ("\n\n" + rerun_line(df) if with_rerun else ""))


# ----------------------------------------------------------------------------- rerun cost

def duration(seconds: float) -> str:
    """A training time as a reader reads it: '40 s', '12 min', '3.4 h'."""
    s = float(seconds)
    return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.0f} min" if s >= 60 else f"{s:.0f} s"


def rerun_cost(profile: str, experiment: str) -> dict:
    """What the stored rows of ``experiment`` at ``profile`` cost to train: the number of trained
    networks (a network several rows share -- a boosting member in every larger ensemble, the
    longest length of the training-length study -- counted once), the sum of their training wall
    times in seconds, and the hardware they record.  A boosting row's own env is where its ensemble
    was scored; its member trained where the member's unit row says."""
    nets = {}  # network -> (seconds, hardware)
    for r in row_list(experiment, profile):
        wall = r.get("member_wall_time_s", r.get("train_wall_time_s"))
        if wall is None:
            continue
        env = (unit_row(profile, r["member_unit"]) or {}).get("env", {}) if r.get("member_unit") else r.get("env", {})
        t = env.get("cpu_threads", "?")
        hw = (f"CPU ({t} thread{'s' * (t != 1)})" if env.get("device") == "cpu"
              else f"{env.get('hardware', '?')} ({env.get('device', '?')})")
        nets[r.get("member_unit") or r.get("unit") or r["key"]] = (float(wall), hw)
    return dict(profile=profile, experiment=experiment, command=f"dboost run --profile {profile} --only {experiment}",
                networks=len(nets), seconds=sum(w for w, _ in nets.values()),
                hardware=" and ".join(sorted({h for _, h in nets.values()})))


def rerun_costs() -> pd.DataFrame:
    """:func:`rerun_cost` of every (profile, experiment) with rows in ``runs/``."""
    from .registry import EXPERIMENTS
    root = runs_root()
    out = [rerun_cost(p.name, e) for p in sorted(root.iterdir()) if p.is_dir() for e in EXPERIMENTS
           if (p / e / "rows").is_dir()]
    return pd.DataFrame(out, columns=["profile", "experiment", "command", "networks", "seconds", "hardware"])


def rerun_line(df: pd.DataFrame, lead: str = "Rerun this page") -> str:
    """One Markdown line for a result page: the command that reruns it and what its rows cost."""
    if df.empty:
        return ""
    c = rerun_cost(str(df["profile"].iloc[0]), str(df["experiment"].iloc[0]))
    return (f"**{lead}:** `{c['command']}` (measured: {c['networks']} {term('units', 'unit')}, "
            f"{duration(c['seconds'])} of training on {c['hardware'] or 'unrecorded hardware'}; units already in "
            "`runs/` are not trained again).")


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
    metrics = [k for k in metrics if k in df and df[k].notna().any()]
    d0 = df[df["gap_label"] == "0"]
    d1 = df[df["gap_label"] == "m0"]
    for name, g0 in d0.groupby(by, sort=False):
        g1 = d1[d1[by] == name]
        m = g0.merge(g1, on="seed", suffixes=("_0", "_1"))
        if m.empty:
            continue
        row = {by: name, "seeds": len(m), "m0 (train mean margin, gap 0)": pm(m["train_mean_margin_0"], 2),
               "train acc (gap 0)": fmt.level_pm(m["train_acc_0"])}
        for k in metrics:
            diff = m[f"{k}_1"] - m[f"{k}_0"]
            row[f"{METRICS.get(k, k)}: gap 0"] = fmt.level_pm(m[f"{k}_0"], k)
            row[f"{METRICS.get(k, k)}: gap m0"] = fmt.level_pm(m[f"{k}_1"], k)
            row[f"{METRICS.get(k, k)}: diff"] = fmt.diff_pm(diff, k)
            row[f"{METRICS.get(k, k)}: verdict"] = verdict(diff, HIGHER_IS_BETTER.get(k, True))
        out.append(row)
    return pd.DataFrame(out).set_index(by).T if out else pd.DataFrame()  # one column per group: no hidden columns


def paired_wide(df: pd.DataFrame, by: str = "variant", metrics=("test_acc", "test_auc_proba", "test_auc_logits")) -> pd.DataFrame:
    """gap 0 vs gap m0 paired on seed, one row per (group, metric): the absolute values of both
    arms (mean ± std), their difference and the verdict -- a table that reads across, not down."""
    out = []
    metrics = [k for k in metrics if k in df and df[k].notna().any()]  # e.g. calibrated NLL: only rows with stored logits
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
                        "gap 0": fmt.level_pm(m[f"{k}_0"], k), "gap m0": fmt.level_pm(m[f"{k}_1"], k),
                        "gap m0 − gap 0": fmt.diff_pm(diff, k), "seeds": len(m),
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
    what = f"{term('m0')} (train mean margin of the gap-0 net, the gap of its gap-m0 pair)"
    return f"{what}: " + "; ".join(parts) + "." if len(parts) > 1 else f"{what}: {parts[0].split(': ', 1)[1]}."


def grid_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """The gap grid of one seed: one row per trained net, in human column names."""
    d = sweep.copy()
    d["gap_mult"] = gap_mult(d)
    cols = ["gap_mult", "gap", "train_acc", "train_mean_margin", "test_acc", "test_auc_proba", "test_nll", "test_ece",
            "min_width"]
    d = d.sort_values("gap")[[c for c in cols if c in d]]
    num = lambda f: (lambda v: f.format(v))  # noqa: E731
    show = dict(gap_mult=num("{:.3g}"), gap=num("{:.3g}"), train_mean_margin=num("{:.3g}"), min_width=num("{:.3g}"),
                **{m: (lambda v, m=m: fmt.level_pm([v], m)) for m in ("train_acc", "test_acc", "test_auc_proba", "test_nll",
                                                                 "test_ece")})
    for c in d.columns:
        d[c] = d[c].map(lambda v, f=show[c]: "" if v != v else f(v))
    d.columns = [COLUMN_NAMES.get(c, c) for c in d.columns]
    return d.reset_index(drop=True)


def caption(number: int, text: str, df: pd.DataFrame) -> str:
    """A numbered figure caption that names the profile and seeds the figure was drawn from."""
    if df.empty:
        return f"**Figure {number}.** {text}"
    profs = ", ".join(f"`{p}`" for p in dict.fromkeys(df["profile"]))
    seeds = sorted(set(int(s) for s in df["seed"]))
    return f"**Figure {number}.** {text} {term('Profile', 'profile')} {profs}; seeds {seeds}."


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
    share our axis; if not (another regime) they get a panel of their own, so neither is squashed."""
    return min(ref) <= float(np.max(ours)) + pad and max(ref) >= float(np.min(ours)) - pad


def _mean_ci(values) -> tuple[float, float, float]:
    """Mean and unadjusted 95 % t interval over seeds (no interval for one seed)."""
    v = np.asarray(values, float)
    r = stats.paired_test(v, np.zeros_like(v))
    if r["n"] < 2:
        return r["mean"], np.nan, np.nan
    lo, hi = stats.t_interval(r["mean"], r["se"], r["df"], stats.ALPHA)
    return r["mean"], lo, hi


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
        ax[key].sharey(ax[key + "0"])
        ax[key].tick_params(labelleft=False)
        ax[key].plot(pos["mult"], pos[col], ".", color="C1", alpha=0.35)
        s = _by_multiple(pos, col)
        _band(ax[key], s["mult"], s, "C1", "ours: mean, 95 % interval over seeds")
        ax[key].axvline(1.0, color="tab:red", lw=1, alpha=0.5)
        ax[key].set(xscale="log", xlabel="gap / m0", title=f"{lab} vs gap (gap 0: left, apart)")
    ax["mg"].plot(s["mult"], s["mult"] * float(base["train_mean_margin"].mean()), color="grey", lw=1,
                  label="margin = gap (at the mean m0)")
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
    """Each rule's gain over the plain ensemble (rule ``zero``) of the same size, in points, for test
    accuracy and ROC-AUC: ours (mean and 95 % interval over the paired seeds) and the poster's table
    (its rule − its plain ensemble) on the same axis -- gains, so the two regimes compare."""
    import matplotlib.pyplot as plt
    _sns()
    fig, ax = plt.subplots(1, 2, figsize=(13, 4.4))
    plain = df[df["rule"] == "zero"].set_index(["seed", "members"])
    kmax = df["members"].max()
    rules = [r for r in dict.fromkeys(df["rule"]) if r != "zero"]
    for i, (col, lab) in enumerate((("test_acc", "test accuracy"), ("test_auc_proba", "ROC-AUC (OvR, softmax)"))):
        for j, rule in enumerate(rules):
            g = df[df["rule"] == rule].set_index(["seed", "members"])
            gain = (100 * (g[col] - plain[col].reindex(g.index))).dropna().reset_index()
            if gain.empty:
                continue
            s = pd.DataFrame([(k, *_mean_ci(x[col])) for k, x in gain.groupby("members")],
                             columns=["members", "mean", "lo", "hi"])
            _band(ax[i], s["members"] + 0.06 * (j - len(rules) / 2), s, f"C{j}", fmt.RULE_NAMES.get(rule, rule))
            if with_poster and rule in poster.BOOSTING:
                pts = [k for k in sorted(poster.BOOSTING[rule]) if k <= kmax]
                ax[i].plot(pts, [100 * (poster.BOOSTING[rule][k][i] - poster.BOOSTING["zero"][k][i]) for k in pts],
                           "^:", color=f"C{j}", alpha=0.6)
        ax[i].axhline(0, color="k", lw=1)
        ax[i].set_xlim(0.5, kmax + 0.5)
        ax[i].set(xlabel="members", ylabel=f"{lab}: gain over the plain ensemble (points)",
                  title=f"{lab}: rule − plain ensemble of the same size")
    handles, labels = ax[0].get_legend_handles_labels()
    handles.append(plt.Line2D([], [], ls=":", marker="^", color="grey", label="poster's table (rule − its plain ensemble)"))
    labels.append("poster's table (rule − its plain ensemble)")
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def boosting_table(df: pd.DataFrame, metrics=("test_acc", "test_auc_proba")) -> pd.DataFrame:
    out = []
    for (rule, k), g in df.groupby(["rule", "members"], sort=False):
        row = {"rule": rule, "members": k, "seeds": g["seed"].nunique()}
        for m in metrics:
            row[METRICS.get(m, m)] = fmt.level_pm(g[m], m)
        ref = poster.BOOSTING.get(rule, {}).get(int(k))
        row["poster acc / AUC"] = f"{fmt.pct(ref[0])} / {fmt.pct(ref[1])}" if ref else ""
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
            out.append({"rule": r, "members": k, "seeds": len(g), f"{name}: rule": fmt.level_pm(g[metric], metric),
                        f"{name}: {ctrl}": fmt.level_pm(g[f"{metric}_plain"], metric),
                        "rule − control": fmt.diff_pm(diff, metric),
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
                    "train acc (gap 0)": fmt.level_pm(g["train_acc_0"]), "m0": pm(g["train_mean_margin_0"], 2),
                    "test acc, gap 0": fmt.level_pm(g["test_acc_0"]), "test acc, gap m0": fmt.level_pm(g["test_acc_m0"]),
                    "gap m0 − gap 0": fmt.diff_pm(g["gain"]), "verdict": verdict(g["gain"])})
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
        row.update({METRICS.get(m, m.replace("_", " ")): fmt.level_pm(g[m], m) for m in metrics if m in g})
        out.append(row)
    return pd.DataFrame(out).set_index("gap / m0") if out else pd.DataFrame()
