"""Tests of dboost.data: Split, the synthetic data set and the CIFAR-10 loader."""
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from dboost.data import CIFAR10_MEAN, CIFAR10_STD, Split, _split, authors_split, cifar10, load, synthetic
from tiny import fake_npy

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- synthetic

def test_synthetic_deterministic_in_seed():
    a_tr, a_te = synthetic(60, 30, seed=3)
    b_tr, b_te = synthetic(60, 30, seed=3)
    for a, b in ((a_tr, b_tr), (a_te, b_te)):
        assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
        assert a.x.numpy().tobytes() == b.x.numpy().tobytes()  # bit-identical


def test_synthetic_seeds_differ_and_splits_differ():
    a_tr, a_te = synthetic(60, 60, seed=0)
    b_tr, _ = synthetic(60, 60, seed=1)
    assert not torch.equal(a_tr.x, b_tr.x)
    assert not torch.equal(a_tr.y, b_tr.y)
    assert not torch.equal(a_tr.x, a_te.x)  # test is not a copy of train


@pytest.mark.parametrize("n_train,n_test,k", [(100, 40, 10), (30, 9, 3), (0, 5, 2)])
def test_synthetic_shapes_dtypes_balance(n_train, n_test, k):
    tr, te = synthetic(n_train, n_test, num_classes=k, seed=2)
    for s, n in ((tr, n_train), (te, n_test)):
        assert isinstance(s, Split)
        assert s.x.shape == (n, 3, 32, 32) and s.x.dtype == torch.uint8
        assert s.y.shape == (n,) and s.y.dtype == torch.int64
        assert s.num_classes == k and len(s) == n
        counts = torch.bincount(s.y, minlength=k)
        assert int(counts.max() - counts.min()) <= 1 and int(counts.sum()) == n
    if n_train:
        assert int(tr.x.min()) < 40 and int(tr.x.max()) > 215  # uses the 0..255 range, not a constant


def test_synthetic_is_learnable():
    """Nearest class mean (on the train set) classifies the test set far above chance."""
    tr, te = synthetic(500, 200, seed=0)
    xtr, xte = tr.x.float().flatten(1), te.x.float().flatten(1)
    means = torch.stack([xtr[tr.y == k].mean(0) for k in range(10)])
    pred = torch.cdist(xte, means).argmin(1)
    assert float((pred == te.y).float().mean()) > 0.5


@pytest.mark.parametrize("args", [dict(n_train=-1, n_test=5), dict(n_train=5, n_test=-3), dict(n_train=2.5, n_test=5),
                                  dict(n_train=5, n_test=5, num_classes=1)])
def test_synthetic_bad_sizes(args):
    with pytest.raises(ValueError):
        synthetic(**args)


def test_load_by_name():
    a, _ = load("synthetic", n_train=20, n_test=10, seed=4)
    b, _ = synthetic(20, 10, seed=4)
    assert torch.equal(a.x, b.x)
    with pytest.raises(ValueError, match="unknown dataset"):
        load("mnist")


# ----------------------------------------------------------------------------- the authors' split

def _numbered(n, k=10):
    """Image i carries its index in its first pixels (base 256), so order can be read back."""
    x = torch.zeros(n, 3, 32, 32, dtype=torch.uint8)
    i = torch.arange(n)
    x[:, 0, 0, 0], x[:, 0, 0, 1] = (i % 256).to(torch.uint8), (i // 256).to(torch.uint8)
    return Split(x, i % k, k, "toy-train")


def _ids(split):
    return (split.x[:, 0, 0, 0].long() + 256 * split.x[:, 0, 0, 1].long()).tolist()


@pytest.mark.parametrize("n,n_train", [(50000, 45000), (1000, 900), (55, 50), (10, 9)])
def test_authors_split_first_90_last_10_in_order(n, n_train):
    full = _numbered(n)
    tr, te = authors_split(full)
    assert (len(tr), len(te)) == (n_train, n - n_train)
    assert _ids(tr) == list(range(n_train))               # exactly the first images, in order
    assert _ids(te) == list(range(n_train, n))            # exactly the last ones, in order
    assert torch.equal(tr.y, full.y[:n_train]) and torch.equal(te.y, full.y[n_train:])
    assert tr.num_classes == te.num_classes == 10
    assert "authors" in tr.name and "authors" in te.name and tr.name != te.name
    assert set(_ids(tr)).isdisjoint(_ids(te))


def test_authors_split_too_small():
    with pytest.raises(ValueError, match="10"):
        authors_split(_numbered(9))


def test_load_split_keyword():
    full, test = synthetic(60, 20, seed=1)
    tr, te = load("synthetic", split="authors", n_train=60, n_test=20, seed=1)
    assert torch.equal(tr.x, full.x[:54]) and torch.equal(te.x, full.x[54:])
    assert torch.equal(te.y, full.y[54:])
    a, b = load("synthetic", split="standard", n_train=60, n_test=20, seed=1)
    assert torch.equal(a.x, full.x) and torch.equal(b.x, test.x)


def test_unknown_split_refused_before_loading(tmp_path, monkeypatch):
    monkeypatch.setenv("DBOOST_DATA", str(tmp_path / "nothing-here"))    # loading would raise FileNotFoundError
    for call in (lambda: load("cifar10", split="thesis"), lambda: cifar10(split="Authors"),
                 lambda: load("synthetic", split="test", n_train=5, n_test=5)):
        with pytest.raises(ValueError, match="split"):
            call()


def test_fake_batches_authors_split(tmp_path, monkeypatch):
    monkeypatch.delenv("DBOOST_DATA", raising=False)
    _fake_batches(tmp_path / "cifar-10-batches-py", sizes=(20, 20, 20, 20, 20))
    full, _ = cifar10(root=tmp_path, download=False)
    tr, te = cifar10(root=tmp_path, download=False, split="authors")
    assert torch.equal(tr.x, full.x[:90]) and torch.equal(te.x, full.x[90:])   # from data_batch_5
    tr2, te2 = load("cifar10", root=tmp_path, split="authors")
    assert torch.equal(tr2.x, tr.x) and torch.equal(te2.y, te.y)


# ----------------------------------------------------------------------------- Split

def _rows(split):
    return {split.x[i].numpy().tobytes(): int(split.y[i]) for i in range(len(split))}


def test_subset_balanced_deterministic_aligned():
    tr, _ = synthetic(1000, 0, seed=0)
    s = tr.subset(100, seed=5)
    assert len(s) == 100
    assert torch.equal(torch.bincount(s.y, minlength=10), torch.full((10,), 10))
    t = tr.subset(100, seed=5)
    assert torch.equal(s.x, t.x) and torch.equal(s.y, t.y)
    u = tr.subset(100, seed=6)
    assert not torch.equal(s.x, u.x)
    # every (image, label) pair of the subset is a pair of the original, without repeats
    rows = _rows(tr)
    sub = [(s.x[i].numpy().tobytes(), int(s.y[i])) for i in range(len(s))]
    assert len({k for k, _ in sub}) == 100
    assert all(rows[k] == y for k, y in sub)
    # original relative order is kept
    pos = {k: i for i, k in enumerate(rows)}
    idx = [pos[k] for k, _ in sub]
    assert idx == sorted(idx)


def test_subset_any_size_as_balanced_as_possible():
    tr, _ = synthetic(200, 0, seed=1)
    for n in (1, 7, 25, 99, 150):
        c = torch.bincount(tr.subset(n, seed=0).y, minlength=10)
        assert int(c.sum()) == n and int(c.max() - c.min()) <= 1


def test_subset_unequal_classes_returns_n():
    tr, _ = synthetic(105, 0, seed=0)   # classes 0..4 have 11 samples, 5..9 have 10
    assert torch.bincount(tr.y).tolist() == [11] * 5 + [10] * 5
    for n in (100, 101, 103, 104):
        s = tr.subset(n, seed=0)
        assert len(s) == n
        c = torch.bincount(s.y, minlength=10)
        assert int(c.max() - c.min()) <= 1


def test_subset_all_none_and_unbalanced():
    tr, _ = synthetic(50, 0, seed=0)
    assert tr.subset(None) is tr and tr.subset(50) is tr and tr.subset(80) is tr
    s = tr.subset(20, seed=1, balanced=False)
    assert len(s) == 20 and torch.equal(s.y, tr.subset(20, seed=1, balanced=False).y)
    assert len(tr.subset(0)) == 0
    with pytest.raises(ValueError):
        tr.subset(-1)


def _xy(n=4, k=3):
    return torch.zeros(n, 3, 32, 32, dtype=torch.uint8), torch.arange(n) % k


@pytest.mark.parametrize("case", ["float x", "x 3-D", "x 1 channel", "y int32", "y short", "y 2-D", "label >= k",
                                  "negative label"])
def test_split_validation(case):
    x, y = _xy()
    k = 3
    if case == "float x":
        x = x.float()
    elif case == "x 3-D":
        x = x[:, 0]
    elif case == "x 1 channel":
        x = x[:, :1]
    elif case == "y int32":
        y = y.int()
    elif case == "y short":
        y = y[:3]
    elif case == "y 2-D":
        y = y[:, None]
    elif case == "label >= k":
        y = y.clone(); y[0] = 3
    else:
        y = y.clone(); y[0] = -1
    with pytest.raises(ValueError):
        Split(x, y, k)
    Split(*_xy(), 3)  # the unmodified inputs are fine


def test_split_describe():
    s = Split(*_xy(), 3, "toy")
    assert s.describe() == {"name": "toy", "n": 4, "num_classes": 3}


# ----------------------------------------------------------------------------- CIFAR-10: the real copy

def _cifar_dir():
    cands = []
    if os.environ.get("DBOOST_DATA"):
        cands += [Path(os.environ["DBOOST_DATA"]), Path(os.environ["DBOOST_DATA"]) / "cifar10"]
    cands.append(REPO.parent / "shared" / "data" / "cifar10")
    for d in cands:
        if (d / "train_y.npy").exists() or (d / "cifar-10-batches-py" / "data_batch_1").exists() \
                or (d / "data_batch_1").exists():
            return d
    return None


@pytest.fixture(scope="module")
def cifar():
    d = _cifar_dir()
    if d is None:
        pytest.skip("no local CIFAR-10 copy: set DBOOST_DATA or provide ../shared/data/cifar10 next to the repo")
    return cifar10(root=d, download=False)


def test_cifar10_shapes_dtypes(cifar):
    tr, te = cifar
    assert tr.x.shape == (50000, 3, 32, 32) and te.x.shape == (10000, 3, 32, 32)
    assert tr.x.dtype == te.x.dtype == torch.uint8
    assert tr.y.dtype == te.y.dtype == torch.int64
    assert tr.y.shape == (50000,) and te.y.shape == (10000,)
    assert tr.num_classes == te.num_classes == 10


def test_cifar10_class_counts(cifar):
    tr, te = cifar
    assert torch.bincount(tr.y, minlength=10).tolist() == [5000] * 10
    assert torch.bincount(te.y, minlength=10).tolist() == [1000] * 10
    # data_batch_1 = the first 10000 training images
    assert torch.bincount(tr.y[:10000], minlength=10).tolist() == [1005, 974, 1032, 1016, 999, 937, 1030, 1001,
                                                                    1025, 981]


def test_cifar10_first_labels(cifar):
    tr, te = cifar
    assert tr.y[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert te.y[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]


def test_cifar10_channel_mean_is_rgb_in_chw(cifar):
    tr, _ = cifar
    x = tr.x.numpy()
    mean = [x[:, ch].sum(dtype=np.int64) / (x.shape[0] * 32 * 32) for ch in range(3)]
    np.testing.assert_allclose(mean, [125.3069, 122.9504, 113.8654], atol=1e-3)
    np.testing.assert_allclose(mean, CIFAR10_MEAN, atol=1e-3)  # the trainer normalises with these


def test_cifar10_authors_split(cifar):
    """The authors train on training images 0..44,999 and test on 45,000..49,999 (no official test)."""
    full, official = cifar
    tr, te = authors_split(full)
    assert len(tr) == 45000 and len(te) == 5000
    assert torch.equal(tr.x, full.x[:45000]) and torch.equal(tr.y, full.y[:45000])
    assert torch.equal(te.x, full.x[45000:]) and torch.equal(te.y, full.y[45000:])
    assert tr.y[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]     # the original order
    # the last 5,000 = the second half of data_batch_5; no image is the official test set's first
    assert not (te.x == official.x[0]).flatten(1).all(1).any()
    assert torch.bincount(te.y, minlength=10).sum() == 5000 and torch.bincount(te.y, minlength=10).min() > 400


def test_cifar10_split_keyword_real(cifar):
    d = _cifar_dir()
    tr, te = cifar10(root=d, download=False, split="authors")
    full, _ = cifar
    assert torch.equal(tr.x, full.x[:45000]) and torch.equal(te.x, full.x[45000:])
    assert tr.name != te.name and "authors" in te.name


def test_cifar10_channel_std(cifar):
    tr, _ = cifar
    s1 = torch.zeros(3, dtype=torch.float64)
    s2 = torch.zeros(3, dtype=torch.float64)
    for i in range(0, len(tr), 10000):  # chunks: a float64 copy of all 50000 images would be 1.2 GB
        xb = tr.x[i:i + 10000].double()
        s1 += xb.sum((0, 2, 3))
        s2 += (xb * xb).sum((0, 2, 3))
    cnt = len(tr) * 32 * 32
    std = (s2 / cnt - (s1 / cnt) ** 2).sqrt()
    np.testing.assert_allclose(std.numpy(), CIFAR10_STD, atol=1e-3)


# ----------------------------------------------------------------------------- CIFAR-10: fake copies

def _fake_batches(folder: Path, sizes=(3, 2, 4, 1, 2), n_test=3, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    batches = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name, n in zip(names, list(sizes) + [n_test]):
        b = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), "labels": rng.integers(0, 10, n).tolist(),
             "batch_label": name}
        with open(folder / name, "wb") as f:
            pickle.dump(b, f)
        batches[name] = b
    return batches


def _check_fake(tr, te, batches):
    data = np.concatenate([batches[f"data_batch_{i}"]["data"] for i in range(1, 6)])
    labels = sum((batches[f"data_batch_{i}"]["labels"] for i in range(1, 6)), [])
    assert tr.x.shape == (len(data), 3, 32, 32) and tr.x.dtype == torch.uint8
    assert tr.y.dtype == torch.int64 and tr.y.tolist() == labels
    # x[i, ch, r, c] == data[i].reshape(3, 32, 32)[ch, r, c]
    for i, ch, r, c in [(0, 0, 0, 0), (1, 2, 31, 0), (4, 1, 5, 17), (len(data) - 1, 2, 31, 31)]:
        assert int(tr.x[i, ch, r, c]) == int(data[i].reshape(3, 32, 32)[ch, r, c])
    assert np.array_equal(tr.x.numpy(), data.reshape(-1, 3, 32, 32))
    assert np.array_equal(te.x.numpy(), batches["test_batch"]["data"].reshape(-1, 3, 32, 32))
    assert te.y.tolist() == batches["test_batch"]["labels"]


def test_fake_torchvision_batches(tmp_path, monkeypatch):
    monkeypatch.delenv("DBOOST_DATA", raising=False)
    batches = _fake_batches(tmp_path / "cifar-10-batches-py")
    _check_fake(*cifar10(root=tmp_path, download=False), batches)                          # parent folder
    _check_fake(*cifar10(root=tmp_path / "cifar-10-batches-py", download=False), batches)  # the folder itself


def test_fake_batches_via_env_and_root_wins(tmp_path, monkeypatch):
    env_b = _fake_batches(tmp_path / "env" / "cifar-10-batches-py", seed=1)
    root_b = _fake_batches(tmp_path / "root" / "cifar-10-batches-py", sizes=(1, 1, 1, 1, 1), seed=2)
    monkeypatch.setenv("DBOOST_DATA", str(tmp_path / "env"))
    _check_fake(*cifar10(), env_b)
    _check_fake(*cifar10(root=tmp_path / "root"), root_b)


def test_fake_npy_layout_hwc_to_chw(tmp_path, monkeypatch):
    monkeypatch.delenv("DBOOST_DATA", raising=False)
    rng = np.random.default_rng(0)
    d = tmp_path / "cifar10"
    d.mkdir()
    parts = [rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8) for n in (2, 3)]
    for i, p in enumerate(parts):
        np.save(d / f"train_x_{i:02d}.npy", p)
    ytr = rng.integers(0, 10, 5).astype(np.uint8)
    xte = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    np.save(d / "train_y.npy", ytr)
    np.save(d / "test_x.npy", xte)
    np.save(d / "test_y.npy", np.array([3, 9], np.uint8))
    tr, te = cifar10(root=tmp_path, download=False)   # finds root/cifar10
    hwc = np.concatenate(parts)
    assert np.array_equal(tr.x.numpy(), hwc.transpose(0, 3, 1, 2))
    assert int(tr.x[3, 2, 7, 1]) == int(hwc[3, 7, 1, 2])
    assert tr.y.dtype == torch.int64 and tr.y.tolist() == ytr.tolist()
    assert np.array_equal(te.x.numpy(), xte.transpose(0, 3, 1, 2)) and te.y.tolist() == [3, 9]
    np.save(d / "train_y.npy", ytr[:4])  # image/label count mismatch
    with pytest.raises(ValueError):
        cifar10(root=d, download=False)


def test_missing_data_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.delenv("DBOOST_DATA", raising=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError) as e:
        cifar10(root=empty, download=False)
    assert str(empty) in str(e.value)
    assert "DBOOST_DATA" in str(e.value)  # and says how to fix it


def test_missing_data_env_only_does_not_download(tmp_path, monkeypatch):
    monkeypatch.setenv("DBOOST_DATA", str(tmp_path))
    monkeypatch.setattr(Path, "home", lambda: tmp_path / "home")  # a download attempt would land here
    with pytest.raises(FileNotFoundError) as e:
        cifar10()
    assert str(tmp_path) in str(e.value)
    assert not (tmp_path / "home").exists()


def test_splits_carry_their_data_sets_normalisation():
    """CIFAR-100 (or any data set) is normalised with its own training-split statistics, carried by
    both splits and every subset; the trainer and predictions read them from the Split."""
    import dataclasses

    from dboost.data import CIFAR10_MEAN, CIFAR10_STD, Split, channel_stats
    from dboost.augmentation import to_input
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (40, 3, 4, 4), generator=g, dtype=torch.uint8)
    mean, std = channel_stats(x)
    ref = x.double().permute(1, 0, 2, 3).reshape(3, -1)
    assert mean == pytest.approx(tuple(ref.mean(1).tolist())) and std == pytest.approx(tuple(ref.std(1, unbiased=False).tolist()))
    s = Split(x, torch.zeros(40, dtype=torch.long), 10, "t")
    assert (s.mean, s.std) == (CIFAR10_MEAN, CIFAR10_STD)  # the default: CIFAR-10 (and synthetic data)
    s2 = dataclasses.replace(s, mean=mean, std=std)
    assert (s2.subset(10, seed=1).mean, s2.subset(10, seed=1).std) == (mean, std)
    z = to_input(x, "cpu", mean=mean, std=std).double()
    # per-channel mean 0 and std 1 after normalising with the data's own statistics (float32 rounding)
    assert z.mean((0, 2, 3)).abs().max() < 1e-5 and (z.std((0, 2, 3), unbiased=False) - 1).abs().max() < 1e-5


# ----------------------------------------------------------------------------- damaged files and bad labels are named

def test_the_loader_refuses_float_and_out_of_range_labels(tmp_path):
    d = fake_npy(tmp_path / "a", labels=(np.arange(200) % 10).astype(np.float32))
    with pytest.raises(ValueError, match="float"):
        cifar10(root=d, download=False)
    d = fake_npy(tmp_path / "b", labels=np.arange(200) % 11)
    with pytest.raises(ValueError, match=r"train_y.npy: labels must lie in \[0, 9\]"):
        cifar10(root=d, download=False)
    with pytest.raises(ValueError, match="integers"):
        _split(np.zeros((2, 32, 32, 3), np.uint8), np.array([1.5, 2.0]), "x")


def test_damaged_data_files_are_named(tmp_path):
    d = fake_npy(tmp_path / "npy")
    f = d / "train_x_00.npy"
    f.write_bytes(f.read_bytes()[:5000])  # truncated shard
    with pytest.raises(ValueError, match=f"{f}: cannot read"):
        cifar10(root=d, download=False)
    b = tmp_path / "cifar-10-batches-py"
    b.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (b / name).write_bytes(pickle.dumps({"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8),
                                             "labels": [1, 2]}))
    assert len(cifar10(root=tmp_path, download=False)[0]) == 10
    (b / "data_batch_3").write_bytes((b / "data_batch_3").read_bytes()[:40])
    with pytest.raises(ValueError, match="data_batch_3: cannot read"):
        cifar10(root=tmp_path, download=False)
    (b / "data_batch_3").write_bytes(pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [0.5, 1.5]}))
    with pytest.raises(ValueError, match="data_batch_3: labels must be .*integers"):
        cifar10(root=tmp_path, download=False)


def test_an_explicit_root_is_never_a_download_target(tmp_path, monkeypatch):
    """A typo in ``root`` is named, not created (unless download=True), whatever DBOOST_DATA says."""
    monkeypatch.setenv("DBOOST_DATA", str(tmp_path / "elsewhere"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        cifar10(root=tmp_path / "typo")
    assert not (tmp_path / "typo").exists()
