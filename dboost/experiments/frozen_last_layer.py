"""Claim 3 and the strong baseline: the poster's frozen head against trainable heads, gap 0 and gap m0 each.

One task of the scheduler protocol (:mod:`.schedule`) per (head, seed): the pair gap 0, gap m0.
"""
from __future__ import annotations

from ..config import CLAIM_HEADS
from .configure import Config
from .schedule import drive, pair, slug


def run(cfg: Config) -> None:
    p = cfg.p
    # Heads that carry a claim (the poster's frozen head, the trainable head it is compared
    # with, the strong baseline): all claim seeds; the other variants: `seeds`.
    drive(cfg, [pair(slug(label), s, labels=dict(head_label=label), build_kw=bkw, train_kw=tkw)
                for label, bkw, tkw in p["heads"]
                for s in (p["claim_seeds"] if label in CLAIM_HEADS else p["seeds"])])
