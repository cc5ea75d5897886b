"""Tests of dboost.probes: the thesis' minimum width against a hand-written per-sample loop, its
fallback, scale invariance and bad inputs; the logged-style mean margin against hand-computed values."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from dboost import probes as P
from dboost.augmentation import to_input
from dboost.data import Split, synthetic
from dboost.loss import margins
from dboost.models import build
from tiny import tiny_linear


def _bn_net(seed=0, c=10, frozen_head=True):
    """BN after every conv (affine-free), a frozen head behind BN1d: scale-invariant in the trainable weights."""
    torch.manual_seed(seed)
    head = nn.Linear(16, c, bias=False)
    if frozen_head:
        head.weight.requires_grad_(False)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8, affine=False), nn.ReLU(), nn.MaxPool2d(4),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16, affine=False), nn.ReLU(), nn.AdaptiveMaxPool2d(1),
        nn.Flatten(), nn.Dropout(0.2), nn.BatchNorm1d(16, affine=False), head)


def _hand_min_width(model, data, n, batch_size):
    from dboost.augmentation import to_input
    net = copy.deepcopy(model)
    ps = [p for p in net.parameters() if p.requires_grad]
    with torch.no_grad():
        norm = torch.sqrt(sum((p.double() ** 2).sum() for p in ps))
        for p in ps:
            p /= norm.float()
    x, y = to_input(data.x[:n]).contiguous(), data.y[:n]
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    net.eval()
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    with torch.no_grad():
        for i in range(0, n, batch_size):
            net(x[i:i + batch_size])
    net.eval()
    out = []
    for i in range(n):
        net.zero_grad()
        F.cross_entropy(net(x[i:i + 1]), y[i:i + 1]).backward()
        out.append(math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in ps)))
    return float(np.mean(out))


def test_min_width_matches_hand_loop():
    train, _ = synthetic(40, 0, seed=0)
    model = _bn_net()
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    got = P.min_width(model, train, n=30, batch_size=10)
    ref = _hand_min_width(model, train, 30, 10)
    assert got == pytest.approx(ref, rel=1e-5)
    # the caller's model is untouched (weights, BN statistics, mode)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.training
    # a model without BatchNorm, and n larger than the data
    lin = tiny_linear()
    assert P.min_width(lin, train, n=1000, batch_size=16) == pytest.approx(_hand_min_width(lin, train, 40, 16), rel=1e-5)


def test_min_width_loop_fallback(monkeypatch):
    train, _ = synthetic(12, 0, seed=0)
    model = _bn_net()
    fast = P.min_width(model, train, n=12, batch_size=12)

    def broken_vmap(*a, **k):
        def f(*aa, **kk):
            raise RuntimeError("no batching rule")
        return f
    monkeypatch.setattr(torch.func, "vmap", broken_vmap)
    with pytest.warns(RuntimeWarning, match="vmap failed"):
        slow = P.min_width(model, train, n=12, batch_size=12)
    assert slow == pytest.approx(fast, rel=1e-5)


def test_min_width_scale_invariant():
    train, _ = synthetic(64, 0, seed=1)
    model = _bn_net(seed=3)
    w1 = P.min_width(model, train, n=64, batch_size=32)
    scaled = copy.deepcopy(model)
    with torch.no_grad():
        for p in scaled.parameters():
            if p.requires_grad:
                p.mul_(3.0)
    # stale BN statistics in the scaled copy do not matter: they are re-estimated
    w3 = P.min_width(scaled, train, n=64, batch_size=32)
    assert w3 == pytest.approx(w1, rel=1e-4)
    assert w1 > 0
    # the frozen head is not in theta: scaling it changes the function, hence the width
    with torch.no_grad():
        scaled[-1].weight.mul_(3.0)
    assert abs(P.min_width(scaled, train, n=64, batch_size=32) - w1) > 1e-3 * w1


def test_min_width_bad_inputs():
    train, _ = synthetic(8, 0, seed=0)
    with pytest.raises(ValueError):
        P.min_width(_bn_net(), train, n=0)
    with pytest.raises(ValueError):
        P.min_width(_bn_net(), (train.x, train.y))
    from dboost.boost import Ensemble
    with pytest.raises(ValueError, match="ensemble"):
        P.min_width(Ensemble([_bn_net()]), train)
    frozen = tiny_linear().requires_grad_(False)
    with pytest.raises(ValueError, match="trainable"):
        P.min_width(frozen, train)


# ----------------------------------------------------------------------------- the logged-style margin

class FixedLogits(nn.Module):
    """Returns a fixed logit row per training image (found by nearest neighbour), in any mode."""

    def __init__(self, x: torch.Tensor, logits: torch.Tensor):
        super().__init__()
        self.register_buffer("keys", to_input(x).flatten(1))
        self.register_buffer("table", logits)
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, inp):
        idx = torch.cdist(inp.flatten(1).float(), self.keys).argmin(1)
        return self.table[idx] + 0 * self.dummy


def test_logged_style_margin_masks_the_true_class_with_minus_one():
    logits = torch.tensor([[5.0, -3.0, -2.0, -4.0],    # y=0, all wrong < -1: logged 5+1=6, true 7
                           [0.5, 2.0, 3.0, -1.0],      # y=2: a wrong logit > -1, logged = true = 1
                           [4.0, 1.0, -5.0, -6.0],     # y=1, misclassified: -3 both ways
                           [-2.0, -5.0, -6.0, -7.0]])  # y=0, correct (true margin 3), logged -2+1 = -1
    y = torch.tensor([0, 2, 1, 0])
    x = torch.randint(0, 256, (4, 3, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    split = Split(x, y, num_classes=4)
    model = FixedLogits(x, logits)
    logged_ref = (6.0 + 1.0 - 3.0 - 1.0) / 4
    true_ref = (7.0 + 1.0 - 3.0 + 3.0) / 4
    for bs in (1, 3, 4):
        got = P.logged_style_mean_margin(model, split, batch_size=bs, crop_pad=0, flip=False)
        assert got == pytest.approx(logged_ref, abs=1e-12)
    assert float(margins(logits, y).double().mean()) == pytest.approx(true_ref)
    assert logged_ref < true_ref


def test_logged_style_margin_leaves_the_model_untouched():
    torch.manual_seed(0)
    model = build("resnet9", num_classes=10, width=4)
    tr, _ = synthetic(40, 0, seed=0)
    model.train()
    model(to_input(tr.x[:20]))  # non-default running statistics
    for mode in (True, False):
        model.train(mode)
        before = copy.deepcopy(model.state_dict())
        flags = [m.training for m in model.modules()]
        v = P.logged_style_mean_margin(model, tr, batch_size=16, crop_pad=4, flip=True, seed=3)
        assert isinstance(v, float) and v == v
        after = model.state_dict()
        assert before.keys() == after.keys()
        assert all(torch.equal(before[k], after[k]) for k in before)  # incl. BN running stats and counters
        assert [m.training for m in model.modules()] == flags
    # it measures in train mode (batch statistics, head dropout on): reference on a copy, no
    # augmentation, the dropout masks drawn after manual_seed(seed) (the function seeds a forked
    # global generator with its `seed`, so its value does not depend on the caller's RNG state)
    net = copy.deepcopy(model).train()
    torch.manual_seed(0)
    with torch.no_grad():
        lg = torch.cat([net(to_input(tr.x[i:i + 16])) for i in range(0, 40, 16)])
    ref = float((lg.gather(1, tr.y[:, None]).squeeze(1) - lg.scatter(1, tr.y[:, None], -1.0).amax(1)).double().mean())
    torch.manual_seed(7)
    state = torch.get_rng_state()
    got = P.logged_style_mean_margin(model, tr, batch_size=16, crop_pad=0, flip=False, seed=0)
    assert got == pytest.approx(ref, abs=1e-5)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's random stream is left alone
    with torch.no_grad():  # and train mode matters here: the eval-mode value is another number
        ev = model.eval()(to_input(tr.x))
    ev_ref = float((ev.gather(1, tr.y[:, None]).squeeze(1) - ev.scatter(1, tr.y[:, None], -1.0).amax(1)).double().mean())
    assert abs(got - ev_ref) > 1e-3
