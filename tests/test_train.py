"""Tests of dboost.train: the trainer (Theorem 1, alignment of gaps and images, determinism, errors,
the compiled path) and inference (predict_logits).

Everything runs on the CPU with tiny models; the whole file takes a few seconds.
"""
import copy
import math

import pytest
import torch
import torch.nn as nn

import dboost.train
from dboost.data import Split, synthetic
from dboost.loss import discounted_cross_entropy, margins
from dboost.train import predict_logits, train
from tiny import FAST, MEAN, STD, id_images, tiny_conv, warm_bn

pytestmark = pytest.mark.usefixtures("one_thread")


# ----------------------------------------------------------------------------- (1) Theorem 1

def _toy(n=90, d=6, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = 4 * torch.randn(k, d, generator=g)
    y = torch.arange(n) % k
    return centers[y] + torch.randn(n, d, generator=g), y


def _frozen_head_mlp(seed=0, scale=10.0):
    """MLP -> affine-free BatchNorm1d -> frozen bias-free Linear scaled by 10 (the poster's head)."""
    torch.manual_seed(seed)
    last = nn.Linear(16, 3, bias=False)
    with torch.no_grad():
        last.weight.mul_(scale)
    last.weight.requires_grad_(False)
    return nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 16), nn.BatchNorm1d(16, affine=False), last)


def _fit(model, x, y, gap, steps=400):
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(steps):
        loss = discounted_cross_entropy(model(x), y, gap)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.detach())


def test_theorem1_margins_exceed_gap_with_frozen_last_layer():
    """Trained with gap g to 100 % train accuracy (of the discounted logits), every margin is >= g.

    The gap is chosen above what plain CE reaches, so the margins are lifted by the gap and not
    by chance; the frozen head (BN without affine, fixed W) cannot just scale the logits up.
    """
    x, y = _toy()
    g = 12.0
    plain = _frozen_head_mlp()
    _fit(plain, x, y, 0.0)
    with torch.no_grad():
        m_plain = margins(plain(x), y)
    assert (m_plain > 0).all()                 # plain CE: 100 % train accuracy ...
    assert float(m_plain.min()) < g            # ... without reaching the gap

    model = _frozen_head_mlp()
    w0 = model[-1].weight.clone()
    _fit(model, x, y, g)
    assert torch.equal(model[-1].weight, w0)   # the frozen layer did not move
    with torch.no_grad():
        per_sample = discounted_cross_entropy(model(x), y, g, reduction="none")
        m = margins(model(x), y)              # train-mode BN: what the loss saw
        model.eval()
        m_eval = margins(model(x), y)
    # 100 % accuracy of the discounted logits <=> every per-sample loss < log 2 ...
    assert float(per_sample.max()) < 0.6931
    # ... and then every margin is at least the gap
    assert float(m.min()) >= g - 1e-3, (float(m.min()), g)
    assert float(m.mean()) > float(m_plain.mean())
    # eval mode (running BN statistics) stays close
    assert float(m_eval.min()) >= 0.9 * g


def test_train_margins_increase_with_gap(syn):
    tr, te = syn
    means = {}
    for gap in (0.0, 8.0):
        model = tiny_conv(0)
        rec = train(model, tr, epochs=20, gaps=gap, seed=0, **FAST)
        assert not model.training  # train() leaves the model in eval mode
        m = margins(predict_logits(model, tr), tr.y)
        assert float((m > 0).double().mean()) >= 0.95   # it learned the synthetic classes
        assert rec["losses"][-1] < rec["losses"][0]
        means[gap] = float(m.mean())
    assert means[8.0] > means[0.0] + 1.0, means


def test_per_class_gaps_lift_their_own_classes(syn):
    """Classes 0-4 get gap 10, classes 5-9 gap 0: the gapped classes end with much larger margins.

    (Plain CE gives the two halves margins within ~1 of each other on this data.)  If the gaps were
    misaligned with their samples by the shuffle, both halves would look alike.
    """
    tr, _ = syn
    big = tr.y < 5
    model = tiny_conv(0)
    train(model, tr, epochs=20, gaps=torch.where(big, 10.0, 0.0), seed=0, **FAST)
    m = margins(predict_logits(model, tr), tr.y)
    assert float(m[big].mean()) > float(m[~big].mean()) + 4.0


# ----------------------------------------------------------------------------- (2) alignment

class Recorder(nn.Module):
    """A trainable model that records the centre pixel of every input it sees."""

    def __init__(self, classes=10):
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(3, classes)
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return self.fc(x.mean((2, 3)))


@pytest.mark.parametrize("recipe", ["authors", "fast"])
def test_gaps_labels_images_stay_aligned_through_shuffled_augmented_epochs(monkeypatch, recipe):
    """Constant images survive crop, flip and a +-20 deg rotation in their centre 24x24 (a source
    point there lies within 11.5 * (cos 20 + sin 20) < 15 px of the centre), so the centre is an id."""
    n, bs, epochs = 130, 20, 3         # 130 % 20 != 0: a ragged tail is dropped each epoch
    g = torch.Generator().manual_seed(1)
    y = torch.randint(0, 10, (n,), generator=g)
    split = Split(id_images(n), y, 10)
    gaps = 0.5 * torch.arange(n, dtype=torch.float32) + 3.0   # unique per sample

    calls = []
    orig = dboost.train.discounted_cross_entropy

    def spy(logits, target, gb, *a, **k):
        calls.append((target.clone(), gb.clone() if isinstance(gb, torch.Tensor) else gb))
        return orig(logits, target, gb, *a, **k)

    monkeypatch.setattr(dboost.train, "discounted_cross_entropy", spy)
    model = Recorder()
    train(model, split, recipe=recipe, epochs=epochs, batch_size=bs, gaps=gaps, seed=3, progress=False)

    steps = n // bs
    assert len(calls) == len(model.seen) == epochs * steps
    orders, padded = [], 0
    for s, ((yb, gb), xb) in enumerate(zip(calls, model.seen)):
        assert isinstance(gb, torch.Tensor) and gb.shape == (bs,)
        pix = xb * STD + MEAN                                  # undo the normalisation
        ids = pix[:, 0, 16, 16].round().long() - 1             # the centre survives crop and flip
        assert torch.allclose(pix[:, :, 4:28, 4:28], (ids + 1).float().view(-1, 1, 1, 1).expand(-1, 3, 24, 24),
                              atol=1e-3)
        assert torch.equal(yb, y[ids])                         # labels follow their images
        assert torch.equal(gb, gaps[ids])                      # gaps follow their images
        padded += int((pix[:, 0, 0, 0].round() == 0).sum())    # zero fill: pad-4 crop (fast), rotation (authors)
        orders.append(ids)
    # each epoch visits distinct samples; epochs are shuffled differently
    for e in range(epochs):
        ep = torch.cat(orders[e * steps:(e + 1) * steps])
        assert len(set(ep.tolist())) == steps * bs
    assert not torch.equal(torch.cat(orders[:steps]), torch.cat(orders[steps:2 * steps]))
    assert not torch.equal(torch.cat(orders[:steps]), torch.arange(steps * bs))
    assert padded > 0  # augmentation really ran


def test_scalar_gap_passed_as_float(monkeypatch):
    calls = []
    orig = dboost.train.discounted_cross_entropy

    def spy(logits, target, gb, *a, **k):
        calls.append(gb)
        return orig(logits, target, gb, *a, **k)

    monkeypatch.setattr(dboost.train, "discounted_cross_entropy", spy)
    tr, _ = synthetic(40, 0, seed=0)
    train(tiny_conv(), tr, recipe="fast", epochs=1, batch_size=8, gaps=2.5, progress=False)
    train(tiny_conv(), tr, recipe="fast", epochs=1, batch_size=8, gaps=torch.tensor(1.5), progress=False)
    assert calls == [2.5] * 5 + [1.5] * 5


# ----------------------------------------------------------------------------- (4) determinism

def test_train_deterministic_in_seed(syn):
    tr, _ = syn
    runs = []
    for seed in (0, 0, 1):
        model = tiny_conv(0, dropout=0.2)
        rec = train(model, tr, epochs=3, seed=seed, gaps=torch.linspace(0, 4, len(tr)), **FAST)
        runs.append((rec["losses"], copy.deepcopy(model.state_dict())))
    (l0, s0), (l1, s1), (l2, s2) = runs
    assert l0 == l1
    assert s0.keys() == s1.keys()
    assert all(torch.equal(s0[k], s1[k]) for k in s0)
    assert l0 != l2
    assert not all(torch.equal(s0[k], s2[k]) for k in s0)


def test_train_seed_drives_shuffle_and_augmentation(syn, monkeypatch):
    """Without dropout the seed still matters: it draws the batches and the crops/flips."""
    tr, _ = syn
    seen = {}
    orig = dboost.train.augment

    def spy(x, pad, flip, generator=None, **kw):
        out = orig(x, pad, flip, generator, **kw)
        seen.setdefault(key, []).append(out.clone())
        return out

    monkeypatch.setattr(dboost.train, "augment", spy)
    weights = {}
    for key in ("a", "b", "c"):
        model = tiny_conv(0)
        train(model, tr, epochs=2, seed=1 if key == "c" else 0, **FAST)
        weights[key] = model[0].weight.clone()
    assert all(torch.equal(x, y) for x, y in zip(seen["a"], seen["b"]))
    assert torch.equal(weights["a"], weights["b"])
    assert not torch.equal(seen["a"][0], seen["c"][0])
    assert not torch.equal(weights["a"], weights["c"])


class _Killed(Exception):
    """Stands for kill -9 right after a checkpoint reached the disk."""


def _kill_after_saves(monkeypatch, n_saves):
    orig, calls = dboost.train._save_checkpoint, []

    def save_then_die(path, state):
        orig(path, state)
        calls.append(state["epoch"])
        if len(calls) == n_saves:
            raise _Killed
    monkeypatch.setattr(dboost.train, "_save_checkpoint", save_then_die)
    return calls


@pytest.mark.parametrize("kill_at", [1, 3])
def test_resumed_training_is_bit_identical_to_an_uninterrupted_one(syn, monkeypatch, tmp_path, kill_at):
    """Killed after the checkpoint of epoch ``kill_at`` (dropout, per-sample gaps and augmentation
    all draw random numbers), then resumed by a fresh process-like call: the same weights, BN
    statistics and per-epoch losses as one training that never stopped."""
    tr, _ = syn
    kw = dict(epochs=4, seed=3, gaps=torch.linspace(0, 4, len(tr)), **FAST)
    whole = tiny_conv(0, dropout=0.2)
    rec_whole = train(whole, tr, **kw)

    ckpt = tmp_path / "checkpoints" / "u.pt"
    calls = _kill_after_saves(monkeypatch, kill_at)
    with pytest.raises(_Killed):
        train(tiny_conv(0, dropout=0.2), tr, checkpoint=ckpt, checkpoint_every_s=0.0, **kw)
    assert calls == list(range(1, kill_at + 1)) and ckpt.exists()
    monkeypatch.undo()
    torch.manual_seed(12345)  # a new process: the global generator is elsewhere
    resumed = tiny_conv(7, dropout=0.2)  # other initial weights: all of them must come from the checkpoint
    rec = train(resumed, tr, checkpoint=ckpt, checkpoint_every_s=0.0, **kw)

    assert rec["losses"] == rec_whole["losses"]
    sw, sr = whole.state_dict(), resumed.state_dict()
    assert sw.keys() == sr.keys() and all(torch.equal(sw[k], sr[k]) for k in sw)
    assert [(s["from_epoch"], s["to_epoch"]) for s in rec["segments"]] == [(0, kill_at), (kill_at, 4)]
    assert rec["wall_time_s"] == pytest.approx(sum(s["wall_s"] for s in rec["segments"]))
    assert all("thread" in s["machine"] for s in rec["segments"])
    assert [(s["from_epoch"], s["to_epoch"]) for s in rec_whole["segments"]] == [(0, 4)]


def test_checkpoint_of_a_finished_loop_returns_its_result_without_training(syn, tmp_path, monkeypatch):
    """A kill between the end of the loop and the stored result costs no epoch: the final state is saved."""
    tr, _ = syn
    ckpt = tmp_path / "u.pt"
    first = tiny_conv(0)
    rec1 = train(first, tr, epochs=2, seed=0, checkpoint=ckpt, checkpoint_every_s=1e9, **FAST)
    assert ckpt.exists()  # saved once, after the last epoch (the periodic save never came due)
    monkeypatch.setattr(dboost.train, "augment", lambda *a, **k: pytest.fail("trained again"))
    again = tiny_conv(5)
    rec2 = train(again, tr, epochs=2, seed=0, checkpoint=ckpt, **FAST)
    assert rec2["losses"] == rec1["losses"] and rec2["segments"] == rec1["segments"]
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))


@pytest.mark.parametrize("change", [dict(seed=1), dict(epochs=3), dict(gaps=1.0), dict(lr=1e-2)])
def test_checkpoint_of_another_training_is_refused_before_compute(syn, tmp_path, monkeypatch, change):
    tr, _ = syn
    ckpt = tmp_path / "u.pt"
    base = dict(epochs=2, seed=0, gaps=0.0, **FAST)
    train(tiny_conv(0), tr, checkpoint=ckpt, **base)
    monkeypatch.setattr(dboost.train, "augment", lambda *a, **k: pytest.fail("trained before refusing"))
    with pytest.raises(ValueError, match="belongs to another training"):
        train(tiny_conv(0), tr, checkpoint=ckpt, **{**base, **change})


def test_unit_checkpoint_is_dropped_once_the_unit_is_stored(tmp_path):
    from dboost.results import Store
    units = Store("p", "units", root=tmp_path)
    path = units.checkpoint_path("uabc")
    assert path.parent == tmp_path / "p" / "units" / "checkpoints"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x")
    units.drop_checkpoint("uabc")
    assert not path.exists()
    units.drop_checkpoint("uabc")  # already gone: no error


def test_train_record(syn):
    tr, te = syn
    rec = train(tiny_conv(), tr, epochs=2, seed=0, eval_set=te, **FAST)
    assert rec["epochs"] == 2 and rec["batch_size"] == 50 and rec["steps"] == 2 * (200 // 50)
    assert rec["n_train"] == 200 and rec["device"] == "cpu" and rec["recipe"] == "fast"
    assert rec["hp"]["lr"] == 2e-2 and rec["hp"]["epochs"] == 2
    assert len(rec["losses"]) == 2 and len(rec["eval_acc"]) == 2
    assert all(0.0 <= a <= 1.0 for a in rec["eval_acc"])
    assert rec["wall_time_s"] > 0
    assert rec["precision"] == "fp32"  # the CPU default
    assert [(seg["from_epoch"], seg["to_epoch"]) for seg in rec["segments"]] == [(0, 2)]


def test_bf16_on_cpu_is_opt_in_and_close_to_fp32(syn):
    """precision="bf16" autocasts the model on the CPU too; it must train to nearly the same place."""
    tr, te = syn
    out = {}
    for prec in ("fp32", "bf16"):
        model = tiny_conv()
        rec = train(model, tr, epochs=2, seed=0, precision=prec, **FAST)
        assert rec["precision"] == prec
        out[prec] = (rec["losses"], predict_logits(model, te.x))
    (l32, _), (l16, z16) = out["fp32"], out["bf16"]
    assert z16.dtype == torch.float32                        # evaluation is always float32
    assert l16 != l32                                        # bf16 really ran (different rounding)
    assert abs(l16[-1] - l32[-1]) < 0.1 * abs(l32[-1])       # ... and trains to nearly the same loss


def test_frozen_parameters_are_not_trained(syn):
    tr, _ = syn
    model = tiny_conv()
    model[-1].weight.requires_grad_(False)
    w = model[-1].weight.clone()
    first = model[0].weight.clone()
    train(model, tr, epochs=2, seed=0, **FAST)
    assert torch.equal(model[-1].weight, w)
    assert not torch.equal(model[0].weight, first)


@pytest.mark.parametrize("pct_start,epochs", [(0.2, 5), (0.1, 10), (1.0, 10), (0.0, 10)])
def test_degenerate_one_cycle_is_refused_before_compute(syn, pct_start, epochs):
    # pct_start * steps <= 1 (or pct_start outside (0, 1)) gives a zero-length schedule phase,
    # on which torch's OneCycleLR divides by zero: refused with a ValueError instead.
    tr, _ = syn
    model = Counting()
    with pytest.raises(ValueError, match="pct_start|too few"):
        train(model, tr, recipe="fast", epochs=epochs, batch_size=200, pct_start=pct_start, progress=False)
    assert model.calls == 0


# ----------------------------------------------------------------------------- (5) errors

class Counting(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = tiny_conv()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.net(x)


def _bad_train_cases(tr):
    bad_labels = Split(tr.x.clone(), tr.y.clone(), 10)
    bad_labels.y[3] = 10            # Split validated at construction; corrupt it afterwards
    neg_labels = Split(tr.x.clone(), tr.y.clone(), 10)
    neg_labels.y[0] = -1
    nan = torch.zeros(len(tr))
    nan[5] = float("nan")
    inf = torch.zeros(len(tr))
    inf[1] = float("inf")
    return {
        "unknown recipe": dict(recipe="nope"),
        "unknown setting": dict(momentum=0.9),
        "negative epochs": dict(epochs=-1),
        "zero epochs": dict(epochs=0),
        "fractional epochs": dict(epochs=1.5),
        "batch_size 0": dict(batch_size=0),
        "negative lr": dict(lr=-1.0),
        "bad optimizer": dict(optimizer="lbfgs"),
        "NaN gaps": dict(gaps=nan),
        "inf gaps": dict(gaps=inf),
        "NaN scalar gap": dict(gaps=float("nan")),
        "wrong gap length": dict(gaps=torch.zeros(len(tr) - 1)),
        "gap matrix": dict(gaps=torch.zeros(len(tr), 10)),
        "labels out of range": dict(train_set=bad_labels),
        "negative labels": dict(train_set=neg_labels),
        "not a Split": dict(train_set=(tr.x, tr.y)),
        "one sample": dict(train_set=Split(tr.x[:1], tr.y[:1], 10)),
        "too few steps for one-cycle": dict(epochs=1, batch_size=10),   # 20 samples: 2 steps
        "unknown precision": dict(precision="fp16"),
        "unknown pad_mode": dict(pad_mode="edge"),
        "negative rotate_deg": dict(rotate_deg=-5.0),
        "NaN rotate_deg": dict(rotate_deg=float("nan")),
    }


BASE_KW = dict(recipe="fast", epochs=1, batch_size=4, progress=False)   # 20 samples: 5 steps


def test_train_base_case_of_error_tests_runs():
    """The error cases below change one argument of this valid call, so each error is that argument's."""
    tr, _ = synthetic(20, 0, seed=0)
    model = Counting()
    train(model, tr, **BASE_KW)
    assert model.calls == 5


@pytest.mark.parametrize("case", list(_bad_train_cases(synthetic(20, 0)[0])))
def test_train_errors_before_compute(case):
    tr, _ = synthetic(20, 0, seed=0)
    kw = dict(BASE_KW)
    kw.update(_bad_train_cases(tr)[case])
    train_set = kw.pop("train_set", tr)
    model = Counting()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError):
        train(model, train_set, **kw)
    assert model.calls == 0
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


# ----------------------------------------------------------------------------- (6) predict_logits

@pytest.mark.parametrize("start_training", [True, False])
def test_predict_logits_is_eval_model_on_normalised_x(syn, start_training):
    tr, _ = syn
    x = tr.x[:23]
    model = tiny_conv(dropout=0.5)
    warm_bn(model, (x.float() - MEAN) / STD)
    model.train(start_training)
    bn_before = model[1].running_mean.clone()
    got = predict_logits(model, x, batch_size=7)
    assert got.shape == (23, 10) and got.dtype == torch.float32 and not got.requires_grad
    assert model.training == start_training
    assert all(m.training == start_training for m in model.modules())
    assert torch.equal(model[1].running_mean, bn_before)   # eval mode: BN statistics untouched
    ref_model = copy.deepcopy(model).eval()
    with torch.no_grad():
        want = ref_model((x.float() - MEAN) / STD)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    # deterministic (dropout off): bit for bit at the same batch size; another batch size may pick
    # other oneDNN kernels (another summation order), so it agrees to float32 rounding: each layer
    # is a dot product of <= 72 terms (8 channels x 3 x 3), |error| <= 72 * 2**-24 * sum|terms|, with
    # sum|terms| ~ 1 after BatchNorm: ~4e-6 per layer, under the 1e-5 used here -- dropout at p=0.5
    # would move the logits (~0.1) by O(0.1).
    assert torch.equal(got, predict_logits(model, x, batch_size=7))
    torch.testing.assert_close(predict_logits(model, x, batch_size=100), got, rtol=1e-5, atol=1e-5)
    # the same for a Split or pre-normalised float input
    torch.testing.assert_close(predict_logits(model, Split(x, tr.y[:23], 10)), got)
    torch.testing.assert_close(predict_logits(model, (x.float() - MEAN) / STD), got, rtol=1e-5, atol=1e-5)


def test_predict_logits_restores_flag_after_error():
    class Boom(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 2)

        def forward(self, x):
            raise RuntimeError("boom")

    m = Boom().train()
    with pytest.raises(RuntimeError):
        predict_logits(m, torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    assert m.training


# ----------------------------------------------------------------------------- the compiled path

def _inductor_works() -> str | None:
    """None if torch.compile's default backend can build a kernel here, else the reason it cannot
    (inductor on the CPU needs a C++ compiler; and with ``ATEN_CPU_CAPABILITY=default`` forced, torch
    2.14's inductor still emits ``at::vec`` reductions its headers then lack -- a toolchain limit of
    that environment, not a fault of dboost -- so the probe includes a vectorised BatchNorm-style
    reduction, the kind the tiny model needs)."""
    import shutil
    if not any(shutil.which(c) for c in ("g++", "c++", "clang++")):
        return "torch.compile (inductor) needs a C++ compiler on the CPU; none on PATH"
    try:
        torch.compile(lambda t: torch.var_mean(t * 2 + 1, dim=(0, 2, 3), correction=0),
                      dynamic=False)(torch.randn(8, 16, 4, 4))
    except Exception as e:  # noqa: BLE001 -- any failure of the toolchain is a reason to skip
        return f"torch.compile cannot build a CPU kernel here: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
    return None


@pytest.mark.slow  # trains networks (the shared smoke runs / a compiled model)
def test_compiled_training_matches_eager_on_a_tiny_model(syn):
    """compile="default" trains the same network as eager up to floating-point reassociation.

    Same init, same seed (so the same shuffles and augmentations), 2 epochs x 4 steps of a conv
    net with BatchNorm (whose running statistics the compiled graph must update as a side
    effect).  Tolerance: per-epoch losses within 1e-3 relative and the evaluated logits within
    5e-3 of their largest value; measured on a 2-core AMD EPYC (torch 2.14.1): losses 1e-7
    relative, logits 1.3e-4 (reassociated sums, amplified a little by Adam's normalisation).  A
    graph that dropped the BN update or used stale weights would be far outside: a model trained
    one epoch less differs by ~0.9 of that scale.
    """
    reason = _inductor_works()
    if reason:
        pytest.skip(reason)
    import torch._dynamo
    tr, te = syn
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    out = {}
    for mode in (False, "default"):
        model = tiny_conv()
        rec = train(model, tr, epochs=2, seed=0, compile=mode, **FAST)
        out[mode] = (rec, predict_logits(model, te.x))
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1  # the compiled path really ran
    (r_e, z_e), (r_c, z_c) = out[False], out["default"]
    assert r_e["compile"] is None and r_c["compile"] == "default"
    assert all(math.isfinite(v) for v in r_c["losses"])
    assert r_c["losses"] == pytest.approx(r_e["losses"], rel=1e-3)
    scale = z_e.abs().max()
    assert (z_c - z_e).abs().max() <= 5e-3 * scale
    # the tolerance separates: one epoch less of the same training is far outside it
    short = tiny_conv()
    train(short, tr, epochs=1, seed=0, **dict(FAST, batch_size=25))
    assert (predict_logits(short, te.x) - z_e).abs().max() > 10 * 5e-3 * scale


@pytest.mark.parametrize("bad", ["fast", "Default", 1, 0.5, "max_autotune"])
def test_unknown_compile_mode_is_refused_before_compute(syn, bad, monkeypatch):
    tr, _ = syn
    monkeypatch.setattr(torch, "compile", lambda *a, **k: pytest.fail("compiled before validating"))
    with pytest.raises(ValueError, match="compile must be"):
        train(tiny_conv(), tr, epochs=2, seed=0, compile=bad, **FAST)
