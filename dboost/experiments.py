"""The four experiments of the poster, at four scales ("profiles"), resumable per trained model.

Each notebook in ``book/notebooks`` is a thin wrapper around one function here::

    cfg = experiments.configure("gap_sweep", profile="cpu", device="cuda")   # validates, loads data
    df  = experiments.run(cfg)                                                # trains what is missing

A profile fixes every size (data, width, epochs, seeds, gaps, members) so that a run is
comparable to another run of the same profile.  Rows land in ``runs/<profile>/<experiment>/``
one trained model at a time (see :mod:`dboost.results`); rerunning skips finished rows.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from . import data as data_mod
from .loss import margins
from .metrics import evaluate, evaluate_member_logits, margin_summary, min_width
from .models import build
from .results import Store, environment
from .rules import RULES, next_gaps
from .train import RECIPES, predict_logits, train

EXPERIMENTS = ("gap_sweep", "frozen_last_layer", "architectures", "boosting")

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
_BOOST_RULES = ("zero", "constant", "save_mean_reverse", "zero_mean_reverse")
_BOOST_EXTRA = ("mean_margin", "constant_by_last", "constant_mean_cumulative")

# Every size of every profile.  gap_mults: gaps as multiples of the gap-0 model's train mean
# margin m0 (scale-free, so the same grid means the same thing at width 8 and at width 64);
# the paper profile uses the authors' absolute grid instead (20 gaps, log-spaced 0.1..250).
PROFILES: dict[str, dict] = {
    "smoke": dict(dataset="synthetic", n_train=500, n_test=250, arch="resnet9", width=4, recipe="fast", epochs=2,
                  batch_size=50, seeds=(0,), claim_seeds=(0,), arch_seeds=(0,), boost_seeds=(0,),
                  gap_mults=(0.25, 1.0, 4.0), gap_abs=None,
                  heads=[h for h in _HEADS_SMALL if h[0] in ("freeze_last x10", "Linear", "strong: Linear + LS0.1")],
                  archs=("resnet9", "resnet18", "vgg16", "wide_resnet"), arch_width=4, members=3,
                  rules=_BOOST_RULES + ("constant_by_last",), min_width_n=32, description="synthetic data, seconds on a CPU: "
                  "checks the pipeline, says nothing about the claims"),
    # cpu: from ../shared/design/cpu-scale-notes.md -- optimiser steps matter more than data at this
    # scale, so a 5k subset with batch 100 (1,200 steps) beats 10k images with fewer steps; ~2 min per model.
    "cpu": dict(dataset="cifar10", n_train=5_000, n_test=None, arch="resnet9", width=16, recipe="fast", epochs=24,
                batch_size=100, seeds=(0,), claim_seeds=(0, 1, 2), arch_seeds=(0, 1, 2), boost_seeds=(0, 1, 2),
                gap_mults=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0),
                gap_abs=None, heads=_HEADS_SMALL, archs=("resnet9", "resnet18", "vgg16", "wide_resnet"), arch_width=16,
                members=4, rules=_BOOST_RULES, min_width_n=256,
                description="real CIFAR-10, 5k training subset, width 16, 24 epochs of batch 100, 3 seeds "
                "wherever a claim hinges on it: 99 models, about 4 h on 2 CPU cores"),
    "gpu": dict(dataset="cifar10", n_train=None, n_test=None, arch="resnet9", width=64, recipe="fast", epochs=10,
                batch_size=500, seeds=(0,), claim_seeds=(0, 1, 2), arch_seeds=(0,), boost_seeds=(0,),
                gap_mults=(0.25, 0.5, 1.0, 2.0, 4.0),
                gap_abs=None, heads=_HEADS_SMALL, archs=("resnet9", "resnet18", "vgg16", "wide_resnet"), arch_width=64,
                members=5, rules=_BOOST_RULES + _BOOST_EXTRA, min_width_n=500,
                description="full CIFAR-10, width 64, fast recipe (10 epochs): ~10 min per experiment on one H100"),
    "paper": dict(dataset="cifar10", n_train=None, n_test=None, arch="resnet9", width=64, recipe="authors", epochs=50,
                  batch_size=500, seeds=(0,), claim_seeds=(0, 1, 2), arch_seeds=(0, 1, 2),
                  boost_seeds=(0, 1, 2), gap_mults=None,
                  gap_abs=tuple(float(g) for g in np.geomspace(0.1, 250, 20)), heads=_HEADS_FULL,
                  archs=("resnet9", "resnet18", "vgg16", "wide_resnet"), arch_width=64, members=15,
                  rules=_BOOST_RULES + _BOOST_EXTRA, min_width_n=1000,
                  description="the authors' recipe at full scale (50 epochs, 20 gaps, 15 members): GPU-hours"),
}
PROFILE_RANK = ("paper", "gpu", "cpu", "smoke")
# Seed lists of a profile: the gap grid and other heads, the paired claims, claim 3, claim 4.
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


def configure(experiment: str, profile: str = "smoke", device=None, seeds=None, data_root=None, progress: bool = True,
              **overrides) -> Config:
    """Validate everything and load the data -- before any training and before any write."""
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; known: {', '.join(EXPERIMENTS)}")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known profiles: {', '.join(PROFILES)}")
    p = dict(PROFILES[profile])
    for k, v in overrides.items():
        if k not in p:
            raise ValueError(f"unknown profile setting {k!r}; settings: {', '.join(p)}")
        p[k] = v
    if seeds is not None:
        seeds = tuple(int(s) for s in ([seeds] if isinstance(seeds, int) else seeds))
        p.update(dict.fromkeys(SEED_KEYS, seeds))
    for k in ("width", "arch_width", "epochs", "batch_size", "members", "min_width_n"):
        if int(p[k]) != p[k] or p[k] < 1:
            raise ValueError(f"{k} must be a positive int; got {p[k]!r}")
    for k in ("n_train", "n_test"):
        if p[k] is not None and (int(p[k]) != p[k] or p[k] < 1):
            raise ValueError(f"{k} must be a positive int or None; got {p[k]!r}")
    if not all(p[k] for k in SEED_KEYS) or any(s < 0 for k in SEED_KEYS for s in p[k]):
        raise ValueError("seeds must be a non-empty list of non-negative ints")
    if p["recipe"] not in RECIPES:
        raise ValueError(f"unknown recipe {p['recipe']!r}; known: {', '.join(RECIPES)}")
    for r in p["rules"]:
        if r not in RULES:
            raise ValueError(f"unknown rule {r!r}; known: {', '.join(RULES)}")
    dev = str(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dev.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but torch sees no CUDA device")
    if p["dataset"] == "synthetic":
        tr, te = data_mod.synthetic(p["n_train"], p["n_test"], seed=0)
    else:
        tr, te = data_mod.load(p["dataset"], root=data_root)
        tr, te = tr.subset(p["n_train"], seed=0), te.subset(p["n_test"], seed=0)
    return Config(experiment, profile, p, dev, tr, te, Store(profile, experiment), progress)


def run(cfg: Config):
    """Run (or resume) the configured experiment; returns its rows as a pandas DataFrame."""
    import pandas as pd
    t0 = time.perf_counter()
    {"gap_sweep": _gap_sweep, "frozen_last_layer": _frozen_last_layer, "architectures": _architectures,
     "boosting": _boosting}[cfg.experiment](cfg)
    rows = [r for r in cfg.store.rows() if r.get("profile") == cfg.profile]
    df = pd.json_normalize(rows, sep="_")
    df.attrs["run_wall_time_s"] = time.perf_counter() - t0
    return df


# ----------------------------------------------------------------------------- one model

def _common(cfg: Config) -> dict:
    p = cfg.p
    return dict(profile=cfg.profile, experiment=cfg.experiment, dataset=p["dataset"], n_train=len(cfg.train_set),
                n_test=len(cfg.test_set), recipe=p["recipe"], epochs=p["epochs"], batch_size=p["batch_size"],
                env=environment(cfg.device))


def fit_one(cfg: Config, key: str, *, seed: int, gap=0.0, arch=None, width=None, build_kw=None, train_kw=None,
            min_width_n: int | None = None, extra=None) -> dict:
    """Train one model (unless its row exists), evaluate it, store the row; return the row."""
    row = cfg.store.get(key)
    if row is not None:
        return row
    p = cfg.p
    arch, width = arch or p["arch"], width or p["width"]
    torch.manual_seed(seed)  # the model's init (head first: see dboost.models)
    model = build(arch, num_classes=cfg.train_set.num_classes, width=width, **(build_kw or {}))
    rec = train(model, cfg.train_set, recipe=p["recipe"], epochs=p["epochs"], batch_size=p["batch_size"], gaps=gap,
                device=cfg.device, seed=seed, progress=cfg.progress, **(train_kw or {}))
    t_eval = time.perf_counter()
    tr_logits = predict_logits(model, cfg.train_set, device=cfg.device)
    m = margins(tr_logits, cfg.train_set.y)
    g = gap if isinstance(gap, (int, float)) else float(torch.as_tensor(gap).double().mean())
    row = dict(_common(cfg), key=key, seed=seed, arch=arch, width=width, model=model.config, gap=float(g),
               train_kw=train_kw or {}, train_acc=float((tr_logits.argmax(1) == cfg.train_set.y).double().mean()),
               train_margin=margin_summary(m), train_mean_margin=float(m.double().mean()),
               test=evaluate(model, cfg.test_set, device=cfg.device), train_loss_last=rec["losses"][-1],
               train_wall_time_s=rec["wall_time_s"], images_per_s=rec["images_per_s"], **(extra or {}))
    if min_width_n:
        row["min_width"] = min_width(model, cfg.train_set, n=min(min_width_n, len(cfg.train_set)), device=cfg.device)
    row["eval_wall_time_s"] = time.perf_counter() - t_eval
    cfg.store.put(key, row)
    return row


def _gap_pair(cfg: Config, prefix: str, seed: int, labels: dict | None = None, **kw) -> tuple[dict, dict]:
    """The paired comparison: gap 0, then gap = the train mean margin m0 of that gap-0 model."""
    labels = dict(labels or {}, variant=prefix)
    base = fit_one(cfg, f"{prefix}_seed{seed}_gap0", seed=seed, gap=0.0, extra=dict(labels, gap_label="0"), **kw)
    m0 = base["train_mean_margin"]
    disc = fit_one(cfg, f"{prefix}_seed{seed}_gapm0", seed=seed, gap=max(m0, 0.0),
                   extra=dict(labels, gap_label="m0", m0=m0), **kw)
    return base, disc


# ----------------------------------------------------------------------------- experiments

def _gap_sweep(cfg: Config) -> None:
    p = cfg.p
    # The claim (gap = m0 beats gap 0) on claim_seeds; the full grid on seeds.
    for s in p["claim_seeds"]:
        _gap_pair(cfg, "sweep", s, min_width_n=p["min_width_n"])
    for s in p["seeds"]:
        m0 = cfg.store.get(f"sweep_seed{s}_gap0")["train_mean_margin"]
        grid = [(f"m0x{k:g}", k * m0) for k in p["gap_mults"] if k != 1.0] if p["gap_mults"] else \
               [(f"g{g:.3g}", g) for g in p["gap_abs"]]
        for label, g in grid:
            fit_one(cfg, f"sweep_seed{s}_gap{label}", seed=s, gap=float(g), min_width_n=p["min_width_n"],
                    extra=dict(gap_label=label, m0=m0, variant="sweep"))


def _frozen_last_layer(cfg: Config) -> None:
    p = cfg.p
    for label, bkw, tkw in p["heads"]:
        # The frozen poster head and the strong baseline carry claims: all claim seeds.
        seeds = p["claim_seeds"] if label in ("freeze_last x10", "strong: Linear + LS0.1") else p["seeds"]
        slug = label.replace(" ", "").replace(":", "").replace("+", "_")
        for s in seeds:
            _gap_pair(cfg, slug, s, labels=dict(head_label=label), build_kw=bkw, train_kw=tkw)


def _architectures(cfg: Config) -> None:
    p = cfg.p
    for arch in p["archs"]:
        # claim 3 hinges on every architecture: arch_seeds for each; the main one also on claim_seeds.
        seeds = sorted(set(p["arch_seeds"]) | set(p["claim_seeds"])) if arch == p["arch"] else p["arch_seeds"]
        for s in seeds:
            _gap_pair(cfg, arch, s, arch=arch, width=p["arch_width"])


def _boosting(cfg: Config) -> None:
    """Each rule x seed: members trained in sequence (thesis Algorithm 1).

    Member 1 of every rule whose initial gap is 0 (zero, the reverse rules, mean_margin) is the
    same model -- gap 0, same seed -- so it is trained once and shared.  The constant c of the
    constant-gap rules is m0, the train mean margin of that shared gap-0 member.
    Only member outputs are cached (test logits, train margins), so a resumed run rebuilds the
    ensemble metrics and the next gaps without keeping any model.
    """
    p, st = cfg.p, cfg.store
    y_te = cfg.test_set.y
    for s in p["boost_seeds"]:
        shared = f"member1_gap0_seed{s}"
        for rule in p["rules"]:
            if all(st.has(f"{rule}_seed{s}_m{t + 1}") for t in range(p["members"])):
                continue  # finished: no member outputs needed (the cache is not committed)
            const = RULES[rule][0]
            params = dict(c=_boost_m0(cfg, s)) if const else {}
            history, test_logits = [], []
            for t in range(p["members"]):
                key = f"{rule}_seed{s}_m{t + 1}"
                gaps = next_gaps(rule, history, n=len(cfg.train_set), **params)
                mkey = shared if (t == 0 and not const) else key
                out = _member(cfg, mkey, 1000 * s + t, gaps)
                history.append(out["train_margins"])
                test_logits.append(out["test_logits"])
                if st.has(key):
                    continue
                st.put(key, dict(_common(cfg), seed=s, rule=rule, members=t + 1, c=params.get("c"),
                                 gap=dict(mean=float(gaps.double().mean()), std=float(gaps.double().std())),
                                 member_train_margin=margin_summary(history[-1]),
                                 member_train_acc=float((history[-1] > 0).double().mean()),
                                 member_test_acc=float((test_logits[-1].argmax(1) == y_te).double().mean()),
                                 member_wall_time_s=float(out["wall"]), shared_first_member=(mkey == shared),
                                 member_trained_on=out.get("trained_on", "unknown"),
                                 test=evaluate_member_logits(torch.stack(test_logits), y_te),
                                 arch=p["arch"], width=p["width"]))


def _member(cfg: Config, key: str, seed: int, gaps: torch.Tensor) -> dict:
    """One boosting member's outputs (test logits, train margins), trained unless cached."""
    out = cfg.store.load_tensors(key)
    if out is None:
        p = cfg.p
        torch.manual_seed(seed)
        model = build(p["arch"], num_classes=cfg.train_set.num_classes, width=p["width"])
        rec = train(model, cfg.train_set, recipe=p["recipe"], epochs=p["epochs"], batch_size=p["batch_size"],
                    gaps=gaps, device=cfg.device, seed=seed, progress=cfg.progress)
        e = environment(cfg.device)
        out = dict(test_logits=predict_logits(model, cfg.test_set, device=cfg.device),
                   train_margins=margins(predict_logits(model, cfg.train_set, device=cfg.device), cfg.train_set.y),
                   wall=torch.tensor(rec["wall_time_s"]),
                   trained_on=f"{e['hardware']} ({e['device']}), torch {e['torch']}, commit {e['git_commit']}")
        cfg.store.save_tensors(key, **out)
    return out


def _boost_m0(cfg: Config, seed: int) -> float:
    """c of the constant rules: m0, the train mean margin of the shared gap-0 first member."""
    for r in cfg.store.rows():  # a finished constant-rule row already records it (the cache may be gone)
        if r.get("seed") == seed and r.get("c") is not None:
            return float(r["c"])
    first = _member(cfg, f"member1_gap0_seed{seed}", 1000 * seed, torch.zeros(len(cfg.train_set)))
    return float(first["train_margins"].double().mean())
