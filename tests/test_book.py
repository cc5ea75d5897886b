"""The book's hand-written pages must not drift from the code they describe."""
from pathlib import Path

import pytest

from dboost.experiments import EXPERIMENTS, PROFILES

ROOT = Path(__file__).resolve().parents[1]


def _profile_table() -> dict[str, list[str]]:
    lines = (ROOT / "book" / "setup.md").read_text().splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("| setting | `smoke`"))
    rows = {}
    for l in lines[start + 2:]:
        if not l.startswith("|"):
            break
        cells = [c.strip() for c in l.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def _int(cell: str) -> int:
    return int(cell.split()[0].replace(",", ""))


@pytest.mark.parametrize("i,profile", list(enumerate(("smoke", "interp", "cpu", "gpu", "paper"))))
def test_setup_profile_table_matches_profiles(i, profile):
    t, p = _profile_table(), PROFILES[profile]
    assert _int(t["training images"][i]) == (p["n_train"] or 50_000)
    assert _int(t["ResNet9 width"][i]) == p["width"]
    assert _int(t["epochs"][i]) == p["epochs"]
    assert _int(t["batch size"][i]) == p["batch_size"]
    assert _int(t["boosting members"][i]) == p["members"]
    assert t["recipe"][i].strip("`") == p["recipe"]
    seeds = lambda cell: tuple(int(x) for x in cell.split(","))
    for row, key in (("grid seeds", "seeds"), ("claim seeds (paired)", "claim_seeds"),
                     ("architecture seeds", "arch_seeds"), ("boosting seeds", "boost_seeds")):
        assert seeds(t[row][i]) == tuple(p[key]), row
    gaps = t["gaps (besides 0)"][i]
    if p["gap_mults"]:
        assert tuple(float(x) for x in gaps.split("×")[0].split(",")) == tuple(p["gap_mults"])
    else:
        assert f"{len(p['gap_abs'])} gaps" in gaps
    assert _int(t["head variants"][i]) == len(p["heads"])
    assert _int(t["architectures (width)"][i]) == len(p["archs"]) and f"w = {p['arch_width']}" in t["architectures (width)"][i]
    assert _int(t["boosting rules"][i]) == len(p["rules"])
    assert _int(t["minimum-width samples"][i]) == p["min_width_n"]
    prec = t["precision"][i].split()[0]
    assert prec == (p["precision"] or ("bf16" if p["n_train"] is None else "fp32")), "precision"
    lengths = t["training lengths (epochs)"][i]
    assert (tuple(int(x) for x in lengths.split(",")) if p["lengths"] else "–") == (tuple(p["lengths"] or ()) or "–")
    assert ("training_length" in p["experiments"]) == bool(p["lengths"])


def test_toc_lists_every_experiment_page():
    toc = (ROOT / "book" / "_toc.yml").read_text()
    for e in EXPERIMENTS + ("summary",):
        assert f"results/{e}" in toc


def test_glossary_and_bibliography():
    toc = (ROOT / "book" / "_toc.yml").read_text()
    assert "file: glossary" in toc
    text = (ROOT / "book" / "glossary.md").read_text()
    bib = (ROOT / "book" / "references.bib").read_text()
    import re
    cited = set(re.findall(r"\{cite:p\}`([^`]+)`", text))
    assert cited and all(f"{{{k}," in bib for k in cited), cited
    assert "```{bibliography}" in text
    for term in ("m_0", "logged-style", "ROC-AUC", "misclassification AUROC", "ECE", "paired seeds", "verdict",
                 "regime", "unit", "executor", "save_mean_reverse"):
        assert term in text, term


def test_every_claim_of_the_landing_page_has_a_summary_row_with_its_number():
    import re
    from dboost.render import summary
    intro = (ROOT / "book" / "intro.md").read_text()
    section = intro.split("## The claims of the poster")[1].split("\n## ")[0]
    numbers = re.findall(r"^(\d)\. \*\*", section, flags=re.M)
    assert numbers == ["1", "2", "3", "4", "5"]
    claims = summary.claims_table("smoke")["claim"]
    for n in numbers:
        assert claims.str.startswith(f"{n}. ").any() or claims.str.startswith(f"{n}c. ").any(), n
    assert claims.str.contains(r"^(?:S1|S2|T) \(ours\)", regex=True).any()


def test_no_notebook_prose_types_a_result():
    """Every number a reader takes for a result comes from the rows or dboost.poster through code: the
    notebooks' Markdown cells may name the settings (the 95 % interval level, the 99 % fit threshold)
    but no accuracy, gain or NLL.  (The data-size intro once typed the poster's +2 points and 91.5 %.)"""
    import json
    import re
    result = re.compile(r"[+−-]?\d+(?:[.,]\d+)?\s*(?:%|pt\b|points?\b|nats\b)")
    allowed = {"95 %", "99 %"}
    found = []
    for nb in sorted((ROOT / "book").rglob("*.ipynb")):
        if "_build" in nb.parts or "results" in nb.parts:
            continue
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] == "markdown":
                found += [f"{nb.name}: {m}" for m in result.findall("".join(cell["source"])) if m not in allowed]
    assert not found, found


@pytest.mark.slow
def test_the_own_code_page_runs_on_the_current_api(tmp_path, monkeypatch):
    """book/own_code.ipynb is the page users copy from, and the book shows its committed outputs
    without executing it: run it here (a real kernel, papermill, a toy size) so that a renamed or
    changed function fails a test instead of a reader."""
    pm = pytest.importorskip("papermill")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    out = tmp_path / "own_code.ipynb"
    nb = pm.execute_notebook(str(ROOT / "book" / "own_code.ipynb"), str(out), cwd=str(tmp_path), kernel_name="python3",
                             parameters=dict(n_train=40, n_test=20, epochs=1), progress_bar=False)
    text = "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))
    assert "torch.Size([40, 3, 32, 32]) torch.Size([20, 3, 32, 32])" in text  # the parameters reached the page
    assert "member 2: gaps mean" in text and "ensemble of 2: test accuracy" in text
