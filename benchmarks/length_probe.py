"""Length probe: the shortest training that makes every gap-0 net of a profile fit its training set.

    DBOOST_DATA=... python benchmarks/length_probe.py --profile full --device cuda \
        --lengths 20 30 40 50 --threshold 0.99 --budget-s 110 --out benchmarks/results/length_probe_h200.json

For each candidate length, shortest first, the gap-0 net of every probed head (default: the
profile's claim heads ``freeze_last x10`` and ``Linear``; the slowest to fit, the x10 frozen head,
first) is trained at seed 0 with exactly the profile's settings -- recipe, batch, width, precision,
``compile`` -- as a *unit* of that profile (``experiments.get_unit`` with ``epochs`` = the
length).  Its train accuracy (clean images, eval mode: the unit row's ``train_acc``) decides.  The
probe stops at the first length where every head reaches ``--threshold``: that is
``chosen_epochs``.  A head that misses at a length ends that length (the others need not run).

Why units: the chosen length's nets are the very gap-0 units the profile then uses (trained once,
not twice), the rejected lengths' units stay in ``runs/<profile>/units/`` as the probe's evidence,
and a probe cut short by ``--budget-s`` (no training starts that the last measured seconds per
epoch say would end past it) resumes where it stopped on the next machine: finished units are
read back, not retrained.  The JSON is rewritten after every net (atomically).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dboost import experiments  # noqa: E402
from dboost.results import atomic_write_text  # noqa: E402

# The head the gap sweep shares (the default head of unit_config): its gap-0 unit carries min_width.
_SWEEP_HEAD = "freeze_last x10"


def probe(profile: str, lengths, heads, threshold: float, budget_s: float, out: Path, device=None, seed: int = 0,
          overrides: dict | None = None) -> dict:
    t0 = time.perf_counter()
    lengths = sorted(int(e) for e in lengths)
    cfg = experiments.configure("frozen_last_layer", profile, device=device, progress=False, **(overrides or {}))
    known = {h[0]: h for h in cfg.p["heads"]}
    bad = [h for h in heads if h not in known]
    if bad:
        raise ValueError(f"heads {bad} are not heads of profile {profile!r}; heads: {', '.join(known)}")
    res = dict(profile=profile, device=cfg.device, threshold=threshold, lengths=lengths, heads=list(heads), seed=seed,
               budget_s=budget_s, recipe=cfg.p["recipe"], batch_size=cfg.p["batch_size"], width=cfg.p["width"],
               n_train=len(cfg.train_set), compile=cfg.p["compile"], runs=[], chosen_epochs=None, stopped=None)
    s_per_epoch = None  # of the last net trained here: the estimate for the next one

    def save():
        res["elapsed_s"] = time.perf_counter() - t0
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, json.dumps(res, indent=1))

    for e in lengths:
        ok = True
        for label in heads:
            _, bkw, tkw = known[label]
            # configure per length: it validates the length (one-cycle steps) like any run's
            lcfg = experiments.configure("frozen_last_layer", profile, device=device, progress=False,
                                         **dict(overrides or {}, epochs=e))
            key = experiments.unit_key(experiments.unit_config(lcfg, seed=seed, gap_desc=0.0, arch=lcfg.p["arch"],
                                                               width=lcfg.p["width"], build_kw=bkw, train_kw=tkw))
            stored = lcfg.units.get(key) is not None
            if not stored and s_per_epoch is not None and time.perf_counter() - t0 + e * s_per_epoch > budget_s:
                res["stopped"] = f"budget: {label} at {e} epochs would end past {budget_s:g} s"
                save()
                return res
            row, _ = experiments.get_unit(lcfg, seed=seed, gap=0.0, build_kw=bkw, train_kw=tkw,
                                            min_width_n=lcfg.p["min_width_n"] if label == _SWEEP_HEAD else None)
            if not stored:  # trained here: its speed estimates the next net's
                s_per_epoch = row["train_wall_time_s"] / e
            res["runs"].append(dict(head=label, epochs=e, unit=row["unit"], train_acc=row["train_acc"],
                                    test_acc=row["test"]["acc"], train_mean_margin=row["train_mean_margin"],
                                    train_wall_time_s=row["train_wall_time_s"], compile=row.get("compile"),
                                    stored_before=stored, fits=row["train_acc"] >= threshold))
            print(f"[length probe] {label} at {e} epochs: train acc {row['train_acc']:.4f}, test acc "
                  f"{row['test']['acc']:.4f}, m0 {row['train_mean_margin']:.2f}, {row['train_wall_time_s']:.1f} s",
                  flush=True)
            save()
            if row["train_acc"] < threshold:
                ok = False
                break  # this length fails; the other heads need not run
        if ok:
            res["chosen_epochs"] = e
            save()
            return res
    res["stopped"] = "no candidate length fits: try longer lengths"
    save()
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="full")
    ap.add_argument("--device", default=None)
    ap.add_argument("--lengths", nargs="+", type=int, default=[20, 30, 40, 50])
    ap.add_argument("--heads", nargs="+", default=[_SWEEP_HEAD, "Linear"])
    ap.add_argument("--threshold", type=float, default=0.99)
    ap.add_argument("--budget-s", type=float, default=110.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="change one profile setting (as dboost.runner --set), e.g. compile=default")
    ap.add_argument("--out", default="benchmarks/results/length_probe.json")
    a = ap.parse_args(argv)
    from dboost.runner import _parse_set
    try:
        res = probe(a.profile, a.lengths, a.heads, a.threshold, a.budget_s, Path(a.out), device=a.device, seed=a.seed,
                    overrides=dict(_parse_set(x) for x in a.set))
    except ValueError as e:
        print(f"length_probe: error: {e}", file=sys.stderr)
        return 2
    print(f"[length probe] chosen epochs: {res['chosen_epochs']} ({res['stopped'] or 'every head fits'})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
