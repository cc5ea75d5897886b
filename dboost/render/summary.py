"""The summary and landing pages: each declared claim (``dboost.analysis.claims``) with its verdict
per profile, computed by the rule of ``dboost.analysis.stats`` (paired t, Holm) from the rows --
the headline across profiles, the per-profile claim tables, the glance table and the answer box --
and the scale and provenance of the runs they draw on."""
from __future__ import annotations

import pandas as pd

from .. import analysis
from ..analysis import fmt
from ..config import PROFILE_RANK, PROFILES
from ..registry import EXPERIMENTS
from .provenance import best_profile, load_rows, provenance


def profiles_with_results() -> list[str]:
    """Profiles holding rows of any experiment, best first (``experiments.PROFILE_RANK``)."""
    from ..results import runs_root
    return [p for p in PROFILE_RANK if any((runs_root() / p / e / "results.csv").exists() for e in EXPERIMENTS)]


def regime(profile: str) -> dict:
    """How close a profile's gap-0 frozen-x10 nets are to the poster's regime: train accuracy and m0."""
    sw, _ = load_rows("gap_sweep", profile)
    if sw.empty:
        return dict(train_acc=float("nan"), m0=float("nan"), fits=None, text="regime unknown (no gap sweep)")
    g0 = sw[sw["gap_label"] == "0"]
    acc, m0 = float(g0["train_acc"].mean()), float(g0["train_mean_margin"].mean())
    fits = bool(g0["train_acc"].min() >= 0.99)
    return dict(train_acc=acc, m0=m0, fits=fits, text=f"gap-0 train accuracy {fmt.pct(acc)}, m0 {m0:.1f}: "
                f"{'fits' if fits else 'does not fit'} its training set")


def regime_word(profile: str) -> str:
    reg = regime(profile)
    return "synthetic" if profile == "smoke" else "fits its training set" if reg["fits"] else "does not fit"


def _effect_text(r, c) -> str:
    """One verdict row in words: the arms' means, the difference, its adjusted interval, n and p."""
    if c.kind == "optimum":
        o = r["optimum"]
        per = ", ".join(f"{b:g}" for b in o["best"])
        grid = ", ".join(f"{g:g}" for g in o["grid"])
        if r["mean"] != r["mean"]:
            return (f"no optimum to locate: the gaps every seed ran are {grid} × m0 (the whole grid ran on fewer than "
                    f"2 seeds), n={r['n']}")
        at = f"{r['mean']:.2g} × m0 [{r['lo']:.2g}, {r['hi']:.2g}]" if r["lo"] == r["lo"] else f"{r['mean']:.2g} × m0"
        lead = o.get("lead_images") or []
        if lead and all(x is not None for x in lead):
            per += f" × m0, each ahead of its seed's runner-up gap by {', '.join(map(str, lead))} test images"
        else:
            per += " × m0"
        return (f"best gap {at} (geometric mean, 95 % interval over seeds; per-seed best: {per}; grid every seed "
                f"ran: {grid} × m0" + ("; a seed's best is the grid's top, the optimum may lie beyond" if o["edge"] else "")
                + (f"; seeds {', '.join(map(str, o['incomplete']))} wait for their grid points" if o.get("incomplete") else "")
                + f"), n={r['n']}")
    m = r["metric"]
    level = lambda x: fmt.level(x, m)  # noqa: E731
    arms = f"{level(r['control_mean'])} → {level(r['treatment_mean'])}: " if c.kind != "gain_difference" else ""
    diff = f"{arms}{fmt.pt(r['mean'], m)}"
    if r["n"] >= 2:
        diff = (f"{arms}{fmt.estimate(r['mean'], r['lo'], r['hi'], m)} (p = {r['p']:.2g}; Holm-adjusted over the "
                f"{int(r['family_size'])} comparisons of its family, p = {r['p_adj']:.2g})")
    diff += f", {analysis.verdicts.n_text(r)}" + _unadjusted_note(r)
    if r.get("cells", 1) > 1:
        # the cell shown is the one that decides the verdict (for a supported claim, its weakest)
        diff = (f"the deciding cell of {int(r['cells'])}, {r['cell']}: {diff}; {int(r['cells_supported'])} of "
                f"{int(r['cells'])} cells supported after Holm")
    elif r.get("cell"):
        diff = f"{r['cell']}: {diff}"
    if isinstance(r.get("same_as"), str) and r["same_as"]:
        diff += (f"; the same pairs as claim {r['same_as']}: one test, counted once in the Holm family, with "
                 f"claim {r['same_as']}'s adjustment")
    return diff


def _unadjusted_note(r) -> str:
    """For an inconclusive verdict whose *unadjusted* 95 % interval excludes 0: that interval and the
    side it is on, so a reader sees that the correction for the family, not the data's direction,
    leaves it undecided."""
    lo, hi = r.get("lo_raw", float("nan")), r.get("hi_raw", float("nan"))
    if r["verdict"] != "inconclusive" or not (lo == lo and hi == hi) or lo <= 0 <= hi:
        return ""
    good = (lo > 0) == (r.get("direction", 1) > 0)
    if r.get("role", "primary") == "primary":
        side = "on the side the claim states" if good else "on the other side"
    else:  # a secondary metric the poster made no claim about: better or worse with the treatment
        side = "on the better side" if good else "on the worse side"
    return (f"; unadjusted 95 % interval {fmt.interval(lo, hi, r['metric'])} excludes 0 {side}: it is "
            "Holm's correction over the family that makes this comparison inconclusive")


def claims_table(profile: str) -> pd.DataFrame:
    """One row per declared claim and metric for ``profile``: ours (effect, adjusted interval, n),
    the poster's value and the verdict; claims the profile has not run say so."""
    v = analysis.claim_verdicts(profile)
    out = []
    for c in analysis.CLAIMS:
        mine = v[v["claim"] == c.id] if not v.empty else v
        if mine.empty:
            out.append(dict(claim=c.label, poster=c.poster_value, ours="not yet run", verdict="not yet run"))
            continue
        for _, r in mine.iterrows():
            name = c.label if r["role"] == "primary" else f"{c.label} — {fmt.METRIC_NAMES.get(r['metric'], r['metric'])}" \
                + (" (lower is better)" if r["metric"] in fmt.LOWER_IS_BETTER else "") + ", secondary"
            out.append(dict(claim=name, poster=c.poster_value if r["role"] == "primary" else
                            dict(c.poster_secondary).get(r["metric"], ""),
                            ours=_effect_text(r, c), verdict=r["verdict"]))
    return pd.DataFrame(out)


def headline_table() -> pd.DataFrame:
    """One row per claim, one column per profile that ran it (interp | gpu | cpu): the effect on the
    primary metric in points, its Holm-adjusted interval, n and the verdict; the last column says
    where the regimes disagree.  Every regime is shown: nothing is chosen for its verdict."""
    h = analysis.headline()
    if h.empty:
        return pd.DataFrame(columns=["claim", "poster"])
    profs = list(dict.fromkeys(h["profile"]))
    out = []
    for c in analysis.CLAIMS:
        g = h[h["claim"] == c.id]
        if g.empty:
            continue
        row = {"claim": c.label, "poster": c.poster_value}
        for p in profs:
            r = g[g["profile"] == p]
            row[f"{p} ({regime_word(p)})"] = "not run" if r.empty else _cell_text(r.iloc[0], c)
        row["regimes"] = analysis.verdicts.agreement(dict(zip(g["profile"], g["verdict"])))
        out.append(row)
    return pd.DataFrame(out)


def _cell_text(r, c) -> str:
    """A headline cell: '+6.4 pt [−2.0, +14.7], n=3: inconclusive'."""
    if c.kind == "optimum":
        if r["mean"] != r["mean"]:
            return f"no common grid, n={r['n']}: {r['verdict']}"
        at = f"{r['mean']:.2g} × m0" + (f" [{r['lo']:.2g}, {r['hi']:.2g}]" if r["lo"] == r["lo"] else "")
        edge = " (a seed's best is the grid's top)" if isinstance(r.get("optimum"), dict) and r["optimum"]["edge"] else ""
        return f"best gap {at}{edge}, n={r['n']}: {r['verdict']}"
    where = f"{r['cell']}: " if r.get("cells", 1) > 1 else ""
    return f"{where}{fmt.estimate(r['mean'], r['lo'], r['hi'])}, {analysis.verdicts.n_text(r)}: {r['verdict']}"


def at_a_glance() -> pd.DataFrame:
    """The landing page's table: one line per claim, each regime's effect (points) and verdict."""
    h = analysis.headline()
    if h.empty:
        return pd.DataFrame(columns=["claim"])
    out = []
    for c in analysis.CLAIMS:
        g = h[h["claim"] == c.id]
        if g.empty:
            continue
        row = {"claim": c.label}
        for _, r in g.iterrows():
            if c.kind == "optimum" and r["mean"] != r["mean"]:  # no common grid: nothing to locate
                row[r["profile"]] = f"n={int(r['n'])}: {r['verdict']}"
                continue
            if isinstance(r.get("same_as"), str) and r["same_as"]:  # the same networks as another claim: one test, said once (counted once in Holm)
                row[r["profile"]] = f"≡ claim {r['same_as']} (the same pairs)"
                continue
            if c.kind == "optimum":
                eff = f"{r['mean']:.2g} × m0" + (f" [{r['lo']:.2g}, {r['hi']:.2g}]" if r["lo"] == r["lo"] else "")
            else:
                eff = fmt.estimate(r["mean"], r["lo"], r["hi"], r["metric"])
            # a claim of several cells (sizes, architectures, gaps) shows the one that decides its verdict
            cell = f"{r['cell']}, deciding cell of {int(r['cells'])}; " if r.get("cells", 1) > 1 and r.get("cell") else ""
            row[r["profile"]] = f"{eff} ({cell}n={int(r['n'])}): {r['verdict']}"
        out.append(row)
    return pd.DataFrame(out).fillna("not run")


def headline_profiles(table=None) -> list[str]:
    """The profiles the headline shows (every one with rows; smoke only when alone)."""
    return analysis.verdicts.headline_profiles()


def answer_html() -> str:
    """The answer as an HTML paragraph, for the landing page's box (a cross-page {glue} shows HTML,
    not Markdown): a paragraph per part, its claims as a list."""
    from IPython.display import HTML
    out = []
    for block in analysis.answer().split("\n\n"):
        lines = block.split("\n")
        items = [x[2:] for x in lines if x.startswith("- ")]
        head = " ".join(x for x in lines if not x.startswith("- "))
        out.append(f"<p>{_inline_html(head)}</p>" + (
            "<ul>" + "".join(f"<li>{_inline_html(x)}</li>" for x in items) + "</ul>" if items else ""))
    return HTML("".join(out))


def _inline_html(text: str) -> str:
    """The answer's inline Markdown (escaped): `code`, **bold**, *italic*."""
    import html
    import re
    t = html.escape(text, quote=False)
    t = re.sub(r"`([^`]+)`", r"<code>\1</code>", t)
    t = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", t)
    return re.sub(r"\*([^*]+)\*", r"<i>\1</i>", t)


def scale_note(profiles=None) -> str:
    """How the scale of ``profiles`` (default: those the best-available table uses) differs from the poster's."""
    used = sorted(profiles or {p for p in (best_profile(e) for e in EXPERIMENTS) if p})
    if not used:
        return "*No runs yet: run `python -m dboost.batch --profile smoke` (or cpu / gpu).*"
    lines = []
    for p in used:
        q = PROFILES[p]
        n = "full 50,000" if q["n_train"] is None else f"{q['n_train']:,}-image subset"
        lines.append(f"- `{p}`: {q['dataset']}, {n}, ResNet9 width {q['width']} (poster: 64), recipe `{q['recipe']}` "
                     f"{q['epochs']} epochs (poster: authors' 50), {q['members']} members (poster: 15). {q['description'][0].upper() + q['description'][1:]}.")
    return "**Scale of the runs shown:**\n\n" + "\n".join(lines)


def provenance_all(profiles=None) -> str:
    """One provenance line per experiment: of the best profile of each (default), or of every
    experiment that ``profiles`` have rows for."""
    out = []
    for e in EXPERIMENTS:
        if profiles is None:
            df, p = load_rows(e)
            out.append(f"- **{e}**: " + (provenance(df, rerun=False) if p
                                         else "not yet run"))
            continue
        for p in profiles:
            df, _ = load_rows(e, p)
            if not df.empty:
                out.append(f"- **{e}** (`{p}`): " + provenance(df, rerun=False))
    return "\n".join(out)
