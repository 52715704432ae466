"""The interactive simulator (eels_helpers.simulation.interactive): formulas, one control per
Table 1 row, live redraw."""

import dataclasses

import pytest

from eels_helpers.simulation.config import SimulationConfig
from eels_helpers.simulation.interactive import interactive_simulator, specimen_from_formula

CFG = SimulationConfig(E0_keV=(200.0,))


def test_specimen_from_formula():
    spec = specimen_from_formula("TiO2")
    assert spec.elements == ("Ti", "O") and spec.fractions == pytest.approx((1 / 3, 2 / 3))
    assert spec.query == "Ti" and specimen_from_formula("TiO2", "O").query == "O"
    with pytest.raises(ValueError, match="formula"):
        specimen_from_formula("tio2")


def test_interactive_simulator():
    import matplotlib
    matplotlib.use("Agg")
    import ipywidgets as W
    import matplotlib.pyplot as plt

    ui = interactive_simulator(CFG, "TiO2")
    assert isinstance(ui, W.VBox)

    def walk(w):
        yield w
        for c in getattr(w, "children", ()):
            yield from walk(c)

    descriptions = {getattr(w, "description", "") for w in walk(ui)}
    # one control per Table 1 row that a user can change (dispersion and 0-3071 eV are fixed)
    for f in dataclasses.fields(SimulationConfig):
        if f.name in ("dispersion_eV", "n_channels"):
            continue
        label = f.metadata["label"]
        assert any(d.startswith(label) for d in descriptions), label
    # live redraw: a bad formula is reported, a good one clears the message
    widgets = list(walk(ui))
    status = next(w for w in widgets if isinstance(w, W.HTML))
    formula = next(w for w in widgets if getattr(w, "description", "") == "Specimen formula")
    jump = next(w for w in widgets if getattr(w, "description", "").startswith("Jump-ratio"))
    formula.value = "Qq2"
    assert "Qq" in status.value
    formula.value = "SiC"
    jump.value = (1.0, 1.0)
    assert status.value == ""
    plt.close("all")


def test_bad_arguments_raise_where_they_are_given():
    """A user's walk-through (session 52): from a script, a bad formula or seed only reached a hidden
    status widget, and a configuration's name failed with an AttributeError."""
    from eels_helpers.simulation.config import ConfigError

    with pytest.raises(ValueError, match="xyz"):
        interactive_simulator(formula="xyz")
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
        interactive_simulator(seed=-1)
    with pytest.raises(ConfigError, match="unknown simulator configuration 'open-wrld'"):
        interactive_simulator(config="open-wrld")
    with pytest.raises(TypeError, match="config must be a SimulationConfig"):
        interactive_simulator(config=3)
    panel = interactive_simulator(config="open-world", formula="TiO2")   # a name, as --simulation takes
    assert panel.children
