"""Claim 4: the gain of gap m0 over gap 0 on every architecture."""
from __future__ import annotations

from .configure import Config
from .units import _gap_pair


def run(cfg: Config) -> None:
    p = cfg.p
    for arch in p["archs"]:
        # claim 4 hinges on every architecture: arch_seeds for each; the main one also on claim_seeds.
        seeds = sorted(set(p["arch_seeds"]) | set(p["claim_seeds"])) if arch == p["arch"] else p["arch_seeds"]
        for s in seeds:
            _gap_pair(cfg, arch, s, arch=arch, width=p["arch_width"])
