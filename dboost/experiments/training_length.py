"""Our question T: does gap m0 still beat gap 0 when the networks are trained longer?

One task of the scheduler protocol (:mod:`.schedule`) per (seed, length, head): the pair gap 0, gap m0.
"""
from __future__ import annotations

from .configure import Config
from .schedule import drive, pair, slug


def check(p: dict, profile: str) -> None:
    if not p["lengths"] or any(int(e) != e or e < 1 for e in p["lengths"]):
        raise ValueError(f"lengths must be a non-empty list of positive ints (epochs); got {p['lengths']!r}")
    labels = [h[0] for h in p["heads"]]
    bad = [h for h in p["length_heads"] if h not in labels]
    if bad:
        raise ValueError(f"length_heads {bad} are not heads of profile {profile!r}; heads: {', '.join(labels)}")


def epochs(p: dict) -> tuple:
    """The lengths this experiment trains at the profile's training-set size (configure checks each schedule)."""
    return tuple(p["lengths"] or ())


def run(cfg: Config) -> None:
    """Gap 0 vs gap m0 (m0 of that length's gap-0 net) at several training lengths, per head.

    Does the discounted loss help generalisation, or only under-trained networks?  The lengths
    run from under-fit to (at the interp profile) interpolating; the longest is the profile's own
    length, whose networks are shared with the other experiments.  Seeds outermost, so a partial
    run already holds complete seeds.  At the profile's own length the claim seeds join the
    length seeds: their networks are claim 1's and S1/S2's, already trained, and a comparison read
    on fewer seeds than the same networks give elsewhere would disagree with it for no reason.
    """
    p = cfg.p
    heads = {h[0]: h for h in p["heads"]}

    def task(s, e, label):
        return pair(f"{slug(label)}_ep{e}", s, labels=dict(head_label=label, length_epochs=int(e)),
                    build_kw=heads[label][1], train_kw=heads[label][2], epochs=int(e))
    shared = [e for e in p["lengths"] if int(e) == p["epochs"]]
    extra = [s for s in p["claim_seeds"] if s not in p["length_seeds"]] if shared else []
    drive(cfg, [task(s, e, label) for s in p["length_seeds"] for e in p["lengths"] for label in p["length_heads"]]
          + [task(s, e, label) for s in extra for e in shared for label in p["length_heads"]])
