"""Ensembles and boosting of deep nets with per-sample gaps (thesis Algorithm 1).

Member t is trained with the discounted loss and gaps ``next_gaps(rule, history)``, where
``history`` holds the training-set margins of the members before it, measured on the
un-augmented training set with the model in eval mode -- by the last member (the authors'
choice) or by the ensemble so far (``margin_source="ensemble"``, our extension).
"""
from __future__ import annotations

import math
import warnings
from typing import Callable, Iterable, Iterator

import torch
import torch.nn as nn

from .data import Split
from .loss import margins
from .rules import check_params, next_gaps
from .train import predict_logits, train


class Ensemble(nn.Module):
    """An ensemble of classifiers; its prediction is the mean of the members' softmax (the authors' rule).

    ``ensemble(x)`` -- the module call -- applies every member to ``x`` as it is (any modules
    mapping a batch to (N, C) logits: ``nn.Linear``, a torchvision ResNet, ...) and returns the
    *log* of the mean softmax, (N, C), computed as a log-sum-exp so nothing saturates; it is
    differentiable and a drop-in for logits wherever a log-probability is wanted
    (``argmax``, ``F.nll_loss``).  :meth:`log_proba` and :meth:`predict_proba` also take a
    :class:`~dboost.data.Split` or uint8 images, which are normalised like the trainer's, and run in
    eval mode without gradients, batched.
    """

    def __init__(self, members: Iterable[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def __len__(self) -> int:
        return len(self.members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not len(self.members):
            raise ValueError("empty ensemble")
        lp = torch.stack([torch.log_softmax(m(x).float(), -1) for m in self.members])
        return torch.logsumexp(lp, 0) - math.log(len(self.members))

    @torch.no_grad()
    def member_logits(self, x: Split | torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """(M, N, C) float32 logits of every member, eval mode, batched.

        ``x``: a :class:`~dboost.data.Split` or uint8 images (normalised as the trainer does), or
        any other tensor, passed to the members unchanged.
        """
        if not len(self.members):
            raise ValueError("empty ensemble")
        if isinstance(x, Split) or (isinstance(x, torch.Tensor) and x.dtype == torch.uint8):
            return torch.stack([predict_logits(m, x, batch_size) for m in self.members])
        return torch.stack([_apply_eval(m, x, batch_size) for m in self.members])

    def log_proba(self, x: Split | torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """log of the mean softmax, (N, C), in float64 log space so nothing saturates."""
        lp = torch.log_softmax(self.member_logits(x, batch_size).double(), -1)
        return torch.logsumexp(lp, 0) - math.log(lp.shape[0])

    def predict_proba(self, x: Split | torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """Mean of the members' softmax, (N, C) float32."""
        return torch.softmax(self.member_logits(x, batch_size), -1).mean(0)

    def mean_logits(self, x: Split | torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """Mean of the members' logits (an alternative combination rule, not the ensemble's prediction)."""
        return self.member_logits(x, batch_size).mean(0)

    def predict_logits(self, x: Split | torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """Deprecated name of :meth:`mean_logits` (until 0.3): it is not what the ensemble predicts."""
        warnings.warn("Ensemble.predict_logits is deprecated; use Ensemble.mean_logits (mean of logits) or "
                      "Ensemble.log_proba (the ensemble's log-probabilities)", DeprecationWarning, stacklevel=2)
        return self.mean_logits(x, batch_size)


def _apply_eval(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """model(x) in eval mode, batched, float32 on the CPU; the training flag is restored."""
    was_training = model.training
    model.eval()
    try:
        dev = next(model.parameters(), torch.empty(0)).device
        out = [model(x[i:i + batch_size].to(dev)).float().cpu() for i in range(0, x.shape[0], batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out)


def _summary(t: torch.Tensor) -> dict:
    t = t.double()
    return dict(mean=float(t.mean()), std=float(t.std()) if t.numel() > 1 else 0.0,
                min=float(t.min()), max=float(t.max()))


def chain(rule: str, members: int, n: int, train_member: Callable[[int, torch.Tensor], torch.Tensor | None],
          **rule_params: float) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """Thesis Algorithm 1, one member at a time, with a training callback (used by :func:`boost`; the
    boosting experiment, :mod:`dboost.experiments.boosting`, runs the same loop as a task that
    yields each member to the scheduler).

    For t = 0 .. members-1: the gaps of member t from the margins of the members so far
    (``next_gaps``), then ``train_member(t, gaps)``, which returns member t's training-set margins
    -- or None, which ends the chain there.  Yields ``(t, gaps, margins)``.  ``rule`` is any registered
    rule (:func:`dboost.rules.register`), ``rule_params`` its parameters (e.g. ``c=34.0``).

    Use it with your own training code::

        history = [m for _, _, m in chain("save_mean_reverse", 3, len(y), my_train_returning_margins)]
    """
    check_params(rule, rule_params)
    if int(members) != members or members < 1:
        raise ValueError(f"members must be a positive int; got {members}")
    history: list[torch.Tensor] = []
    for t in range(members):
        gaps = next_gaps(rule, history, n=n, **rule_params)
        m = train_member(t, gaps)
        if m is None:
            return
        history.append(m)
        yield t, gaps, m


def boost(make_model: Callable[[int], nn.Module], train_set: Split, test_set: Split | None, *, rule: str, members: int,
          recipe="authors", margin_source: str = "last", seed: int = 0, device=None, progress: bool = True,
          on_member: Callable | None = None, train_kw: dict | None = None, **rule_params):
    """Train ``members`` models one after another with gaps from ``rule``.

    make_model(t) builds member t (seed its init from t).  Member t trains with seed
    ``seed + t``.  Returns ``(Ensemble, records)``; record t holds the gap and train-margin
    summaries of member t and the test metrics of the ensemble of the first t+1 members.
    ``on_member(t, model, record)`` is called after each member (for checkpoints/results).
    """
    check_params(rule, rule_params)
    if margin_source not in ("last", "ensemble"):
        raise ValueError(f"margin_source must be 'last' or 'ensemble'; got {margin_source!r}")
    if int(members) != members or members < 1:
        raise ValueError(f"members must be a positive int; got {members}")
    from .metrics import evaluate

    trained: list[nn.Module] = []
    records = []

    def train_member(t, gaps):
        model = make_model(t)
        rec = train(model, train_set, recipe=recipe, gaps=gaps, device=device, seed=seed + t, progress=progress,
                    **(train_kw or {}))
        trained.append(model)
        records.append(dict(wall_time_s=rec["wall_time_s"], train_record=rec))
        if margin_source == "last":
            return margins(predict_logits(model, train_set, device=device), train_set.y)
        return margins(Ensemble(trained).log_proba(train_set).float(), train_set.y)

    for t, gaps, m in chain(rule, members, len(train_set), train_member, **rule_params):
        record = dict(member=t + 1, rule=rule, margin_source=margin_source, gap=_summary(gaps),
                      train_margin=_summary(m), train_acc=float((m > 0).double().mean()), **records[t])
        if test_set is not None:
            record["test"] = evaluate(Ensemble(trained), test_set)
        records[t] = record
        if on_member is not None:
            on_member(t, trained[t], record)
    return Ensemble(trained), records
