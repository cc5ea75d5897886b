"""Every declared comparison of a profile, each claim's verdict, the headline across profiles and the
landing page's answer -- all from the rows, by the rule of :mod:`dboost.analysis.stats`."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from . import fmt, stats
from .claims import CAVEATS, CLAIMS, Claim
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


def _leans(r, by: dict) -> int:
    """+1 / −1: a comparison's *unadjusted* 95 % interval excludes 0 on the side its claim states / the
    other side; 0: neither, or a claim that locates an optimum (its interval is a position, not a sign)."""
    lo, hi, d = r.get("lo_raw", np.nan), r.get("hi_raw", np.nan), r.get("direction", 1)
    if by[r["claim"]].kind == "optimum" or not (lo == lo and hi == hi):
        return 0
    if lo > 0 or hi < 0:
        return 1 if (lo > 0) == (d > 0) else -1
    return 0


def _one_training_set(h: pd.DataFrame) -> str:
    """'; each regime's seeds share one training set (interp: 2,000 images ...) ...': the supported
    intervals vary initialisation and data order, not the draw of the training data."""
    from ..config import PROFILES
    sizes = [f"{p} {PROFILES[p].n_train or 50_000:,} images" for p in dict.fromkeys(h["profile"]) if p in PROFILES]
    if not sizes:
        return ""
    measured = not rows("data_size", "interp").empty
    return (f"; each regime's seeds share one training set ({', '.join(sizes)}), so these intervals leave out the "
            "variance of drawing the data, which the data-size page " + ("measures" if measured else
                                                                           "will measure once its rows land"))


def answer() -> str:
    """The landing page's answer in three parts, as Markdown: what holds (where, by how much, and what
    qualifies it), what is contradicted, what stays undecided -- from :func:`headline`.  The first two
    are lists, one item per claim."""
    h = headline()
    if h.empty:
        return "No results yet: run `python -m dboost.runner --profile smoke` (or interp / gpu / cpu)."
    if set(h["profile"]) == {"smoke"}:
        return ("Only the synthetic smoke run has rows. It checks the pipeline and says nothing about the poster's "
                "claims. Run the `interp`, `gpu` or `cpu` profile for an answer.")
    by = {c.id: c for c in CLAIMS}

    def effect(r) -> str:
        if by[r["claim"]].kind == "optimum" and r["mean"] != r["mean"]:
            return f"{r['profile']}: no common gap grid, n={r['n']}"
        if by[r["claim"]].kind == "optimum":
            at = f" [{r['lo']:.2g}, {r['hi']:.2g}]" if r["lo"] == r["lo"] else " (no interval)"
            return f"{r['profile']}: best gap {r['mean']:.2g} × m0{at}, n={r['n']}"
        return f"{r['profile']}: {fmt.estimate(r['mean'], r['lo'], r['hi'], r['metric'])}, {n_text(r)}"

    def elsewhere(cid: str, verdict: str) -> str:
        """The claim's verdicts in the other regimes, so a verdict in one is never read as the answer for all."""
        o = h[(h["claim"] == cid) & (h["verdict"] != verdict)]
        by_v = {v: list(g["profile"]) for v, g in o.groupby("verdict", sort=False)}
        return "".join(f"; {v} at {' and '.join(ps)}" for v, ps in by_v.items())

    # a claim whose comparison is another's on the same networks (T at the profile's own length is
    # claim 1's pairs) is said to be one, so the answer does not read as two independent findings
    def pairs_key(r):  # a comparison's identity: profile, mean, n, p (None: no test to compare)
        if by[r["claim"]].kind == "optimum" or int(r["n"]) < 2:
            return None
        return r["profile"], round(float(r["mean"]), 12), int(r["n"]), round(float(r["p"]), 12)

    first_of: dict = {}
    for _, r in h.iterrows():
        if pairs_key(r) is not None:
            first_of.setdefault(pairs_key(r), r["claim"])

    def is_repeat(r) -> bool:  # its pairs are an earlier claim's: said with that one, not listed again
        c = first_of.get(pairs_key(r))
        return bool(c) and c != r["claim"]

    def also(r) -> str:
        tags = [by[o["claim"]].tag for _, o in h.iterrows() if pairs_key(o) is not None and
                pairs_key(o) == pairs_key(r) and o["claim"] != r["claim"]]
        return "".join(f"; {t} is this same comparison" for t in tags)

    def caveat(r) -> str:
        """What qualifies a supported verdict in the same regime (CAVEATS): the poster's gain is not the whole story."""
        out = []
        for cid, other, verdicts_, text in CAVEATS:
            o = h[(h["claim"] == other) & (h["profile"] == r["profile"])]
            if cid == r["claim"] and r["verdict"] == "supported" and len(o) and o.iloc[0]["verdict"] in verdicts_:
                x = o.iloc[0]
                if "{against}" in text:  # how many of the other claim's cells lean against it (each cell's mean)
                    text = text.format(against=int(x["cells_against"]), cells=int(x["cells"]))
                raw = ""
                lo, hi = x.get("lo_raw", np.nan), x.get("hi_raw", np.nan)
                if lo == lo and hi == hi and (hi < 0 if x.get("direction", 1) > 0 else lo > 0) and \
                        x["verdict"] != "contradicted":
                    raw = f"; its unadjusted 95 % interval points the other way: {fmt.interval(lo, hi, x['metric'])}"
                out.append(f" *But* {text} ({by[other].tag} {x['verdict']} at {r['profile']}{raw}).")
        return "".join(out)

    def listing(verdict: str) -> list[str]:
        """One Markdown list item per claim: '- **3b (ours).** what it says — regime: effect, n; other
        regimes. *But* ...'."""
        parts = []
        for cid, g in h[h["verdict"] == verdict].groupby("claim", sort=False):
            g = g[[not is_repeat(r) for _, r in g.iterrows()]]
            if g.empty:
                continue
            number, what = by[cid].label.split(". ", 1)
            parts.append(f"- **{number}.** {what} — {'; '.join(effect(r) + also(r) for _, r in g.iterrows())}"
                         f"{elsewhere(cid, verdict)}." + "".join(caveat(r) for _, r in g.iterrows()))
        return parts

    sup, con = listing("supported"), listing("contradicted")
    counted = h[[not is_repeat(r) for _, r in h.iterrows()]]
    undecided = counted[~counted["verdict"].isin(["supported", "contradicted"])]
    single = undecided[undecided["n"] < 2]
    no_grid = undecided[(undecided["n"] >= 2) & (undecided["verdict"] == NO_COMMON_GRID)]  # nothing to locate
    tested = undecided[(undecided["n"] >= 2) & (undecided["verdict"] != NO_COMMON_GRID)]
    s1 = ("**Supported** after Holm's adjustment (claim: regime, effect in test accuracy, adjusted 95 % interval, "
          f"paired seeds{_one_training_set(h)}):\n" + "\n".join(sup)) if sup else \
        "**No claim is supported** after Holm's adjustment in any regime."
    s2 = ("**Contradicted** (the adjusted interval excludes 0 on the other side):\n" + "\n".join(con)) if con else \
        "**No claim is contradicted.**"
    ns = sorted(set(int(n) for n in tested["n"]))
    und = list(dict.fromkeys(by[c].tag for c in tested["claim"]))
    dis = [by[cid].tag for cid, g in h.groupby("claim", sort=False)
           if {"supported", "contradicted"} <= set(g["verdict"])]
    s3 = (f"**Undecided** with {'–'.join(map(str, (ns[0], ns[-1]))) if len(ns) > 1 else ns[0]} paired seeds in "
          f"{len(tested)} (claim, regime) pairs (claims {', '.join(und)})" if len(tested) else "Nothing tested is undecided")
    # the same reading for both sides: what leans the claimed way before Holm is said as plainly as what leans against
    lean = {side: [f"claim {by[r['claim']].tag} at {r['profile']}" for _, r in tested.iterrows() if _leans(r, by) == side]
            for side in (1, -1)}
    if lean[1] or lean[-1]:
        s3 += (f". Before Holm's correction {len(lean[1])} of them lean the claimed way (unadjusted 95 % interval on "
               f"the claim's side{': ' + ', '.join(lean[1]) if lean[1] else ''}), {len(lean[-1])} the other way"
               f"{' (' + ', '.join(lean[-1]) + ')' if lean[-1] else ''}, and {len(tested) - len(lean[1]) - len(lean[-1])} "
               "lean neither way")
    if len(single):
        s3 += (f"; {len(single)} more pair{'s' * (len(single) > 1)} ha{'ve' if len(single) > 1 else 's'} one seed, "
               f"so no test (claims {', '.join(dict.fromkeys(by[c].tag for c in single['claim']))} at "
               f"{', '.join(dict.fromkeys(single['profile']))})")
    if len(no_grid):
        s3 += "; " + ", ".join(f"claim {by[r['claim']].tag} at {r['profile']}" for _, r in no_grid.iterrows()) + \
            " ran no common gap grid beyond 0 and m0 on its seeds, so there is no optimum to locate"
    s3 += (f"; the regimes disagree on claim{'s' * (len(dis) > 1)} {', '.join(dis)}." if dis else ".")
    return "\n\n".join((s1, s2, s3))
