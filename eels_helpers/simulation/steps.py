"""The steps of the simulator (paper Fig. 2), as functions without randomness.

Each step takes the parameters drawn by :func:`eels_helpers.simulation.parameters.draw_parameters`
and the previous step's arrays, vectorised over the batch; :func:`eels_helpers.simulation.
pipeline.simulate_batch` chains them. Only :func:`counting_noise` consumes random numbers (the
generator, after the parameter draw): counting noise depends on the noise-free spectrum.

a. :func:`scaled_edges`: dsigma/dE of each included edge family from the shape tables
   (:func:`core_loss_edges`), times the element's atomic fraction, all edges of a spectrum scaled
   together so that the chosen edge has the drawn jump ratio (:func:`jump_ratio_scale`);
b. :func:`add_fine_structure_step`: the generic fine structure, from each family's major onset;
   then :func:`sum_edges` places the edges on the true energy axis;
c. :func:`lowloss`: the low-loss kernel (ZLP and plasmons);
d. :func:`plural_scattering`: the summed edges convolved with it;
e. :func:`background` and :func:`add_background`: the power law A (E/E_start)^-r;
f. :func:`record`: instrumental shift and detector window; :func:`counting_noise`;
   :func:`normalise`; and :func:`labels`.

Energies: edges, background and low-loss live on the true energy-loss axis (1 eV channels). The
detector window and the instrumental shift s refer to the recorded axis: recorded channel i holds
true energy i - s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eels_helpers.physics.elements import ELEMENTS
from eels_helpers.simulation import background as _background
from eels_helpers.simulation import fine_structure as _fs
from eels_helpers.simulation import lowloss as _lowloss
from eels_helpers.simulation import noise as _noise
from eels_helpers.simulation.parameters import BatchParameters
from eels_helpers.simulation.shape_tables import family_arrays

__all__ = ["N_FFT", "EdgeRows", "core_loss_edges", "jump_ratio_scale", "add_fine_structure",
           "place_edges", "instrumental_shift", "scaled_edges", "add_fine_structure_step",
           "sum_edges", "lowloss", "plural_scattering", "background", "add_background",
           "record", "counting_noise", "normalise", "labels"]

#: length of the true-energy grid (channels of 1 eV) on which edges are built and convolved
N_FFT = _lowloss.N_FFT


# ----------------------------------------------------------------------------- building blocks
def core_loss_edges(tables: dict, family, E0_keV, alpha_mrad, beta_mrad) -> np.ndarray:
    """dsigma/dE (barn/eV per atom) of edge families ``family`` (M,) for beams (M,) -> (M, n_off)
    float32 on the tables' offsets from each family's first onset (rounded to 1 eV), by
    :meth:`eels_helpers.simulation.shape_tables.ShapeTable.rows` (Egerton's beta* at the family's
    first onset, see :mod:`eels_helpers.physics.cross_section`)."""
    family = np.asarray(family)
    E0 = np.asarray(E0_keV, dtype=np.float64)
    missing = set(np.unique(E0).tolist()) - set(tables)
    if missing:
        raise ValueError(f"E0_keV values {sorted(missing)} have no shape table")
    any_tab = next(iter(tables.values()))
    if len(tables) == 1:
        return any_tab.rows(family, alpha_mrad, beta_mrad)
    out = np.empty((family.size, any_tab.shapes.shape[2]), dtype=np.float32)
    for e, tab in tables.items():
        sel = np.flatnonzero(E0 == e)
        if sel.size:
            out[sel] = tab.rows(family[sel], np.asarray(alpha_mrad)[sel],
                                np.asarray(beta_mrad)[sel])
    return out


def jump_ratio_scale(edge_peak, jump_ratio, amplitude, exponent, start_eV, onset_eV):
    """Scale s such that s x edge_peak = J x A (E_onset/E_start)^-r: the jump ratio J of an edge
    whose unscaled peak amplitude is ``edge_peak`` (all (B,))."""
    bg = _background.power_law(np.asarray(onset_eV, dtype=np.float64)[:, None], amplitude,
                               exponent, start_eV)[:, 0]
    return np.asarray(jump_ratio) * bg / np.asarray(edge_peak)


def add_fine_structure(rows, fs_start, factor) -> np.ndarray:
    """Multiply edge rows (M, n) in place from column ``fs_start`` (M,) on by the fine-structure
    factors (M, n_fs) of :func:`eels_helpers.simulation.fine_structure.modulation`; returns rows."""
    n_fs = factor.shape[1]
    cols = np.asarray(fs_start)[:, None] + np.arange(n_fs)[None, :]
    seg = np.take_along_axis(rows, cols, axis=1)
    np.put_along_axis(rows, cols, seg * factor, axis=1)
    return rows


def place_edges(rows, batch_index, first_channel, n_batch: int, n_channels: int = N_FFT):
    """Sum edge rows (M, n_off) into spectra (n_batch, n_channels): row m starts at channel
    ``first_channel[m]`` (>= 0) of spectrum ``batch_index[m]``. Integer slicing: one strided
    add per edge rank (the k-th edge of every spectrum at once), no interpolation."""
    from numpy.lib.stride_tricks import as_strided
    rows = np.asarray(rows, dtype=np.float32)
    M, n_off = rows.shape
    b = np.asarray(batch_index, dtype=np.int64)
    start = np.asarray(first_channel, dtype=np.int64)
    if M and start.min() < 0:
        raise ValueError("place_edges: first_channel must be >= 0")
    width = n_channels + n_off
    buf = np.zeros((n_batch, width), dtype=np.float32)
    # windows[b, c] is the view buf[b, c:c + n_off]
    windows = as_strided(buf, shape=(n_batch, n_channels + 1, n_off),
                         strides=(buf.strides[0], buf.strides[1], buf.strides[1]))
    start = np.minimum(start, n_channels)
    order = np.lexsort((np.arange(M), b))
    b_sorted = b[order]
    rank = np.empty(M, dtype=np.int64)
    rank[order] = np.arange(M) - np.searchsorted(b_sorted, b_sorted, side="left")
    for r in range(int(rank.max()) + 1 if M else 0):
        sel = np.flatnonzero(rank == r)      # at most one row per spectrum: no overlaps
        windows[b[sel], start[sel]] += rows[sel]
    return buf[:, :n_channels]


def instrumental_shift(true_axis, shift, n_channels: int, s_max: int) -> np.ndarray:
    """Recorded spectra (B, n_channels) from arrays on the true axis (B, n_channels + 2 s_max)
    whose column j holds true energy j - s_max: recorded channel i = true energy i - s
    (``shift`` (B,) integers, |s| <= s_max). One slice copy per distinct shift."""
    out = np.empty((true_axis.shape[0], n_channels), dtype=true_axis.dtype)
    shift = np.asarray(shift)
    for s in np.unique(shift):
        rows = np.flatnonzero(shift == s)
        out[rows] = true_axis[rows, s_max - s:s_max - s + n_channels]
    return out


# ----------------------------------------------------------------------------- the steps
@dataclass(frozen=True, eq=False)
class EdgeRows:
    """The included edges of a batch, one row per included (spectrum, family) pair (M pairs).

    rows: (M, n_off) float32 scaled edges (counts per channel) on the shape tables' offsets from
    each family's first onset; first_channel: (M,) true-axis channel of column 0;
    fs_start: (M,) column of the family's major onset (where fine structure starts);
    onset_eV: (M,) major onset + chemical shift on the 1 eV grid (true axis), eV;
    weight: (M,) atomic fraction x jump-ratio scale, counts per (barn/eV).
    """

    rows: np.ndarray
    first_channel: np.ndarray
    fs_start: np.ndarray
    onset_eV: np.ndarray
    weight: np.ndarray


def scaled_edges(tables: dict, p: BatchParameters, peak_tables: dict | None = None) -> EdgeRows:
    """Fig. 2a: the core-loss edge of every included pair, dsigma/dE x atomic fraction x one
    scale per spectrum that gives the edge ``p.jump_pair`` the jump ratio ``p.jump_ratio``
    (peak of the unscaled edge over the background at its onset; the paper's definition).
    ``tables``: ``{E0_keV: ShapeTable}`` of :func:`eels_helpers.simulation.shape_tables.edge_tables`;
    ``peak_tables``: tables whose edges define the peak of the jump ratio instead (the continuum
    without white lines, so that white lines add to the paper's edges instead of shrinking them)."""
    any_tab = next(iter(tables.values()))
    fa = family_arrays()
    bm, fm, jm = p.pair_spectrum, p.pair_family, p.jump_pair
    rows = core_loss_edges(tables, fm, p.E0_keV[bm], p.alpha_mrad[bm], p.beta_mrad[bm])
    frac_m = p.pair_fraction
    if peak_tables is None:
        peak = rows.max(axis=1) * frac_m
    else:
        peak = np.zeros(fm.size)
        peak[jm] = core_loss_edges(peak_tables, fm[jm], p.E0_keV, p.alpha_mrad,
                                   p.beta_mrad).max(axis=1) * frac_m[jm]
    chem_m = p.pair_chemical_shift_eV
    first_ch = any_tab.onset_channel[fm] + chem_m + any_tab.first_offset
    major_off = fa.onset[fm] - fa.first[fm]        # major onset above the first onset (eV)
    onset_m = any_tab.onset_channel[fm] + chem_m + major_off
    scale = jump_ratio_scale(peak[jm], p.jump_ratio, p.bg_amplitude, p.bg_exponent, p.start_eV,
                             onset_m[jm])
    weight_m = frac_m * scale[bm]
    rows *= weight_m.astype(np.float32)[:, None]
    fs_start = np.rint(major_off).astype(np.int64) - any_tab.first_offset
    return EdgeRows(rows, first_ch, fs_start, onset_m, weight_m)


def add_fine_structure_step(edges: EdgeRows, p: BatchParameters, max_scale: float,
                            depth: np.ndarray | None = None) -> np.ndarray:
    """Fig. 2b: multiply each edge row IN PLACE by its generic fine structure 1 + c f (from the
    major onset; :mod:`eels_helpers.simulation.fine_structure`, scale capped at ``max_scale``),
    or by 1 + d c f with ``depth`` d (M,) in [0, 1] (``SimulationConfig.fs_depth``).
    Returns the ratio R = max f / |min f| (M,) of each fine structure."""
    a_nm = p.atomic_diameter_pm[p.pair_spectrum, None] * 1e-3
    fwhm = _fs.lifetime_width_eV(p.fs_peak_eV, a_nm)
    prof = _fs.fine_structure_profile(p.fs_peak_eV, p.fs_weight, fwhm, p.fs_width_eV)
    factor, fs_ratio, _ = _fs.modulation(prof, max_scale)
    if depth is not None:
        factor = np.float32(1) + np.asarray(depth, np.float32)[:, None] * (factor - np.float32(1))
    add_fine_structure(edges.rows, edges.fs_start, factor)
    return fs_ratio


def split_white_lines(edges: EdgeRows, continuum_tables: dict, p: BatchParameters) -> np.ndarray:
    """Split the rows of edges with white lines IN PLACE: ``edges.rows`` becomes the continuum
    (the same family, beam and weight from ``continuum_tables``, the tables without lines) and the
    returned (M, n_off) float32 array is the lines' part (rows - continuum; the white-line tables
    add the lines to the continuum, :meth:`eels_helpers.simulation.shape_tables.ShapeTable.build`).
    Rows that are all zero (edges removed) stay zero."""
    bm = p.pair_spectrum
    continuum = core_loss_edges(continuum_tables, p.pair_family, p.E0_keV[bm], p.alpha_mrad[bm],
                                p.beta_mrad[bm])
    continuum *= edges.weight.astype(np.float32)[:, None]
    continuum[~edges.rows.any(axis=1)] = 0.0
    lines = edges.rows - continuum
    edges.rows[:] = continuum
    return lines


def sum_edges(edges: EdgeRows, p: BatchParameters, keep_channels: int) -> np.ndarray:
    """The summed edges of each spectrum on the true axis (B, N_FFT) float32, zero from channel
    ``keep_channels`` on (so that the circular convolution cannot wrap into the window)."""
    out = place_edges(edges.rows, p.pair_spectrum, edges.first_channel, len(p))
    out[:, keep_channels:] = 0.0
    return out


def lowloss(p: BatchParameters, model: str = "paper") -> np.ndarray:
    """Fig. 2c: the low-loss kernel (B, N_FFT) float32. ``model`` "paper":
    :func:`eels_helpers.simulation.lowloss.lowloss_kernel` (Lorentzian ZLP + independent Drude
    plasmons weighted by Poisson probabilities); "poisson":
    :func:`~eels_helpers.simulation.lowloss.poisson_series_kernel` with the first drawn plasmon's
    energy and width (the same random draws, so the rest of the spectrum is unchanged)."""
    if model == "poisson":
        t_l = np.where(np.asarray(p.n_plasmons) > 0, p.t_over_lambda, 0.0)    # no plasmon: the ZLP alone
        return _lowloss.poisson_series_kernel(p.zlp_fwhm_eV, p.plasmon_energy_eV[:, 0], p.plasmon_width_eV[:, 0], t_l)
    return _lowloss.lowloss_kernel(p.zlp_fwhm_eV, p.plasmon_energy_eV, p.plasmon_width_eV,
                                   p.n_plasmons, p.t_over_lambda)


def plural_scattering(edges: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Fig. 2d: the summed edges (B, N_FFT) convolved with the low-loss kernel (circular FFT
    convolution, float32)."""
    return _lowloss.convolve(edges, kernel)


def background(p: BatchParameters, n_channels: int, s_max: int) -> np.ndarray:
    """Fig. 2e: A (E/E_start)^-r (counts per channel) on the true energies -s_max ..
    n_channels + s_max - 1 eV -> (B, n_channels + 2 s_max) float32."""
    return _background.power_law(np.arange(-s_max, n_channels + s_max), p.bg_amplitude,
                                 p.bg_exponent, p.start_eV)


def add_background(bg: np.ndarray, convolved: np.ndarray, n_channels: int,
                   s_max: int) -> np.ndarray:
    """Background + convolved edges on the true energies -s_max .. n_channels + s_max - 1 eV
    (a new array; the convolution's negative energies are its last ``s_max`` channels)."""
    total = bg.copy()
    n_fft = convolved.shape[1]
    if s_max:
        total[:, :s_max] += convolved[:, n_fft - s_max:]
    total[:, s_max:] += convolved[:, :n_channels + s_max]
    return total


def record(true_axis: np.ndarray, p: BatchParameters, n_channels: int, s_max: int) -> np.ndarray:
    """Fig. 2f, the instrument: shift arrays on the true axis (B, n_channels + 2 s_max) by the
    instrumental shift onto the recorded axis, keep the detector window [start, end] (zero
    elsewhere, negative values clipped to 0) -> noise-free counts (B, n_channels) float32."""
    shifted = instrumental_shift(true_axis, p.instrumental_shift_eV, n_channels, s_max)
    ch = np.arange(n_channels)
    window = (ch[None, :] >= p.start_eV[:, None]) & (ch[None, :] <= p.end_eV[:, None])
    return np.where(window, np.maximum(shifted, np.float32(0)), np.float32(0))


def counting_noise(expected: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fig. 2f: Poisson counts with means ``expected`` (:func:`eels_helpers.simulation.noise.
    poisson_noise`); the one step that draws random numbers."""
    return _noise.poisson_noise(expected, rng)


def normalise(counts: np.ndarray) -> np.ndarray:
    """Spectra divided by their maximum (an all-zero spectrum stays zero)."""
    mx = counts.max(axis=1, keepdims=True)
    return counts / np.where(mx > 0, mx, np.float32(1))


def labels(p: BatchParameters) -> tuple[np.ndarray, np.ndarray]:
    """(identification (B, 80) uint8: 1 for each element with an included family,
    quantification (B, 80) float32: their atomic fractions renormalised to sum 1)."""
    B = len(p)
    bm = p.pair_spectrum
    el_m = family_arrays().element[p.pair_family]
    ident = np.zeros((B, len(ELEMENTS)), dtype=np.uint8)
    ident[bm, el_m] = 1
    quant = np.zeros((B, len(ELEMENTS)), dtype=np.float32)
    quant[bm, el_m] = p.pair_fraction
    quant /= quant.sum(axis=1, keepdims=True)
    return ident, quant
