"""Cross-section shape tables of the simulator and their disk cache (paper Fig. 2a).

For each beam energy, :class:`ShapeTable` holds dsigma/dE (barn/eV per atom) of all 107 edge
families on a 1 eV grid of offsets from each family's first onset, at ``SHAPE_N_BETA`` effective
collection angles beta* (built from :class:`eels_helpers.physics.edge_shapes.EdgeShapeTable`).
An edge for any (alpha, beta) is then two row copies and a weighted sum: cross sections are never
recomputed per spectrum. Tables are cached on disk (``$EELS_ID_CACHE``, default
``~/.cache/eels_helpers``) under a key that hashes the beam energy, the grid, the GOS file and
the source of the modules that compute a table (``_TABLE_MODULES``), least recently used tables
evicted beyond a size cap (:mod:`eels_helpers.simulation.table_cache`).

Also here: the per-family constants the simulator needs (:func:`family_arrays`) and
:func:`can_simulate` (whether the GOS source computes an edge of an element).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from eels_helpers.files import file_digest
from eels_helpers.physics.elements import element_index
from eels_helpers.physics.gos_tables import resolve_gos
from eels_helpers.simulation.config import SimulationConfig
from eels_helpers.simulation.table_cache import CACHE_ENV, mark_used, shape_cache_dir, table_paths, write_table

__all__ = ["FamilyArrays", "family_arrays", "SHAPE_N_BETA", "ShapeTable", "CACHE_ENV",
           "shape_cache_dir", "edge_tables", "other_edge_list", "other_edge_tables", "can_simulate"]

#: cross sections below this (barn/eV) are exact zeros (below the onset)
_ZERO_BARN = 1e-20


@dataclass(frozen=True)
class FamilyArrays:
    """Per-family constants (index = position in EDGE_FAMILIES)."""

    onset: np.ndarray        # major onset (eV)
    first: np.ndarray        # lowest onset (eV)
    major_lo: np.ndarray     # lowest major onset (eV)
    major_hi: np.ndarray     # highest major onset (eV)
    element: np.ndarray      # index in ELEMENTS


@lru_cache(maxsize=1)
def family_arrays() -> FamilyArrays:
    from eels_helpers.physics.elements import EDGE_FAMILIES
    fams = EDGE_FAMILIES
    maj = [[f.onset_of(s) for s in f.major] for f in fams]
    return FamilyArrays(
        onset=np.array([f.onset_eV for f in fams]),
        first=np.array([f.first_onset_eV for f in fams]),
        major_lo=np.array([min(m) for m in maj]),
        major_hi=np.array([max(m) for m in maj]),
        element=np.array([element_index(f.element) for f in fams]))


#: effective-collection-angle nodes of the shape tables: linear interpolation between nodes
#: 8 % apart in beta*; its error against a direct calculation, at the worst points (half-way
#: between nodes), is bounded in tests/simulation/test_shape_tables.py
SHAPE_N_BETA = 64


@dataclass(frozen=True)
class ShapeTable:
    """dsigma/dE (barn/eV per atom) of all 107 families for one beam energy on a 1 eV grid of
    offsets from each family's first onset, at ``n_beta`` effective collection angles beta*
    (geometric grid): built from :class:`eels_helpers.physics.edge_shapes.EdgeShapeTable` and kept in
    linear form, so an edge for any (alpha, beta) is two row copies and a weighted sum
    (linear interpolation in ln beta*; beta* from Egerton's formula at the family's first
    onset)."""

    E0_keV: float
    onsets_eV: np.ndarray        # (107,) first onsets (eV)
    onset_channel: np.ndarray    # (107,) first onsets rounded to 1 eV (channel of offset 0)
    first_offset: int            # offset (eV) of column 0 (negative: room for bound lines)
    beta_eff_mrad: np.ndarray    # (n_beta,) geometric grid
    shapes: np.ndarray           # (n_beta, 107, n_offsets) float32, exact zeros below onset

    @classmethod
    def build(cls, E0_keV: float, gos: str, n_beta: int = SHAPE_N_BETA,
              white_lines: bool | str = False, edges=None) -> "ShapeTable":
        """The table of one beam energy; ``white_lines`` (True or a table name of
        :data:`eels_helpers.physics.white_lines.WHITE_LINE_MODELS`): add the bound-bound white lines of
        :mod:`eels_helpers.physics.white_lines` (Lorentzians on the offset grid, integrated over
        q at the same beta* as the continuum) to the families whose GOS source computes them;
        ``edges``: other edges than the 107 families (e.g. :func:`other_edge_list`; rows in that
        order)."""
        from eels_helpers.physics.edge_shapes import EdgeShapeTable
        t = EdgeShapeTable(float(E0_keV), edges, gos, n_beta=n_beta)
        shapes = np.exp(t.log_shapes)
        shapes[shapes < _ZERO_BARN] = 0.0    # the table stores ln(dsigma/dE + 1e-30)
        if white_lines:
            from eels_helpers.physics.white_lines import line_profile, table_path, white_line_shapes
            lines = white_line_shapes(t.names, t.onsets_eV, t.onset_channel, t.offsets_eV,
                                      float(E0_keV), t.beta_eff_mrad, path=table_path(white_lines),
                                      profile=line_profile(white_lines))
            has_edge = shapes.max(axis=(0, 2)) > 0       # no lines without a continuum
            shapes += (lines * has_edge[None, :, None]).astype(np.float32)
        return cls(float(E0_keV), np.asarray(t.onsets_eV, dtype=np.float64),
                   np.asarray(t.onset_channel, dtype=np.int64), int(t.offsets_eV[0]),
                   np.asarray(t.beta_eff_mrad, dtype=np.float64), shapes)

    def rows(self, family, alpha_mrad, beta_mrad) -> np.ndarray:
        """Edges (M, n_offsets) float32 of families ``family`` (M,) at (alpha, beta) (M,)."""
        from eels_helpers.physics.cross_section import effective_collection_angle
        f = np.asarray(family, dtype=np.int64)
        be = effective_collection_angle(self.onsets_eV[f], self.E0_keV, alpha_mrad, beta_mrad)
        grid = self.beta_eff_mrad
        u = np.log(be / grid[0]) / np.log(grid[1] / grid[0])
        n = grid.size
        if np.any(u < -1e-6) or np.any(u > n - 1 + 1e-6):
            raise ValueError(
                f"effective collection angle outside the tabulated range [{grid[0]:.4g}, "
                f"{grid[-1]:.4g}] mrad (the shape tables cover alpha in [1, 20] and beta in "
                "[1, 100] mrad)")
        i0 = np.clip(np.floor(u).astype(np.int64), 0, n - 2)
        w = np.clip(u - i0, 0.0, 1.0).astype(np.float32)[:, None]
        out = self.shapes[i0, f]
        out *= np.float32(1) - w
        hi = self.shapes[i0 + 1, f]
        hi *= w
        out += hi
        return out


#: modules whose source defines a shape table: any change to them invalidates the cache
_TABLE_MODULES = ("physics.cross_section", "physics.edge_shapes", "physics.gos_tables",
                  "physics.hydrogenic", "physics.elements", "simulation.shape_tables")


def _table_key(E0_keV: float, gos: str, n_beta: int, white_lines: bool | str = False, other: bool = False) -> str:
    """Hash of everything a shape table depends on: beam energy, grid, the GOS file's contents,
    the source code of the modules that compute it and, with ``white_lines``,
    the white-line module and table."""
    import hashlib
    import importlib
    from pathlib import Path

    from eels_helpers.physics.gos_tables import BUILTIN_GOS_PATH, RYDBERG_SUFFIX, SOURCE_WRAPPERS, split_source_name
    from eels_helpers.physics.rydberg_lines import RYDBERG_LINES_PATH

    h = hashlib.sha1(f"{E0_keV!r}|{n_beta}|{gos}{'|other' if other else ''}".encode())
    # "builtin+4f-multiplet+rydberg" (suffixes in any order): the builtin file, and each wrapper's module
    base, suffixes = split_source_name(gos)
    extra = {SOURCE_WRAPPERS[s][0] for s in suffixes}
    gos_file = BUILTIN_GOS_PATH if base == "builtin" else Path(base)
    if gos_file.is_file():
        # the file's size and SHA-1 (copies of the same GOS file share their cached tables)
        h.update(f"{gos_file.stat().st_size}|{file_digest(gos_file, 'sha1')}".encode())
    for name in _TABLE_MODULES + tuple(sorted(extra)):
        h.update(Path(importlib.import_module(f"eels_helpers.{name}").__file__).read_bytes())
    if RYDBERG_SUFFIX in suffixes:
        h.update(RYDBERG_LINES_PATH.read_bytes())
    if white_lines:
        from eels_helpers.physics import white_lines as wl
        h.update(b"|white_lines|" + Path(wl.__file__).read_bytes() + wl.table_path(white_lines).read_bytes())
        profile = wl.line_profile(white_lines)
        if profile is not None:                   # a profiled model: its parameters, code and data
            h.update(profile.source_bytes())
    return h.hexdigest()[:20]


def _load_or_build(E0_keV: float, gos: str, n_beta: int = SHAPE_N_BETA,
                   white_lines: bool | str = False, other: bool = False) -> ShapeTable:
    """A shape table from the disk cache (memory-mapped, read-only) or built and cached.

    Building a table takes seconds per beam energy and process; a cached table loads in
    milliseconds and its pages are shared between processes (85 MB per beam energy). The
    cache is written atomically and kept under its size cap (:mod:`eels_helpers.simulation.table_cache`);
    an unwritable cache folder only costs the rebuild."""
    folder = shape_cache_dir()
    edges = other_edge_list() if other else None
    if folder is None:
        return ShapeTable.build(E0_keV, gos, n_beta, white_lines, edges)
    key = _table_key(E0_keV, gos, n_beta, white_lines, other)
    shapes_path, meta_path = table_paths(folder, key)
    if shapes_path.is_file() and meta_path.is_file():
        try:
            with np.load(meta_path) as meta:
                table = ShapeTable(float(meta["E0_keV"]), meta["onsets_eV"], meta["onset_channel"],
                                   int(meta["first_offset"]), meta["beta_eff_mrad"],
                                   np.load(shapes_path, mmap_mode="r"))
            mark_used(folder, key)
            return table
        except (OSError, ValueError, KeyError):
            pass                                            # damaged: rebuild below
    table = ShapeTable.build(E0_keV, gos, n_beta, white_lines, edges)
    write_table(folder, key, table.shapes, E0_keV=table.E0_keV, onsets_eV=table.onsets_eV,
                onset_channel=table.onset_channel, first_offset=table.first_offset,
                beta_eff_mrad=table.beta_eff_mrad)
    return table


@lru_cache(maxsize=16)
def _shape_table(E0_keV: float, gos: str, white_lines: bool | str = False, other: bool = False) -> ShapeTable:
    return _load_or_build(E0_keV, gos, white_lines=white_lines, other=other)


@lru_cache(maxsize=1)
def other_edge_list() -> tuple:
    """The edges outside the 107 families (:data:`eels_helpers.physics.elements.OTHER_EDGES`) in
    Z order: the rows of :func:`other_edge_tables`."""
    from eels_helpers.physics.elements import OTHER_EDGES

    return tuple(e for el in sorted(OTHER_EDGES, key=element_index) for e in OTHER_EDGES[el])


@lru_cache(maxsize=4)
def other_edge_tables(E0_keV: tuple[float, ...], gos: str = "auto"):
    """``({E0: ShapeTable}, available)``: the cached shape tables of the edges outside the
    families (:func:`other_edge_list`, no white lines) for each beam energy, and a bool mask of
    those the GOS source can compute (the builtin table: all; hydrogenic: Al and Mg L2,3)."""
    src = resolve_gos(gos)
    tabs = {float(e): _shape_table(float(e), src, False, True) for e in E0_keV}
    avail = np.ones(len(other_edge_list()), dtype=bool)
    for t in tabs.values():
        avail &= t.shapes.max(axis=(0, 2)) > 0
    return tabs, avail


@lru_cache(maxsize=4)
def edge_tables(E0_keV: tuple[float, ...], gos: str = "auto", white_lines: bool | str = False):
    """``({E0: ShapeTable}, available)``: the cached shape tables of all 107 families for each
    beam energy, and a (107,) bool mask of the families the GOS source can compute;
    ``white_lines``: tables with the white lines added (True: the shipped single-particle
    table, or a table name: ``SimulationConfig.white_lines`` and ``white_line_model``)."""
    src = resolve_gos(gos)
    key = "single-particle" if white_lines is True else (white_lines or False)
    tabs = {float(e): _shape_table(float(e), src, key) for e in E0_keV}
    avail = np.ones(len(family_arrays().onset), dtype=bool)
    for t in tabs.values():
        avail &= t.shapes.max(axis=(0, 2)) > 0
    return tabs, avail


def can_simulate(element: str, config: SimulationConfig | None = None) -> bool:
    """Whether the configured GOS source can compute at least one edge family of ``element``
    (so it can be a query element). With the hydrogenic source: elements with a K or L family."""
    config = SimulationConfig() if config is None else config
    _, avail = edge_tables(tuple(config.E0_keV), config.gos)
    fa = family_arrays()
    return bool(avail[fa.element == element_index(element)].any())
