"""Tests of dboost.train (trainer, augmentation, inference) and dboost.boost (ensembles, boosting).

Everything runs on the CPU with tiny models; the whole file takes a few seconds.
"""
import copy
import math

import pytest
import torch
import torch.nn as nn

import dboost.boost
import dboost.train
from dboost.boost import Ensemble, boost
from dboost.data import Split, synthetic
from dboost.loss import discounted_cross_entropy, margins
from dboost.rules import next_gaps
from dboost.train import RECIPES, augment, predict_logits, resolve_recipe, to_input, train

# The data README's per-channel statistics, written out here rather than imported.
MEAN = torch.tensor([125.3069, 122.9504, 113.8654]).view(1, 3, 1, 1)
STD = torch.tensor([62.9932, 62.0887, 66.7049]).view(1, 3, 1, 1)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny ops are fastest (and immune to other processes' load) on one thread."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def tiny_conv(seed=0, classes=10, dropout=0.0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Dropout(dropout), nn.Linear(64, classes))


@pytest.fixture(scope="module")
def syn():
    return synthetic(200, 100, seed=0)


FAST = dict(recipe="fast", batch_size=50, lr=2e-2, progress=False)


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


def _id_images(n):
    """Image i has every pixel = i + 1 (so crops and flips keep the centre = the id)."""
    assert n < 255
    v = (torch.arange(n) + 1).to(torch.uint8)
    return v.view(n, 1, 1, 1).expand(n, 3, 32, 32).contiguous()


@pytest.mark.parametrize("recipe", ["authors", "fast"])
def test_gaps_labels_images_stay_aligned_through_shuffled_augmented_epochs(monkeypatch, recipe):
    """Constant images survive crop, flip and a +-20 deg rotation in their centre 24x24 (a source
    point there lies within 11.5 * (cos 20 + sin 20) < 15 px of the centre), so the centre is an id."""
    n, bs, epochs = 130, 20, 3         # 130 % 20 != 0: a ragged tail is dropped each epoch
    g = torch.Generator().manual_seed(1)
    y = torch.randint(0, 10, (n,), generator=g)
    split = Split(_id_images(n), y, 10)
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


def test_augment_keeps_images_aligned():
    n = 100
    x = _id_images(n)
    out = augment(x, 4, True, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == torch.uint8
    assert torch.equal(out[:, :, 4:28, 4:28], x[:, :, 4:28, 4:28])


# ----------------------------------------------------------------------------- (3) augment

def _rand_images(n=64, seed=0, dtype=torch.uint8):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(1, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)  # no zeros: zero = padding
    return x if dtype == torch.uint8 else x.to(dtype)


def _shift(img, dy, dx):
    """img translated by (dy, dx) with zero fill: out[r, c] = img[r - dy, c - dx]."""
    out = torch.zeros_like(img)
    h, w = img.shape[-2:]
    out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        img[..., max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_augment_identity(dtype):
    x = _rand_images(dtype=dtype)
    assert torch.equal(augment(x, 0, False, torch.Generator().manual_seed(0)), x)
    assert torch.equal(augment(x, 0, False), x)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_augment_flip_only(dtype):
    x = _rand_images(dtype=dtype)
    out = augment(x, 0, True, torch.Generator().manual_seed(0))
    same = torch.tensor([torch.equal(out[i], x[i]) for i in range(len(x))])
    flipped = torch.tensor([torch.equal(out[i], x[i].flip(-1)) for i in range(len(x))])
    assert (same ^ flipped).all()          # each image is itself or its mirror (never both here)
    assert 10 < int(flipped.sum()) < 54    # about half are flipped
    assert torch.equal(out.flip(3), torch.where(flipped[:, None, None, None], x, x.flip(3)))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_augment_pad_crop_is_zero_filled_translation(dtype):
    pad = 4
    x = _rand_images(n=80, dtype=dtype)
    out = augment(x, pad, False, torch.Generator().manual_seed(1))
    shifts = []
    for i in range(len(x)):
        found = [(dy, dx) for dy in range(-pad, pad + 1) for dx in range(-pad, pad + 1)
                 if torch.equal(out[i], _shift(x[i], dy, dx))]
        assert len(found) == 1, f"image {i} is not a translation of its original"
        shifts.append(found[0])
    assert len(set(shifts)) > 20                       # many different offsets, ...
    assert {s[0] for s in shifts} == set(range(-pad, pad + 1))  # covering the full range
    assert {s[1] for s in shifts} == set(range(-pad, pad + 1))


def test_augment_crop_and_flip_together():
    pad = 2
    x = _rand_images(n=40)
    out = augment(x, pad, True, torch.Generator().manual_seed(2))
    kinds = set()
    for i in range(len(x)):
        found = [(dy, dx, f) for f in (False, True) for dy in range(-pad, pad + 1) for dx in range(-pad, pad + 1)
                 if torch.equal(out[i], _shift(x[i].flip(-1) if f else x[i], dy, dx))]
        assert len(found) == 1
        kinds.add(found[0][2])
    assert kinds == {False, True}


def test_augment_deterministic_given_generator():
    x = _rand_images()
    a = augment(x, 4, True, torch.Generator().manual_seed(7))
    b = augment(x, 4, True, torch.Generator().manual_seed(7))
    c = augment(x, 4, True, torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a, x)


def _augment_v1(x, pad, flip, generator=None):
    """dboost.train.augment as it was before pad_mode / rotate_deg (commit 94fb6ec), verbatim."""
    n, c, h, w = x.shape
    dev = x.device
    if pad:
        xp = torch.nn.functional.pad(x, (pad, pad, pad, pad))
        off = torch.randint(0, 2 * pad + 1, (2, n), generator=generator, device=generator.device if generator else "cpu").to(dev)
        rows = (off[0][:, None] + torch.arange(h, device=dev))[:, None, :, None]
        cols = (off[1][:, None] + torch.arange(w, device=dev))[:, None, None, :]
        x = xp[torch.arange(n, device=dev)[:, None, None, None], torch.arange(c, device=dev)[None, :, None, None], rows, cols]
    if flip:
        f = torch.rand(n, generator=generator, device=generator.device if generator else "cpu").to(dev) < 0.5
        x = torch.where(f[:, None, None, None], x.flip(3), x)
    return x


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
@pytest.mark.parametrize("pad,flip", [(4, True), (2, False), (0, True), (0, False)])
def test_augment_zeros_no_rotation_is_v1_bit_for_bit(dtype, pad, flip):
    """The fast recipe's path (zeros, rotate_deg=0) gives the same images *and* leaves the
    generator in the same state as the v1 code: later batches are unchanged too."""
    x = _rand_images(dtype=dtype)
    g_new, g_old = torch.Generator().manual_seed(11), torch.Generator().manual_seed(11)
    for _ in range(3):
        a = augment(x, pad, flip, g_new, pad_mode="zeros", rotate_deg=0.0)
        b = _augment_v1(x, pad, flip, g_old)
        assert a.dtype == b.dtype and torch.equal(a, b)
    assert torch.equal(g_new.get_state(), g_old.get_state())


def test_fast_recipe_trains_bit_identical_to_v1_augment(syn, monkeypatch):
    tr, _ = syn
    runs = []
    for aug in (dboost.train.augment, lambda x, pad, flip, gen, **kw: _augment_v1(x, pad, flip, gen)):
        monkeypatch.setattr(dboost.train, "augment", aug)
        model = tiny_conv(0, dropout=0.2)
        rec = train(model, tr, epochs=2, seed=5, **FAST)
        runs.append((rec["losses"], model.state_dict()))
    (l0, s0), (l1, s1) = runs
    assert l0 == l1
    assert all(torch.equal(s0[k], s1[k]) for k in s0)


def _tie_pixels(h, w, deg, eps=1e-3):
    """(H, W) bool: output pixels whose exact source point (float64) lies within ``eps`` px of a
    nearest-neighbour tie (a half-integer pixel coordinate, which includes the image border).
    Only there may two correct float32 implementations of the same rotation disagree."""
    a = torch.deg2rad(torch.tensor(float(deg), dtype=torch.float64))
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64) + 0.5 - h / 2,
                            torch.arange(w, dtype=torch.float64) + 0.5 - w / 2, indexing="ij")
    u = a.cos() * xx - a.sin() * yy + w / 2 - 0.5       # source column
    v = a.sin() * xx + a.cos() * yy + h / 2 - 0.5       # source row
    near = lambda t: ((t - t.floor()) - 0.5).abs() < eps
    return near(u) | near(v)


def _smooth_images(n=3, h=32, w=32, seed=0):
    """Real-looking (low-frequency) uint8 images in 1..255: zero is fill."""
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.interpolate(torch.rand(n, 3, 5, 5, generator=g), size=(h, w), mode="bicubic",
                                        align_corners=False)
    return (x.clamp(0, 1) * 254 + 1).round().to(torch.uint8)


@pytest.mark.parametrize("kind", ["smooth", "random", "rectangular"])
@pytest.mark.parametrize("deg", [-20.0, -13.7, -1.0, 0.5, 7.3, 20.0, 45.0, 90.0])
def test_rotate_matches_torchvision_nearest(kind, deg):
    """Tolerance: >= 99 % of pixels identical to torchvision, and every differing pixel is a
    nearest-neighbour tie (source point within 1e-3 px of a half-integer), where float32 rounding
    order decides.  Anything else (sign, centre, axis order, off-by-half) breaks thousands of pixels.
    (On the CPU, torch 2.14 / torchvision 0.29, every angle here matches exactly.)"""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.functional import rotate as tv_rotate
    x = {"smooth": lambda: _smooth_images(), "random": lambda: _rand_images(n=3),
         "rectangular": lambda: _smooth_images(h=24, w=40)}[kind]()
    want = tv_rotate(x, deg, interpolation=InterpolationMode.NEAREST)
    got = dboost.train.rotate(x, deg)
    assert got.dtype == torch.uint8 and got.shape == x.shape
    diff = (got != want).any(1)                    # (N, H, W)
    assert float(diff.float().mean()) <= 0.01
    assert not (diff & ~_tie_pixels(*x.shape[-2:], deg)).any()
    if abs(deg) >= 7:
        assert not torch.equal(got, x)             # it did rotate


def test_rotate_sign_and_quarter_turn():
    """+90 deg is counter-clockwise (torchvision's convention): the right column becomes the top row."""
    x = _rand_images(n=2)
    torch.testing.assert_close(dboost.train.rotate(x, 90.0), x.rot90(1, (2, 3)), rtol=0, atol=0)
    torch.testing.assert_close(dboost.train.rotate(x, -90.0), x.rot90(-1, (2, 3)), rtol=0, atol=0)
    torch.testing.assert_close(dboost.train.rotate(x, 180.0), x.flip(2, 3), rtol=0, atol=0)
    assert torch.equal(dboost.train.rotate(x, 0.0), x)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64])
def test_rotate_per_sample_angles_and_dtypes(dtype):
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.functional import rotate as tv_rotate
    x = _smooth_images(n=4).to(dtype)
    angles = torch.tensor([-20.0, 3.5, 0.0, 17.0])
    got = dboost.train.rotate(x, angles)
    assert got.dtype == dtype
    for i, a in enumerate(angles.tolist()):           # each image by its own angle
        want = tv_rotate(x[i], a, interpolation=InterpolationMode.NEAREST)
        assert not ((got[i] != want).any(0) & ~_tie_pixels(32, 32, a)).any()
    assert torch.equal(got[2], x[2])


def test_augment_reflect_padding_is_reflection(monkeypatch):
    """Offsets forced to the corners: the crop is the matching window of F.pad(mode="reflect")."""
    pad = 4
    x = _rand_images(n=6)
    ref = torch.nn.functional.pad(x.float(), (pad,) * 4, mode="reflect").to(torch.uint8)
    for corner in (0, 2 * pad):
        monkeypatch.setattr(torch, "randint", lambda low, high, size, **kw: torch.full(size, corner))
        out = augment(x, pad, False, torch.Generator().manual_seed(0), pad_mode="reflect")
        monkeypatch.undo()
        assert torch.equal(out, ref[:, :, corner:corner + 32, corner:corner + 32])
        if corner == 0:  # by hand: output row r < 4 is source row 4 - r (mirrored about row 0, edge once)
            assert torch.equal(out[:, :, :pad, pad:], x[:, :, [4, 3, 2, 1], :32 - pad])
            assert torch.equal(out[:, :, pad:, :pad], x[:, :, :32 - pad, [4, 3, 2, 1]])
            assert torch.equal(out[:, :, pad:, pad:], x[:, :, :32 - pad, :32 - pad])
        else:            # and at the far corner row 31 + k is source row 31 - k
            assert torch.equal(out[:, :, 32 - pad:, :32 - pad], x[:, :, [30, 29, 28, 27], pad:])


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_augment_reflect_crop_is_reflected_translation(dtype):
    pad = 3
    x = _rand_images(n=60, dtype=dtype)
    ref = torch.nn.functional.pad(x.float(), (pad,) * 4, mode="reflect").to(dtype)
    out = augment(x, pad, False, torch.Generator().manual_seed(4), pad_mode="reflect")
    assert out.dtype == dtype and out.shape == x.shape
    offsets = []
    for i in range(len(x)):
        found = [(r, c) for r in range(2 * pad + 1) for c in range(2 * pad + 1)
                 if torch.equal(out[i], ref[i, :, r:r + 32, c:c + 32])]
        assert len(found) == 1
        offsets.append(found[0])
    assert {o[0] for o in offsets} == {o[1] for o in offsets} == set(range(2 * pad + 1))
    assert not (out == 0).all(1).any()        # reflection never fills with zeros
    with pytest.raises(ValueError):
        augment(x, 32, False, pad_mode="reflect")
    with pytest.raises(ValueError):
        augment(x, 2, False, pad_mode="wrap")


def test_augment_rotation_angles_bounded_and_deterministic():
    """Each image is torchvision's rotation by its drawn angle (up to nearest-neighbour ties), and
    clearly not the rotation by the opposite angle (checked where |angle| > 3 deg: below ~2 deg a
    nearest-neighbour rotation of a 32 px image is nearly the identity)."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.functional import rotate as tv_rotate
    deg = 20.0
    x = _rand_images(n=24, seed=1)
    a = augment(x, 0, False, torch.Generator().manual_seed(3), rotate_deg=deg)
    b = augment(x, 0, False, torch.Generator().manual_seed(3), rotate_deg=deg)
    c = augment(x, 0, False, torch.Generator().manual_seed(4), rotate_deg=deg)
    assert torch.equal(a, b) and not torch.equal(a, c)
    # the angles drawn: uniform on [-deg, deg) from the generator, after the crop/flip draws
    g = torch.Generator().manual_seed(3)
    angles = (torch.rand(len(x), generator=g) * 2 - 1) * deg
    assert float(angles.abs().max()) <= deg and float(angles.min()) < 0 < float(angles.max())
    torch.testing.assert_close(a, dboost.train.rotate(x, angles), rtol=0, atol=0)
    err = lambda i, t: float((tv_rotate(x[i], t, interpolation=InterpolationMode.NEAREST) != a[i]).float().mean())
    for i, t in enumerate(angles.tolist()):
        want = tv_rotate(x[i], t, interpolation=InterpolationMode.NEAREST)
        assert not ((want != a[i]).any(0) & ~_tie_pixels(32, 32, t)).any()
        if abs(t) > 3:
            assert err(i, -t) > 0.2


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_augment_full_authors_pipeline(dtype):
    """Reflect crop, flip and rotation together: the result is rotate(flip(reflect crop)) with the
    generator's draws, in that order, and the same dtype."""
    pad, deg = 4, 20.0
    x = _rand_images(n=16, dtype=dtype)
    out = augment(x, pad, True, torch.Generator().manual_seed(9), pad_mode="reflect", rotate_deg=deg)
    assert out.dtype == dtype and out.shape == x.shape
    g = torch.Generator().manual_seed(9)
    off = torch.randint(0, 2 * pad + 1, (2, len(x)), generator=g)
    flip = torch.rand(len(x), generator=g) < 0.5
    angles = (torch.rand(len(x), generator=g) * 2 - 1) * deg
    ref = torch.nn.functional.pad(x.float(), (pad,) * 4, mode="reflect").to(dtype)
    want = torch.stack([ref[i, :, off[0, i]:off[0, i] + 32, off[1, i]:off[1, i] + 32] for i in range(len(x))])
    want = torch.where(flip[:, None, None, None], want.flip(3), want)
    assert torch.equal(out, dboost.train.rotate(want, angles))
    assert flip.any() and not flip.all()


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


def test_bf16_on_cpu_is_opt_in_and_close_to_fp32(syn):
    """precision="bf16" autocasts the model on the CPU too; it must train to nearly the same place."""
    tr, te = syn
    out = {}
    for prec in ("fp32", "bf16"):
        model = tiny_conv()
        rec = train(model, tr, epochs=2, seed=0, precision=prec, **FAST)
        assert rec["precision"] == prec
        out[prec] = (rec["losses"], predict_logits(model, te.x))
    (l32, z32), (l16, z16) = out["fp32"], out["bf16"]
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


def test_resolve_recipe():
    hp = resolve_recipe("authors", epochs=3, lr=None)
    assert hp["epochs"] == 3 and hp["lr"] == RECIPES["authors"]["lr"] and hp["name"] == "authors"
    assert RECIPES["authors"]["epochs"] == 50  # the override did not leak into the table
    assert resolve_recipe(dict(RECIPES["fast"]))["name"] == "custom"
    spec = RECIPES["authors"]  # spec: Adam, lr 0.0032, wd 1e-3, batch 500, 50 epochs, crop 4 + flip
    assert (spec["optimizer"], spec["lr"], spec["weight_decay"], spec["batch_size"], spec["crop_pad"], spec["flip"]) \
        == ("adam", 3.2e-3, 1e-3, 500, 4, True)
    # the authors' code: reflect-padded crop and RandomRotation(20); a new version of the recipe
    assert (spec["pad_mode"], spec["rotate_deg"], spec["version"]) == ("reflect", 20.0, 2)
    fast = RECIPES["fast"]    # unchanged since version 1
    assert (fast["pad_mode"], fast["rotate_deg"], fast["version"]) == ("zeros", 0.0, 1)


def test_resolve_recipe_augmentation_settings():
    hp = resolve_recipe("fast", pad_mode="reflect", rotate_deg=15)
    assert (hp["pad_mode"], hp["rotate_deg"], hp["version"]) == ("reflect", 15, 1)
    old = {k: v for k, v in RECIPES["fast"].items() if k not in ("pad_mode", "rotate_deg", "version")}
    hp = resolve_recipe(old)          # a custom dict from before these settings: zeros, no rotation
    assert (hp["pad_mode"], hp["rotate_deg"]) == ("zeros", 0.0) and "version" not in hp
    for bad in (dict(pad_mode="edge"), dict(pad_mode="Reflect"), dict(rotate_deg=-1.0),
                dict(rotate_deg=float("nan")), dict(rotate_deg=float("inf")), dict(version=3)):
        with pytest.raises(ValueError):
            resolve_recipe("authors", **bad)
    with pytest.raises(ValueError, match="pad_mode"):
        resolve_recipe(dict(RECIPES["fast"], pad_mode="circular"))


# ----------------------------------------------------------------------------- (6) predict_logits

def _warm_bn(model, x):
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(x)


@pytest.mark.parametrize("start_training", [True, False])
def test_predict_logits_is_eval_model_on_normalised_x(syn, start_training):
    tr, _ = syn
    x = tr.x[:23]
    model = tiny_conv(dropout=0.5)
    _warm_bn(model, (x.float() - MEAN) / STD)
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


def test_to_input():
    x = _rand_images(n=4)
    out = to_input(x)
    assert out.dtype == torch.float32 and out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, (x.float() - MEAN) / STD)
    f = torch.randn(2, 3, 8, 8)
    assert torch.equal(to_input(f), f)


# ----------------------------------------------------------------------------- (7) boost

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
        _warm_bn(m, to_input(tr.x[:50]))
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


# ----------------------------------------------------------------------------- the compiled path (issue 21)

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


def test_compile_flag_spellings():
    from dboost.train import check_compile
    assert check_compile(False) is None and check_compile(None) is None
    assert check_compile(True) == "default" and check_compile("reduce-overhead") == "reduce-overhead"
