"""The forest plot: per claim and profile, the paired gain in test accuracy (points) with its
Holm-adjusted interval, and the zero line -- one axis for every regime."""
from __future__ import annotations

import numpy as np

from .claims import CLAIMS
from .verdicts import headline

MARKERS = {"supported": "o", "contradicted": "X", "inconclusive": "D"}


def _tick(c, h) -> str:
    """A claim's row label; one whose every row is another claim's comparison (T at the profile's own
    length is claim 1's pairs) says so, so the plot does not read as two findings."""
    if not c.same_pairs_as:
        return c.tag
    mine, other = h[h["claim"] == c.id], h[h["claim"] == c.same_pairs_as].set_index("profile")
    same = all(p in other.index and (r["mean"], r["n"]) == (other.loc[p, "mean"], other.loc[p, "n"])
               for p, r in mine.set_index("profile").iterrows())
    return f"{c.tag} (≡ {next(x.tag for x in CLAIMS if x.id == c.same_pairs_as)})" if same and len(mine) else c.tag


def plot_forest(h=None):
    """A matplotlib figure of :func:`headline` (claim 2's optimum, not a difference, is left out)."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    sns.set_theme(style="whitegrid", context="notebook")
    h = headline() if h is None else h
    tests = [c for c in CLAIMS if c.kind != "optimum" and not h.empty and (h["claim"] == c.id).any()]
    profiles = list(dict.fromkeys(h["profile"])) if not h.empty else []
    fig, ax = plt.subplots(figsize=(11, 0.6 * max(len(tests), 1) + 1.8))
    step = 0.8 / max(len(profiles), 1)
    for j, p in enumerate(profiles):
        for i, c in enumerate(tests):
            r = h[(h["claim"] == c.id) & (h["profile"] == p)]
            if r.empty:
                continue
            r = r.iloc[0]
            y = i + (j - (len(profiles) - 1) / 2) * step
            v = r["verdict"] if r["verdict"] in MARKERS else "inconclusive"
            if np.isfinite(r["lo"]):
                ax.plot([100 * r["lo"], 100 * r["hi"]], [y, y], color=f"C{j}", lw=2)
            ax.plot(100 * r["mean"], y, MARKERS[v], color=f"C{j}", ms=7,
                    mfc=f"C{j}" if np.isfinite(r["lo"]) else "white")
            if r["cell"] and r.get("cells", 1) > 1:  # which size / architecture is the weakest, per profile
                ax.annotate(str(r["cell"]), (100 * r["mean"], y), xytext=(6, 2), textcoords="offset points",
                            fontsize=7, color=f"C{j}")
    ax.axvline(0, color="k", lw=1)
    ax.set_yticks(range(len(tests)), [_tick(c, h) for c in tests], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("treatment − control, test accuracy (percentage points)\nbars: Holm-adjusted 95 % interval")
    handles = [plt.Line2D([], [], color=f"C{j}", lw=2, label=p) for j, p in enumerate(profiles)]
    handles += [plt.Line2D([], [], ls="none", marker=m, color="grey", label=v) for v, m in MARKERS.items()]
    handles.append(plt.Line2D([], [], ls="none", marker="D", mfc="white", color="grey", label="n < 2 (no interval)"))
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig
