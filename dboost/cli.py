"""The ``dboost`` command.

::

    dboost run    --profile smoke [--only boosting ...]   train what is missing, render, publish
                                                          (= python -m dboost.runner, same options)
    dboost plan   --profile interp [--only ...]           the units a run would train, per round
    dboost render --profile interp [--only ...]           render the pages from the rows in runs/
                                                          (= dboost run --no-train)
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter

from . import registry, rounds, runner
from .config import PROFILES


def _plan(a: argparse.Namespace) -> int:
    try:
        if a.profile not in PROFILES:
            raise ValueError(f"unknown profile {a.profile!r}; known profiles: {', '.join(PROFILES)}")
        units = rounds.plan(a.profile, a.only, seeds=a.seeds, data_root=a.data_root, missing=a.missing,
                            **dict(runner._parse_set(x) for x in a.set))
    except (ValueError, FileNotFoundError) as e:
        print(f"dboost plan: error: {e}", file=sys.stderr)
        return 2
    per_round: dict[int, Counter] = {}
    for u in units:
        per_round.setdefault(u["round"], Counter())[u["experiment"]] += 1
    which = "still to train, units in runs/ left out" if a.missing else "units already in runs/ included"
    print(f"profile {a.profile}: {len(units)} unit(s) in {len(per_round)} round(s) ({which}; a round's units can "
          "train at once)")
    for r, c in per_round.items():
        print(f"  round {r:>3}: {sum(c.values()):>4} unit(s)  " + ", ".join(f"{e} {n}" for e, n in c.items()))
    if a.missing:  # a unit's own seed: a boosting member's is derived from its chain's (experiments.member_seed)
        by_seed = Counter((u["experiment"], u["seed"]) for u in units)
        for e in dict.fromkeys(u["experiment"] for u in units):
            print(f"  {e}, per unit seed: " + ", ".join(f"{s}: {n}" for (x, s), n in sorted(by_seed.items()) if x == e))
    return 0


def _calibrate(a: argparse.Namespace) -> int:
    """Backfill ``test_cal`` (:mod:`dboost.calibration`) into every stored row of a profile with logits."""
    from . import calibration, experiments
    try:
        exp = PROFILES[a.profile]["experiments"][0] if a.profile in PROFILES else "gap_sweep"
        cfg = experiments.configure(exp, profile=a.profile, data_root=a.data_root, progress=False)  # validates first
    except (ValueError, FileNotFoundError) as e:
        print(f"dboost calibrate: error: {e}", file=sys.stderr)
        return 2
    counts = calibration.backfill(a.profile, cfg.test_set.y.numpy())
    runner.prepare(a.profile)  # the rows changed: their results.csv files follow
    print(f"[dboost calibrate] {a.profile}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="dboost", description="Boosting deep nets with a discounted loss: run, plan "
                                 "and render the replication's experiments.",
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n")[1])
    sub = ap.add_subparsers(dest="command", metavar="{run,plan,render,calibrate}", required=True)
    runner.add_arguments(sub.add_parser("run", help="train what is missing, execute the notebooks, publish the book's "
                                       "pages (python -m dboost.runner)"))
    p = sub.add_parser("plan", help="list the units a run would train, per round; trains nothing")
    p.add_argument("--profile", default="smoke", help=f"one of {', '.join(PROFILES)}")
    p.add_argument("--only", nargs="+", metavar="EXPERIMENT", help=f"subset of {', '.join(registry.names())}")
    p.add_argument("--seeds", nargs="+", type=int, default=None, help="override the profile's seeds")
    p.add_argument("--data-root", default=None, help="CIFAR folder (default: $DBOOST_DATA)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="change one profile setting")
    p.add_argument("--missing", action="store_true", help="only the units not yet in runs/, per experiment and seed")
    r = sub.add_parser("render", help="execute the notebooks from the rows already in runs/ and publish; trains "
                       "nothing (dboost run --no-train)")
    runner.add_arguments(r)
    r.set_defaults(no_train=True)
    c = sub.add_parser("calibrate", help="add the temperature-scaled NLL and ECE (test_cal) to every stored row "
                       "with logits; trains nothing")
    c.add_argument("--profile", required=True)
    c.add_argument("--data-root", default=None, help="CIFAR folder (default: $DBOOST_DATA)")
    a = ap.parse_args(argv)
    if a.command == "plan":
        return _plan(a)
    if a.command == "calibrate":
        return _calibrate(a)
    return runner.execute(a)


if __name__ == "__main__":
    sys.exit(main())
