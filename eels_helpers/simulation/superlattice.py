"""A synthetic LaMnO3/BaTiO3/SrTiO3 superlattice spectrum image with known ground truth.

The default input of the mapping notebook (paper Fig. 7; the real SI of Chen et al. is not
public): 60 x 130 = 7,800 spectra (the paper's SI has 7,826), layers along the x axis
(SrTiO3 | BaTiO3 | LaMnO3 repeated), one microscope setting for the whole SI, like a real
acquisition.

Ground truth: each layer m occupies [x0_m, x1_m) (pixels); cation interdiffusion smooths its
occupancy to c_m(x) = [erf((x - x0_m)/(sqrt 2 s)) - erf((x - x1_m)/(sqrt 2 s))] / 2 (a box
convolved with a Gaussian of standard deviation s = ``interdiffusion_px``; the first and last
layers extend to the edges, so sum_m c_m = 1). The A site (Sr, Ba, La) and B site (Ti, Mn)
occupancies are sum_m c_m [material m has that cation]; atomic fractions are A/5, B/5 and O 3/5
(ABO3). Occupancies below 1e-4 are set to 0 (and the rest renormalised).

Spectra are built from the simulator's own steps (:mod:`eels_helpers.physics.cross_section`,
:mod:`~eels_helpers.simulation.fine_structure`, :mod:`~eels_helpers.simulation.lowloss`,
:mod:`~eels_helpers.simulation.background`, :mod:`~eels_helpers.simulation.noise`), with the parameters held fixed
across the SI instead of drawn per spectrum (``simulate_batch`` draws them per spectrum):

    counts(x, y, E) = D(y) [ sum_m c_m(x) A_m (E/E_start)^-r_m
                             + s sum_e f_e(x) (L * sigma_e (1 + fs_e))(E) ] + Poisson noise

* sigma_e: dsigma/dE (barn/eV) of the element's families whose onset is >= start + 10 eV and
  <= end - 25 eV (the simulator's window rule), for one (E0, alpha, beta): the atomic continuum,
  plus the white lines with ``white_lines`` (default off:
  :func:`eels_helpers.physics.white_lines.edge_cross_sections`);
* fs_e: one generic fine structure per edge family, drawn once (the same material everywhere),
  with its scale capped at ``fine_structure_max_scale`` (the paper's dataset allows 10); with
  ``fine_structure_conserves_strength`` (default) it moves the edge's strength instead of
  adding to it (:func:`~eels_helpers.simulation.fine_structure.conserve_strength`: sum over the
  near-edge region of sigma_e fs_e = 0, as real near-edge structure does), so that a model fit
  with atomic cross sections has a defined truth to find; False: the paper's modulation, which
  changes each edge's area by a random factor (made before the option: every cached SI);
* L: one low-loss (ZLP + plasmons, t/lambda fixed), the same for every pixel;
* background: per material an amplitude A_m and exponent r_m, mixed by the occupancies c_m;
* s: one scale, fixed so that the O K edge of SrTiO3 has jump ratio ``jump_ratio_O`` (peak of
  0.6 s sigma_O / background at 532 eV, the paper's definition);
* D(y): a linear dose/thickness gradient of +-``dose_gradient``/2 along y.

Energy window: ``energy_range_eV`` = 400..1000 eV at 1 eV per channel covers O K (532), Ti L2,3
(456), Mn L2,3 (640), Ba M4,5 (781) and La M4,5 (832) but no Sr edge (M at 134-358 eV, L at
1940 eV), as in the paper's SI, so Sr is in the specimen but cannot be detected: the
identification truth (``labels``) holds only elements with a family in the window.

Needs a GOS source that can compute M edges (the builtin table); the hydrogenic source only has
K and L edges and raises a ValueError here.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from eels_helpers.physics.gos_tables import resolve_gos
from eels_helpers.physics.white_lines import TABLE_PATHS

__all__ = ["MATERIALS", "TRAINING_PHYSICS", "SuperlatticeConfig", "SyntheticSI", "superlattice_si", "save_si",
           "load_si", "layer_occupancy"]

#: cations of each material (ABO3); order: A site, B site
MATERIALS = {"SrTiO3": ("Sr", "Ti"), "BaTiO3": ("Ba", "Ti"), "LaMnO3": ("La", "Mn")}
#: per material: background amplitude (relative) and exponent r
BACKGROUND = {"SrTiO3": (1.0, 3.0), "BaTiO3": (1.15, 2.8), "LaMnO3": (1.3, 3.3)}
FORMAT = "eels_helpers.superlattice"
FORMAT_VERSION = 1
#: the superlattice physics of the shipped networks' training spectra (``SuperlatticeConfig``'s gos and
#: white_lines): Ba M4,5's threshold resonance shared by the 3d9 4f1 multiplet, the "autoionisation"
#: white-line table (crystal-field Ti L2,3, multiplet La M5:M4). Chapters 06 and 09 (their notebook
#: parameters), ``eels-id evaluate --superlattices`` and ``eels-id map superlattice`` use it; the
#: default configuration keeps the paper simulator's atomic edges
TRAINING_PHYSICS = {"gos": "builtin+4f-multiplet", "white_lines": "autoionisation"}
OCCUPANCY_FLOOR = 1e-4


@dataclass(frozen=True)
class SuperlatticeConfig:
    """Parameters of the synthetic superlattice SI (units in the names).

    shape: (ny, nx) pixels. layers: (material, width_px) repeated along x from x = 0 until nx is
    covered. energy_range_eV: recorded window (start, end), 1 eV channels.
    counts_at_start: background counts per channel at the window start (SrTiO3, mean dose).
    label_min_fraction: an in-window element is labelled present where its atomic fraction is
    >= this. white_lines: add the bound-bound white lines of Ti and Mn L2,3 and La M4,5
    (:mod:`eels_helpers.physics.white_lines`) to the edges, before the fine structure, as
    ``SimulationConfig.white_lines`` does: False (default, the paper's atomic edges), True (the
    shipped "single-particle" table) or a table name of
    :data:`eels_helpers.physics.white_lines.TABLE_PATHS` (e.g. "autoionisation": crystal-field
    Ti L2,3, multiplet La M5:M4, as the shipped networks' training). Ba M4,5 has no line in any
    table: its 3d -> 4f strength is the continuum's threshold resonance, whose M5:M4 sharing
    follows ``gos`` ("builtin+4f-multiplet": the 3d9 4f1 multiplet, M4 above M5 as measured).
    """

    shape: tuple[int, int] = (60, 130)
    layers: tuple[tuple[str, int], ...] = (("SrTiO3", 14), ("BaTiO3", 14), ("LaMnO3", 15))
    interdiffusion_px: float = 1.2
    energy_range_eV: tuple[int, int] = (400, 1000)
    E0_keV: float = 300.0
    alpha_mrad: float = 20.0
    beta_mrad: float = 50.0
    counts_at_start: float = 1.0e4
    jump_ratio_O: float = 1.0
    dose_gradient: float = 0.2
    fine_structure: bool = True
    fine_structure_max_scale: float = 3.0
    fine_structure_conserves_strength: bool = True
    zlp_fwhm_eV: float = 1.5
    plasmon_energy_eV: tuple[int, ...] = (15, 28)
    plasmon_width_eV: tuple[int, ...] = (8, 12)
    t_over_lambda: float = 0.5
    label_min_fraction: float = 0.01
    noise: bool = True
    seed: int = 2023
    gos: str = "auto"
    white_lines: bool | str = False

    def __post_init__(self):
        def num(name, lo, hi, unit, integer=False):
            v = getattr(self, name)
            ok = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) \
                and math.isfinite(v) and lo <= v <= hi and (not integer or float(v).is_integer())
            if not ok:
                raise ValueError(f"SuperlatticeConfig.{name} must be {'an integer' if integer else 'a number'}"
                                 f" in [{lo}, {hi}] {unit}; got {v!r}")

        named = isinstance(self.white_lines, str) and self.white_lines in TABLE_PATHS
        if not (isinstance(self.white_lines, bool) or named):
            raise ValueError("SuperlatticeConfig.white_lines must be a bool or a white-line table name "
                             f"({', '.join(TABLE_PATHS)}); got {self.white_lines!r}")
        for name in ("fine_structure_conserves_strength", "fine_structure", "noise"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"SuperlatticeConfig.{name} must be a bool; got {getattr(self, name)!r}")
        shape = tuple(self.shape)
        if len(shape) != 2 or any(not isinstance(n, (int, np.integer)) or not 1 <= n <= 4096
                                  for n in shape):
            raise ValueError(f"SuperlatticeConfig.shape must be (ny, nx) pixels, each in [1, 4096];"
                             f" got {self.shape!r}")
        object.__setattr__(self, "shape", (int(shape[0]), int(shape[1])))
        layers = tuple((str(m), int(w)) for m, w in self.layers)
        if not layers or any(m not in MATERIALS or w < 1 for m, w in layers):
            raise ValueError(f"SuperlatticeConfig.layers must be (material, width_px >= 1) with "
                             f"material in {sorted(MATERIALS)}; got {self.layers!r}")
        object.__setattr__(self, "layers", layers)
        er = tuple(self.energy_range_eV)
        if len(er) != 2 or not all(float(v).is_integer() for v in er) or not 75 <= er[0] < er[1] <= 3071:
            raise ValueError("SuperlatticeConfig.energy_range_eV must be integer (start, end) eV "
                             f"with 75 <= start < end <= 3071; got {self.energy_range_eV!r}")
        object.__setattr__(self, "energy_range_eV", (int(er[0]), int(er[1])))
        num("interdiffusion_px", 0.0, 100.0, "px")
        num("E0_keV", 10.0, 1000.0, "keV")
        num("alpha_mrad", 0.0, 200.0, "mrad")
        num("beta_mrad", 0.01, 500.0, "mrad")
        num("counts_at_start", 1.0, 1e12, "counts")
        num("jump_ratio_O", 1e-4, 1e4, "")
        num("dose_gradient", 0.0, 1.9, "(relative)")
        num("fine_structure_max_scale", 0.0, 1000.0, "")
        num("zlp_fwhm_eV", 0.05, 50.0, "eV")
        num("t_over_lambda", 0.0, 10.0, "")
        num("label_min_fraction", 0.0, 1.0, "(atomic fraction)")
        num("seed", 0, 2**63 - 1, "", integer=True)
        pe, pw = tuple(self.plasmon_energy_eV), tuple(self.plasmon_width_eV)
        if len(pe) != len(pw) or any(not 1 <= v <= 200 for v in pe + pw):
            raise ValueError("SuperlatticeConfig.plasmon_energy_eV and plasmon_width_eV must be "
                             f"equally long tuples of values in [1, 200] eV; got {pe!r}, {pw!r}")
        object.__setattr__(self, "plasmon_energy_eV", tuple(int(v) for v in pe))
        object.__setattr__(self, "plasmon_width_eV", tuple(int(v) for v in pw))

    def key(self) -> str:
        """A hash of every parameter (cache key)."""
        params = asdict(self)
        if not self.white_lines:     # the key of every configuration made before the option
            params.pop("white_lines")
        if not self.fine_structure_conserves_strength:      # likewise
            params.pop("fine_structure_conserves_strength")
        blob = json.dumps(params, sort_keys=True) + f"v{FORMAT_VERSION}"
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(eq=False)
class SyntheticSI:
    """The spectrum image and its ground truth.

    spectrum: io.Spectrum, data float32 (ny, nx, C) counts on energy_eV (C,) (metadata holds
    beam_energy_keV, convergence_angle_mrad, collection_angle_mrad); lowloss: io.Spectrum (n,)
    counts on energies from -S eV; fractions: (ny, nx, 80) float32 atomic fractions of the
    specimen (Sr included); window_fractions: the same renormalised over the elements with an
    edge in the window (what a quantification measures); labels: (ny, nx, 80) bool
    identification truth; occupancy: (ny, nx, n_materials) layer occupancies c_m;
    probe_positions: {name: (row, col)} for Fig. 7b.
    """

    spectrum: object
    lowloss: object
    fractions: np.ndarray
    window_fractions: np.ndarray
    labels: np.ndarray
    occupancy: np.ndarray
    materials: tuple[str, ...]
    elements_in_window: tuple[str, ...]
    families: dict
    probe_positions: dict
    config: SuperlatticeConfig
    info: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.fractions.shape[:2])


def _layer_bounds(config: SuperlatticeConfig):
    nx = config.shape[1]
    bounds, x = [], 0
    while x < nx:
        for m, w in config.layers:
            if x >= nx:
                break
            bounds.append((m, x, x + w))
            x += w
    return bounds


def layer_occupancy(config: SuperlatticeConfig) -> tuple[np.ndarray, list]:
    """(c (nx, n_layers) occupancy of each layer at pixel centres x + 0.5, layer bounds)."""
    from scipy.special import erf

    bounds = _layer_bounds(config)
    x = np.arange(config.shape[1]) + 0.5
    s = config.interdiffusion_px
    c = np.zeros((x.size, len(bounds)))
    for j, (_, x0, x1) in enumerate(bounds):
        lo = -np.inf if j == 0 else x0
        hi = np.inf if j == len(bounds) - 1 else x1
        if s == 0:
            c[:, j] = (x >= lo) & (x < hi)
        else:
            k = math.sqrt(2) * s
            c[:, j] = 0.5 * (erf((x - lo) / k) - erf((x - hi) / k))
    c[c < OCCUPANCY_FLOOR] = 0.0
    return c / c.sum(axis=1, keepdims=True), bounds


def superlattice_si(config: SuperlatticeConfig | None = None, *,
                    cache: str | os.PathLike | None = None) -> SyntheticSI:
    """Build (or load from ``cache``, an .h5 path, when it holds the same configuration) the
    synthetic superlattice SI. Seeded: the same config gives the same spectra."""
    config = SuperlatticeConfig() if config is None else config
    if cache is not None and Path(cache).is_file():
        try:
            si = load_si(cache)
            if si.config.key() == config.key():
                return si
        except (OSError, ValueError, KeyError):
            pass  # unreadable or stale cache: rebuild
    si = _build(config)
    if cache is not None:
        save_si(si, cache)
    return si


def _build(config: SuperlatticeConfig) -> SyntheticSI:
    from eels_helpers.physics.elements import ELEMENTS, element_index, families_of
    from eels_helpers.physics.white_lines import edge_cross_sections
    from eels_helpers.simulation import background as _bg
    from eels_helpers.simulation import fine_structure as _fs
    from eels_helpers.simulation import lowloss as _ll
    from eels_helpers.simulation import noise as _noise
    from eels_helpers.spectrum import Spectrum

    rng = np.random.default_rng(config.seed)
    ny, nx = config.shape
    start, end = config.energy_range_eV
    n_fft = _ll.N_FFT
    materials = tuple(MATERIALS)

    # ---- ground truth: occupancies -> atomic fractions (nx, 80)
    c_layers, bounds = layer_occupancy(config)
    c_mat = np.stack([c_layers[:, [j for j, b in enumerate(bounds) if b[0] == m]].sum(axis=1)
                      for m in materials], axis=1)                     # (nx, n_mat)
    frac = np.zeros((nx, len(ELEMENTS)))
    for k, m in enumerate(materials):
        a, b = MATERIALS[m]
        frac[:, element_index(a)] += c_mat[:, k] / 5
        frac[:, element_index(b)] += c_mat[:, k] / 5
    frac[:, element_index("O")] += 3 / 5

    # ---- edge families in the window (the simulator's rule: onset >= start+10, <= end-25)
    specimen_elements = sorted({e for m in materials for e in MATERIALS[m]} | {"O"},
                               key=element_index)
    fams = [f for e in specimen_elements for f in families_of(e)
            if start + 10 <= f.onset_eV <= end - 25]
    if not fams:
        raise ValueError(f"no edge family of {specimen_elements} in {start}-{end} eV")
    gos = resolve_gos(config.gos)
    E = np.maximum(np.arange(n_fft, dtype=np.float64), 1.0)
    sigma, lines, _ = edge_cross_sections(fams, E, config.E0_keV, config.alpha_mrad,
                                          config.beta_mrad, gos, white_lines=config.white_lines)
    dead = [f.name for f, s in zip(fams, sigma) if not s.max() > 0]
    if dead:
        raise ValueError(f"GOS source {gos!r} cannot compute {', '.join(dead)}; the superlattice "
                         "needs M edges: use gos='builtin' (regenerate it with "
                         "scripts/regenerate_gos.py) or a GOSH file path")
    o_peak = float(sigma[[f.element for f in fams].index("O")].max())   # continuum (no O lines)
    sigma = (sigma + lines).astype(np.float32)                          # (n_fam, n_fft) barn/eV

    # ---- fine structure: one per family, from the major onset (the simulator's steps 2)
    fs_info = {}
    if config.fine_structure:
        p = _fs.sample_fine_structure(rng, len(fams))
        a_nm = rng.uniform(25.0, 250.0, size=len(fams)) * 1e-3
        fwhm = _fs.lifetime_width_eV(p["peak_eV"], a_nm[:, None])
        prof = _fs.fine_structure_profile(p["peak_eV"], p["weight"], fwhm, p["width_eV"])
        factor, ratio, _ = _fs.modulation(prof, config.fine_structure_max_scale)
        n_fs = factor.shape[1]
        onsets = [int(round(f.onset_eV)) for f in fams]
        if config.fine_structure_conserves_strength:
            edge = np.stack([sigma[i, o:o + n_fs] for i, o in enumerate(onsets)])
            factor = _fs.conserve_strength(factor, edge, p["width_eV"])
        for i, f in enumerate(fams):
            o = onsets[i]
            sigma[i, o:o + n_fs] *= factor[i]
            fs_info[f.name] = float(min(ratio[i], config.fine_structure_max_scale))

    # ---- low-loss (fixed for the SI) and convolution (Fig. 2c-d)
    P = len(config.plasmon_energy_eV)
    kernel = _ll.lowloss_kernel(np.array([config.zlp_fwhm_eV]),
                                np.array([config.plasmon_energy_eV]),
                                np.array([config.plasmon_width_eV]), np.array([P]),
                                np.array([config.t_over_lambda]))
    conv = _ll.convolve(sigma, np.repeat(kernel, len(fams), axis=0))      # (n_fam, n_fft)
    ch = np.arange(start, end + 1)
    owners = [f.element for f in fams]
    in_window = tuple(dict.fromkeys(owners))
    basis = np.stack([conv[[i for i, o in enumerate(owners) if o == e]][:, ch].sum(axis=0)
                      for e in in_window]).astype(np.float64)             # (n_el, C)

    # ---- background per material and the edge scale (jump ratio of O K in SrTiO3)
    A0 = config.counts_at_start
    bg_m = np.stack([_bg.power_law(ch.astype(np.float64), np.array([A0 * BACKGROUND[m][0]]),
                                   np.array([BACKGROUND[m][1]]), np.array([float(start)]))[0]
                     for m in materials]).astype(np.float64)              # (n_mat, C)
    bg_O = A0 * BACKGROUND["SrTiO3"][0] * (532.0 / start) ** -BACKGROUND["SrTiO3"][1]
    scale = config.jump_ratio_O * bg_O / (0.6 * o_peak)
    f_win = frac[:, [element_index(e) for e in in_window]]               # (nx, n_el)
    column = scale * f_win @ basis + c_mat @ bg_m                          # (nx, C) per column x
    dose = 1.0 + config.dose_gradient * ((np.arange(ny) + 0.5) / ny - 0.5)
    expected = (dose[:, None, None] * column[None, :, :]).astype(np.float32)
    data = _noise.poisson_noise(expected, rng) if config.noise else expected

    # ---- truth arrays on the full grid
    fractions = np.broadcast_to(frac[None].astype(np.float32), (ny, nx, len(ELEMENTS))).copy()
    win_idx = [element_index(e) for e in in_window]
    wf = np.zeros_like(fractions)
    wf[..., win_idx] = fractions[..., win_idx]
    wf /= wf.sum(axis=-1, keepdims=True)
    labels = np.zeros(fractions.shape, dtype=bool)
    labels[..., win_idx] = fractions[..., win_idx] >= config.label_min_fraction
    occupancy = np.broadcast_to(c_mat[None].astype(np.float32), (ny, nx, len(materials))).copy()

    # ---- probe positions (paper Fig. 7b): SrTiO3, BaTiO3, BaTiO3/LaMnO3 interface, LaMnO3
    row = ny // 2
    first = {}
    for m, x0, x1 in bounds:
        first.setdefault(m, (x0, x1))
    probes = {}
    if len(first) == 3:
        probes["1 SrTiO3"] = (row, min((first["SrTiO3"][0] + first["SrTiO3"][1]) // 2, nx - 1))
        probes["2 BaTiO3"] = (row, min((first["BaTiO3"][0] + first["BaTiO3"][1]) // 2, nx - 1))
        iface = next((x0 for (m, x0, _), prev in zip(bounds[1:], bounds) if m == "LaMnO3"
                      and prev[0] == "BaTiO3"), first["LaMnO3"][0])
        probes["3 BaTiO3/LaMnO3"] = (row, min(iface, nx - 1))
        probes["4 LaMnO3"] = (row, min((first["LaMnO3"][0] + first["LaMnO3"][1]) // 2, nx - 1))

    meta = {"title": "synthetic LaMnO3/BaTiO3/SrTiO3 superlattice",
            "beam_energy_keV": config.E0_keV, "convergence_angle_mrad": config.alpha_mrad,
            "collection_angle_mrad": config.beta_mrad, "reader": FORMAT}
    spectrum = Spectrum(data.astype(np.float32, copy=False), ch.astype(np.float64), meta, None)
    S = _ll.SUPPORT_EV
    ll_E = np.arange(-S, S, dtype=np.float64)
    ll = np.concatenate([kernel[0, n_fft - S:], kernel[0, :S]]) * np.float32(A0 * 1e3)
    lowloss = Spectrum(ll.astype(np.float32), ll_E, {"title": "synthetic low-loss"}, None)
    info = {"edge_scale": float(scale), "gos": str(gos), "fine_structure_ratio": fs_info,
            "layers": [list(b) for b in bounds]}
    return SyntheticSI(spectrum, lowloss, fractions, wf, labels, occupancy, materials, in_window,
                       {e: [f.name for f in fams if f.element == e] for e in in_window}, probes,
                       config, info)


def save_si(si: SyntheticSI, path: str | os.PathLike) -> Path:
    """Write ``si`` to an HDF5 file (temporary file then rename: never half-written)."""
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".h5.tmp", dir=path.parent)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            cfg = asdict(si.config)
            f.attrs["config"] = json.dumps(cfg)
            f.attrs["metadata"] = json.dumps(si.spectrum.metadata)
            f.attrs["info"] = json.dumps({"materials": list(si.materials),
                                          "elements_in_window": list(si.elements_in_window),
                                          "families": si.families,
                                          "probe_positions": {k: list(v) for k, v in
                                                              si.probe_positions.items()},
                                          **si.info})
            f.create_dataset("data", data=si.spectrum.data, compression="gzip", compression_opts=1)
            f.create_dataset("energy_eV", data=si.spectrum.energy_eV)
            f.create_dataset("lowloss", data=si.lowloss.data)
            f.create_dataset("lowloss_energy_eV", data=si.lowloss.energy_eV)
            # the truth is constant along y: store one row
            f.create_dataset("fractions_row", data=si.fractions[0])
            f.create_dataset("occupancy_row", data=si.occupancy[0])
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_si(path: str | os.PathLike) -> SyntheticSI:
    """Read a file written by :func:`save_si`."""
    import h5py

    from eels_helpers.physics.elements import element_index
    from eels_helpers.spectrum import Spectrum

    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != FORMAT:
            raise ValueError(f"{path}: not a {FORMAT} file")
        cfg = json.loads(f.attrs["config"])
        cfg["shape"] = tuple(cfg["shape"])
        cfg["layers"] = tuple(tuple(x) for x in cfg["layers"])
        for k in ("energy_range_eV", "plasmon_energy_eV", "plasmon_width_eV"):
            cfg[k] = tuple(cfg[k])
        cfg.setdefault("fine_structure_conserves_strength", False)   # files made before the option
        config = SuperlatticeConfig(**cfg)
        meta = json.loads(f.attrs["metadata"])
        info = json.loads(f.attrs["info"])
        data = f["data"][()]
        E = f["energy_eV"][()]
        ll, llE = f["lowloss"][()], f["lowloss_energy_eV"][()]
        frow, orow = f["fractions_row"][()], f["occupancy_row"][()]
    ny, nx = config.shape
    fractions = np.broadcast_to(frow[None], (ny, nx, frow.shape[-1])).copy()
    occupancy = np.broadcast_to(orow[None], (ny, nx, orow.shape[-1])).copy()
    in_window = tuple(info.pop("elements_in_window"))
    idx = [element_index(e) for e in in_window]
    wf = np.zeros_like(fractions)
    wf[..., idx] = fractions[..., idx]
    wf /= wf.sum(axis=-1, keepdims=True)
    labels = np.zeros(fractions.shape, dtype=bool)
    labels[..., idx] = fractions[..., idx] >= config.label_min_fraction
    return SyntheticSI(Spectrum(data, E, meta, str(path)), Spectrum(ll, llE, {"title": "low-loss"}),
                       fractions, wf, labels, occupancy, tuple(info.pop("materials")), in_window,
                       info.pop("families"),
                       {k: tuple(v) for k, v in info.pop("probe_positions").items()}, config, info)
