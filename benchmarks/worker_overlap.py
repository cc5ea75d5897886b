"""How much several worker processes on one device gained, read from the unit rows they wrote.

    python benchmarks/worker_overlap.py [--profile gpu] [--out benchmarks/results/worker_overlap_gpu.txt]

Every unit trained by an executor records ``worker_span`` (wall-clock start and end on its
worker).  For the units of one executor run (``executor == "processes"``), this prints how many
ran at once on average, the mean time of one unit, and the throughput: seconds of wall time per
finished unit, against the mean unit time -- the ratio is the speed-up over one unit at a time
*if* a lone unit takes what these units took divided by their overlap.  It is a reading of rows
written by a real run, not a new measurement; the comparison is only fair between units of
similar size (here: width-64 ResNet9s and the other architectures of the gpu profile).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="gpu")
    ap.add_argument("--executor", default="processes")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    rows = [json.loads(p.read_text()) for p in sorted((ROOT / "runs" / a.profile / "units" / "rows").glob("*.json"))]
    rows = [r for r in rows if r.get("executor") == a.executor and r.get("worker_span")]
    if not rows:
        text = f"no unit rows of executor {a.executor!r} in runs/{a.profile}/units"
    else:
        spans = sorted((float(r["worker_span"][0]), float(r["worker_span"][1])) for r in rows)
        t0, t1 = spans[0][0], max(e for _, e in spans)
        busy = sum(e - s for s, e in spans)
        wall = t1 - t0
        by_arch: dict = {}
        for r in rows:
            by_arch.setdefault(r["arch"], []).append(float(r["worker_span"][1]) - float(r["worker_span"][0]))
        hw = sorted({r["env"]["hardware"] for r in rows})
        lines = [f"profile {a.profile}, executor {a.executor}, hardware {', '.join(hw)}: {len(rows)} units",
                 f"wall time from the first start to the last end: {wall:.1f} s",
                 f"mean units running at once: {busy / wall:.2f}",
                 f"mean time of one unit (start to end on its worker): {busy / len(rows):.1f} s",
                 f"wall seconds per finished unit: {wall / len(rows):.1f} s",
                 "per architecture, mean unit time: " + ", ".join(
                     f"{k} {sum(v) / len(v):.1f} s (n={len(v)})" for k, v in sorted(by_arch.items())),
                 "train_wall_time_s of the same units (training only, as timed by the trainer): mean "
                 f"{sum(r['train_wall_time_s'] for r in rows) / len(rows):.1f} s"]
        text = "\n".join(lines)
    if a.out:
        Path(a.out).write_text(text + "\n")
    print(text)
    return text


if __name__ == "__main__":
    main()
