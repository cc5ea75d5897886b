"""Ensembles and boosting of deep nets with per-sample gaps (thesis Algorithm 1).

Member t is trained with the discounted loss and gaps ``next_gaps(rule, history)``, where
``history`` holds the training-set margins of the members before it, measured on the
un-augmented training set with the model in eval mode -- by the last member (the authors'
choice) or by the ensemble so far (``margin_source="ensemble"``, our extension).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn as nn

from .data import Split
from .loss import margins
from .rules import _check_rule, next_gaps
from .train import predict_logits, train


class Ensemble(nn.Module):
    """A list of trained members; prediction = mean of the members' softmax (the authors' rule)."""

    def __init__(self, members):
        super().__init__()
        self.members = nn.ModuleList(members)

    def __len__(self):
        return len(self.members)

    @torch.no_grad()
    def member_logits(self, x, batch_size: int = 1000) -> torch.Tensor:
        """(M, N, C) float32 logits of every member (``x``: Split, uint8 or normalised images)."""
        if not len(self.members):
            raise ValueError("empty ensemble")
        return torch.stack([predict_logits(m, x, batch_size) for m in self.members])

    def log_proba(self, x, batch_size: int = 1000) -> torch.Tensor:
        """log of the mean softmax, computed in float64 log space so nothing saturates."""
        lp = torch.log_softmax(self.member_logits(x, batch_size).double(), -1)
        return torch.logsumexp(lp, 0) - math.log(lp.shape[0])

    def predict_proba(self, x, batch_size: int = 1000) -> torch.Tensor:
        return torch.softmax(self.member_logits(x, batch_size), -1).mean(0)

    def predict_logits(self, x, batch_size: int = 1000) -> torch.Tensor:
        """Mean of the members' logits (an alternative combination rule)."""
        return self.member_logits(x, batch_size).mean(0)

    def forward(self, x):
        return self.predict_logits(x)


def _summary(t: torch.Tensor) -> dict:
    t = t.double()
    return dict(mean=float(t.mean()), std=float(t.std()) if t.numel() > 1 else 0.0,
                min=float(t.min()), max=float(t.max()))


def boost(make_model: Callable[[int], nn.Module], train_set: Split, test_set: Split | None, *, rule: str, members: int,
          recipe="authors", margin_source: str = "last", seed: int = 0, device=None, progress: bool = True,
          on_member: Callable | None = None, train_kw: dict | None = None, **rule_params):
    """Train ``members`` models one after another with gaps from ``rule``.

    make_model(t) builds member t (seed its init from t).  Member t trains with seed
    ``seed + t``.  Returns ``(Ensemble, records)``; record t holds the gap and train-margin
    summaries of member t and the test metrics of the ensemble of the first t+1 members.
    ``on_member(t, model, record)`` is called after each member (for checkpoints/results).
    """
    _check_rule(rule, rule_params)
    if margin_source not in ("last", "ensemble"):
        raise ValueError(f"margin_source must be 'last' or 'ensemble'; got {margin_source!r}")
    if int(members) != members or members < 1:
        raise ValueError(f"members must be a positive int; got {members}")
    from .metrics import evaluate

    history: list[torch.Tensor] = []
    trained: list[nn.Module] = []
    records = []
    for t in range(members):
        gaps = next_gaps(rule, history, n=len(train_set), **rule_params)
        model = make_model(t)
        rec = train(model, train_set, recipe=recipe, gaps=gaps, device=device, seed=seed + t, progress=progress,
                    **(train_kw or {}))
        trained.append(model)
        ens = Ensemble(trained)
        if margin_source == "last":
            m = margins(predict_logits(model, train_set, device=device), train_set.y)
        else:
            m = margins(ens.log_proba(train_set).float(), train_set.y)
        history.append(m)
        record = dict(member=t + 1, rule=rule, margin_source=margin_source, gap=_summary(gaps),
                      train_margin=_summary(m), train_acc=float((m > 0).double().mean()),
                      wall_time_s=rec["wall_time_s"], train_record=rec)
        if test_set is not None:
            record["test"] = evaluate(ens, test_set)
        records.append(record)
        if on_member is not None:
            on_member(t, model, record)
    return Ensemble(trained), records
