"""The stored rows of an experiment, read as plain JSON (no torch: ``dboost.results`` needs it to
write rows and cached tensors, reading them needs nothing but the files)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from ..config import PROFILE_RANK

# Best first: the poster's regime before scale (the profiles' own order, dboost.config: no torch).
PROFILE_ORDER = PROFILE_RANK


def runs_root() -> Path:
    """``$DBOOST_RUNS`` or ``runs/`` at the repository root (as ``dboost.results.runs_root``)."""
    env = os.environ.get("DBOOST_RUNS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "runs"


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: damaged row ({e}); delete it to retrain that model") from None


def row_list(experiment: str, profile: str) -> list[dict]:
    """Every row of ``runs/<profile>/<experiment>/rows/`` of that profile, as stored."""
    out = []
    for path in sorted((runs_root() / profile / experiment / "rows").glob("*.json")):
        r = _read(path)
        if isinstance(r, dict) and r.get("profile") == profile:
            out.append(r)
    return out


def unit_row(profile: str, key: str) -> dict | None:
    """The row of unit ``key`` of ``profile`` (None if there is none)."""
    path = runs_root() / profile / "units" / "rows" / f"{key}.json"
    return _read(path) if path.exists() else None


def rows(experiment: str, profile: str) -> pd.DataFrame:
    """Every row of ``runs/<profile>/<experiment>/rows/`` (nested fields joined by ``_``: ``test_acc``)."""
    out = row_list(experiment, profile)
    return pd.json_normalize(out, sep="_") if out else pd.DataFrame()


def profiles_with_rows(experiment: str | None = None) -> list[str]:
    """Profiles holding rows of ``experiment`` (None: of any experiment), best first."""
    root = runs_root()
    has = (lambda p: any((root / p / e / "rows").is_dir() and any((root / p / e / "rows").glob("*.json"))
                         for e in ([experiment] if experiment else [d.name for d in (root / p).glob("*")])))
    return [p for p in PROFILE_ORDER if (root / p).is_dir() and has(p)]
