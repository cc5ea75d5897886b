"""The verdict rule (``dboost.analysis``) against independent references: scipy's paired t-test and
t interval, statsmodels' Holm, a Holm example worked by hand -- and every headline verdict of the
book recomputed from ``results.csv`` with the stated rule."""
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats as ss

from dboost import analysis
from dboost.analysis import fmt, stats
from dboost.analysis.rows import runs_root

REPO_RUNS = __import__("pathlib").Path(__file__).resolve().parents[1] / "runs"


@pytest.fixture
def repo_runs(monkeypatch):
    """The committed rows (conftest points DBOOST_RUNS at a scratch folder for the notebooks)."""
    monkeypatch.setenv("DBOOST_RUNS", str(REPO_RUNS))
    return REPO_RUNS


def test_analysis_imports_no_torch():
    code = "import sys, dboost.analysis; assert 'torch' not in sys.modules, 'torch imported'"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-c", "from dboost import discounted_cross_entropy, margins, next_gaps"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("t,c", [([0.70, 0.72, 0.69], [0.65, 0.66, 0.66]),
                                 ([0.5, 0.4, 0.6, 0.55, 0.52], [0.52, 0.45, 0.5, 0.5, 0.55])])
def test_paired_test_and_interval_match_scipy(t, c):
    r = stats.paired_test(t, c)
    ref = ss.ttest_rel(t, c)
    assert r["p"] == pytest.approx(ref.pvalue, rel=1e-12)
    d = np.subtract(t, c)
    lo, hi = stats.t_interval(r["mean"], r["se"], r["df"], 0.05)
    rlo, rhi = ss.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=ss.sem(d))
    assert (lo, hi) == pytest.approx((rlo, rhi), rel=1e-12)
    # the one-call form the pages use: the same interval, from the arms or from their differences
    for r2 in (stats.paired_interval(t, c), stats.paired_interval(d)):
        assert (r2["lo"], r2["hi"], r2["p"]) == pytest.approx((rlo, rhi, ref.pvalue), rel=1e-12)
    lo90, hi90 = ss.t.interval(0.90, len(d) - 1, loc=d.mean(), scale=ss.sem(d))
    r90 = stats.paired_interval(d, alpha=0.10)
    assert (r90["lo"], r90["hi"]) == pytest.approx((lo90, hi90), rel=1e-12)


def test_paired_interval_below_two_pairs_has_no_interval():
    r = stats.paired_interval([0.03])
    assert r["n"] == 1 and r["mean"] == pytest.approx(0.03)
    assert np.isnan(r["lo"]) and np.isnan(r["hi"]) and np.isnan(r["p"])


def test_holm_by_hand_and_against_statsmodels():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4·0.005, 3·0.01, 2·0.03, max(0.06, 1·0.04): back in input order
    assert stats.holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    multipletests = pytest.importorskip("statsmodels.stats.multitest").multipletests
    rng = np.random.default_rng(0)
    for _ in range(20):
        q = rng.uniform(0, 0.2, size=rng.integers(1, 12))
        assert stats.holm(q) == pytest.approx(multipletests(q, method="holm")[1], rel=1e-12)


def test_adjusted_interval_excludes_zero_exactly_when_holm_rejects():
    rng = np.random.default_rng(1)
    for _ in range(50):
        m = rng.integers(2, 10)
        ds = [rng.normal(rng.uniform(-0.02, 0.04), 0.01, size=rng.integers(2, 6)) for _ in range(m)]
        res = [stats.paired_test(d, np.zeros_like(d)) for d in ds]
        adj = stats.holm([r["p"] for r in res])
        for r, pa in zip(res, adj):
            lo, hi = stats.t_interval(r["mean"], r["se"], r["df"], stats.adjusted_gamma(r["p"], pa))
            assert (lo > 0 or hi < 0) == (pa <= stats.ALPHA)


@pytest.mark.parametrize("lo,hi,direction,verdict", [(0.01, 0.02, 1, "supported"), (0.01, 0.02, -1, "contradicted"),
                                                     (-0.02, -0.01, 1, "contradicted"), (-0.01, 0.02, 1, "inconclusive")])
def test_decide(lo, hi, direction, verdict):
    assert stats.decide(lo, hi, direction) == verdict


def test_claim_ids_are_unique_and_ours_say_so():
    ids = [c.id for c in analysis.CLAIMS]
    assert len(ids) == len(set(ids))
    for c in analysis.CLAIMS:
        assert ("(ours)" in c.label) == c.ours, c.id


# ----------------------------------------------------------------------------- the headline, recomputed

def _csv(profile, experiment):
    f = runs_root() / profile / experiment / "results.csv"
    return pd.read_csv(f, dtype={"gap_label": str}) if f.exists() else pd.DataFrame()


def _arm(df, arm):
    for k, v in arm.where:
        df = df[df[k] == v]
    return df


def _recompute(profile):
    """Every primary cell of every paired claim from results.csv: (claim, cell) -> (mean, verdict),
    Holm over the profile's primary family with statsmodels, interval by scipy."""
    multipletests = pytest.importorskip("statsmodels.stats.multitest").multipletests
    cells = []
    for c in analysis.CLAIMS:
        df = _csv(profile, c.experiment)
        if c.kind == "optimum" or df.empty:
            continue
        groups = [(None, df)] if c.cells_by is None else list(df.groupby(c.cells_by))
        if c.cells == "above_one":
            groups = [(k, g) for k, g in groups if k > 1]
        if c.cells == "largest":
            groups = groups[-1:]
        for key, g in groups:
            for ctrl in c.control:
                if c.kind == "gain_difference":
                    def gain(a):
                        p = _arm(g, a).pivot_table(index="seed", columns="gap_label", values=c.metric)
                        return p["m0"] - p["0"]
                    t, k = gain(c.treatment), gain(ctrl)
                else:
                    t = _arm(g, c.treatment).set_index("seed")[c.metric]
                    k = _arm(g, ctrl).set_index("seed")[c.metric]
                both = pd.concat([t, k], axis=1, join="inner").dropna()
                if len(both):
                    cells.append(dict(claim=c.id, key=key, dir=c.direction, t=both.iloc[:, 0].to_numpy(),
                                      c=both.iloc[:, 1].to_numpy()))
    # a claim declared same_pairs_as another whose pairs are that claim's is one test, counted once
    for x in cells:
        other = analysis.claim(x["claim"]).same_pairs_as
        x["dup"] = next((y for y in cells if y["claim"] == other and len(y["t"]) == len(x["t"])
                         and np.array_equal(y["t"], x["t"]) and np.array_equal(y["c"], x["c"])), None)
    tested = [x for x in cells if len(x["t"]) >= 2 and x["dup"] is None]
    ps = [ss.ttest_rel(x["t"], x["c"]).pvalue for x in tested]
    adj = multipletests(ps, method="holm")[1] if tested else []
    for x, p, pa in zip(tested, ps, adj):
        d = x["t"] - x["c"]
        lo, hi = ss.t.interval(1 - 0.05 * p / pa, len(d) - 1, loc=d.mean(), scale=ss.sem(d))
        x["verdict"] = ("supported" if lo > 0 else "contradicted") if (lo > 0 or hi < 0) else "inconclusive"
        if x["dir"] < 0 and x["verdict"] != "inconclusive":
            x["verdict"] = {"supported": "contradicted", "contradicted": "supported"}[x["verdict"]]
    for x in cells:
        if x["dup"] is not None and "verdict" in x["dup"]:
            x["verdict"] = x["dup"]["verdict"]
        x.setdefault("verdict", "inconclusive (n too small)")
        x["mean"] = float(np.mean(x["t"] - x["c"]))
    return cells


@pytest.mark.parametrize("profile", ["interp", "gpu", "cpu"])
def test_every_headline_verdict_recomputes_from_the_rows(profile, repo_runs):
    if not (repo_runs / profile).is_dir():
        pytest.skip(f"no rows of profile {profile}")
    h = analysis.headline()
    mine = h[h["profile"] == profile]
    assert not mine.empty
    cells = _recompute(profile)
    for _, r in mine.iterrows():
        c = analysis.claim(r["claim"])
        if c.kind == "optimum":
            continue
        ours = [x for x in cells if x["claim"] == c.id]
        assert ours, c.id
        vs = {x["verdict"] for x in ours}
        expect = ("contradicted" if "contradicted" in vs else "supported" if vs == {"supported"}
                  else "inconclusive (n too small)" if vs == {"inconclusive (n too small)"} else "inconclusive")
        assert r["verdict"] == expect, (profile, c.id, vs)
        assert any(x["mean"] == pytest.approx(r["mean"], abs=1e-12) for x in ours), (profile, c.id)


def test_a_claim_on_another_claims_pairs_is_counted_once_in_the_family(repo_runs):
    """T at interp's own length is claim 1's networks: it takes claim 1's adjustment, and the family
    holds one test fewer than the comparisons listed (Holm over the distinct ones, by statsmodels)."""
    multipletests = pytest.importorskip("statsmodels.stats.multitest").multipletests
    comp = analysis.comparisons("interp")
    prim = comp[(comp["role"] == "primary") & (comp["n"] >= 2)]
    t, one = prim[prim["claim"] == "T"].iloc[0], prim[prim["claim"] == "1"].iloc[0]
    assert t["same_as"] == "1" and t["seeds"] == one["seeds"]
    assert (t["lo"], t["hi"], t["p_adj"]) == (one["lo"], one["hi"], one["p_adj"])
    distinct = prim[prim["same_as"] == ""]
    assert set(prim["family_size"]) == {len(distinct)} == {len(prim) - 1}
    assert distinct["p_adj"].to_numpy() == pytest.approx(multipletests(distinct["p"], method="holm")[1], rel=1e-12)


def test_claim2_optimum_from_the_rows(repo_runs):
    """Claim 2 as the poster draws it: per-seed argmax over the common grid, geometric mean."""
    for p in ("interp", "gpu", "cpu"):
        df = _csv(p, "gap_sweep")
        if df.empty:
            continue
        df = df[df["variant"] == "sweep"]
        df["mult"] = df["gap_label"].map(lambda g: 0.0 if g == "0" else 1.0 if g == "m0" else float(g[3:]))
        acc = df.pivot_table(index="seed", columns="mult", values="test_acc")
        n_points = acc.notna().sum(axis=1)
        acc = acc[n_points >= n_points.median()].dropna(axis=1)  # seeds still training their grid wait
        best = acc.idxmax(axis=1).to_numpy(float)
        o = analysis.verdicts.optimum(p)
        assert o["best"] == list(best)
        if (acc.columns > 0).sum() < 2:  # only gap 0 and m0 in common: "best = m0" is forced, not found
            assert o["verdict"] == analysis.verdicts.NO_COMMON_GRID and np.isnan(o["centre"]), p
        elif (best > 0).all() and len(best) >= 2:
            assert o["centre"] == pytest.approx(2 ** np.log2(best).mean())


def test_the_answer_names_every_regime_of_a_claim_it_calls_supported_or_contradicted(repo_runs):
    """A verdict in one regime must not read as the answer for all: the answer box lists, for each
    supported or contradicted claim, the verdicts of the other regimes that ran it."""
    from dboost.analysis import verdicts
    h = verdicts.headline()
    text = analysis.answer()
    tags = {c.id: c.tag for c in verdicts.CLAIMS}

    def item(cid: str) -> str:  # the answer's list item of claim cid: "- **3b (ours).** ..."
        number = analysis.claim(cid).label.split(". ", 1)[0]
        lines = [x for x in text.split("\n") if x.startswith(f"- **{number}.** ")]
        assert len(lines) == 1, (cid, text)
        return lines[0]

    checked = 0
    for cid, g in h[h["verdict"].isin(["supported", "contradicted"])].groupby("claim"):
        if cid == "T" and f"{tags[cid]} is this same comparison" in text:
            continue  # said inside claim 1's item (test below)
        part = item(cid)
        for prof in h[h["claim"] == cid]["profile"]:
            assert prof in part, (cid, prof, part)
            checked += 1
    assert checked  # the committed rows have supported and contradicted claims


def test_the_training_length_verdict_quotes_the_summarys_verdicts_of_its_networks(repo_runs):
    """The training-length page reads its pairs unadjusted; the same networks are claim T (and, at
    the profile's own length, S2) in the summary, Holm-adjusted.  The page must state those verdicts
    as the summary has them, and claim T must read every seed that trained its networks: at interp
    they are claim 1's, so T and claim 1 agree."""
    from dboost.render import studies
    from dboost.analysis import fmt
    text = studies.training_length_verdict("interp")
    t = analysis.claim_verdicts("interp").set_index(["claim", "metric"])
    for cid in ("T", "S2"):
        r = t.loc[(cid, "test_acc")]
        assert f"{fmt.estimate(r['mean'], r['lo'], r['hi'])}, n={int(r['n'])}, **{r['verdict']}**" in text, cid
    one, T = t.loc[("1", "test_acc")], t.loc[("T", "test_acc")]
    assert (T["n"], T["mean"], T["verdict"]) == (one["n"], one["mean"], one["verdict"])
    # the answer box says so, instead of listing T as a second, independent finding
    if T["verdict"] in ("supported", "contradicted"):
        text = analysis.answer()
        assert f"n={int(T['n'])}; T (ours) is this same comparison" in text
        assert "- **T (ours).**" not in text  # not listed again as an item of its own


def test_the_answer_qualifies_a_supported_claim_where_a_declared_caveat_holds(repo_runs):
    """CAVEATS: a supported claim is qualified in the answer, in the same regime, exactly where the
    other claim's verdict says so (5 save mean with 5c contradicted; claim 1 with S1 not supported)."""
    from dboost.analysis import claims, verdicts
    h = verdicts.headline().set_index(["claim", "profile"])["verdict"]
    text = analysis.answer()
    seen = 0
    for cid, other, qualifying, words in claims.CAVEATS:
        for (c, prof), v in h.items():
            if c != cid or v != "supported" or (other, prof) not in h:
                continue
            said = f"*But* {words.split('{')[0]}"  # the words up to a computed count
            whose = f"({analysis.claim(other).tag} {h[(other, prof)]} at {prof}"
            item = next(x for x in text.split("\n") if x.startswith(f"- **{analysis.claim(cid).label.split('. ')[0]}.**"))
            assert (said in item and whose in item) == (h[(other, prof)] in qualifying), (cid, prof)
            seen += 1
    assert seen


def test_an_inconclusive_claim_shows_a_cell_that_is_not_supported():
    """A claim over several cells is inconclusive when some cell is not supported; the cell it shows
    must be one of those (the weakest of them), not a supported cell that merely has the smallest
    mean -- else the headline prints an interval that excludes 0 beside 'inconclusive'."""
    from dboost.analysis.verdicts import N_TOO_SMALL, _combine
    cells = pd.DataFrame(dict(cell=["size 2", "size 3", "size 5", "size 7"], n=[4, 3, 3, 1],
                              mean=[0.008, 0.012, 0.011, 0.001], lo=[0.004, -0.002, -0.007, np.nan],
                              hi=[0.013, 0.026, 0.03, np.nan], p=[0.01, 0.05, 0.06, np.nan],
                              p_adj=[0.03, 0.1, 0.1, np.nan], direction=[1, 1, 1, 1],
                              verdict=["supported", "inconclusive", "inconclusive", N_TOO_SMALL],
                              treatment_mean=[0.7] * 4, control_mean=[0.69] * 4, family_size=[19] * 4))
    r = _combine(cells)
    assert r["verdict"] == "inconclusive" and r["cell"] == "size 5"  # the weakest that fails, with n >= 2
    r = _combine(cells.iloc[[0, 3]])  # the only failing cell has n < 2: it is still the one shown
    assert r["verdict"] == "inconclusive" and r["cell"] == "size 7"
    r = _combine(cells.assign(verdict="supported").iloc[:3])
    assert r["verdict"] == "supported" and r["cell"] == "size 2"  # all supported: the weakest of all


def test_a_caveat_counts_the_cells_and_quotes_an_unadjusted_interval_that_points_the_other_way(repo_runs):
    """5 (save mean) against 5c: the count of 5c's cells whose mean favours the constant-gap ensemble;
    3b against claim 3: claim 3's unadjusted interval where it excludes 0 against claim 3."""
    from dboost.analysis import verdicts
    text = analysis.answer()
    comp = verdicts.comparisons("interp")
    h = verdicts.headline().set_index(["claim", "profile"])
    if h.loc[("5-save", "interp"), "verdict"] == "supported" and h.loc[("5c", "interp"), "verdict"] == "contradicted":
        c = comp[(comp["claim"] == "5c") & (comp["role"] == "primary")]
        assert f"is ahead of it at {int((c['mean'] * c['direction'] < 0).sum())} of {len(c)} sizes" in text
    r = h.loc[("3", "interp")]
    if h.loc[("3-ours", "interp"), "verdict"] == "supported" and r["verdict"] == "inconclusive" and r["hi_raw"] < 0:
        assert f"its unadjusted 95 % interval points the other way: {fmt.interval(r['lo_raw'], r['hi_raw'])}" in text


@pytest.mark.parametrize("lo,hi,direction,kind,side", [
    (0.2, 2.2, 1, "paired", 1), (-2.6, -0.5, 1, "paired", -1), (-0.5, 0.4, 1, "paired", 0),
    (-0.3, -0.1, -1, "paired", 1),   # a lower-is-better claim: below 0 is the claimed side
    (0.1, 0.3, -1, "paired", -1), (np.nan, np.nan, 1, "paired", 0), (0.95, 2.4, 1, "optimum", 0)])
def test_leans_reads_the_unadjusted_interval_against_the_claimed_direction(lo, hi, direction, kind, side):
    from types import SimpleNamespace
    from dboost.analysis.answer_box import _leans
    by = {"x": SimpleNamespace(kind=kind)}
    assert _leans(dict(claim="x", lo_raw=lo, hi_raw=hi, direction=direction), by) == side


def test_the_answer_counts_undecided_pairs_on_both_sides_alike(repo_runs):
    """Undecided pairs that lean the claimed way before Holm are counted as plainly as those that lean
    against, and the three counts add up to the undecided pairs with a test."""
    import re
    text = analysis.answer()
    m = re.search(r"in (\d+) \(claim, regime\) pairs.*?Before Holm's correction (\d+) of them lean the claimed way"
                  r".*?, (\d+) the other way.*?and (\d+) lean neither way", text, re.S)
    if m is None:
        pytest.skip("no undecided pair leans either way in these rows")
    total, up, down, neither = map(int, m.groups())
    assert up + down + neither == total


def test_the_landing_boxs_html_has_one_list_item_per_claim_of_the_answer(repo_runs):
    """The landing page shows the answer through a cross-page glue, as HTML: each part a paragraph,
    each claim of a part a list item, its Markdown emphasis kept and its text escaped."""
    pytest.importorskip("IPython")
    from dboost.render import summary
    text = analysis.answer()
    html = summary.answer_html().data
    items = [x for x in text.split("\n") if x.startswith("- ")]
    assert items and html.count("<li>") == len(items) and html.count("<p>") == text.count("\n\n") + 1
    assert "**" not in html and "<b>Supported</b>" in html


def test_the_forest_plot_marks_a_claim_that_is_another_claims_comparison(repo_runs):
    from dboost.analysis import forest, verdicts
    h = verdicts.headline()
    assert forest._tick(analysis.claim("T"), h) == "T (ours) (≡ 1)"   # interp's T is claim 1's pairs
    assert forest._tick(analysis.claim("1"), h) == "1"
    changed = h.copy()
    changed.loc[changed["claim"] == "T", "mean"] += 0.01                 # a T of its own: no mark
    assert forest._tick(analysis.claim("T"), changed) == "T (ours)"


def test_a_claim_on_another_claims_pairs_says_so_in_its_row(repo_runs):
    """T at the profile's own length is claim 1's networks: its row says it is the same test, counted once."""
    from dboost.render import summary
    h = analysis.verdicts.claim_verdicts("interp")
    t_row = h[(h["claim"] == "T") & (h["role"] == "primary")]
    if t_row.empty or t_row.iloc[0]["same_as"] != "1":
        pytest.skip("T's pairs are not claim 1's in these rows")
    ours = summary.claims_table("interp").set_index("claim").loc[analysis.claim("T").label, "ours"]
    assert "the same pairs as claim 1: one test, counted once in the Holm family" in ours


def test_the_answer_says_how_claim_1s_gain_moves_with_more_data_from_the_data_size_rows(repo_runs):
    """Claim 1 is supported on a small subset; where the data-size study trained larger sets the answer
    says how the gain moves from the regime's own size to the largest, recomputed here with scipy."""
    import scipy.stats as ss
    from dboost.config import PROFILES
    from dboost.analysis import data_size as ds, fmt, rows, verdicts
    h = verdicts.headline().set_index(["claim", "profile"])["verdict"]
    if h.get(("1", "interp")) != "supported":
        pytest.skip("claim 1 is not supported at interp in the committed rows")
    pr = ds.pairs(rows("data_size", "interp")).query("head_label == 'freeze_last x10'")
    ref, big = PROFILES["interp"].n_train, int(pr["size"].max())
    g = pr.pivot_table(index="seed", columns="size", values="gain")[[ref, big]].dropna() * 100
    d = (g[big] - g[ref]).to_numpy()
    lo, hi = ss.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=ss.sem(d))
    said = (f"at {big:,} images it is {fmt.pt(pr[pr['size'] == big].gain.mean())}, a change of "
            f"{fmt.estimate(d.mean() / 100, lo / 100, hi / 100)} from {ref:,}")
    line = [x for x in analysis.answer().split("\n") if x.startswith("- **1.** ")][0]
    assert said in line and f"n={len(d)}" in line
    assert ("*But* the data-size study finds the gain shrinks with data" in line) == (hi < 0)
