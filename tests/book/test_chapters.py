"""Tests of eels_helpers.book.chapters: Chapter validation, the agreement of the registry with
notebooks/ and _toc.yml, and of every notebook's parameter defaults with the cpu profile."""

from __future__ import annotations

import ast

import pytest

from eels_helpers.book import chapters
from eels_helpers.book.build import toc_chapters
from eels_helpers.book.chapters import (
    CPU_BOOK_BUDGET_MINUTES,
    REGISTRY,
    Chapter,
    chapter_parameters,
    get_chapter,
)
from eels_helpers.book.runner import notebook_parameters, resolve_parameters
from eels_helpers.profiles import PROFILES


def test_chapter_parameters_merge_shared_and_own():
    ch = Chapter("05_x", "x", smoke={"n": 1}, cpu={"n": 2}, paper={"n": 3})
    assert ch.parameters("cpu") == {"profile": "cpu", "seed": 0, "device": "cpu", "n": 2}
    # only the shared parameters the notebook declares
    assert ch.parameters("paper", declared={"n", "device"}) == {"device": "cuda", "n": 3}
    with pytest.raises(TypeError):
        ch.cpu["n"] = 5  # frozen
    with pytest.raises(ValueError, match="unknown profile"):
        ch.params("gpu")


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(name="simulation"), "two digits"),
        (dict(name="03_Simulation"), "two digits"),
        (dict(smoke={"n": 1}, cpu={}, paper={"n": 3}), r"profile 'cpu' does not set \['n'\]"),
        (dict(smoke={"seed": 1}, cpu={"seed": 1}, paper={"seed": 1}), "shared parameter"),
        (dict(smoke={"1n": 1}, cpu={"1n": 1}, paper={"1n": 1}), "not a valid parameter name"),
        (dict(smoke={"n": float("nan")}, cpu={"n": 1.0}, paper={"n": 1.0}), "nan"),
        (dict(smoke={"n": object()}, cpu={"n": 1}, paper={"n": 1}), "has type object"),
        (dict(budget_minutes={"gpu": 1}), "unknown profile"),
        (dict(budget_minutes={"cpu": 0}), r"budget_minutes\['cpu'\] must be in"),
    ],
)
def test_chapter_validation(kwargs, pattern):
    args = dict(name="03_simulation", title="t")
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=pattern):
        Chapter(**args)


def test_get_chapter_unknown_lists_registered():
    with pytest.raises(ValueError, match="registered chapters: 01_introduction"):
        get_chapter("99_nope")
    assert chapter_parameters("01_introduction", "smoke")["profile"] == "smoke"


# ----------------------------------------------------------------------------- the registry
def test_registry_agrees_with_toc_and_notebooks(repo_root):
    assert toc_chapters(repo_root) == list(REGISTRY), "_toc.yml and chapters._CHAPTERS differ"
    for name, ch in REGISTRY.items():
        assert (repo_root / "notebooks" / f"{ch.notebook}.ipynb").is_file(), name


@pytest.mark.parametrize("name", list(REGISTRY))
def test_registered_parameters_are_declared(repo_root, name):
    declared = notebook_parameters(repo_root / "notebooks" / f"{REGISTRY[name].notebook}.ipynb")
    assert "profile" in declared, f"{name}: declare `profile` in the parameters cell"
    for profile in PROFILES:
        params, _ = resolve_parameters(REGISTRY[name], profile, declared)  # raises on typos
        assert params["profile"] == profile


def test_budgets():
    """Every chapter states its smoke and cpu budgets; the cpu book fits in 90 minutes."""
    for name, ch in REGISTRY.items():
        assert {"smoke", "cpu"} <= set(ch.budget_minutes), f"{name}: set budget_minutes"
        assert ch.budget_minutes["smoke"] <= 2.0, f"{name}: smoke must take seconds"
    total = sum(ch.budget_minutes["cpu"] for ch in REGISTRY.values())
    assert total <= CPU_BOOK_BUDGET_MINUTES, f"cpu budgets add up to {total} min > 90 min"


def test_chapters_module_is_light():
    """`eels-id --help` imports the book command: no heavy imports at module level."""
    import subprocess
    import sys

    code = ("import sys, eels_helpers.cli.book, eels_helpers.book.runner, eels_helpers.book.build; "
            "heavy = [m for m in ('torch', 'matplotlib', 'papermill', 'nbformat', 'numpy') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert chapters.__doc__


@pytest.mark.parametrize("name", [n for n, ch in REGISTRY.items() if ch.source is None or n.endswith("_vit")])
def test_notebook_defaults_equal_the_cpu_profile(repo_root, name):
    """A notebook run by hand (no papermill) computes what the cpu book computes: every default
    of its parameters cell equals the registry's cpu value, the shared ones included. (For
    chapter 04, whose notebook defaults to the ViT, the ViT page is the one compared.)"""
    chapter = REGISTRY[name]
    declared = notebook_parameters(repo_root / "notebooks" / f"{chapter.notebook}.ipynb")
    expected = chapter.parameters("cpu", declared=set(declared))
    defaults = {k: ast.literal_eval(v["default"]) for k, v in declared.items() if k in expected}
    assert defaults == expected, f"notebooks/{chapter.notebook}.ipynb defaults differ from the cpu profile"


@pytest.mark.parametrize("notebook, gos", [("06_spectrum_image_mapping", "gos"), ("09_hyperspy_workflow", "si_gos")])
def test_the_superlattice_chapters_use_the_training_physics(repo_root, notebook, gos):
    """Chapters 06 and 09 build the superlattice that `eels-id map superlattice` and `eels-id evaluate
    --superlattices` build: their parameters' defaults are TRAINING_PHYSICS (one definition, D40)."""
    from eels_helpers.simulation.superlattice import TRAINING_PHYSICS

    declared = notebook_parameters(repo_root / "notebooks" / f"{notebook}.ipynb")
    physics = {"gos": ast.literal_eval(declared[gos]["default"]),
               "white_lines": ast.literal_eval(declared["white_lines"]["default"])}
    assert physics == TRAINING_PHYSICS
