"""Configure an experiment of a profile: validate everything and load the data, before any training.

    cfg = experiments.configure("gap_sweep", profile="cpu", device="cuda")   # validates, loads data
    df  = experiments.run(cfg)                                                # trains what is missing

Rows land in ``runs/<profile>/<experiment>/`` one trained model at a time (see
:mod:`dboost.results`); rerunning skips finished rows.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from .. import data as data_mod
from .. import registry
from ..config import Profile, resolve
from ..results import Store, check_runs_root
from ..recipes import RECIPES
from ..runtime import check_device


@dataclass
class Config:
    experiment: str
    profile: str
    p: Profile                   # the resolved settings (dboost.config.resolve)
    device: str
    train_set: data_mod.Split
    test_set: data_mod.Split
    store: Store
    progress: bool = True
    log: list = field(default_factory=list)
    units: Store | None = None
    overrides: dict = field(default_factory=dict)  # configure(**overrides): a worker rebuilds the same data
    collect: dict | None = None  # in a run's rounds: key -> UnitSpec of the units still to train (schedule.drive)
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

    The one place the CLI (``dboost.runner``) and the notebooks (papermill parameters) are checked:
    device (:func:`dboost.runtime.check_device`), seeds (:func:`dboost.runtime.check_seeds`: ints in
    [0, 2**31), a string such as papermill's ``-r seeds 12`` is refused), sizes, the data (labels,
    sizes against the profile, an explicit ``data_root`` that holds no data set), the runs folder
    (a writable directory, or creatable; nothing is created here) and every row already stored
    for this experiment and for the units (:meth:`dboost.results.Store.check`).
    """
    exp = registry.get(experiment).load()  # one clear error for an unknown experiment
    p = resolve(profile, overrides, seeds=seeds)  # the settings, validated (dboost.config.Profile)
    if experiment not in p["experiments"]:
        raise ValueError(f"experiment {experiment!r} is not part of profile {profile!r} "
                         f"(its experiments: {', '.join(p['experiments'])})")
    if hasattr(exp, "check"):  # the experiment's own settings
        exp.check(p, profile)
    dev = check_device(device)
    if data_root is not None and not isinstance(data_root, (str, os.PathLike)):
        raise ValueError(f"data_root must be a folder path or None; got {data_root!r}")
    if p["dataset"] == "synthetic":
        # an experiment that trains on larger subsets than the profile's (data_size) says how large
        n_syn = max(p["n_train"], exp.max_n_train(p)) if hasattr(exp, "max_n_train") else p["n_train"]
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
    for e in exp.epochs(p) if hasattr(exp, "epochs") else (p["epochs"],):
        n_steps = _steps(len(tr), p["batch_size"], int(e))
        if n_steps < 5 or pct * n_steps <= 1:
            raise ValueError(f"{e} epochs of {len(tr)} samples in batches of {p['batch_size']} are {n_steps} optimiser "
                             "steps: too few for a one-cycle schedule")
    if hasattr(exp, "check_data"):  # e.g. the data-size study's sizes against the data set
        exp.check_data(p, profile, full_tr, pct)
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
        registry.get(cfg.experiment).load().run(cfg)
    rows = [r for r in cfg.store.rows() if r.get("profile") == cfg.profile]
    df = pd.json_normalize(rows, sep="_")
    df.attrs["run_wall_time_s"] = time.perf_counter() - t0
    df.attrs["trained"] = train
    return df
