"""Tests of dboost.rules: the boosting gap rules (spec, thesis Table 1) and the rule registry."""
import pytest
import torch

import dboost
from dboost import rules
from dboost.rules import RULES, next_gaps

M1 = torch.tensor([1.0, 3.0, 5.0, 7.0])          # mean 4
M2 = torch.tensor([10.0, 0.0, 2.0, -4.0])        # mean 2
M3 = torch.tensor([0.5, 0.25, -0.75, 4.0])       # mean 1

SPEC_RULES = ["zero", "constant", "mean_margin", "save_mean_reverse", "zero_mean_reverse", "constant_by_last",
              "constant_mean_cumulative"]
CODE_RULES = ["constant_mean_cumulative_code", "sample_margin_cumulative"]   # the authors' code's versions
ALL_RULES = SPEC_RULES + CODE_RULES
NEEDS_C = {"constant", "constant_by_last", "constant_mean_cumulative", "constant_mean_cumulative_code"}


def kw(rule, c=34.0):
    return {"c": c} if rule in NEEDS_C else {}


def test_known_rules_are_the_spec_table_and_the_code_variants():
    assert set(RULES) == set(ALL_RULES)
    assert all(RULES[r][0] == (r in NEEDS_C) and RULES[r][1] for r in ALL_RULES)   # needs-c flag, a description


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


# ----------------------------------------------------------------------------- the authors' code's variants

def _code_loop(history, c, kind):
    """The authors' ``Ens_gap_editor`` recursion, written out in numpy float64, one sample at a time:
    member 1 trained with gap c (mean_cummulative_gap) or 0 (gap_is_meanmargin); after member
    num_model (0-based), a = (last_gap * num_model + margin) / (num_model + 1), then the next gap is
    c + mean(a) - a, or a."""
    import numpy as np
    hist = [np.asarray(m, dtype=np.float64) for m in history]
    n = len(hist[0])
    last_gap = [c if kind == "mean" else 0.0] * n
    for num_model, margin in enumerate(hist):
        a = [(last_gap[i] * num_model + margin[i]) / (num_model + 1) for i in range(n)]
        mean_a = sum(a) / n
        last_gap = [c + mean_a - a[i] for i in range(n)] if kind == "mean" else a
    return torch.tensor(last_gap, dtype=torch.float64)


@pytest.mark.parametrize("T", [1, 2, 3, 4, 7])
def test_constant_mean_cumulative_code_is_the_codes_recursion(T):
    hist = _random_margins(T, n=50, seed=10 + T)
    got = next_gaps("constant_mean_cumulative_code", hist, c=34.0)
    assert got.dtype == torch.float32 and got.shape == (50,)
    torch.testing.assert_close(got.double(), _code_loop(hist, 34.0, "mean"), rtol=0, atol=1e-4)
    # closed form (rules.py docstring): c + (1/T) sum_t (-1)^(T-t) (mean(M_t) - M_t)
    closed = 34.0 + sum((-1) ** (T - 1 - t) * (m.double().mean() - m.double()) for t, m in enumerate(hist)) / T
    torch.testing.assert_close(got.double(), closed, rtol=0, atol=1e-4)
    assert abs(float(got.double().mean()) - 34.0) < 1e-4     # mean gap stays c, like the thesis rule


def test_constant_mean_cumulative_code_members_1_2_agree_with_thesis_then_differ():
    c = 10.0
    for hist in ([], [M1]):      # the gaps of members 1 and 2
        kw_ = dict(c=c, n=4)
        assert torch.equal(next_gaps("constant_mean_cumulative_code", hist, **kw_),
                           next_gaps("constant_mean_cumulative", hist, **kw_))
    # member 3: the code gives c + (r(M2) - r(M1)) / 2, the thesis c + (r(M1) + r(M2)) / 2
    # r(M1) = [3, 1, -1, -3], r(M2) = [-8, 2, 0, 6]
    code = next_gaps("constant_mean_cumulative_code", [M1, M2], c=c)
    thesis = next_gaps("constant_mean_cumulative", [M1, M2], c=c)
    torch.testing.assert_close(code, torch.tensor([4.5, 10.5, 10.5, 14.5]), rtol=0, atol=0)
    torch.testing.assert_close(thesis, torch.tensor([7.5, 11.5, 9.5, 11.5]), rtol=0, atol=0)
    hist = _random_margins(5, n=100, seed=3)
    for T in range(2, 6):
        assert not torch.allclose(next_gaps("constant_mean_cumulative_code", hist[:T], c=c),
                                  next_gaps("constant_mean_cumulative", hist[:T], c=c), atol=1e-2)


@pytest.mark.parametrize("T", [1, 2, 3, 6])
def test_sample_margin_cumulative_is_the_codes_recursion_and_running_mean(T):
    hist = _random_margins(T, n=40, seed=20 + T)
    got = next_gaps("sample_margin_cumulative", hist)
    torch.testing.assert_close(got.double(), _code_loop(hist, 0.0, "sample"), rtol=0, atol=1e-4)
    torch.testing.assert_close(got.double(), torch.stack([m.double() for m in hist]).mean(0), rtol=0, atol=1e-4)
    if T == 1:  # each sample its own margin, not one mean for all as the thesis's mean_margin
        assert torch.equal(got, hist[0])
        assert not torch.allclose(got, next_gaps("mean_margin", hist))


def test_code_variants_leave_spec_rules_alone():
    """Adding the code's rules changed no thesis rule (values pinned above; here, three members)."""
    got = next_gaps("constant_mean_cumulative", [M1, M2, M3], c=10)
    want = 10 + torch.tensor([3 - 8 + 0.5, 1 + 2 + 0.75, -1 + 0 + 1.75, -3 + 6 - 3]) / 3
    torch.testing.assert_close(got, want.float())
    torch.testing.assert_close(next_gaps("mean_margin", [M1, M2, M3]), torch.full((4,), 1.0))


# ----------------------------------------------------------------------------- the registry

@pytest.fixture
def shrink_rule():
    """A custom rule: g_i = k + s * (mean(M_T) - M_T,i), first member k (a shrunken constant_by_last)."""
    rules.register("shrunk_reverse", lambda ms, k, s: k + s * (ms[-1].mean() - ms[-1]), params=("k", "s"), first="k",
                   description="k + s (mean(m) - m_i)")
    yield "shrunk_reverse"
    rules.unregister("shrunk_reverse")


def test_registered_rule_through_next_gaps(shrink_rule):
    assert next_gaps(shrink_rule, [], n=3, k=5.0, s=0.5).tolist() == [5.0, 5.0, 5.0]
    got = next_gaps(shrink_rule, [M1, M2], k=5.0, s=0.5)       # last member: M2, mean 2
    assert got.tolist() == [5.0 + 0.5 * (2 - v) for v in [10.0, 0.0, 2.0, -4.0]]
    assert got.dtype == M2.dtype
    with pytest.raises(ValueError, match="needs the constant s"):
        next_gaps(shrink_rule, [M1], k=5.0)
    with pytest.raises(ValueError, match="takes no parameter"):
        next_gaps(shrink_rule, [M1], k=5.0, s=0.5, c=1.0)


def test_registered_rule_through_chain(shrink_rule):
    """Algorithm 1 with the custom rule: member t's gaps come from member t-1's margins."""
    margins_of = [M1, M2, M3]
    seen = []

    def train_member(t, gaps):
        seen.append(gaps)
        return margins_of[t]

    out = list(dboost.chain(shrink_rule, 3, 4, train_member, k=1.0, s=2.0))
    assert [t for t, _, _ in out] == [0, 1, 2]
    assert seen[0].tolist() == [1.0] * 4
    assert seen[1].tolist() == [1.0 + 2.0 * (4 - v) for v in M1.tolist()]
    assert seen[2].tolist() == [1.0 + 2.0 * (2 - v) for v in M2.tolist()]
    with pytest.raises(ValueError, match="needs the constant"):
        next(dboost.chain(shrink_rule, 3, 4, train_member, k=1.0))


def test_rules_view_is_read_only_and_follows_the_registry(shrink_rule):
    assert shrink_rule in RULES and RULES[shrink_rule] == (False, "k + s (mean(m) - m_i)")
    assert RULES["constant"][0] is True and len(RULES) == len(ALL_RULES) + 1
    with pytest.raises(TypeError):
        RULES["x"] = (False, "")  # type: ignore[index]
    assert rules.get("constant").params == ("c",) and rules.names()[:len(ALL_RULES)] == tuple(ALL_RULES)


def test_register_refuses_bad_or_duplicate_rules(shrink_rule):
    with pytest.raises(ValueError, match="already registered"):
        rules.register(shrink_rule, lambda ms: ms[-1])
    with pytest.raises(ValueError, match="built-in"):
        rules.unregister("zero")
    with pytest.raises(ValueError, match="'n'"):
        rules.register("uses_n", lambda ms, n: ms[-1], params=("n",))
    with pytest.raises(ValueError, match="names no parameter"):
        rules.register("bad_first", lambda ms: ms[-1], first="c")
    assert "uses_n" not in RULES and "bad_first" not in RULES


def test_a_rule_returning_the_wrong_shape_is_an_error():
    rules.register("wrong_shape", lambda ms: ms[-1][:2])
    try:
        with pytest.raises(ValueError, match="must return a tensor of shape"):
            next_gaps("wrong_shape", [M1])
    finally:
        rules.unregister("wrong_shape")


def test_deprecated_check_rule_warns():
    with pytest.warns(DeprecationWarning):
        assert rules._check_rule("constant", {"c": 2}) == 2.0
