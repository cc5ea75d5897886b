"""Measured training time of the stored units, per CPU/GPU model and thread count: what a rerun of a
profile costs on a given machine (read from the rows, not timed here).

    python benchmarks/unit_times.py [--profile interp] [--out benchmarks/results/unit_times_interp.txt]

One line per (hardware, threads, training images, epochs): how many units, the median and the range
of their training wall time (``train_wall_time_s``).  Units trained while another process shared the
cores are slower than on an idle machine; the range shows it.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from dboost.analysis.rows import runs_root


def table(profile: str) -> pd.DataFrame:
    recs = []
    for f in sorted((runs_root() / profile / "units" / "rows").glob("*.json")):
        r = json.loads(f.read_text())
        env = r.get("env", {})
        recs.append(dict(hardware=env.get("hardware", "?"), threads=env.get("cpu_threads"),
                         images=r.get("n_train"), epochs=r.get("epochs"), s=r.get("train_wall_time_s")))
    d = pd.DataFrame(recs).dropna(subset=["s"])
    if d.empty:
        return d
    g = d.groupby(["hardware", "threads", "images", "epochs"], dropna=False)["s"]
    return pd.DataFrame({"units": g.size(), "median s": g.median().round(0), "min s": g.min().round(0),
                         "max s": g.max().round(0)}).reset_index().sort_values(["images", "epochs", "median s"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="interp")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    text = f"unit training times of profile {a.profile!r} (from runs/{a.profile}/units/rows)\n\n"
    text += table(a.profile).to_string(index=False) + "\n"
    print(text, end="")
    if a.out:
        Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
