"""Training recipes: every hyper-parameter of a recipe in one dict, and the one function that
applies overrides to it and validates the result (:func:`resolve_recipe`)."""
from __future__ import annotations

import math

# Every hyper-parameter of a recipe lives here; `train(..., **overrides)` may replace any of them.
RECIPES = {
    # The authors' run script for ResNet9 (spec, "The training recipe"): Adam with its L2-style
    # weight decay, one-cycle schedule stepped per batch, batch 500, 50 epochs; their augmentation
    # (spec, "Checked against the authors' published code"): reflect-padded crop, flip, +-20 deg.
    "authors": dict(optimizer="adam", lr=3.2e-3, weight_decay=1e-3, epochs=50, batch_size=500,
                    pct_start=0.3, label_smoothing=0.0, crop_pad=4, flip=True, pad_mode="reflect",
                    rotate_deg=20.0, version=2),
    # Ours: the same optimiser family (so the gap means the same thing), a shorter cycle.
    # A larger peak lr and an earlier peak make up for the 3x fewer steps; tuned on the GPU
    # benchmark (benchmarks/gpu.py), see README "Performance".
    "fast": dict(optimizer="adam", lr=4e-3, weight_decay=1e-3, epochs=15, batch_size=500,
                 pct_start=0.25, label_smoothing=0.0, crop_pad=4, flip=True, pad_mode="zeros",
                 rotate_deg=0.0, version=1),
}
# `version` changes whenever a recipe's training changes; rows record it (in their `hp`), so results
# of different versions are never mixed silently.  authors v1 = zero-padded crop + flip, v2 = the
# authors' own augmentation (reflect padding, +-20 deg rotation).  fast is unchanged since v1.
PAD_MODES = ("zeros", "reflect")
# Settings a recipe dict written before they existed did not have, and what it then meant.
_LEGACY_DEFAULTS = dict(pad_mode="zeros", rotate_deg=0.0)


def resolve_recipe(recipe: str | dict, **overrides) -> dict:
    """The recipe dict with overrides applied (None values are ignored); validated.

    A custom dict without ``pad_mode`` / ``rotate_deg`` gets zero padding and no rotation (what
    such dicts meant before these settings existed).  ``version`` is bookkeeping, not a setting.
    """
    if isinstance(recipe, str):
        if recipe not in RECIPES:
            raise ValueError(f"unknown recipe {recipe!r}; known recipes: {', '.join(RECIPES)}")
        hp = dict(RECIPES[recipe], name=recipe)
    else:
        hp = dict(recipe)
        hp.setdefault("name", "custom")
    for k, v in _LEGACY_DEFAULTS.items():
        hp.setdefault(k, v)
    for k, v in overrides.items():
        if v is None:
            continue
        if k not in RECIPES["authors"] or k == "version":
            raise ValueError(f"unknown recipe setting {k!r}; settings: {', '.join(RECIPES['authors'])}")
        hp[k] = v
    for k in ("epochs", "batch_size"):
        if int(hp[k]) != hp[k] or hp[k] < 1:
            raise ValueError(f"{k} must be a positive int; got {hp[k]}")
    if hp["optimizer"] not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd'; got {hp['optimizer']!r}")
    for k in ("lr", "weight_decay", "crop_pad", "label_smoothing", "pct_start"):
        if not hp[k] >= 0:
            raise ValueError(f"{k} must be >= 0; got {hp[k]}")
    if hp["pad_mode"] not in PAD_MODES:
        raise ValueError(f"pad_mode must be one of {PAD_MODES}; got {hp['pad_mode']!r}")
    if isinstance(hp["rotate_deg"], bool) or not (0 <= hp["rotate_deg"] < math.inf):  # also refuses NaN
        raise ValueError(f"rotate_deg must be a finite number >= 0 (0 = no rotation); got {hp['rotate_deg']!r}")
    return hp
