"""The verdict logic behind the book's summary table, on hand-made rows with known answers.

The book's conclusions are only as good as these rules, so each is pinned: paired by seed,
>= 3 seeds, every seed must agree for "supported", lower-is-better metrics flipped, a grid whose
best point is its edge flagged, an unfinished profile reported as such.
"""
import numpy as np
import pytest

from dboost import report, summary
from dboost.results import Store


# ----------------------------------------------------------------------------- statistics

def test_pm_uses_sample_std():
    assert report.pm([1.0, 2.0, 3.0], 2) == "2.00 ± 1.00"  # ddof=1: std of 1,2,3 is 1, not 0.816
    assert report.pm([0.5], 3) == "0.500"
    assert report.pm([], 3) == "–"


@pytest.mark.parametrize("diffs,hib,expected", [
    ([0.01, 0.02, 0.03], True, "supported"),
    ([0.01, 0.02, -0.001], True, "inconclusive (seeds disagree)"),
    ([-0.01, 0.005, -0.002], True, "not supported"),
    ([0.0, 0.0, 0.0], True, "not supported"),            # no change is not a gain
    ([0.01, 0.02], True, "inconclusive (n=2 seeds)"),    # too few seeds, however large
    ([-0.1, -0.2, -0.3], False, "supported"),           # NLL/ECE: lower is better
    ([0.1, 0.2, 0.3], False, "not supported"),
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
    # gap m0 wins on every seed by 0.01 .. 0.03 although seed 2 is a much worse run overall:
    # only a *paired* comparison sees that.
    for s, (a0, a1) in enumerate([(0.60, 0.61), (0.70, 0.72), (0.40, 0.43)]):
        st.put(f"sweep_seed{s}_gap0", _sweep_row(s, "0", 0.0, a0, nll=1.0))
        st.put(f"sweep_seed{s}_gapm0", _sweep_row(s, "m0", 2.0, a1, nll=1.5))
    t = summary.claims_table("cpu")
    acc = _claim(t, "1. gap = m0 beats CE, frozen head (accuracy)")
    assert acc["verdict"] == "supported"
    assert "diff 0.0200 ± 0.0100, n=3" in acc["ours"]
    assert _claim(t, "1. gap = m0 beats CE, frozen head (NLL")["verdict"] == "not supported"  # NLL went up
    assert "testbox" in acc["where"] and "3 seed(s)" in acc["where"]
    # experiments without rows say so instead of inventing a verdict
    assert _claim(t, "3.")["verdict"] == "not yet run"
    assert _claim(t, "5. save_mean_reverse")["verdict"] == "not yet run"


def test_claim2_flags_an_incomplete_grid_and_an_edge_optimum(runs):
    from dboost.experiments import PROFILES
    st = Store("cpu", "gap_sweep")
    st.put("sweep_seed0_gap0", _sweep_row(0, "0", 0.0, 0.60))
    st.put("sweep_seed0_gapm0", _sweep_row(0, "m0", 2.0, 0.62))
    assert _claim(summary.claims_table("cpu"), "2.")["verdict"].startswith("inconclusive (grid incomplete")
    mults = [k for k in PROFILES["cpu"]["gap_mults"] if k != 1.0]
    for k in mults:  # accuracy rising with the gap up to the largest: best at the grid's edge
        st.put(f"sweep_seed0_gapm0x{k:g}", _sweep_row(0, f"m0x{k:g}", 2.0 * k, 0.62 + 0.001 * k))
    row = _claim(summary.claims_table("cpu"), "2.")
    assert row["verdict"].startswith("not supported") and "largest of the grid" in row["verdict"]
    assert f"best g = {max(mults):.2f} × m0" in row["ours"]


def _boost_row(seed, rule, members, acc, auc):
    return dict(profile="cpu", experiment="boosting", dataset="cifar10", n_train=5000, n_test=10000, recipe="fast",
                epochs=1, batch_size=100, env=ENV, seed=seed, rule=rule, members=members, member_trained_on="testbox",
                member_wall_time_s=1.0, test=dict(acc=acc, auc_proba=auc))


def test_claim4_every_size_must_win(runs):
    st = Store("cpu", "boosting")
    for s in range(3):
        for m in (1, 2, 3):
            st.put(f"zero_seed{s}_m{m}", _boost_row(s, "zero", m, 0.60 + 0.01 * m, 0.90))
            st.put(f"constant_seed{s}_m{m}", _boost_row(s, "constant", m, 0.65 + 0.01 * m, 0.95))
            # save_mean_reverse: +0.02 over plain at every size > 1; zero_mean_reverse loses at size 3
            st.put(f"save_mean_reverse_seed{s}_m{m}", _boost_row(s, "save_mean_reverse", m, 0.62 + 0.01 * m, 0.91))
            st.put(f"zero_mean_reverse_seed{s}_m{m}",
                   _boost_row(s, "zero_mean_reverse", m, 0.60 + 0.01 * m + (0.01 if m == 2 else -0.01), 0.90))
    t = summary.claims_table("cpu")
    assert _claim(t, "5. save_mean_reverse beats the plain ensemble (acc")["verdict"] == "supported"
    assert _claim(t, "5. zero_mean_reverse beats the plain ensemble (acc")["verdict"] == "not supported"
    assert _claim(t, "5. zero_mean_reverse beats the plain ensemble (ROC")["verdict"] == "not supported"  # ties
    assert _claim(t, "5c. save_mean_reverse beats the constant")["verdict"] == "not supported"


def test_claim3_needs_three_architectures_each_supported(runs):
    st = Store("cpu", "architectures")
    rng = np.random.default_rng(0)
    for arch, gain in (("resnet9", 0.02), ("vgg16", 0.01), ("wide_resnet", -0.01), ("resnet18", 0.03)):
        for s in range(3):
            base = 0.5 + rng.uniform(0, 0.1)
            for label, acc in (("0", base), ("m0", base + gain)):
                r = _sweep_row(s, label, 0.0 if label == "0" else 2.0, acc)
                r.update(experiment="architectures", arch=arch, variant=arch)
                st.put(f"{arch}_seed{s}_gap{label}", r)
    row = _claim(summary.claims_table("cpu"), "4. gain")
    assert row["verdict"] == "supported"              # 3 of 4 architectures win on every seed
    assert "wide_resnet: -0.0100" in row["ours"] and "not supported" in row["ours"]


def test_headline_takes_each_claim_from_the_profile_that_can_decide_it(monkeypatch):
    """>= 3 paired seeds first, then the regime closest to the poster's (gap-0 train accuracy), then scale."""
    import pandas as pd
    from dboost import summary
    tables = {
        "gpu": [("1. a", "supported"), ("2. b", "inconclusive (n=1 seed)"), ("4. c", "inconclusive (n=1 seed)")],
        "interp": [("1. a", "not supported"), ("2. b", "inconclusive (n=2 seeds)"), ("T (ours). d", "supported")],
        "cpu": [("1. a", "supported"), ("2. b", "supported"), ("4. c", "not yet run")],
    }
    acc = {"gpu": 0.89, "interp": 0.997, "cpu": 0.71}
    monkeypatch.setattr(summary, "profiles_with_results", lambda: ["gpu", "interp", "cpu", "smoke"])
    monkeypatch.setattr(summary, "regime", lambda p: dict(train_acc=acc[p], m0=1.0, text=f"acc {acc[p]}"))
    monkeypatch.setattr(summary, "claims_table", lambda p=None: pd.DataFrame(
        [dict(claim=c, poster="ref", ours=f"{p}:{c}", where=p, verdict=v) for c, v in tables[p]]))
    h = summary.headline_table().set_index("claim")
    assert h.loc["1. a", "ours"] == "interp:1. a"          # all decisive: the interpolating regime wins
    assert h.loc["2. b", "ours"] == "cpu:2. b"             # the only decisive one, despite its regime
    assert h.loc["4. c", "ours"] == "gpu:4. c"             # nothing decisive: closest regime that ran it
    assert h.loc["T (ours). d", "ours"] == "interp:T (ours). d"  # a claim only one profile has
    assert list(h.index) == ["1. a", "2. b", "4. c", "T (ours). d"]


def test_boosting_claims_with_no_paired_size_yet_say_not_yet_run(runs):
    """A boosting run still going: the rule and its control have rows, but no common (seed, size > 1)."""
    st = Store("cpu", "boosting", runs)
    for rule, seed in (("zero", 0), ("save_mean_reverse", 1)):
        st.put(f"{rule}_seed{seed}_m1", dict(profile="cpu", experiment="boosting", seed=seed, rule=rule, members=1,
                                             test=dict(acc=0.5, auc_proba=0.9), member_trained_on="x"))
    t = summary.claims_table("cpu")
    row = t[t["claim"].str.startswith("5. save_mean_reverse beats the plain ensemble (acc")].iloc[0]
    assert row["verdict"] == "not yet run"


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
    assert acc["gap m0 − gap 0"] == "0.0200 ± 0.0100" and acc["verdict"] == "supported" and acc["seeds"] == 3
    assert t.loc["NLL (lower is better)", "verdict"] == "not supported"
    assert list(t.columns) == ["gap 0", "gap m0", "gap m0 − gap 0", "seeds", "verdict"]


def test_conclusion_and_glance_repeat_the_claims_tables_verdicts(runs):
    st = Store("cpu", "gap_sweep")
    for s, (a0, a1) in enumerate([(0.60, 0.61), (0.70, 0.72), (0.40, 0.43)]):
        st.put(f"sweep_seed{s}_gap0", _sweep_row(s, "0", 0.0, a0, nll=1.0))
        st.put(f"sweep_seed{s}_gapm0", _sweep_row(s, "m0", 2.0, a1, nll=1.5))
    text = summary.conclusion("gap_sweep", "cpu")
    t = summary.claims_table("cpu")
    for _, r in t[t["claim"].str.startswith(("1.", "2."))].iterrows():
        assert f"**{r['claim']}** — ours: {r['ours']}" in text and f"Verdict: **{r['verdict']}**" in text
    assert "does not fit its training set" in text  # the regime is named (train acc 0.7 here)
    assert report.PM_NOTE in text
    g = summary.at_a_glance().set_index("claim")
    # claim 1's six metrics are one line that keeps each verdict
    line = g.loc["1. gap = m0 beats CE, frozen head", "verdict"]
    assert line.startswith("accuracy: supported;") and "NLL, lower is better: not supported" in line
    assert "2. best constant gap ≈ m0 (within 0.5–2 × m0)" in g.index  # a qualifier, not a metric: kept whole
    assert g.loc["1. gap = m0 beats CE, frozen head", "evidence"] == "cpu, 3 seeds (does not fit its training set)"
