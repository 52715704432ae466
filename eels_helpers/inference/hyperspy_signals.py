"""HyperSpy / exspy signals in and out: identification of a ``Signal1D`` / ``EELSSpectrum``
and the detected elements handed back for exspy's model fitting.

In: :func:`~eels_helpers.inference.predict.predict` and
:func:`~eels_helpers.inference.mapping.map_elements` accept a HyperSpy signal of any
navigation shape; :func:`signal_to_spectrum` turns it into a
:class:`~eels_helpers.spectrum.Spectrum` through the same converter as the spectrum files
(:func:`~eels_helpers.inference.spectrum_files.spectrum_from_signal_dict`):

- the energy axis is the signal axis (its units eV or keV; keV is converted; a uniform axis
  (offset, scale) or a non-uniform one; an axis without units is taken as eV with a warning,
  any other unit is refused with the axis named);
- the navigation shape is kept in the order of the data array (HyperSpy's ``data.shape[:-1]``,
  i.e. ``(y, x)`` for a map), singleton axes dropped as for files;
- beam energy, convergence and collection angles come from
  ``metadata.Acquisition_instrument.TEM`` when present, the title from ``metadata.General``;
- a lazy signal is computed chunk by chunk straight to float32 (one float32 copy in memory).

Out: :func:`to_signal_elements` sets ``metadata.Sample.elements`` (sorted symbols of the
detected elements only) on the signal, so that exspy's ``s.create_model()`` adds their edges
(on an ``EELSSpectrum`` the elements and edges are registered as ``s.add_elements`` does; a
plain ``Signal1D`` picks them up when ``s.set_signal_type("EELS")`` is called). Carbon is
KEPT when detected: a detected C K edge is in the spectrum whatever its origin (support film,
contamination) and a model must fit it; ``exclude=("C",)`` leaves it out.
:func:`probability_maps` gives the per-element probability maps of a spectrum image as
HyperSpy signals with the navigation axes of the source. :func:`create_model` builds an
exspy ``EELSModel`` OFFLINE with the package's shipped GOS table (:func:`exspy_gos_file`;
exspy's own default table is downloaded from Zenodo on first use).

hyperspy and exspy are optional (``pip install hyperspy exspy``): this module imports neither
at import time; the functions that make or need signals raise an ImportError that says so.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from eels_helpers.inference.spectrum_files import (
    SpectrumFileError,
    check_channels,
    check_overlap,
    spectrum_from_signal_dict,
)
from eels_helpers.spectrum import Spectrum

__all__ = ["is_signal", "signal_to_spectrum", "to_signal_elements", "probability_maps",
           "exspy_gos_file", "create_model", "model_components", "INSTALL_HINT"]

_log = logging.getLogger(__name__)

INSTALL_HINT = "pip install hyperspy exspy"
#: exspy names some subshell pairs together ("L2,3"); the shipped table holds them as nl tables
_PAIRED_SUBSHELLS = {"L2,3": ("L23", 2, 1), "M2,3": ("M23", 3, 1), "M4,5": ("M45", 3, 2),
                     "N2,3": ("N23", 4, 1), "N4,5": ("N45", 4, 2), "N6,7": ("N67", 4, 3),
                     "O2,3": ("O23", 5, 1), "O4,5": ("O45", 5, 2)}


def _require(module: str, what: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"{what} needs HyperSpy and exspy, which are not installed: "
                          f"{INSTALL_HINT}") from err


# --------------------------------------------------------------------------- in
def is_signal(obj: Any) -> bool:
    """True for a HyperSpy signal (any ``BaseSignal``: ``Signal1D``, ``EELSSpectrum``, lazy).

    Never imports HyperSpy: a signal can only exist when HyperSpy has been imported.
    """
    module = sys.modules.get("hyperspy.signal")
    return module is not None and isinstance(obj, module.BaseSignal)


def _describe(signal) -> str:
    title = str(signal.metadata.get_item("General.title", "") or "")
    name = type(signal).__name__
    return f"{name} {title!r}" if title else name


def _axis_dict(axis) -> dict:
    d = {"name": str(axis.name), "units": str(axis.units), "size": int(axis.size),
         "index_in_array": int(axis.index_in_array), "navigate": bool(axis.navigate)}
    if axis.is_uniform:
        d.update(offset=float(axis.offset), scale=float(axis.scale))
    else:
        d["axis"] = np.asarray(axis.axis, dtype=np.float64)
    return d


def signal_to_spectrum(signal: Any, *, check_window: bool = True) -> Spectrum:
    """A HyperSpy ``Signal1D`` / exspy ``EELSSpectrum`` (lazy or not) as a ``Spectrum``.

    Parameters
    ----------
    signal : hyperspy.signals.Signal1D
        One spectrum or a spectrum image of any navigation shape, with one signal axis: the
        energy loss, in eV or keV (uniform or non-uniform; an axis without units is taken as
        eV, with a warning).
    check_window : bool, default True
        Raise when the energy range misses the networks' 75-3071 eV window.

    Returns
    -------
    eels_helpers.spectrum.Spectrum
        ``data`` float32 ``(*navigation_shape, n_channels)`` in the signal's array order
        (singleton navigation axes dropped), ``energy_eV`` increasing, ``metadata`` with the
        title, signal type, ``beam_energy_keV``, ``convergence_angle_mrad`` and
        ``collection_angle_mrad`` when ``metadata.Acquisition_instrument.TEM`` holds them,
        ``sample_elements``, the energy axis and the navigation axes; ``source`` is None.

    Raises
    ------
    TypeError
        If ``signal`` is not a HyperSpy signal.
    eels_helpers.inference.spectrum_files.SpectrumFileError
        (a ValueError) If the signal does not have exactly one signal axis, its units are not
        an energy in eV or keV, the data are complex, empty or hold NaN/inf values, or the
        energy range misses 75-3071 eV; the message names the signal.
    """
    if not is_signal(signal):
        raise TypeError(f"expected a HyperSpy signal (Signal1D / EELSSpectrum), got {type(signal)}")
    where = _describe(signal)
    manager = signal.axes_manager
    if manager.signal_dimension != 1:
        raise SpectrumFileError(
            f"{where}: has {manager.signal_dimension} signal axes; element identification needs "
            "one, the energy loss: a Signal1D or EELSSpectrum (s.as_signal1D(axis) or s.T turns "
            "a navigation axis into the signal axis)")
    if np.iscomplexobj(signal.data):
        raise SpectrumFileError(f"{where}: complex data; pass the real intensities (s.real or s.amplitude)")
    energy_axis = manager.signal_axes[0]
    units = str(energy_axis.units).strip()
    if units.lower() in ("", "<undefined>"):
        _log.warning("%s: the signal axis has no units; taken as eV (set "
                     "s.axes_manager.signal_axes[0].units = 'eV' to silence this)", where)
    all_axes = list(manager.navigation_axes) + list(manager.signal_axes)
    axes = [_axis_dict(a) for a in all_axes]
    energy_index = len(all_axes) - 1
    lazy = bool(getattr(signal, "_lazy", False))
    if lazy:
        n_bytes = int(np.prod(signal.data.shape)) * 4
        _log.info("%s: computing the lazy signal (%.1f MB as float32)", where, n_bytes / 1e6)
    title = str(signal.metadata.get_item("General.title", "") or "")
    original = str(signal.metadata.get_item("General.original_filename", "") or "")
    spectrum = spectrum_from_signal_dict(
        {"data": signal.data, "axes": axes, "metadata": signal.metadata.as_dictionary()},
        where, reader="hyperspy", energy_index=energy_index, assume_eV=True,
        extra={"signal_class": type(signal).__name__, "lazy": lazy,
               "original_filename": original or None})
    if not title:  # a name for reports and plots
        spectrum.metadata["title"] = f"{type(signal).__name__}" + (f" ({original})" if original else "")
    if check_window:
        check_overlap(spectrum.energy_eV, where)
        check_channels(spectrum.energy_eV, where)
    return spectrum


# --------------------------------------------------------------------------- out
def _detected(result: Any) -> tuple[str, ...]:
    detected = getattr(result, "detected", None)
    if detected is None:
        raise TypeError("result must be a Prediction (predict) or a MappingResult (map_elements), "
                        f"got {type(result)}")
    return tuple(detected)


def to_signal_elements(signal: Any, result: Any, *, exclude: Iterable[str] = (),
                       replace: bool = True) -> list[str]:
    """Hand the detected elements back to a HyperSpy signal: ``metadata.Sample.elements``.

    After this, exspy's ``s.create_model()`` (or :func:`create_model`, offline) adds the edges
    of these elements; for a spectrum image the elements are those kept for the whole map
    (``result.detected``: above threshold in more than 1 % of the pixels).

    Parameters
    ----------
    signal : hyperspy.signals.BaseSignal
        The signal that was identified (usually a ``Signal1D`` or ``EELSSpectrum``). On an
        ``EELSSpectrum`` the elements are registered as ``s.add_elements`` does (its
        ``elements`` and ``subshells``, i.e. the edges inside the energy range); a plain
        ``Signal1D`` gets the metadata only, which ``s.set_signal_type("EELS")`` reads.
    result : Prediction or MappingResult
        The answer of :func:`~eels_helpers.inference.predict.predict` (one of its list) or
        :func:`~eels_helpers.inference.mapping.map_elements`.
    exclude : iterable of str, default ()
        Symbols to leave out, e.g. ``("C",)`` when the carbon is only the support film and
        the fit range excludes its edge. Carbon is kept by default.
    replace : bool, default True
        Replace the elements already in the metadata (True) or add to them (False).

    Returns
    -------
    list of str
        The symbols now in ``metadata.Sample.elements``, sorted alphabetically.

    Raises
    ------
    TypeError
        If ``signal`` is not a HyperSpy signal or ``result`` has no ``detected`` elements.
    """
    if not is_signal(signal):
        raise TypeError(f"signal must be a HyperSpy signal, got {type(signal)}")
    excluded = {str(e) for e in exclude}
    elements = {e for e in _detected(result) if e not in excluded}
    if not replace:
        elements |= {str(e) for e in np.atleast_1d(signal.metadata.get_item("Sample.elements", []))}
    elements = sorted(elements)
    if hasattr(signal, "subshells") and hasattr(signal, "add_elements"):   # exspy EELSSpectrum
        signal.elements = set()
        signal.subshells = set()
        if elements:
            signal.add_elements(elements)
    signal.metadata.set_item("Sample.elements", list(elements))
    _log.info("%s: metadata.Sample.elements = %s", _describe(signal), elements)
    return list(elements)


def probability_maps(signal: Any, result: Any, elements: Sequence[str] | None = None) -> list:
    """Per-element probability maps of a spectrum image as HyperSpy signals.

    Parameters
    ----------
    signal : hyperspy.signals.Signal1D
        The spectrum image the result was computed from; its navigation axes (names, units,
        offsets, scales) become the maps' axes.
    result : Prediction or MappingResult
        The result of :func:`~eels_helpers.inference.predict.predict` or
        :func:`~eels_helpers.inference.mapping.map_elements` for ``signal``.
    elements : sequence of str, optional
        Symbols to map; default the detected ones.

    Returns
    -------
    list of hyperspy signals
        One per element, in the order asked: a ``Signal2D`` for a 2-D map, a ``Signal1D``
        for a line scan, a ``BaseSignal`` for more navigation axes; data float32 in [0, 1];
        title ``"P(<symbol>) <title>"``, ``metadata.Sample.elements = [symbol]``,
        ``metadata.Signal.quantity = "Probability"``. Show them with
        ``hs.plot.plot_images(maps)``.

    Raises
    ------
    ImportError
        If HyperSpy is not installed (``pip install hyperspy exspy``).
    ValueError
        If ``signal`` is a single spectrum, or the result's navigation shape does not match
        the signal's, or a symbol is not one of the 80 elements.
    """
    hs_signals = _require("hyperspy.signals", "probability_maps")
    from eels_helpers.physics.elements import element_index

    if not is_signal(signal):
        raise TypeError(f"signal must be a HyperSpy signal, got {type(signal)}")
    nav_axes = sorted(signal.axes_manager.navigation_axes, key=lambda a: a.index_in_array)
    if not nav_axes:
        raise ValueError(f"{_describe(signal)} is a single spectrum: there is nothing to map")
    nav_shape = tuple(a.size for a in nav_axes)
    probabilities = np.asarray(result.probabilities)
    if int(np.prod(probabilities.shape[:-1])) != int(np.prod(nav_shape)):
        raise ValueError(f"the result has navigation shape {probabilities.shape[:-1]} but "
                         f"{_describe(signal)} has {nav_shape}: not the result of this signal")
    probabilities = probabilities.reshape(nav_shape + (probabilities.shape[-1],))
    elements = list(_detected(result) if elements is None else elements)
    kind = {1: hs_signals.Signal1D, 2: hs_signals.Signal2D}.get(len(nav_axes), hs_signals.BaseSignal)
    axes = []
    for a in nav_axes:
        d = _axis_dict(a)
        d.pop("index_in_array")
        d["navigate"] = False
        axes.append(d)
    title = str(signal.metadata.get_item("General.title", "") or "")
    maps = []
    for symbol in elements:
        data = np.ascontiguousarray(probabilities[..., element_index(symbol)], dtype=np.float32)
        m = kind(data, axes=[dict(d) for d in axes])
        m.metadata.set_item("General.title", f"P({symbol}) {title}".strip())
        m.metadata.set_item("Sample.elements", [symbol])
        m.metadata.set_item("Signal.quantity", "Probability")
        maps.append(m)
    return maps


# --------------------------------------------------------------------------- exspy model
def _cache_dir() -> Path:
    from eels_helpers.simulation.shape_tables import shape_cache_dir

    folder = shape_cache_dir()
    return (folder if folder is not None else Path(tempfile.gettempdir()) / f"eels_helpers_{os.getuid()}") / "exspy"


def exspy_gos_file() -> Path:
    """A GOSH file exspy reads offline: the package's shipped GOS table, exspy's names added.

    exspy's ``create_model(GOS="dft")`` downloads its table from Zenodo unless
    ``gos_file_path`` is given. The shipped table (``BUILTIN_GOS_PATH`` of
    :mod:`eels_helpers.physics.gos_tables`) is a GOSH file; exspy names a few paired subshells together
    (``"L2,3"`` of Al, P, S, Cl, Ar), which this small overlay file adds to
    ``/metadata/edges_info`` (HDF5 external links to the shipped tables, a few kB). It is
    written once into the cache folder (``$EELS_ID_CACHE``, default ``~/.cache/eels_helpers``;
    the temporary folder when the cache is ``off``) and rewritten when the shipped table changes.

    Returns
    -------
    pathlib.Path
        The overlay file: ``s.create_model(GOS="dft", gos_file_path=str(path))``.
    """
    import h5py

    from eels_helpers.physics.gos_tables import BUILTIN_GOS_PATH

    stat = BUILTIN_GOS_PATH.stat()
    key = hashlib.sha1(f"{BUILTIN_GOS_PATH}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    path = _cache_dir() / f"eels_helpers_gos_exspy_{key}.gosh"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.part")
    try:
        with h5py.File(BUILTIN_GOS_PATH, "r") as src, h5py.File(tmp, "w") as out:
            out.attrs.update(dict(src.attrs))
            meta = out.create_group("metadata")
            meta.attrs.update(dict(src["metadata"].attrs))
            meta.attrs["message"] = f"exspy overlay of {BUILTIN_GOS_PATH.name} (external links)"
            ref = meta.create_group("data_ref")
            ref.attrs.update(dict(src["metadata/data_ref"].attrs))
            info = meta.create_group("edges_info")
            for name, group in src["metadata/edges_info"].items():
                info.create_group(name).attrs.update(dict(group.attrs))
            for name, (table, n, ell) in _PAIRED_SUBSHELLS.items():
                info.create_group(name).attrs.update(
                    {"n": n, "l": ell, "table": table, "occupancy_ratio": 1.0})
            for element in src:
                if element != "metadata":
                    out[element] = h5py.ExternalLink(str(BUILTIN_GOS_PATH), f"/{element}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _available_subshells(gos_file: Path, subshells: Iterable[str]) -> set[str]:
    import h5py

    found = set()
    with h5py.File(gos_file, "r") as h:
        info = h["metadata/edges_info"]
        for name in subshells:
            element, _, shell = name.partition("_")
            if shell in info and f"{element}/{info[shell].attrs['table']}" in h:
                found.add(name)
    return found


def _below_q_grid(gos_file: Path, signal: Any, subshells: Iterable[str]) -> set[str]:
    """The subshells whose smallest momentum transfer at their onset (for the signal's beam
    energy; Egerton 2011, eq. 3.31, :func:`eels_helpers.physics.cross_section.ln_q_limits`) lies
    below the first q of their table: exspy's integration cannot extrapolate there (shallow edges,
    e.g. Fe M2,3 at 54 eV and 200 keV)."""
    import h5py
    from exspy._misc.elements import elements_db

    from eels_helpers.physics.cross_section import A0_M, ln_q_limits

    E0 = signal.metadata.get_item("Acquisition_instrument.TEM.beam_energy", 200.0)
    out = set()
    with h5py.File(gos_file, "r") as h:
        info = h["metadata/edges_info"]
        for name in subshells:
            element, _, shell = name.partition("_")
            try:
                onset = float(elements_db[element]["Atomic_properties"]["Binding_energies"][shell]
                              ["onset_energy (eV)"])
                q_first = float(np.ravel(h[f"{element}/{info[shell].attrs['table']}/q"][()])[0])
            except (KeyError, AttributeError):
                continue
            ln_qmin, _ = ln_q_limits(onset, float(E0), 0.1)
            if np.sqrt(np.exp(ln_qmin)) / A0_M < q_first:
                out.add(name)
    return out


def create_model(signal: Any, low_loss: Any = None, *, auto_background: bool = True,
                 gos: str | os.PathLike = "builtin", **options) -> Any:
    """An exspy ``EELSModel`` of ``signal`` with the edges of its ``metadata.Sample.elements``.

    ``signal.create_model(...)`` with a GOS table that needs no download: by default the
    package's shipped table (:func:`exspy_gos_file`). Edges that the table does not hold
    (a few s-shell edges, e.g. Mg L1), or that lie so low (below about 60 eV, e.g. Fe M2,3) that
    exspy would need the table below its first momentum transfer, are left out with a warning
    instead of stopping the model.

    Parameters
    ----------
    signal : exspy.signals.EELSSpectrum
        The core-loss spectrum (image), with its elements set (:func:`to_signal_elements`)
        and its microscope parameters (``s.set_microscope_parameters(beam_energy=...,
        convergence_angle=..., collection_angle=...)``, keV and mrad).
    low_loss : exspy.signals.EELSSpectrum, optional
        Low-loss spectrum for the multiple-scattering convolution.
    auto_background : bool, default True
        Add exspy's power-law background.
    gos : str or path, default "builtin"
        ``"builtin"`` (the shipped table, offline), a path to a GOSH file, or one of exspy's
        own names (``"dft"``, ``"dirac"``, ``"hydrogenic"``; ``dft`` and ``dirac`` are
        downloaded by exspy on first use).
    **options
        Further keywords of ``EELSSpectrum.create_model``.

    Returns
    -------
    exspy.models.EELSModel
        The model; ``m.fit()`` / ``m.multifit()`` fit it.

    Raises
    ------
    ImportError
        If exspy is not installed (``pip install hyperspy exspy``).
    TypeError
        If ``signal`` is not an exspy EELSSpectrum.
    """
    _require("exspy", "create_model")
    if not (is_signal(signal) and hasattr(signal, "subshells") and hasattr(signal, "create_model")):
        raise TypeError(f"create_model needs an exspy EELSSpectrum, got {type(signal).__name__}; "
                        "convert a Signal1D with s.set_signal_type('EELS')")
    if gos == "builtin" or (isinstance(gos, (str, os.PathLike)) and Path(gos).suffix == ".gosh"):
        gos_file = exspy_gos_file() if gos == "builtin" else Path(gos)
        kwargs = {"GOS": "dft", "gos_file_path": str(gos_file)}
        available = _available_subshells(gos_file, signal.subshells)
        missing = set(signal.subshells) - available
        shallow = _below_q_grid(gos_file, signal, available)
    else:
        kwargs, missing, shallow = {"GOS": str(gos)}, set(), set()
    if missing:
        _log.warning("%s: the GOS table has no data for %s; these edges are left out of the model",
                     _describe(signal), ", ".join(sorted(missing)))
    if shallow:
        _log.warning("%s: the GOS table's momentum grid starts above the smallest momentum transfer of %s "
                     "(edges below ~60 eV), which exspy cannot extrapolate; these edges are left out of the "
                     "model", _describe(signal), ", ".join(sorted(shallow)))
    missing |= shallow
    signal.subshells = set(signal.subshells) - missing
    try:
        return signal.create_model(low_loss=low_loss, auto_background=auto_background,
                                   **kwargs, **options)
    finally:
        signal.subshells = set(signal.subshells) | missing


def model_components(model: Any) -> dict[str, np.ndarray]:
    """Each active component of a fitted hyperspy/exspy model at the current pixel.

    Returns ``{name: values}`` on the signal axis, in the data's units (a binned axis, as
    exspy's EELS spectra are, multiplies by the channel width as HyperSpy's fit does), plus
    ``"model"``, their sum. ``m.as_signal()`` of HyperSpy 2.5 drops the components that have
    a vectorised ``function_nd`` (the power law) when others lack it (exspy's edges), so the
    book and the tests use this instead. Without a low-loss convolution only.
    """
    axis = model.signal.axes_manager.signal_axes[0]
    energy = np.asarray(axis.axis, dtype=np.float64)
    width = np.gradient(energy) if axis.is_binned else np.ones_like(energy)
    parts = {c.name: np.asarray(c.function(energy), dtype=np.float64) * width
             for c in model if c.active}
    parts["model"] = np.sum(list(parts.values()), axis=0) if parts else np.zeros_like(energy)
    return parts
