"""What a book page reads: an experiment's stored rows and its profile's settings -- no torch, no data set.

Every notebook in ``book/notebooks/`` starts with::

    page = pages.load("gap_sweep", profile)   # the rows in runs/<profile>/gap_sweep/, the profile's settings
    df = page.rows
    display(Markdown(page.header()))           # provenance, what of the plan is stored, the smoke banner
    page.skip_rest_if_empty()

Training happens in the runner (:mod:`dboost.runner`) before the pages are executed; a page only
reads ``runs/``.  So rendering a page on a machine with no rows trains nothing: it says so
(:meth:`Page.status`) and the rest of the page runs as no-ops (:meth:`Page.skip_rest_if_empty`).
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from . import registry
from .analysis.rows import rows as _rows
from .config import PROFILES, Profile
from .render.provenance import provenance, rerun_command, smoke_warning


@dataclass(frozen=True)
class Page:
    experiment: str
    profile: str
    p: Profile            # the profile's settings as defined (a page takes no overrides)
    rows: pd.DataFrame    # every stored row of the experiment (nested fields joined by "_")

    @property
    def empty(self) -> bool:
        return self.rows.empty

    def rerun_command(self) -> str:
        return rerun_command(self.profile, self.experiment)

    def planned_seeds(self) -> list[int]:
        """The seeds the profile plans for this experiment (the settings named in its registration)."""
        return sorted({int(s) for k in registry.get(self.experiment).seeds for s in (self.p[k] or ())})

    def status(self) -> str:
        """One Markdown paragraph: where the rows come from and what of the plan they cover, or that
        there are none yet.  Counts seeds only: how many units a seed needs can depend on results
        (an adaptive grid, a length probe), which a page does not recompute."""
        if self.experiment not in self.p["experiments"]:
            return (f"**No results** for profile `{self.profile}`: the experiment `{self.experiment}` is not part of "
                    f"it (its experiments: {', '.join(self.p['experiments'])}).")
        if self.empty:
            return (f"**No results yet** for profile `{self.profile}`: run `{self.rerun_command()}`.")
        stored = sorted({int(s) for s in self.rows["seed"]}) if "seed" in self.rows else []
        planned = self.planned_seeds()
        cover = ""
        if planned:
            missing = [s for s in planned if s not in stored]
            cover = (f"; seeds with rows: {_list(stored)} (the profile's own: {_list(planned)}"
                     + (f", {len(missing)} of them without rows yet)" if missing else ")"))
        if {"members", "rule", "seed"} <= set(self.rows.columns):  # boosting: how far each seed's chains got
            longest = self.rows.groupby(["seed", "rule"])["members"].max().groupby("seed").min()
            if longest.nunique() > 1:
                cover += ("; members on every rule, per seed: "
                          + ", ".join(f"seed {int(s)}: {int(m)}" for s, m in longest.items()))
        return (f"**Rendered from the {len(self.rows)} rows stored in `runs/{self.profile}/{self.experiment}/`**: "
                f"tables and verdicts cover the rows present{cover}. `{self.rerun_command()}` trains what the "
                "profile asks for and is not stored (a run still going, or seeds added since).")

    def header(self) -> str:
        """The page's opening Markdown: what produced the rows (and the command that reruns them),
        :meth:`status`, and the smoke banner where the rows are only the pipeline check."""
        parts = [provenance(self.rows)] if not self.empty else []
        parts += [self.status(), smoke_warning(self.rows)]
        return "\n\n".join(x for x in parts if x)

    def skip_rest_if_empty(self) -> None:
        """With no rows, make every later cell of this notebook a no-op (it would only draw empty
        figures or fail on missing columns); the page then shows :meth:`status` and its text."""
        if not self.empty:
            return
        try:
            from IPython import get_ipython
        except ImportError:
            return
        ip = get_ipython()
        if ip is not None and _skip_cell not in ip.input_transformers_post:
            ip.input_transformers_post.append(_skip_cell)


def _skip_cell(lines: list[str]) -> list[str]:
    return ["pass  # no results yet for this page's profile: nothing to compute\n"]


def _list(seeds: list[int]) -> str:
    return ", ".join(map(str, seeds)) if seeds else "none"


def load(experiment: str, profile: str) -> Page:
    """The page of ``experiment`` at ``profile``: its stored rows and the profile's settings.
    An unknown profile or experiment is one clear error."""
    if not isinstance(profile, str) or profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known profiles: {', '.join(PROFILES)}")
    registry.get(experiment)
    return Page(experiment, profile, PROFILES[profile], _rows(experiment, profile))
