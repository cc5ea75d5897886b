"""Units: one trained network each, keyed by its complete training configuration.

A unit's configuration (data, subset, architecture, width, head, recipe and its version and
overrides, epochs, batch, precision, gap or per-sample gaps, seed) is hashed into its key.  Units
live in ``runs/<profile>/units/`` and are trained once: the gap-0 frozen-x10 ResNet9 of seed s is
the same unit in the gap sweep, the head study, the architecture study, the training-length
study and as boosting's first member.  Experiment rows copy their unit's row and add their own
labels (:func:`experiment_row`).  (Profiles run before units existed -- smoke, cpu, gpu -- keep their
rows; a finished row is never retrained.)

One unit's steps, in order: :func:`unit_spec` (its key: nothing read or trained),
:func:`stored_unit` (what the store has of it), :func:`measure_unit` (train and evaluate it,
writing nothing), :func:`store_unit` (write it); :func:`obtain_unit` is "stored, else measured
and stored", and :func:`get_unit` is all of that from the settings alone.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

import torch

from .. import calibration
from ..loss import margins
from ..metrics import evaluate_scores, margin_summary
from ..probes import logged_style_mean_margin, min_width
from ..models import build
from ..results import Store, environment
from ..recipes import RECIPES
from ..train import predict_logits, train
from .configure import Config

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


def unit_spec(cfg: Config, *, seed: int, gap=0.0, arch=None, width=None, build_kw=None, train_kw=None,
              epochs=None, min_width_n: int | None = None, n_train: int | None = None,
              subset_seed: int = 0) -> UnitSpec:
    """The unit trained with these settings (its key and configuration); nothing is read or trained."""
    p = cfg.p
    arch, width = arch or p["arch"], width or p["width"]
    g, gdesc = _gap_spec(gap)
    ucfg = unit_config(cfg, seed=seed, gap_desc=gdesc, arch=arch, width=width, build_kw=build_kw,
                       train_kw=train_kw, epochs=epochs, n_train=n_train, subset_seed=subset_seed)
    return UnitSpec(unit_key(ucfg), cfg.profile, cfg.experiment, dict(cfg.overrides), ucfg, g, dict(train_kw or {}),
                    min_width_n)


def stored_unit(cfg: Config, spec: UnitSpec, need_outputs: bool = False) -> tuple[dict, dict | None] | None:
    """(row, outputs) of ``spec`` as the store has them, or None where the unit has to be trained.

    Outputs (test logits, train margins, ...) are read only if ``need_outputs`` or if the unit's
    row lacks the ``min_width`` asked for (``spec.min_width_n``: measured from the cached weights,
    no retraining).  They come from the unit cache (``runs/<profile>/units/cache/``, not
    committed), else from the committed outputs (test logits and train margins: what a boosting
    chain needs, so a fresh clone resumes it on any machine without retraining).  Where the
    outputs needed are in neither, the unit is retrained (deterministically on a CPU at a fixed
    thread count) and its committed row is kept.
    """
    row = cfg.units.get(spec.key)
    if row is None:
        return None
    wants_width = bool(spec.min_width_n) and row.get("min_width") is None
    if not need_outputs and not wants_width:
        return row, None
    out = cfg.units.load_tensors(spec.key)
    if out is None and not wants_width:
        saved = cfg.units.load_outputs(spec.key)
        if saved is not None:
            out = dict(saved, wall=torch.tensor(row["train_wall_time_s"]),
                       trained_on=f"{row['env'].get('hardware')} ({row['env'].get('device')}), torch "
                                  f"{row['env'].get('torch')}, commit {row['env'].get('git_commit')}")
    return None if out is None else (row, out)


def obtain_unit(cfg: Config, spec: UnitSpec, stored: tuple[dict, dict | None] | None) -> tuple[dict, dict | None]:
    """The unit ``spec``: ``stored`` (:func:`stored_unit`), or trained here and stored where that is None;
    a ``min_width`` asked for and not in its row is added from the weights."""
    if stored is None:
        new_row, out = measure_unit(cfg, spec)
        row = store_unit(cfg.units, new_row, out)
    else:
        row, out = stored
    if spec.min_width_n and row.get("min_width") is None:  # asked for by a later experiment
        ucfg = spec.config
        model = build(ucfg["arch"], num_classes=cfg.train_set.num_classes, width=ucfg["width"], **ucfg["head"])
        model.load_state_dict(out["state"])
        tr = cfg.train_for(ucfg)
        n = min(spec.min_width_n, len(tr))
        row = dict(row, min_width=min_width(model, tr, n=n, device=cfg.device), min_width_n=n)
        cfg.units.put(spec.key, {k: v for k, v in row.items() if k not in ("key", "finished_at")})
        row = cfg.units.get(spec.key)
    return row, out


def get_unit(cfg: Config, *, need_outputs: bool = False, **kw) -> tuple[dict, dict | None]:
    """The row of one network (trained here unless its unit is stored) and, if ``need_outputs``,
    its outputs (:func:`stored_unit`).  ``kw``: :func:`unit_spec`'s settings."""
    spec = unit_spec(cfg, **kw)
    return obtain_unit(cfg, spec, stored_unit(cfg, spec, need_outputs))


def store_unit(units: Store, row: dict, out: dict) -> dict:
    """Save a trained unit's outputs and, unless the unit already has a (committed) row, its row."""
    units.save_tensors(row["unit"], **out)
    units.save_outputs(row["unit"], out["test_logits"], out["train_margins"])
    if units.get(row["unit"]) is None:  # a committed row stays as it is
        units.put(row["unit"], row)
    units.drop_checkpoint(row["unit"])
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
                compile=p["compile"], checkpoint=cfg.units.checkpoint_path(spec.key), **spec.train_kw)
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
               # more than one where a kill or a session's end interrupted the training and it resumed
               train_segments=rec["segments"],
               env=e, executor=cfg.executor, worker_host=socket.gethostname())
    if spec.min_width_n:
        n = min(spec.min_width_n, len(train_set))
        row.update(min_width=min_width(model, train_set, n=n, device=cfg.device), min_width_n=n)
    row["eval_wall_time_s"] = time.perf_counter() - t_eval
    return row, out


# ----------------------------------------------------------------------------- one experiment row

def experiment_row(cfg: Config, key: str, unit: dict, extra: dict | None = None) -> dict:
    """Write and return the row ``key`` of this experiment: the unit's row (less its key, its
    finishing time and its configuration) plus the experiment's labels ``extra``."""
    row = {k: v for k, v in unit.items() if k not in ("key", "finished_at", "config")}
    row.update(experiment=cfg.experiment, unit_finished_at=unit.get("finished_at"), **(extra or {}))
    cfg.store.put(key, row)
    return row


def common(cfg: Config) -> dict:
    """The fields every experiment row of ``cfg`` carries (for rows that are not one unit's, e.g. an ensemble's)."""
    p = cfg.p
    return dict(profile=cfg.profile, experiment=cfg.experiment, dataset=p["dataset"], split=p["split"],
                n_train=len(cfg.train_set), n_test=len(cfg.test_set), recipe=p["recipe"],
                recipe_version=RECIPES[p["recipe"]].get("version", 1), epochs=p["epochs"],
                batch_size=p["batch_size"], env=environment(cfg.device))
