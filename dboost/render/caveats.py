"""The caveats of a profile's verdicts, in sentences computed from its rows: where the best gap sits
(relative or absolute), the frozen head's handicap and the best single model, Lemma 1 in the rows,
hardware inside a pair, and what boosting adds over one constant-gap network.  The summary shows
them as a list; the result pages reuse some (:mod:`.conclusions`)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import analysis, poster
from ..analysis import fmt, verdicts
from .markdown import term
from .provenance import load_rows, retrained_note
from .tables import pm, rule_name


def _seed_best(g: pd.DataFrame) -> tuple[pd.Series, float]:
    """One seed's gap grid: its most accurate row and its m0 (NaN if no row records one)."""
    m0 = float(g["m0"].dropna().iloc[0]) if g["m0"].notna().any() else float("nan")
    return g.loc[g["test_acc"].idxmax()], m0


def first_seed_grid(sw):
    """The gap grid of the first seed: its rows, the best row by test accuracy, m0, and whether
    that best gap is the largest of the grid (then the optimum may lie beyond it)."""
    s0 = sw[sw["seed"] == sw["seed"].min()]
    best, m0 = _seed_best(s0)
    return s0, best, m0, bool(best["gap"] >= s0["gap"].max())


def _optimum_sentence(sw: pd.DataFrame, profile: str) -> str:
    """Where the most accurate gap sits, relative to m0 and in absolute terms, against the poster's
    range -- from claim 2's estimate over every seed (:func:`dboost.analysis.verdicts.optimum`), so
    it can never say more than claim 2's verdict does."""
    o = verdicts.optimum(profile)
    m0 = sw.loc[sw["gap_label"] == "0", "train_mean_margin"].mean()
    if o is None or o["n"] < 1 or not m0 == m0:
        return ""
    plo, phi = poster.BEST_GAP_RANGE
    tlo, thi = o["target"]
    flo, fhi = poster.BEST_GAP_FIGURE
    theirs = (f"The poster has m0 ≈ {poster.M0:g} and its best g ≈ {plo:g}–{phi:g}, i.e. {tlo:.2g}–{thi:.2g} × m0 (its "
              f"figure's peak, g ≈ {flo:g}–{fhi:g}, joined with the thesis' best constant gap, {poster.BEST_GAP_THESIS:g}; "
              f"on the figure alone g = m0 lies past the peak).")
    if len(o["grid"]) <= 2:  # the seeds share only gap 0 and m0: the seeds that ran more, said to be those
        sweep = sw[sw["variant"] == "sweep"] if "variant" in sw else sw
        full = [int(x) for x, g in sweep.groupby("seed") if g["gap_label"].nunique() > 2]
        if not full:
            return ""
        bests = []
        for x in full:
            b, m0x = _seed_best(sweep[sweep["seed"] == x])
            bests.append(f"seed {x}: g = {b['gap']:.1f} = {b['gap'] / m0x:.2g} × m0")
        who = f"seed {full[0]}" if len(full) == 1 else "seeds " + ", ".join(map(str, full))
        return (f"- **Relative or absolute gap?** Only {who} of `{profile}` ran more of the gap grid than gap 0 and m0, "
                f"and the seeds share no grid beyond those two; the most accurate gap of each such seed: "
                + "; ".join(bests) + f" (no interval). {theirs} Claim 2 locates the optimum on the gaps every seed ran, "
                "so whether the rule of thumb g ≈ m0 holds here this profile cannot tell.")
    c, lo, hi, n = o["centre"], o["lo"], o["hi"], o["n"]
    if lo != lo:  # no interval: one seed, or some seed's best is gap 0 -- the per-seed bests, nothing more
        per = ", ".join(f"{b:g}" for b in o["best"])
        return (f"- **Relative or absolute gap?** The most accurate gap of each seed of our `{profile}` grid: {per} × m0 "
                f"({n} seed{'s' * (n != 1)}, no interval; claim 2: {o['verdict']}). {theirs} Whether the rule of "
                "thumb g ≈ m0 holds here, these seeds cannot tell.")
    span = f"{c:.2g} × m0 [{lo:.2g}, {hi:.2g}] (geometric mean over {n} seeds, 95 % interval)"
    a_lo, a_hi = lo * m0, hi * m0
    # on a log scale, as the interval itself (a geometric mean's)
    inside = (max(0.0, np.log(min(a_hi, phi)) - np.log(max(a_lo, plo))) / (np.log(a_hi) - np.log(a_lo))
              if a_hi > a_lo > 0 else 0.0)
    where = ("inside" if plo <= a_lo and a_hi <= phi else "outside" if a_hi < plo or a_lo > phi else
             f"partly inside ({inside:.0%} of its width on a log scale within)")
    rel = {"supported": "inside it", "contradicted": "outside it"}.get(o["verdict"], "partly inside it, partly outside")
    tail = {"supported": "Here the rule of thumb g ≈ m0 holds.",
            "contradicted": "So at this scale the best gap does not follow the poster's rule of thumb g ≈ m0; whether it "
                            "follows something else (the logit scale the frozen ×10 head allows) our grid cannot settle."
            }.get(o["verdict"], "Whether the rule of thumb g ≈ m0 holds here, these seeds cannot tell.")
    return (f"- **Relative or absolute gap?** The most accurate gap of our `{profile}` grid sits at {span}"
            + ("; some seed's best is the largest gap of the grid, so the optimum may lie beyond it" if o["edge"] else "")
            + f". With this profile's mean m0 = {m0:.2f} that is g ≈ {a_lo:.1f}–{a_hi:.1f}. {theirs} Relative to m0 our "
            "interval is "
            f"{rel} (claim 2: {o['verdict']}); in absolute terms it lies {where} the poster's best range "
            f"{plo:g}–{phi:g}. {tail}")


def absolute_or_relative() -> str:
    """Across the headline regimes: each seed's most accurate gap in logits (seeds that ran more of
    the grid than gap 0 and m0) beside its m0 -- does the best gap follow m0 from regime to regime?
    Descriptive, over a handful of regimes and a grid of factor-2 steps; not a test."""
    rows = []
    for p in verdicts.headline_profiles():
        sw, _ = load_rows("gap_sweep", p)
        if sw.empty or p == "smoke":
            continue
        sweep = sw[sw["variant"] == "sweep"] if "variant" in sw else sw
        m0_all = float(sweep.loc[sweep["gap_label"] == "0", "train_mean_margin"].mean())  # every seed's, as the regime line
        for seed, g in sweep.groupby("seed"):
            if g["gap_label"].nunique() <= 2:
                continue
            b, _ = _seed_best(g)
            rows.append(dict(profile=p, seed=int(seed), best=float(b["gap"]), m0=m0_all))
    d = pd.DataFrame(rows)
    if d.empty or d["profile"].nunique() < 2:
        return ""
    per = d.groupby("profile", sort=False).agg(m0=("m0", "first"), lo=("best", "min"), hi=("best", "max"), n=("seed", "size"))
    parts = [f"`{p}` m0 {r.m0:.1f}, best g {r.lo:.0f}" + (f"–{r.hi:.0f}" if r.hi > r.lo else "")
             + f" ({int(r.n)} seed{'s' * int(r.n != 1)})" for p, r in per.iterrows()]
    m0_span = per["m0"].max() / per["m0"].min()
    best_mid = (per["lo"] * per["hi"]) ** 0.5  # each regime's geometric middle of its seeds' best gaps
    best_span = best_mid.max() / best_mid.min()
    return ("**Does the best gap follow m0 across regimes?** Each seed's most accurate gap, in logits, on the grid it "
            "ran (seeds with more than gap 0 and m0): " + "; ".join(parts) + f". Between regimes m0 spans a factor "
            f"{m0_span:.1f}, the best gap a factor {best_span:.1f} (between each regime's geometric middle). If the best "
            "gap followed m0 the two factors would be alike. A description of a few regimes on a grid of factor-2 "
            "steps, not a test; the regimes also differ in width, data and length, and the frozen ×10 head fixes the "
            "logit scale in all of them.")


def _heads_at_gap0(fr: pd.DataFrame):
    """((x10 mean, its seeds), (best other head, its mean, its seeds)) at gap 0, or None.  The other
    head is the best of those with the most seeds (up to the x10 head's): the best of several
    one-seed heads against a several-seed mean would be biased upward by the pick itself."""
    if fr.empty or "head_label" not in fr:
        return None
    g = fr[fr["gap_label"] == "0"].groupby("head_label")["test_acc"].agg(["mean", "count"])
    if "freeze_last x10" not in g.index or len(g) < 2:
        return None
    x10, others = g.loc["freeze_last x10"], g.drop("freeze_last x10")
    pool = others[others["count"] >= min(int(x10["count"]), int(others["count"].max()))]
    best = pool["mean"].idxmax()
    return ((float(x10["mean"]), int(x10["count"])),
            (best, float(pool.loc[best, "mean"]), int(pool.loc[best, "count"]), int(pool.loc[best, "count"]) >= x10["count"]))


def handicap(fr: pd.DataFrame) -> str:
    """"With plain CE the x10 head reaches A (n seeds), while `H` ... reaches B (n seeds)", or ""."""
    hh = _heads_at_gap0(fr)
    if not hh:
        return ""
    (x10, n10), (name, acc, n, as_many) = hh
    text = (f"With plain CE (gap 0) the poster's {term('frozen ×10 head', 'freeze_last x10')} reaches test accuracy "
            f"{fmt.pct(x10)} ({n10} seeds), while {fmt.head_name(name)}, the best other head with "
            f"{'as many seeds' if as_many else 'the most seeds'}, reaches {fmt.pct(acc)} ({n} seed{'s' * (n != 1)})")
    # the comparison a user of the method makes: the frozen head *with* gap m0 against that head at gap 0
    t = fr[(fr["head_label"] == "freeze_last x10") & (fr["gap_label"] == "m0")].set_index("seed")["test_acc"]
    c = fr[(fr["head_label"] == name) & (fr["gap_label"] == "0")].set_index("seed")["test_acc"]
    both = pd.concat({"t": t, "c": c}, axis=1).dropna()
    if len(both) >= 2:
        r = analysis.paired_interval(both["t"], both["c"])
        lo, hi = r["lo"], r["hi"]
        reading = ("so gap m0 only brings the frozen head level with it: the gain over the frozen head at gap 0 is "
                   "the size of the handicap that head creates" if lo <= 0 <= hi else
                   "so even with gap m0 the frozen head stays below it: the gain over the frozen head at gap 0 repairs "
                   "only part of the handicap that head creates" if hi < 0 else
                   "so with gap m0 the frozen head beats it: the gain is more than the repair of the head's handicap")
        text += (f". The frozen ×10 head *with* gap m0 against {fmt.head_name(name)} at gap 0, paired on seed: "
                 f"{fmt.estimate(r['mean'], lo, hi)} (unadjusted 95 % interval, n={r['n']}), {reading}")
    else:
        text += (". A gain measured against the ×10 frozen head is partly the repair of a handicap that head creates "
                 "(too few paired seeds to say how much)")
    return text


def best_single(sw: pd.DataFrame, fr: pd.DataFrame) -> str:
    """The most accurate single network of the head study (heads and gaps on >= 2 seeds), against the
    frozen ×10 head at each seed's most accurate gap of the sweep -- picked on the test set, so the
    comparison favours the frozen head; and the heads that ran on one seed only, said as such."""
    if sw.empty or fr.empty or "head_label" not in fr:
        return ""
    acc = fr.groupby(["head_label", "gap_label"])["test_acc"].agg(["mean", "count"])
    several = acc[acc["count"] >= 2]
    if several.empty:
        return ""
    (head, gap), top = several["mean"].idxmax(), several.loc[several["mean"].idxmax()]
    best = sw.loc[sw.groupby("seed")["test_acc"].idxmax()].set_index("seed")
    c = fr[(fr["head_label"] == head) & (fr["gap_label"] == gap)].set_index("seed")["test_acc"]
    both = pd.concat({"t": best["test_acc"], "c": c}, axis=1).dropna()
    what = f"{fmt.head_name(head)} {'with gap m0' if gap == 'm0' else 'at gap ' + str(gap)}"
    text = (f"- **Best single model.** Of the heads and gaps trained on 2 or more seeds the most accurate is {what}: "
            f"{fmt.pct(top['mean'])} ({int(top['count'])} seeds).")
    if len(both) >= 2 and head != "freeze_last x10":
        r = analysis.paired_interval(both["t"], both["c"])
        mults = [fmt.gap_name(x) for x in sorted(set(best.loc[both.index, "gap_label"]),
                                                 key=lambda x: float(best.loc[best["gap_label"] == x, "gap"].iloc[0]))]
        text += (f" The frozen ×10 head at each seed's most accurate gap of the sweep ({', '.join(mults)}; picked on "
                 f"the test set, which favours it) reaches {fmt.pct(both['t'].mean())}: "
                 f"{fmt.estimate(r['mean'], r['lo'], r['hi'])} against it, paired on {r['n']} seeds (unadjusted 95 % "
                 "interval), " + ("so even at its best gap the frozen head stays below it." if r["hi"] < 0 else
                                  "so at its best gap the frozen head cannot be told from it." if r["lo"] <= 0 else
                                  "so at its best gap the frozen head beats it."))
    one = acc[acc["count"] == 1].reset_index()
    single = [h for h, g in one.groupby("head_label", sort=False) if set(g["gap_label"]) >= {"0", "m0"}]
    if single:
        def said(h):
            a = one[one["head_label"] == h].set_index("gap_label")["mean"]
            return f"{fmt.head_name(h)} {fmt.pct(a['0'])} at gap 0, gap m0 {fmt.pt(a['m0'] - a['0'])}"
        text += (" On one seed only (no test; first seed): " + "; ".join(said(h) for h in single) + ".")
    return text


def lemma1(fr: pd.DataFrame) -> str:
    """Lemma 1's worry read off the rows: do the trainable heads scale their logits away from the gap?
    Their m0 against the frozen ×10 head's, and what gap m0 does to their accuracy (paired, unadjusted)."""
    if fr.empty or "head_label" not in fr or "freeze_last x10" not in set(fr["head_label"]):
        return ""
    g0 = fr[fr["gap_label"] == "0"].groupby("head_label")["train_mean_margin"].mean()
    parts = []
    for h in (x for x in fmt.HEAD_NAMES if x not in ("freeze_last x10", "freeze_last x1") and x in g0.index):
        t = fr[(fr["head_label"] == h) & (fr["gap_label"] == "m0")].set_index("seed")["test_acc"]
        c = fr[(fr["head_label"] == h) & (fr["gap_label"] == "0")].set_index("seed")["test_acc"]
        both = pd.concat({"t": t, "c": c}, axis=1).dropna()
        if len(both) >= 2:
            r = analysis.paired_interval(both["t"], both["c"])
            parts.append((h, float(g0[h]), r))
    if not parts:
        return ""
    frozen = float(g0["freeze_last x10"])
    said = "; ".join(f"{fmt.head_name(h)}: m0 = {m:.3g}, gap m0 {fmt.estimate(r['mean'], r['lo'], r['hi'])} "
                     f"(n={r['n']})" for h, m, r in parts)
    finite = all(m < 2 * frozen for _, m, _ in parts)
    helped = all(r["lo"] > 0 for _, _, r in parts)
    reading = ("so within this training the trainable heads did not scale their logits away from the gap: their m0 "
               "stays of the frozen head's order and gap m0 still raises their accuracy" if finite and helped else
               "so the trainable heads' margins stay of the frozen head's order (their logits were not scaled away); "
               "whether gap m0 still raises their accuracy, these seeds cannot tell" if finite else
               "so the trainable heads' margins grow well past the frozen head's, as Lemma 1 allows")
    return (f"**Lemma 1 in these rows.** At gap 0 the frozen ×10 head has m0 = {frozen:.3g}; {said} (unadjusted 95 % "
            f"intervals, paired on seed), {reading}.")


def _one_net_vs_ensembles(bo: pd.DataFrame) -> str:
    """One gap-m0 network's gain over one plain network beside *save mean; reverse margin*'s gain over the
    plain ensemble at each size (paired on seed): whether the ensemble adds more than the constant gap alone."""
    if "save_mean_reverse" not in set(bo["rule"]):
        return ""
    acc = bo.pivot_table(index=["seed", "members"], columns="rule", values="test_acc", aggfunc="first")
    if "constant" not in acc or "zero" not in acc:
        return ""
    one = (acc.xs(1, level="members")["constant"] - acc.xs(1, level="members")["zero"]).dropna()
    sizes = [(k, (g["save_mean_reverse"] - g["zero"]).dropna()) for k, g in acc.groupby(level="members") if k > 1]
    sizes = [(k, d) for k, d in sizes if len(d)]
    if one.empty or not sizes:
        return ""
    more = sum(float(d.mean()) > float(one.mean()) for _, d in sizes)
    return (f"One gap-m0 network gains {fmt.pt(one.mean())} over one plain network (n={len(one)}); "
            f"{rule_italic('save_mean_reverse')} gains " + ", ".join(f"{fmt.pt(d.mean())} at {k}" for k, d in sizes)
            + f" members over the plain ensemble of the same size, more than that single network's gain at {more} of "
            f"{len(sizes)} sizes (means over each size's paired seeds). ")


def _per_sample_credit(profile: str) -> str:
    """Whether the per-sample gaps add anything over one constant gap: claim 5c's verdict in this
    profile, with the cells on the constant ensemble's side -- the comparison that credits them."""
    cells = analysis.comparisons(profile)
    cells = cells[(cells["claim"] == "5c") & (cells["role"] == "primary")] if not cells.empty else cells
    if cells.empty:
        return "Claim 5c, which would credit the per-sample gaps over one constant gap, has no rows here."
    h = analysis.claim_verdicts(profile)
    v = h[(h["claim"] == "5c") & (h["role"] == "primary")]["verdict"].iloc[0]
    behind = int((cells["mean"] * cells["direction"] < 0).sum())
    return (f"Claim 5c makes the comparison that credits the per-sample gaps themselves, *save mean; reverse margin* "
            f"against the constant-gap ensemble of the same size: the constant-gap ensemble is ahead at {behind} of "
            f"{len(cells)} sizes (means over paired seeds), and 5c is **{v}** here (Holm-adjusted).")


def _same_networks(bo: pd.DataFrame, sw: pd.DataFrame) -> str:
    """Whether boosting's single-member gap-0 / gap-m0 rows are the gap sweep's networks (shared
    units: the same test accuracy on every seed) or were trained apart."""
    one = bo[(bo["members"] == 1) & (bo["rule"].isin(["zero", "constant"]))]
    if sw.empty or one.empty:
        return "the gap sweep has no rows to compare"
    # both sides indexed by (seed, gap label): boosting's first plain member is the gap-0 net, the constant's gap m0
    a = one.assign(gap_label=one["rule"].map({"zero": "0", "constant": "m0"})).set_index(["seed", "gap_label"])
    b = sw[sw["gap_label"].isin(["0", "m0"])].set_index(["seed", "gap_label"])
    if "member_unit" not in a or "unit" not in b:  # older rows: no unit keys -- compare what they measured
        means = pd.concat({"a": a["test_acc"], "b": b["test_acc"]}, axis=1).groupby(level="gap_label").mean()
        if ((means["a"] - means["b"]).abs() > 5e-4).any():
            return "networks trained apart from the gap sweep's, with the same recipe (their means differ)"
        return "whether they are the gap sweep's networks, the rows do not record"
    both = pd.concat({"a": a["member_unit"], "b": b["unit"]}, axis=1).dropna()
    if len(both) and (both["a"] == both["b"]).all():
        return "the same networks as the gap sweep's gap-0 and gap-m0 pairs"
    return "networks trained apart from the gap sweep's, with the same recipe"


# the gap sweep's paired comparisons (claim 1, claim 2b's two cells): (name, control label, treatment label)
_SWEEP_PAIRS = (("claim 1", "0", "m0"), ("claim 2b's 0.5 × m0 cell", "m0x0.5", "m0"), ("claim 2b's 2 × m0 cell", "m0x2", "m0"))


def _paired_hardware(sw: pd.DataFrame) -> str:
    """The gap sweep's pairs whose two arms trained on different CPU/GPU models, or on one the row does
    not name (float kernels differ between models: noise inside a pair) -- with the days the arms
    finished, which say whether an unnamed pair could have changed machine (one session, one machine)."""
    if sw.empty or "env_hardware" not in sw:
        return ""
    unknown = lambda h: str(h).strip() in ("", "nan", "x86_64", "aarch64", "arm64", "cpu")  # noqa: E731  -- no model named
    seeds = lambda x: f"seed{'s' * (len(x) > 1)} {', '.join(map(str, x))}"  # noqa: E731
    day = sw["finished_at"].astype(str).str[:10] if "finished_at" in sw else pd.Series("", index=sw.index)
    parts, quiet = [], []
    for name, a, b in _SWEEP_PAIRS:
        d = sw.assign(day=day)[sw["gap_label"].isin([a, b])]
        hw = d.pivot_table(index="seed", columns="gap_label", values="env_hardware", aggfunc="first")
        dd = d.pivot_table(index="seed", columns="gap_label", values="day", aggfunc="first")
        if not {a, b} <= set(hw.columns):
            continue
        hw, dd = hw[[a, b]].dropna(), dd.reindex(columns=[a, b])
        split = [int(s) for s, r in hw.iterrows() if r[a] != r[b] and not (unknown(r[a]) or unknown(r[b]))]
        blind = [int(s) for s, r in hw.iterrows() if int(s) not in split and (unknown(r[a]) or unknown(r[b]))]
        apart = [s for s in blind if dd.loc[s, a] != dd.loc[s, b]]
        same_day = [s for s in blind if s not in apart]
        said = ([f"on {seeds(split)} the two arms ran on different CPU models (recorded)"] if split else []) + (
            [f"on {seeds(apart)} a row names no CPU model and the arms finished on different days, so they may have "
             "run on different machines"] if apart else [])
        if said:
            parts.append(f"{name} ({len(hw)} pair{'s' * (len(hw) != 1)}): " + "; ".join(said))
        quiet += [f"{name} on {seeds(same_day)}"] if same_day else []
    if not parts and not quiet:
        return ""
    tail = ((" Where a row names no CPU model but both arms finished on the same day (most likely one session, so "
             "one machine): " + "; ".join(quiet) + ".") if quiet else "")
    return ("- **Hardware inside a pair.** " + "".join(p[:1].upper() + p[1:] + ". " for p in parts) + tail.lstrip()
            + " Float kernels differ between CPU models, so a pair split across models carries that difference into "
            "its gain.")


def caveats(profile: str | None = None) -> str:
    """Sentences that qualify the verdicts, each computed from the rows shown (``profile`` as in claims_table)."""
    out = []
    sw, psw = load_rows("gap_sweep", profile)
    if not sw.empty:
        g0 = sw[sw["gap_label"] == "0"]
        out.append(f"- **{term('Regime', 'regime')}.** At gap 0 our ResNet9 reaches train accuracy {fmt.level_pm(g0['train_acc'])} and train mean "
                   f"margin {term('m0')} = {pm(g0['train_mean_margin'], 2)} (`{psw}` profile; poster: ≈ 100 % and ≈ {poster.M0:g}). "
                   "The poster's reasoning (gap ≈ mean margin of an *interpolating* net) is about that regime; where we are "
                   "below it, the gap may act partly as an optimisation aid (larger gradients where CE saturates).")
        rel = _optimum_sentence(sw, psw)
        if rel:
            out.append(rel)
    fr, pfr = load_rows("frozen_last_layer", profile)
    hc = handicap(fr)
    if hc:
        out.append(f"- **Baseline strength** (`{pfr}`). {hc}. Claim S1 tests the frozen head with gap m0 against "
                   f"the {term('strong baseline')} (trainable head, label smoothing 0.1) with the Holm adjustment; it is "
                   "the pre-declared comparison, whichever head is strongest in a profile.")
    best = best_single(sw, fr)
    if best:
        out.append(best)
    hw = _paired_hardware(sw)
    if hw:
        out.append(hw)
    again = retrained_note(psw) if psw else ""
    if again:
        out.append(f"- {again}")
    bo, pbo = load_rows("boosting", profile)
    if not bo.empty and {"constant", "zero"} <= set(bo["rule"]):
        one = bo[bo["members"] == 1].groupby("rule")["test_acc"].mean()
        out.append(f"- **Boosting vs the single-model gain.** A single member trained with gap m0 (rule `constant`, 1 member) "
                   f"already reaches {fmt.pct(one.get('constant', float('nan')))} against {fmt.pct(one.get('zero', float('nan')))} "
                   f"for gap 0 (the boosting experiment's own first members, mean over its seeds; {_same_networks(bo, sw)}). "
                   + _one_net_vs_ensembles(bo) + _per_sample_credit(pbo))
    return "\n".join(out) if out else ""


# ----------------------------------------------------------------------------- page conclusions


def rule_italic(name: str) -> str:
    """A boosting rule by its human name, in italics ("*save mean; reverse margin*")."""
    return f"*{rule_name(name)}*"
