"""Tests of dboost.boost.Ensemble over arbitrary modules, against a hand-written log-mean-softmax.

(Boosting itself -- boost(), Algorithm 1 with real training -- is tested in tests/test_train.py.)
"""
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

import dboost
from dboost.boost import Ensemble


def hand_log_mean_softmax(logits_per_member):
    """float64 numpy: log( (1/M) sum_m softmax(l_m) ), each softmax max-shifted, no log-sum-exp helper."""
    ps = []
    for l in logits_per_member:
        l = l.detach().double().numpy()
        e = np.exp(l - l.max(1, keepdims=True))
        ps.append(e / e.sum(1, keepdims=True))
    return torch.from_numpy(np.log(np.mean(ps, 0)))


@pytest.fixture
def linears():
    torch.manual_seed(0)
    return [nn.Linear(5, 3) for _ in range(3)]


def test_ensemble_of_linears_is_the_log_of_the_mean_softmax(linears):
    x = torch.randn(7, 5)
    ens = Ensemble(linears)
    want = hand_log_mean_softmax([m(x) for m in linears])
    got = ens(x)                                           # 2-D input: no channels_last anywhere
    assert got.shape == (7, 3)
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ens.log_proba(x), want, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(ens.predict_proba(x).double(), want.exp(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ens.mean_logits(x), torch.stack([m(x) for m in linears]).mean(0).detach())


def test_ensemble_forward_is_differentiable_and_an_nll_input(linears):
    x, y = torch.randn(4, 5), torch.tensor([0, 2, 1, 2])
    loss = nn.functional.nll_loss(Ensemble(linears)(x), y)
    loss.backward()
    assert all(m.weight.grad is not None and m.weight.grad.abs().sum() > 0 for m in linears)


def test_one_member_is_its_log_softmax(linears):
    x = torch.randn(6, 5)
    torch.testing.assert_close(Ensemble(linears[:1])(x), torch.log_softmax(linears[0](x), 1))


def test_saturated_members_stay_finite():
    """Members sure of different classes: probabilities 1e-300 would underflow outside log space."""
    a, b = nn.Linear(2, 2, bias=False), nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        a.weight.copy_(torch.tensor([[500.0, 0.0], [0.0, 0.0]]))
        b.weight.copy_(torch.tensor([[0.0, 0.0], [500.0, 0.0]]))
    lp = Ensemble([a, b]).log_proba(torch.tensor([[1.0, 0.0]]))
    torch.testing.assert_close(lp, torch.full((1, 2), math.log(0.5), dtype=torch.float64))


def test_empty_ensemble_and_deprecated_predict_logits(linears):
    with pytest.raises(ValueError, match="empty"):
        Ensemble([])(torch.randn(2, 5))
    x = torch.randn(3, 5)
    with pytest.warns(DeprecationWarning, match="mean_logits"):
        old = Ensemble(linears).predict_logits(x)
    torch.testing.assert_close(old, Ensemble(linears).mean_logits(x))


def test_public_names():
    assert dboost.Ensemble is Ensemble and callable(dboost.chain) and callable(dboost.register)
