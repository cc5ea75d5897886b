"""dboost.render.tables: the page tables' statistics and formats, on hand-made rows."""
import pandas as pd
import pytest

from dboost.analysis import fmt
from dboost.render import tables


def test_pm_uses_sample_std():
    assert tables.pm([1.0, 2.0, 3.0], 2) == "2.00 ± 1.00"  # ddof=1: std of 1,2,3 is 1, not 0.816
    assert tables.pm([0.5], 3) == "0.500"
    assert tables.pm([], 3) == "–"


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
    assert tables.verdict(diffs, higher_is_better=hib) == expected


def test_paired_wide_reads_across_and_pairs_on_seed():
    rows = []
    for s, (a0, a1) in enumerate([(0.60, 0.61), (0.70, 0.72), (0.40, 0.43)]):
        for label, a in (("0", a0), ("m0", a1)):
            rows.append(dict(seed=s, gap_label=label, variant="sweep", train_acc=0.9, train_mean_margin=2.0,
                             test_acc=a, test_nll=1.0 if label == "0" else 1.5))
    t = tables.paired_wide(pd.DataFrame(rows[::-1]), metrics=["test_acc", "test_nll"])  # order must not matter
    acc = t.loc["test accuracy"]
    # levels in percent, differences in points, NLL in nats (means and ddof=1 stds worked out by hand)
    nb = lambda t: t.replace("_", "\u00a0")  # noqa: E731
    assert acc["gap 0"] == nb("56.7 ±_15.3_%") and acc["gap m0"] == nb("58.7 ±_14.6_%")
    assert acc["gap m0 − gap 0"] == nb("+2.0 ±_1.0_pt") and acc[tables.ROW_VERDICT] == "inconclusive" and acc["seeds"] == 3
    nll = t.loc["NLL (lower is better)"]
    assert nll["gap 0"] == nb("1.000 ±_0.000_nats") and nll["gap m0 − gap 0"] == nb("+0.500 ±_0.000_nats")
    assert t.loc["NLL (lower is better)", tables.ROW_VERDICT] == "contradicted"  # +0.5 on every seed: sd 0, p = 0 (the rule)
    assert list(t.columns) == ["gap 0", "gap m0", "gap m0 − gap 0", "seeds", tables.ROW_VERDICT]


def test_boosting_tables_name_rules_as_the_legends_do():
    rows = [dict(seed=s, rule=r, members=k, test_acc=0.6 + 0.01 * s + (0.02 if r != "zero" else 0) * (k > 1),
                 test_auc_proba=0.9) for s in range(3) for r in ("zero", "constant", "save_mean_reverse") for k in (1, 2)]
    df = pd.DataFrame(rows)
    vs = tables.boosting_vs_plain(df, rules=("save_mean_reverse",), control="constant")
    assert set(vs.index.get_level_values("rule")) == {fmt.RULE_NAMES["save_mean_reverse"]}
    assert f"test accuracy: {fmt.RULE_NAMES['constant']} ensemble" in vs.columns
    t = tables.boosting_table(df)
    # the code's order (constant, save_mean_reverse, zero), shown by the human names
    assert list(dict.fromkeys(t.index.get_level_values("rule"))) == [fmt.RULE_NAMES[r] for r in
                                                                     ("constant", "save_mean_reverse", "zero")]


def test_paired_wide_counts_the_pairs_each_metric_has():
    """Calibrated NLL exists only for rows with stored logits: its line must count and use those
    pairs, not every seed (it once read '5 seeds' over 2 pairs, and NaN made its verdict)."""
    rows = []
    for s, (a0, a1) in enumerate([(0.60, 0.61), (0.70, 0.72), (0.40, 0.43)]):
        for label, a in (("0", a0), ("m0", a1)):
            rows.append(dict(seed=s, gap_label=label, variant="sweep", train_acc=0.9, test_acc=a,
                             test_cal_nll=None if s == 0 else (1.0 if label == "0" else 0.9 + 0.01 * s)))
    t = tables.paired_wide(pd.DataFrame(rows), metrics=["test_acc", "test_cal_nll"])
    assert t.loc["test accuracy", "seeds"] == 3
    cal = t.loc["NLL after temperature scaling (lower is better)"]
    assert cal["seeds"] == 2 and cal[tables.ROW_VERDICT] == "supported"  # -0.09, -0.08: lower on both pairs


def test_the_training_length_figure_labels_each_point_with_its_seeds_and_draws_points():
    """Lengths can differ in seeds (at interp the claim seeds join at the profile's own length): each
    point says its n, and the gain is drawn in percentage points as every gain in the book."""
    import matplotlib
    matplotlib.use("Agg")
    from dboost.render import figures
    rows = [dict(seed=s, head_label="freeze_last x10", length_epochs=e, gap_label=g, train_acc=0.9, train_mean_margin=2.0,
                 test_auc_proba=0.9,
                 test_acc=0.6 + (0.02 if g == "m0" else 0) + 0.001 * s)
            for e, seeds in ((15, range(3)), (150, range(5))) for s in seeds for g in ("0", "m0")]
    fig = figures.plot_training_length(pd.DataFrame(rows))
    labels = sorted(t.get_text() for t in fig.axes[0].texts)
    assert labels == ["15 ep, n=3", "150 ep, n=5"]
    ys = fig.axes[0].lines[0].get_ydata()
    assert list(ys) == pytest.approx([2.0, 2.0])  # +0.02 accuracy = +2 points


def test_tables_name_heads_as_the_figures_do():
    """A reader sees 'frozen ×10', not the rows' label 'freeze_last x10', in every head table."""
    rows = [dict(seed=s, head_label=h, gap_label=g, length_epochs=e, train_acc=0.99, train_mean_margin=2.0 + s,
                 test_acc=0.6 + 0.01 * s + 0.02 * (g == "m0"), test_auc_proba=0.9)
            for s in range(2) for h in ("freeze_last x10", "strong: Linear + LS0.1") for g in ("0", "m0") for e in (15,)]
    df = pd.DataFrame(rows)
    wide = tables.paired_wide(df, by="head_label", metrics=["test_acc"])
    assert set(wide.index.get_level_values("head")) == {"frozen ×10", "strong baseline (Linear + LS 0.1)"}
    assert tables.m0_note(df, by="head_label").count("frozen ×10: 2.50 ± 0.71") == 1
    assert "freeze_last" not in tables.m0_note(df, by="head_label")
    assert set(tables.training_length_table(df).index.get_level_values("head")) == set(wide.index.get_level_values("head"))
    assert tables.m0_note(df.assign(variant="sweep"), by="variant").startswith(tables.term("m0"))  # other groups as stored


def test_the_logged_margin_what_if_carries_the_spec_ratio_too():
    """41.2 / 65.7 = 0.627: the poster's m0 29 would be 29 / 0.627 = 46.2 true, and its best gaps 14-34 would be
    0.30-0.74 x that m0 (worked out by hand)."""
    text = tables._spec_ratio(0.78)
    assert "read 41.2 logged against 65.7 true (0.63 ×, lower than the 0.78 × of our nets)" in text
    assert "true m0 would be ≈ 46 and its best range 0.30–0.74 × m0" in text
    assert "higher than the 0.50 ×" in tables._spec_ratio(0.5)
