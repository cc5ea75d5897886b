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
    assert g.loc[analysis.claim("2").label, "cpu"].endswith("inconclusive")  # grid {0, 1}: its top is the best
