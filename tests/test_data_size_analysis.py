"""dboost.analysis.data_size, the page's numbers: pairing on (size, head, seed, length), the trend
line and its extrapolation against statsmodels' OLS, the verdict's words from the trend's sign, and
the context sentence against the claims table it quotes."""
import math

import numpy as np
import pandas as pd
import pytest

from dboost.analysis import data_size as ds

HEAD = "freeze_last x10"


def _rows(gains: dict[int, list[float]], train_acc0: float = 1.0, head: str = HEAD) -> pd.DataFrame:
    """Data-size rows: per size and seed a gap-0 net at 0.6 and a gap-m0 net ``gain`` above it."""
    out = []
    for n, gs in gains.items():
        for seed, g in enumerate(gs):
            common = dict(size=n, head_label=head, seed=seed, size_epochs=10, train_mean_margin=5.0, test_nll=1.0)
            out.append(dict(common, gap_label="0", test_acc=0.6, train_acc=train_acc0))
            out.append(dict(common, gap_label="m0", test_acc=0.6 + g, train_acc=1.0))
    return pd.DataFrame(out)


def test_pairs_match_on_seed_and_drop_an_unpartnered_probe():
    df = _rows({1000: [0.05, 0.04], 2000: [0.03, 0.02]})
    probe = dict(size=1000, head_label=HEAD, seed=0, size_epochs=5, gap_label="0", test_acc=0.5, train_acc=0.9,
                 train_mean_margin=4.0, test_nll=1.0)  # a shorter probe length: no gap-m0 partner
    pr = ds.pairs(pd.concat([df, pd.DataFrame([probe])], ignore_index=True))
    assert len(pr) == 4 and set(pr.epochs) == {10}
    assert pr.set_index(["size", "seed"]).gain.to_dict() == pytest.approx(
        {(1000, 0): 0.05, (1000, 1): 0.04, (2000, 0): 0.03, (2000, 1): 0.02})


def test_trend_and_its_prediction_interval_match_statsmodels_ols():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(0)
    sizes = [1000, 2000, 5000, 10000]
    gains = {n: list(0.08 - 0.02 * math.log10(n / 1000) + rng.normal(0, 0.005, 3)) for n in sizes}
    t = ds.trend(_rows(gains))
    x = np.log10(np.repeat(sizes, 3).astype(float))
    y = 100 * np.concatenate([gains[n] for n in sizes])
    fit = sm.OLS(y, sm.add_constant(x)).fit()
    assert t["slope"] == pytest.approx(fit.params[1], rel=1e-10)
    assert (t["slope_lo"], t["slope_hi"]) == pytest.approx(tuple(fit.conf_int(0.05)[1]), rel=1e-10)
    pred = fit.get_prediction(np.array([[1.0, math.log10(50_000)]])).summary_frame(alpha=0.05)
    assert t["at_poster"] == pytest.approx(pred["mean"].iloc[0], rel=1e-10)
    assert (t["at_poster_lo"], t["at_poster_hi"]) == pytest.approx(
        (pred["obs_ci_lower"].iloc[0], pred["obs_ci_upper"].iloc[0]), rel=1e-10)


def test_verdict_reads_the_trend_sign_and_labels_the_extrapolation():
    shrink = {1000: [0.08, 0.081, 0.079], 2000: [0.06, 0.061, 0.059], 5000: [0.035, 0.034, 0.036]}
    text = ds.verdict(_rows(shrink), 2.0)
    assert "the gain shrinks with data" in text and "*Extrapolation, not a measurement:*" in text
    flat = {1000: [0.05, 0.03, 0.04], 2000: [0.03, 0.05, 0.04], 5000: [0.04, 0.05, 0.03]}
    assert "shows no trend with data that we can tell from zero" in ds.verdict(_rows(flat), 2.0)
    two = ds.verdict(_rows({1000: [0.05, 0.04], 2000: [0.03, 0.02]}), 2.0)
    assert "no trend is fitted yet" in two and "Extrapolation" not in two


def test_verdict_names_sizes_whose_gap0_nets_do_not_fit():
    text = ds.verdict(_rows({1000: [0.05, 0.04]}, train_acc0=0.95), 2.0)
    assert "2 gap-0 net(s) stay below 99 % train accuracy (sizes [1000])" in text


def test_context_quotes_claim_1_from_the_claims_table(monkeypatch):
    from pathlib import Path
    from dboost.analysis import fmt
    from dboost.analysis.verdicts import claim_verdicts
    monkeypatch.setenv("DBOOST_RUNS", str(Path(__file__).resolve().parents[1] / "runs"))
    r = claim_verdicts("interp").query("claim == '1' and role == 'primary'").iloc[0]
    text = ds.context(2.0, 0.915)
    assert f"reaches {fmt.pct(r.control_mean)} and gap m0 gains {fmt.estimate(r['mean'], r.lo, r.hi)}" in text
    assert f"n = {int(r.n)} paired seeds: {r.verdict}" in text
    assert "+2.0 pt over its own 91.5 % gap-0 net at 50,000 images" in text


def test_context_without_rows_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("DBOOST_RUNS", str(tmp_path))
    assert "Claim 1 has no `interp` rows yet" in ds.context(2.0, 0.915)


def test_resampled_seeds_set_claims_1_3_and_3b_beside_the_fixed_subset_with_scipy_intervals(runs):
    """The heads page's seeds share one subset, the data-size study's seeds at the same size draw their own:
    each of claims 1, 3 and 3b gets its effect and unadjusted interval on both (scipy's paired t), and the
    resampled interval's width over the fixed one's; a probe length without its gap-m0 partner is left out."""
    import scipy.stats as ss
    from fake_rows import sweep_row
    from dboost.results import Store
    rng = np.random.default_rng(1)
    fr, dz, sw = Store("cpu", "frozen_last_layer"), Store("cpu", "data_size"), Store("cpu", "gap_sweep")
    acc = {}
    for where, spread in (("fixed", 0.005), ("own", 0.02)):
        for s in range(5):
            for head, base, gain in (("freeze_last x10", 0.60, 0.05), ("Linear", 0.66, 0.01)):
                a0 = base + rng.normal(0, spread)
                a1 = a0 + gain + rng.normal(0, spread)
                acc[where, head, s] = (a0, a1)
                for label, a in (("0", a0), ("m0", a1)):
                    r = dict(sweep_row(s, label, 0.0 if label == "0" else 2.0, a), n_train=2000, head_label=head)
                    if where == "fixed":
                        fr.put(f"{head}_{s}_{label}", dict(r, experiment="frozen_last_layer", variant="head"))
                        if head == "freeze_last x10":  # claim 1 reads the gap sweep: the same networks
                            sw.put(f"sweep_{s}_{label}", dict(r, n_train=2000))
                    else:
                        dz.put(f"{head}_{s}_{label}", dict(r, experiment="data_size", size=2000, subset_seed=s,
                                                             size_epochs=150, variant="size2000"))
    dz.put("probe", dict(sweep_row(0, "0", 0.0, 0.1), experiment="data_size", size=2000, subset_seed=0, size_epochs=75,
                         n_train=2000, head_label="freeze_last x10", variant="size2000"))  # no partner: dropped
    t = ds.resampled("cpu").set_index(["claim", "subsets"])
    arms = {"1": lambda w, s: (acc[w, "freeze_last x10", s][1], acc[w, "freeze_last x10", s][0]),
            "3": lambda w, s: (acc[w, "freeze_last x10", s][1], acc[w, "Linear", s][1]),
            "3-ours": lambda w, s: (acc[w, "freeze_last x10", s][1] - acc[w, "freeze_last x10", s][0],
                                    acc[w, "Linear", s][1] - acc[w, "Linear", s][0])}
    from dboost import analysis
    for cid, f in arms.items():
        for w, label in (("fixed", "one subset for every seed"), ("own", "each seed its own subset")):
            d = np.array([np.subtract(*f(w, s)) for s in range(5)]) * 100
            lo, hi = ss.t.interval(0.95, 4, loc=d.mean(), scale=ss.sem(d))
            r = t.loc[(analysis.claim(cid).label, label)]
            assert r["n"] == 5 and r["mean"] == pytest.approx(d.mean()) and (r["lo"], r["hi"]) == pytest.approx((lo, hi))
            assert r["sd"] == pytest.approx(d.std(ddof=1))  # the spread across seeds, independent of n
    table = ds.resampled_table("cpu")
    own = table[table["training subsets"] == "each seed its own subset"].set_index("claim")
    c1 = t.loc[analysis.claim("1").label]
    assert set(own.index) == {"1", "3", "3b (ours)"}  # the claims' numbers: the table fits a phone
    assert own.loc["1", "width × the fixed subset's"] == \
        f"{c1.loc['each seed its own subset', 'width'] / c1.loc['one subset for every seed', 'width']:.2f}"
    line = ds.resampled_sentence("cpu")
    assert line.count("× as wide") == 3 and "claim 3b (ours):" in line and "over 5 seeds with their own subsets" in line
    assert "here it shows" in line and "t quantile" not in line  # own subsets spread 4 x wider; n equal on both sides


def test_no_resampled_rows_yet_says_so(runs):
    from fake_rows import sweep_row
    from dboost.results import Store
    fr = Store("cpu", "frozen_last_layer")
    for s in range(2):
        fr.put(f"x_{s}", dict(sweep_row(s, "0", 0.0, 0.6), experiment="frozen_last_layer", n_train=2000,
                              head_label="freeze_last x10"))
    assert ds.resampled("cpu").empty and ds.resampled_sentence("cpu") == ""


def test_seed_trend_is_the_mean_of_per_seed_slopes_with_a_scipy_t_interval():
    from scipy import stats
    rng = np.random.default_rng(1)
    sizes = [500, 1000, 2000, 5000]
    per_seed = {s: 0.02 * (s - 1) for s in range(3)}           # seeds differ in slope: -2, 0, +2 pt per tenfold
    gains = {n: [0.05 + per_seed[s] * math.log10(n / 1000) + rng.normal(0, 0.002) for s in range(3)] for n in sizes}
    df = _rows(gains)
    extra = _rows({2000: [0.0] * 5}).query("seed >= 3")       # seeds at one size only: no slope, drop out
    t = ds.seed_trend(pd.concat([df, extra], ignore_index=True))
    x = np.log10(np.array(sizes, float))
    slopes = [stats.linregress(x, [100 * gains[n][s] for n in sizes]).slope for s in range(3)]
    lo, hi = stats.t.interval(0.95, 2, loc=np.mean(slopes), scale=stats.sem(slopes))
    assert t["n_seeds"] == 3 and t["slope"] == pytest.approx(np.mean(slopes), rel=1e-9)
    assert (t["slope_lo"], t["slope_hi"]) == pytest.approx((lo, hi), rel=1e-9)
    assert ds.seed_trend(_rows({1000: [0.05, 0.04]})) is None


def test_verdict_says_when_the_per_seed_reading_disagrees_with_pooled_ols():
    # every point on one tight line per seed, but the seeds' slopes scatter: pooled OLS sees a clear
    # downward slope only because it counts 3 x 4 points; over 3 seeds the interval spans zero
    sizes = [500, 1000, 2000, 5000]
    slopes = [-0.045, -0.005, 0.0]
    gains = {n: [0.05 + b * math.log10(n / 1000) for b in slopes] for n in sizes}
    t, st = ds.trend(_rows(gains)), ds.seed_trend(_rows(gains))
    assert t["slope_hi"] < 0 and st["slope_lo"] < 0 < st["slope_hi"]
    text = ds.verdict(_rows(gains), 2.0)
    assert "the gain shrinks with data" in text and "**the two readings disagree**" in text
    shrink = {1000: [0.08, 0.081, 0.079], 2000: [0.06, 0.061, 0.059], 5000: [0.035, 0.034, 0.036]}
    assert "the same reading." in ds.verdict(_rows(shrink), 2.0)


def test_lack_of_fit_matches_statsmodels_anova_of_line_against_size_means():
    sm = pytest.importorskip("statsmodels.formula.api")
    from statsmodels.stats.anova import anova_lm
    rng = np.random.default_rng(2)
    hump = {500: 0.03, 1000: 0.05, 2000: 0.055, 5000: 0.02}  # up then down: a line fits badly
    gains = {n: list(m + rng.normal(0, 0.005, 3)) for n, m in hump.items()}
    lof = ds.lack_of_fit(_rows(gains))
    d = pd.DataFrame([(math.log10(n), str(n), 100 * g) for n, gs in gains.items() for g in gs], columns=["x", "c", "y"])
    a = anova_lm(sm.ols("y ~ x", d).fit(), sm.ols("y ~ C(c)", d).fit())
    assert lof["F"] == pytest.approx(a["F"].iloc[1], rel=1e-9) and lof["p"] == pytest.approx(a["Pr(>F)"].iloc[1], rel=1e-9)
    assert (lof["df1"], lof["df2"], lof["peak"]) == (2, 8, 2000) and lof["p"] < 0.05
    assert "**A straight line does not describe the gains**" in ds.verdict(_rows(gains), 2.0)
    line = {n: list(0.08 - 0.02 * math.log10(n / 1000) + rng.normal(0, 0.005, 3)) for n in hump}
    assert ds.lack_of_fit(_rows(line))["p"] > 0.05
    assert "A straight line is not rejected" in ds.verdict(_rows(line), 2.0)


def test_change_from_the_profile_size_to_the_largest_is_paired_on_seed():
    from scipy import stats
    gains = {1000: [0.05, 0.04, 0.06], 2000: [0.06, 0.05, 0.055], 5000: [0.02, 0.03, 0.015]}
    ch = ds.change_from(_rows(gains), 2000)
    diff = 100 * (np.array(gains[5000]) - np.array(gains[2000]))
    lo, hi = stats.t.interval(0.95, 2, loc=diff.mean(), scale=stats.sem(diff))
    assert (ch["ref"], ch["big"], ch["n"]) == (2000, 5000, 3)
    assert (ch["mean"], ch["lo"], ch["hi"]) == pytest.approx((diff.mean(), lo, hi), rel=1e-9)
    assert ds.change_from(_rows(gains), 5000) is None          # nothing larger than the profile's size
    assert "From the profile's own 2,000 images to the largest size trained (5,000)" in ds.verdict(_rows(gains), 2.0, 2000)
    assert "From the profile's own" not in ds.verdict(_rows(gains), 2.0)


def test_verdict_says_when_sizes_trained_for_different_lengths():
    same = ds.verdict(_rows({1000: [0.05, 0.04], 2000: [0.03, 0.02]}), 2.0)
    assert "do not share one length" not in same
    df = _rows({1000: [0.05, 0.04], 2000: [0.03, 0.02]})
    df.loc[df["size"] == 2000, "size_epochs"] = 20
    text = ds.verdict(df, 2.0)
    assert "The sizes do not share one length (1,000 images: 10 epochs (100 steps); 2,000 images: 20 epochs (400 steps), each" in text


def test_probes_list_each_sizes_lengths_in_order_and_flag_one_still_doubling():
    df = _rows({1000: [0.05, 0.04], 2000: [0.03, 0.02]})
    probe = dict(size=2000, head_label=HEAD, seed=0, size_epochs=5, gap_label="0", test_acc=0.5, train_acc=0.9,
                 train_mean_margin=4.0, test_nll=1.0)
    big = dict(probe, size=4000, size_epochs=8, train_acc=0.95)  # the largest size has not fitted yet
    text = ds.probes(pd.concat([df, pd.DataFrame([probe, big])], ignore_index=True))
    assert "1,000 images: 10 epochs (100 steps): 100.0 %;" in text
    assert "2,000 images: 5 epochs (100 steps): 90.0 % → 10 epochs (200 steps): 100.0 %;" in text
    assert "4,000 images: 8 epochs (320 steps): 95.0 % (below the fit" in text
    assert ds.probes(df.iloc[0:0]) == ""
    spent = ds.probes(pd.concat([df, pd.DataFrame([probe, big])], ignore_index=True), max_doublings=0)
    assert "4,000 images: 8 epochs (320 steps): 95.0 % (below the fit after the last doubling allowed" in spent
