"""Claim 3 and the strong baseline: the poster's frozen head against trainable heads, gap 0 and gap m0 each."""
from __future__ import annotations

from ..config import CLAIM_HEADS
from .configure import Config
from .units import _gap_pair, _slug


def run(cfg: Config) -> None:
    p = cfg.p
    for label, bkw, tkw in p["heads"]:
        # Heads that carry a claim (the poster's frozen head, the trainable head it is compared
        # with, the strong baseline): all claim seeds; the other variants: `seeds`.
        seeds = p["claim_seeds"] if label in CLAIM_HEADS else p["seeds"]
        for s in seeds:
            _gap_pair(cfg, _slug(label), s, labels=dict(head_label=label), build_kw=bkw, train_kw=tkw)
