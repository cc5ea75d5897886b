"""The verdict logic behind the book's summary table, on hand-made rows with known answers.

The book's conclusions are only as good as these rules, so each is pinned: paired by seed, a
paired t interval Holm-adjusted across the profile's family (the glossary's rule), lower-is-better
metrics flipped, a claim over every size / architecture needing every cell, every regime shown.
"""
import numpy as np
import pytest

import pandas as pd

from dboost import analysis, report, summary
from dboost.results import Store


# ----------------------------------------------------------------------------- statistics

def test_pm_uses_sample_std():
    assert report.pm([1.0, 2.0, 3.0], 2) == "2.00 ± 1.00"  # ddof=1: std of 1,2,3 is 1, not 0.816
    assert report.pm([0.5], 3) == "0.500"
    assert report.pm([], 3) == "–"


@pytest.mark.parametrize("diffs,hib,expected", [
    ([0.010, 0.011, 0.012], True, "supported"),          # unadjusted 95 % t interval [0.0085, 0.0135]
    ([0.01, 0.02, 0.03], True, "inconclusive"),          # every seed gains, but p = 0.074: the sign rule is gone
    ([-0.010, -0.011, -0.012], True, "contradicted"),
    ([0.0, 0.0, 0.0], True, "inconclusive"),             # no change: p = 1
    ([0.05], True, "inconclusive (n too small)"),
    ([-0.10, -0.11, -0.12], False, "supported"),         # NLL/ECE: lower is better
    ([0.10, 0.11, 0.12], False, "contradicted"),
])
def test_verdict(diffs, hib, expected):
    assert report.verdict(diffs, higher_is_better=hib) == expected


# ----------------------------------------------------------------------------- the claims table

ENV = dict(hardware="testbox", device="cpu", torch="0", torchvision="0", python="3", git_commit="abc", cpu_threads=1)


def _sweep_row(seed, label, gap, acc, m0=2.0, nll=1.0):
    return dict(profile="cpu", experiment="gap_sweep", dataset="cifar10", n_train=5000, n_test=10000, recipe="fast",
                epochs=1, batch_size=100, env=ENV, seed=seed, arch="resnet9", variant="sweep", gap_label=label,
                gap=gap, m0=m0 if label != "0" else None, train_acc=0.7, train_mean_margin=m0 if label == "0" else 3.0,
                train_wall_time_s=1.0,
                test=dict(acc=acc, auc_proba=0.9 + acc / 10, auc_logits=0.9, auc_log_proba=0.9, mis_auroc=0.8,
                          nll=nll, ece=0.1))


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("DBOOST_RUNS", str(tmp_path))
    return tmp_path


def _claim(table, prefix):
    rows = table[table["claim"].str.startswith(prefix)]
    assert len(rows), f"no row starting {prefix!r}"
    return rows.iloc[0]


def test_claim1_paired_on_seed(runs):
    st = Store("cpu", "gap_sweep")
    # gap m0 wins on every seed by 0.019 .. 0.021 although seed 2 is a much worse run overall:
    # only a *paired* comparison sees that (unpaired, the seed spread swamps it).
    for s, (a0, a1) in enumerate([(0.60, 0.620), (0.70, 0.721), (0.40, 0.419)]):
        st.put(f"sweep_seed{s}_gap0", _sweep_row(s, "0", 0.0, a0, nll=1.0 + s / 10))
        st.put(f"sweep_seed{s}_gapm0", _sweep_row(s, "m0", 2.0, a1, nll=1.5 + s / 10 + s / 1000))
    t = summary.claims_table("cpu").set_index("claim")
    label = analysis.claim("1").label
    acc = t.loc[label]
    assert acc["verdict"] == "supported"              # the only test in the primary family: m = 1
    assert "60.0 % → 62.0 %" not in acc["ours"] and "+2.0 pt" in acc["ours"] and "n=3" in acc["ours"]
    assert t.loc[f"{label} — NLL (lower is better), secondary", "verdict"] == "contradicted"  # NLL went up
    # experiments without rows say so instead of inventing a verdict
    assert t.loc[analysis.claim("3").label, "verdict"] == "not yet run"
    assert t.loc[analysis.claim("5-save").label, "verdict"] == "not yet run"


def _boost_row(seed, rule, members, acc, auc):
    return dict(profile="cpu", experiment="boosting", dataset="cifar10", n_train=5000, n_test=10000, recipe="fast",
                epochs=1, batch_size=100, env=ENV, seed=seed, rule=rule, members=members, member_trained_on="testbox",
                member_wall_time_s=1.0, test=dict(acc=acc, auc_proba=auc))


def test_boosting_every_size_must_win_and_holm_counts_every_cell(runs):
    st = Store("cpu", "boosting")
    jitter = (0.0, 0.001, -0.001)
    for s in range(3):
        for m in (1, 2, 3):
            st.put(f"zero_seed{s}_m{m}", _boost_row(s, "zero", m, 0.60 + 0.01 * m + 0.05 * s, 0.90))
            st.put(f"constant_seed{s}_m{m}", _boost_row(s, "constant", m, 0.65 + 0.01 * m + 0.05 * s, 0.95))
            # save mean; reverse: +0.02 over plain at every size > 1; zero mean; reverse: wins at 2, loses at 3
            st.put(f"save_mean_reverse_seed{s}_m{m}",
                   _boost_row(s, "save_mean_reverse", m, 0.62 + 0.01 * m + 0.05 * s + jitter[s], 0.91))
            st.put(f"zero_mean_reverse_seed{s}_m{m}", _boost_row(
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
                r = _sweep_row(s, label, 0.0 if label == "0" else 2.0, acc)
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

def test_paired_wide_reads_across_and_pairs_on_seed():
    import pandas as pd
    rows = []
    for s, (a0, a1) in enumerate([(0.60, 0.61), (0.70, 0.72), (0.40, 0.43)]):
        for label, a in (("0", a0), ("m0", a1)):
            rows.append(dict(seed=s, gap_label=label, variant="sweep", train_acc=0.9, train_mean_margin=2.0,
                             test_acc=a, test_nll=1.0 if label == "0" else 1.5))
    t = report.paired_wide(pd.DataFrame(rows[::-1]), metrics=["test_acc", "test_nll"])  # order must not matter
    acc = t.loc["test accuracy"]
    assert acc["gap 0"] == report.pm([0.60, 0.70, 0.40]) and acc["gap m0"] == report.pm([0.61, 0.72, 0.43])
    assert acc["gap m0 − gap 0"] == "0.0200 ± 0.0100" and acc["verdict"] == "inconclusive" and acc["seeds"] == 3
    assert t.loc["NLL (lower is better)", "verdict"] == "contradicted"  # +0.5 on every seed: sd 0, p = 0 (the rule)
    assert list(t.columns) == ["gap 0", "gap m0", "gap m0 − gap 0", "seeds", "verdict"]


def test_conclusion_and_glance_repeat_the_claims_tables_verdicts(runs):
    st = Store("cpu", "gap_sweep")
    for s, (a0, a1) in enumerate([(0.60, 0.620), (0.70, 0.721), (0.40, 0.419)]):
        st.put(f"sweep_seed{s}_gap0", _sweep_row(s, "0", 0.0, a0, nll=1.0))
        st.put(f"sweep_seed{s}_gapm0", _sweep_row(s, "m0", 2.0, a1, nll=1.5))
    text = summary.conclusion("gap_sweep", "cpu")
    t = summary.claims_table("cpu")
    mine = {c.label for c in analysis.CLAIMS if c.experiment == "gap_sweep"}
    for _, r in t[t["claim"].map(lambda x: x.split(" — ")[0] in mine)].iterrows():
        if r["verdict"] != "not yet run":
            assert f"**{r['claim']}** — ours: {r['ours']}" in text and f"Verdict: **{r['verdict']}**" in text
    assert "does not fit its training set" in text  # the regime is named (train acc 0.7 here)
    assert report.PM_NOTE in text
    g = summary.at_a_glance().set_index("claim")
    assert g.loc[analysis.claim("1").label, "cpu"] == "+2.0 pt (n=3): supported"
    assert g.loc[analysis.claim("2").label, "cpu"].endswith("inconclusive")  # grid {0, 1}: its top is the best
