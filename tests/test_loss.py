"""Tests of dboost.loss: the discounted cross-entropy and the logit-domain margin.

Every value is checked against an independent float64 reference written here from the
poster's formula, not against the implementation's own building blocks.
"""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dboost.loss import DiscountedCrossEntropy, check_inputs, discounted_cross_entropy, margins


# ----------------------------------------------------------------------------- references

def ref_loss(logits, target, gap=0.0, reduction="mean"):
    """Poster, section 2, per sample in float64 numpy:

        L_i = -log( exp(l_y - g) / (exp(l_y - g) + sum_{j != y} exp(l_j)) )

    written with an explicit max-shifted log-sum-exp.  A float gap or an (N,) gap is
    subtracted from the true-class logit only; an (N, C) gap from every logit.
    """
    l = np.asarray(torch.as_tensor(logits).detach().double().cpu().numpy())
    y = np.asarray(torch.as_tensor(target).cpu().numpy()).astype(int)
    n, c = l.shape
    g = gap.detach().double().cpu().numpy() if isinstance(gap, torch.Tensor) else np.float64(gap)
    out = np.empty(n)
    for i in range(n):
        z = l[i].copy()
        if np.ndim(g) == 0:
            z[y[i]] -= g
        elif np.ndim(g) == 1:
            z[y[i]] -= g[i]
        else:
            z = z - g[i]
        mx = z.max()
        lse = mx + math.log(sum(math.exp(v - mx) for v in z))
        out[i] = lse - z[y[i]]
    if reduction == "mean":
        return torch.tensor(out.mean(), dtype=torch.float64)
    if reduction == "sum":
        return torch.tensor(out.sum(), dtype=torch.float64)
    return torch.tensor(out, dtype=torch.float64)


def ref_margins(logits, target):
    """Loop: true-class logit minus the largest other logit, in float64."""
    l = logits.double().tolist()
    y = target.tolist()
    return torch.tensor([row[yi] - max(v for j, v in enumerate(row) if j != yi) for row, yi in zip(l, y)],
                        dtype=torch.float64)


def make(n=7, c=5, seed=0, dtype=torch.float32, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    logits = (scale * torch.randn(n, c, generator=g, dtype=torch.float64)).to(dtype)
    target = torch.randint(0, c, (n,), generator=g)
    return logits, target


GAP_KINDS = ["float", "vector", "matrix"]


def make_gap(kind, n, c, seed=1, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    if kind == "float":
        return 2.5
    if kind == "vector":
        return (4 * torch.rand(n, generator=g, dtype=torch.float64) - 1).to(dtype)  # includes negative gaps
    return (3 * torch.randn(n, c, generator=g, dtype=torch.float64)).to(dtype)


# ----------------------------------------------------------------------------- values

@pytest.mark.parametrize("kind", GAP_KINDS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_reference(kind, reduction, dtype):
    logits, target = make(n=9, c=6, dtype=dtype)
    gap = make_gap(kind, 9, 6, dtype=dtype)
    got = discounted_cross_entropy(logits, target, gap, reduction=reduction)
    want = ref_loss(logits, target, gap, reduction)
    assert got.dtype == dtype
    assert got.shape == want.shape == ((9,) if reduction == "none" else ())
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(got.double(), want, rtol=tol, atol=tol)


def test_reductions_are_consistent():
    logits, target = make(n=11, c=4)
    gap = make_gap("vector", 11, 4)
    none = discounted_cross_entropy(logits, target, gap, reduction="none")
    torch.testing.assert_close(discounted_cross_entropy(logits, target, gap, reduction="sum"), none.sum())
    torch.testing.assert_close(discounted_cross_entropy(logits, target, gap, reduction="mean"), none.mean())


def test_gap_increases_loss_of_every_sample():
    """Subtracting a positive gap from the true logit can only make each sample's loss larger."""
    logits, target = make(n=20, c=5)
    l0 = discounted_cross_entropy(logits, target, 0.0, reduction="none")
    l1 = discounted_cross_entropy(logits, target, 1.0, reduction="none")
    assert (l1 > l0).all()


def test_vector_gap_equals_matrix_gap_on_true_class_and_per_sample_float():
    logits, target = make(n=6, c=4)
    gv = make_gap("vector", 6, 4)
    gm = gv[:, None] * F.one_hot(target, 4).float()
    a = discounted_cross_entropy(logits, target, gv, reduction="none")
    b = discounted_cross_entropy(logits, target, gm, reduction="none")
    torch.testing.assert_close(a, b)
    for i in range(6):  # sample i with the scalar gap g_i gives the same loss
        ci = discounted_cross_entropy(logits[i:i + 1], target[i:i + 1], float(gv[i]), reduction="none")
        torch.testing.assert_close(ci[0], a[i])


def test_matrix_gap_constant_per_row_changes_nothing():
    """Subtracting the same value from every logit of a row leaves softmax unchanged."""
    logits, target = make(n=5, c=3)
    g = torch.arange(5.0)[:, None].expand(5, 3) * 7
    torch.testing.assert_close(discounted_cross_entropy(logits, target, g.contiguous(), reduction="none"),
                               F.cross_entropy(logits, target, reduction="none"))


def test_zero_dim_tensor_gap_equals_float_gap():
    logits, target = make()
    torch.testing.assert_close(discounted_cross_entropy(logits, target, torch.tensor(1.5)),
                               discounted_cross_entropy(logits, target, 1.5))


@pytest.mark.parametrize("zero", [0.0, 0, "vector", "matrix"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_zero_gap_is_cross_entropy_value_and_gradient(zero, reduction):
    logits, target = make(n=8, c=5)
    if zero == "vector":
        gap = torch.zeros(8)
    elif zero == "matrix":
        gap = torch.zeros(8, 5)
    else:
        gap = zero
    a = logits.clone().requires_grad_(True)
    b = logits.clone().requires_grad_(True)
    la = discounted_cross_entropy(a, target, gap, reduction=reduction)
    lb = F.cross_entropy(b, target, reduction=reduction)
    torch.testing.assert_close(la, lb, rtol=0, atol=0)
    w = torch.linspace(0.5, 1.5, 8) if reduction == "none" else torch.tensor(1.0)
    (la * w).sum().backward()
    (lb * w).sum().backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-6, atol=1e-7)


def test_gradient_matches_analytic_softmax_form():
    """d L_i / d l = softmax(l - g e_y) - e_y  (per-sample, reduction='sum')."""
    logits, target = make(n=6, c=4, dtype=torch.float64)
    gap = make_gap("vector", 6, 4, dtype=torch.float64)
    x = logits.clone().requires_grad_(True)
    discounted_cross_entropy(x, target, gap, reduction="sum").backward()
    onehot = F.one_hot(target, 4).double()
    want = torch.softmax(logits - gap[:, None] * onehot, 1) - onehot
    torch.testing.assert_close(x.grad, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", GAP_KINDS)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_gradcheck_float64(kind, reduction):
    logits, target = make(n=5, c=4, dtype=torch.float64)
    logits.requires_grad_(True)
    if kind == "float":
        assert torch.autograd.gradcheck(lambda l: discounted_cross_entropy(l, target, 1.7, reduction), (logits,))
        assert torch.autograd.gradgradcheck(lambda l: discounted_cross_entropy(l, target, 1.7, reduction), (logits,))
    else:
        gap = make_gap(kind, 5, 4, dtype=torch.float64).requires_grad_(True)
        assert torch.autograd.gradcheck(lambda l, g: discounted_cross_entropy(l, target, g, reduction), (logits, gap))


# ----------------------------------------------------------------------------- stability

@pytest.mark.parametrize("kind", GAP_KINDS)
@pytest.mark.parametrize("scale,gapscale", [(1e4, 1.0), (1.0, 1e4), (1e4, 1e4), (3e3, -1e4)])
def test_large_logits_and_gaps_float32_finite_and_accurate(kind, scale, gapscale):
    n, c = 16, 10
    g = torch.Generator().manual_seed(3)
    logits = (scale * (2 * torch.rand(n, c, generator=g) - 1)).float()
    logits[0] = scale  # a row of ties at the extreme value
    target = torch.randint(0, c, (n,), generator=g)
    if kind == "float":
        gap = float(gapscale)
    elif kind == "vector":
        gap = (gapscale * torch.rand(n, generator=g)).float()
    else:
        gap = (gapscale * torch.rand(n, c, generator=g)).float()
    x = logits.clone().requires_grad_(True)
    got = discounted_cross_entropy(x, target, gap, reduction="none")
    assert got.dtype == torch.float32
    assert torch.isfinite(got).all()
    got.sum().backward()
    assert torch.isfinite(x.grad).all()
    want = ref_loss(logits, target, gap, "none")  # float64 reference of the same float32 inputs
    assert torch.isfinite(want).all()
    # float32 rounding of inputs of size ~1e4 is ~1e-3 in absolute terms
    torch.testing.assert_close(got.double(), want, rtol=1e-6, atol=5e-3)


def test_extreme_inputs_no_overflow_mean():
    logits = torch.tensor([[1e4, -1e4], [-1e4, 1e4]], dtype=torch.float32)
    target = torch.tensor([1, 1])
    out = discounted_cross_entropy(logits, target, 1e4)
    # sample 0: true logit -1e4 - 1e4 vs 1e4 -> loss 3e4; sample 1: 1e4 - 1e4 = 0 vs -1e4 -> ~0
    torch.testing.assert_close(out.double(), torch.tensor(1.5e4, dtype=torch.float64), rtol=1e-6, atol=1e-3)


def test_autocast_bfloat16_gives_float32():
    torch.manual_seed(0)
    lin = torch.nn.Linear(8, 5)
    x = torch.randn(12, 8)
    target = torch.randint(0, 5, (12,))
    gaps = torch.linspace(0, 3, 12)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = lin(x)
        assert logits.dtype == torch.bfloat16  # precondition: autocast really ran in bf16
        for gap in (2.0, gaps, torch.ones(12, 5)):
            out = discounted_cross_entropy(logits, target, gap)
            assert out.dtype == torch.float32
            # the loss is that of the bf16 logits computed exactly
            torch.testing.assert_close(out.double(), ref_loss(logits.float(), target, gap), rtol=1e-5, atol=1e-5)
        out_none = discounted_cross_entropy(logits, target, gaps, reduction="none")
        assert out_none.dtype == torch.float32
    out.backward()
    assert lin.weight.grad is not None and torch.isfinite(lin.weight.grad).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("gap", [0.0, 2.0, "vector"])
def test_half_logits_promoted_to_float32(dtype, gap):
    logits, target = make(dtype=dtype)
    if gap == "vector":
        gap = torch.full((7,), 2.0, dtype=dtype)
    out = discounted_cross_entropy(logits, target, gap, reduction="none")
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.double(), ref_loss(logits, target, gap, "none"), rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- module

def test_module_stored_gap_and_per_call_override():
    logits, target = make(n=6, c=4)
    gv = make_gap("vector", 6, 4)
    mod = DiscountedCrossEntropy(gap=2.0)
    torch.testing.assert_close(mod(logits, target), discounted_cross_entropy(logits, target, 2.0))
    torch.testing.assert_close(mod(logits, target, gap=gv), discounted_cross_entropy(logits, target, gv))
    torch.testing.assert_close(mod(logits, target, gap=0.0), F.cross_entropy(logits, target))
    assert mod.gap == 2.0  # the override did not replace the stored gap
    torch.testing.assert_close(mod(logits, target), ref_loss(logits, target, 2.0).float())
    mod_sum = DiscountedCrossEntropy(gap=gv, reduction="none")
    torch.testing.assert_close(mod_sum(logits, target), ref_loss(logits, target, gv, "none").float())
    assert "reduction='none'" in repr(mod_sum) and "gap=2.0" in repr(mod) and "check=True" in repr(mod)
    with pytest.raises(ValueError):
        DiscountedCrossEntropy(reduction="avg")


# ----------------------------------------------------------------------------- label smoothing, check=False

def shifted(logits, target, gap):
    """The independent reference's input: the true-class logit minus the gap, in float64."""
    z = logits.double().clone()
    g = gap.double() if isinstance(gap, torch.Tensor) else torch.full((len(target),), float(gap), dtype=torch.float64)
    z[torch.arange(len(target)), target] -= g
    return z


@pytest.mark.parametrize("kind", ["float", "vector"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("eps", [0.0, 0.1, 0.5])
@pytest.mark.parametrize("check", [True, False])
def test_label_smoothing_is_cross_entropy_of_the_shifted_logits(kind, reduction, eps, check):
    logits, target = make(n=9, c=6, seed=4)
    gap = make_gap(kind, 9, 6)
    want = F.cross_entropy(shifted(logits, target, gap), target, reduction=reduction, label_smoothing=eps)
    got = discounted_cross_entropy(logits, target, gap, reduction, label_smoothing=eps, check=check)
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-6)
    mod = DiscountedCrossEntropy(gap, reduction, label_smoothing=eps, check=check)
    torch.testing.assert_close(mod(logits, target).double(), want, rtol=1e-5, atol=1e-6)


def test_label_smoothing_by_hand():
    """eps spreads eps/C of the target over every class: loss = (1 - eps) CE + eps * mean_j(-log p_j)."""
    logits, target = make(n=5, c=4, seed=8)
    z = shifted(logits, target, 1.5)
    logp = torch.log_softmax(z, 1)
    want = ((1 - 0.2) * -logp[torch.arange(5), target] + 0.2 * -logp.mean(1)).mean()
    torch.testing.assert_close(discounted_cross_entropy(logits, target, 1.5, label_smoothing=0.2).double(), want,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("eps", [-0.1, 1.5, float("nan"), "0.1", True])
def test_bad_label_smoothing(eps):
    logits, target = make()
    with pytest.raises(ValueError, match="label_smoothing"):
        discounted_cross_entropy(logits, target, label_smoothing=eps)
    with pytest.raises(ValueError, match="label_smoothing"):
        DiscountedCrossEntropy(label_smoothing=eps)


def test_unchecked_path_skips_validation_and_gradients_match():
    logits, target = make(n=8, c=5, seed=2)
    gap = make_gap("vector", 8, 5)
    a = logits.clone().requires_grad_()
    b = logits.clone().requires_grad_()
    discounted_cross_entropy(a, target, gap).backward()
    discounted_cross_entropy(b, target, gap, check=False).backward()
    torch.testing.assert_close(a.grad, b.grad)
    bad = logits.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError):
        discounted_cross_entropy(bad, target)
    assert torch.isnan(discounted_cross_entropy(bad, target, check=False))  # no check, no error: documented


def test_check_inputs_prepares_the_gap_once():
    logits, target = make(n=6, c=3)
    assert check_inputs(torch.zeros(6, 3), target % 3, 2) == 2.0
    g = check_inputs(torch.zeros(6, 3), target % 3, torch.arange(6))
    assert g.dtype == torch.float32 and g.shape == (6,)
    with pytest.raises(ValueError, match="labels"):
        check_inputs(torch.zeros(6, 3), target % 3 + 3)


def test_deprecated_private_kernel_warns_and_still_works():
    import dboost.loss
    logits, target = make()
    with pytest.warns(DeprecationWarning, match="check=False"):
        old = dboost.loss._discounted_ce
    torch.testing.assert_close(old(logits, target, 1.0, "mean", 0.1),
                               discounted_cross_entropy(logits, target, 1.0, label_smoothing=0.1))


# ----------------------------------------------------------------------------- margins

@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_margins_match_reference_loop(dtype):
    logits, target = make(n=40, c=7, dtype=dtype, scale=5.0)
    logits[3] = 1.0  # all ties: margin 0
    got = margins(logits, target)
    assert got.dtype == dtype and got.shape == (40,)
    want = ref_margins(logits, target)
    assert got[3] == 0
    torch.testing.assert_close(got.double(), want, **({"rtol": 1e-3, "atol": 1e-3} if dtype == torch.float16 else {}))
    # positive margin <=> argmax is the true class (strictly)
    assert torch.equal(got > 0, (logits.double().argmax(1) == target) & (want > 0))


def test_margins_two_classes_and_shift_invariance():
    logits = torch.tensor([[3.0, 1.0], [0.5, 2.0], [-1.0, -1.0]])
    target = torch.tensor([0, 0, 1])
    torch.testing.assert_close(margins(logits, target), torch.tensor([2.0, -1.5, 0.0]))
    shifted = logits + torch.tensor([[10.0], [-4.0], [2.0]])
    torch.testing.assert_close(margins(shifted, target), margins(logits, target))
    torch.testing.assert_close(margins(torch.log_softmax(logits, 1), target), margins(logits, target))


def test_margins_int32_targets_ok():
    logits, target = make()
    torch.testing.assert_close(margins(logits, target.int()), margins(logits, target))


# ----------------------------------------------------------------------------- errors

def _bad_cases():
    logits, target = make(n=4, c=3)
    return {
        "label out of range": (logits, torch.tensor([0, 1, 2, 3]), 0.0, "mean"),
        "negative label": (logits, torch.tensor([0, -1, 2, 1]), 0.0, "mean"),
        "target too short": (logits, target[:3], 0.0, "mean"),
        "target 2-D": (logits, target[:, None], 0.0, "mean"),
        "gap wrong length": (logits, target, torch.zeros(5), "mean"),
        "gap wrong columns": (logits, target, torch.zeros(4, 4), "mean"),
        "gap 3-D": (logits, target, torch.zeros(4, 3, 1), "mean"),
        "gap NaN": (logits, target, torch.tensor([0.0, float("nan"), 0.0, 0.0]), "mean"),
        "gap inf": (logits, target, torch.tensor([0.0, 0.0, float("inf"), 0.0]), "mean"),
        "gap float NaN": (logits, target, float("nan"), "mean"),
        "gap float -inf": (logits, target, float("-inf"), "mean"),
        "gap matrix inf": (logits, target, torch.full((4, 3), float("inf")), "mean"),
        "gap a list": (logits, target, [0.0, 1.0, 2.0, 3.0], "mean"),
        "C < 2": (logits[:, :1], torch.zeros(4, dtype=torch.long), 0.0, "mean"),
        "logits 1-D": (logits[:, 0], target, 0.0, "mean"),
        "integer logits": (logits.long(), target, 0.0, "mean"),
        "bad reduction": (logits, target, 0.0, "avg"),
        "float target": (logits, target.float(), 0.0, "mean"),
        "bool target": (logits, target.bool(), 0.0, "mean"),
    }


@pytest.mark.parametrize("case", list(_bad_cases()))
def test_loss_errors(case):
    logits, target, gap, reduction = _bad_cases()[case]
    with pytest.raises(ValueError):
        discounted_cross_entropy(logits, target, gap, reduction=reduction)


@pytest.mark.parametrize("case", ["label out of range", "negative label", "target too short", "C < 2",
                                  "float target", "logits 1-D"])
def test_margins_errors(case):
    logits, target, _, _ = _bad_cases()[case]
    with pytest.raises(ValueError):
        margins(logits, target)


def test_error_messages_are_specific():
    logits, target = make(n=4, c=3)
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        discounted_cross_entropy(logits, torch.tensor([0, 1, 2, 3]), 0.0)
    with pytest.raises(ValueError, match="finite"):
        discounted_cross_entropy(logits, target, torch.tensor([0.0, float("nan"), 0.0, 0.0]))
    with pytest.raises(ValueError, match="reduction"):
        discounted_cross_entropy(logits, target, 0.0, reduction="avg")


# ----------------------------------------------------------------------------- bad input: non-finite logits, empty batches, numpy arrays

def test_non_finite_logits_are_refused_and_margins_propagate_nan():
    y = torch.tensor([0, 1, 2, 0])
    for bad in (float("nan"), float("inf"), float("-inf")):
        z = torch.randn(4, 3)
        z[1, 2] = bad
        with pytest.raises(ValueError, match="NaN or inf"):
            discounted_cross_entropy(z, y)
        with pytest.raises(ValueError, match="NaN or inf"):
            discounted_cross_entropy(z.double(), y, torch.ones(4), reduction="none")
    huge = torch.full((4, 3), 3e38)  # finite, though their float32 sum overflows
    assert torch.isfinite(discounted_cross_entropy(huge, y))
    z = torch.randn(4, 3)
    z[1, 0] = float("nan")
    m = margins(z, y)
    assert torch.isnan(m[1]) and torch.isfinite(m[[0, 2, 3]]).all()  # documented: NaN propagates


def test_an_empty_batch_and_numpy_inputs_get_clear_messages():
    e = torch.zeros(0, 3)
    t = torch.zeros(0, dtype=torch.long)
    with pytest.raises(ValueError, match="empty batch"):
        discounted_cross_entropy(e, t)
    assert float(discounted_cross_entropy(e, t, reduction="sum")) == 0.0
    assert discounted_cross_entropy(e, t, reduction="none").shape == (0,)
    with pytest.raises(ValueError, match=r"logits must be a torch.Tensor; got numpy.ndarray") as ei:
        discounted_cross_entropy(np.zeros((4, 3), np.float32), torch.zeros(4, dtype=torch.long))
    assert "shape" not in str(ei.value)
    with pytest.raises(ValueError, match=r"target must be a torch.Tensor.*numpy.ndarray"):
        discounted_cross_entropy(torch.zeros(4, 3), np.zeros(4, np.int64))


def test_the_finiteness_check_adds_no_device_read_back(monkeypatch):
    """The finiteness check shares the label check's single device read-back."""
    calls = []
    for name in ("tolist", "item", "__int__", "__float__", "__bool__"):
        real = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name, lambda self, *a, _r=real, _n=name: calls.append(_n) or _r(self, *a))
    discounted_cross_entropy(torch.randn(8, 5), torch.randint(0, 5, (8,)), 2.0)
    assert calls == ["tolist"]
