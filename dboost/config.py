"""The profiles: every size of every experiment at each scale, and which profile the book shows first.

A profile fixes every size (data, width, epochs, seeds, gaps, members) so that a run is
comparable to another run of the same profile.  Imports no torch: the pages, the summary and
``dboost.analysis`` read this module to draw a table.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from .registry import EXPERIMENTS

# Head variants of the "frozen last layer" figure.  Each is (label, build kw, train kw).
HEADS_FULL = [
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
_HEADS_SMALL = [h for h in HEADS_FULL if h[0] in ("freeze_last x1", "freeze_last x10", "Linear", "BN_Linear_BN",
                                                   "IN_Linear_tanh", "strong: Linear + LS0.1")]
_HEADS_INTERP = [h for h in HEADS_FULL if h[0] in ("freeze_last x10", "Linear", "strong: Linear + LS0.1")]
CLAIM_HEADS = ("freeze_last x10", "Linear", "strong: Linear + LS0.1")
LENGTH_HEADS = ("freeze_last x10", "strong: Linear + LS0.1")  # the poster's head and the strong baseline
_BOOST_RULES = ("zero", "constant", "save_mean_reverse", "zero_mean_reverse")
_BOOST_EXTRA = ("mean_margin", "constant_by_last", "constant_mean_cumulative")

# Every size of every profile.  gap_mults: gaps as multiples of the gap-0 model's train mean
# margin m0 (scale-free, so the same grid means the same thing at width 8 and at width 64);
# the paper profile uses the authors' absolute grid instead (20 gaps, log-spaced 0.1..250).
# Settings a profile leaves out take the defaults below (the profiles run before they existed).
@dataclass(frozen=True)
class Profile:
    """Every setting of one profile; validates itself on construction (one-line ValueErrors).

    Read like a mapping too (``p["epochs"]``): the experiments and the pages were written against
    the dicts this replaces.  What needs torch to check (the recipe, rule and compile names, the
    seeds' types) is checked by :func:`resolve`, so that building the profiles imports no torch.
    """
    name: str
    dataset: str
    n_train: int | None
    n_test: int | None
    arch: str
    width: int
    recipe: str
    epochs: int
    batch_size: int
    seeds: tuple
    claim_seeds: tuple
    arch_seeds: tuple
    boost_seeds: tuple
    gap_mults: tuple | None
    gap_abs: tuple | None
    heads: list                # (label, build kw, train kw) of each head variant
    archs: tuple
    arch_width: int
    members: int
    rules: tuple
    min_width_n: int
    description: str
    precision: str | None = None   # None: bf16 autocast on CUDA, fp32 on a CPU; "bf16"/"fp32" to fix it
    split: str = "standard"        # "standard": CIFAR's 50k/10k; "authors": their code's first 45k / last 5k of train
    grid: str = "full"             # "full": every gap_mults point on every `seeds`; "adaptive": see experiments.gap_sweep
    gap_mult_max: float = 64.0     # the adaptive grid doubles its top point while the best is there, up to this
    lengths: tuple | None = None   # training-length study: epochs per length (None: not part of the profile)
    length_heads: tuple = LENGTH_HEADS
    length_seeds: tuple | None = None  # its seeds (None: claim_seeds); its longest length shares claim 1's nets
    # data-size study (issue 19): training-set sizes, each with its own steps; seeds draw their own subset
    sizes: tuple | None = None     # training-set sizes (None: not part of the profile)
    size_steps: tuple | None = None  # optimiser steps to try first per size (doubled on seed 0 until gap 0 fits)
    size_seeds: tuple = (0, 1, 2)
    size_heads: tuple = ("freeze_last x10",)
    size_fit: float = 0.99         # "fits its training set": gap-0 train accuracy at least this
    size_max_doublings: int = 2
    resample_n: int | None = None  # at this size (the profile's n_train), resample_seeds and every size_head +
    resample_seeds: tuple = ()     # resample_heads: claim 1 and claim 3 with seeds that draw their own subset
    resample_heads: tuple = ()
    experiments: tuple = ("gap_sweep", "frozen_last_layer", "architectures", "boosting")
    # torch.compile mode of the trainer (dboost.runtime.COMPILE_MODES; False: eager).  A speed setting,
    # not part of a unit's key (like the executor); each unit row records the mode it trained with.
    compile: object = False
    threads: int | None = None     # CPU threads the runner fixes for this profile (None: torch's default)

    def __post_init__(self):
        for k in ("width", "arch_width", "epochs", "batch_size", "members", "min_width_n"):
            if int(self[k]) != self[k] or self[k] < 1:
                raise ValueError(f"{k} must be a positive int; got {self[k]!r}")
        for k in ("n_train", "n_test"):
            if self[k] is not None and (int(self[k]) != self[k] or self[k] < 1):
                raise ValueError(f"{k} must be a positive int or None; got {self[k]!r}")
        if self.precision not in (None, "bf16", "fp32"):
            raise ValueError(f"precision must be 'bf16', 'fp32' or None; got {self.precision!r}")
        if self.grid not in ("full", "adaptive"):
            raise ValueError(f"grid must be 'full' or 'adaptive'; got {self.grid!r}")
        if self.grid == "adaptive" and not self.gap_mults:
            raise ValueError("an adaptive grid needs gap_mults (multiples of m0); gap_abs grids are always full")
        if self.split not in ("standard", "authors"):
            raise ValueError(f"split must be 'standard' or 'authors'; got {self.split!r}")

    def __getitem__(self, key: str):
        if key not in SETTINGS:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default=None):
        return getattr(self, key) if key in SETTINGS else default

    def settings(self) -> dict:
        """Every setting by name (JSON-ready apart from tuples, which json writes as lists)."""
        return {k: getattr(self, k) for k in SETTINGS}


SETTINGS = tuple(f.name for f in fields(Profile) if f.name != "name")


def resolve(profile: str | Profile, overrides: dict | None = None, seeds=None) -> Profile:
    """The profile ``profile`` with ``overrides`` (``--set``, a worker's copy of its driver's) and, if
    given, ``seeds`` for every seed list -- validated, before any data is loaded or anything trains.

    The one place the CLI, the pages (papermill parameters) and the workers turn a profile name and
    settings into the settings a run uses.
    """
    from .rules import RULES
    from .recipes import RECIPES
    from .runtime import check_compile, check_seeds
    if isinstance(profile, str) or not isinstance(profile, Profile):
        if not isinstance(profile, str) or profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; known profiles: {', '.join(PROFILES)}")
        profile = PROFILES[profile]
    overrides = dict(overrides or {})
    for k in overrides:
        if k not in SETTINGS:
            raise ValueError(f"unknown profile setting {k!r}; settings: {', '.join(SETTINGS)}")
    if seeds is not None:
        overrides.update(dict.fromkeys(SEED_KEYS, check_seeds(seeds)))
    p = replace(profile, **overrides)
    if p.length_seeds is None:  # the training-length study runs on the claim seeds unless told otherwise
        p = replace(p, length_seeds=p.claim_seeds)
    for k in SEED_KEYS:
        check_seeds(p[k], k)
    if p.recipe not in RECIPES:
        raise ValueError(f"unknown recipe {p.recipe!r}; known: {', '.join(RECIPES)}")
    for r in p.rules:
        if r not in RULES:
            raise ValueError(f"unknown rule {r!r}; known: {', '.join(RULES)}")
    check_compile(p.compile)
    return p


_ALL_BUT_DATA_SIZE = tuple(e for e in EXPERIMENTS if e != "data_size")

_SETTINGS: dict[str, dict] = {
    "smoke": dict(dataset="synthetic", n_train=500, n_test=250, arch="resnet9", width=4, recipe="fast", epochs=2,
                  batch_size=50, seeds=(0,), claim_seeds=(0,), arch_seeds=(0,), boost_seeds=(0,),
                  gap_mults=(0.25, 1.0, 4.0), gap_abs=None,
                  heads=[h for h in _HEADS_SMALL if h[0] in ("freeze_last x10", "Linear", "strong: Linear + LS0.1")],
                  archs=("resnet9", "resnet18", "vgg16", "wide_resnet"), arch_width=4, members=3,
                  rules=_BOOST_RULES + ("constant_by_last",), min_width_n=32, lengths=(1, 2, 3, 4),
                  sizes=(100, 250, 500), size_steps=(20, 20, 20), size_seeds=(0, 1), size_max_doublings=0,
                  size_fit=0.0, resample_n=250, resample_seeds=(0, 1, 2), resample_heads=("Linear",),
                  experiments=EXPERIMENTS, threads=1, description="synthetic data, tiny nets: "
                  "checks the pipeline, says nothing about the claims"),
    # cpu: from ../shared/design/cpu-scale-notes.md -- optimiser steps matter more than data at this
    # scale, so a 5k subset with batch 100 (1,200 steps) beats 10k images with fewer steps; ~2 min per model.
    "cpu": dict(dataset="cifar10", n_train=5_000, n_test=None, arch="resnet9", width=16, recipe="fast", epochs=24,
                batch_size=100, seeds=(0,), claim_seeds=(0, 1, 2), arch_seeds=(0, 1, 2), boost_seeds=(0, 1, 2),
                gap_mults=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0),
                gap_abs=None, heads=_HEADS_SMALL, archs=("resnet9", "resnet18", "vgg16", "wide_resnet"), arch_width=16,
                members=4, rules=_BOOST_RULES, min_width_n=256,
                description="real CIFAR-10, 5k training subset, width 16, 24 epochs of batch 100, 3 seeds "
                "wherever a claim hinges on it; does NOT fit its training data (the regime line gives its rows' "
                "train accuracy)"),
    # interp: the poster's regime (the gap-0 net fits its training set) on 2 CPU cores.  Sized from the
    # measured probe in ../shared/design/cpu-scale-notes.md ("Second probe"): a class-balanced 2k subset
    # and 3,000 optimiser steps (150 epochs of batch 100) took the gap-0 frozen-x10 ResNet9 (width 16,
    # bf16) to train accuracy 0.998 with m0 = 12.8, where 1,200 steps reached only 0.861.  bf16 autocast
    # because the CPU that sized it has native bf16 (1.5-2x fp32, benchmarks/README.md); every arm uses it.
    # Without native bf16 (an Intel Xeon with AVX-512 but no avx512_bf16/AMX) oneDNN emulates it and a
    # step takes about twice as long as in fp32 -- the rows record the CPU (env.hardware): compare wall
    # times only between rows of one CPU model.
    # Five paired seeds for every headline comparison (issue 17); the training-length study's shorter
    # lengths keep three (its longest length is claim 1's networks, on all five).
    "interp": dict(dataset="cifar10", n_train=2_000, n_test=None, arch="resnet9", width=16, recipe="fast", epochs=150,
                   batch_size=100, precision="bf16", seeds=(0,), claim_seeds=(0, 1, 2, 3, 4), arch_seeds=(0,),
                   boost_seeds=(0, 1, 2, 3, 4), gap_mults=(0.25, 0.5, 2.0, 4.0), grid="adaptive", gap_abs=None,
                   heads=_HEADS_INTERP, archs=("resnet9",), arch_width=16, members=5, rules=_BOOST_RULES,
                   min_width_n=256, lengths=(15, 30, 60, 150), length_seeds=(0, 1, 2),
                   # data-size study: 3,000 steps fit 2k images (the probe above); larger sets get more
                   # steps to start with, and seed 0 doubles them until its gap-0 net fits (size_fit).
                   # Measured probes (seed 0, gap 0; the rows keep them): 1k fits in 2,000 steps (train acc
                   # 1.000; 500 images start from the same 2,000, 400 epochs); 5k reached 0.965 in 5,000
                   # steps (100 epochs) and 0.996 in 10,000 (200 epochs); 10k reached 0.928 in 8,000 (80
                   # epochs), so it doubles on.  Smallest first: the figure exists early, 10k lands last.
                   sizes=(500, 1_000, 2_000, 5_000, 10_000), size_steps=(2_000, 2_000, 3_000, 5_000, 8_000),
                   resample_n=2_000, resample_seeds=(0, 1, 2, 3, 4), resample_heads=("Linear",),
                   experiments=("gap_sweep", "frozen_last_layer", "training_length", "boosting", "data_size"),
                   description="the poster's regime in one respect, its gap-0 nets fit their training set, on a CPU: real CIFAR-10, class-balanced 2k training subset, "
                   "full 10k test set, width 16, 150 epochs of batch 100 (3,000 steps, long enough for every gap-0 net to "
                   "fit its training set: the regime line gives the rows' train accuracy and m0), bf16, 5 paired seeds "
                   "declared per claim and per boosting chain (3 for the training-length study's shorter lengths; "
                   "each cell's n says how many have landed)"),
    "gpu": dict(dataset="cifar10", n_train=None, n_test=None, arch="resnet9", width=64, recipe="fast", epochs=10,
                batch_size=500, seeds=(0,), claim_seeds=(0, 1, 2), arch_seeds=(0, 1, 2), boost_seeds=(0, 1, 2),
                # adaptive: the first grid (stored rows) peaked at its top, 4 x m0 -- so the grid grows
                # until the optimum is bracketed, then its neighbours run on all claim seeds
                gap_mults=(0.25, 0.5, 1.0, 2.0, 4.0), grid="adaptive",
                gap_abs=None, heads=_HEADS_SMALL, archs=("resnet9", "resnet18", "vgg16", "wide_resnet"), arch_width=64,
                members=5, rules=_BOOST_RULES + _BOOST_EXTRA, min_width_n=500, lengths=(5, 10, 20, 40),
                # no data_size: its sizes are the interp regime's (width 16), run there (`--set sizes=...`)
                experiments=_ALL_BUT_DATA_SIZE,
                description="full CIFAR-10, width 64, fast recipe (10 epochs), made for one GPU"),
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
                  gap_abs=tuple(float(g) for g in np.geomspace(0.1, 250, 20)), heads=HEADS_FULL,
                  archs=("resnet9", "resnet18", "vgg16", "wide_resnet"), arch_width=64, members=15,
                  rules=_BOOST_RULES + _BOOST_EXTRA, min_width_n=1000, lengths=(10, 25, 50, 100),
                  experiments=_ALL_BUT_DATA_SIZE,
                  description="the authors' recipe at full scale (50 epochs, 20 gaps, 15 members)"),
}
# The authors' own protocol: their code trains on the first 45k training images and reports "test"
# on the last 5k *training* images (spec, "Checked against the authors' published code").  A profile
# of its own, so its rows never mix with the standard split's; every row records split="authors".
_SETTINGS["paper_authors"] = dict(_SETTINGS["paper"], split="authors", description="the paper profile on the "
                                  "authors' code's split: train on the first 45k CIFAR-10 training images, "
                                  "'test' on the last 5k training images (not the CIFAR-10 test set)")
PROFILES: dict[str, Profile] = {name: Profile(name=name, **kw) for name, kw in _SETTINGS.items()}
# Which profile a page shows when several have rows: the poster's regime first (paper, full and interp
# fit their training data, gpu and cpu do not), then scale -- the order the summary's headline uses too.
PROFILE_RANK = ("paper", "full", "interp", "gpu", "cpu", "paper_authors", "smoke")
# Seed lists of a profile: the gap grid and other heads, the paired claims, claim 4 (architectures), claim 5
# (boosting), question T (training length).
SEED_KEYS = ("seeds", "claim_seeds", "arch_seeds", "boost_seeds", "length_seeds")  # best first: the book shows the best available

# ----------------------------------------------------------------------------- the setup page's table

TABLE_PROFILES = ("smoke", "interp", "cpu", "gpu", "paper")  # the columns of book/setup.md's table
_TABLE_START = "<!-- profile table: generated from dboost/config.py by `python -m dboost.config --write-setup`; do not edit -->"
_TABLE_END = "<!-- end of the profile table -->"


def _gaps_cell(p: Profile) -> str:
    if not p.gap_mults:
        return f"m0, and {len(p.gap_abs)} gaps log-spaced {min(p.gap_abs):g} … {max(p.gap_abs):g}"
    cell = ", ".join(f"{k:g}" for k in p.gap_mults) + " × m0" + ("" if 1.0 in p.gap_mults else " and m0")
    return cell + ("; top doubled while best (adaptive)" if p.grid == "adaptive" else "")


def profile_table(names=TABLE_PROFILES) -> str:
    """book/setup.md's table of the profiles' settings (Markdown), from the profiles themselves."""
    ps = [PROFILES[n] for n in names]
    cifar = lambda p: p.dataset == "cifar10"  # noqa: E731
    seeds = lambda s: ", ".join(map(str, s))  # noqa: E731
    rows = {
        "data": [("CIFAR-10" if cifar(p) else p.dataset) for p in ps],
        "training images": [f"{p.n_train or 50_000:,}" + (" (balanced subset)" if cifar(p) and p.n_train else "")
                            for p in ps],
        "test images": [f"{p.n_test or 10_000:,}" for p in ps],
        "ResNet9 width": [str(p.width) for p in ps],
        "recipe": [f"`{p.recipe}`" for p in ps],
        "epochs": [str(p.epochs) for p in ps],
        "batch size": [str(p.batch_size) for p in ps],
        "grid seeds": [seeds(p.seeds) for p in ps],
        "claim seeds (paired)": [seeds(p.claim_seeds) for p in ps],
        "architecture seeds": [seeds(p.arch_seeds) for p in ps],
        "boosting seeds": [seeds(p.boost_seeds) for p in ps],
        "gaps (besides 0)": [_gaps_cell(p) for p in ps],
        "head variants": [str(len(p.heads)) for p in ps],
        "architectures (width)": [f"{len(p.archs)} (w = {p.arch_width}"
                                  + ("" if "architectures" in p.experiments else "; study not run") + ")" for p in ps],
        "boosting members": [str(p.members) for p in ps],
        "boosting rules": [str(len(p.rules)) for p in ps],
        "minimum-width samples": [f"{p.min_width_n:,}" for p in ps],
        # the profiles without a subset are GPU profiles: bf16 is the trainer's CUDA default
        "precision": [p.precision or ("bf16 (CUDA default)" if p.n_train is None else "fp32 (CPU default)") for p in ps],
        "training lengths (epochs)": [seeds(p.lengths) if p.lengths else "–" for p in ps],
        "training-length seeds": [seeds(resolve(p).length_seeds) if p.lengths else "–" for p in ps],
    }
    lines = ["| setting | " + " | ".join(f"`{n}`" for n in names) + " |", "| --- " * (len(names) + 1) + "|"]
    lines += [f"| {k} | " + " | ".join(v) + " |" for k, v in rows.items()]
    return "\n".join(lines)


def setup_page_with_table(text: str) -> str:
    """``text`` (book/setup.md) with the generated table between its markers."""
    if text.count(_TABLE_START) != 1 or text.count(_TABLE_END) != 1:
        raise ValueError("book/setup.md must hold the profile table's start and end markers once each")
    head, rest = text.split(_TABLE_START)
    _, tail = rest.split(_TABLE_END)
    return f"{head}{_TABLE_START}\n\n{profile_table()}\n\n{_TABLE_END}{tail}"


if __name__ == "__main__":
    import sys
    from pathlib import Path
    if sys.argv[1:] != ["--write-setup"]:
        raise SystemExit("usage: python -m dboost.config --write-setup   (rewrites book/setup.md's profile table)")
    page = Path(__file__).resolve().parents[1] / "book" / "setup.md"
    new = setup_page_with_table(page.read_text())
    if new != page.read_text():
        page.write_text(new)
    print(f"{page}: profile table up to date")
