"""SimulationConfig: defaults = the paper's Table 1, validation errors, Table 1 rendering."""

import dataclasses

import pytest

from eels_helpers.simulation.config import ConfigError, SimulationConfig

# Table 1 of Annys et al. (2023), typed in from the paper (not from our config)
PAPER = {
    "E0_keV": (60, 100, 200, 300), "alpha_mrad": (1, 20), "beta_mrad": (1, 100),
    "dispersion_eV": 1, "start_min_eV": 75, "margin_before_eV": 10, "margin_after_eV": 25,
    "end_max_eV": 3272, "n_channels": 3072, "zlp_fwhm_eV": (1, 3), "plasmon_energy_eV": (3, 20),
    "plasmon_width_eV": (3, 20), "n_plasmons": (2, 5), "t_over_lambda": (0.1, 1),
    "jump_ratio": (0.2, 1.5), "bg_exponent": (2, 4), "bg_amplitude": (1e3, 1e4, 1e5, 1e6, 1e7),
    "fs_width_eV": (50, 100), "fs_degree": (10, 25), "fs_max_scale": 10,
    "atomic_diameter_pm": (25, 250), "chemical_shift_eV": (-5, 5),
    "instrumental_shift_eV": (-5, 5),
}


def test_defaults_are_table1():
    cfg = SimulationConfig()
    for name, value in PAPER.items():
        assert getattr(cfg, name) == pytest.approx(value), name


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SimulationConfig().alpha_mrad = (1, 2)


@pytest.mark.parametrize("changes, words", [
    ({"alpha_mrad": (5.0, 2.0)}, ["alpha_mrad", "mrad", "min must not exceed max"]),
    ({"beta_mrad": (0.0, 10.0)}, ["beta_mrad", "mrad", "[1, 100]"]),
    ({"alpha_mrad": (1.0, 30.0)}, ["alpha_mrad", "mrad", "[1, 20]"]),
    ({"beta_mrad": (1.0,)}, ["beta_mrad", "(min, max) pair"]),
    ({"beta_mrad": "1-100"}, ["beta_mrad", "(min, max) pair"]),
    ({"E0_keV": ()}, ["E0_keV", "kV", "non-empty"]),
    ({"E0_keV": (200.0, -1.0)}, ["E0_keV", "kV", "[10, 1000]"]),
    ({"fs_degree": (1.5, 3)}, ["fs_degree", "integers"]),
    ({"chemical_shift_eV": (-200, 5)}, ["chemical_shift_eV", "eV", "[-100, 100]"]),
    ({"t_over_lambda": (0.1, float("nan"))}, ["t_over_lambda", "finite"]),
    ({"jump_ratio": (0.0, 1.5)}, ["jump_ratio", "[0.0001, 10000]"]),
    ({"bg_amplitude": (1e3, 0.0)}, ["bg_amplitude", "counts"]),
    ({"dispersion_eV": 0.5}, ["dispersion_eV", "eV", "only 1 eV"]),
    ({"n_channels": 2048.5}, ["n_channels", "integer"]),
    ({"n_channels": 4096}, ["n_channels", "[256, 3072]"]),
    ({"start_min_eV": 4000}, ["start_min_eV", "eV"]),
    ({"end_max_eV": 100}, ["end_max_eV", "eV", "110"]),
    ({"noise": 1}, ["noise", "True or False"]),
    ({"gos": ""}, ["gos", "non-empty"]),
    ({"atomic_diameter_pm": (25.0, 5000.0)}, ["atomic_diameter_pm", "pm"]),
    ({"exclude_elements": ("Tc", "H")}, ["exclude_elements", "unknown: ['H']", "Be..Bi"]),
    ({"exclude_elements": "Tc"}, ["exclude_elements", "tuple of element symbols"]),
])
def test_invalid_configuration_errors_name_parameter_unit_range(changes, words):
    with pytest.raises(ConfigError) as err:
        SimulationConfig(**changes)
    msg = str(err.value)
    for w in words:
        assert w in msg, (w, msg)


def test_replace_revalidates():
    cfg = SimulationConfig().replace(E0_keV=[200])
    assert cfg.E0_keV == (200.0,)
    with pytest.raises(ConfigError):
        cfg.replace(zlp_fwhm_eV=(3, 1))


def test_table1_rendered_from_config():
    df = SimulationConfig().table1()
    assert list(df.columns) == ["parameter", "value", "unit", "field"]
    rows = dict(zip(df.parameter, df.value))
    assert len(df) == 21  # the paper's Table 1 has 21 parameter rows
    assert rows["Convergence angle"] == "∈ ℝ; ∈ [1, 20]"
    assert rows["Spectrum start"] == "∈ ℕ; ∈ [75, E_first edge - 10]"
    assert rows["Spectrum end"] == "∈ ℕ; ∈ [E_last edge + 25, 3272]"
    assert rows["Chemical shift"] == "∈ ℤ; ∈ [-5, 5]"
    assert rows["Background amplitude"] == "∈ {10^3, 10^4, 10^5, 10^6, 10^7}"
    assert rows["Spectrum range (zero padding)"] == "0 to 3071"
    # a changed configuration changes the rendered table
    df2 = SimulationConfig(beta_mrad=(5.0, 50.0)).table1()  # a narrower range
    assert dict(zip(df2.parameter, df2.value))["Collection angle"] == "∈ ℝ; ∈ [5, 50]"
    md = SimulationConfig().table1_markdown()
    assert md.startswith("| Parameter | Value | Unit |")
    assert "| Jump-ratio | ∈ ℝ; ∈ [0.2, 1.5] |" in md


def test_angle_limits_match_the_cross_section_shape_tables():
    from dataclasses import fields

    from eels_helpers.physics.edge_shapes import ALPHA_SIM_RANGE_MRAD, BETA_SIM_RANGE_MRAD
    lim = {f.name: f.metadata["limits"] for f in fields(SimulationConfig)}
    assert lim["alpha_mrad"] == ALPHA_SIM_RANGE_MRAD
    assert lim["beta_mrad"] == BETA_SIM_RANGE_MRAD


def test_every_named_configuration_is_described_and_validates():
    from eels_helpers.simulation.named_configs import NAMED_CONFIG_NOTES, NAMED_CONFIGS, named_config, named_config_help

    assert set(NAMED_CONFIG_NOTES) == set(NAMED_CONFIGS)
    for name in NAMED_CONFIGS:
        named_config(name)
        assert f"{name}: " in named_config_help()


def test_excluded_elements_are_canonical_and_listed_as_an_open_world_option():
    cfg = SimulationConfig(exclude_elements=["Pm", "Tc", "Pm"])
    assert cfg.exclude_elements == ("Tc", "Pm") and cfg.open_world
    table = cfg.open_world_table().set_index("field")
    assert table.loc["exclude_elements", "value"] == "Tc, Pm"
    assert SimulationConfig().open_world_table().set_index("field").loc["exclude_elements", "value"] == "none"
    assert "exclude_elements" not in set(SimulationConfig().table1()["field"])     # not a Table 1 row
    with pytest.raises(ConfigError, match="cannot exclude every element"):
        from eels_helpers.physics.elements import ELEMENTS
        SimulationConfig(exclude_elements=ELEMENTS)
