"""Tests of dboost.recipes: overrides, validation and the augmentation settings of a recipe."""
import pytest

from dboost.recipes import RECIPES, resolve_recipe


def test_resolve_recipe():
    hp = resolve_recipe("authors", epochs=3, lr=None)
    assert hp["epochs"] == 3 and hp["lr"] == RECIPES["authors"]["lr"] and hp["name"] == "authors"
    assert RECIPES["authors"]["epochs"] == 50  # the override did not leak into the table
    assert resolve_recipe(dict(RECIPES["fast"]))["name"] == "custom"
    spec = RECIPES["authors"]  # spec: Adam, lr 0.0032, wd 1e-3, batch 500, 50 epochs, crop 4 + flip
    assert (spec["optimizer"], spec["lr"], spec["weight_decay"], spec["batch_size"], spec["crop_pad"], spec["flip"]) \
        == ("adam", 3.2e-3, 1e-3, 500, 4, True)
    # the authors' code: reflect-padded crop and RandomRotation(20); a new version of the recipe
    assert (spec["pad_mode"], spec["rotate_deg"], spec["version"]) == ("reflect", 20.0, 2)
    fast = RECIPES["fast"]    # unchanged since version 1
    assert (fast["pad_mode"], fast["rotate_deg"], fast["version"]) == ("zeros", 0.0, 1)


def test_resolve_recipe_augmentation_settings():
    hp = resolve_recipe("fast", pad_mode="reflect", rotate_deg=15)
    assert (hp["pad_mode"], hp["rotate_deg"], hp["version"]) == ("reflect", 15, 1)
    old = {k: v for k, v in RECIPES["fast"].items() if k not in ("pad_mode", "rotate_deg", "version")}
    hp = resolve_recipe(old)          # a custom dict from before these settings: zeros, no rotation
    assert (hp["pad_mode"], hp["rotate_deg"]) == ("zeros", 0.0) and "version" not in hp
    for bad in (dict(pad_mode="edge"), dict(pad_mode="Reflect"), dict(rotate_deg=-1.0),
                dict(rotate_deg=float("nan")), dict(rotate_deg=float("inf")), dict(version=3)):
        with pytest.raises(ValueError):
            resolve_recipe("authors", **bad)
    with pytest.raises(ValueError, match="pad_mode"):
        resolve_recipe(dict(RECIPES["fast"], pad_mode="circular"))
