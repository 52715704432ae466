"""Tests of eels_helpers.profiles: the one definition of the three run scales."""

from __future__ import annotations

import pytest

from eels_helpers.profiles import DEFAULT_PROFILE, PROFILES, Profile, get_profile, validate_profile


def test_the_three_profiles():
    assert list(PROFILES) == ["smoke", "cpu", "paper"]
    assert DEFAULT_PROFILE == "cpu"
    assert get_profile("paper").device == "cuda"
    assert get_profile("cpu").device == get_profile("smoke").device == "cpu"
    for name, p in PROFILES.items():
        assert p.name == name and p.description
        assert p.shared == {"profile": name, "seed": p.seed, "device": p.device}


@pytest.mark.parametrize("bad", ["gpu", "CPU", "", "full"])
def test_unknown_profile_lists_valid_ones(bad):
    with pytest.raises(ValueError, match=r"unknown profile .*; valid profiles: smoke, cpu, paper"):
        validate_profile(bad)




@pytest.mark.parametrize("bad, pattern", [
    (dict(device="tpu"), "device"),
    (dict(dataset_scale=0.0), "dataset_scale"),
    (dict(model_config="huge"), "model_config"),
    (dict(steps_per_epoch=0), "steps_per_epoch must be an integer >= 1"),
    (dict(steps_per_epoch_by_model={"vit": 0}), r"steps_per_epoch_by_model\['vit'\]"),
    (dict(num_threads=0), "num_threads"),
])
def test_profile_validation_names_the_field(bad, pattern):
    args = dict(name="x", description="x", device="cpu", dataset_scale=0.1, model_config="cpu",
                steps_per_epoch=10, max_epochs=2)
    with pytest.raises(ValueError, match=pattern):
        Profile(**{**args, **bad})


def test_every_stage_reads_the_profile():
    """The dataset scale, model configuration, schedule and device come from one Profile."""
    from eels_helpers.datasets.config import DatasetConfig
    from eels_helpers.training.config import TrainConfig

    for name, p in PROFILES.items():
        assert DatasetConfig.from_profile(name).scale == p.dataset_scale
        for arch in ("mlp", "unet", "vit"):
            cfg = TrainConfig.from_profile(name, model=arch)
            assert (cfg.model_config, cfg.steps_per_epoch, cfg.max_epochs, cfg.num_threads) == (
                p.model_config, p.steps_for(arch), p.max_epochs, p.num_threads)
    assert get_profile("cpu").steps_for("unet") < get_profile("cpu").steps_for("vit") < get_profile("cpu").steps_for("mlp")
