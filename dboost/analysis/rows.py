"""The stored rows of an experiment, read as plain JSON (no torch: ``dboost.results`` needs it to
write rows and cached tensors, reading them needs nothing but the files)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

# Best first: the poster's regime before scale.  Must equal ``experiments.PROFILE_RANK`` (a test
# holds them together; experiments imports torch, so the order cannot be imported from there).
PROFILE_ORDER = ("paper", "full", "interp", "gpu", "cpu", "paper_authors", "smoke")


def runs_root() -> Path:
    """``$DBOOST_RUNS`` or ``runs/`` at the repository root (as ``dboost.results.runs_root``)."""
    env = os.environ.get("DBOOST_RUNS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "runs"


def rows(experiment: str, profile: str) -> pd.DataFrame:
    """Every row of ``runs/<profile>/<experiment>/rows/`` (nested fields joined by ``_``: ``test_acc``)."""
    out = []
    for path in sorted((runs_root() / profile / experiment / "rows").glob("*.json")):
        try:
            r = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ValueError(f"{path}: damaged row ({e}); delete it to retrain that model") from None
        if isinstance(r, dict) and r.get("profile") == profile:
            out.append(r)
    return pd.json_normalize(out, sep="_") if out else pd.DataFrame()


def profiles_with_rows(experiment: str | None = None) -> list[str]:
    """Profiles holding rows of ``experiment`` (None: of any experiment), best first."""
    root = runs_root()
    has = (lambda p: any((root / p / e / "rows").is_dir() and any((root / p / e / "rows").glob("*.json"))
                         for e in ([experiment] if experiment else [d.name for d in (root / p).glob("*")])))
    return [p for p in PROFILE_ORDER if (root / p).is_dir() and has(p)]
