"""The experiments of the book, registered in one place: name -> the module that runs it and the claims it feeds.

Everything that needs the list reads it here: the profiles, ``dboost.experiments.configure`` and
``run``, the runner and its CLI, the row schema (:mod:`dboost.results`), the pages'
publishing, the summary and the tests.  Imports no torch (a page that draws a table reads it).

Adding an experiment is one new module (``run(cfg)``, optionally ``check(p, profile)``,
``epochs(p)`` and ``check_data(p, profile, full_train, pct_start)``), its notebook
``book/notebooks/<name>.ipynb``, its claim declarations (:mod:`dboost.analysis.claims`) and one
:func:`register` call (below, or from the caller for an experiment outside the package).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

ROW_KINDS = ("pair", "ensemble")


@dataclass(frozen=True)
class Experiment:
    """One experiment.

    module: the dotted module with ``run(cfg)`` (imported only when the experiment is configured).
    claims: the ids of the claims (``dboost.analysis.claims.CLAIMS``) its rows are tested by.
    rows: its row schema -- ``pair`` (one network per row, labelled by ``gap_label``) or
    ``ensemble`` (one ensemble size per row: ``rule`` and ``members``).
    seeds: the profile settings (``dboost.config.Profile``) that name the seeds its rows cover
    (a page says which of them have rows: :mod:`dboost.pages`).
    """
    name: str
    module: str
    claims: tuple[str, ...] = ()
    rows: str = "pair"
    seeds: tuple[str, ...] = ()

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ValueError(f"an experiment's name must be an identifier (a folder and notebook name); got {self.name!r}")
        if self.rows not in ROW_KINDS:
            raise ValueError(f"rows must be one of {', '.join(ROW_KINDS)}; got {self.rows!r}")

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)


REGISTRY: dict[str, Experiment] = {}


def register(exp: Experiment) -> Experiment:
    """Add ``exp`` (an experiment of that name already registered is an error)."""
    if exp.name in REGISTRY:
        raise ValueError(f"experiment {exp.name!r} is already registered ({REGISTRY[exp.name].module})")
    REGISTRY[exp.name] = exp
    return exp


def unregister(name: str) -> None:
    """Remove a registered experiment (a test's toy one)."""
    REGISTRY.pop(name, None)


def names() -> tuple[str, ...]:
    """The registered experiments, in the book's order (the order they were registered in)."""
    return tuple(REGISTRY)


def get(name) -> Experiment:
    """The experiment ``name`` (one clear error naming the known ones otherwise)."""
    if not isinstance(name, str) or name not in REGISTRY:
        raise ValueError(f"unknown experiment {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[name]


for _e in (Experiment("gap_sweep", "dboost.experiments.gap_sweep", ("1", "2", "2-ours"), seeds=("claim_seeds", "seeds")),
           Experiment("frozen_last_layer", "dboost.experiments.frozen_last_layer", ("3", "3-ours", "S1", "S2"),
                      seeds=("claim_seeds", "seeds")),
           Experiment("architectures", "dboost.experiments.architectures", ("4",), seeds=("arch_seeds", "claim_seeds")),
           Experiment("boosting", "dboost.experiments.boosting", ("5-save", "5-zero", "5c"), rows="ensemble",
                      seeds=("boost_seeds",)),
           # the claim seeds too: at the profile's own length they join (those nets are the claims')
           Experiment("training_length", "dboost.experiments.training_length", ("T",),
                      seeds=("length_seeds", "claim_seeds")),
           Experiment("data_size", "dboost.experiments.data_size", (), seeds=("size_seeds", "resample_seeds"))):
    register(_e)
# The book's experiments (a toy one registered later, by a test, is in names() but not here).
EXPERIMENTS = names()
