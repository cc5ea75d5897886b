"""What "refused before any work" is checked on: the listing of a folder, and one clear message."""
from pathlib import Path


def listing(root: Path):
    """Every path under root with its size and mtime (None if root does not exist)."""
    if not root.exists():
        return None
    return sorted((str(p.relative_to(root)), p.is_dir(), 0 if p.is_dir() else p.stat().st_size,
                   0 if p.is_dir() else p.stat().st_mtime_ns) for p in root.rglob("*"))


def refused(rc: int, err: str, *needles: str, code: int = 2) -> None:
    """Exit ``code``, one line on stderr naming every needle, no traceback."""
    assert rc == code, err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    for n in needles:
        assert n in err, err
