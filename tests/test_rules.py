"""Tests of dboost.rules.next_gaps: the boosting gap rules (spec, thesis Table 1)."""
import pytest
import torch

from dboost.rules import RULES, next_gaps

M1 = torch.tensor([1.0, 3.0, 5.0, 7.0])          # mean 4
M2 = torch.tensor([10.0, 0.0, 2.0, -4.0])        # mean 2
M3 = torch.tensor([0.5, 0.25, -0.75, 4.0])       # mean 1

ALL_RULES = ["zero", "constant", "mean_margin", "save_mean_reverse", "zero_mean_reverse", "constant_by_last",
             "constant_mean_cumulative"]
NEEDS_C = {"constant", "constant_by_last", "constant_mean_cumulative"}


def kw(rule, c=34.0):
    return {"c": c} if rule in NEEDS_C else {}


def test_known_rules_are_the_spec_table():
    assert set(RULES) == set(ALL_RULES)


@pytest.mark.parametrize("rule,want", [
    ("zero", [0.0, 0.0, 0.0, 0.0]),
    ("constant", [34.0, 34.0, 34.0, 34.0]),
    ("mean_margin", [4.0, 4.0, 4.0, 4.0]),
    ("save_mean_reverse", [7.0, 5.0, 3.0, 1.0]),       # 2*4 - m
    ("zero_mean_reverse", [3.0, 1.0, -1.0, -3.0]),     # 4 - m
    ("constant_by_last", [37.0, 35.0, 33.0, 31.0]),    # 34 + 4 - m
    ("constant_mean_cumulative", [37.0, 35.0, 33.0, 31.0]),  # one member: same as constant_by_last
])
def test_formulas_one_member(rule, want):
    got = next_gaps(rule, [M1], **kw(rule))
    assert got.shape == (4,)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, torch.tensor(want), rtol=0, atol=0)


@pytest.mark.parametrize("rule,want", [
    ("mean_margin", [2.0] * 4),
    ("save_mean_reverse", [-6.0, 4.0, 2.0, 8.0]),      # 2*2 - M2
    ("zero_mean_reverse", [-8.0, 2.0, 0.0, 6.0]),      # 2 - M2
    ("constant_by_last", [26.0, 36.0, 34.0, 40.0]),    # 34 + 2 - M2
])
def test_reverse_rules_use_only_the_last_member(rule, want):
    got = next_gaps(rule, [M1, M2], **kw(rule))
    torch.testing.assert_close(got, torch.tensor(want), rtol=0, atol=0)


def test_hard_samples_get_larger_gaps():
    m = torch.tensor([5.0, -1.0, 2.0, 10.0])
    for rule in ("save_mean_reverse", "zero_mean_reverse", "constant_by_last"):
        g = next_gaps(rule, [m], **kw(rule))
        assert torch.equal(torch.argsort(g), torch.argsort(-m))


def _random_margins(T, n=1000, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, generator=g) * 20 + 40 + t for t in range(T)]


def test_save_mean_reverse_keeps_mean_margin():
    hist = _random_margins(3)
    g = next_gaps("save_mean_reverse", hist)
    assert abs(float(g.double().mean()) - float(hist[-1].double().mean())) < 1e-4
    torch.testing.assert_close(g + hist[-1], torch.full_like(g, 2 * float(hist[-1].double().mean())))


def test_zero_mean_reverse_has_mean_zero():
    hist = _random_margins(2)
    g = next_gaps("zero_mean_reverse", hist)
    assert abs(float(g.double().mean())) < 1e-5
    # and it is the save_mean rule shifted down by the mean margin
    torch.testing.assert_close(next_gaps("save_mean_reverse", hist) - g,
                               torch.full_like(g, float(hist[-1].double().mean())))


@pytest.mark.parametrize("T", [1, 2, 5])
def test_constant_mean_cumulative_is_c_plus_average_reversed_margins(T):
    hist = _random_margins(T, n=200, seed=T)
    c = 34.0
    reversed_ = [next_gaps("zero_mean_reverse", [m]).double() for m in hist]  # mean(m_t) - m_t
    want = c + sum(reversed_) / T
    got = next_gaps("constant_mean_cumulative", hist, c=c)
    torch.testing.assert_close(got.double(), want, rtol=0, atol=1e-4)
    assert abs(float(got.double().mean()) - c) < 1e-4


def test_constant_mean_cumulative_by_hand():
    got = next_gaps("constant_mean_cumulative", [M1, M2, M3], c=10)
    # mean - m per member: [3,1,-1,-3], [-8,2,0,6], [0.5,0.75,1.75,-3]
    want = 10 + torch.tensor([3 - 8 + 0.5, 1 + 2 + 0.75, -1 + 0 + 1.75, -3 + 6 - 3]) / 3
    torch.testing.assert_close(got, want.float())


def test_float64_margins_give_float64_gaps():
    g = next_gaps("zero_mean_reverse", [M1.double()])
    assert g.dtype == torch.float64
    torch.testing.assert_close(g, torch.tensor([3.0, 1.0, -1.0, -3.0], dtype=torch.float64))


def test_inputs_not_modified():
    m = M1.clone()
    next_gaps("save_mean_reverse", [m])
    assert torch.equal(m, M1)


# ----------------------------------------------------------------------------- empty history

@pytest.mark.parametrize("rule", ALL_RULES)
def test_empty_history_gives_initial_gap(rule):
    g = next_gaps(rule, [], n=5, **kw(rule, c=7.5))
    want = 7.5 if rule in NEEDS_C else 0.0
    assert g.shape == (5,)
    assert g.is_floating_point()
    assert torch.equal(g, torch.full((5,), want, dtype=g.dtype))


@pytest.mark.parametrize("n", [None, -1, 2.5])
def test_empty_history_needs_valid_n(n):
    params = {} if n is None else {"n": n}
    with pytest.raises(ValueError, match="n="):
        next_gaps("zero_mean_reverse", [], **params)


def test_n_with_history_must_match():
    assert next_gaps("zero", [M1], n=4).shape == (4,)
    with pytest.raises(ValueError):
        next_gaps("zero", [M1], n=5)


# ----------------------------------------------------------------------------- errors

def test_unknown_rule_lists_known_rules():
    with pytest.raises(ValueError) as e:
        next_gaps("reverse_everything", [M1])
    msg = str(e.value)
    assert "reverse_everything" in msg
    for r in ALL_RULES:
        assert r in msg


@pytest.mark.parametrize("rule", sorted(NEEDS_C))
def test_missing_c(rule):
    with pytest.raises(ValueError, match="c"):
        next_gaps(rule, [M1])
    with pytest.raises(ValueError, match="c"):
        next_gaps(rule, [], n=3)


@pytest.mark.parametrize("c", [float("nan"), float("inf")])
def test_non_finite_c(c):
    with pytest.raises(ValueError):
        next_gaps("constant", [M1], c=c)


@pytest.mark.parametrize("rule,params", [
    ("zero_mean_reverse", {"c": 1.0}),
    ("save_mean_reverse", {"c": 1.0}),
    ("zero", {"c": 0.0}),
    ("constant", {"c": 1.0, "gamma": 2.0}),
    ("mean_margin", {"alpha": 1}),
])
def test_extra_param(rule, params):
    with pytest.raises(ValueError):
        next_gaps(rule, [M1], **params)


def test_mismatched_lengths():
    with pytest.raises(ValueError):
        next_gaps("constant_mean_cumulative", [M1, torch.zeros(5)], c=1.0)
    with pytest.raises(ValueError):
        next_gaps("zero_mean_reverse", [torch.zeros(5), M1])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_nonfinite_margins(bad):
    m = M1.clone()
    m[2] = bad
    with pytest.raises(ValueError):
        next_gaps("zero_mean_reverse", [m])
    with pytest.raises(ValueError):  # also in an earlier member for the cumulative rule
        next_gaps("constant_mean_cumulative", [m, M2], c=1.0)


@pytest.mark.parametrize("bad", [torch.zeros(4, 1), torch.tensor(1.0), [1.0, 2.0]])
def test_margins_must_be_1d_tensors(bad):
    with pytest.raises(ValueError):
        next_gaps("zero_mean_reverse", [bad])
