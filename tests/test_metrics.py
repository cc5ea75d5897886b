"""Tests of dboost.metrics against sklearn / numpy references and hand-written loops."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from dboost import metrics as M
from dboost.data import synthetic
from dboost.loss import margins
from tiny import tiny_linear

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _data(n=600, c=10, seed=0, scale=2.0, acc=0.7):
    """Logits where ~acc of the samples have their largest logit on the true class."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % c
    y = y[torch.randperm(n, generator=g)]
    z = scale * torch.randn(n, c, generator=g)
    hit = torch.rand(n, generator=g) < acc
    tgt = torch.where(hit, y, (y + torch.randint(1, c, (n,), generator=g)) % c)
    z = z + 2 * scale * F.one_hot(tgt, c)
    return z, y


def _sk_ovr_any(y, s):
    """sklearn macro one-vs-rest AUC for arbitrary scores (multilabel-indicator form, no sum-to-1 check)."""
    return roc_auc_score(np.eye(s.shape[1])[y], s, average="macro")


# ----------------------------------------------------------------------------- ROC-AUC

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("seed", [0, 1])
def test_roc_auc_random_vs_sklearn(device, seed):
    z, y = _data(seed=seed)
    yn = y.numpy()
    p32 = torch.softmax(z.float(), 1).numpy()
    p64 = torch.softmax(z.double(), 1).numpy()
    zd, yd = z.to(device), y.to(device)
    assert M.roc_auc_ovr(zd, yd) == pytest.approx(roc_auc_score(yn, p32, multi_class="ovr", average="macro"), abs=1e-9)
    assert M.roc_auc_ovr(zd, yd, on="logits") == pytest.approx(_sk_ovr_any(yn, z.numpy()), abs=1e-9)
    assert M.roc_auc_ovr(zd, yd, on="log_proba") == pytest.approx(
        roc_auc_score(yn, p64, multi_class="ovr", average="macro"), abs=1e-9)


def test_roc_auc_heavy_ties_vs_sklearn():
    g = torch.Generator().manual_seed(3)
    n, c = 500, 5
    y = torch.arange(n) % c
    # 3 levels per entry: almost every score ties with many others, across positives and negatives.
    s = torch.randint(0, 3, (n, c), generator=g).float() + F.one_hot(y, c) * (torch.rand(n, 1, generator=g) < 0.5)
    assert M.roc_auc_ovr(s, y, on="logits") == pytest.approx(_sk_ovr_any(y.numpy(), s.numpy()), abs=1e-12)
    # quantised probabilities (rows still sum to 1): sklearn's multiclass path
    assert M.roc_auc_ovr(s.double(), y, on="proba") == pytest.approx(
        roc_auc_score(y.numpy(), torch.softmax(s.float(), 1).numpy(), multi_class="ovr"), abs=1e-9)
    # Exact probabilities tie wherever two rows are permutations of each other; a plain float64
    # softmax breaks some of those ties by summation-order rounding, so the reference sums sorted.
    e = np.exp(s.double().numpy() - s.double().numpy().max(1, keepdims=True))
    p = e / np.sort(e, 1).sum(1, keepdims=True)
    assert M.roc_auc_ovr(s, y, on="log_proba") == pytest.approx(roc_auc_score(y.numpy(), p, multi_class="ovr"),
                                                                abs=1e-12)
    perm = s[:, torch.randperm(c, generator=g)]
    assert torch.equal(M.log_softmax_precise(perm).sort(1).values, M.log_softmax_precise(s).sort(1).values)
    # all scores equal -> every pair ties -> 0.5
    assert M.roc_auc_ovr(torch.zeros(n, c), y, on="logits") == pytest.approx(0.5, abs=1e-15)


def test_roc_auc_saturated_logits():
    # margins ~ 20..32: float32 softmax rounds the top probability to 1.0 (ties between confident
    # right and confident wrong samples); float64 probabilities are still exact.
    g = torch.Generator().manual_seed(5)
    n, c = 800, 10
    y = torch.arange(n) % c
    wrong = torch.rand(n, generator=g) < 0.1
    tgt = torch.where(wrong, (y + 1) % c, y)
    z = torch.randn(n, c, generator=g) + F.one_hot(tgt, c) * (20 + 12 * torch.rand(n, 1, generator=g))
    p32 = torch.softmax(z, 1)
    p64 = torch.softmax(z.double(), 1)
    assert (p32 == 1.0).sum() > n // 2                              # saturation really happens
    assert (p64 < 1.0).all()                                       # ... but not in float64
    a32 = M.roc_auc_ovr(z, y, on="proba")
    a64 = M.roc_auc_ovr(z, y, on="log_proba")
    assert a32 == pytest.approx(roc_auc_score(y.numpy(), p32.numpy(), multi_class="ovr"), abs=1e-9)
    assert a64 == pytest.approx(roc_auc_score(y.numpy(), p64.numpy(), multi_class="ovr"), abs=1e-9)
    assert abs(a32 - a64) > 1e-4                                   # the ties matter


def test_log_softmax_precise_beyond_float64_saturation():
    # margins 40..60: torch's float64 log_softmax gives the top entry 0.0 for all; ours keeps the order.
    mg = torch.linspace(40, 60, 11, dtype=torch.float64)
    z = torch.stack([mg, torch.zeros_like(mg), torch.zeros_like(mg) - 3], 1)
    assert (torch.log_softmax(z, 1)[:, 0] == 0).all()
    top = M.log_softmax_precise(z)[:, 0]
    assert (top.diff() > 0).all()
    assert torch.allclose(top, -torch.log1p(torch.exp(-mg) + torch.exp(-mg - 3)), rtol=1e-12, atol=0)
    z2, _ = _data(n=50)
    assert torch.allclose(M.log_softmax_precise(z2), torch.log_softmax(z2.double(), 1), atol=1e-12)
    # rows with exactly tied maxima
    zt = torch.tensor([[1.0, 1.0, 0.0]])
    assert torch.allclose(M.log_softmax_precise(zt), torch.log_softmax(zt.double(), 1), atol=1e-15)


def test_roc_auc_binary_and_absent_class():
    y = torch.tensor([0, 1, 1, 0, 1])
    s = torch.tensor([[0.0, 0.1], [0.0, 0.4], [0.0, 0.35], [0.0, 0.8], [0.0, 0.1]])
    ref = roc_auc_score(y.numpy(), s[:, 1].numpy())   # column 0 constant: its class AUC is 0.5
    assert M.roc_auc_ovr(s, y, on="logits") == pytest.approx((ref + 0.5) / 2, abs=1e-12)
    z, y3 = _data(n=60, c=4)
    y3 = torch.where(y3 == 2, torch.zeros_like(y3), y3)  # class 2 absent
    with pytest.raises(ValueError, match="absent"):
        M.roc_auc_ovr(z, y3)
    with pytest.raises(ValueError, match="on must be"):
        M.roc_auc_ovr(z, y3, on="probs")


# ----------------------------------------------------------------------------- misclassification AUROC

@pytest.mark.parametrize("device", DEVICES)
def test_misclassification_auroc_vs_sklearn(device):
    z, y = _data(n=700, seed=2, scale=1.5)
    p = torch.softmax(z.double(), 1)
    correct = (z.argmax(1) == y).numpy()
    ref = roc_auc_score(correct, p.max(1).values.numpy())
    assert M.misclassification_auroc(z.to(device), y.to(device)) == pytest.approx(ref, abs=1e-9)


def test_misclassification_auroc_nan_when_one_outcome():
    z, y = _data(n=40)
    assert math.isnan(M.misclassification_auroc(F.one_hot(y, 10).float() * 5, y))        # all correct
    assert math.isnan(M.misclassification_auroc(F.one_hot((y + 1) % 10, 10).float(), y))  # all wrong


# ----------------------------------------------------------------------------- nll, brier, ece, accuracy

def _np_softmax(z):
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def _np_ece(p, y, bins):
    conf, pred = p.max(1), p.argmax(1)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            total += sel.mean() * abs((pred[sel] == y[sel]).mean() - conf[sel].mean())
    return total


def _np_brier(p, y):
    return float(((p - np.eye(p.shape[1])[y]) ** 2).sum(1).mean())


@pytest.mark.parametrize("device", DEVICES)
def test_nll_brier_ece_accuracy_vs_references(device):
    z, y = _data(n=900, seed=4, scale=1.0)
    zn, yn = z.double().numpy(), y.numpy()
    p = _np_softmax(zn)
    zd, yd = z.to(device), y.to(device)
    assert M.nll(zd, yd) == pytest.approx(float(F.cross_entropy(z.double(), y)), rel=1e-10)
    assert M.accuracy(zd, yd) == pytest.approx(float((p.argmax(1) == yn).mean()), abs=1e-15)
    assert M.brier(zd, yd) == pytest.approx(_np_brier(p, yn), rel=1e-10)
    for bins in (1, 10, 15):
        assert M.ece(zd, yd, bins=bins) == pytest.approx(_np_ece(p, yn, bins), abs=1e-10)
    assert M.ece(zd, yd) == pytest.approx(_np_ece(p, yn, 15), abs=1e-10)
    # log-probabilities in, same numbers out
    lp = torch.log_softmax(z.double(), 1).to(device)
    assert M.nll(lp, yd) == pytest.approx(M.nll(zd, yd), rel=1e-10)
    assert M.brier(lp, yd) == pytest.approx(M.brier(zd, yd), rel=1e-10)


def test_ece_confidence_on_bin_edge():
    # confidence exactly 0.5 (two tied logits) falls in the bin (1/3, 2/3] with 3 bins, and 1.0 in the last
    z = torch.tensor([[0.0, 0.0], [100.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([0, 0])
    p = torch.softmax(z, 1).numpy()
    assert M.ece(z, y, bins=2) == pytest.approx(_np_ece(p, y.numpy(), 2), abs=1e-15)
    assert M.ece(z, y, bins=3) == pytest.approx(_np_ece(p, y.numpy(), 3), abs=1e-15)


def test_margin_summary_vs_numpy():
    m = torch.randn(1001, generator=torch.Generator().manual_seed(0)) * 7 + 3
    s = M.margin_summary(m)
    a = m.double().numpy()
    ref = dict(mean=a.mean(), std=a.std(ddof=1), min=a.min(), max=a.max(), median=np.median(a),
               **{f"q{int(q * 100):02d}": np.quantile(a, q) for q in (0.05, 0.25, 0.75, 0.95)})
    assert set(s) == set(M.MARGIN_KEYS) == set(ref)
    for k in ref:
        assert isinstance(s[k], float)
        assert s[k] == pytest.approx(ref[k], rel=1e-12, abs=1e-12), k
    assert M.margin_summary(torch.tensor([2.5]))["std"] == 0.0


# ----------------------------------------------------------------------------- bad inputs

@pytest.mark.parametrize("fn", [M.accuracy, M.roc_auc_ovr, M.misclassification_auroc, M.nll, M.ece, M.brier])
@pytest.mark.parametrize("case", ["1d", "int", "labels_len", "labels_float", "label_range", "neg_label",
                                  "nan", "one_class", "empty", "not_tensor"])
def test_bad_inputs_raise(fn, case):
    z, y = _data(n=30, c=3)
    bad = {
        "1d": (z[:, 0], y), "int": (z.long(), y), "labels_len": (z, y[:-1]), "labels_float": (z, y.float()),
        "label_range": (z, torch.full_like(y, 3)), "neg_label": (z, y - 1),
        "nan": (torch.where(torch.arange(30)[:, None] == 4, float("nan"), z), y),
        "one_class": (z[:, :1], torch.zeros_like(y)), "empty": (z[:0], y[:0]), "not_tensor": (z.tolist(), y),
    }[case]
    with pytest.raises(ValueError):
        fn(*bad)


def test_bad_inputs_misc():
    with pytest.raises(ValueError):
        M.ece(*_data(n=30), bins=0)
    for m in (torch.tensor([]), torch.zeros(3, 2), torch.tensor([1.0, float("inf")]), [1.0, 2.0]):
        with pytest.raises(ValueError):
            M.margin_summary(m)


# ----------------------------------------------------------------------------- evaluate

KEYS = {"n", "members", "acc", "auc_proba", "auc_logits", "auc_log_proba", "mis_auroc", "nll", "ece", "brier",
        "mean_margin", "margin_std", "margin_min", "margin_q05", "margin_q25", "margin_median", "margin_q75",
        "margin_q95", "margin_max"}


def test_evaluate_model_and_ensemble():
    from dboost.boost import Ensemble
    from dboost.train import predict_logits
    _, test = synthetic(0, 200, seed=0)
    model = tiny_linear()
    r = M.evaluate(model, test, batch_size=64)
    assert set(r) == KEYS
    assert r["n"] == 200 and r["members"] == 1
    assert all(isinstance(v, float) for k, v in r.items() if k not in ("n", "members"))
    # the reference logits at evaluate's batch size: the same kernels, so the same float32 logits
    # (other batch shapes may pick other kernels and differ by float32 rounding, ~1e-7 relative,
    # which would swamp the rel=1e-9 float64 checks of the metric formulas below)
    z = predict_logits(model, test.x, batch_size=64)
    assert r["acc"] == pytest.approx(M.accuracy(z, test.y), abs=1e-15)
    assert r["auc_logits"] == pytest.approx(_sk_ovr_any(test.y.numpy(), z.numpy()), abs=1e-9)
    assert r["nll"] == pytest.approx(float(F.cross_entropy(z.double(), test.y)), rel=1e-9)
    assert r["mean_margin"] == pytest.approx(float(margins(z, test.y).double().mean()), rel=1e-9)
    assert model.training  # mode restored by predict_logits

    # an ensemble of two identical members is the single model
    ens = Ensemble([copy.deepcopy(model), copy.deepcopy(model)])
    re = M.evaluate(ens, test, batch_size=64)
    assert set(re) == KEYS and re["members"] == 2
    for k in ("acc", "auc_proba", "auc_log_proba", "mis_auroc"):
        assert re[k] == pytest.approx(r[k], abs=1e-6), k
    # an ensemble's "logits" are its log-probabilities: they rank like the probabilities
    assert re["auc_logits"] == pytest.approx(r["auc_log_proba"], abs=1e-9)
    for k in ("nll", "ece", "brier", "mean_margin", "margin_min", "margin_median", "margin_max"):
        assert re[k] == pytest.approx(r[k], rel=1e-5, abs=1e-6), k

    # two different members: mean of softmax (the authors' rule)
    ens2 = Ensemble([model, tiny_linear(seed=1)])
    r2 = M.evaluate(ens2, test)
    p = torch.stack([torch.softmax(predict_logits(m, test.x).double(), 1) for m in ens2.members]).mean(0)
    assert r2["acc"] == pytest.approx(M.accuracy(p, test.y), abs=1e-15)
    assert r2["nll"] == pytest.approx(float(-p.log().gather(1, test.y[:, None]).mean()), rel=1e-9)
    assert r2["brier"] == pytest.approx(_np_brier(p.numpy(), test.y.numpy()), rel=1e-9)
    assert r2["auc_log_proba"] == pytest.approx(roc_auc_score(test.y.numpy(), p.numpy(), multi_class="ovr"), abs=1e-9)
    assert r2["auc_logits"] == pytest.approx(r2["auc_log_proba"], abs=1e-9)  # log-probs rank like probs
    assert r2["nll"] == pytest.approx(M.nll(ens2.log_proba(test.x), test.y), rel=1e-9)


def test_evaluate_bad_inputs():
    _, test = synthetic(0, 20, seed=0)
    with pytest.raises(ValueError):
        M.evaluate(tiny_linear(), (test.x, test.y))
    with pytest.raises(ValueError):
        M.evaluate("model", test)
