"""The landing page's answer, in words, from :func:`.verdicts.headline`: what holds (where, by how much,
and what qualifies it), what is contradicted, what stays undecided -- and, for the undecided, which
way each leans before Holm's correction, said for both sides alike."""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import fmt
from .claims import CAVEATS, CLAIMS
from .rows import rows
from .verdicts import NO_COMMON_GRID, headline, n_text


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


def _with_more_data(r) -> str:
    """Claim 1 supported in a regime whose data-size study trained larger sets: how its gain moves from
    the regime's own training-set size to the largest one (paired on seed, unadjusted), so a gain
    measured on a small subset is not read as the gain at the poster's scale."""
    from ..config import PROFILES
    from . import data_size as ds
    if r["claim"] != "1" or r["verdict"] != "supported" or r["profile"] not in PROFILES:
        return ""
    dz = rows("data_size", r["profile"])
    ch = ds.change_from(dz, PROFILES[r["profile"]].n_train) if len(dz) and PROFILES[r["profile"]].n_train else None
    if ch is None or ch["lo"] != ch["lo"]:
        return ""
    at_big = ds.pairs(dz).query("head_label == 'freeze_last x10' and size == @ch['big']").gain.mean()
    how = ds._direction(ch["lo"], ch["hi"])
    return (f" {'*But* the' if ch['hi'] < 0 else 'The'} data-size study finds the gain {how}: at {ch['big']:,} images "
            f"it is {fmt.pt(at_big)}, a change of {fmt.estimate(ch['mean'] / 100, ch['lo'] / 100, ch['hi'] / 100)} "
            f"from {ch['ref']:,} (seeds on their own subsets, paired on seed, n={ch['n']}, unadjusted 95 % interval).")


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
                         f"{elsewhere(cid, verdict)}." + "".join(caveat(r) + _with_more_data(r) for _, r in g.iterrows()))
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
