"""TrainConfig: validation at construction and the schedule of a profile."""

import pytest

from eels_helpers.training.config import TrainConfig


def test_config_validation_names_the_parameter():
    with pytest.raises(ValueError, match="model must be one of"):
        TrainConfig(model="lstm")
    with pytest.raises(ValueError, match="learning_rate"):
        TrainConfig(learning_rate=0)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        TrainConfig(steps_per_epoch=0)
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="int8")
    with pytest.raises(ValueError, match="profile"):
        TrainConfig.from_profile("laptop")
    assert TrainConfig.from_profile("paper").steps_per_epoch == 1000



def test_recalibration_batches_must_be_a_count():
    with pytest.raises(ValueError, match="recalibration_batches must be"):
        TrainConfig(recalibration_batches=-1)


def test_simulation_and_init_from_are_checked():
    with pytest.raises(ValueError, match="simulation must be one of paper, open-world"):
        TrainConfig(simulation="closed-world")
    with pytest.raises(ValueError, match="init_from must be None or a model file"):
        TrainConfig(init_from="")
    assert TrainConfig().simulation == "paper" and TrainConfig().init_from is None


def test_query_weights_are_checked_and_default_to_the_uniform_draw():
    assert TrainConfig().query_weights == {}
    assert TrainConfig(query_weights={"Sc": 2.0}).query_weights == {"Sc": 2.0}
    with pytest.raises(ValueError, match="query_weights: unknown element symbols"):
        TrainConfig(query_weights={"Xy": 1.0})
    with pytest.raises(ValueError, match="query_weights must be a dict"):
        TrainConfig(query_weights=[("Sc", 2.0)])
