"""The seed scheme: which seed each network of a run trains with."""
from __future__ import annotations


def member_seed(seed: int, t: int) -> int:
    """Seed of boosting member t (0-based) of run ``seed``: the first member is the run's gap-0
    (or gap-c) network itself, seeded like every other experiment's network of that seed; later
    members get 1000 (seed + 1) + t, which no other seed's members or first member use (for
    seed < 1000 and t < 1000), so the ensembles of different seeds share no network."""
    return seed if t == 0 else 1000 * (seed + 1) + t
