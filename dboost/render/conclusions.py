"""What each page found, in sentences generated from its rows: the conclusion of a result page
(its claims' verdicts and what qualifies them).  The caveats of a profile's verdicts are in
:mod:`.caveats`; the verdicts of our own studies (training length, data size, calibrated NLL) in
:mod:`.studies`."""
from __future__ import annotations

import pandas as pd

from .. import analysis, poster
from ..analysis import fmt
from .markdown import PM_NOTE, VERDICT_RULE, term
from .provenance import best_profile, load_rows, retrained_note
from .summary import claims_table, regime
from .caveats import best_single, first_seed_grid, handicap, lemma1, rule_italic


def _line(r) -> str:
    return f"**{r['claim']}** — ours: {r['ours']}; poster: {r['poster'] or '–'}. Verdict: **{r['verdict']}**."


def _min_width_over_seeds(sw: pd.DataFrame) -> str:
    """Per multiple of m0 that several seeds ran: on how many seeds the minimum is wider than at gap 0."""
    if "min_width" not in sw:
        return ""
    d = sw.dropna(subset=["min_width"])
    w0 = d[d["gap_label"] == "0"].set_index("seed")["min_width"]
    counts = []
    for label, g in d[d["gap_label"] != "0"].groupby("gap_label"):
        g = g.set_index("seed")["min_width"]
        both = g.index.intersection(w0.index)
        if len(both) >= 2:
            k = 1.0 if label == "m0" else float(label[3:])
            counts.append((k, int((g[both] < w0[both]).sum()), len(both)))
    if not counts:
        return ""
    return ("Over the seeds that ran both, the minimum is wider than at gap 0 "
            + "; ".join(f"at {k:g} × m0 on {w} of {n}" for k, w, n in sorted(counts)) + ". ")


def _min_width_link(sw: pd.DataFrame) -> tuple[int, int, int]:
    """The thesis' link 'best gap = widest minimum', per seed: (seeds whose widest minimum is at their
    most accurate gap, seeds whose most accurate gap has a wider minimum than their gap 0, seeds read)
    -- over the seeds with a width at gap 0, at their most accurate gap and at one more gap."""
    if "min_width" not in sw:
        return 0, 0, 0
    hits = wider = n = 0
    for _, full in sw.groupby("seed"):
        g = full.dropna(subset=["min_width"])
        best = full.loc[full["test_acc"].idxmax()]
        if len(g) < 3 or "0" not in set(g["gap_label"]) or best["min_width"] != best["min_width"]:
            continue
        n += 1
        hits += int(g.loc[g["min_width"].idxmin(), "gap_label"] == best["gap_label"])
        wider += int(best["min_width"] < float(g.loc[g["gap_label"] == "0", "min_width"].iloc[0]))
    return hits, wider, n


def _min_width_sentence(sw: pd.DataFrame) -> str:
    s0, best, m0, _ = first_seed_grid(sw)
    top2 = s0["test_acc"].nlargest(2)  # over the whole grid 'best' was taken from (before s0 drops rows)
    if "min_width" not in s0 or s0["min_width"].isna().all():
        return ""
    s0 = s0.dropna(subset=["min_width"]).sort_values("gap")
    w0 = s0.loc[s0["gap_label"] == "0", "min_width"]
    if w0.empty:
        return ""
    w0, wb = float(w0.iloc[0]), float(best.get("min_width", float("nan")))
    lo = s0.loc[s0["min_width"].idxmin()]
    hi = s0.iloc[-1]
    t0, t50, t1000 = poster.MIN_WIDTH[0], poster.MIN_WIDTH[50], poster.MIN_WIDTH[1000]
    x = lambda g: f"{g / m0:.3g} × m0" if m0 == m0 and m0 > 0 else f"g = {g:.3g}"
    at_lo = "gap 0 itself" if lo["gap_label"] == "0" else x(lo["gap"])
    path = (f"{w0:.3g} at gap 0, smallest ({float(lo['min_width']):.3g}) at {at_lo}, {float(hi['min_width']):.3g} at "
            f"the largest gap ({x(hi['gap'])}); at the most accurate gap ({x(best['gap'])}) it is {wb:.3g}")
    same = wb < w0
    rest = s0[s0["gap_label"] != "0"]
    wider, narrower = list(rest.loc[rest["min_width"] < w0, "gap"]), list(rest.loc[rest["min_width"] >= w0, "gap"])
    runner_up = fmt.pt(top2.iloc[0] - top2.iloc[1], sign=False) if len(top2) > 1 else "–"
    hits, wider_best, n = _min_width_link(sw)
    link = "" if n < 2 else (
        f"The thesis' link 'best gap = widest minimum', seed by seed: the widest minimum of a seed's grid falls on "
        f"its most accurate gap on {hits} of {n} seeds, and at that gap the minimum is wider than at gap 0 on "
        f"{wider_best} of {n}; " + ("so the link holds on every seed (a count, not a test). " if hits == n else
                                    "so these rows do not show the link. " if 2 * hits <= n else
                                    "so it holds on most seeds, not all (a count, not a test). "))
    return (f"**{term('Minimum width', 'minimum width')}** (thesis eq. 5; smaller = wider minimum), first seed's "
            f"grid: {path}. The thesis reports "
            f"{t0:g} at g = 0, {t50:g} at g = 50 and {t1000:g} at g = 1000: a *wider* minimum at g = 50, near its best "
            f"gap ({poster.BEST_GAP_THESIS:g}), and a much narrower one at a huge gap. "
            + (f"On our grid the minimum is wider than at gap 0 at {', '.join(x(g) for g in wider)} and narrower at "
               f"{', '.join(x(g) for g in narrower) or 'no gap'}. " if wider else "")
            + _min_width_over_seeds(sw)
            + (link if link else
               "On this one seed ours goes the same way at its most accurate gap (no interval). " if same else
               "The rise at large gaps we see too, but at this seed's most accurate gap the minimum is *narrower* than "
               f"at gap 0. That is one seed, whose two most accurate gaps are {runner_up} apart in test accuracy, so it "
               "does not show the link 'best gap = widest minimum', and it cannot settle it either. ")
            + "Our measure matches a hand-written per-sample loop of the thesis' formula (`tests/test_probes.py`); "
            "the values are not comparable in size -- they scale with the number and norm of the trainable weights "
            "(our width and data differ from the thesis'), and the thesis tunes the learning rate per gap, we do not "
            "-- so only the direction compares.")

def _other_regimes(profile: str) -> dict[str, str]:
    """Per claim label: " Other regimes: `gpu` inconclusive; `cpu` contradicted." -- a page shows its
    best profile's rows, and a verdict there must not read as the verdict of every regime."""
    h = analysis.headline()
    out = {}
    for c in analysis.CLAIMS:
        g = h[(h["claim"] == c.id) & (h["profile"] != profile)] if not h.empty else h
        if not g.empty:
            out[c.label] = " Other regimes: " + "; ".join(f"`{p}` {v}" for p, v in zip(g["profile"], g["verdict"])) \
                + " (the summary has their numbers)."
    return out


def _rule_gap(last: pd.DataFrame, top: str, other: str) -> str:
    """``top`` against ``other`` at one ensemble size, paired on the seeds both have: the mean
    difference in points, its unadjusted 95 % interval and what that allows one to say."""
    from ..analysis.stats import decide, paired_interval
    a = last[last["rule"] == top].set_index("seed")["test_acc"]
    b = last[last["rule"] == other].set_index("seed")["test_acc"]
    d = (a - b).dropna()
    if len(d) < 2:
        return f"; with {len(d)} paired seed{'s' * (len(d) != 1)} the two cannot be compared"
    r = paired_interval(d.to_numpy())
    lo, hi = r["lo"], r["hi"]
    said = decide(lo, hi, 1)  # the page tables' unadjusted rule, on the interval just computed
    lead = "leads it by" if r["mean"] >= 0 else "trails it, paired, by"  # a mean over other seeds than the ranking's
    return (f"; paired over {len(d)} seeds, {rule_italic(top)} {lead} {fmt.estimate(r['mean'], lo, hi)} (unadjusted 95 % "
            "interval), " + ("so the two cannot be told apart at this size" if said.startswith("inconclusive") else
                            "and its interval excludes 0" if said == "supported" else "though its interval puts it behind"))


def conclusion(experiment: str, profile: str | None = None) -> str:
    """What a page found, in a few sentences generated from its rows (Markdown): every declared
    claim of this experiment with its verdict, then what qualifies it."""
    prof = profile or best_profile(experiment)
    if prof is None:
        return "*No results yet.*"
    reg = regime(prof)["text"]
    head = (f"From the rows of {term('profile')} `{prof}` ({reg}; {term('regime')}); every verdict by "
            f"{VERDICT_RULE}:\n\n")
    if prof == "smoke":
        return head + "A pipeline check on synthetic data: it says nothing about the poster's claims."
    table = claims_table(prof)
    mine = [c.label for c in analysis.CLAIMS if c.experiment == experiment]
    others = _other_regimes(prof)
    lines = [_line(r) + others.get(r["claim"], "") for _, r in table.iterrows()
             if str(r["claim"]).split(" — ", 1)[0] in mine]
    if experiment == "gap_sweep":
        sw, _ = load_rows("gap_sweep", prof)
        if not sw.empty:
            mw = _min_width_sentence(sw)
            if mw:
                lines.append(mw)
    elif experiment == "frozen_last_layer":
        fr, _ = load_rows("frozen_last_layer", prof)
        hc = handicap(fr)
        if hc:
            lines.append(f"**The frozen head's handicap.** {hc}. That is why S1 and S2 test the method against "
                         f"and on top of a {term('strong baseline')}.")
        lemma = lemma1(fr)
        if lemma:
            lines.append(lemma)
        best = best_single(load_rows("gap_sweep", prof)[0], fr)
        if best:
            lines.append(best[2:])  # a paragraph here, a list item on the summary
    elif experiment == "boosting":
        bo, _ = load_rows("boosting", prof)
        if not bo.empty:
            k = int(bo["members"].max())
            last = bo[bo["members"] == k]
            # compare the rules on the seeds they all have at this size (paired), else on the seeds
            # of the rules that have the most
            seeds = [set(g["seed"]) for _, g in last.groupby("rule")]
            common = set.intersection(*seeds) if seeds else set()
            if common:
                last = last[last["seed"].isin(common)]
            else:
                full = last.groupby("rule")["seed"].nunique()
                last = last[last["rule"].isin(full[full == full.max()].index)]
            n = int(last.groupby("rule")["seed"].nunique().max())
            acc = last.groupby("rule")["test_acc"].mean().sort_values(ascending=False)
            lines.append(f"**Best {term('rule', 'boosting rules')} at {k} members** (test accuracy, " + (f"mean over the {n} seeds every rule shown has" if n > 1 else "one seed: no interval, no test") + "): "
                         f"{rule_italic(acc.index[0])} {fmt.pct(acc.iloc[0])}" + (f", then {rule_italic(acc.index[1])} {fmt.pct(acc.iloc[1])}"
                                                                         if len(acc) > 1 else "") +
                         (". The poster's favourite, save mean; reverse margin, is not first by mean"
                          f"{_rule_gap(last, acc.index[0], 'save_mean_reverse')}."
                          if acc.index[0] != "save_mean_reverse" and "save_mean_reverse" in acc else "."))
    elif experiment not in ("architectures", "training_length"):
        raise ValueError(f"unknown experiment {experiment!r}")
    if experiment != "training_length":
        again = retrained_note(prof)  # one configuration, several networks: the values this page shows for it
        if again:
            lines.append(again)
    if not lines:
        return head + "*Not enough rows yet for a conclusion.*"
    return head + "\n".join(f"- {x}" for x in lines) + "\n\n" + PM_NOTE
