"""The experiments of the poster (and ours), at several scales ("profiles"), resumable per trained model.

In a training run (:mod:`dboost.runner`, in rounds: :mod:`dboost.rounds`), or directly::

    cfg = experiments.configure("gap_sweep", profile="cpu", device="cuda")   # validates, loads data
    df  = experiments.run(cfg)                                                # trains what is missing

One module per experiment (``gap_sweep``, ``frozen_last_layer``, ``architectures``,
``boosting``, ``training_length``, ``data_size``), each with ``run(cfg)``, listed in
:mod:`dboost.registry`; the shared machinery: :mod:`.configure` (validation, data, the
:class:`Config`), :mod:`.units` (one trained network per configuration key), :mod:`.schedule`
(the tasks an experiment's ``run`` yields its units from), :mod:`.seeds`.
The profiles are in :mod:`dboost.config`.
"""
from ..config import CLAIM_HEADS, PROFILE_RANK, PROFILES, SEED_KEYS
from ..registry import EXPERIMENTS
from .boosting import member_gap
from .configure import Config, configure, run
from .data_size import size_epochs
from .seeds import member_seed
from .units import (UnitSpec, _gap_spec, experiment_row, get_unit, measure_unit, obtain_unit, store_unit, stored_unit,
                    unit_config, unit_key, unit_spec)

__all__ = ["CLAIM_HEADS", "PROFILE_RANK", "PROFILES", "SEED_KEYS", "EXPERIMENTS", "Config", "configure", "run",
           "UnitSpec", "experiment_row", "get_unit", "measure_unit", "obtain_unit", "store_unit", "stored_unit", "unit_config",
           "unit_key", "unit_spec", "member_seed", "member_gap", "size_epochs", "_gap_spec"]
