"""CPU benchmark: one training epoch of dboost's trainer vs the plain loop vs the ceiling.

    DBOOST_DATA=/work/shared/data/cifar10 python benchmarks/cpu.py [--width 16] [--n 5000] [--batch 100] [--repeats 3]

Measured side by side in ONE process, interleaved (the order rotates every round), repeated;
medians are reported.  Every measurement gets a fresh ResNet9 (frozen head) built right after
``torch.manual_seed(0)``, so all start from the same weights.  All loops: same batch size, same
number of steps (n // batch, ragged last batch dropped), Adam (lr 3.2e-3, wd 1e-3), same torch
thread count.  Only the training loop is timed (model/optimiser/DataLoader construction is not;
DataLoader worker start-up is, because a plain epoch pays it).

  * dboost    -- ``dboost.train.train(model, split, epochs=1)``: uint8 data, batched on-device
                 augmentation, OneCycle schedule, channels_last, per-sample gaps (a (n,) tensor:
                 the boosting case; strictly more work than plain cross-entropy).
                 Time = the record's ``wall_time_s`` (the loop only).
  * plain     -- ``baselines.plain_epoch``: Dataset with per-sample torchvision transforms +
                 DataLoader, NCHW.  Run with num_workers 0 AND 2 every round; the faster median
                 is "plain" (on 2 cores the answer depends on load, so it is measured, not assumed).
  * textbook/PIL -- the same loop the way most CIFAR-10 code is written (per-item PIL image,
                 transforms v1); reported, but the targets are against the stronger ``plain``.
  * dboost[bf16] -- dboost's trainer with the opt-in ``precision="bf16"`` autocast; reported
                 apart: the default (and every committed run) is float32 on the CPU.
  * ceiling   -- ``baselines.ceiling_epoch``: bare forward + backward + step on one ready tensor,
                 channels_last (as dboost's trainer uses).
  * ceiling/NCHW -- the same without channels_last: does channels_last help on this CPU?

Targets: dboost >= 1.5x plain, dboost >= 0.85x ceiling (images/s, medians).

The machine may be shared: "other cpu" is the average number of cores busy with processes
other than this one during a measurement (from /proc/stat minus our own CPU time).  Rounds
with other load are noisy; min times (best case) are printed next to the medians.
The report is printed and written to benchmarks/results/cpu.txt (see --out).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from baselines import ceiling_epoch, plain_epoch  # noqa: E402

from dboost import data, models  # noqa: E402
from dboost.train import train  # noqa: E402

TARGET_PLAIN = 1.5
TARGET_CEILING = 0.85


# ----------------------------------------------------------------------------- machine / load

def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _has_bf16() -> bool:
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _busy_jiffies() -> float | None:
    try:
        f = open("/proc/stat").readline().split()[1:]
        v = [float(x) for x in f]
        return v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)  # user nice system irq softirq steal
    except (OSError, ValueError, IndexError):
        return None


class Load:
    """Average cores busy with OTHER processes over a with-block (None where /proc is missing)."""

    HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __enter__(self):
        self.b0, self.t0, self.w0 = _busy_jiffies(), os.times(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        b1, t1, w1 = _busy_jiffies(), os.times(), time.perf_counter()
        self.other = None
        if self.b0 is not None and b1 is not None and w1 > self.w0:
            ours = (t1.user - self.t0.user) + (t1.system - self.t0.system) \
                + (t1.children_user - self.t0.children_user) + (t1.children_system - self.t0.children_system)
            self.other = max(0.0, ((b1 - self.b0) / self.HZ - ours) / (w1 - self.w0))
        return False


# ----------------------------------------------------------------------------- the runs

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--n", type=int, default=5000, help="training images (a class-balanced CIFAR-10 subset)")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch.get_num_threads())")
    ap.add_argument("--out", default=str(HERE / "results" / "cpu.txt"), help="report file ('' = do not write)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    threads = torch.get_num_threads()
    lines: list[str] = []

    def say(s=""):
        print(s, flush=True)
        lines.append(s)

    t_start = time.perf_counter()
    say(f"# dboost CPU benchmark  ({time.strftime('%Y-%m-%d %H:%M:%S')})")
    say(f"machine: {cpu_model()}, {os.cpu_count()} logical cores; torch {torch.__version__}, "
        f"{threads} threads; python {platform.python_version()}")
    say(f"command: python benchmarks/cpu.py --width {a.width} --n {a.n} --batch {a.batch} --repeats {a.repeats}"
        + (f" --threads {a.threads}" if a.threads else ""))
    try:
        split = data.cifar10()[0].subset(a.n)
        src = "CIFAR-10 train, class-balanced subset"
    except FileNotFoundError as e:
        where = "; ".join(x.strip() for x in str(e).splitlines()[1:] if x.strip() and not x.startswith("Fix"))
        say(f"NOTICE: real CIFAR-10 not found (looked in {where}); falling back to dboost.data.synthetic -- "
            "timings are still valid (same shapes), but set DBOOST_DATA for the real thing.")
        split = data.synthetic(a.n, 0)[0]
        src = "synthetic"
    n, bs = len(split), min(a.batch, len(split))
    steps = n // bs
    if steps < 5:
        ap.error(f"--n {n} with --batch {bs} gives {steps} steps; dboost's one-cycle schedule needs >= 5")
    imgs = steps * bs
    gaps = torch.rand(n, generator=torch.Generator().manual_seed(1)) * 4  # per-sample gaps (boosting case)
    say(f"data: {src}, n={n}; resnet9 width {a.width} (frozen head); batch {bs}, {steps} steps/epoch "
        f"({imgs} images), Adam; repeats {a.repeats} (+1 warm-up)")

    def fresh():
        torch.manual_seed(0)
        return models.build("resnet9", width=a.width)

    def run_dboost(split_=split, precision="fp32"):
        r = train(fresh(), split_, epochs=1, batch_size=bs, gaps=gaps[:len(split_)], device="cpu", progress=False,
                  precision=precision)
        assert r["steps"] == len(split_) // bs, r["steps"]
        return r["wall_time_s"]

    methods = {
        "dboost": run_dboost,
        "dboost[bf16]": lambda: run_dboost(precision="bf16"),   # opt-in, not the default: reported apart
        "plain[w=0]": lambda: plain_epoch(fresh(), split, batch_size=bs, device="cpu", workers=0),
        "plain[w=2]": lambda: plain_epoch(fresh(), split, batch_size=bs, device="cpu", workers=2),
        "textbook/PIL": lambda: plain_epoch(fresh(), split, batch_size=bs, device="cpu", workers=0, pil=True),
        "ceiling": lambda: ceiling_epoch(fresh(), n, batch_size=bs, device="cpu", channels_last=True),
        "ceiling/NCHW": lambda: ceiling_epoch(fresh(), n, batch_size=bs, device="cpu", channels_last=False),
    }

    # Warm-up: oneDNN primitive creation for both memory formats, allocator, worker spawn path.
    warm_n = min(n, 5 * bs)
    with Load() as ld:
        t0 = time.perf_counter()
        run_dboost(split.subset(warm_n))
        run_dboost(split.subset(warm_n), precision="bf16")
        plain_epoch(fresh(), split, batch_size=bs, workers=0, max_steps=5)
        plain_epoch(fresh(), split, batch_size=bs, workers=0, max_steps=5, pil=True)
        plain_epoch(fresh(), split, batch_size=bs, workers=2, max_steps=5)
        ceiling_epoch(fresh(), warm_n, batch_size=bs, channels_last=True)
        ceiling_epoch(fresh(), warm_n, batch_size=bs, channels_last=False)
        tw = time.perf_counter() - t0
    say(f"warm-up: {tw:.1f} s" + (f" (other cpu {ld.other:.2f} cores)" if ld.other is not None else ""))

    names = list(methods)
    times: dict[str, list[float]] = {k: [] for k in names}
    other: dict[str, list[float]] = {k: [] for k in names}
    say("")
    say("round  method          seconds   images/s   other cpu")
    for r in range(a.repeats):
        order = names[r % len(names):] + names[:r % len(names)]  # rotate: no method always goes first
        for k in order:
            with Load() as ld:
                t = methods[k]()
            times[k].append(t)
            other[k].append(ld.other if ld.other is not None else float("nan"))
            say(f"{r + 1:>5}  {k:<14} {t:8.2f}  {imgs / t:9.1f}   {ld.other:9.2f}" if ld.other is not None
                else f"{r + 1:>5}  {k:<14} {t:8.2f}  {imgs / t:9.1f}         -")

    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    ips = {k: imgs / med[k] for k in names}
    plain_key = min(("plain[w=0]", "plain[w=2]"), key=lambda k: med[k])

    say("")
    say("method          median s   min s   images/s (median)   images/s (best)")
    for k in names:
        say(f"{k:<14} {med[k]:9.2f} {best[k]:7.2f}   {ips[k]:17.1f}   {imgs / best[k]:15.1f}")
    say(f"plain = {plain_key} (the faster num_workers setting by median)")

    r_plain = ips["dboost"] / ips[plain_key]
    r_ceil = ips["dboost"] / ips["ceiling"]
    r_cl = ips["ceiling"] / ips["ceiling/NCHW"]
    # Paired per-round ratios: the methods of one round ran under similar load.
    pr_plain = statistics.median(min(p0, p2) / d for p0, p2, d in zip(times["plain[w=0]"], times["plain[w=2]"], times["dboost"]))
    pr_ceil = statistics.median(c / d for c, d in zip(times["ceiling"], times["dboost"]))
    say("")
    say(f"dboost / plain   = {r_plain:5.2f}x  (target >= {TARGET_PLAIN}x)   {'PASS' if r_plain >= TARGET_PLAIN else 'FAIL'}"
        f"   [median of per-round ratios: {pr_plain:.2f}x; best-case: {best[plain_key] / best['dboost']:.2f}x]")
    say(f"dboost / ceiling = {r_ceil:5.2f}x  (target >= {TARGET_CEILING}x)  {'PASS' if r_ceil >= TARGET_CEILING else 'FAIL'}"
        f"   [median of per-round ratios: {pr_ceil:.2f}x; best-case: {best['ceiling'] / best['dboost']:.2f}x]")
    r_pil = ips["dboost"] / ips["textbook/PIL"]
    say(f"dboost / textbook PIL loop = {r_pil:5.2f}x  (not the target's baseline: the loop most CIFAR-10 code uses)")
    r_bf = ips["dboost[bf16]"] / ips[plain_key]
    say(f"dboost[bf16] / plain = {r_bf:5.2f}x  (opt-in precision=\"bf16\"; NOT the default and not used by any "
        f"committed run; the CPU {'has' if _has_bf16() else 'lacks'} native bf16 (avx512_bf16/amx))")
    say(f"channels_last vs NCHW (ceiling loop) = {r_cl:5.2f}x images/s  "
        f"-> channels_last {'helps' if r_cl > 1.03 else 'hurts' if r_cl < 0.97 else 'makes no real difference'} on this CPU"
        f"   [best-case: {best['ceiling/NCHW'] / best['ceiling']:.2f}x]")
    all_other = [x for v in other.values() for x in v if x == x]
    if all_other and max(all_other) + threads > (os.cpu_count() or 1) + 0.25:
        say(f"NOTE: other processes used up to {max(all_other):.2f} cores (median {statistics.median(all_other):.2f}) "
            f"during measurements; with {os.cpu_count()} cores and {threads} threads the machine was oversubscribed "
            "and the timings are noisy -- compare the paired and best-case ratios, or rerun when it is idle.")
    say(f"total benchmark time: {time.perf_counter() - t_start:.0f} s")

    if a.out:
        out = Path(a.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines) + "\n")
        print(f"(written to {out})")
    return dict(times=times, median=med, ratio_plain=r_plain, ratio_ceiling=r_ceil, channels_last=r_cl,
                ratio_textbook=r_pil, ratio_bf16=r_bf)


if __name__ == "__main__":
    main()
