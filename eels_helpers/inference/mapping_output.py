"""Figures and files of a spectrum-image map (:mod:`eels_helpers.inference.mapping`): element map
images, the paper's Fig. 7 (:func:`plot_fig7`) and :func:`write_results`, which writes
``mapping.h5`` and the PNGs into a folder atomically and removes an earlier map's files that it does
not rewrite (only the names of :data:`OUTPUT_NAMES` that the earlier ``mapping.h5`` lists);
:func:`check_output_dir` tells, before any work, whether a folder can receive them.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from eels_helpers.inference.mapping import MappingResult, QuantMap, as_spectrum

__all__ = ["MAX_PLOTTED", "OUTPUT_NAMES", "check_output_dir", "plot_element_maps", "plot_fig7", "write_results"]

logger = logging.getLogger(__name__)

#: at most this many elements per PNG of maps (the HDF5 file holds all 80)
MAX_PLOTTED = 16
#: maps per row of a PNG of maps
MAPS_PER_ROW = 4


# --------------------------------------------------------------------------- plots
def _plt():
    import matplotlib
    if matplotlib.get_backend().lower() not in ("agg",) and "inline" not in matplotlib.get_backend():
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    return plt


def _as_image(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    return a[None, :] if a.ndim == 1 else a.reshape(a.shape[0], -1) if a.ndim > 2 else a


def _show_map(ax, a: np.ndarray, **imshow_options):
    """Draw a map (a line scan or an image) on ``ax``: square pixels for an image, so that it lies over a
    survey image of the same scan; a line scan, drawn as one row, stretched to a readable band."""
    image = _as_image(a).astype(float)
    return ax.imshow(image, aspect="equal" if image.shape[0] > 1 else "auto", interpolation="nearest",
                     **imshow_options)


def plot_element_maps(maps: dict, title: str = "", *, vmin=0.0, vmax=1.0, cmap="viridis",
                      axes=None, binary: bool = False):
    """One image per element: ``maps`` {symbol: (ny, nx) array}, square pixels. ``binary``: the maps
    hold 0/1 (a thresholded decision), drawn with a two-step colour bar "no"/"yes". Returns the figure."""
    plt = _plt()
    n = max(len(maps), 1)
    if axes is None:
        first = _as_image(next(iter(maps.values()))) if maps else np.zeros((1, 1))
        rows, cols = first.shape
        panel_h = 2.2 * min(max(rows / cols, 0.25), 2.0) if rows > 1 else 1.0
        per_row = min(n, MAPS_PER_ROW)
        n_rows = -(-n // per_row)
        fig, grid = plt.subplots(n_rows, per_row, figsize=(2.6 * per_row + 0.8, n_rows * (panel_h + 0.4) + 0.4),
                                 squeeze=False, layout="constrained")
        for ax in grid.flat[n:]:        # the last row's empty places
            ax.set_axis_off()
        axes = list(grid.flat[:n])
    else:
        fig = axes[0].figure
    if binary:
        cmap = plt.get_cmap(cmap, 2)
    for ax, (el, m) in zip(axes, maps.items()):
        im = _show_map(ax, m, vmin=vmin, vmax=vmax, cmap=cmap)
        ax.set_title(el, fontsize=9)
        ax.set_xticks([]), ax.set_yticks([])
    if maps:
        bar = fig.colorbar(im, ax=list(axes), shrink=0.8)
        if binary:
            bar.set_ticks([0.25 * (vmax or 1.0), 0.75 * (vmax or 1.0)], labels=["no", "yes"])
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_fig7(data: Any, mapping: MappingResult | None, quant: QuantMap | None = None, *,
              probes: dict | None = None, truth_fractions: np.ndarray | None = None,
              elements: Sequence[str] | None = None, max_elements: int = 8):
    """Fig. 7: (a) summed intensity with the probe positions, (b) the spectra at the probes
    with the expected onsets of the elements, (c) per element rows of maps: network probability,
    thresholded, model-based relative fraction and (when given) the true relative fraction.
    ``elements`` default to the kept ones (at most ``max_elements``, the most frequent first).
    Without a network (``mapping=None``) only the quantification columns are drawn.
    Returns the figure."""
    from eels_helpers.physics.elements import families_of

    plt = _plt()
    spectrum = as_spectrum(data)
    if mapping is None and quant is None:
        raise ValueError("plot_fig7 needs a MappingResult or a QuantMap")
    if elements is None:
        elements = mapping.detected if mapping is not None else quant.elements
    elements = list(elements)
    nav = mapping.navigation_shape if mapping is not None else quant.result.fractions.shape[:-1]
    offset = mapping.offset_eV if mapping is not None else quant.offset_eV
    elements = elements[:max_elements]
    img = spectrum.data.sum(axis=-1)
    if not 1 <= img.ndim <= 2:
        raise ValueError(f"plot_fig7 needs a line scan or an image (1 or 2 navigation axes); got the "
                         f"navigation shape {img.shape}")
    probes = dict(probes or {})
    if not probes:
        ny, nx = img.shape[:2] if img.ndim == 2 else (1, img.size)
        probes = {f"{k + 1}": (ny // 2, int(x)) for k, x in enumerate(np.linspace(0, nx - 1, 4))}
    cols = [] if mapping is None else ["probability", f"p >= {mapping.threshold:g}"]
    if quant is not None:
        cols.append("model-based")
    if truth_fractions is not None and quant is not None:
        cols.append("truth")
    n_rows = max(len(elements), 1)
    fig = plt.figure(figsize=(3.0 * len(cols) + 6.5, 1.9 * n_rows + 2.5))
    gs = fig.add_gridspec(n_rows + 1, len(cols) + 2, height_ratios=[1.6] + [1] * n_rows)
    ax_a = fig.add_subplot(gs[0, :2])
    _show_map(ax_a, img, cmap="gray")
    for name, (r, c) in probes.items():
        ax_a.plot(c, r, "o", ms=6, mfc="none", mec="tab:red")
        ax_a.text(c + 1, r - 1, name.split()[0], color="tab:red", fontsize=8)
    ax_a.set_title("(a) summed intensity", fontsize=9)
    ax_b = fig.add_subplot(gs[0, 2:])
    E = spectrum.energy_eV - offset
    data2 = spectrum.data.reshape(img.shape + (E.size,)) if img.ndim == 2 else spectrum.data
    for k, (name, (r, c)) in enumerate(probes.items()):
        s = data2[r, c] if img.ndim == 2 else data2[c]
        s = s / max(float(np.max(s)), 1e-12)
        ax_b.plot(E, s + 0.6 * k, lw=0.7, label=name)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, el in enumerate(elements):
        for fam in families_of(el):
            for sub in fam.major:
                e = fam.onset_of(sub)
                if E[0] <= e <= E[-1]:
                    ax_b.axvline(e, ls="--", lw=0.7, color=colours[(j + 4) % len(colours)])
                    ax_b.text(e, 1.0, f"{el} {sub}", rotation=90, fontsize=6, va="bottom",
                              transform=ax_b.get_xaxis_transform())
    ax_b.set_xlabel("energy loss (eV)"), ax_b.set_yticks([])
    ax_b.legend(fontsize=7, loc="upper right")
    ax_b.set_title("(b) spectra at the probe positions", fontsize=9, pad=22)
    truth_rel = None
    if truth_fractions is not None and quant is not None:
        from eels_helpers.physics.elements import element_index
        idx = [element_index(e) for e in quant.elements]
        sub = np.asarray(truth_fractions)[..., idx]
        truth_rel = sub / np.maximum(sub.sum(axis=-1, keepdims=True), 1e-12)
    for i, el in enumerate(elements):
        panels = [] if mapping is None else [mapping.probability_map(el),
                                             mapping.thresholded_map(el)]
        n_net = len(panels)
        if quant is not None:
            panels.append(quant.fraction_map(el) if el in quant.elements
                          else np.full(nav, np.nan))
        if truth_rel is not None:
            panels.append(truth_rel[..., quant.elements.index(el)] if el in quant.elements
                          else np.full(nav, np.nan))
        vmax_q = max([float(np.nanmax(p)) for p in panels[n_net:] if np.isfinite(p).any()]
                     or [1.0])
        vmax_q = vmax_q if vmax_q > 0 else 1.0      # an element absent everywhere: 0 drawn as 0, not mid-scale
        for j, pan in enumerate(panels):
            ax = fig.add_subplot(gs[i + 1, j])
            vmax = 1.0 if j < n_net else vmax_q
            im = _show_map(ax, pan, vmin=0, vmax=vmax, cmap="viridis" if j < n_net else "magma")
            ax.set_xticks([]), ax.set_yticks([])
            if i == 0:
                ax.set_title(cols[j], fontsize=9)
            if j == 0:
                ax.set_ylabel(el, fontsize=10)
            if j == len(panels) - 1:
                fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle(f"(c) mapping: {mapping.model_name}, kept {', '.join(mapping.detected) or '-'}"
                 if mapping is not None else "(c) model-based quantification (no network)",
                 fontsize=10)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- writing
#: every file ``eels-id map`` may write into its folder (write_results' and its ``extra`` files): a rerun
#: into the same folder removes the ones of an earlier run that it does not rewrite, and nothing else
OUTPUT_NAMES = ("mapping.h5", "probabilities.png", "thresholded.png", "quantification.png", "fig7.png",
                "verification.json", "verification.png")
_FORMAT = "eels_helpers.mapping"


def check_output_dir(out_dir: str | os.PathLike) -> Path:
    """Check, before any work, that ``out_dir`` can receive the maps: it is a folder or does not
    exist yet, and the nearest existing folder above it accepts a new entry (tried by creating and
    removing an empty temporary folder there; ``out_dir`` itself is not created). Returns it as a Path.

    Raises NotADirectoryError naming ``out_dir`` when it (or a path above it) is a file, OSError
    (PermissionError, ...) when nothing can be created there."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} is a file, not a folder")
    probe = out
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise NotADirectoryError(f"{out}: {probe} is a file, not a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".map-check-", dir=probe))
    except OSError as err:
        raise type(err)(f"{out}: nothing can be created in {probe} ({err.strerror or err})") from None
    return out


def _earlier_outputs(out: Path) -> list[str]:
    """The output names an earlier ``eels-id map`` left in ``out``: those its ``mapping.h5`` lists
    (or, for a file written before the list was kept, :data:`OUTPUT_NAMES`); none without one."""
    import h5py

    if not (out / "mapping.h5").is_file():
        return []
    try:
        with h5py.File(out / "mapping.h5", "r") as f:
            if f.attrs.get("format") != _FORMAT:
                return []
            listed = f.attrs.get("files")
            names = json.loads(listed) if listed is not None else list(OUTPUT_NAMES)
    except (OSError, ValueError):     # not an HDF5 file of ours: leave the folder as it is
        return []
    return [n for n in names if n in OUTPUT_NAMES]


def write_results(out_dir: str | os.PathLike, spectrum: Any, mapping: MappingResult,
                  quant: QuantMap | None = None, *, probes=None, truth=None,
                  scores: dict | None = None, extra: Callable[[Path], Sequence[str]] | None = None,
                  microscope_source: dict | None = None) -> list[Path]:
    """Write ``mapping.h5`` and the PNGs into ``out_dir`` atomically: into a temporary folder
    first, then each file renamed into place, ``mapping.h5`` last. ``truth``: optional SyntheticSI
    for the truth panels. ``extra(tmp_dir)``: writes more files (names of :data:`OUTPUT_NAMES`)
    into the temporary folder and returns their names. ``microscope_source``: where the
    quantification's E0/alpha/beta came from ({"E0_keV": "given" | "metadata" | "default", ...}),
    kept in ``mapping.h5``.

    Files of :data:`OUTPUT_NAMES` that an earlier run left in ``out_dir`` (listed in its
    ``mapping.h5``) and that this run does not write are removed; no other file is touched. On any
    error (or Ctrl-C) before the files are moved, none is: the temporary folder is removed (``out_dir``
    itself is made first and stays; ``eels-id map`` removes it when it made it). Returns the paths
    written."""
    import h5py

    from eels_helpers.physics.elements import ELEMENTS

    nav = tuple(mapping.navigation_shape)
    if not 1 <= len(nav) <= 2:
        raise ValueError(f"a map needs a line scan or an image (1 or 2 navigation axes); got the "
                         f"navigation shape {nav}")
    plt = _plt()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".map-tmp-", dir=out))
    try:
        kept = list(mapping.detected)[:MAX_PLOTTED]
        figs = {"probabilities.png": plot_element_maps(
                    {e: mapping.probability_map(e) for e in kept}, "network probability"),
                "thresholded.png": plot_element_maps(
                    {e: mapping.thresholded_map(e) for e in kept},
                    f"probability >= {mapping.threshold:g}", binary=True)}
        if quant is not None:
            figs["quantification.png"] = plot_element_maps(
                {e: quant.fraction_map(e) for e in quant.elements[:MAX_PLOTTED]},
                "model-based relative atomic fraction", vmax=None, cmap="magma")
        figs["fig7.png"] = plot_fig7(spectrum, mapping, quant, probes=probes,
                                     truth_fractions=None if truth is None else truth.fractions)
        for name, fig in figs.items():
            fig.savefig(tmp / name, dpi=110)
            plt.close(fig)
        names = ["mapping.h5", *figs, *(extra(tmp) if extra is not None else ())]
        unknown = [n for n in names if n not in OUTPUT_NAMES]
        if unknown:
            raise ValueError(f"write_results: {unknown} are not output names of a map ({OUTPUT_NAMES})")
        with h5py.File(tmp / "mapping.h5", "w") as f:
            f.attrs["format"] = _FORMAT
            f.attrs["files"] = json.dumps(names)
            f.attrs["elements"] = json.dumps(list(ELEMENTS))
            f.attrs["threshold"] = mapping.threshold
            f.attrs["presence"] = mapping.presence
            f.attrs["offset_eV"] = mapping.offset_eV
            f.attrs["model"] = mapping.model_name
            f.attrs["kept"] = json.dumps(list(mapping.detected))
            f.attrs["withheld"] = json.dumps(mapping.withheld)
            f.attrs["unconfirmed"] = json.dumps(mapping.unconfirmed)
            f.attrs["incoherent"] = json.dumps(mapping.incoherent)
            f.attrs["by_chance"] = json.dumps(mapping.by_chance)
            f.attrs["source"] = str(getattr(spectrum, "source", "") or "")
            # the scan's calibration (name, size, scale, offset, units per navigation axis) as the file gave it,
            # so that the maps can be laid over a survey image; [] where the input had none
            f.attrs["navigation_axes"] = json.dumps(list(getattr(spectrum, "metadata", {}).get("navigation_axes", [])),
                                                    default=float)
            f.create_dataset("probabilities", data=mapping.probabilities, compression="gzip",
                             compression_opts=1)
            f.create_dataset("thresholded", data=mapping.thresholded, compression="gzip",
                             compression_opts=1)
            f.create_dataset("pixel_fraction", data=mapping.pixel_fraction)
            if quant is not None:
                g = f.create_group("quantification")
                r = quant.result
                g.attrs["elements"] = json.dumps(list(r.elements))
                g.attrs["skipped"] = json.dumps(r.skipped)
                g.attrs["config"] = json.dumps({k: getattr(r.config, k) for k in
                                                r.config.__dataclass_fields__})
                if microscope_source is not None:
                    g.attrs["microscope_source"] = json.dumps(microscope_source)
                g.create_dataset("amounts", data=r.amounts.astype(np.float32))
                g.create_dataset("fractions", data=r.fractions.astype(np.float32))
                g.create_dataset("background", data=r.background.astype(np.float32))
                g.create_dataset("chi2_reduced", data=r.chi2_reduced.astype(np.float32))
            if scores:
                f.attrs["scores"] = json.dumps(scores)
        stale = [n for n in _earlier_outputs(out) if n not in names and (out / n).is_file()]
        for name in stale:
            (out / name).unlink()
            logger.info("removed %s of an earlier map (this run does not write it)", out / name)
        written = []
        for name in sorted(names, key=lambda n: n == "mapping.h5"):      # mapping.h5 last
            os.replace(tmp / name, out / name)
            written.append(out / name)
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
