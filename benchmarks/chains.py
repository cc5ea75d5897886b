"""Which unfinished boosting chains of a profile cannot be continued exactly here.

    python benchmarks/chains.py gpu        # prints one 'rule_seedS_mT' per blocked chain; exit 0

A chain (rule x seed) with some members stored continues from its members' outputs: the next
member's per-sample gaps come from the last member's training margins, and the ensemble's metrics
from every member's test logits.  Those live in the unit cache (``units/cache``, not committed) or
in the committed outputs (``units/outputs/<key>.npz``, written for every unit since commit 5055440).
A chain whose stored members have neither would be continued by *retraining* them -- on a GPU not
bit for bit, so its new members would extend a different chain than the stored rows describe.
Such chains are listed (by their last stored row), so a session can leave them alone.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dboost import experiments  # noqa: E402
from dboost.results import Store  # noqa: E402


def blocked_chains(profile: str) -> list[str]:
    p = experiments.PROFILES[profile]
    rows = {r["key"]: r for r in Store(profile, "boosting").rows()}
    units = Store(profile, "units")
    blocked = []
    for s in p["boost_seeds"]:
        for rule in p["rules"]:
            have = [rows[k] for t in range(1, p["members"] + 1) if (k := f"{rule}_seed{s}_m{t}") in rows]
            if not have or len(have) == p["members"]:
                continue  # not started (trains from scratch) or finished
            if not all(r.get("member_unit") and (units.has_outputs(r["member_unit"])
                                                 or (units.cache_dir / f"{r['member_unit']}.pt").exists())
                       for r in have):
                blocked.append(have[-1]["key"])
    return blocked


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in experiments.PROFILES:
        print(f"usage: python benchmarks/chains.py PROFILE  (one of {', '.join(experiments.PROFILES)})", file=sys.stderr)
        sys.exit(2)
    print(" ".join(blocked_chains(sys.argv[1])))
