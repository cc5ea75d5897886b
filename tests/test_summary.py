"""dboost.render.summary: the verdict logic behind the book's summary table, on hand-made rows with
known answers.

The book's conclusions are only as good as these rules, so each is pinned: paired by seed, a
paired t interval Holm-adjusted across the profile's family (the glossary's rule), lower-is-better
metrics flipped, a claim over every size / architecture needing every cell, every regime shown.
"""
import numpy as np
import pandas as pd

from dboost import analysis
from dboost.render import summary
from dboost.results import Store
from fake_rows import boost_row, sweep_row


# ----------------------------------------------------------------------------- the claims table

def _claim(table, prefix):
    rows = table[table["claim"].str.startswith(prefix)]
    assert len(rows), f"no row starting {prefix!r}"
    return rows.iloc[0]


def test_claim1_paired_on_seed(runs):
    st = Store("cpu", "gap_sweep")
    # gap m0 wins on every seed by 0.019 .. 0.021 although seed 2 is a much worse run overall:
    # only a *paired* comparison sees that (unpaired, the seed spread swamps it).
    for s, (a0, a1) in enumerate([(0.60, 0.620), (0.70, 0.721), (0.40, 0.419)]):
        st.put(f"sweep_seed{s}_gap0", sweep_row(s, "0", 0.0, a0, nll=1.0 + s / 10))
        st.put(f"sweep_seed{s}_gapm0", sweep_row(s, "m0", 2.0, a1, nll=1.5 + s / 10 + s / 1000))
    t = summary.claims_table("cpu").set_index("claim")
    label = analysis.claim("1").label
    acc = t.loc[label]
    assert acc["verdict"] == "supported"              # the only test in the primary family: m = 1
    assert "60.0 % → 62.0 %" not in acc["ours"] and "+2.0 pt" in acc["ours"] and "n=3" in acc["ours"]
    assert t.loc[f"{label} — NLL (lower is better), secondary", "verdict"] == "contradicted"  # NLL went up
    # experiments without rows say so instead of inventing a verdict
    assert t.loc[analysis.claim("3").label, "verdict"] == "not yet run"
    assert t.loc[analysis.claim("5-save").label, "verdict"] == "not yet run"


def test_boosting_every_size_must_win_and_holm_counts_every_cell(runs):
    st = Store("cpu", "boosting")
    jitter = (0.0, 0.001, -0.001)
    for s in range(3):
        for m in (1, 2, 3):
            st.put(f"zero_seed{s}_m{m}", boost_row(s, "zero", m, 0.60 + 0.01 * m + 0.05 * s, 0.90))
            st.put(f"constant_seed{s}_m{m}", boost_row(s, "constant", m, 0.65 + 0.01 * m + 0.05 * s, 0.95))
            # save mean; reverse: +0.02 over plain at every size > 1; zero mean; reverse: wins at 2, loses at 3
            st.put(f"save_mean_reverse_seed{s}_m{m}",
                   boost_row(s, "save_mean_reverse", m, 0.62 + 0.01 * m + 0.05 * s + jitter[s], 0.91))
            st.put(f"zero_mean_reverse_seed{s}_m{m}", boost_row(
                s, "zero_mean_reverse", m, 0.60 + 0.01 * m + 0.05 * s + (0.02 if m == 2 else -0.02) + jitter[s], 0.90))
    comp = analysis.comparisons("cpu")
    prim = comp[comp["role"] == "primary"]
    assert set(prim["family_size"]) == {6}            # 3 boosting claims × sizes 2, 3
    v = analysis.claim_verdicts("cpu").set_index(["claim", "role"])
    assert v.loc[("5-save", "primary"), "verdict"] == "supported"
    assert v.loc[("5-zero", "primary"), "verdict"] == "contradicted"   # contradicted at size 3
    assert v.loc[("5-zero", "primary"), "cell"] == "size 3"            # the weakest cell is shown
    assert v.loc[("5c", "primary"), "verdict"] == "contradicted"


def test_claim4_needs_every_architecture(runs):
    st = Store("cpu", "architectures")
    rng = np.random.default_rng(0)
    for arch, gain in (("resnet9", 0.02), ("vgg16", 0.01), ("wide_resnet", -0.0001), ("resnet18", 0.03)):
        for s in range(3):
            base = 0.5 + rng.uniform(0, 0.1)
            for label, acc in (("0", base), ("m0", base + gain + 0.001 * s)):
                r = sweep_row(s, label, 0.0 if label == "0" else 2.0, acc)
                r.update(experiment="architectures", arch=arch, variant=arch)
                st.put(f"{arch}_seed{s}_gap{label}", r)
    v = analysis.claim_verdicts("cpu").set_index(["claim", "role"])
    assert v.loc[("4", "primary"), "verdict"] == "inconclusive"   # 3 of 4 is not "every architecture"
    assert v.loc[("4", "primary"), "cell"] == "wide_resnet"
    assert v.loc[("4", "primary"), "cells_supported"] == 3


def test_headline_shows_every_regime_and_flags_disagreement(monkeypatch):
    fake = {"interp": "supported", "gpu": "contradicted", "cpu": "inconclusive"}
    monkeypatch.setattr(analysis.verdicts, "headline_profiles", lambda: list(fake))
    monkeypatch.setattr(analysis.verdicts, "claim_verdicts", lambda p: pd.DataFrame([dict(
        claim="1", role="primary", metric="test_acc", verdict=fake[p], cell="", n=3, mean=0.01, lo=0.0, hi=0.02,
        cells=1)]))
    monkeypatch.setattr(summary, "regime", lambda p: dict(fits=p == "interp"))
    h = summary.headline_table().set_index("claim")
    row = h.loc[analysis.claim("1").label]
    assert [c for c in h.columns if c not in ("poster", "regimes")] == [
        "interp (fits its training set)", "gpu (does not fit)", "cpu (does not fit)"]
    assert row["gpu (does not fit)"].endswith("n=3: contradicted")
    assert row["regimes"] == "regimes disagree: supported at interp, contradicted at gpu"


def test_boosting_claims_with_no_paired_size_yet_say_not_yet_run(runs):
    """A boosting run still going: the rule and its control have rows, but no common (seed, size > 1)."""
    st = Store("cpu", "boosting", runs)
    for rule, seed in (("zero", 0), ("save_mean_reverse", 1)):
        st.put(f"{rule}_seed{seed}_m1", dict(profile="cpu", experiment="boosting", seed=seed, rule=rule, members=1,
                                             test=dict(acc=0.5, auc_proba=0.9), member_trained_on="x"))
    t = summary.claims_table("cpu").set_index("claim")
    assert t.loc[analysis.claim("5-save").label, "verdict"] == "not yet run"


# ----------------------------------------------------------------------------- what the pages say

def test_number_formats_are_percent_points_and_nats():
    from dboost.analysis import fmt
    nb = lambda t: t.replace("_", "\u00a0")  # noqa: E731  -- a table cell wraps only before its "±"
    assert fmt.level_pm([0.70, 0.71, 0.705]) == nb("70.5 ±_0.5_%") and fmt.level_pm([0.7031]) == nb("70.3_%")
    assert fmt.diff_pm([-0.01, -0.02, -0.03]) == nb("−2.0 ±_1.0_pt") and fmt.diff_pm([0.064]) == nb("+6.4_pt")
    assert fmt.level_pm([0.9123, 0.9323], "test_nll") == nb("0.922 ±_0.014_nats")
    assert fmt.diff_pm([0.1, 0.2], "test_nll") == nb("+0.150 ±_0.071_nats")
    assert fmt.level_pm([]) == fmt.diff_pm([float("nan")]) == "–"
    assert fmt.pct(0.7031) == "70.3 %" and fmt.pt(0.064) == "+6.4 pt"  # in sentences: plain spaces
    # a difference with its interval says its unit once
    assert fmt.estimate(0.064, 0.003, 0.039) == "+6.4 pt [+0.3, +3.9]"
    assert fmt.estimate(1.103, 0.874, 1.331, "test_nll") == "+1.103 nats [+0.874, +1.331]"
    assert fmt.estimate(0.064, float("nan"), float("nan")) == "+6.4 pt"


def test_an_inconclusive_verdict_shows_its_unadjusted_interval_when_that_excludes_0(runs):
    """Both cells of claim 5 gain on every seed (p ≈ 0.04 each, unadjusted interval above 0), but Holm
    over the family of 2 leaves them inconclusive: the table says so, with scipy's interval."""
    from scipy import stats as ss
    st = Store("cpu", "boosting")
    d = (0.020, 0.013, 0.027)
    for s in range(3):
        for m in (1, 2, 3):
            base = 0.60 + 0.01 * m + 0.05 * s
            st.put(f"zero_seed{s}_m{m}", boost_row(s, "zero", m, base, 0.90))
            st.put(f"save_mean_reverse_seed{s}_m{m}",
                   boost_row(s, "save_mean_reverse", m, base + (d[s] if m > 1 else 0.0), 0.90))
    r = _claim(summary.claims_table("cpu"), analysis.claim("5-save").label)
    assert r["verdict"] == "inconclusive"
    lo, hi = ss.t.interval(0.95, 2, loc=np.mean(d), scale=ss.sem(d))
    assert f"unadjusted 95 % interval [+{100 * lo:.1f}, +{100 * hi:.1f}] excludes 0 on the side the claim states" in r["ours"]
    # a supported verdict needs no such note
    st2 = Store("cpu", "gap_sweep")
    for s, (a0, a1) in enumerate([(0.60, 0.620), (0.70, 0.721), (0.40, 0.419)]):
        st2.put(f"sweep_seed{s}_gap0", sweep_row(s, "0", 0.0, a0))
        st2.put(f"sweep_seed{s}_gapm0", sweep_row(s, "m0", 2.0, a1))
    assert "unadjusted" not in _claim(summary.claims_table("cpu"), analysis.claim("1").label)["ours"]


def test_a_multi_cell_claim_gives_the_range_of_its_cells_seeds(runs):
    """Claim 5 with 3 seeds at size 2 and 2 at size 3: the headline names the weakest cell's n and the
    range over the cells, so a cell still waiting for seeds is not hidden."""
    st = Store("cpu", "boosting")
    for s in range(3):
        for m in (1, 2, 3):
            if m == 3 and s == 2:
                continue  # seed 2's chain stops at 2 members
            base = 0.60 + 0.01 * m + 0.05 * s
            st.put(f"zero_seed{s}_m{m}", boost_row(s, "zero", m, base, 0.90))
            st.put(f"save_mean_reverse_seed{s}_m{m}", boost_row(s, "save_mean_reverse", m, base + 0.01 * (m > 1) * (1 + s),
                                                                0.90))
    cell = summary.headline_table().set_index("claim").loc[analysis.claim("5-save").label].iloc[1]
    assert "(n = 2–3 across its 2 cells)" in cell
    assert analysis.verdicts.n_text(dict(n=5, n_min=5, n_max=5, cells=4)) == "n=5"

