"""Claim 4: the gain of gap m0 over gap 0 on every architecture.

One task of the scheduler protocol (:mod:`.schedule`) per (architecture, seed): the pair gap 0, gap m0.
"""
from __future__ import annotations

from .configure import Config
from .schedule import drive, pair


def run(cfg: Config) -> None:
    p = cfg.p
    # claim 4 hinges on every architecture: arch_seeds for each; the main one also on claim_seeds.
    drive(cfg, [pair(arch, s, arch=arch, width=p["arch_width"])
                for arch in p["archs"]
                for s in (sorted(set(p["arch_seeds"]) | set(p["claim_seeds"])) if arch == p["arch"]
                          else p["arch_seeds"])])
