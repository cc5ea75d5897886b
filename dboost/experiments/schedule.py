"""The scheduler protocol: an experiment *yields* the rows it needs, the scheduler answers with them.

An experiment written this way is a set of independent *tasks* (generators).  A task yields a
list of :class:`Fit` requests -- experiment rows, each of one unit, that can train at once -- and
receives their rows, in order; it then computes the next requests from them (a gap from a margin,
the next grid point from the best so far) and reads top to bottom with no check for a unit that
is not there yet::

    def task(cfg, s):
        base, = yield [Fit(f"sweep_seed{s}_gap0", dict(seed=s, gap=0.0))]
        disc, = yield [Fit(f"sweep_seed{s}_gapm0", dict(seed=s, gap=base["train_mean_margin"]))]

:func:`drive` runs the tasks.  Run in this process (``cfg.collect`` None: ``experiments.run(cfg)``),
every request is answered, training what is not stored.  In a run's rounds (``cfg.collect``: a
dict, :mod:`dboost.rounds`), a request whose unit is not stored is *collected* instead -- its
:class:`~dboost.experiments.units.UnitSpec` is added to ``cfg.collect`` for the executor -- and
its task ends there for this round, once the rest of its batch is answered (so a batch's units
train in the same round); the next round replays the task from the start, and what is stored is
answered at once.  So a round holds every unit whose inputs are known, and the unit keys are
those of :func:`dboost.experiments.units.unit_spec`, whichever way it runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generator, Iterable

from .configure import Config
from .units import experiment_row, obtain_unit, stored_unit, unit_spec

Task = Generator[list["Fit"], list[dict], object]


@dataclass(frozen=True)
class Fit:
    """The experiment row ``key``: the row of the unit trained with ``kw`` (:func:`unit_spec`'s
    settings: seed, gap, arch, width, build_kw, train_kw, epochs, min_width_n, n_train,
    subset_seed) plus the experiment's labels ``kw["extra"]``.

    ``key`` None asks for the unit alone (its unit row; no experiment row is written), e.g. a
    boosting member; with ``need_outputs`` the answer is (unit row, outputs: test logits, train
    margins, ...; :func:`dboost.experiments.units.stored_unit`)."""
    key: str | None
    kw: dict = field(default_factory=dict)
    need_outputs: bool = False

    def __post_init__(self):
        if self.need_outputs and self.key is not None:
            raise ValueError(f"Fit {self.key!r}: outputs are a unit's; ask for the unit alone (key None)")


def drive(cfg: Config, tasks: Iterable[Task]) -> None:
    """Run every task of an experiment to its end, or (collecting: ``cfg.collect``) to its first
    batch with units still to train."""
    for task in tasks:
        rows = None
        try:
            while True:
                batch = task.send(rows)
                rows, waiting = [], False
                for f in batch:
                    if f.key is not None and cfg.store.has(f.key):  # this experiment's row is written
                        rows.append(cfg.store.get(f.key))
                        continue
                    spec = unit_spec(cfg, **{k: v for k, v in f.kw.items() if k != "extra"})
                    stored = stored_unit(cfg, spec, f.need_outputs)
                    if stored is None and cfg.collect is not None:
                        cfg.collect.setdefault(spec.key, spec)  # for this round's executor
                        waiting = True
                        continue
                    row, out = obtain_unit(cfg, spec, stored)  # stored, or trained here
                    if f.key is not None:
                        rows.append(experiment_row(cfg, f.key, row, f.kw.get("extra")))
                    else:
                        rows.append((row, out) if f.need_outputs else row)
                if waiting:  # the rest of this task waits for the next round
                    break
        except StopIteration:
            continue
        finally:
            task.close()


def pair(prefix: str, seed: int, labels: dict | None = None, **kw) -> Generator[list[Fit], list[dict], tuple]:
    """The paired comparison as a task: gap 0, then gap = the train mean margin m0 of that gap-0
    model (clamped at 0).  Returns (gap-0 row, gap-m0 row)."""
    base, = yield [gap0(prefix, seed, labels, **kw)]
    disc, = yield [gapm0(prefix, seed, base, labels, **kw)]
    return base, disc


def slug(label: str) -> str:
    """A display label (a head's, e.g. "strong Linear + LS0.1") as the part of a row key it names."""
    return label.replace(" ", "").replace(":", "").replace("+", "_")


def gap0(prefix: str, seed: int, labels: dict | None = None, **kw) -> Fit:
    return Fit(f"{prefix}_seed{seed}_gap0", dict(kw, seed=seed, gap=0.0,
                                                  extra=dict(labels or {}, variant=prefix, gap_label="0")))


def gapm0(prefix: str, seed: int, base: dict, labels: dict | None = None, **kw) -> Fit:
    m0 = base["train_mean_margin"]
    return Fit(f"{prefix}_seed{seed}_gapm0", dict(kw, seed=seed, gap=max(m0, 0.0),
                                                   extra=dict(labels or {}, variant=prefix, gap_label="m0", m0=m0)))
