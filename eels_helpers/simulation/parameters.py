"""The random parameters of a simulated batch (paper Table 1), drawn in one place.

:func:`draw_parameters` draws every random number of :func:`eels_helpers.simulation.pipeline.
simulate_batch` except the counting noise, in a FIXED order, so the same generator state and
specimens always give the same parameters (and datasets stay bit-identical across versions; see
tests/simulation/test_reference.py). The order is:

1. microscope: beam energy E0, convergence angle alpha, collection angle beta (per spectrum);
2. a chemical shift per edge family of the specimen;
3. the detector window: one major edge set of the query element, chosen at random among those
   that fit, then start in [75, E_first - 10] and end in [E_last + 25, 3272] eV, where
   E_first/E_last are that set's lowest/highest major onset (chemically shifted); every other
   family whose shifted onset lies >= 10 eV after the start and >= 25 eV before the end is
   included (simulated and labelled);
4. the jump ratio J (per spectrum) and the edge it is imposed on (one random included edge);
5. background amplitude A and exponent r;
6. the atomic diameter of the Seah-Dench mean free path, then the fine structure of every
   included edge (:func:`eels_helpers.simulation.fine_structure.sample_fine_structure`);
7. the low-loss: ZLP width, number of plasmons, their energies and widths, t/lambda;
8. the instrumental shift.

The Poisson noise is drawn last, from the same generator, by the noise step
(:func:`eels_helpers.simulation.steps.counting_noise`): it depends on the noise-free spectrum.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from eels_helpers.physics.elements import element_index, families_of
from eels_helpers.simulation import fine_structure as _fs
from eels_helpers.simulation.config import SimulationConfig
from eels_helpers.simulation.shape_tables import family_arrays
from eels_helpers.simulation.specimens import Specimen

__all__ = ["BatchParameters", "draw_parameters"]


@dataclass(frozen=True, eq=False)
class BatchParameters:
    """Every random parameter of a batch of B spectra (first axis = spectrum).

    K is the largest number of edge families of a specimen (slots in specimen order, padded),
    M the number of included (spectrum, family) pairs in all, D = ``config.fs_degree[1]`` and
    P = ``config.n_plasmons[1]``. Family indices refer to
    :data:`eels_helpers.physics.elements.EDGE_FAMILIES`.
    """

    #: (B,) float64 beam energy, keV
    E0_keV: np.ndarray
    #: (B,) float64 convergence semi-angle, mrad
    alpha_mrad: np.ndarray
    #: (B,) float64 collection semi-angle, mrad
    beta_mrad: np.ndarray
    #: (B, K) int64 edge family of each specimen slot, -1 = padding
    family: np.ndarray
    #: (B, K) float64 atomic fraction of the slot's element (0 for padding)
    fraction: np.ndarray
    #: (B, K) int64 chemical shift of each family, eV
    chemical_shift_eV: np.ndarray
    #: (B, K) float64 major onset + chemical shift (true energy axis), eV
    onset_eV: np.ndarray
    #: (B, K) bool: the family is simulated and labelled (inside the window)
    included: np.ndarray
    #: (B,) int64 the query element's major family that fixed the window
    query_family: np.ndarray
    #: (B,) int64 detector window start (recorded axis), eV
    start_eV: np.ndarray
    #: (B,) int64 detector window end (recorded axis; may exceed the last channel), eV
    end_eV: np.ndarray
    #: (M,) int64 spectrum of each included pair (row-major order of ``included``)
    pair_spectrum: np.ndarray
    #: (M,) int64 specimen slot of each included pair
    pair_slot: np.ndarray
    #: (B,) float64 jump ratio J (dimensionless)
    jump_ratio: np.ndarray
    #: (B,) int64 index into the pairs of the edge carrying the jump ratio
    jump_pair: np.ndarray
    #: (B,) float64 background amplitude A, counts per 1 eV channel at the window start
    bg_amplitude: np.ndarray
    #: (B,) float64 background exponent r (dimensionless)
    bg_exponent: np.ndarray
    #: (B,) float64 atomic diameter a of the Seah-Dench mean free path, pm
    atomic_diameter_pm: np.ndarray
    #: (M,) int64 fine-structure width, eV
    fs_width_eV: np.ndarray
    #: (M,) int64 fine-structure degree (number of Gaussian peaks)
    fs_degree: np.ndarray
    #: (M, D) int64 peak energies above the onset, eV
    fs_peak_eV: np.ndarray
    #: (M, D) float32 peak heights in [-1, 1] (float16 precision; 0 beyond the degree)
    fs_weight: np.ndarray
    #: (B,) float64 FWHM of the Lorentzian zero-loss peak, eV
    zlp_fwhm_eV: np.ndarray
    #: (B,) int64 number of plasmon peaks
    n_plasmons: np.ndarray
    #: (B, P) int64 plasmon energies, eV (0 when unused)
    plasmon_energy_eV: np.ndarray
    #: (B, P) int64 plasmon widths, eV (0 when unused)
    plasmon_width_eV: np.ndarray
    #: (B,) float64 scattering parameter t/lambda (dimensionless)
    t_over_lambda: np.ndarray
    #: (B,) int64 instrumental shift s (recorded energy = true energy + s), eV
    instrumental_shift_eV: np.ndarray

    def __len__(self) -> int:
        return int(self.E0_keV.shape[0])

    @property
    def pair_family(self) -> np.ndarray:
        """(M,) edge family of each included pair."""
        return self.family[self.pair_spectrum, self.pair_slot]

    @property
    def pair_fraction(self) -> np.ndarray:
        """(M,) atomic fraction of each included pair's element."""
        return self.fraction[self.pair_spectrum, self.pair_slot]

    @property
    def pair_chemical_shift_eV(self) -> np.ndarray:
        """(M,) chemical shift of each included pair, eV."""
        return self.chemical_shift_eV[self.pair_spectrum, self.pair_slot]


# ----------------------------------------------------------------------------- specimen slots
@dataclass
class _Slots:
    family: np.ndarray     # (B, K) int, -1 pad
    fraction: np.ndarray   # (B, K)
    query_major: np.ndarray  # (B, K) bool: a family of the query element


@lru_cache(maxsize=None)
def _family_index() -> dict[str, int]:
    from eels_helpers.physics.elements import EDGE_FAMILIES
    return {f.name: i for i, f in enumerate(EDGE_FAMILIES)}


def _specimen_slots(specimens: Sequence[Specimen]) -> _Slots:
    rows = [_one_specimen(s) for s in specimens]
    lens = np.fromiter((r[0].size for r in rows), dtype=np.int64, count=len(rows))
    B, K = len(rows), int(lens.max())
    b = np.repeat(np.arange(B), lens)
    k = np.arange(b.size) - np.repeat(np.cumsum(lens) - lens, lens)
    fam = np.full((B, K), -1, dtype=np.int64)
    frac = np.zeros((B, K))
    qm = np.zeros((B, K), dtype=bool)
    fam[b, k] = np.concatenate([r[0] for r in rows])
    frac[b, k] = np.concatenate([r[1] for r in rows])
    qm[b, k] = np.concatenate([r[2] for r in rows])
    return _Slots(fam, frac, qm)


@lru_cache(maxsize=4096)
def _one_specimen(spec: Specimen):
    """(family indices, fractions, is-a-query-family) of every edge family of a specimen."""
    index = _family_index()
    f, x, q = [], [], []
    for el, fr in zip(spec.elements, spec.fractions):
        for fam in families_of(el):
            f.append(index[fam.name])
            x.append(fr)
            q.append(el == spec.query)
    return np.array(f, dtype=np.int64), np.array(x), np.array(q, dtype=bool)


# ----------------------------------------------------------------------------- the draw
def draw_parameters(specimens: Sequence[Specimen], config: SimulationConfig,
                    rng: np.random.Generator,
                    available: np.ndarray | None = None,
                    open_world: np.random.Generator | None = None) -> BatchParameters:
    """Draw every random parameter of a batch, in the fixed order of the module docstring.

    Parameters
    ----------
    specimens : sequence of Specimen, length B
        One specimen per spectrum (its elements, atomic fractions and query element).
    config : SimulationConfig
        The ranges of Table 1 (energies in eV, angles in mrad, E0 in keV).
    rng : numpy.random.Generator
        Consumed in the fixed order; the noise step continues from its state afterwards.
    available : numpy.ndarray of bool, shape (107,), optional
        Edge families the GOS source can compute (``edge_tables(...)[1]``); the others are
        treated as absent (never simulated, never labelled). None: all.
    open_world : numpy.random.Generator, optional
        The open-world steps' own generator (:func:`eels_helpers.simulation.open_world.
        generator`); when given, windows are redrawn by :func:`eels_helpers.simulation.
        open_world.redraw_windows` right after step 3's draw, before the families inside them
        are chosen. None (the paper's dataset): nothing else is drawn.

    Returns
    -------
    BatchParameters
        Frozen arrays, first axis = spectrum (B) or included pair (M); fields and units in its
        docstring.

    Raises
    ------
    ValueError
        When a specimen's query element has no major edge set that fits a window.
    """
    B = len(specimens)
    fa = family_arrays()
    slots = _specimen_slots(specimens)
    fam = slots.family
    valid = fam >= 0
    if available is not None:
        valid &= available[np.where(valid, fam, 0)]
    fsafe = np.where(valid, fam, 0)
    # 1. microscope
    E0 = rng.choice(np.asarray(config.E0_keV), size=B)
    alpha = rng.uniform(config.alpha_mrad[0], config.alpha_mrad[1], size=B)
    beta = rng.uniform(config.beta_mrad[0], config.beta_mrad[1], size=B)
    # 2. chemical shifts
    lo_c, hi_c = config.chemical_shift_eV
    chem = rng.integers(lo_c, hi_c + 1, size=fam.shape)
    # 3. detector window
    onset = fa.onset[fsafe] + chem
    lo = fa.major_lo[fsafe] + chem
    hi = fa.major_hi[fsafe] + chem
    mb, ma = config.margin_before_eV, config.margin_after_eV
    s_hi = np.floor(lo - mb).astype(np.int64)
    e_lo = np.ceil(hi + ma).astype(np.int64)
    fits = (valid & slots.query_major & (s_hi >= config.start_min_eV)
            & (e_lo <= config.end_max_eV))
    bad = ~fits.any(axis=1)
    if bad.any():
        b = int(np.flatnonzero(bad)[0])
        sp = specimens[b]
        raise ValueError(
            f"specimen {b} ({'-'.join(sp.elements)}, query {sp.query}): the query element has "
            f"no major edge set that fits a window [{config.start_min_eV}, "
            f"{config.end_max_eV}] eV with margins {mb}/{ma} eV"
            + ("" if available is None or available[fa.element == element_index(sp.query)].all()
               else f" among the families the GOS source {config.gos!r} can compute "
                    "(hydrogenic: K and L only)"))
    u = rng.random(fam.shape)
    q = np.argmax(np.where(fits, u, -1.0), axis=1)
    rows = np.arange(B)
    s_max = s_hi[rows, q]
    e_min = e_lo[rows, q]
    start = config.start_min_eV + np.floor(
        rng.random(B) * (s_max - config.start_min_eV + 1)).astype(np.int64)
    end = e_min + np.floor(rng.random(B) * (config.end_max_eV - e_min + 1)).astype(np.int64)
    if open_world is not None:
        from eels_helpers.simulation.open_world import redraw_windows
        start, end = redraw_windows(start, end, s_max, e_min, config, open_world)
    included = valid & (onset >= start[:, None] + mb) & (onset <= end[:, None] - ma)
    included[rows, q] = True
    bm, km = np.nonzero(included)                 # included (spectrum, specimen slot) pairs
    M = bm.size
    # 4. jump ratio, and its edge: the included pair with the largest uniform draw per spectrum
    jump_ratio = rng.uniform(*config.jump_ratio, size=B)
    jm_u = rng.random(M)
    order = np.argsort(bm + jm_u * 0.5, kind="stable")
    jm = order[np.r_[np.flatnonzero(np.diff(bm[order])), M - 1]]   # (B,) index into the pairs
    # 5. background
    bg_A = rng.choice(np.asarray(config.bg_amplitude), size=B)
    bg_r = rng.uniform(*config.bg_exponent, size=B)
    # 6. fine structure
    a_pm = rng.uniform(*config.atomic_diameter_pm, size=B)
    fsp = _fs.sample_fine_structure(rng, M, width_eV=config.fs_width_eV,
                                    degree=config.fs_degree)
    # 7. low-loss
    zlp = rng.uniform(*config.zlp_fwhm_eV, size=B)
    P = config.n_plasmons[1]
    n_pl = rng.integers(config.n_plasmons[0], P + 1, size=B)
    used = np.arange(P)[None, :] < n_pl[:, None]
    pl_E = np.where(used, rng.integers(config.plasmon_energy_eV[0],
                                       config.plasmon_energy_eV[1] + 1, size=(B, P)), 0)
    pl_W = np.where(used, rng.integers(config.plasmon_width_eV[0],
                                       config.plasmon_width_eV[1] + 1, size=(B, P)), 0)
    t_l = rng.uniform(*config.t_over_lambda, size=B)
    # 8. instrumental shift
    shift = rng.integers(config.instrumental_shift_eV[0], config.instrumental_shift_eV[1] + 1,
                         size=B)
    return BatchParameters(
        E0_keV=E0, alpha_mrad=alpha, beta_mrad=beta, family=fam, fraction=slots.fraction,
        chemical_shift_eV=chem, onset_eV=onset, included=included, query_family=fam[rows, q],
        start_eV=start, end_eV=end, pair_spectrum=bm, pair_slot=km, jump_ratio=jump_ratio,
        jump_pair=jm, bg_amplitude=bg_A, bg_exponent=bg_r, atomic_diameter_pm=a_pm,
        fs_width_eV=fsp["width_eV"], fs_degree=fsp["degree"], fs_peak_eV=fsp["peak_eV"],
        fs_weight=fsp["weight"], zlp_fwhm_eV=zlp, n_plasmons=n_pl, plasmon_energy_eV=pl_E,
        plasmon_width_eV=pl_W, t_over_lambda=t_l, instrumental_shift_eV=shift)
