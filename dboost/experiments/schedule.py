"""The scheduler protocol: an experiment *yields* the rows it needs, the scheduler answers with them.

An experiment written this way is a set of independent *tasks* (generators).  A task yields a
list of :class:`Fit` requests -- experiment rows, each of one unit, that can train at once -- and
receives their rows, in order; it then computes the next requests from them (a gap from a margin,
the next grid point from the best so far) and reads top to bottom with no check for a unit that
is not there yet::

    def task(cfg, s):
        base, = yield [Fit(f"sweep_seed{s}_gap0", dict(seed=s, gap=0.0))]
        disc, = yield [Fit(f"sweep_seed{s}_gapm0", dict(seed=s, gap=base["train_mean_margin"]))]

:func:`drive` runs the tasks.  Training in this process (``cfg.collect`` None), every request is
answered.  Collecting for an executor (``cfg.collect``: a dict, :mod:`dboost.executors`), a batch
whose units are not all stored is collected (every unit of it, so they train in the same round)
and its task ends there for this round; the next round replays the task from the start, and
what is stored is answered at once.  So a round holds every unit whose inputs are known, and
the unit keys are those of :func:`dboost.experiments.units.fit_one`, whichever way it runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generator, Iterable

from .configure import Config
from .units import fit_one, train_unit

Task = Generator[list["Fit"], list[dict], object]


@dataclass(frozen=True)
class Fit:
    """The experiment row ``key``: the row of the unit trained with ``kw`` (:func:`fit_one`'s
    keywords: seed, gap, arch, width, build_kw, train_kw, epochs, min_width_n, n_train,
    subset_seed) plus the experiment's labels ``kw["extra"]``.

    ``key`` None asks for the unit alone (its unit row; no experiment row is written), e.g. a
    boosting member; with ``need_outputs`` the answer is (unit row, outputs: test logits, train
    margins, ...; :func:`dboost.experiments.units.train_unit`)."""
    key: str | None
    kw: dict = field(default_factory=dict)
    need_outputs: bool = False


def answer(cfg: Config, f: Fit):
    """What the request ``f`` asks for, trained in this process where it is not stored."""
    if f.key is not None:
        if f.need_outputs:
            raise ValueError(f"Fit {f.key!r}: outputs are the unit's; ask for the unit (key None) with need_outputs")
        return fit_one(cfg, f.key, **f.kw)
    row, out = train_unit(cfg, need_outputs=f.need_outputs, **f.kw)
    return (row, out) if f.need_outputs else row


def drive(cfg: Config, tasks: Iterable[Task]) -> None:
    """Run every task of an experiment to its end, or (collecting) to its first batch with units
    still to train."""
    for task in tasks:
        rows = None
        try:
            while True:
                batch = task.send(rows)
                rows = [answer(cfg, f) for f in batch]
                if any(r is None or (isinstance(r, tuple) and r[0] is None) for r in rows):  # collected, not trained: the rest waits for the next round
                    break
        except StopIteration:
            continue
        finally:
            task.close()


def pair(prefix: str, seed: int, labels: dict | None = None, **kw) -> Generator[list[Fit], list[dict], tuple]:
    """The paired comparison as a task: gap 0, then gap = the train mean margin m0 of that gap-0
    model.  Returns (gap-0 row, gap-m0 row); the rows and keys of :func:`units._gap_pair`."""
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
