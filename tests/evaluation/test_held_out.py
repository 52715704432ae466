"""The held-out seeds are defined once (eels_helpers.evaluation.held_out): the model release uses
them and the chapters that draw held-out spectra import them instead of retyping the numbers."""

from __future__ import annotations

import json
import re

from eels_helpers.evaluation import held_out


def test_release_uses_the_held_out_seeds():
    from eels_helpers.training import release

    assert (release.VALIDATION_SEED, release.TEST_SEED) == (held_out.VALIDATION_SEED, held_out.TEST_SEED)
    seeds = {held_out.VALIDATION_SEED, held_out.TEST_SEED, held_out.SINGLE_ELEMENT_SEED}
    assert len(seeds) == 3 and min(seeds) > 1000      # distinct, and far from the seeds of training runs


def test_chapters_import_the_seeds_instead_of_retyping_them(repo_root):
    literal = re.compile(r"seed\s*\+\s*[0-9]")
    for name in ("04_train_architecture", "08_ensemble_confusion"):
        nb = json.loads((repo_root / "notebooks" / f"{name}.ipynb").read_text())
        code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        assert "held_out import" in code, name
        assert "seed + VALIDATION_SEED" in code and "seed + TEST_SEED" in code, name
        assert not literal.search(code), (name, literal.findall(code))
