"""What a model's maps keep on synthetic superlattices of several seeds (issue 15's superlattice bullet).

Chapter 06 maps one synthetic LaMnO3/BaTiO3/SrTiO3 superlattice (seed 2023). Its materials'
backgrounds and fine structures are drawn once per image, so which extra elements a map keeps beside
the true ones depends on the seed (session 34, diagnostic D34c: plus Co, Sb, Cr / Co, Sb / Sb, Fe, Cr
/ Co, V, Te for seeds 2023-2026). :func:`superlattice_report` maps the superlattices of several seeds
as ``eels-id map`` does (:func:`eels_helpers.inference.mapping.map_elements`: pre-processing, the
network, twin resolution on each pixel's neighbourhood, Tc/Pm withheld, the paper's 1 % pixel
criterion) and compares each kept set with the elements that have an edge in the window
(``SyntheticSI.elements_in_window``). The superlattices are built with :data:`TRAINING_PHYSICS` (the
shipped networks' training physics, as chapters 06 and 09 since session 34) unless told otherwise.
``eels-id evaluate --superlattices N`` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from eels_helpers.simulation.superlattice import TRAINING_PHYSICS

__all__ = ["TRAINING_PHYSICS", "FIRST_SEED", "SuperlatticeMap", "SuperlatticeReport", "superlattice_report"]

#: the seed of chapter 06's superlattice; the report's seeds are FIRST_SEED, FIRST_SEED + 1, ...
FIRST_SEED = 2023


@dataclass(frozen=True)
class SuperlatticeMap:
    """One superlattice's map: its ``seed``, the ``kept`` elements (1 % pixel criterion, by decreasing
    pixel fraction), the ``true`` ones (an edge in the window) and ``pixel_fraction`` of every kept
    element."""

    seed: int
    kept: tuple[str, ...]
    true: tuple[str, ...]
    pixel_fraction: dict[str, float]

    @property
    def extra(self) -> tuple[str, ...]:
        return tuple(e for e in self.kept if e not in self.true)

    @property
    def missed(self) -> tuple[str, ...]:
        return tuple(e for e in self.true if e not in self.kept)

    @property
    def exact(self) -> bool:
        return not self.extra and not self.missed


@dataclass(frozen=True)
class SuperlatticeReport:
    """The maps of a model on superlattices of several seeds (``maps``), ``shape`` pixels each."""

    model: str
    shape: tuple[int, int]
    maps: tuple[SuperlatticeMap, ...]

    @property
    def exact(self) -> int:
        """Superlattices whose map keeps exactly the true elements (the paper's result for its SI)."""
        return sum(m.exact for m in self.maps)

    def extra_counts(self) -> dict[str, int]:
        """Extra element -> in how many of the maps it is kept, most frequent first."""
        counts: dict[str, int] = {}
        for m in self.maps:
            for e in m.extra:
                counts[e] = counts.get(e, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def summary(self) -> str:
        n = len(self.maps)
        extra = ", ".join(f"{e} {k}/{n}" for e, k in self.extra_counts().items())
        missed = sorted({e for m in self.maps for e in m.missed})
        seeds = f"{n} seed{'s' if n != 1 else ''}"
        return (f"superlattices ({seeds}, {self.shape[0]} x {self.shape[1]} pixels): exactly the true elements "
                f"kept in {self.exact}" + (f"; extra elements kept: {extra}" if extra else "")
                + (f"; true elements missed: {', '.join(missed)}" if missed else ""))

    def table(self):
        """One row per seed: kept, extra and missed elements (pandas DataFrame)."""
        import pandas as pd

        return pd.DataFrame([{"seed": m.seed, "kept": ", ".join(m.kept), "extra": ", ".join(m.extra) or "-",
                              "missed": ", ".join(m.missed) or "-"} for m in self.maps]).set_index("seed")

    def to_dict(self) -> dict:
        return {"superlattices": len(self.maps), "shape": list(self.shape), "exact": self.exact,
                "extra_counts": self.extra_counts(),
                "maps": [{"seed": m.seed, "kept": list(m.kept), "true": list(m.true), "extra": list(m.extra),
                          "missed": list(m.missed), "pixel_fraction": m.pixel_fraction} for m in self.maps]}


def superlattice_report(model="ensemble", n_seeds: int = 4, *, shape: Sequence[int] = (60, 130),
                        first_seed: int = FIRST_SEED, physics: dict | None = None, threshold: float | None = None,
                        device: str = "cpu", **map_options) -> SuperlatticeReport:
    """Map the superlattices of seeds ``first_seed`` .. ``first_seed + n_seeds - 1`` (``shape`` pixels,
    ``physics``: SuperlatticeConfig's gos and white_lines, default :data:`TRAINING_PHYSICS`) with
    ``model`` at ``threshold`` (default: the model's own) and report what each map keeps."""
    from eels_helpers.inference.mapping import map_elements
    from eels_helpers.inference.predict import _as_loaded
    from eels_helpers.physics.elements import ELEMENTS
    from eels_helpers.simulation.superlattice import SuperlatticeConfig, superlattice_si

    if not (isinstance(n_seeds, int) and n_seeds >= 1):
        raise ValueError(f"n_seeds must be an integer >= 1 (superlattices to map), got {n_seeds!r}")
    physics = dict(TRAINING_PHYSICS if physics is None else physics)
    unknown = sorted(set(physics) - {"gos", "white_lines"})
    if unknown:
        raise ValueError(f"physics may set gos and white_lines only, got {unknown}")
    loaded = _as_loaded(model, device)          # read the model once for all superlattices
    maps = []
    for seed in range(int(first_seed), int(first_seed) + n_seeds):
        si = superlattice_si(SuperlatticeConfig(shape=tuple(shape), seed=seed, **physics))
        result = map_elements(si, loaded, threshold, device=device, **map_options)
        fractions = {e: round(float(result.pixel_fraction[ELEMENTS.index(e)]), 4) for e in result.detected}
        maps.append(SuperlatticeMap(seed, tuple(result.detected), tuple(si.elements_in_window), fractions))
    name = model if isinstance(model, str) else (getattr(model, "name", None) or type(model).__name__)
    return SuperlatticeReport(str(name), (int(shape[0]), int(shape[1])), tuple(maps))
