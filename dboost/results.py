"""The results store: one JSON file per trained model, written atomically, plus a tidy CSV.

Layout: ``runs/<profile>/<experiment>/rows/<key>.json`` -- one row per trained model or
ensemble size -- and ``runs/<profile>/<experiment>/results.csv``, rebuilt from the rows after
each write.  Every write goes to a temporary file in the same folder and is renamed into place
(``os.replace`` is atomic on POSIX), so a crash or ``kill -9`` leaves either the old file or
the new one, never half of one; a rerun skips every key whose row exists.

Per-member tensors that a resumed boosting run needs (test logits, train margins) go to
``cache/<key>.pt`` beside the rows, loaded with ``weights_only=True``; they are not committed.
"""
from __future__ import annotations

import csv
import io
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import torch


def runs_root() -> Path:
    """``$DBOOST_RUNS`` or ``runs/`` at the repository root (next to the ``dboost`` package)."""
    env = os.environ.get("DBOOST_RUNS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "runs"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}_"))
        elif isinstance(v, (list, tuple)):
            out[f"{prefix}{k}"] = json.dumps(v)
        else:
            out[f"{prefix}{k}"] = v
    return out


_ENV_CACHE: dict = {}


def environment(device=None) -> dict:
    """Hardware, library versions and git commit: recorded in every row."""
    dev = str(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dev not in _ENV_CACHE:
        import torchvision
        hw = torch.cuda.get_device_name(0) if dev.startswith("cuda") else (platform.processor() or platform.machine())
        commit = os.environ.get("DBOOST_GIT_COMMIT")  # set where the tree travels without .git (GPU boxes)
        try:
            commit = commit or subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                    cwd=Path(__file__).parent, timeout=5).stdout.strip() or "unknown"
        except Exception:
            commit = "unknown"
        _ENV_CACHE[dev] = dict(device=dev, hardware=hw, cpu_threads=torch.get_num_threads(),
                               torch=torch.__version__, torchvision=torchvision.__version__,
                               python=platform.python_version(), git_commit=commit)
    return dict(_ENV_CACHE[dev])


class Store:
    """Rows of one experiment of one profile (``experiment="units"``: the trained networks, see
    :mod:`dboost.experiments`)."""

    def __init__(self, profile: str, experiment: str, root: Path | None = None):
        self.dir = Path(root or runs_root()) / profile / experiment
        self.rows_dir = self.dir / "rows"
        self.cache_dir = self.dir / "cache"

    # rows ---------------------------------------------------------------------------
    def has(self, key: str) -> bool:
        return (self.rows_dir / f"{key}.json").exists()

    def get(self, key: str) -> dict | None:
        p = self.rows_dir / f"{key}.json"
        return json.loads(p.read_text()) if p.exists() else None

    def put(self, key: str, row: dict) -> None:
        row = dict(row, key=key, finished_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        atomic_write_text(self.rows_dir / f"{key}.json", json.dumps(row, indent=1, sort_keys=True, default=float))
        self.write_csv()

    def rows(self) -> list[dict]:
        if not self.rows_dir.exists():
            return []
        return [json.loads(p.read_text()) for p in sorted(self.rows_dir.glob("*.json"))]

    def write_csv(self) -> Path:
        flat = [_flatten(r) for r in self.rows()]
        cols: list[str] = []
        for r in flat:
            cols += [k for k in r if k not in cols]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols)
        w.writeheader()
        w.writerows(flat)
        path = self.dir / "results.csv"
        atomic_write_text(path, buf.getvalue())
        return path

    def find(self, **match) -> dict | None:
        """The first row whose fields equal ``match`` (None if none)."""
        for r in self.rows():
            if all(r.get(k) == v for k, v in match.items()):
                return r
        return None

    # per-member tensors ---------------------------------------------------------------
    def save_tensors(self, key: str, **tensors) -> None:
        """Tensors (and plain str/float metadata) for ``key``, atomically; loaded with weights_only=True."""
        buf = io.BytesIO()
        torch.save({k: v.detach().cpu() if isinstance(v, torch.Tensor) else v for k, v in tensors.items()}, buf)
        atomic_write_bytes(self.cache_dir / f"{key}.pt", buf.getvalue())

    def load_tensors(self, key: str) -> dict | None:
        p = self.cache_dir / f"{key}.pt"
        return torch.load(p, weights_only=True) if p.exists() else None
