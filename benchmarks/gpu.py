"""GPU benchmark: seconds per epoch and seconds to the authors' single-model accuracy.

    DBOOST_DATA=/path/to/cifar10 python benchmarks/gpu.py [--out gpu.json] [--epochs 6 10 15]

Measured side by side in one process on one device (ResNet9 width 64, frozen head):
  * dboost's trainer (uint8 data on the GPU, batched augmentation, bf16, channels_last);
  * the plain loop (per-sample torchvision transforms, DataLoader with worker processes);
  * the ceiling (forward + backward + step on ready tensors);
  * the ``fast`` recipe at several epoch budgets: final test accuracy and wall time, i.e. the
    epochs/accuracy trade-off and the time to 91.6 % (the authors' 50-epoch single model).

``--compile-only`` (issue 21; the first stage of ``benchmarks/gpu_session.sh``) measures instead,
in the same process, eager against each ``--compile-modes`` mode of ``train(..., compile=MODE)``:
seconds per epoch of a fresh model after one warm-up call (which pays the compilation; its time
is recorded as ``first_call_s``), then test accuracy of eager and of the fastest mode at the
gpu profile's 10 epochs on ``--acc-seeds``.  A mode is ``recommended_compile`` when it is at least
10 % faster than eager and its mean test accuracy is within ``EQUIVALENT_ACC`` of eager's; the
session script then trains the ``full`` profile with it.  ``--budget-s`` skips a step that the
measured times say would end past it.  Target: <= 0.40 s per epoch at width 64 (H200).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baselines import ceiling_epoch, plain_epoch  # noqa: E402

from dboost import data, models  # noqa: E402
from dboost.train import predict_logits, train  # noqa: E402

TARGET = 0.916
TARGET_S_PER_EPOCH = 0.40   # issue 21, H200, width 64, full CIFAR-10
# Compiled training counts as the same training when its mean test accuracy (10 epochs, 2 seeds) is
# within one point of eager's: the range of the gpu profile's three gap-0 x10 nets at 10 epochs
# (runs/gpu/gap_sweep, seeds 0-2: 0.8516-0.8614).
EQUIVALENT_ACC = 0.01

# Candidate variants of the fast recipe for `--candidates` (overrides of dboost.recipes.RECIPES["fast"]).
# The first H200 run showed the fast recipe well short of TARGET with the x10 frozen head
# (0.8635 at 12 epochs), so the next loan should try these side by side at 15 epochs.
CANDIDATES = {
    "fast": {},
    "adam lr 8e-3": dict(lr=8e-3),
    "adam lr 2e-3, wd 5e-4": dict(lr=2e-3, weight_decay=5e-4),
    "batch 250": dict(batch_size=250),
    "sgd nesterov lr 0.2, wd 5e-4": dict(optimizer="sgd", lr=0.2, weight_decay=5e-4),
    "adam, no weight decay": dict(weight_decay=0.0),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="gpu_bench.json")
    ap.add_argument("--epochs", nargs="+", type=int, default=[6, 10, 15])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--tiny", action="store_true", help="CPU dry run on synthetic data (checks the script only)")
    ap.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    ap.add_argument("--candidates", type=int, default=0, metavar="EPOCHS",
                    help="also train every CANDIDATES recipe for EPOCHS epochs and report test accuracy")
    ap.add_argument("--compile-only", action="store_true", help="only eager vs --compile-modes (see the docstring)")
    ap.add_argument("--compile-modes", nargs="*", default=["default", "reduce-overhead"])
    ap.add_argument("--acc-epochs", type=int, default=10)
    ap.add_argument("--acc-seeds", nargs="*", type=int, default=[0, 1])
    ap.add_argument("--budget-s", type=float, default=110.0, help="--compile-only: skip steps that would end later")
    a = ap.parse_args()
    if a.compile_only:
        return compile_comparison(a)
    dev = a.device
    if a.tiny:
        tr, te = data.synthetic(1000, 500)
    else:
        tr, te = data.cifar10()
    name = torch.cuda.get_device_name(0) if dev.startswith("cuda") else "cpu"
    res = dict(device=name, torch=torch.__version__, width=a.width, n_train=len(tr), n_test=len(te), workers=a.workers)
    print(f"[gpu bench] {name}, torch {torch.__version__}, n_train={len(tr)}", flush=True)

    def fresh():
        torch.manual_seed(0)
        return models.build("resnet9", width=a.width)

    # warm-up: cuDNN autotuning, allocator, lazy inits
    train(fresh(), tr.subset(min(len(tr), 5000)), recipe="fast", epochs=2, batch_size=100 if a.tiny else None, device=dev, progress=False)
    r = train(fresh(), tr, recipe="fast", epochs=2, batch_size=100 if a.tiny else None, device=dev, progress=False)
    res["dboost_s_per_epoch"] = r["wall_time_s"] / 2
    res["dboost_images_per_s"] = r["images_per_s"]
    print(f"[gpu bench] dboost trainer: {res['dboost_s_per_epoch']:.2f} s/epoch", flush=True)
    res["plain_s_per_epoch"] = plain_epoch(fresh(), tr, batch_size=500, device=dev, workers=a.workers)
    print(f"[gpu bench] plain DataLoader loop: {res['plain_s_per_epoch']:.2f} s/epoch", flush=True)
    res["ceiling_s_per_epoch"] = ceiling_epoch(fresh(), len(tr), batch_size=500, device=dev)
    print(f"[gpu bench] ceiling: {res['ceiling_s_per_epoch']:.2f} s/epoch", flush=True)
    res["speedup_vs_plain"] = res["plain_s_per_epoch"] / res["dboost_s_per_epoch"]
    res["fraction_of_ceiling"] = res["ceiling_s_per_epoch"] / res["dboost_s_per_epoch"]

    curve = []
    for ep in a.epochs:
        m = fresh()
        r = train(m, tr, recipe="fast", epochs=ep, batch_size=100 if a.tiny else None, device=dev, progress=False)
        acc = float((predict_logits(m, te).argmax(1) == te.y).float().mean())
        curve.append(dict(epochs=ep, test_acc=acc, wall_time_s=r["wall_time_s"]))
        print(f"[gpu bench] fast recipe, {ep} epochs: test acc {acc:.4f} in {r['wall_time_s']:.1f} s", flush=True)
        Path(a.out).write_text(json.dumps(dict(res, fast_curve=curve), indent=1))
    res["fast_curve"] = curve
    if a.candidates:
        res["candidates"] = []
        for label, over in CANDIDATES.items():
            m = fresh()
            kw = dict(dict(epochs=a.candidates), **over)
            if a.tiny:
                kw.setdefault("batch_size", 100)
            r = train(m, tr, recipe="fast", device=dev, progress=False, **kw)
            acc = float((predict_logits(m, te).argmax(1) == te.y).float().mean())
            res["candidates"].append(dict(label=label, overrides=over, epochs=a.candidates, test_acc=acc,
                                          wall_time_s=r["wall_time_s"]))
            print(f"[gpu bench] candidate {label!r}: test acc {acc:.4f} in {r['wall_time_s']:.1f} s", flush=True)
            Path(a.out).write_text(json.dumps(res, indent=1))
    hit = [c for c in curve if c["test_acc"] >= TARGET]
    if hit:
        c = min(hit, key=lambda c: c["epochs"])
        res["time_to_target_s"] = c["wall_time_s"]
        res["epochs_to_target"] = c["epochs"]
        # Same recipe through the plain loop: its measured s/epoch times the same epochs (estimate).
        res["plain_time_to_target_s_est"] = c["epochs"] * res["plain_s_per_epoch"]
    print(json.dumps(res, indent=1))
    Path(a.out).write_text(json.dumps(res, indent=1))


def compile_comparison(a) -> int:
    """Eager vs torch.compile modes in one process: s/epoch, compile cost, accuracy equivalence."""
    from dboost.results import atomic_write_text
    t0 = time.perf_counter()
    tr, te = data.synthetic(1000, 500) if a.tiny else data.cifar10()
    dev = a.device
    bs = 100 if a.tiny else 500
    epochs = 2 if a.tiny else 3
    name = torch.cuda.get_device_name(0) if dev.startswith("cuda") else "cpu"
    res = dict(device=name, torch=torch.__version__, width=a.width, n_train=len(tr), batch_size=bs,
               timed_epochs=epochs, target_s_per_epoch=TARGET_S_PER_EPOCH, equivalent_acc=EQUIVALENT_ACC,
               variants={}, accuracy=None, recommended_compile=None, skipped=[])
    out = Path(a.out)

    def save():
        res["elapsed_s"] = time.perf_counter() - t0
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, json.dumps(res, indent=1))

    def fresh():
        torch.manual_seed(0)
        return models.build("resnet9", width=a.width)

    def left():
        return a.budget_s - (time.perf_counter() - t0)

    for mode in [None, *a.compile_modes]:
        label = mode or "eager"
        if res["variants"] and left() < 60:  # a compilation alone can take a minute
            res["skipped"].append(f"{label}: {left():.0f} s of the budget left")
            continue
        try:
            t1 = time.perf_counter()
            train(fresh(), tr, recipe="fast", epochs=1, batch_size=bs, device=dev, progress=False, compile=mode)
            first = time.perf_counter() - t1  # warm-up: cuDNN autotuning, and the compilation
            r = train(fresh(), tr, recipe="fast", epochs=epochs, batch_size=bs, device=dev, progress=False,
                      compile=mode)
            res["variants"][label] = dict(compile=mode, first_call_s=first, s_per_epoch=r["wall_time_s"] / epochs)
        except Exception as e:  # noqa: BLE001 -- a mode that fails here is reported, not fatal
            res["variants"][label] = dict(compile=mode, error=f"{type(e).__name__}: {str(e).splitlines()[0][:300]}")
        print(f"[gpu bench] {label}: {res['variants'][label]}", flush=True)
        save()
    eager = res["variants"].get("eager", {}).get("s_per_epoch")
    fast = sorted((v["s_per_epoch"], k) for k, v in res["variants"].items()
                  if k != "eager" and "s_per_epoch" in v and eager and v["s_per_epoch"] <= 0.9 * eager)
    if fast:
        best = fast[0][1]
        need = len(a.acc_seeds) * a.acc_epochs * (eager + res["variants"][best]["s_per_epoch"]) + 10
        if need > left():
            res["skipped"].append(f"accuracy check: needs ~{need:.0f} s, {left():.0f} s left")
        else:
            acc = {"eager": [], best: []}
            for seed in a.acc_seeds:
                for label, mode in (("eager", None), (best, res["variants"][best]["compile"])):
                    torch.manual_seed(seed)
                    m = models.build("resnet9", width=a.width)
                    train(m, tr, recipe="fast", epochs=a.acc_epochs, batch_size=bs, device=dev, seed=seed,
                          progress=False, compile=mode)
                    acc[label].append(float((predict_logits(m, te).argmax(1) == te.y).float().mean()))
            diff = sum(acc[best]) / len(acc[best]) - sum(acc["eager"]) / len(acc["eager"])
            res["accuracy"] = dict(epochs=a.acc_epochs, seeds=a.acc_seeds, test_acc=acc, mean_diff=diff,
                                   equivalent=abs(diff) <= EQUIVALENT_ACC)
            if abs(diff) <= EQUIVALENT_ACC:
                res["recommended_compile"] = res["variants"][best]["compile"]
            print(f"[gpu bench] accuracy, {a.acc_epochs} epochs: {acc} (mean diff {diff:+.4f})", flush=True)
    best_s = min((v["s_per_epoch"] for v in res["variants"].values() if "s_per_epoch" in v), default=None)
    res["best_s_per_epoch"] = best_s
    res["meets_target"] = best_s is not None and best_s <= TARGET_S_PER_EPOCH
    save()
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
