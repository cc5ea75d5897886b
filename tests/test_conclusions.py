"""dboost.render.conclusions: a page's conclusion repeats the claims table's verdicts, in words."""
from dboost import analysis
from dboost.analysis import fmt
from dboost.render import caveats, conclusions, summary
from dboost.render.markdown import PM_NOTE
from dboost.results import Store
from fake_rows import boost_row, sweep_row


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
    # the only testable comparison of its family, so Holm leaves scipy's 95 % interval of (0.020, 0.021, 0.019)
    assert g.loc[analysis.claim("1").label, "cpu"] == "+2.0 pt [+1.8, +2.2] (n=3): supported"
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
    return next(line for line in caveats.caveats(profile).split("\n") if "Relative or absolute" in line)


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


def _head_row(seed, head, label, acc):
    r = sweep_row(seed, label, 0.0 if label == "0" else 2.0, acc)
    r.update(experiment="frozen_last_layer", head_label=head, variant="head")
    return r


def test_the_handicap_caveat_pairs_the_frozen_head_with_gap_m0_against_the_best_head_at_gap_0(runs):
    """The comparison a user makes: frozen x10 + gap m0 against the best other head at gap 0, paired
    on seed with scipy's unadjusted interval; the heads named in words, not labels."""
    import numpy as np
    from scipy import stats as ss
    st = Store("cpu", "frozen_last_layer")
    x10_0, x10_m0, lin_0 = (0.60, 0.62, 0.64), (0.66, 0.69, 0.70), (0.67, 0.68, 0.71)
    for s in range(3):
        st.put(f"x10_{s}_0", _head_row(s, "freeze_last x10", "0", x10_0[s]))
        st.put(f"x10_{s}_m0", _head_row(s, "freeze_last x10", "m0", x10_m0[s]))
        st.put(f"lin_{s}_0", _head_row(s, "Linear", "0", lin_0[s]))
    line = next(x for x in caveats.caveats("cpu").split("\n") if "Baseline strength" in x)
    d = np.subtract(x10_m0, lin_0)
    lo, hi = ss.t.interval(0.95, 2, loc=d.mean(), scale=ss.sem(d))
    assert f"while a trainable Linear head, the best other head with as many seeds, reaches {100 * np.mean(lin_0):.1f} %" \
        in line
    want = f"{100 * d.mean():+.1f} pt [{100 * lo:+.1f}, {100 * hi:+.1f}]".replace("-", "−")
    assert f"against a trainable Linear head at gap 0, paired on seed: {want} (unadjusted 95 % interval, n=3)" in line
    assert "`Linear`" not in line


def test_the_gap_caveat_gives_the_share_of_the_interval_inside_the_posters_range(runs):
    """'Across the edge' once described an interval mostly inside the poster's range: the share is given, on
    the log scale of the (geometric) interval."""
    _grid([2, 2, 4, 2], m0=10.0)  # best 2-4 x m0 = g 20-40 against the poster's 14-34
    line = _relative()
    o = analysis.verdicts.optimum("cpu")
    a_lo, a_hi = o["lo"] * 10.0, o["hi"] * 10.0
    lo, hi = analysis.claims.poster.BEST_GAP_RANGE
    import math
    share = (math.log(min(a_hi, hi)) - math.log(max(a_lo, lo))) / (math.log(a_hi) - math.log(a_lo))
    assert 0 < share < 1 and f"partly inside ({share:.0%} of its width on a log scale within) the poster's best range" in line


def test_the_boosting_caveat_says_whether_its_first_members_are_the_sweeps_networks(runs):
    """By unit key, not by accuracy (a shared unit evaluated as an ensemble of one can differ by an
    image's tie): the same units -> 'the same networks'; another unit -> 'trained apart'."""
    from fake_rows import boost_row
    sw, bo = Store("cpu", "gap_sweep"), Store("cpu", "boosting")
    for s in range(2):
        for label, rule, acc in (("0", "zero", 0.60), ("m0", "constant", 0.62)):
            sw.put(f"sweep_seed{s}_{label}", dict(sweep_row(s, label, 0.0 if label == "0" else 2.0, acc), unit=f"u{s}{label}"))
            bo.put(f"{rule}_seed{s}_m1", dict(boost_row(s, rule, 1, acc + 0.0001, 0.9), member_unit=f"u{s}{label}"))
    line = next(x for x in caveats.caveats("cpu").split("\n") if "Boosting vs" in x)
    assert "the same networks as the gap sweep's gap-0 and gap-m0 pairs" in line
    bo.put("constant_seed1_m1", dict(boost_row(1, "constant", 1, 0.62, 0.9), member_unit="u_other"))
    line = next(x for x in caveats.caveats("cpu").split("\n") if "Boosting vs" in x)
    assert "networks trained apart from the gap sweep's" in line


def test_without_unit_keys_the_boosting_caveat_compares_what_the_rows_measured():
    import pandas as pd
    bo = pd.DataFrame(dict(seed=[0, 0, 1, 1], rule=["zero", "constant"] * 2, members=1, test_acc=[0.60, 0.62, 0.70, 0.72]))
    sw = pd.DataFrame(dict(seed=[0, 0, 1, 1], gap_label=["0", "m0"] * 2, test_acc=[0.60, 0.62, 0.70, 0.72]))
    assert caveats._same_networks(bo, sw) == "whether they are the gap sweep's networks, the rows do not record"
    sw.loc[3, "test_acc"] = 0.75  # gap m0's mean moves by 1.5 points
    assert "their means differ" in caveats._same_networks(bo, sw)
    assert caveats._same_networks(bo, sw.iloc[:0]) == "the gap sweep has no rows to compare"


def test_the_hardware_caveat_names_pairs_whose_arms_ran_on_different_or_unrecorded_machines(runs):
    from fake_rows import ENV
    st = Store("cpu", "gap_sweep")
    hw = {(0, "0"): "Xeon (x86_64)", (0, "m0"): "Xeon (x86_64)", (1, "0"): "Xeon (x86_64)", (1, "m0"): "EPYC (x86_64)",
          (2, "0"): "x86_64", (2, "m0"): "Xeon (x86_64)"}
    for (s, label), h in hw.items():
        st.put(f"sweep_seed{s}_{label}", dict(sweep_row(s, label, 0.0 if label == "0" else 2.0, 0.6), env=dict(ENV, hardware=h)))
    line = next(x for x in caveats.caveats("cpu").split("\n") if "Hardware inside a pair" in x)
    assert "Claim 1 (3 pairs): on seed 1 the two arms ran on different CPU models (recorded)" in line
    assert "finished on the same day (most likely one session, so one machine): claim 1 on seed 2." in line
    assert "seed 0" not in line  # seed 0: one named model


def test_no_hardware_caveat_when_every_pair_ran_on_one_named_machine(runs):
    from fake_rows import ENV
    st = Store("cpu", "gap_sweep")
    for s in range(2):
        for label in ("0", "m0"):
            st.put(f"sweep_seed{s}_{label}", dict(sweep_row(s, label, 0.0 if label == "0" else 2.0, 0.6),
                                                  env=dict(ENV, hardware="NVIDIA H200")))
    assert "Hardware inside a pair" not in caveats.caveats("cpu")


def test_the_training_length_sentence_gives_scipys_interval_beside_its_verdict():
    from scipy import stats as ss
    from dboost.render import studies
    g = [0.050, 0.062, 0.058]
    lo, hi = ss.t.interval(0.95, 2, loc=sum(g) / 3, scale=ss.sem(g))
    assert studies._interval(g) == f"[+{100 * lo:.1f}, +{100 * hi:.1f}]"
    assert studies._interval([0.05]) == "n/a"


def test_the_across_regimes_sentence_reads_each_seeds_best_gap_in_logits(runs):
    """Two regimes whose best gap is 20 logits while m0 is 2 and 10: m0 spans a factor 5, the best gap 1."""
    for prof, m0 in (("cpu", 2.0), ("gpu", 10.0)):
        st = Store(prof, "gap_sweep")
        for s in range(2):
            for mult in (0, 1, 2, 10):
                label = "0" if mult == 0 else "m0" if mult == 1 else f"m0x{mult:g}"
                acc = 0.7 if mult * m0 == 20 else 0.6
                st.put(f"sweep_seed{s}_{label}", dict(sweep_row(s, label, mult * m0, acc, m0=m0), profile=prof))
    text = caveats.absolute_or_relative()
    assert "`gpu` m0 10.0, best g 20 (2 seeds)" in text and "`cpu` m0 2.0, best g 20 (2 seeds)" in text
    assert "m0 spans a factor 5.0, the best gap a factor 1.0" in text


def test_the_minimum_width_sentence_counts_every_seed_not_only_the_first():
    import pandas as pd
    w = {(0, "0"): 100, (0, "m0"): 50, (0, "m0x2"): 150, (1, "0"): 100, (1, "m0"): 80, (1, "m0x2"): 90,
         (2, "0"): 100, (2, "m0"): 120}
    sw = pd.DataFrame([dict(seed=s, gap_label=g, min_width=v) for (s, g), v in w.items()])
    assert conclusions._min_width_over_seeds(sw) == ("Over the seeds that ran both, the minimum is wider than at gap 0 "
                                                     "at 1 × m0 on 2 of 3; at 2 × m0 on 1 of 2. ")


def test_the_best_single_model_line_pairs_the_frozen_heads_best_gap_with_the_best_head():
    """The frozen head at each seed's best gap against the most accurate head-and-gap on >= 2 seeds,
    paired on seed and checked against scipy; one-seed heads are listed as such, untested."""
    import pandas as pd
    from scipy import stats as ss
    sw = pd.DataFrame(dict(seed=[0, 0, 0, 1, 1, 1, 2, 2, 2], gap_label=["0", "m0", "m0x2"] * 3,
                           gap=[0, 10, 20] * 3, test_acc=[0.60, 0.70, 0.69, 0.61, 0.70, 0.72, 0.62, 0.71, 0.70]))
    fr = pd.DataFrame(dict(seed=[0, 1, 2, 0, 1, 2, 0, 0], head_label=["Linear"] * 6 + ["freeze_last x1"] * 2,
                           gap_label=["0"] * 3 + ["m0"] * 3 + ["0", "m0"],
                           test_acc=[0.70, 0.71, 0.72, 0.72, 0.745, 0.73, 0.75, 0.74]))
    text = caveats.best_single(sw, fr)
    assert "the most accurate is a trainable Linear head with gap m0: 73.2 % (3 seeds)" in text
    d = [0.70 - 0.72, 0.72 - 0.745, 0.71 - 0.73]  # seeds' best gaps: m0, 2 x m0, m0
    lo, hi = ss.t.interval(0.95, 2, loc=sum(d) / 3, scale=ss.sem(d))
    assert "(1 × m0, 2 × m0; picked on the test set" in text
    assert f"{fmt.estimate(sum(d) / 3, lo, hi)} against it, paired on 3 seeds" in text
    assert "stays below it" in text  # all three seeds 2 points behind: the interval excludes 0
    assert "On one seed only (no test; first seed): the frozen ×1 head 75.0 % at gap 0, gap m0 −1.0 pt." in text


def test_the_lemma_1_line_reads_the_trainable_heads_m0_and_gain():
    import pandas as pd
    rows = []
    for s, (a0, a1) in enumerate([(0.70, 0.715), (0.71, 0.72), (0.70, 0.716)]):
        rows += [dict(seed=s, head_label="Linear", gap_label="0", test_acc=a0, train_mean_margin=10.0),
                 dict(seed=s, head_label="Linear", gap_label="m0", test_acc=a1, train_mean_margin=20.0),
                 dict(seed=s, head_label="freeze_last x10", gap_label="0", test_acc=0.64, train_mean_margin=13.0)]
    fr = pd.DataFrame(rows)
    text = caveats.lemma1(fr)
    assert "the frozen ×10 head has m0 = 13" in text and "a trainable Linear head: m0 = 10" in text
    assert "did not scale their logits away from the gap" in text  # m0 of the frozen head's order, gain > 0 on 3 of 3
    fr.loc[fr["head_label"] == "Linear", "train_mean_margin"] = 80.0  # margins far past the frozen head's
    assert "as Lemma 1 allows" in caveats.lemma1(fr)
    assert caveats.lemma1(fr[fr["head_label"] == "Linear"]) == ""  # no frozen head to compare with


def test_the_minimum_width_link_is_counted_seed_by_seed():
    """Seed 0: widest minimum (smallest width) at its most accurate gap; seed 1: at another gap, though
    its best gap is still wider than gap 0; seed 2 has no width at its best gap and is not read."""
    import pandas as pd
    rows = []
    for s, accs, widths in ((0, (0.60, 0.70, 0.68), (500, 100, 300)), (1, (0.60, 0.68, 0.70), (500, 100, 300)),
                            (2, (0.60, 0.70, 0.68), (500, float("nan"), 300))):
        rows += [dict(seed=s, gap_label=lab, gap=gap, test_acc=a, min_width=w)
                 for lab, gap, a, w in zip(("0", "m0", "m0x2"), (0, 10, 20), accs, widths)]
    assert conclusions._min_width_link(pd.DataFrame(rows)) == (1, 2, 2)


def test_the_training_length_course_reads_one_set_of_seeds():
    """Seed 2 ran only the longest length: the course is read on seeds 0 and 1, so its large gain
    there cannot make a rise of its own."""
    import pandas as pd
    from dboost.render import studies
    rows = [dict(seed=s, length_epochs=e, gain=gn) for s in (0, 1) for e, gn in ((15, 0.01), (60, 0.03), (150, 0.02))]
    rows.append(dict(seed=2, length_epochs=150, gain=0.20))
    text = studies._course(pd.DataFrame(rows))
    assert "on the 2 seeds every length ran, the mean gain is +1.0 pt, +3.0 pt, +2.0 pt at 15, 60, 150 epochs" in text
    assert text.endswith("it peaks at 60 epochs")
    rising = pd.DataFrame([dict(seed=s, length_epochs=e, gain=e / 1000 + s / 1e4) for s in (0, 1) for e in (15, 60, 150)])
    assert studies._course(rising).endswith("it rises with training")


def test_claim_2_says_how_far_each_seeds_best_gap_is_ahead_of_its_runner_up(runs):
    """In test images (n_test = 10,000): seed 0 peaks at 1 x m0 with 4 x m0 one point behind, seed 1 at
    4 x m0 with 2 x m0 three points behind -- a near-tie must be visible next to the per-seed bests."""
    _grid([1, 4])
    o = analysis.verdicts.optimum("cpu")
    assert o["best"] == [1.0, 4.0] and o["lead_images"] == [100, 300]
    t = summary.claims_table("cpu")
    ours = t[t["claim"] == analysis.claim("2").label].iloc[0]["ours"]
    assert "per-seed best: 1, 4 × m0, each ahead of its seed's runner-up gap by 100, 300 test images" in ours


def test_an_unnamed_pair_whose_arms_finished_on_different_days_may_have_changed_machine():
    import pandas as pd
    sw = pd.DataFrame(dict(seed=[0, 0, 1, 1], gap_label=["0", "m0"] * 2, env_hardware="x86_64",
                           finished_at=["2026-11-29T20:00", "2026-11-29T21:00", "2026-11-29T20:00", "2026-12-01T09:00"]))
    line = caveats._paired_hardware(sw)
    assert "Claim 1 (2 pairs): on seed 1 a row names no CPU model and the arms finished on different days" in line
    assert "both arms finished on the same day (most likely one session, so one machine): claim 1 on seed 0" in line


def test_one_gap_m0_network_is_set_beside_the_save_mean_ensembles_gain():
    import pandas as pd
    rows = []
    for s in (0, 1):
        rows += [dict(seed=s, members=1, rule="zero", test_acc=0.60), dict(seed=s, members=1, rule="constant", test_acc=0.65),
                 dict(seed=s, members=2, rule="zero", test_acc=0.62), dict(seed=s, members=2, rule="save_mean_reverse",
                                                                          test_acc=0.65 + 0.01 * s),
                 dict(seed=s, members=3, rule="zero", test_acc=0.63), dict(seed=s, members=3, rule="save_mean_reverse",
                                                                          test_acc=0.70)]
    text = caveats._one_net_vs_ensembles(pd.DataFrame(rows))
    assert "One gap-m0 network gains +5.0 pt over one plain network (n=2)" in text
    assert "gains +3.5 pt at 2, +7.0 pt at 3 members" in text and "at 1 of 2 sizes" in text


def test_one_configuration_trained_apart_for_two_pages_is_said_where_the_values_differ(runs):
    """The gap-0 frozen ×10 ResNet9 of a seed is on the gap sweep and the heads page; rows holding two
    networks for it (no unit key, different accuracy) get one note with the spread, on the summary and
    on both pages; one network (one unit key, or equal values) gets none."""
    from dboost.render import provenance
    sw, hd = Store("cpu", "gap_sweep"), Store("cpu", "frozen_last_layer")
    for s, (a, b) in enumerate([(0.600, 0.604), (0.700, 0.700), (0.400, 0.399)]):
        sw.put(f"sweep_seed{s}_gap0", sweep_row(s, "0", 0.0, a))
        hd.put(f"x10_{s}_0", _head_row(s, "freeze_last x10", "0", b))
        hd.put(f"lin_{s}_0", _head_row(s, "Linear", "0", 0.9))  # another head: not the same configuration
    note = provenance.retrained_note("cpu")
    assert "on the gap sweep and heads pages" in note and "test accuracy 56.7 % (gap sweep), 56.8 % (heads)" in note
    assert "differ by up to 0.4 pt (seed 0)" in note and "spread 15.3 pt (sd)" in note  # sd of 60, 70, 40 %
    assert note in caveats.caveats("cpu") and note in conclusions.conclusion("frozen_last_layer", "cpu")
    assert note in conclusions.conclusion("gap_sweep", "cpu")
    for s, a in enumerate([0.600, 0.700, 0.400]):  # the same values: one network as far as the rows tell
        hd.put(f"x10_{s}_0", _head_row(s, "freeze_last x10", "0", a))
    assert provenance.retrained_note("cpu") == ""


def test_one_unit_key_is_one_network_whatever_its_stored_ensemble_rounds_to(runs):
    from dboost.render import provenance
    sw, bo = Store("cpu", "gap_sweep"), Store("cpu", "boosting")
    for s, a in enumerate([0.600, 0.700]):
        sw.put(f"sweep_seed{s}_gap0", dict(sweep_row(s, "0", 0.0, a), unit=f"u{s}"))
        bo.put(f"zero_seed{s}_m1", dict(boost_row(s, "zero", 1, a + 1e-4, 0.9), member_unit=f"u{s}"))  # float16 logits
    assert provenance.retrained_note("cpu") == ""
    bo.put("zero_seed1_m1", dict(boost_row(1, "zero", 1, 0.69, 0.9), member_unit="u9"))
    assert "differ by up to 1.0 pt (seed 1)" in provenance.retrained_note("cpu")
