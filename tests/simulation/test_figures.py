"""Figures of the simulator (eels_helpers.simulation.figures): Fig. 2 panels and the gallery."""

import numpy as np
import pytest

from eels_helpers.simulation.config import SimulationConfig
from eels_helpers.simulation.pipeline import simulate_batch
from eels_helpers.simulation.specimens import Specimen

CFG = SimulationConfig(E0_keV=(200.0,))
SPECIMENS = [Specimen(("Ti", "O"), (1 / 3, 2 / 3), "Ti"), Specimen(("Fe", "O"), (0.4, 0.6), "Fe")]


def test_plot_steps_and_gallery():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from eels_helpers.simulation.figures import plot_gallery, plot_spectrum, plot_steps

    b = simulate_batch(SPECIMENS, CFG, np.random.default_rng(0), return_steps=True)
    fig = plot_steps(b, 0)
    assert len(fig.axes) == 6
    assert len(plot_gallery(b, ncols=2).axes) == 2
    ax = plot_spectrum(b, 1)
    # one dashed marker per edge family inside the window, and the labels in the title
    n_edges = int(b.params["n_edges"][1])
    assert len([ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]) == n_edges
    assert "Fe" in ax.get_title() and "O" in ax.get_title()
    plt.close("all")


def test_plot_steps_needs_the_steps():
    from eels_helpers.simulation.figures import plot_steps

    b = simulate_batch(SPECIMENS[:1], CFG, np.random.default_rng(0))
    with pytest.raises(ValueError, match="return_steps=True"):
        plot_steps(b, 0)


def test_plot_edge_shapes_one_panel_per_element_and_configuration():
    from eels_helpers.simulation.figures import plot_edge_shapes

    fig = plot_edge_shapes(("N", "Sc"), ("paper", "open-world-elnes"), n=2)
    assert len(fig.axes) == 4 and fig.axes[3].get_title() == "Sc, open-world-elnes"
    assert all(len(ax.lines) == 2 for ax in fig.axes)
    fig.clf()
    with pytest.raises(ValueError, match="window_eV"):
        plot_edge_shapes(window_eV=(600, 380))
