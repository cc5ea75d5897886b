"""Tests of dboost.augmentation: normalisation (to_input), crop, flip and rotation against
hand-written and torchvision references, and bit-identity with the augmentation before pad_mode /
rotate_deg existed."""
import pytest
import torch

import dboost.augmentation
import dboost.train
from dboost.augmentation import augment, to_input
from dboost.train import train
from tiny import FAST, MEAN, STD, id_images, tiny_conv

pytestmark = pytest.mark.usefixtures("one_thread")


def test_augment_keeps_images_aligned():
    n = 100
    x = id_images(n)
    out = augment(x, 4, True, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == torch.uint8
    assert torch.equal(out[:, :, 4:28, 4:28], x[:, :, 4:28, 4:28])


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
    for aug in (dboost.augmentation.augment, lambda x, pad, flip, gen, **kw: _augment_v1(x, pad, flip, gen)):
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
    got = dboost.augmentation.rotate(x, deg)
    assert got.dtype == torch.uint8 and got.shape == x.shape
    diff = (got != want).any(1)                    # (N, H, W)
    assert float(diff.float().mean()) <= 0.01
    assert not (diff & ~_tie_pixels(*x.shape[-2:], deg)).any()
    if abs(deg) >= 7:
        assert not torch.equal(got, x)             # it did rotate


def test_rotate_sign_and_quarter_turn():
    """+90 deg is counter-clockwise (torchvision's convention): the right column becomes the top row."""
    x = _rand_images(n=2)
    torch.testing.assert_close(dboost.augmentation.rotate(x, 90.0), x.rot90(1, (2, 3)), rtol=0, atol=0)
    torch.testing.assert_close(dboost.augmentation.rotate(x, -90.0), x.rot90(-1, (2, 3)), rtol=0, atol=0)
    torch.testing.assert_close(dboost.augmentation.rotate(x, 180.0), x.flip(2, 3), rtol=0, atol=0)
    assert torch.equal(dboost.augmentation.rotate(x, 0.0), x)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64])
def test_rotate_per_sample_angles_and_dtypes(dtype):
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.functional import rotate as tv_rotate
    x = _smooth_images(n=4).to(dtype)
    angles = torch.tensor([-20.0, 3.5, 0.0, 17.0])
    got = dboost.augmentation.rotate(x, angles)
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
    torch.testing.assert_close(a, dboost.augmentation.rotate(x, angles), rtol=0, atol=0)
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
    assert torch.equal(out, dboost.augmentation.rotate(want, angles))
    assert flip.any() and not flip.all()


def test_to_input():
    x = _rand_images(n=4)
    out = to_input(x)
    assert out.dtype == torch.float32 and out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, (x.float() - MEAN) / STD)
    f = torch.randn(2, 3, 8, 8)
    assert torch.equal(to_input(f), f)
