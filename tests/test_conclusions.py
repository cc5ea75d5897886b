"""dboost.render.conclusions: a page's conclusion repeats the claims table's verdicts, in words."""
from dboost import analysis
from dboost.render import conclusions, summary
from dboost.render.markdown import PM_NOTE
from dboost.results import Store
from fake_rows import sweep_row


def test_conclusion_and_glance_repeat_the_claims_tables_verdicts(runs):
    st = Store("cpu", "gap_sweep")
    for s, (a0, a1) in enumerate([(0.60, 0.620), (0.70, 0.721), (0.40, 0.419)]):
        st.put(f"sweep_seed{s}_gap0", sweep_row(s, "0", 0.0, a0, nll=1.0))
        st.put(f"sweep_seed{s}_gapm0", sweep_row(s, "m0", 2.0, a1, nll=1.5))
    text = conclusions.conclusion("gap_sweep", "cpu")
    t = summary.claims_table("cpu")
    mine = {c.label for c in analysis.CLAIMS if c.experiment == "gap_sweep"}
    for _, r in t[t["claim"].map(lambda x: x.split(" — ")[0] in mine)].iterrows():
        if r["verdict"] != "not yet run":
            assert f"**{r['claim']}** — ours: {r['ours']}" in text and f"Verdict: **{r['verdict']}**" in text
    assert "does not fit its training set" in text  # the regime is named (train acc 0.7 here)
    assert PM_NOTE in text
    g = summary.at_a_glance().set_index("claim")
    assert g.loc[analysis.claim("1").label, "cpu"] == "+2.0 pt (n=3): supported"
    assert g.loc[analysis.claim("2").label, "cpu"] == "n=3: inconclusive (no common grid)"  # grid {0, 1}: nothing to locate


def _grid(best_by_seed, m0=2.0):
    """A gap-sweep store of seeds whose grid 0, 0.5, 1, 2, 4 x m0 peaks at the multiple given per seed."""
    st = Store("cpu", "gap_sweep")
    for s, best in enumerate(best_by_seed):
        for mult in (0, 0.5, 1, 2, 4):
            label = "0" if mult == 0 else "m0" if mult == 1 else f"m0x{mult:g}"
            acc = 0.6 + (0.05 if mult == best else 0.01 * mult)
            st.put(f"sweep_seed{s}_{label}", sweep_row(s, label, mult * m0, acc, m0=m0))


def _relative(profile="cpu"):
    return next(line for line in conclusions.caveats(profile).split("\n") if "Relative or absolute" in line)


def test_the_gap_caveat_says_no_more_than_claim_2s_verdict(runs):
    """The caveat on where the best gap sits reads claim 2's estimate over every seed: it says the
    rule of thumb holds only where claim 2 is supported (it once said so from one seed's grid and a
    0.5-2 x m0 window of ours)."""
    _grid([1, 1, 1, 1])  # every seed peaks at m0: inside the poster's 0.48-1.2 x m0
    o = analysis.verdicts.optimum("cpu")
    assert o["verdict"] == "supported" and "Here the rule of thumb g ≈ m0 holds." in _relative()
    assert "over 4 seeds" in _relative() and "(claim 2: supported)" in _relative()


def test_the_gap_caveat_on_seeds_that_disagree_decides_nothing(runs):
    _grid([0.5, 2, 1, 2])  # the seeds spread over 0.5-2 x m0: the interval straddles the poster's range
    o = analysis.verdicts.optimum("cpu")
    line = _relative()
    assert o["verdict"] == "inconclusive" and f"(claim 2: {o['verdict']})" in line
    assert "rule of thumb g ≈ m0 holds." not in line and "does not follow" not in line and "cannot tell" in line


def test_claim_2_without_a_common_grid_locates_no_optimum(runs):
    """Seed 0 ran the whole grid, the other seeds gap 0 and m0 only: the best of {0, m0} is m0 by
    construction, so claim 2 must not read as '1 x m0 [1, 1]' -- it has no optimum to locate."""
    _grid([4])
    st = Store("cpu", "gap_sweep")
    for s in (1, 2):
        st.put(f"sweep_seed{s}_gap0", sweep_row(s, "0", 0.0, 0.60))
        st.put(f"sweep_seed{s}_gapm0", sweep_row(s, "m0", 2.0, 0.62))
    o = analysis.verdicts.optimum("cpu")
    assert o["grid"] == [0.0, 1.0] and o["verdict"] == analysis.verdicts.NO_COMMON_GRID and o["centre"] != o["centre"]
    cell = summary.at_a_glance().set_index("claim").loc[analysis.claim("2").label, "cpu"]
    assert cell == "n=3: inconclusive (no common grid)"
    assert "Only seed 0 of `cpu` ran more of the gap grid than gap 0 and m0" in _relative()


def test_a_pages_verdict_names_the_other_regimes_verdicts(runs):
    """A page shows its best profile; its verdict line must say what the other regimes found, so a
    verdict there is not read as the answer for all (here: cpu supported, gpu contradicted)."""
    for prof, gains in (("cpu", (0.020, 0.021, 0.019)), ("gpu", (-0.03, -0.031, -0.029))):
        st = Store(prof, "gap_sweep")
        for s, g in enumerate(gains):
            st.put(f"sweep_seed{s}_gap0", sweep_row(s, "0", 0.0, 0.6) | dict(profile=prof))
            st.put(f"sweep_seed{s}_gapm0", sweep_row(s, "m0", 2.0, 0.6 + g) | dict(profile=prof))
    v = {p: analysis.claim_verdicts(p).set_index(["claim", "metric"]).loc[("1", "test_acc"), "verdict"]
         for p in ("cpu", "gpu")}
    assert v == {"cpu": "supported", "gpu": "contradicted"}
    line = next(x for x in conclusions.conclusion("gap_sweep", "cpu").split("\n")
                if x.startswith(f"- **{analysis.claim('1').label}**"))
    assert "Verdict: **supported**. Other regimes: `gpu` contradicted" in line


def test_the_best_rule_sentence_reads_the_paired_difference(runs):
    """'The poster's favourite is not the best' was said from means alone; it now gives the paired
    difference and says when the two rules cannot be told apart."""
    from fake_rows import boost_row
    st = Store("cpu", "boosting")
    for s, (a, b) in enumerate([(0.741, 0.735), (0.730, 0.738), (0.752, 0.741)]):  # constant ahead on 2 of 3
        for rule, acc in (("constant", a), ("save_mean_reverse", b), ("zero", 0.70)):
            for k in (1, 2):
                st.put(f"{rule}_seed{s}_m{k}", boost_row(s, rule, k, acc if k == 2 else 0.65, 0.9))
    text = conclusions.conclusion("boosting", "cpu")
    assert "is not first by mean; paired over 3 seeds, *constant gap m0* leads it by" in text
    assert "so the two cannot be told apart at this size" in text


def test_claim_2_locates_the_optimum_on_the_seeds_that_ran_the_grid(runs):
    """Two seeds ran the whole grid, a third only gap 0 and m0: the optimum is located on the two
    (n=2, the third listed as incomplete), not declared impossible for lack of a common grid."""
    _grid([2, 2])
    st = Store("cpu", "gap_sweep")
    st.put("sweep_seed2_gap0", sweep_row(2, "0", 0.0, 0.60))
    st.put("sweep_seed2_gapm0", sweep_row(2, "m0", 2.0, 0.62))
    o = analysis.verdicts.optimum("cpu")
    assert o["n"] == 2 and o["best"] == [2.0, 2.0] and o["incomplete"] == [2] and o["grid"] == [0, 0.5, 1, 2, 4]
    assert o["centre"] == 2.0
