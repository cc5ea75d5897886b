"""Every declared comparison of a profile, each claim's verdict, the headline across profiles and the
landing page's answer -- all from the rows, by the rule of :mod:`dboost.analysis.stats`."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from . import fmt, stats
from .claims import CLAIMS, Claim
from .rows import profiles_with_rows, rows

SMOKE_NOTE = "pipeline check only (synthetic data)"
N_TOO_SMALL = "inconclusive (n too small)"
NO_COMMON_GRID = "inconclusive (no common grid)"  # claim 2: the seeds share fewer than 2 gaps > 0


def gap_multiple(label: str) -> float:
    """A sweep row's gap in multiples of its seed's m0, from its label: '0' -> 0, 'm0' -> 1, 'm0x4' -> 4."""
    if label == "0":
        return 0.0
    if label == "m0":
        return 1.0
    m = re.fullmatch(r"m0x([0-9.eE+-]+)", str(label))
    if not m:
        raise ValueError(f"not a gap label of the sweep: {label!r}")
    return float(m.group(1))


def _by_seed(df: pd.DataFrame, metric: str) -> pd.Series:
    """One value per seed (a duplicate seed in one arm is a declaration error, said so)."""
    if metric not in df:
        return pd.Series(dtype=float)
    d = df[["seed", metric]].dropna()
    if d["seed"].duplicated().any():
        raise ValueError(f"an arm holds several rows per seed (seeds {sorted(d.loc[d['seed'].duplicated(), 'seed'])})")
    return d.set_index("seed")[metric].astype(float)


def _gain(df: pd.DataFrame, metric: str) -> pd.Series:
    """gap m0 − gap 0 per seed."""
    g1, g0 = _by_seed(df[df["gap_label"] == "m0"], metric), _by_seed(df[df["gap_label"] == "0"], metric)
    return (g1 - g0).dropna()


def _cells(c: Claim, df: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(cell name, its rows): the whole table, or one per value of ``cells_by`` that ``cells`` keeps."""
    if c.cells_by is None:
        return [("", df)]
    if c.cells_by not in df:
        return []
    vals = sorted(c.treatment.select(df)[c.cells_by].dropna().unique())
    if c.cells == "above_one":
        vals = [v for v in vals if v > 1]
    elif c.cells == "largest":
        vals = vals[-1:]
    name = {"members": "size", "length_epochs": "epochs", "arch": ""}.get(c.cells_by, c.cells_by)
    return [(f"{name} {v}".strip() if not isinstance(v, (float, np.floating)) else f"{name} {v:g}".strip(),
             df[df[c.cells_by] == v]) for v in vals]


def paired_arms(c: Claim, d: pd.DataFrame, ctrl, metric: str) -> pd.DataFrame:
    """Columns t (treatment) and c (control) of one cell, on the seeds both arms have."""
    if c.kind == "gain_difference":
        t, k = _gain(c.treatment.select(d), metric), _gain(ctrl.select(d), metric)
    else:
        t, k = _by_seed(c.treatment.select(d), metric), _by_seed(ctrl.select(d), metric)
    return pd.concat({"t": t, "c": k}, axis=1).dropna()


def _control_name(c: Claim, ctrl) -> str:
    """A cell's name where a claim has several controls: what differs from the treatment."""
    diff = [f"{v[3:]} × m0" if str(v).startswith("m0x") else f"{v}" for k, v in ctrl.where
            if dict(c.treatment.where).get(k) != v]
    return "vs " + ", ".join(diff)


def comparisons(profile: str) -> pd.DataFrame:
    """One row per (claim, metric, cell) of ``profile``: n, mean difference (treatment − control),
    p, Holm-adjusted p within its family, the adjusted interval [lo, hi] and the verdict."""
    out = []
    cache: dict[str, pd.DataFrame] = {}
    for c in CLAIMS:
        if c.kind == "optimum":
            continue
        df = cache.setdefault(c.experiment, rows(c.experiment, profile))
        if df.empty:
            continue
        for role, metric in (("primary", c.metric), *(("secondary", m) for m in c.secondary)):
            direction = c.direction * (-1 if metric in fmt.LOWER_IS_BETTER else 1)
            for (cell, d), ctrl in ((x, ctrl) for x in _cells(c, df) for ctrl in c.control):
                both = paired_arms(c, d, ctrl, metric)
                if both.empty:
                    continue
                name = cell if len(c.control) == 1 else ", ".join(x for x in (cell, _control_name(c, ctrl)) if x)
                r = stats.paired_interval(both["t"], both["c"])  # lo, hi: the unadjusted interval
                r["lo_raw"], r["hi_raw"] = r.pop("lo"), r.pop("hi")
                out.append(dict(claim=c.id, role=role, family=c.family if role == "primary" else "secondary",
                                metric=metric, cell=name, direction=direction, seeds=tuple(int(s) for s in both.index),
                                treatment_mean=float(both["t"].mean()), control_mean=float(both["c"].mean()), **r))
    t = pd.DataFrame(out)
    if t.empty:
        return t
    t["p_adj"], t["gamma"], t["lo"], t["hi"], t["verdict"] = np.nan, np.nan, np.nan, np.nan, N_TOO_SMALL
    # lo_raw, hi_raw (the unadjusted 95 % interval) stand beside the adjusted lo, hi: a reader sees
    # what the correction changed
    # A claim declared as possibly the same comparison as another (T at the profile's own length is
    # claim 1's networks): where its pairs are that claim's (same metric, seeds and values), it is one
    # hypothesis tested once -- it takes that one's adjustment and does not count again in the family
    # (counting it twice would only make Holm stricter).
    key = lambda r: (r["metric"], r["seeds"], round(r["mean"], 12), round(r["se"], 12),  # noqa: E731
                     round(r["treatment_mean"], 12))
    t["same_as"] = ""
    first: dict = {}
    by_id = {c.id: c for c in CLAIMS}  # read now: an experiment may declare claims after import (the toy test)
    for i, r in t[t["n"] >= 2].iterrows():
        other = by_id[r["claim"]].same_pairs_as
        match = t[(t["claim"] == other) & (t["role"] == r["role"]) & (t["n"] >= 2)] if other else t.iloc[:0]
        hit = next((j for j, o in match.iterrows() if key(o) == key(r)), None)
        if hit is not None:
            t.loc[i, "same_as"], first[i] = other, hit
    distinct = t[(t["n"] >= 2) & (t["same_as"] == "")]
    for fam, g in distinct.groupby("family"):
        adj = stats.holm(g["p"].to_numpy())
        for (i, r), pa in zip(g.iterrows(), adj):
            gamma = stats.adjusted_gamma(r["p"], pa)
            lo, hi = stats.t_interval(r["mean"], r["se"], int(r["df"]), gamma)
            t.loc[i, ["p_adj", "gamma", "lo", "hi"]] = pa, gamma, lo, hi
            t.loc[i, "verdict"] = stats.decide(lo, hi, int(r["direction"]))
    for i in t.index[t["same_as"] != ""]:
        t.loc[i, ["p_adj", "gamma", "lo", "hi", "verdict"]] = t.loc[first[i], ["p_adj", "gamma", "lo", "hi", "verdict"]]
    t["family_size"] = t["family"].map(distinct.groupby("family").size()).fillna(0).astype(int)
    if profile == "smoke":
        t["verdict"] = SMOKE_NOTE
    return t


def optimum(profile: str, c: Claim | None = None) -> dict | None:
    """Claim 2 as the poster draws it: per seed, the most accurate gap among the multiples of m0 that
    every seed ran; their geometric mean and the 95 % t interval of log2(best / m0) over seeds (an
    estimate, not a test: not in a Holm family) against the poster's range.  None without rows."""
    c = c or next(x for x in CLAIMS if x.kind == "optimum")
    df = rows(c.experiment, profile)
    df = c.treatment.select(df) if not df.empty else df
    if df.empty:
        return None
    d = df.assign(mult=df["gap_label"].map(gap_multiple))
    acc = d.pivot_table(index="seed", columns="mult", values=c.metric, aggfunc="first")
    # a seed whose grid points are still being trained (fewer points than the median seed: e.g. only
    # gap 0 so far) would shrink the common grid to gap 0 alone; it waits until its points exist
    ran = acc.notna().sum(axis=1)
    incomplete = [int(s) for s in ran.index[ran < ran.median()]]
    acc = acc[ran >= ran.median()]
    common = acc.dropna(axis=1)  # the multiples every remaining seed ran
    if (common.columns > 0).sum() < 2:
        # the seeds share only gap 0 and m0: locate the optimum on the seeds that ran more of the
        # grid where at least two did (the others are listed as incomplete), else on none
        wide = acc.notna().sum(axis=1) > 2
        if wide.sum() >= 2:
            incomplete += [int(s) for s in acc.index[~wide]]
            acc = acc[wide]
            common = acc.dropna(axis=1)
    best = common.idxmax(axis=1)
    n, lo_t, hi_t = len(best), *c.target
    edge = bool((best == common.columns.max()).any())
    # how far each seed's best is ahead of its runner-up, in test images: a best by 1 image is a near-tie
    n_test = float(df["n_test"].dropna().iloc[0]) if "n_test" in df and df["n_test"].notna().any() else float("nan")
    top2 = np.sort(common.to_numpy(float), axis=1)[:, -2:] if common.shape[1] >= 2 else np.full((n, 2), np.nan)
    lead = [int(round(x)) if x == x else None for x in (top2[:, 1] - top2[:, 0]) * n_test]
    res = dict(claim=c.id, n=n, grid=[float(x) for x in common.columns], best=[float(b) for b in best],
               seeds=tuple(int(s) for s in best.index), target=c.target, edge=edge, incomplete=incomplete,
               lead_images=lead)
    if sum(1 for m in common.columns if m > 0) < 2:
        # the seeds share only gap 0 and m0 (one seed ran the whole grid): "best = m0" would be forced
        # by the grid, not found -- there is no optimum to locate
        res.update(centre=float("nan"), lo=float("nan"), hi=float("nan"), verdict=NO_COMMON_GRID)
    elif n < 2 or (best <= 0).any():
        centre = float(best.iloc[0]) if n else float("nan")
        v = N_TOO_SMALL if n < 2 else ("contradicted" if (best <= 0).all() else "inconclusive")
        res.update(centre=centre, lo=float("nan"), hi=float("nan"), verdict=v)
    else:
        r = stats.paired_interval(np.log2(best.to_numpy(float)))
        lo, hi = 2.0 ** r["lo"], 2.0 ** r["hi"]
        v = "supported" if lo_t <= lo and hi <= hi_t else "contradicted" if hi < lo_t or lo > hi_t else "inconclusive"
        if edge and v != "contradicted" and hi >= common.columns.max():
            v = "inconclusive"  # a seed's best is the grid's top: the optimum may lie beyond it
        res.update(centre=2.0 ** r["mean"], lo=lo, hi=hi, verdict=v)
    if profile == "smoke":
        res["verdict"] = SMOKE_NOTE
    return res


def _combine(cells: pd.DataFrame) -> dict:
    """A claim's verdict from its cells (a claim over every size / architecture needs every cell):
    contradicted if any cell is, supported if all are, else inconclusive; the cell shown is the one
    that decides it, weakest in the claimed direction: a contradicted cell where there is one, else
    (inconclusive) a cell that is not supported."""
    v = set(cells["verdict"])
    if v == {SMOKE_NOTE}:
        verdict = SMOKE_NOTE
    elif "contradicted" in v:
        verdict = "contradicted"
    elif v == {"supported"}:
        verdict = "supported"
    elif v == {N_TOO_SMALL}:
        verdict = N_TOO_SMALL
    else:
        verdict = "inconclusive"
    # the cell shown is the one that decides the verdict: a contradicted cell, else (inconclusive) the
    # weakest of the cells that are not supported -- never a supported cell under "inconclusive"
    decided = cells[cells["n"] >= 2]
    if verdict == "contradicted":
        pools = [cells[cells["verdict"] == "contradicted"]]
    elif verdict == "inconclusive":
        pools = [decided[decided["verdict"] != "supported"], cells[cells["verdict"] != "supported"]]
    else:
        pools = [decided]
    pool = next((p for p in (*pools, cells) if not p.empty))
    shown = pool.loc[(pool["mean"] * pool["direction"]).idxmin()]
    return dict(verdict=verdict, cell=shown["cell"], n=int(shown["n"]), mean=float(shown["mean"]),
                lo=float(shown["lo"]), hi=float(shown["hi"]), p=float(shown["p"]), p_adj=float(shown["p_adj"]),
                lo_raw=float(shown.get("lo_raw", np.nan)), hi_raw=float(shown.get("hi_raw", np.nan)),
                direction=int(shown["direction"]),
                treatment_mean=float(shown["treatment_mean"]), control_mean=float(shown["control_mean"]),
                cells=len(cells), cells_supported=int((cells["verdict"] == "supported").sum()),
                cells_against=int((cells["mean"] * cells["direction"] < 0).sum()),  # each cell's mean leans against
                n_min=int(cells["n"].min()), n_max=int(cells["n"].max()),
                family_size=int(shown["family_size"]), same_as=str(shown.get("same_as", "") or ""))


def claim_verdicts(profile: str) -> pd.DataFrame:
    """One row per (claim, metric) that ``profile`` ran: the verdict, and the cell it shows."""
    comp = comparisons(profile)
    out = []
    for c in CLAIMS:
        if c.kind == "optimum":
            o = optimum(profile, c)
            if o is not None:
                out.append(dict(claim=c.id, role="primary", metric=c.metric, verdict=o["verdict"], n=o["n"],
                                mean=o["centre"], lo=o["lo"], hi=o["hi"], cell="", optimum=o))
            continue
        if comp.empty:
            continue
        for (role, metric), cells in comp[comp["claim"] == c.id].groupby(["role", "metric"], sort=False):
            out.append(dict(claim=c.id, role=role, metric=metric, **_combine(cells)))
    return pd.DataFrame(out)


def headline_profiles() -> list[str]:
    """The profiles the headline shows: every one with rows except smoke (smoke only when alone)."""
    ps = profiles_with_rows()
    return [p for p in ps if p != "smoke"] or ps


def headline() -> pd.DataFrame:
    """Long format: one row per (claim, profile) for the primary metric of every claim any headline
    profile ran -- every regime, no selection."""
    out = []
    for p in headline_profiles():
        v = claim_verdicts(p)
        if v.empty:
            continue
        for _, r in v[v["role"] == "primary"].iterrows():
            out.append(dict(profile=p, **r.to_dict()))
    h = pd.DataFrame(out)
    if h.empty:
        return h
    order = {c.id: i for i, c in enumerate(CLAIMS)}
    return h.sort_values(["claim", "profile"], key=lambda s: s.map(order) if s.name == "claim" else
                         s.map({p: i for i, p in enumerate(headline_profiles())})).reset_index(drop=True)


def agreement(verdicts: dict[str, str]) -> str:
    """What the regimes' verdicts of one claim say together."""
    decided = {p: v for p, v in verdicts.items() if v in ("supported", "contradicted")}
    if "supported" in decided.values() and "contradicted" in decided.values():
        s = [p for p, v in decided.items() if v == "supported"]
        c = [p for p, v in decided.items() if v == "contradicted"]
        return f"regimes disagree: supported at {', '.join(s)}, contradicted at {', '.join(c)}"
    kinds = {v.split(" (")[0] for v in verdicts.values()}  # "inconclusive (n too small)" is still inconclusive
    if len(kinds) > 1:
        return "regimes differ: " + "; ".join(f"{p} {v}" for p, v in verdicts.items())
    return f"{next(iter(kinds))} in every regime that ran it" if len(verdicts) > 1 else "one regime only"


def n_text(r) -> str:
    """'n=5', or for a claim over several cells whose seeds differ 'n=5 (n = 3–5 across its 4 cells)': the
    weakest cell's n alone would hide cells still waiting for seeds."""
    n = f"n={int(r['n'])}"
    lo, hi, k = r.get("n_min"), r.get("n_max"), r.get("cells", 1)
    if k and k > 1 and lo == lo and hi == hi and lo != hi:
        n += f" (n = {int(lo)}–{int(hi)} across its {int(k)} cells)"
    return n
