"""Reading real EELS spectra and spectrum images from files.

``read_spectrum(path)`` returns a :class:`eels_helpers.spectrum.Spectrum` whose data have the energy axis LAST,
``(*navigation_shape, n_channels)``, and whose energy axis (eV, increasing) comes from the
file's own calibration. Formats:

- Gatan ``.dm3`` / ``.dm4``, EMSA ``.msa`` (``.ems``, ``.emsa``), HyperSpy ``.hspy``,
  Velox / NCEM / Berkeley ``.emd``: read with rosettasciio. The energy axis is identified
  by its units (eV or keV) and, if several axes qualify, by a name containing "energy" or
  "loss" -- never by its position (Gatan spectrum images come as (energy, y, x) in some
  files and (y, x, energy) in others).
- Text ``.txt`` / ``.csv`` / ``.dat`` / ``.tsv`` (and ``.msa`` files without an EMSA
  header): columns of numbers separated by commas, tabs, semicolons or spaces, optionally
  preceded by header or ``#`` comment lines. The energy column is the one whose header
  names an energy ("energy", "loss", "eV"), otherwise the first column; the intensity is
  the first column named like counts ("counts", "intensity", "signal"), else the first other
  column that is not a channel index (or ``column=`` to choose, by number or header name).
  Units are read from the header ("Energy (keV)", "# eV, counts", EMSA "#XUNITS"); when the
  header names none, eV is assumed and ``metadata["energy_units_assumed"]`` is True
  (:mod:`eels_helpers.inference.text_columns`). Text files that are EMSA files under another
  extension are read as EMSA.

EMSA headers are checked first (:mod:`eels_helpers.inference.emsa_header`: keywords that are not
numbers, DATATYPE Y without XPERCHAN / OFFSET, XPERCHAN <= 0, NPOINTS); rosettasciio's log records
(which it prints on stdout, tracebacks included) become one-line warnings of our logger.

Singleton navigation axes are dropped (a 1 x N "image" is an N-spectrum line). Data are
returned as float32. Errors (``SpectrumFileError``, a ``ValueError``) name the file and
say what is wrong: missing file, unsupported extension, no energy axis, non-eV units,
an energy axis that is not increasing, NaN/inf values (how many and where), counts beyond
float32's range, an energy range with no overlap with the 75-3071 eV window of the networks, too
few channels in it (``MIN_WINDOW_CHANNELS``) or channels too coarse (``MAX_CHANNEL_WIDTH_EV``).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from eels_helpers.spectrum import Spectrum

log = logging.getLogger(__name__)

#: the networks' input window: channel i = i eV, channels below 75 eV are zeroed
WINDOW_EV = (75.0, 3071.0)
#: the coarsest median channel width (eV) read. The networks read 1 eV channels (the simulator makes
#: only those: ``SimulationConfig.dispersion_eV`` is fixed at 1 eV); real spectra are splined onto
#: them from their own axes, 0.1-4.04 eV per channel among the 94 validation spectra (the evaluation
#: suites record at 0.1-1 eV per channel). On channels coarser than 5 eV an edge onset (a rise over
#: the energy resolution, a few eV) cannot be located, and the spline invents the shape in between.
MAX_CHANNEL_WIDTH_EV = 5.0
#: fewest channels inside WINDOW_EV: the cubic spline onto the 1 eV grid needs 4 (as preprocess)
MIN_WINDOW_CHANNELS = 4
_FLOAT32_MAX = float(np.finfo(np.float32).max)

RSCIIO_FORMATS = {".dm3": "digitalmicrograph", ".dm4": "digitalmicrograph", ".msa": "msa", ".ems": "msa",
                  ".emsa": "msa", ".hspy": "hspy", ".emd": "emd"}
TEXT_EXTENSIONS = {".txt", ".csv", ".dat", ".tsv"}
SUPPORTED_EXTENSIONS = tuple(sorted(set(RSCIIO_FORMATS) | TEXT_EXTENSIONS))

_UNIT_SCALE_TO_EV = {"ev": 1.0, "kev": 1000.0}
_ENERGY_NAME = re.compile(r"energy|loss|\bev\b|\bkev\b", re.IGNORECASE)


class SpectrumFileError(ValueError):
    """A spectrum file that cannot be used; the message names the file and the problem."""


# --------------------------------------------------------------------------- public API


def read_spectrum(path: str | Path, *, signal_index: int | None = None, column: int | str | None = None,
                  check_window: bool = True) -> Spectrum:
    """Read one spectrum or spectrum image; see the module docstring for formats and rules.

    signal_index: which signal of a multi-signal file (.emd, .dm*) to take; by default the
        first one with an energy axis (EELS signal type preferred).
    column: for text files, the column holding the intensity: its 0-based number, or its name in
        the header line (case and surrounding spaces ignored; ``"2"`` is the number 2); default: the
        first column named like counts, else the first other column that is not a channel index
        (``eels-id predict --column``). Ignored, with a warning, for a file read by its own format.
    check_window: raise if the energy range has no overlap with 75-3071 eV (turn off to
        read low-loss spectra); also raise if fewer than ``MIN_WINDOW_CHANNELS`` channels lie in
        it or the median channel width exceeds ``MAX_CHANNEL_WIDTH_EV`` (:func:`check_channels`).
    """
    path = Path(path)
    if not path.exists():
        raise SpectrumFileError(f"{path}: no such file")
    if path.is_dir():
        raise SpectrumFileError(f"{path}: is a directory, expected a spectrum file")
    ext = path.suffix.lower()
    if ext not in RSCIIO_FORMATS and ext not in TEXT_EXTENSIONS:
        raise SpectrumFileError(
            f"{path}: unsupported extension {ext or '(none)'!r}; supported: "
            + ", ".join(SUPPORTED_EXTENSIONS)
        )
    try:
        spectrum = _read(path, ext, signal_index, column)
    except SpectrumFileError:
        raise
    except ValueError as err:   # Spectrum's checks, a parser's conversions: name the file
        raise SpectrumFileError(f"{path}: {err}") from err
    _check_finite(spectrum.data, spectrum.energy_eV, path)
    if check_window:
        check_overlap(spectrum.energy_eV, path)
        check_channels(spectrum.energy_eV, path)
    return spectrum


def _read(path: Path, ext: str, signal_index: int | None, column: int | str | None) -> Spectrum:
    from eels_helpers.inference.emsa_header import check_emsa_header, has_emsa_header
    from eels_helpers.inference.text_columns import read_columns as _read_columns

    fmt = RSCIIO_FORMATS.get(ext)
    if fmt not in (None, "msa"):
        _column_ignored(path, column)
        return _read_rsciio(path, fmt, signal_index)
    if not has_emsa_header(path):  # text, or .msa without an EMSA header
        return _read_columns(path, column)
    # EMSA via rosettasciio, its header checked first; files it cannot parse (unusual keyword layout,
    # XY data without XPERCHAN / OFFSET) or whose axis it misreads go to the column reader, which
    # also understands the EMSA keywords.
    # An EMSA file holds one spectrum, so ``column`` never applies, whichever reader takes it.
    npoints, axis = check_emsa_header(path)
    _column_ignored(path, column)
    try:
        spectrum = _read_rsciio(path, "msa", signal_index) if axis else None
    except SpectrumFileError:
        spectrum = None
    read = spectrum.metadata["energy_axis"] if spectrum is not None else None
    if read is None or not np.allclose((read["offset"], read["scale"]), axis, rtol=1e-9, atol=0):
        spectrum = _read_columns(path, None)
    if npoints is not None and round(npoints) != spectrum.n_channels:
        n = spectrum.n_channels
        if n < npoints / 2:
            raise SpectrumFileError(f"{path}: the EMSA header says NPOINTS {npoints:g} but the file holds {n} "
                                    "values: truncated?")
        log.warning("%s: the EMSA header says NPOINTS %g but the file holds %d values; all are read",
                    path, npoints, n)
    return spectrum


def check_overlap(energy_eV: np.ndarray, where: Any = "spectrum", offset_eV: float = 0.0) -> None:
    """Raise SpectrumFileError if [min, max] of energy_eV - offset_eV misses 75-3071 eV."""
    e = np.asarray(energy_eV, dtype=np.float64) - offset_eV
    lo, hi = float(np.min(e)), float(np.max(e))
    if hi < WINDOW_EV[0] or lo > WINDOW_EV[1]:
        shift = f" after the {offset_eV:+g} eV offset correction" if offset_eV else ""
        hint = ""
        # keV-looking: the whole range below ~5 (a 0-50 eV low-loss file is not) and x1000 meets the window
        if 0 <= lo and hi <= 1.5 * WINDOW_EV[1] / 1000 and WINDOW_EV[0] <= 1000 * hi:
            hint = (f"; if the energies are in keV ({1000 * lo:.0f}-{1000 * hi:.0f} eV), give them in eV "
                    "or name the axis's units keV")
        raise SpectrumFileError(
            f"{where}: energy range {lo:.1f} to {hi:.1f} eV{shift} has no overlap with the "
            f"{WINDOW_EV[0]:.0f}-{WINDOW_EV[1]:.0f} eV window the networks see{hint}"
        )


def check_channels(energy_eV: np.ndarray, where: Any = "spectrum") -> None:
    """Raise SpectrumFileError if fewer than ``MIN_WINDOW_CHANNELS`` channels of ``energy_eV`` (eV,
    increasing) lie in ``WINDOW_EV`` or its median channel width exceeds ``MAX_CHANNEL_WIDTH_EV``."""
    e = np.asarray(energy_eV, dtype=np.float64)
    inside = int(np.count_nonzero((e >= WINDOW_EV[0]) & (e <= WINDOW_EV[1])))
    if inside < MIN_WINDOW_CHANNELS:
        raise SpectrumFileError(
            f"{where}: {inside} channel(s) in the {WINDOW_EV[0]:.0f}-{WINDOW_EV[1]:.0f} eV window the "
            f"networks see; at least {MIN_WINDOW_CHANNELS} are needed")
    width = float(np.median(np.diff(e)))
    if width > MAX_CHANNEL_WIDTH_EV:
        raise SpectrumFileError(
            f"{where}: channels {width:g} eV wide (median); at most {MAX_CHANNEL_WIDTH_EV:g} eV per channel "
            "can locate an edge onset (the networks read 1 eV channels)")


def nan_report(data: np.ndarray, energy_eV: np.ndarray) -> str | None:
    """A sentence saying how many non-finite values data hold and where, or None."""
    bad = ~np.isfinite(data)
    n_bad = int(bad.sum())
    if n_bad == 0:
        return None
    channels = np.flatnonzero(bad.reshape(-1, bad.shape[-1]).any(axis=0))
    energies = np.asarray(energy_eV)[channels]
    where = f"at {channels.size} channel(s), {energies.min():.2f}-{energies.max():.2f} eV"
    if bad.ndim > 1:
        per_pixel = bad.reshape(-1, bad.shape[-1]).any(axis=1)
        first = np.unravel_index(int(np.flatnonzero(per_pixel)[0]), bad.shape[:-1])
        where += f", in {int(per_pixel.sum())} of {per_pixel.size} spectra (first at pixel {tuple(map(int, first))})"
    return f"{n_bad} NaN/inf value(s) of {data.size} {where}"


# --------------------------------------------------------------------------- helpers


def _check_finite(data: np.ndarray, energy: np.ndarray, path: "Path | str") -> None:
    """SpectrumFileError naming ``path`` (a file or a signal) when the axis or the counts hold NaN/inf."""
    if not np.all(np.isfinite(energy)):
        raise SpectrumFileError(f"{path}: the energy axis holds NaN/inf values")
    report = nan_report(data, energy)
    if report:
        raise SpectrumFileError(f"{path}: {report}; remove or interpolate them (or crop the energy range) first")


def _as_float32(data: np.ndarray, where: Any) -> np.ndarray:
    """``data`` as contiguous float32; SpectrumFileError naming ``where`` when finite values exceed
    float32's range (they would become inf)."""
    data = np.asarray(data)
    if data.dtype.kind == "f" and data.dtype.itemsize > 4 and data.size:
        finite = np.isfinite(data)
        largest = float(np.max(np.abs(data), where=finite, initial=0.0))
        if largest > _FLOAT32_MAX:
            n = int(np.count_nonzero(finite & (np.abs(data) > _FLOAT32_MAX)))
            raise SpectrumFileError(
                f"{where}: {n} of {data.size} count value(s) exceed float32's range (~3.4e38; the largest is "
                f"{largest:.3g}): spectra are read as float32; rescale the counts")
    return np.ascontiguousarray(data, dtype=np.float32)


def _unit_factor(units: str) -> float | None:
    return _UNIT_SCALE_TO_EV.get(str(units).strip().replace(" ", "").lower())


def _axis_values(axis: dict) -> np.ndarray:
    if axis.get("axis") is not None:  # non-uniform axis
        return np.asarray(axis["axis"], dtype=np.float64)
    size = int(axis["size"])
    return float(axis.get("offset", 0.0)) + float(axis.get("scale", 1.0)) * np.arange(size)


def _describe_axes(axes: list[dict]) -> str:
    return ", ".join(f"{a.get('name') or '?'!s} (size {a.get('size')}, units {a.get('units') or 'none'!r})"
                     for a in axes)


def _find_energy_axis(axes: list[dict], path: Path) -> int:
    """Index (into axes) of the energy axis, by units then by name; raise if none."""
    in_ev = [i for i, a in enumerate(axes) if _unit_factor(a.get("units", "")) is not None]
    if len(in_ev) == 1:
        return in_ev[0]
    if len(in_ev) > 1:
        named = [i for i in in_ev if _ENERGY_NAME.search(str(axes[i].get("name", "")))]
        if len(named) == 1:
            return named[0]
        raise SpectrumFileError(f"{path}: several axes are in eV and none is uniquely named as the energy axis: "
                                + _describe_axes(axes))
    named = [i for i, a in enumerate(axes) if _ENERGY_NAME.search(str(a.get("name", "")))]
    if named:
        a = axes[named[0]]
        raise SpectrumFileError(f"{path}: the energy axis {a.get('name')!r} has units {a.get('units') or 'none'!r}; "
                                "only eV and keV are supported (recalibrate the file in eV)")
    raise SpectrumFileError(f"{path}: no energy axis (no axis in eV or keV, none named 'energy'); axes: "
                            + _describe_axes(axes))


def _pick(d: dict, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _read_rsciio(path: Path, fmt: str, signal_index: int | None) -> Spectrum:
    import importlib

    from eels_helpers.inference.emsa_header import rsciio_logs

    reader = importlib.import_module(f"rsciio.{fmt}").file_reader
    try:
        with rsciio_logs(path):
            signals = reader(str(path))
    except Exception as err:  # rosettasciio raises many types for corrupt files
        size = path.stat().st_size
        what = ("the file is empty (0 bytes)" if size == 0 else
                f"not a valid {fmt} file, or truncated ({size:,} bytes)")
        raise SpectrumFileError(f"{path}: {what}; rosettasciio could not read it as {fmt}: {err}") from err
    if isinstance(signals, dict):
        signals = [signals]
    if not signals:
        raise SpectrumFileError(f"{path}: the file holds no signal")
    if signal_index is not None:
        if not 0 <= signal_index < len(signals):
            raise SpectrumFileError(f"{path}: signal_index={signal_index} out of range (file holds {len(signals)})")
        index, chosen = signal_index, signals[signal_index]
        energy_index = _find_energy_axis(chosen["axes"], path)
    else:
        candidates = []
        first_error = None
        for i, sig in enumerate(signals):
            try:
                candidates.append((i, sig, _find_energy_axis(sig["axes"], path)))
            except SpectrumFileError as err:
                first_error = first_error or err
        if not candidates:
            raise first_error  # type: ignore[misc]
        eels = [c for c in candidates if "EELS" in str(_pick(c[1], "metadata", "Signal", "signal_type"))]
        index, chosen, energy_index = (eels or candidates)[0]

    return spectrum_from_signal_dict(
        chosen, path, reader=f"rosettasciio.{fmt}", energy_index=energy_index, source=str(path),
        extra={"signal_index": index, "n_signals_in_file": len(signals)},
        gatan_tags=fmt == "digitalmicrograph")


def spectrum_from_signal_dict(signal: dict, where: Any, *, reader: str, energy_index: int | None = None,
                              source: str | None = None, extra: dict | None = None, gatan_tags: bool = False,
                              assume_eV: bool = False) -> Spectrum:
    """The one conversion of a signal dictionary into a :class:`~eels_helpers.spectrum.Spectrum`.

    ``signal`` has the layout rosettasciio readers return and HyperSpy signals hold: ``data``,
    ``axes`` (dicts with ``name``, ``units``, ``size``, ``offset``/``scale`` or ``axis`` for a
    non-uniform axis, ``index_in_array``), ``metadata`` and optionally ``original_metadata`` and
    ``mapping``. The energy axis is ``axes[energy_index]`` (default: found by units, then name);
    it is converted to eV (keV axes are scaled), put last and made increasing; singleton
    navigation axes are dropped. ``where`` names the input in error messages (a path, or a
    signal's description). ``assume_eV``: an energy axis without units (empty or HyperSpy's
    ``<undefined>``) is taken as eV and ``metadata["energy_units_assumed"]`` is True. Raises
    :class:`SpectrumFileError` for empty data, an energy axis in other units or not monotonic, counts
    beyond float32's range and NaN/inf values (the window check is the caller's).
    """
    axes = signal["axes"]
    if energy_index is None:
        energy_index = _find_energy_axis(axes, where)
    data = signal["data"]
    data = np.asarray(data) if not hasattr(data, "compute") else data
    if data.size == 0:
        raise SpectrumFileError(f"{where}: no data (the {reader} signal is empty)")
    energy_axis = axes[energy_index]
    units = str(energy_axis.get("units") or "").strip()
    assumed = assume_eV and units.lower() in ("", "<undefined>")
    factor = 1.0 if assumed else _unit_factor(units)
    if factor is None:
        raise SpectrumFileError(f"{where}: the energy axis {energy_axis.get('name') or '(unnamed)'!s} has units "
                                f"{units or 'none'!r}; only eV and keV are supported (recalibrate it in eV)")
    array_index = [int(a.get("index_in_array", i)) for i, a in enumerate(axes)]
    energy = _axis_values(energy_axis) * factor
    data = np.moveaxis(data, array_index[energy_index], -1)
    nav = [a for i, a in sorted(zip(array_index, axes), key=lambda t: t[0]) if a is not energy_axis]
    keep = tuple(i for i, n in enumerate(data.shape[:-1]) if n != 1)
    data = data.reshape(tuple(data.shape[i] for i in keep) + (data.shape[-1],))
    if energy.size > 1 and energy[-1] < energy[0]:
        energy, data = energy[::-1], data[..., ::-1]
    if energy.size > 1 and not np.all(np.diff(energy) > 0):
        raise SpectrumFileError(
            f"{where}: the energy axis {energy_axis.get('name') or '(unnamed)'!s} is not strictly monotonic "
            f"(scale {energy_axis.get('scale')!r} {units or 'eV'} per channel)")
    md = signal.get("metadata", {}) or {}
    uniform = energy_axis.get("axis") is None
    metadata = {
        "reader": reader,
        **(extra or {}),
        "title": _pick(md, "General", "title") or "",
        "signal_type": _pick(md, "Signal", "signal_type") or "",
        "energy_axis": {
            "name": energy_axis.get("name", ""),
            "units": units if not assumed else "eV",
            "offset": float(energy_axis.get("offset", 0.0)) if uniform else None,
            "scale": float(energy_axis.get("scale", 1.0)) if uniform else None,
        },
        "navigation_axes": [
            {k: (v.item() if isinstance(v, np.generic) else v) for k, v in nav[i].items()
             if k in ("name", "size", "units", "scale", "offset")}
            for i in keep
        ],
    }
    if assume_eV:
        metadata["energy_units_assumed"] = assumed
    md = _with_mapping(md, signal.get("original_metadata") or {}, signal.get("mapping") or {})
    for key, keys in {
        "beam_energy_keV": ("Acquisition_instrument", "TEM", "beam_energy"),
        "convergence_angle_mrad": ("Acquisition_instrument", "TEM", "convergence_angle"),
        "collection_angle_mrad": ("Acquisition_instrument", "TEM", "Detector", "EELS", "collection_angle"),
    }.items():
        value = _pick(md, *keys)
        if value is not None:
            metadata[key] = float(value)
    if gatan_tags:  # Gatan EELS Atlas files keep them in 'ELP Fields'
        # placeholders (0, or 1 keV) are common there: keep only plausible TEM values
        for key, tag, low, high in (("beam_energy_keV", "Beam Energy (keV)", 20.0, 1000.0),
                                    ("collection_angle_mrad", "Collection semi-angle (mrad)", 0.1, 500.0),
                                    ("convergence_angle_mrad", "Convergence semi-angle (mrad)", 0.1, 500.0)):
            value = _find_tag(signal.get("original_metadata") or {}, tag)
            if key not in metadata and value is not None and low <= value <= high:
                metadata[key] = value
    elements = _pick(md, "Sample", "elements")
    if elements is not None:
        metadata["sample_elements"] = [str(e) for e in np.atleast_1d(elements)]
    if hasattr(data, "compute"):  # a dask array (lazy HyperSpy signal): computed as float32
        data = data.astype(np.float32).compute()
    data = _as_float32(data, where)
    _check_finite(data, energy, where)
    return Spectrum(data, energy, metadata, source)


def _with_mapping(metadata: dict, original: dict, mapping: dict) -> dict:
    """Apply a rosettasciio ``mapping`` (original-metadata path -> (metadata path, function))
    for the beam energy and angles, as HyperSpy does when it loads a file."""
    wanted = ("beam_energy", "convergence_angle", "collection_angle")
    result = {k: (dict(v) if isinstance(v, dict) else v) for k, v in metadata.items()}
    for source, (target, function) in mapping.items():
        if not target.endswith(wanted):
            continue
        value = _pick(original, *source.split("."))
        if value is None:
            continue
        try:
            value = function(value) if function is not None else value
            value = float(value)
        except (TypeError, ValueError):
            continue
        node = result
        *parents, leaf = target.split(".")
        for name in parents:
            node = node.setdefault(name, {}) if isinstance(node.get(name, {}), dict) else {}
        node.setdefault(leaf, value)
    return result


def _find_tag(tree: Any, tag: str) -> float | None:
    """First numeric value of a tag named ``tag`` anywhere in a nested dict."""
    if isinstance(tree, dict):
        if tag in tree:
            try:
                return float(tree[tag])
            except (TypeError, ValueError):
                pass
        for value in tree.values():
            found = _find_tag(value, tag)
            if found is not None:
                return found
    return None


def _column_ignored(path: Path, column: int | str | None) -> None:
    if column is not None:
        log.warning("%s: column=%r ignored: the file is read by its own format (an EMSA or binary file with one "
                    "signal), not as text columns", path, column)
