"""HyperSpy / exspy signals in and out (eels_helpers.inference.hyperspy_signals): real
Signal1D / EELSSpectrum objects built here or loaded from exspy's own test data, predict and
map_elements on them, the elements handed back and an exspy model built offline from them.
Deterministic torch modules stand in for trained networks (their answer is known)."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

hs = pytest.importorskip("hyperspy.api", reason="hyperspy is not installed (pip install hyperspy exspy)")
exspy = pytest.importorskip("exspy", reason="exspy is not installed (pip install hyperspy exspy)")

from support import FeMarker

from eels_helpers.inference import hyperspy_signals as hsig  # noqa: E402
from eels_helpers.inference.mapping import map_elements  # noqa: E402
from eels_helpers.inference.predict import predict  # noqa: E402
from eels_helpers.inference.spectrum_files import SpectrumFileError  # noqa: E402
from eels_helpers.physics.elements import ELEMENTS, element_index  # noqa: E402
from eels_helpers.spectrum import Spectrum  # noqa: E402

E = np.arange(400.0, 1001.0)          # eV, 1 eV per channel
FE = element_index("Fe")
CORELOSS = Path(exspy.__file__).parent / "tests" / "components" / "coreloss_spectrum.msa"




class Fixed(torch.nn.Module):
    """The same answer for every spectrum: logit +10 for ``elements``, -10 for the others."""

    def __init__(self, elements):
        super().__init__()
        self.logits = torch.full((80,), -10.0)
        for e in elements:
            self.logits[element_index(e)] = 10.0

    def forward(self, x):
        return self.logits.expand(x.shape[0], 80).clone()


def marked_data(shape=(3, 4), marked=(0, 5, 6)):
    """Ones over E with a spike at 700 eV in the flat pixels ``marked``."""
    data = np.ones(shape + (E.size,), dtype=np.float32)
    flat = data.reshape(-1, E.size)
    flat[[i for i in marked if i < flat.shape[0]], 300] = 2.0
    return data


def signal_1d(data, *, units="eV", offset=400.0, scale=1.0, title="SI test"):
    s = hs.signals.Signal1D(data.copy())
    axis = s.axes_manager.signal_axes[0]
    axis.units, axis.offset, axis.scale, axis.name = units, offset, scale, "Energy loss"
    for i, a in enumerate(s.axes_manager.navigation_axes):
        a.name, a.units, a.scale, a.offset = "xy"[i], "nm", 0.5 * (i + 1), 10.0 * i
    s.metadata.General.title = title
    s.metadata.set_item("Acquisition_instrument.TEM.beam_energy", 200.0)
    s.metadata.set_item("Acquisition_instrument.TEM.convergence_angle", 15.0)
    s.metadata.set_item("Acquisition_instrument.TEM.Detector.EELS.collection_angle", 30.0)
    return s


# ----------------------------------------------------------------------------- in


def test_signal_with_2d_navigation_predicts_like_the_same_spectrum():
    data = marked_data()
    s = signal_1d(data)
    [from_signal] = predict(s, FeMarker(), threshold=0.5, device="cpu")
    [from_array] = predict(Spectrum(data, E), FeMarker(), threshold=0.5, device="cpu")
    assert from_signal.navigation_shape == (3, 4) == s.data.shape[:-1]
    np.testing.assert_array_equal(from_signal.probabilities, from_array.probabilities)
    fe = from_signal.probabilities[..., FE].reshape(-1)
    assert set(np.flatnonzero(fe > 0.5)) == {0, 5, 6}
    # decided as map decides an image (P41): Fe's 3 of 12 pixels are no more clustered than chance places
    # 3 pixels, so the sum of all pixels decides, and the marker network does not report Fe there
    assert from_signal.detected == from_array.detected == map_elements(s, FeMarker(), threshold=0.5).detected
    assert from_signal.source == "SI test"
    meta = from_signal.spectrum.metadata
    assert (meta["beam_energy_keV"], meta["convergence_angle_mrad"], meta["collection_angle_mrad"]) == (
        200.0, 15.0, 30.0)
    assert meta["title"] == "SI test" and meta["signal_class"] == "Signal1D"
    assert [a["name"] for a in meta["navigation_axes"]] == ["y", "x"]   # data (array) order


def test_kev_and_non_uniform_axes_give_the_same_energies():
    data = marked_data((2,))
    ev = hsig.signal_to_spectrum(signal_1d(data))
    kev = hsig.signal_to_spectrum(signal_1d(data, units="keV", offset=0.4, scale=0.001))
    np.testing.assert_allclose(kev.energy_eV, E, atol=1e-9)
    np.testing.assert_allclose(ev.energy_eV, E)
    assert kev.metadata["energy_axis"]["units"] == "keV"
    # a non-uniform axis (e.g. after a non-linear recalibration), decreasing in the array
    energies = 400.0 + 600.0 * np.linspace(0, 1, 301) ** 1.5
    nonuni = hs.signals.Signal1D(np.tile(np.linspace(2, 1, 301), (2, 1))[:, ::-1].copy(),
                                 axes=[{"size": 2, "navigate": True},
                                       {"axis": energies[::-1].copy(), "units": "eV", "navigate": False}])
    sp = hsig.signal_to_spectrum(nonuni)
    np.testing.assert_allclose(sp.energy_eV, energies)
    np.testing.assert_allclose(sp.data[0], np.linspace(2, 1, 301))
    assert sp.metadata["energy_axis"]["scale"] is None


def test_bad_signals_are_refused_with_the_problem_named(caplog):
    data = marked_data((2,))
    with pytest.raises(SpectrumFileError, match=r"SI test.*units 'nm'.*only eV and keV"):
        predict(signal_1d(data, units="nm"), FeMarker(), device="cpu")
    with pytest.raises(SpectrumFileError, match="2 signal axes.*Signal1D"):
        hsig.signal_to_spectrum(hs.signals.Signal2D(np.ones((4, 5))))
    with pytest.raises(SpectrumFileError, match="no overlap with the 75-3071 eV"):
        hsig.signal_to_spectrum(signal_1d(data, offset=4000.0))
    bad = data.copy()
    bad[1, 7] = np.nan
    with pytest.raises(SpectrumFileError, match=r"1 NaN/inf value.*pixel \(1,\)"):
        map_elements(signal_1d(bad), FeMarker(), device="cpu")
    with pytest.raises(ValueError, match="energy_eV is for arrays"):
        predict(signal_1d(data), FeMarker(), energy_eV=E, device="cpu")
    with pytest.raises(TypeError, match="HyperSpy signal"):
        hsig.signal_to_spectrum(data)
    # no units at all: taken as eV, with a warning
    plain = hs.signals.Signal1D(data)
    plain.axes_manager.signal_axes[0].offset = 400.0
    with caplog.at_level(logging.WARNING, logger="eels_helpers"):
        sp = hsig.signal_to_spectrum(plain)
    assert sp.metadata["energy_units_assumed"] is True
    assert "no units; taken as eV" in caplog.text
    np.testing.assert_allclose(sp.energy_eV, E)


def test_lazy_signal_is_computed_to_the_same_answer():
    s = signal_1d(marked_data((6, 5), marked=(1, 2, 29)))
    lazy = s.as_lazy()
    lazy.data = lazy.data.rechunk((2, 5, E.size))
    [eager] = predict(s, FeMarker(), threshold=0.5, device="cpu")
    [from_lazy] = predict(lazy, FeMarker(), threshold=0.5, device="cpu")
    np.testing.assert_array_equal(eager.probabilities, from_lazy.probabilities)
    assert from_lazy.spectrum.metadata["lazy"] is True
    assert from_lazy.spectrum.data.dtype == np.float32


# ----------------------------------------------------------------------------- out


def test_map_elements_on_a_signal_and_probability_maps_keep_the_navigation_axes():
    s = signal_1d(marked_data())          # 3 of 12 pixels: as clustered as chance makes them, so without Z37's test
    result = map_elements(s, FeMarker(), threshold=0.5, device="cpu", against_chance=False)
    assert result.navigation_shape == (3, 4) and result.detected == ("Fe",)
    [fe_map] = hsig.probability_maps(s, result)
    assert isinstance(fe_map, hs.signals.Signal2D)
    np.testing.assert_array_equal(fe_map.data, result.probability_map("Fe"))
    for src, dst in zip(s.axes_manager.navigation_axes, fe_map.axes_manager.signal_axes):
        assert (dst.name, dst.units, dst.scale, dst.offset, dst.size) == (
            src.name, src.units, src.scale, src.offset, src.size)
    assert fe_map.metadata.General.title == "P(Fe) SI test"
    assert fe_map.metadata.Sample.elements == ["Fe"]
    # a line scan gives Signal1D maps; several elements in the order asked
    line = signal_1d(marked_data((5,), marked=(0, 1)))
    [pred] = predict(line, FeMarker(), threshold=0.5, device="cpu")
    maps = hsig.probability_maps(line, pred, elements=["O", "Fe"])
    assert [type(m).__name__ for m in maps] == ["Signal1D", "Signal1D"]
    np.testing.assert_array_equal(maps[1].data, pred.probabilities[:, FE])
    with pytest.raises(ValueError, match="single spectrum"):
        hsig.probability_maps(hs.signals.Signal1D(np.ones(10)), pred)
    with pytest.raises(ValueError, match="not the result of this signal"):
        hsig.probability_maps(s, pred)


def test_hand_back_to_a_signal1d_and_set_signal_type_eels():
    s = signal_1d(marked_data())
    s.metadata.set_item("Sample.elements", ["Ti"])
    [pred] = predict(s, Fixed(["O", "C", "Fe"]), threshold=0.5, device="cpu")
    assert pred.to_signal_elements(s, replace=False) == ["C", "Fe", "O", "Ti"]
    assert hsig.to_signal_elements(s, pred) == ["C", "Fe", "O"]
    assert hsig.to_signal_elements(s, pred, exclude=("C",)) == ["Fe", "O"]
    assert list(s.metadata.Sample.elements) == ["Fe", "O"]
    s.set_signal_type("EELS")                       # exspy reads metadata.Sample.elements
    assert s.elements == {"Fe", "O"}
    assert {"Fe_L3", "O_K"} <= s.subshells
    with pytest.raises(TypeError, match="Prediction"):
        hsig.to_signal_elements(s, object())


@pytest.mark.filterwarnings("ignore:overflow encountered in power:RuntimeWarning")  # exspy's first guess
def test_exspy_spectrum_to_identification_to_an_offline_model(monkeypatch):
    """exspy's own core-loss test spectrum (Mn L2,3, O K): identify, hand back, create_model
    with a power-law background and the edges, fit: nothing downloaded."""
    import pooch

    def no_download(*args, **kwargs):
        raise AssertionError("exspy tried to download a GOS table")

    monkeypatch.setattr(pooch, "retrieve", no_download)
    s = hs.load(CORELOSS, signal_type="EELS")
    assert isinstance(s, exspy.signals.EELSSpectrum)
    [pred] = predict(s, Fixed(["Mn", "O", "C"]), threshold=0.5, device="cpu")
    np.testing.assert_allclose(pred.spectrum.energy_eV, 360.0 + 0.2 * np.arange(2048))
    assert pred.source == "EELSSpectrum (coreloss_spectrum.msa)"
    assert pred.to_signal_elements(s) == ["C", "Mn", "O"]      # C K (284 eV) is outside the range
    assert {"Mn_L3", "Mn_L2", "O_K"} <= s.subshells and not any(x.startswith("C_") for x in s.subshells)
    s.set_microscope_parameters(beam_energy=100.0, convergence_angle=10.0, collection_angle=20.0)
    # exspy's own create_model, given the offline table
    m = s.create_model(auto_background=True, GOS="dft", gos_file_path=str(hsig.exspy_gos_file()))
    names = {c.name for c in m}
    assert {"PowerLaw", "O_K", "Mn_L3", "Mn_L2"} <= names
    m.fit()
    assert m["O_K"].intensity.value > 0 and m["Mn_L3"].intensity.value > 0
    parts = hsig.model_components(m)
    np.testing.assert_allclose(parts["model"], m._get_current_data(), rtol=1e-9)
    residual = np.linalg.norm(s.data - parts["model"]) / np.linalg.norm(s.data)
    background_only = s.create_model(auto_background=True, auto_add_edges=False)
    background_only.fit()
    worse = np.linalg.norm(s.data - hsig.model_components(background_only)["model"]) / np.linalg.norm(s.data)
    assert residual < 0.08 and residual < 0.8 * worse      # the edges explain the spectrum


def test_create_model_skips_edges_the_table_lacks_and_names_them(caplog):
    energy = np.arange(50.0, 800.0, 0.5)
    s = exspy.signals.EELSSpectrum(1e5 * (energy / 50.0) ** -3)
    axis = s.axes_manager.signal_axes[0]
    axis.offset, axis.scale, axis.units = 50.0, 0.5, "eV"
    s.set_microscope_parameters(beam_energy=200.0, convergence_angle=10.0, collection_angle=20.0)
    hsig.to_signal_elements(s, type("R", (), {"detected": ("Fe", "Mg", "P")})())
    with caplog.at_level(logging.WARNING, logger="eels_helpers"):
        m = hsig.create_model(s)
    names = {c.name for c in m}
    # "L2,3": exspy's name, via the overlay; Fe M2,3 (54 eV): outside the 107 families, in the table
    # since session 12; Mg L1: a subshell the table lacks; Mg L2,3 (51 eV): in the table, but exspy
    # would integrate it below the table's first q at 200 keV
    assert {"PowerLaw", "Fe_L3", "P_L2,3", "Fe_M3"} <= names
    assert not {"Mg_L1", "Mg_L2", "Mg_L3"} & names
    assert "no data for Mg_L1" in caplog.text and "momentum transfer of Mg_L2, Mg_L3" in caplog.text
    assert {"Mg_L1", "Mg_L3"} <= s.subshells                 # the signal is left as it was
    with pytest.raises(TypeError, match="set_signal_type"):
        hsig.create_model(hs.signals.Signal1D(np.ones(10)))


def test_optional_dependencies(monkeypatch):
    code = ("import sys, eels_helpers.inference.hyperspy_signals, eels_helpers.inference.predict, "
            "eels_helpers.inference.mapping; sys.exit('hyperspy' in sys.modules or 'exspy' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    assert not hsig.is_signal(np.ones(3)) and not hsig.is_signal(Spectrum(np.ones(3), np.arange(3.0)))
    s = signal_1d(marked_data())
    result = map_elements(s, FeMarker(), device="cpu")
    monkeypatch.setitem(sys.modules, "hyperspy.signals", None)     # as if not installed
    monkeypatch.setitem(sys.modules, "exspy", None)
    with pytest.raises(ImportError, match="pip install hyperspy exspy"):
        hsig.probability_maps(s, result)
    with pytest.raises(ImportError, match="pip install hyperspy exspy"):
        hsig.create_model(s)
    assert ELEMENTS[FE] == "Fe"
