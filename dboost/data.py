"""Data: CIFAR-10/100 as uint8 tensors, and a synthetic stand-in for smoke runs and tests.

Every loader returns ``(train, test)`` :class:`Split` objects with ``.x`` uint8 (N, 3, 32, 32)
and ``.y`` int64 (N,).  ``split="authors"`` (``load``, ``cifar10``) instead returns the authors'
split of the *training* set: first 45,000 images to train on, last 5,000 as "test" (see
:func:`authors_split`); ``split="standard"`` (default) is the official train / test split.
Images stay uint8 until the trainer's batched, on-device normalisation: 150 MB for CIFAR-10,
not 600 MB of float32.

Where CIFAR-10 is looked for: ``root`` if given (and only there: an explicit root that holds no
data set is an error naming it, and is never created or downloaded into unless ``download=True``);
otherwise ``$DBOOST_DATA``, then torchvision's download into ``~/.cache/dboost`` (only where the
internet is reachable).  Files are checked as they are read: a damaged pickle or ``.npy`` shard,
non-integer labels (never truncated), labels out of range or images of the wrong shape raise
ValueError naming the file.
A folder may hold either torchvision's ``cifar-10-batches-py`` (or be it) or the ``.npy``
layout of this project's shared copy (``train_x_00.npy`` .. ``train_x_04.npy``,
``train_y.npy``, ``test_x.npy``, ``test_y.npy``; HWC, RGB, original order).
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import dataclasses

import torch

# Per-channel statistics of the CIFAR-10 training set, in 0..255 units (the data README's values).
CIFAR10_MEAN = (125.3069, 122.9504, 113.8654)
CIFAR10_STD = (62.9932, 62.0887, 66.7049)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@dataclass
class Split:
    """One split of an image-classification data set: uint8 images and int64 labels."""

    x: torch.Tensor  # uint8 (N, 3, 32, 32)
    y: torch.Tensor  # int64 (N,)
    num_classes: int
    name: str = ""
    # Per-channel normalisation (0..255 units) the trainer and predictions apply: the statistics of
    # the data set's *training* split, carried by both splits and every subset.  CIFAR-10's by
    # default (synthetic data uses them too, so its nets train exactly as before this field existed).
    mean: tuple = CIFAR10_MEAN
    std: tuple = CIFAR10_STD

    def __post_init__(self):
        if self.x.dtype != torch.uint8 or self.x.dim() != 4 or self.x.shape[1] != 3:
            raise ValueError(f"Split.x must be uint8 (N, 3, H, W); got {self.x.dtype} {tuple(self.x.shape)}")
        if self.y.dtype != torch.int64 or self.y.shape != (self.x.shape[0],):
            raise ValueError(f"Split.y must be int64 ({self.x.shape[0]},); got {self.y.dtype} {tuple(self.y.shape)}")
        if len(self.y) and (int(self.y.min()) < 0 or int(self.y.max()) >= self.num_classes):
            raise ValueError(f"labels must lie in [0, {self.num_classes - 1}]")

    def __len__(self) -> int:
        return self.x.shape[0]

    def subset(self, n: int | None = None, *, seed: int = 0, balanced: bool = True) -> "Split":
        """The first ``n`` samples of a seeded class-balanced draw (all samples when n is None).

        Deterministic in (n, seed); the order is shuffled so a prefix stays balanced too.
        """
        if n is None or n >= len(self):
            return self
        if n < 0:
            raise ValueError(f"subset size must be >= 0; got {n}")
        g = torch.Generator().manual_seed(seed)
        if balanced:
            per = [torch.nonzero(self.y == k).squeeze(1) for k in range(self.num_classes)]
            per = [p[torch.randperm(len(p), generator=g)] for p in per]
            # Round-robin over classes so any prefix is as balanced as possible.
            # Fix (tests/test_data.py::test_subset_unequal_classes_returns_n): the round-robin used
            # to stop at the smallest class, so with unequal class counts subset(n) silently
            # returned fewer than n samples.  Ordering by (rank within class, class) is the same
            # round-robin -- identical order when classes are equal -- but continues over the
            # classes that still have samples.
            key = torch.cat([torch.arange(len(p)) * self.num_classes + k for k, p in enumerate(per)])
            order = torch.cat(per)[torch.argsort(key)]
            idx = order[:n]
        else:
            idx = torch.randperm(len(self), generator=g)[:n]
        idx = idx.sort().values  # keep the original relative order
        return Split(self.x[idx], self.y[idx], self.num_classes, f"{self.name}[{n}]", self.mean, self.std)

    def describe(self) -> dict:
        return {"name": self.name, "n": len(self), "num_classes": self.num_classes}


# ----------------------------------------------------------------------------- CIFAR-10

def _npy_layout(d: Path) -> bool:
    return all((d / f).exists() for f in ("train_y.npy", "test_x.npy", "test_y.npy", "train_x_00.npy"))


def _batches_dir(d: Path) -> Path | None:
    for cand in (d, d / "cifar-10-batches-py"):
        if (cand / "data_batch_1").exists() and (cand / "test_batch").exists():
            return cand
    return None


def _read(f: Path, how):
    """``how(f)``, with any failure to read a data file reported with the file's name."""
    try:
        return how(f)
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 -- numpy / pickle raise many kinds on damaged files
        raise ValueError(f"{f}: cannot read this data file ({e.__class__.__name__}: {e}); it is damaged or "
                         "incomplete: replace it with a fresh copy") from None


def _labels(y, f: Path) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(f"{f}: labels must be a 1-D array of integers; got {y.dtype} {y.shape} "
                         "(float labels are refused, never truncated)")
    if y.size and (int(y.min()) < 0 or int(y.max()) > 9):
        raise ValueError(f"{f}: labels must lie in [0, 9]; got min {int(y.min())}, max {int(y.max())}")
    return y


def _images(x, f: Path) -> np.ndarray:
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (32, 32, 3):
        raise ValueError(f"{f}: images must be uint8 (N, 32, 32, 3); got {x.dtype} {x.shape}")
    return x


def _from_npy(d: Path) -> tuple[Split, Split]:
    files = sorted(d.glob("train_x_[0-9][0-9].npy"))
    xtr = np.concatenate([_images(_read(f, np.load), f) for f in files])
    ytr = _labels(_read(d / "train_y.npy", np.load), d / "train_y.npy")
    xte = _images(_read(d / "test_x.npy", np.load), d / "test_x.npy")
    yte = _labels(_read(d / "test_y.npy", np.load), d / "test_y.npy")
    if xtr.shape[0] != ytr.shape[0] or xte.shape[0] != yte.shape[0]:
        raise ValueError(f"{d}: image and label counts differ ({xtr.shape[0]} vs {ytr.shape[0]}, {xte.shape[0]} vs {yte.shape[0]})")
    return _split(xtr, ytr, "cifar10-train"), _split(xte, yte, "cifar10-test")


def _unpickle(f: Path) -> dict:
    with open(f, "rb") as fh:
        b = pickle.load(fh, encoding="latin1")
    if not isinstance(b, dict) or "data" not in b or "labels" not in b:
        raise ValueError("not a CIFAR-10 batch (a dict with 'data' and 'labels')")
    return b


def _from_batches(d: Path) -> tuple[Split, Split]:
    def read(name):
        f = d / name
        b = _read(f, _unpickle)
        x = np.asarray(b["data"])
        if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072:
            raise ValueError(f"{f}: 'data' must be uint8 (N, 3072); got {x.dtype} {x.shape}")
        y = _labels(b["labels"], f)
        if len(y) != len(x):
            raise ValueError(f"{f}: {len(x)} images but {len(y)} labels")
        return x.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), y
    parts = [read(f"data_batch_{i}") for i in range(1, 6)]
    xte, yte = read("test_batch")
    return (_split(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), "cifar10-train"),
            _split(xte, yte, "cifar10-test"))


def _split(x_hwc: np.ndarray, y: np.ndarray, name: str, num_classes: int = 10) -> Split:
    if np.asarray(y).dtype.kind not in "iu":  # a float label 2.7 must not become class 2
        raise ValueError(f"{name}: labels must be integers; got {np.asarray(y).dtype}")
    x = torch.from_numpy(np.ascontiguousarray(x_hwc.transpose(0, 3, 1, 2)))
    return Split(x, torch.from_numpy(y.astype(np.int64)), num_classes, name)


def holds_cifar10(d: Path) -> bool:
    """Whether folder ``d`` (or ``d/cifar10``) holds CIFAR-10 in one of the two layouts."""
    d = Path(d)
    return any(_npy_layout(s) or _batches_dir(s) is not None for s in (d, d / "cifar10"))


def check_root(root) -> None:
    """An explicit data root must hold a data set: FileNotFoundError in one line naming it otherwise.
    Nothing is created."""
    if root is None:
        return
    r = Path(root)
    if not r.exists():
        raise FileNotFoundError(f"data root {r} does not exist (nothing was created); pass the folder that holds "
                                "CIFAR-10 (cifar-10-batches-py or the .npy files), or leave it out to use $DBOOST_DATA")
    if not holds_cifar10(r):
        raise FileNotFoundError(f"data root {r} holds no CIFAR-10 (neither cifar-10-batches-py nor train_x_00.npy, "
                                "train_y.npy, test_x.npy, test_y.npy, there or in cifar10/); pass the folder that "
                                "holds it, or leave the root out to use $DBOOST_DATA")


def _find_local(root) -> tuple[Path | None, list[str]]:
    looked = []
    cands = []
    if root is not None:
        cands.append(("root", Path(root)))
    if os.environ.get("DBOOST_DATA"):
        cands.append(("$DBOOST_DATA", Path(os.environ["DBOOST_DATA"])))
    for label, d in cands:
        for sub in (d, d / "cifar10"):
            looked.append(f"{label}: {sub}")
            if _npy_layout(sub) or _batches_dir(sub):
                return sub, looked
    return None, looked


SPLITS = ("standard", "authors")


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")


def authors_split(train: Split) -> tuple[Split, Split]:
    """The authors' split of a training set: ``(first 90 %, last 10 %)``, original order kept.

    The authors' code trains on the first 45,000 CIFAR-10 training images and reports "test" on
    the last 5,000 (``data[:-5000]`` / ``data[-5000:]``); the official test set is never used.
    For 50,000 images this is exactly that.  Other sizes (a synthetic set, CIFAR-100 is 50,000 too)
    get the same proportion: the last ``n // 10`` images are the test part.  Fewer than 10 images
    would leave no test part: ValueError.
    """
    n = len(train)
    n_test = n // 10
    if n_test < 1:
        raise ValueError(f"the authors' split needs >= 10 training images (last 10 % as test); got {n}")
    k = n - n_test
    return (Split(train.x[:k], train.y[:k], train.num_classes, f"{train.name}-authors[:{k}]", train.mean, train.std),
            Split(train.x[k:], train.y[k:], train.num_classes, f"{train.name}-authors[{k}:]", train.mean, train.std))


def _apply_split(pair: tuple[Split, Split], split: str) -> tuple[Split, Split]:
    return authors_split(pair[0]) if split == "authors" else pair


def cifar10(root=None, download: bool | None = None, split: str = "standard") -> tuple[Split, Split]:
    """CIFAR-10 as ``(train, test)`` uint8 splits, in the original order.

    Looks in ``root`` if given (only there), else in ``$DBOOST_DATA``.  Downloads with torchvision
    only when asked (``download=True``: into ``root`` or ``~/.cache/dboost``) or, with
    ``download=None``, when neither ``root`` nor ``$DBOOST_DATA`` is given (into ``~/.cache/dboost``).
    An explicit ``root`` that holds no copy is a FileNotFoundError naming it; nothing is created.
    split: "standard" (50,000 / the official 10,000) or "authors" (:func:`authors_split`:
    training images 0..44,999 / 45,000..49,999).
    """
    _check_split(split)
    d, looked = _find_local(root)
    if d is not None and (root is None or Path(root) in (d, d.parent)):
        return _apply_split(_from_npy(d) if _npy_layout(d) else _from_batches(_batches_dir(d)), split)
    if root is not None and download is not True:
        check_root(root)  # raises: an explicit root that holds no data set is an error, never a download target
    if download is False or (download is None and root is None and os.environ.get("DBOOST_DATA")):
        raise FileNotFoundError(_missing_message(looked))
    target = Path(root) if root is not None else Path.home() / ".cache" / "dboost"
    try:
        import torchvision
        torchvision.datasets.CIFAR10(str(target), train=True, download=True)
    except Exception as e:  # no internet, no torchvision, ...
        raise FileNotFoundError(_missing_message(looked + [f"download into {target}: failed ({e.__class__.__name__}: {e})"])) from None
    return _apply_split(_from_batches(target / "cifar-10-batches-py"), split)


def _missing_message(looked: list[str]) -> str:
    where = "\n  ".join(looked) if looked else "(no root given and $DBOOST_DATA unset)"
    return ("CIFAR-10 not found. Looked in:\n  " + where + "\nFix: set DBOOST_DATA to a folder holding either "
            "torchvision's 'cifar-10-batches-py' or the .npy files (train_x_00..04.npy, train_y.npy, test_x.npy, "
            "test_y.npy), pass root=..., or allow torchvision to download it (needs internet).")


def cifar100(root=None, download: bool = True) -> tuple[Split, Split]:
    """CIFAR-100 (fine labels) through torchvision, as uint8 splits."""
    import torchvision
    root = Path(root or os.environ.get("DBOOST_DATA") or Path.home() / ".cache" / "dboost")
    try:
        tr = torchvision.datasets.CIFAR100(str(root), train=True, download=download)
        te = torchvision.datasets.CIFAR100(str(root), train=False, download=download)
    except Exception as e:
        raise FileNotFoundError(f"CIFAR-100 not found under {root} and could not be downloaded ({e}). "
                                "Set DBOOST_DATA or pass root= to a folder holding 'cifar-100-python'.") from None
    train, test = (_split(tr.data, np.asarray(tr.targets), "cifar100-train", 100),
                   _split(te.data, np.asarray(te.targets), "cifar100-test", 100))
    mean, std = channel_stats(train.x)  # CIFAR-100's own statistics, not CIFAR-10's
    return (dataclasses.replace(train, mean=mean, std=std), dataclasses.replace(test, mean=mean, std=std))


def channel_stats(x: torch.Tensor) -> tuple[tuple, tuple]:
    """Per-channel mean and (population) standard deviation of uint8 images (N, 3, H, W), 0..255 units."""
    xf = x.double().transpose(0, 1).reshape(x.shape[1], -1)
    return tuple(float(v) for v in xf.mean(1)), tuple(float(v) for v in xf.std(1, unbiased=False))


# ----------------------------------------------------------------------------- synthetic

def synthetic(n_train: int, n_test: int, num_classes: int = 10, seed: int = 0, noise: float = 0.35) -> tuple[Split, Split]:
    """Deterministic, learnable 32x32x3 classes for smoke runs and tests.

    Each class is a fixed random low-frequency colour pattern; a sample is its class pattern,
    randomly shifted by up to 3 pixels, plus pixel noise.  A small CNN separates them within
    a few epochs, yet not trivially (noise and shifts), so margins and gaps behave as on images.
    """
    for name, v in (("n_train", n_train), ("n_test", n_test)):
        if int(v) != v or v < 0:
            raise ValueError(f"{name} must be a non-negative int; got {v}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2; got {num_classes}")
    g = torch.Generator().manual_seed(10_000 + seed)
    # Low-frequency patterns: 4x4 random colours upsampled to 32x32.
    protos = torch.nn.functional.interpolate(torch.rand(num_classes, 3, 4, 4, generator=g), size=32, mode="bilinear",
                                             align_corners=False)

    def make(n, salt):
        gg = torch.Generator().manual_seed(seed * 1_000_003 + salt)
        y = torch.arange(n) % num_classes
        y = y[torch.randperm(n, generator=gg)]
        x = protos[y]
        shifts = torch.randint(-3, 4, (n, 2), generator=gg)
        x = torch.stack([torch.roll(xi, (int(s[0]), int(s[1])), (1, 2)) for xi, s in zip(x, shifts)]) if n else x
        x = x + noise * torch.randn(x.shape, generator=gg)
        return Split((x.clamp(0, 1) * 255).round().to(torch.uint8), y.long(), num_classes, f"synthetic-{salt}")

    return make(int(n_train), 1), make(int(n_test), 2)


def load(dataset: str, root=None, split: str = "standard", **kw) -> tuple[Split, Split]:
    """Data set by name: ``cifar10``, ``cifar100`` or ``synthetic`` (kw: n_train, n_test, seed).

    split: "standard" (the data set's own train / test) or "authors" (:func:`authors_split` of its
    training set; for ``synthetic`` the generated test set is then unused).  Checked before loading.
    """
    loaders = {"cifar10": cifar10, "cifar100": cifar100, "synthetic": synthetic}
    if dataset not in loaders:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(loaders)}")
    _check_split(split)
    if dataset == "synthetic":
        return _apply_split(synthetic(**kw), split)
    return _apply_split(loaders[dataset](root), split)
