"""The experiments of the poster (and one of ours), at five scales ("profiles"), resumable per trained model.

Each notebook in ``book/notebooks`` is a thin wrapper around one function here::

    cfg = experiments.configure("gap_sweep", profile="cpu", device="cuda")   # validates, loads data
    df  = experiments.run(cfg)                                                # trains what is missing

A profile fixes every size (data, width, epochs, seeds, gaps, members) so that a run is
comparable to another run of the same profile.  Rows land in ``runs/<profile>/<experiment>/``
one trained model at a time (see :mod:`dboost.results`); rerunning skips finished rows.

Every network is a *unit*: a complete training configuration (data, subset, architecture,
width, head, recipe and its version and overrides, epochs, batch, precision, gap or per-sample
gaps, seed), hashed into a key.  Units live in ``runs/<profile>/units/`` and are trained once:
the gap-0 frozen-x10 ResNet9 of seed s is the same unit in the gap sweep, the head study, the
architecture study, the training-length study and as boosting's first member.  Experiment rows
copy their unit's row and add their own labels.  (Profiles run before units existed -- smoke,
cpu, gpu -- keep their rows; a finished row is never retrained.)
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from . import calibration
from . import data as data_mod
from .loss import margins
from .metrics import evaluate_member_logits, evaluate_scores, logged_style_mean_margin, margin_summary, min_width
from .models import build
from .results import Store, environment
from .boost import chain
from .rules import RULES
from .train import RECIPES, predict_logits, train

EXPERIMENTS = ("gap_sweep", "frozen_last_layer", "architectures", "boosting", "training_length", "data_size")

# Head variants of the "frozen last layer" figure.  Each is (label, build kw, train kw).
_HEADS_FULL = [
    ("freeze_last x1", dict(head="freeze_last", scale=1.0), {}),
    ("freeze_last x3", dict(head="freeze_last", scale=3.0), {}),
    ("freeze_last x10", dict(head="freeze_last", scale=10.0), {}),
    ("BN_Linear", dict(head="bn_linear_none"), {}),
    ("Linear", dict(head="none_linear_none"), {}),
    ("BN_Linear_BN", dict(head="bn_linear_bn"), {}),
    ("BN_Linear_tanh", dict(head="bn_linear_tanh"), {}),
    ("IN_Linear_tanh", dict(head="in_linear_tanh"), {}),
    ("tanh_Linear_IN", dict(head="tanh_linear_in"), {}),
    # The strong baseline of issue 5: trainable head + label smoothing 0.1 (fast recipe).
    ("strong: Linear + LS0.1", dict(head="none_linear_none"), dict(label_smoothing=0.1)),
]
_HEADS_SMALL = [h for h in _HEADS_FULL if h[0] in ("freeze_last x1", "freeze_last x10", "Linear", "BN_Linear_BN",
                                                   "IN_Linear_tanh", "strong: Linear + LS0.1")]
_HEADS_INTERP = [h for h in _HEADS_FULL if h[0] in ("freeze_last x10", "Linear", "strong: Linear + LS0.1")]
CLAIM_HEADS = ("freeze_last x10", "Linear", "strong: Linear + LS0.1")
_LENGTH_HEADS = ("freeze_last x10", "strong: Linear + LS0.1")  # the poster's head and the strong baseline
_BOOST_RULES = ("zero", "constant", "save_mean_reverse", "zero_mean_reverse")
_BOOST_EXTRA = ("mean_margin", "constant_by_last", "constant_mean_cumulative")

# Every size of every profile.  gap_mults: gaps as multiples of the gap-0 model's train mean
# margin m0 (scale-free, so the same grid means the same thing at width 8 and at width 64);
# the paper profile uses the authors' absolute grid instead (20 gaps, log-spaced 0.1..250).
# Settings a profile leaves out take these defaults (the profiles run before they existed).
_DEFAULTS = dict(
    precision=None,      # None: bf16 autocast on CUDA, fp32 on a CPU; "bf16"/"fp32" to fix it
    split="standard",    # "standard": CIFAR's 50k/10k; "authors": their code's first 45k / last 5k of train
    grid="full",         # "full": every gap_mults point on every `seeds`; "adaptive": see _gap_sweep
    gap_mult_max=64.0,   # the adaptive grid doubles its top point while the best is there, up to this
    lengths=None,        # training-length study: epochs per length (None: not part of the profile)
    length_heads=_LENGTH_HEADS,
    # data-size study (issue 19): training-set sizes, each with its own steps; seeds draw their own subset
    sizes=None,          # training-set sizes (None: not part of the profile)
    size_steps=None,     # optimiser steps to try first per size (doubled on seed 0 until gap 0 fits)
    size_seeds=(0, 1, 2),
    size_heads=("freeze_last x10",),
    size_fit=0.99,       # "fits its training set": gap-0 train accuracy at least this
    size_max_doublings=2,
    resample_n=None,     # at this size (the profile's n_train), resample_seeds and every size_head +
    resample_seeds=(),   # resample_heads: claim 1 and claim 3 with seeds that draw their own subset
    resample_heads=(),
    experiments=("gap_sweep", "frozen_last_layer", "architectures", "boosting"),
    # torch.compile mode of the trainer (dboost.train.COMPILE_MODES; False: eager).  A speed setting,
    # not part of a unit's key (like the executor); each unit row records the mode it trained with.
    compile=False,
)
PROFILES: dict[str, dict] = {
    "smoke": dict(dataset="synthetic", n_train=500, n_test=250, arch="resnet9", width=4, recipe="fast", epochs=2,
                  batch_size=50, seeds=(0,), claim_seeds=(0,), arch_seeds=(0,), boost_seeds=(0,),
                  gap_mults=(0.25, 1.0, 4.0), gap_abs=None,
                  heads=[h for h in _HEADS_SMALL if h[0] in ("freeze_last x10", "Linear", "strong: Linear + LS0.1")],
                  archs=("resnet9", "resnet18", "vgg16", "wide_resnet"), arch_width=4, members=3,
                  rules=_BOOST_RULES + ("constant_by_last",), min_width_n=32, lengths=(1, 2, 3, 4),
                  sizes=(100, 250, 500), size_steps=(20, 20, 20), size_seeds=(0, 1), size_max_doublings=0,
                  size_fit=0.0, resample_n=250, resample_seeds=(0, 1, 2), resample_heads=("Linear",),
                  experiments=EXPERIMENTS, threads=1, description="synthetic data, seconds on a CPU: "
                  "checks the pipeline, says nothing about the claims"),
    # cpu: from ../shared/design/cpu-scale-notes.md -- optimiser steps matter more than data at this
    # scale, so a 5k subset with batch 100 (1,200 steps) beats 10k images with fewer steps; ~2 min per model.
    "cpu": dict(dataset="cifar10", n_train=5_000, n_test=None, arch="resnet9", width=16, recipe="fast", epochs=24,
                batch_size=100, seeds=(0,), claim_seeds=(0, 1, 2), arch_seeds=(0, 1, 2), boost_seeds=(0, 1, 2),
                gap_mults=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0),
                gap_abs=None, heads=_HEADS_SMALL, archs=("resnet9", "resnet18", "vgg16", "wide_resnet"), arch_width=16,
                members=4, rules=_BOOST_RULES, min_width_n=256,
                description="real CIFAR-10, 5k training subset, width 16, 24 epochs of batch 100, 3 seeds "
                "wherever a claim hinges on it: 99 models, about 4 h on 2 CPU cores; does NOT fit its training "
                "data (train accuracy 0.71 at gap 0)"),
    # interp: the poster's regime (the gap-0 net fits its training set) on 2 CPU cores.  Sized from the
    # measured probe in ../shared/design/cpu-scale-notes.md ("Second probe"): a class-balanced 2k subset
    # and 3,000 optimiser steps (150 epochs of batch 100) took the gap-0 frozen-x10 ResNet9 (width 16,
    # bf16) to train accuracy 0.998 with m0 = 12.8, where 1,200 steps reached only 0.861.  bf16 autocast
    # because this CPU has native bf16 (1.5-2x fp32, benchmarks/README.md); every arm uses it.
    "interp": dict(dataset="cifar10", n_train=2_000, n_test=None, arch="resnet9", width=16, recipe="fast", epochs=150,
                   batch_size=100, precision="bf16", seeds=(0,), claim_seeds=(0, 1, 2), arch_seeds=(0,),
                   boost_seeds=(0, 1, 2), gap_mults=(0.25, 0.5, 2.0, 4.0), grid="adaptive", gap_abs=None,
                   heads=_HEADS_INTERP, archs=("resnet9",), arch_width=16, members=5, rules=_BOOST_RULES,
                   min_width_n=256, lengths=(15, 30, 60, 150),
                   # data-size study: 3,000 steps fit 2k images (the probe above); larger sets get more
                   # steps to start with, and seed 0 doubles them until its gap-0 net fits (size_fit)
                   sizes=(1_000, 2_000, 5_000, 10_000), size_steps=(2_000, 3_000, 5_000, 8_000),
                   resample_n=2_000, resample_seeds=(0, 1, 2, 3, 4), resample_heads=("Linear",),
                   experiments=("gap_sweep", "frozen_last_layer", "training_length", "boosting", "data_size"),
                   description="the poster's regime on a CPU: real CIFAR-10, class-balanced 2k training subset, "
                   "full 10k test set, width 16, 150 epochs of batch 100 (3,000 steps; a measured probe: train "
                   "accuracy 0.998, m0 12.8 at gap 0), bf16 on 2 CPU cores, 3 seeds per claim"),
    "gpu": dict(dataset="cifar10", n_train=None, n_test=None, arch="resnet9", width=64, recipe="fast", epochs=10,
                batch_size=500, seeds=(0,), claim_seeds=(0, 1, 2), arch_seeds=(0, 1, 2), boost_seeds=(0, 1, 2),
                # adaptive: the first grid (stored rows) peaked at its top, 4 x m0 -- so the grid grows
                # until the optimum is bracketed, then its neighbours run on all claim seeds
                gap_mults=(0.25, 0.5, 1.0, 2.0, 4.0), grid="adaptive",
                gap_abs=None, heads=_HEADS_SMALL, archs=("resnet9", "resnet18", "vgg16", "wide_resnet"), arch_width=64,
                members=5, rules=_BOOST_RULES + _BOOST_EXTRA, min_width_n=500, lengths=(5, 10, 20, 40),
                experiments=EXPERIMENTS,
                description="full CIFAR-10, width 64, fast recipe (10 epochs): ~10 min per experiment on one H200"),
    # full: the poster's scale AND regime -- full CIFAR-10, width 64, every gap-0 net fitting its
    # training set (issue 21).  epochs=40 is PROVISIONAL: the length is the shortest one at which
    # every gap-0 head reaches train accuracy >= 0.99, chosen on the GPU by the measured probe
    # `python benchmarks/length_probe.py` (candidate lengths in ascending order, gap-0 nets of the
    # claim heads, seed 0, this profile's recipe, batch and bf16; it stops at the first length
    # where all heads fit, results in benchmarks/results/length_probe_*.json).  Write the chosen
    # length here before any row of this profile is kept: epochs are part of every unit's key.
    "full": dict(dataset="cifar10", n_train=None, n_test=None, arch="resnet9", width=64, recipe="fast", epochs=40,
                 batch_size=500, precision="bf16", seeds=(0,), claim_seeds=(0, 1, 2), arch_seeds=(0,),
                 boost_seeds=(0, 1, 2), gap_mults=(0.25, 0.5, 2.0, 4.0), grid="adaptive", gap_abs=None,
                 heads=_HEADS_INTERP, archs=("resnet9",), arch_width=64, members=5, rules=_BOOST_RULES,
                 min_width_n=500, experiments=("gap_sweep", "frozen_last_layer", "boosting"),
                 description="the poster's scale and regime: full CIFAR-10, width 64, fast recipe, batch 500, bf16, "
                 "trained until the gap-0 nets fit their training set (length from a measured probe on the GPU); "
                 "claims 1 and 3, the strong baseline (S1/S2), boosting with the 4 main rules x 5 members, 3 seeds"),
    "paper": dict(dataset="cifar10", n_train=None, n_test=None, arch="resnet9", width=64, recipe="authors", epochs=50,
                  batch_size=500, seeds=(0,), claim_seeds=(0, 1, 2), arch_seeds=(0, 1, 2),
                  boost_seeds=(0, 1, 2), gap_mults=None,
                  gap_abs=tuple(float(g) for g in np.geomspace(0.1, 250, 20)), heads=_HEADS_FULL,
                  archs=("resnet9", "resnet18", "vgg16", "wide_resnet"), arch_width=64, members=15,
                  rules=_BOOST_RULES + _BOOST_EXTRA, min_width_n=1000, lengths=(10, 25, 50, 100),
                  experiments=EXPERIMENTS,
                  description="the authors' recipe at full scale (50 epochs, 20 gaps, 15 members): GPU-hours"),
}
# The authors' own protocol: their code trains on the first 45k training images and reports "test"
# on the last 5k *training* images (spec, "Checked against the authors' published code").  A profile
# of its own, so its rows never mix with the standard split's; every row records split="authors".
PROFILES["paper_authors"] = dict(PROFILES["paper"], split="authors", description="the paper profile on the "
                                 "authors' code's split: train on the first 45k CIFAR-10 training images, "
                                 "'test' on the last 5k training images (not the CIFAR-10 test set)")
for _p in PROFILES.values():
    for _k, _v in _DEFAULTS.items():
        _p.setdefault(_k, _v)
# Which profile a page shows when several have rows: the poster's regime first (paper, full and interp
# fit their training data, gpu and cpu do not), then scale -- the order the summary's headline uses too.
PROFILE_RANK = ("paper", "full", "interp", "gpu", "cpu", "paper_authors", "smoke")
# Seed lists of a profile: the gap grid and other heads, the paired claims, claim 4 (architectures), claim 5 (boosting).
SEED_KEYS = ("seeds", "claim_seeds", "arch_seeds", "boost_seeds")  # best first: the book shows the best available


@dataclass
class Config:
    experiment: str
    profile: str
    p: dict
    device: str
    train_set: data_mod.Split
    test_set: data_mod.Split
    store: Store
    progress: bool = True
    log: list = field(default_factory=list)
    units: Store | None = None
    overrides: dict = field(default_factory=dict)  # configure(**overrides): a worker rebuilds the same data
    collect: dict | None = None  # key -> UnitSpec of units still to train (executors other than local)
    executor: str = "local"      # recorded in every unit row
    full_train: data_mod.Split | None = None  # the whole training split (units on other subsets draw from it)

    def __post_init__(self):
        if self.units is None:
            self.units = Store(self.profile, "units", root=self.store.dir.parent.parent)

    def train_for(self, ucfg: dict) -> data_mod.Split:
        """The training set of unit config ``ucfg``: the profile's subset, or (data-size study,
        resampled seeds) the class-balanced subset of ``n_train`` images drawn with ``subset_seed``."""
        if ucfg["n_train"] == len(self.train_set) and ucfg.get("subset_seed", 0) == 0:
            return self.train_set
        full = self.full_train if self.full_train is not None else self.train_set
        if ucfg["n_train"] > len(full):
            raise ValueError(f"a unit asks for {ucfg['n_train']:,} training images; the data set has {len(full):,}")
        return full.subset(ucfg["n_train"], seed=ucfg["subset_seed"])


def _steps(n: int, batch_size: int, epochs: int) -> int:
    return epochs * (n // min(batch_size, n))


def configure(experiment: str, profile: str = "smoke", device=None, seeds=None, data_root=None, progress: bool = True,
              **overrides) -> Config:
    """Validate everything and load the data -- before any training and before any write.

    The one place the CLI (``dboost.batch``) and the notebooks (papermill parameters) are checked:
    device (:func:`dboost.train.check_device`), seeds (:func:`dboost.train.check_seeds`: ints in
    [0, 2**31), a string such as papermill's ``-r seeds 12`` is refused), sizes, the data (labels,
    sizes against the profile, an explicit ``data_root`` that holds no data set), the runs folder
    (a writable directory, or creatable; nothing is created here) and every row already stored
    for this experiment and for the units (:meth:`dboost.results.Store.check`).
    """
    import os

    from .results import check_runs_root
    from .train import check_compile, check_device, check_seeds
    if not isinstance(experiment, str) or experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; known: {', '.join(EXPERIMENTS)}")
    if not isinstance(profile, str) or profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known profiles: {', '.join(PROFILES)}")
    p = dict(PROFILES[profile])
    for k, v in overrides.items():
        if k not in p:
            raise ValueError(f"unknown profile setting {k!r}; settings: {', '.join(p)}")
        p[k] = v
    if experiment not in p["experiments"]:
        raise ValueError(f"experiment {experiment!r} is not part of profile {profile!r} "
                         f"(its experiments: {', '.join(p['experiments'])})")
    if seeds is not None:
        seeds = check_seeds(seeds)
        p.update(dict.fromkeys(SEED_KEYS, seeds))
    for k in ("width", "arch_width", "epochs", "batch_size", "members", "min_width_n"):
        if int(p[k]) != p[k] or p[k] < 1:
            raise ValueError(f"{k} must be a positive int; got {p[k]!r}")
    for k in ("n_train", "n_test"):
        if p[k] is not None and (int(p[k]) != p[k] or p[k] < 1):
            raise ValueError(f"{k} must be a positive int or None; got {p[k]!r}")
    for k in SEED_KEYS:
        check_seeds(p[k], k)
    if p["recipe"] not in RECIPES:
        raise ValueError(f"unknown recipe {p['recipe']!r}; known: {', '.join(RECIPES)}")
    for r in p["rules"]:
        if r not in RULES:
            raise ValueError(f"unknown rule {r!r}; known: {', '.join(RULES)}")
    check_compile(p["compile"])
    if p["precision"] not in (None, "bf16", "fp32"):
        raise ValueError(f"precision must be 'bf16', 'fp32' or None; got {p['precision']!r}")
    if p["grid"] not in ("full", "adaptive"):
        raise ValueError(f"grid must be 'full' or 'adaptive'; got {p['grid']!r}")
    if p["grid"] == "adaptive" and not p["gap_mults"]:
        raise ValueError("an adaptive grid needs gap_mults (multiples of m0); gap_abs grids are always full")
    if experiment == "boosting" and (any(s >= 1000 for s in p["boost_seeds"]) or p["members"] > 1000):
        raise ValueError("boosting seeds and members must be < 1000 (member seeds are 1000 (seed + 1) + t)")
    if p["split"] not in ("standard", "authors"):
        raise ValueError(f"split must be 'standard' or 'authors'; got {p['split']!r}")
    if experiment == "training_length":
        if not p["lengths"] or any(int(e) != e or e < 1 for e in p["lengths"]):
            raise ValueError(f"lengths must be a non-empty list of positive ints (epochs); got {p['lengths']!r}")
        labels = [h[0] for h in p["heads"]]
        bad = [h for h in p["length_heads"] if h not in labels]
        if bad:
            raise ValueError(f"length_heads {bad} are not heads of profile {profile!r}; heads: {', '.join(labels)}")
    if experiment == "data_size":
        _check_data_size(p, profile)
    dev = check_device(device)
    if data_root is not None and not isinstance(data_root, (str, os.PathLike)):
        raise ValueError(f"data_root must be a folder path or None; got {data_root!r}")
    if p["dataset"] == "synthetic":
        n_syn = max([p["n_train"], *(p["sizes"] or ())]) if experiment == "data_size" else p["n_train"]
        full_tr, te = data_mod.synthetic(n_syn, p["n_test"], seed=0)
        tr = full_tr.subset(p["n_train"], seed=0) if n_syn > p["n_train"] else full_tr
    else:
        kw = {} if p["split"] == "standard" else dict(split=p["split"])
        data_mod.check_root(data_root)
        tr, te = data_mod.load(p["dataset"], root=data_root, **kw)
        where = f"data root {data_root}" if data_root is not None else \
            f"DBOOST_DATA={os.environ['DBOOST_DATA']}" if os.environ.get("DBOOST_DATA") else "the downloaded copy"
        full = dict(cifar10=(50_000, 10_000) if p["split"] == "standard" else (45_000, 5_000)).get(p["dataset"])
        if full and (len(tr) < full[0] or len(te) < full[1]):
            raise ValueError(f"profile {profile!r} needs CIFAR-10 ({full[0]:,} training / {full[1]:,} test images"
                             f"{' in the authors split' if p['split'] != 'standard' else ''}); the data set in {where} "
                             f"has {len(tr):,} / {len(te):,}")
        for k, split_ in (("n_train", tr), ("n_test", te)):
            if p[k] is not None and p[k] > len(split_):
                raise ValueError(f"profile {profile!r} asks for {k}={p[k]:,}; the data set in {where} has "
                                 f"{len(split_):,}")
        full_tr = tr
        tr, te = tr.subset(p["n_train"], seed=0), te.subset(p["n_test"], seed=0)
    # Every schedule this experiment will train must be one the one-cycle scheduler can run:
    # refuse here, not after the first hours of training.
    pct = RECIPES[p["recipe"]]["pct_start"]
    for e in (p["lengths"] or ()) if experiment == "training_length" else (p["epochs"],):
        n_steps = _steps(len(tr), p["batch_size"], int(e))
        if n_steps < 5 or pct * n_steps <= 1:
            raise ValueError(f"{e} epochs of {len(tr)} samples in batches of {p['batch_size']} are {n_steps} optimiser "
                             "steps: too few for a one-cycle schedule")
    if experiment == "data_size":
        for n, st in zip(p["sizes"], p["size_steps"]):
            if n > len(full_tr):
                raise ValueError(f"profile {profile!r} asks for a training-set size of {n:,}; the data set has "
                                 f"{len(full_tr):,}")
            e = size_epochs(n, st, p["batch_size"])
            if pct * _steps(n, p["batch_size"], e) <= 1:
                raise ValueError(f"size {n}: {st} steps are too few for a one-cycle schedule")
    # Last: where rows go.  A writable (or creatable) folder, and every row already there usable.
    check_runs_root()
    store = Store(profile, experiment)
    store.check()
    Store(profile, "units").check()
    return Config(experiment, profile, p, dev, tr, te, store, progress, overrides=dict(overrides), full_train=full_tr)


def run(cfg: Config, train: bool = True):
    """Run (or resume) the configured experiment; returns its rows as a pandas DataFrame.

    train=False only reads the rows already stored (to render a run that is still going, or one
    whose remaining units are being trained elsewhere): nothing is trained or written.
    """
    import pandas as pd
    t0 = time.perf_counter()
    if train:
        {"gap_sweep": _gap_sweep, "frozen_last_layer": _frozen_last_layer, "architectures": _architectures,
         "boosting": _boosting, "training_length": _training_length,
         "data_size": _data_size}[cfg.experiment](cfg)
    rows = [r for r in cfg.store.rows() if r.get("profile") == cfg.profile]
    df = pd.json_normalize(rows, sep="_")
    df.attrs["run_wall_time_s"] = time.perf_counter() - t0
    df.attrs["trained"] = train
    return df


# ----------------------------------------------------------------------------- units: one network each

def _precision(cfg: Config) -> str:
    return cfg.p["precision"] or ("bf16" if cfg.device.startswith("cuda") else "fp32")


def _gap_spec(gap) -> tuple[float | torch.Tensor, float | dict]:
    """(the gap to train with, its description in the unit's config).

    A scalar, or a per-sample tensor whose values are all equal (the constant rule), trains and is
    keyed as that one float -- so the constant rule's first member *is* the sweep's gap-m0 unit.
    Other per-sample gaps are keyed by a hash of their float32 bytes.
    """
    if isinstance(gap, torch.Tensor):
        g = gap.detach().float().cpu().reshape(-1)
        if g.numel() and bool((g == g[0]).all()):
            return float(g[0]), float(g[0])
        return g, dict(sha1=hashlib.sha1(g.numpy().tobytes()).hexdigest(), mean=float(g.double().mean()),
                       std=float(g.double().std()))
    return float(gap), float(gap)


def unit_config(cfg: Config, *, seed: int, gap_desc, arch: str, width: int, build_kw=None, train_kw=None,
                epochs: int | None = None, n_train: int | None = None, subset_seed: int = 0) -> dict:
    """The complete training configuration of one network (what its key hashes)."""
    p = cfg.p
    head = dict(head="freeze_last", scale=10.0)
    head.update(build_kw or {})
    return dict(dataset=p["dataset"], split=p["split"], n_train=int(n_train or len(cfg.train_set)),
                n_test=len(cfg.test_set), subset_seed=int(subset_seed), arch=arch, width=int(width), head=head, recipe=p["recipe"],
                recipe_version=RECIPES[p["recipe"]].get("version", 1), epochs=int(epochs or p["epochs"]),
                batch_size=int(p["batch_size"]), train_kw=dict(sorted((train_kw or {}).items())),
                precision=_precision(cfg), seed=int(seed), gap=gap_desc)


def unit_key(config: dict) -> str:
    return "u" + hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class UnitSpec:
    """Everything needed to train one unit anywhere (picklable: sent to Ray or SLURM workers)."""
    key: str
    profile: str
    experiment: str            # the experiment that asked for it (a worker configures its data from it)
    overrides: dict            # the profile overrides of the driver's run (data sizes must match)
    config: dict               # unit_config(...): what the key hashes
    gaps: float | torch.Tensor
    train_kw: dict
    min_width_n: int | None = None


def train_unit(cfg: Config, *, seed: int, gap=0.0, arch=None, width=None, build_kw=None, train_kw=None,
               epochs=None, min_width_n: int | None = None, need_outputs: bool = False, n_train: int | None = None,
               subset_seed: int = 0) -> tuple[dict, dict | None]:
    """The row of one network (trained unless its unit exists) and, if ``need_outputs``, its
    outputs (test logits, train margins, weights) from the unit cache.

    The cache (``runs/<profile>/units/cache/``) is not committed: where it is gone and outputs
    are needed, the unit is retrained (deterministically on a CPU at a fixed thread count) and its
    committed row is kept.  When ``cfg.collect`` is a dict (a batch run on other executors), a unit
    that would have to be trained is not: its :class:`UnitSpec` is added there and (None, None)
    returned, so the caller stops where the unit's results are needed.
    """
    p = cfg.p
    arch, width = arch or p["arch"], width or p["width"]
    g, gdesc = _gap_spec(gap)
    ucfg = unit_config(cfg, seed=seed, gap_desc=gdesc, arch=arch, width=width, build_kw=build_kw,
                       train_kw=train_kw, epochs=epochs, n_train=n_train, subset_seed=subset_seed)
    key = unit_key(ucfg)
    row = cfg.units.get(key)
    wants_width = bool(min_width_n) and (row is None or row.get("min_width") is None)
    if row is not None and not need_outputs and not wants_width:
        return row, None
    out = cfg.units.load_tensors(key) if row is not None else None
    if out is None and row is not None and not wants_width:
        # no local cache (a fresh clone, another machine): the committed outputs carry what a
        # boosting chain needs (test logits, train margins), so nothing is retrained
        saved = cfg.units.load_outputs(key)
        if saved is not None:
            out = dict(saved, wall=torch.tensor(row["train_wall_time_s"]),
                       trained_on=f"{row['env'].get('hardware')} ({row['env'].get('device')}), torch "
                                  f"{row['env'].get('torch')}, commit {row['env'].get('git_commit')}")
    if out is None:
        spec = UnitSpec(key, cfg.profile, cfg.experiment, dict(cfg.overrides), ucfg, g, dict(train_kw or {}),
                        min_width_n)
        if cfg.collect is not None:
            cfg.collect.setdefault(key, spec)
            return None, None
        new_row, out = measure_unit(cfg, spec)
        row = store_unit(cfg.units, new_row, out)
        wants_width = bool(min_width_n) and row.get("min_width") is None
    if wants_width:  # asked for by a later experiment: from the cached weights, no retraining
        model = build(arch, num_classes=cfg.train_set.num_classes, width=width, **ucfg["head"])
        model.load_state_dict(out["state"])
        tr = cfg.train_for(ucfg)
        n = min(min_width_n, len(tr))
        row = dict(row, min_width=min_width(model, tr, n=n, device=cfg.device), min_width_n=n)
        cfg.units.put(key, {k: v for k, v in row.items() if k not in ("key", "finished_at")})
        row = cfg.units.get(key)
    return row, out


def store_unit(units: Store, row: dict, out: dict) -> dict:
    """Save a trained unit's outputs and, unless the unit already has a (committed) row, its row."""
    units.save_tensors(row["unit"], **out)
    units.save_outputs(row["unit"], out["test_logits"], out["train_margins"])
    old = units.get(row["unit"])
    if old is not None:
        return old
    units.put(row["unit"], row)
    return units.get(row["unit"])


def measure_unit(cfg: Config, spec: UnitSpec) -> tuple[dict, dict]:
    """Train the unit ``spec`` on ``cfg``'s data and device; return its row and outputs (nothing is written)."""
    import socket
    p, ucfg, seed = cfg.p, spec.config, spec.config["seed"]
    train_set = cfg.train_for(ucfg)
    torch.manual_seed(seed)  # the model's init (head first: see dboost.models)
    model = build(ucfg["arch"], num_classes=cfg.test_set.num_classes, width=ucfg["width"], **ucfg["head"])
    rec = train(model, train_set, recipe=p["recipe"], epochs=ucfg["epochs"], batch_size=p["batch_size"],
                gaps=spec.gaps, device=cfg.device, seed=seed, progress=cfg.progress, precision=ucfg["precision"],
                compile=p["compile"], **spec.train_kw)
    t_eval = time.perf_counter()
    tr_logits = predict_logits(model, train_set, device=cfg.device)
    te_logits = predict_logits(model, cfg.test_set, device=cfg.device)
    m = margins(tr_logits, train_set.y)
    hp = RECIPES[p["recipe"]]
    e = environment(cfg.device)
    g = spec.gaps
    out = dict(test_logits=te_logits, train_margins=m, wall=torch.tensor(rec["wall_time_s"]),
               trained_on=f"{e['hardware']} ({e['device']}), torch {e['torch']}, commit {e['git_commit']}",
               state={k: v.detach().cpu() for k, v in model.state_dict().items()})
    row = dict(unit=spec.key, config=ucfg, profile=cfg.profile, dataset=p["dataset"], split=p["split"],
               n_train=len(train_set), n_test=len(cfg.test_set), recipe=p["recipe"],
               recipe_version=ucfg["recipe_version"], epochs=ucfg["epochs"], batch_size=p["batch_size"],
               precision=rec["precision"], compile=rec.get("compile", False), seed=seed, arch=ucfg["arch"], width=ucfg["width"], model=model.config,
               gap=float(g) if not isinstance(g, torch.Tensor) else float(g.double().mean()),
               gap_std=0.0 if not isinstance(g, torch.Tensor) else float(g.double().std()),
               train_kw=spec.train_kw,
               train_acc=float((tr_logits.argmax(1) == train_set.y).double().mean()),
               train_margin=margin_summary(m), train_mean_margin=float(m.double().mean()),
               logged_mean_margin=logged_style_mean_margin(
                   model, train_set, batch_size=p["batch_size"], crop_pad=hp["crop_pad"], flip=hp["flip"],
                   pad_mode=hp.get("pad_mode", "zeros"), rotate_deg=hp.get("rotate_deg", 0.0), seed=seed,
                   device=cfg.device),
               test=evaluate_scores(te_logits, cfg.test_set.y),
               # from the float16 logits that are committed, so a recomputation from runs/ gives the same
               test_cal=calibration.cross_fit(te_logits.half().double().numpy(), cfg.test_set.y.numpy()),
               train_loss_last=rec["losses"][-1],
               train_wall_time_s=rec["wall_time_s"], images_per_s=rec["images_per_s"], steps=rec["steps"],
               env=e, executor=cfg.executor, worker_host=socket.gethostname())
    if spec.min_width_n:
        n = min(spec.min_width_n, len(train_set))
        row.update(min_width=min_width(model, train_set, n=n, device=cfg.device), min_width_n=n)
    row["eval_wall_time_s"] = time.perf_counter() - t_eval
    return row, out


# ----------------------------------------------------------------------------- one model

def fit_one(cfg: Config, key: str, *, seed: int, gap=0.0, arch=None, width=None, build_kw=None, train_kw=None,
            min_width_n: int | None = None, epochs: int | None = None, extra=None, n_train: int | None = None,
            subset_seed: int = 0) -> dict | None:
    """The row ``key`` of this experiment: its unit's row (trained if new) plus the experiment's labels.
    None when the unit is only collected (``cfg.collect``), not trained."""
    row = cfg.store.get(key)
    if row is not None:
        return row
    unit, _ = train_unit(cfg, seed=seed, gap=gap, arch=arch, width=width, build_kw=build_kw, train_kw=train_kw,
                         epochs=epochs, min_width_n=min_width_n, n_train=n_train, subset_seed=subset_seed)
    if unit is None:
        return None
    row = {k: v for k, v in unit.items() if k not in ("key", "finished_at", "config")}
    row.update(experiment=cfg.experiment, unit_finished_at=unit.get("finished_at"), **(extra or {}))
    cfg.store.put(key, row)
    return row


def _gap_pair(cfg: Config, prefix: str, seed: int, labels: dict | None = None, base_only: bool = False,
              **kw) -> tuple[dict, dict]:
    """The paired comparison: gap 0, then gap = the train mean margin m0 of that gap-0 model
    (``base_only``: the gap-0 row alone)."""
    labels = dict(labels or {}, variant=prefix)
    base = fit_one(cfg, f"{prefix}_seed{seed}_gap0", seed=seed, gap=0.0, extra=dict(labels, gap_label="0"), **kw)
    if base is None or base_only:  # collecting: the gap-m0 unit's gap is not known before the gap-0 unit is trained
        return base, None
    m0 = base["train_mean_margin"]
    disc = fit_one(cfg, f"{prefix}_seed{seed}_gapm0", seed=seed, gap=max(m0, 0.0),
                   extra=dict(labels, gap_label="m0", m0=m0), **kw)
    return base, disc


def _slug(label: str) -> str:
    return label.replace(" ", "").replace(":", "").replace("+", "_")


# ----------------------------------------------------------------------------- experiments

def _gap_sweep(cfg: Config) -> None:
    """The claim (gap = m0 beats gap 0) on claim_seeds, and a grid of gaps.

    grid "full": every point of gap_mults (or gap_abs) on every seed of ``seeds``.
    grid "adaptive": the grid on the first seed; while its best point (test accuracy) is the top
    of the grid, the top is doubled (up to gap_mult_max), so the optimum ends up bracketed on both
    sides (gap 0 is always the lower end); then the best point and its two neighbours are trained
    on every claim seed, so the book can give the optimum's position relative to m0 with a spread.
    """
    p = cfg.p
    mw = dict(min_width_n=p["min_width_n"])
    for s in p["claim_seeds"]:
        _gap_pair(cfg, "sweep", s, **mw)

    def point(s, k):  # the row of gap k x m0 on seed s (None while collecting units still to train)
        base, disc = _gap_pair(cfg, "sweep", s, **mw)
        if k in (0, 1) or base is None:
            return base if k == 0 else disc
        m0 = base["train_mean_margin"]
        return fit_one(cfg, f"sweep_seed{s}_gapm0x{k:g}", seed=s, gap=float(k * max(m0, 0.0)), **mw,
                       extra=dict(gap_label=f"m0x{k:g}", gap_mult=float(k), m0=m0, variant="sweep"))

    if p["grid"] == "full":
        for s in p["seeds"]:
            base, _ = _gap_pair(cfg, "sweep", s, **mw)
            if base is None:
                continue
            m0 = base["train_mean_margin"]
            grid = [(f"m0x{k:g}", k * m0) for k in p["gap_mults"] if k != 1.0] if p["gap_mults"] else \
                   [(f"g{g:.3g}", g) for g in p["gap_abs"]]
            for label, g in grid:
                fit_one(cfg, f"sweep_seed{s}_gap{label}", seed=s, gap=float(g), min_width_n=p["min_width_n"],
                        extra=dict(gap_label=label, m0=m0, variant="sweep"))
        return
    s0 = p["seeds"][0]
    _gap_pair(cfg, "sweep", s0, **mw)
    mults = sorted({0.0, 1.0, *map(float, p["gap_mults"])})
    rows = {k: point(s0, k) for k in mults}
    while None not in rows.values() and max(rows, key=lambda k: rows[k]["test"]["acc"]) == mults[-1] \
            and 2 * mults[-1] <= p["gap_mult_max"]:
        mults.append(2 * mults[-1])
        rows[mults[-1]] = point(s0, mults[-1])
    if None in rows.values():
        return  # collecting: the rest of the grid depends on the points still to train
    i = mults.index(max(rows, key=lambda k: rows[k]["test"]["acc"]))
    for s in p["claim_seeds"]:
        for k in mults[max(i - 1, 0): i + 2]:
            point(s, k)


def _frozen_last_layer(cfg: Config) -> None:
    p = cfg.p
    for label, bkw, tkw in p["heads"]:
        # Heads that carry a claim (the poster's frozen head, the trainable head it is compared
        # with, the strong baseline): all claim seeds; the other variants: `seeds`.
        seeds = p["claim_seeds"] if label in CLAIM_HEADS else p["seeds"]
        for s in seeds:
            _gap_pair(cfg, _slug(label), s, labels=dict(head_label=label), build_kw=bkw, train_kw=tkw)


def _training_length(cfg: Config) -> None:
    """Gap 0 vs gap m0 (m0 of that length's gap-0 net) at several training lengths, per head.

    Does the discounted loss help generalisation, or only under-trained networks?  The lengths
    run from under-fit to (at the interp profile) interpolating; the longest is the profile's own
    length, whose networks are shared with the other experiments.  Seeds outermost, so a partial
    run already holds complete seeds.
    """
    p = cfg.p
    heads = {h[0]: h for h in p["heads"]}
    for s in p["claim_seeds"]:
        for e in p["lengths"]:
            for label in p["length_heads"]:
                _, bkw, tkw = heads[label]
                _gap_pair(cfg, f"{_slug(label)}_ep{e}", s, labels=dict(head_label=label, length_epochs=int(e)),
                          build_kw=bkw, train_kw=tkw, epochs=int(e))


def _architectures(cfg: Config) -> None:
    p = cfg.p
    for arch in p["archs"]:
        # claim 4 hinges on every architecture: arch_seeds for each; the main one also on claim_seeds.
        seeds = sorted(set(p["arch_seeds"]) | set(p["claim_seeds"])) if arch == p["arch"] else p["arch_seeds"]
        for s in seeds:
            _gap_pair(cfg, arch, s, arch=arch, width=p["arch_width"])


def size_epochs(n: int, steps: int, batch_size: int) -> int:
    """Epochs of ``n`` images in batches of ``batch_size`` that give at least ``steps`` optimiser steps."""
    return max(1, math.ceil(steps / (n // min(batch_size, n))))


def _check_data_size(p: dict, profile: str) -> None:
    from .train import check_seeds
    sizes, steps = p["sizes"], p["size_steps"]
    if not sizes or any(isinstance(n, bool) or int(n) != n or n < 2 for n in sizes) or list(sizes) != sorted(set(sizes)):
        raise ValueError(f"sizes must be increasing ints >= 2 (training-set sizes); got {sizes!r}")
    if not steps or len(steps) != len(sizes) or any(int(k) != k or k < 1 for k in steps):
        raise ValueError(f"size_steps must give positive optimiser steps for each of the {len(sizes)} sizes; "
                         f"got {steps!r}")
    check_seeds(p["size_seeds"], "size_seeds")
    if p["resample_seeds"]:
        check_seeds(p["resample_seeds"], "resample_seeds")
    labels = [h[0] for h in p["heads"]]
    bad = [h for h in (*p["size_heads"], *p["resample_heads"]) if h not in labels]
    if bad or not p["size_heads"]:
        raise ValueError(f"size_heads / resample_heads {bad or '(empty)'} must be heads of profile {profile!r}; "
                         f"heads: {', '.join(labels)}")
    if p["resample_n"] is not None and p["resample_n"] not in sizes:
        raise ValueError(f"resample_n {p['resample_n']!r} must be one of sizes {tuple(sizes)}")
    if int(p["size_max_doublings"]) != p["size_max_doublings"] or not 0 <= p["size_max_doublings"] <= 6:
        raise ValueError(f"size_max_doublings must be an int in [0, 6]; got {p['size_max_doublings']!r}")


def _data_size(cfg: Config) -> None:
    """Gap 0 vs gap m0 at several training-set sizes, in the interpolating regime (issue 19).

    Seed s trains on the class-balanced subset drawn with seed s (nested: a seed's 1k images are
    the first half of its 2k), so the intervals include data-sampling variance.  The length of a
    size is chosen on the first seed: its ``size_steps`` steps, doubled (up to
    ``size_max_doublings`` times) until that seed's gap-0 net reaches ``size_fit`` train accuracy;
    the other seeds train that long (their own train accuracy is in their rows).  Sizes run in
    the order given (smallest first), so a partial run already draws the figure.  At
    ``resample_n`` the seeds are ``resample_seeds`` and ``resample_heads`` are added: claim 1 and
    claim 3 with resampled subsets, beside the fixed-subset rows of the other experiments.
    """
    p = cfg.p
    heads = {h[0]: h for h in p["heads"]}

    def pair(n, label, s, ep, base_only=False):
        _, bkw, tkw = heads[label]
        steps = _steps(n, p["batch_size"], ep)
        return _gap_pair(cfg, f"size{n}_{_slug(label)}_ep{ep}", s, base_only=base_only, build_kw=bkw, train_kw=tkw,
                         epochs=ep, n_train=n, subset_seed=s,
                         labels=dict(head_label=label, size=int(n), subset_seed=int(s), size_epochs=int(ep),
                                     size_steps=int(steps)))

    for n, steps in zip(p["sizes"], p["size_steps"]):
        s0, head0 = p["size_seeds"][0], p["size_heads"][0]
        for d in range(int(p["size_max_doublings"]) + 1):  # the length probe, on the first seed
            ep = size_epochs(n, steps * 2 ** d, p["batch_size"])
            base, _ = pair(n, head0, s0, ep, base_only=True)
            if base is None or base["train_acc"] >= p["size_fit"]:
                break
        if base is None:
            continue  # collecting: the length depends on the probe unit still to train
        seeds = sorted(set(p["size_seeds"]) | (set(p["resample_seeds"]) if n == p["resample_n"] else set()))
        labels = list(dict.fromkeys([*p["size_heads"], *(p["resample_heads"] if n == p["resample_n"] else ())]))
        for s in seeds:
            for label in labels:
                pair(n, label, s, ep)


def member_seed(seed: int, t: int) -> int:
    """Seed of boosting member t (0-based) of run ``seed``: the first member is the run's gap-0
    (or gap-c) network itself, seeded like every other experiment's network of that seed; later
    members get 1000 (seed + 1) + t, which no other seed's members or first member use (for
    seed < 1000 and t < 1000), so the ensembles of different seeds share no network."""
    return seed if t == 0 else 1000 * (seed + 1) + t


def member_gap(rule: str, gaps: torch.Tensor, t: int, **params):
    """What member t trains with: ``gaps``, except that the first member of a rule with a constant
    c trains with c itself (a float64), not next_gaps' float32 copy of it -- so it is the very
    unit of the sweep's gap-m0 network (same key), not a near-copy trained twice."""
    if RULES[rule][0] and t == 0 and bool((gaps == gaps[0]).all()):
        return float(params["c"])
    return gaps


def _boosting(cfg: Config) -> None:
    """Each rule x seed: members trained in sequence (thesis Algorithm 1).

    Every member is a unit: member 1 of the rules whose initial gap is 0 (zero, the reverse rules,
    mean_margin) is the gap-0 network of that seed (shared with the other experiments), member 1
    of the constant rule is the sweep's gap-m0 network.  The constant c of the constant-gap rules
    is m0, the train mean margin of that gap-0 network.  Rows are per ensemble size; a resumed run
    rebuilds the ensemble metrics and the next gaps from the unit cache (or retrains a unit whose
    cache is gone).
    """
    p, st = cfg.p, cfg.store
    y_te = cfg.test_set.y
    for s in p["boost_seeds"]:
        for rule in p["rules"]:
            if all(st.has(f"{rule}_seed{s}_m{t + 1}") for t in range(p["members"])):
                continue  # finished
            const = RULES[rule][0]
            c = _boost_m0(cfg, s) if const else None
            if const and c is None:
                continue  # collecting: c is the m0 of a gap-0 unit still to train
            params = dict(c=c) if const else {}
            trained = []  # (unit row, outputs) of each member so far

            def train_member(t, gaps):  # one member = one unit; None while collecting
                unit, out = train_unit(cfg, seed=member_seed(s, t), gap=member_gap(rule, gaps, t, **params),
                                       need_outputs=True)
                if unit is not None:
                    # ensemble metrics from the float16 test logits that are committed: a chain resumed
                    # from runs/ (no cache), an uninterrupted one and a recomputation all agree exactly
                    trained.append((unit, dict(out, test_logits=out["test_logits"].half().float())))
                return None if out is None else out["train_margins"]

            for t, gaps, m in chain(rule, p["members"], len(cfg.train_set), train_member, **params):
                key = f"{rule}_seed{s}_m{t + 1}"
                unit, out = trained[t]
                if st.has(key):
                    continue
                st.put(key, dict(_common(cfg), seed=s, rule=rule, members=t + 1, c=params.get("c"),
                                 gap=dict(mean=float(gaps.double().mean()), std=float(gaps.double().std())),
                                 member_seed=member_seed(s, t), member_unit=unit["unit"],
                                 previous_member_unit=trained[t - 1][0]["unit"] if t else None,
                                 precision=unit.get("precision"),
                                 member_train_margin=margin_summary(m),
                                 member_train_acc=float((m > 0).double().mean()),
                                 member_test_acc=float((out["test_logits"].argmax(1) == y_te).double().mean()),
                                 member_wall_time_s=float(out["wall"]), shared_first_member=(t == 0),
                                 member_trained_on=out.get("trained_on", "unknown"),
                                 executor=unit.get("executor", "local"),
                                 test=evaluate_member_logits(torch.stack([o["test_logits"] for _, o in trained]), y_te),
                                 test_cal=calibration.cross_fit(calibration.ensemble_scores(np.stack(
                                     [o["test_logits"].double().numpy() for _, o in trained])), y_te.numpy()),
                                 arch=p["arch"], width=p["width"]))


def _common(cfg: Config) -> dict:
    p = cfg.p
    return dict(profile=cfg.profile, experiment=cfg.experiment, dataset=p["dataset"], split=p["split"],
                n_train=len(cfg.train_set), n_test=len(cfg.test_set), recipe=p["recipe"],
                recipe_version=RECIPES[p["recipe"]].get("version", 1), epochs=p["epochs"],
                batch_size=p["batch_size"], env=environment(cfg.device))


def _boost_m0(cfg: Config, seed: int) -> float | None:
    """c of the constant rules: m0, the train mean margin of the shared gap-0 first member (None
    while collecting, before that unit is trained)."""
    for r in cfg.store.rows():  # a finished constant-rule row already records it
        if r.get("seed") == seed and r.get("c") is not None:
            return float(r["c"])
    unit, _ = train_unit(cfg, seed=member_seed(seed, 0), gap=0.0)
    return None if unit is None else float(unit["train_mean_margin"])
