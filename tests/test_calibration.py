"""dboost.calibration: the numpy metrics against dboost.metrics (torch), temperature recovery on a
problem whose true temperature is known, cross-fitting that never scores the half it was fitted
on, and the backfill of stored rows."""
import json
import math

import numpy as np
import pytest
import torch

from dboost import calibration as cal
from dboost import metrics


@pytest.fixture
def logits_labels():
    g = np.random.default_rng(0)
    z = g.normal(0, 3, size=(3000, 10))
    y = g.integers(0, 10, size=3000)
    return z, y


@pytest.mark.parametrize("t", [1.0, 0.5, 3.0])
def test_nll_and_ece_match_torch_metrics(logits_labels, t):
    z, y = logits_labels
    zt, yt = torch.from_numpy(z / t), torch.from_numpy(y)
    # both are float64 end to end: agreement to float64 rounding of a 3000-term mean
    assert cal.nll(z, y, t) == pytest.approx(metrics.nll(zt, yt), rel=1e-12)
    assert cal.ece(z, y, t) == pytest.approx(metrics.ece(zt, yt), rel=1e-9, abs=1e-12)


def test_fit_temperature_recovers_the_true_temperature():
    # labels drawn from softmax(z / T*): the NLL-optimal T converges to T* as N grows
    g = np.random.default_rng(1)
    z = g.normal(0, 4, size=(40_000, 10))
    p = np.exp(z / 2.5 - np.logaddexp.reduce(z / 2.5, axis=1, keepdims=True))
    y = (p.cumsum(1) > g.random((len(z), 1))).argmax(1)
    t = cal.fit_temperature(z, y)
    assert t == pytest.approx(2.5, rel=0.03)  # sampling error of T at N = 40k is ~1 %
    assert cal.nll(z, y, t) <= min(cal.nll(z, y, t * 1.01), cal.nll(z, y, t / 1.01))


def test_cross_fit_scores_each_half_with_the_other_halfs_temperature(logits_labels):
    z, y = logits_labels
    a, b = cal.halves(len(y))
    assert len(np.intersect1d(a, b)) == 0 and len(a) + len(b) == len(y)
    r = cal.cross_fit(z, y)
    y2 = y.copy()
    y2[b] = (y2[b] + 1) % 10  # change only half B's labels: T fitted on A must not move
    r2 = cal.cross_fit(z, y2)
    assert r2["temperature_a"] == r["temperature_a"] and r2["temperature_b"] != r["temperature_b"]
    expect = (len(b) * cal.nll(z[b], y[b], r["temperature_a"]) + len(a) * cal.nll(z[a], y[a], r["temperature_b"])) / len(y)
    assert r["nll"] == pytest.approx(expect, rel=1e-12)
    assert r["temperature"] == pytest.approx(math.sqrt(r["temperature_a"] * r["temperature_b"]))
    # overconfident random logits: scaling must help a lot on held-out halves
    assert r["nll"] < r["nll_raw"] and r["ece"] < r["ece_raw"]


def test_bad_logits_are_refused():
    with pytest.raises(ValueError, match="finite"):
        cal.cross_fit(np.array([[0.0, np.nan]] * 8), np.zeros(8, int))
    with pytest.raises(ValueError, match="samples"):
        cal.cross_fit(np.zeros((3, 2)), np.zeros(3, int))


def test_ensemble_scores_match_torch_log_mean_softmax():
    g = np.random.default_rng(2)
    ml = g.normal(0, 2, size=(3, 50, 4))
    ref = torch.logsumexp(torch.log_softmax(torch.from_numpy(ml), 2), 0) - math.log(3)
    np.testing.assert_allclose(cal.ensemble_scores(ml), ref.numpy(), rtol=0, atol=1e-12)


@pytest.mark.slow
def test_backfill_equals_training_time_values_and_is_idempotent(tmp_path, monkeypatch):
    from dboost import experiments, runner
    monkeypatch.setenv("DBOOST_RUNS", str(tmp_path))
    runner.run("smoke", only=["data_size", "boosting"], notebooks=False, publish_book=False, progress=False)
    rows = sorted((tmp_path / "smoke" / "data_size" / "rows").glob("*.json"))
    before = {p: json.loads(p.read_text())["test_cal"] for p in rows}
    for p in rows:  # drop the training-time values; the backfill must put back the same numbers
        r = json.loads(p.read_text())
        del r["test_cal"]
        p.write_text(json.dumps(r))
    y = experiments.configure("gap_sweep", "smoke", progress=False).test_set.y.numpy()
    counts = cal.backfill("smoke", y)
    assert counts["experiment_rows"] == len(rows)
    assert all(json.loads(p.read_text())["test_cal"] == before[p] for p in rows)
    boost = [json.loads(p.read_text()) for p in (tmp_path / "smoke" / "boosting" / "rows").glob("*.json")]
    assert boost and all("test_cal" in r for r in boost)
    assert cal.backfill("smoke", y) == dict(units=0, experiment_rows=0, boosting_rows=0, without_logits=0)
    from dboost import cli  # the command line: validates the profile and data, then the same backfill
    assert cli.main(["calibrate", "--profile", "smoke"]) == 0
    assert all(json.loads(p.read_text())["test_cal"] == before[p] for p in rows)
    assert cli.main(["calibrate", "--profile", "nope"]) == 2
