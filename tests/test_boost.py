"""Tests of dboost.boost: Ensemble over arbitrary modules, against a hand-written log-mean-softmax;
and boosting itself -- boost(), Algorithm 1 with real training of tiny nets."""
import copy
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

import dboost
import dboost.boost
from dboost.augmentation import to_input
from dboost.boost import Ensemble, boost
from dboost.loss import margins
from dboost.rules import next_gaps
from dboost.train import predict_logits
from tiny import MEAN, STD, tiny_conv, warm_bn

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny nets: fastest on one thread


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


# ----------------------------------------------------------------------------- boosting (Algorithm 1), trained

def _make(t):
    return tiny_conv(100 + t)


TRAIN_KW = dict(epochs=4, batch_size=50, lr=2e-2)


def _spy_train(monkeypatch):
    seen = []
    orig = dboost.boost.train

    def spy(model, train_set, **kw):
        seen.append(kw["gaps"].clone())
        return orig(model, train_set, **kw)

    monkeypatch.setattr(dboost.boost, "train", spy)
    return seen


def test_boost_zero_mean_reverse(syn, monkeypatch):
    tr, te = syn
    seen = _spy_train(monkeypatch)
    got_cb = []
    ens, records = boost(_make, tr, te, rule="zero_mean_reverse", members=2, recipe="fast", progress=False,
                         train_kw=TRAIN_KW, on_member=lambda t, m, r: got_cb.append((t, r["member"])))
    assert isinstance(ens, Ensemble) and len(ens) == 2 and len(records) == 2
    assert [r["member"] for r in records] == [1, 2] and got_cb == [(0, 1), (1, 2)]
    # member 1: the rule's initial gap, 0
    assert torch.equal(seen[0], torch.zeros(len(tr)))
    assert records[0]["gap"] == dict(mean=0.0, std=0.0, min=0.0, max=0.0)
    # member 2: next_gaps of member 1's un-augmented, eval-mode training margins
    m1 = margins(predict_logits(ens.members[0], tr), tr.y)
    want = next_gaps("zero_mean_reverse", [m1])
    torch.testing.assert_close(seen[1], want, rtol=0, atol=1e-5)
    assert abs(records[1]["gap"]["mean"]) < 1e-5
    assert records[1]["gap"]["std"] > 0.1                       # not trivially zero
    assert records[1]["gap"]["min"] == pytest.approx(float(want.min()), abs=1e-5)
    assert records[1]["gap"]["max"] == pytest.approx(float(want.max()), abs=1e-5)
    assert records[0]["train_margin"]["mean"] == pytest.approx(float(m1.double().mean()), abs=1e-4)
    assert records[0]["train_acc"] == pytest.approx(float((m1 > 0).double().mean()))
    m2 = margins(predict_logits(ens.members[1], tr), tr.y)
    assert records[1]["train_margin"]["mean"] == pytest.approx(float(m2.double().mean()), abs=1e-4)
    # the test metrics are those of the ensemble of the first t+1 members
    assert records[0]["test"]["members"] == 1 and records[1]["test"]["members"] == 2
    p = ens.predict_proba(te)
    assert records[1]["test"]["acc"] == pytest.approx(float((p.argmax(1) == te.y).double().mean()))
    # members are distinct models
    assert not torch.equal(ens.members[0][0].weight, ens.members[1][0].weight)


def test_ensemble_combines_member_softmaxes(syn):
    tr, te = syn
    members = [tiny_conv(s, dropout=0.3) for s in range(3)]
    for m in members:
        warm_bn(m, to_input(tr.x[:50]))
    ens = Ensemble(members)
    x = te.x[:30]
    with torch.no_grad():
        probs = [torch.softmax(copy.deepcopy(m).eval()((x.float() - MEAN) / STD), 1) for m in members]
    want = torch.stack(probs).mean(0)
    p = ens.predict_proba(x)
    torch.testing.assert_close(p, want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(p.sum(1), torch.ones(30))
    lp = ens.log_proba(x)
    assert lp.dtype == torch.float64
    torch.testing.assert_close(lp.exp(), p.double(), rtol=1e-5, atol=1e-7)
    ml = ens.member_logits(x)
    assert ml.shape == (3, 30, 10)
    torch.testing.assert_close(ens.mean_logits(x), ml.mean(0))
    assert all(m.training for m in members)  # prediction restored the training flag
    with pytest.raises(ValueError):
        Ensemble([]).predict_proba(x)


def test_boost_margin_source_ensemble(syn, monkeypatch):
    """With margin_source='ensemble', member t+1's gaps come from the ensemble's log-probabilities."""
    tr, _ = syn
    seen = _spy_train(monkeypatch)
    ens, records = boost(_make, tr, None, rule="zero_mean_reverse", members=3, recipe="fast", progress=False,
                         margin_source="ensemble", train_kw=dict(TRAIN_KW, epochs=2))
    assert len(records) == 3 and all("test" not in r for r in records)
    assert all(r["margin_source"] == "ensemble" for r in records)
    m_ens2 = margins(Ensemble(list(ens.members[:2])).log_proba(tr).float(), tr.y)
    torch.testing.assert_close(seen[2], next_gaps("zero_mean_reverse", [m_ens2]), rtol=0, atol=1e-4)
    # and that differs from what the last member alone would give
    m_last = margins(predict_logits(ens.members[1], tr), tr.y)
    assert not torch.allclose(seen[2], next_gaps("zero_mean_reverse", [m_last]), atol=1e-2)


@pytest.mark.parametrize("kw", [dict(rule="nope"), dict(rule="constant"), dict(rule="zero", c=1.0),
                                dict(members=0), dict(members=1.5), dict(margin_source="best")])
def test_boost_bad_arguments(syn, kw):
    tr, _ = syn
    built = []
    args = dict(rule="zero_mean_reverse", members=2)
    args.update(kw)
    with pytest.raises(ValueError):
        boost(lambda t: built.append(t) or tiny_conv(), tr, None, progress=False, **args)
    assert built == []  # nothing was trained
