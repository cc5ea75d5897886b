"""GPU benchmark: seconds per epoch and seconds to the authors' single-model accuracy.

    DBOOST_DATA=/path/to/cifar10 python benchmarks/gpu.py [--out gpu.json] [--epochs 6 10 15]

Measured side by side in one process on one device (ResNet9 width 64, frozen head):
  * dboost's trainer (uint8 data on the GPU, batched augmentation, bf16, channels_last);
  * the plain loop (per-sample torchvision transforms, DataLoader with worker processes);
  * the ceiling (forward + backward + step on ready tensors);
  * the ``fast`` recipe at several epoch budgets: final test accuracy and wall time, i.e. the
    epochs/accuracy trade-off and the time to 91.6 % (the authors' 50-epoch single model).
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

# Candidate variants of the fast recipe for `--candidates` (overrides of dboost.train.RECIPES["fast"]).
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
    a = ap.parse_args()
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


if __name__ == "__main__":
    main()
