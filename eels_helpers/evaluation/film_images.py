"""Carbon-film spectrum images: a map of empty pixels must keep no element (issue 15, item 5).

A spectrum image's pixels over the holey-carbon support film hold a carbon K edge and nothing else.
:func:`carbon_film_images` makes ``n_images`` seeded images of ``side`` x ``side`` pixels, each from
one carbon-film spectrum of the open-world suite (:func:`eels_helpers.evaluation.open_world.
carbon_film_model`: a power law, half of them with plural scattering, a C K edge of jump ratio
0.2-3 in a window holding 284 eV), recorded on a detector axis of 0.1-1 eV per channel at 1e2-1e5
counts per channel at the window's start, every pixel its own Poisson draw (the recipe of session
27's experiment M27, seed 2828, so the figures since then compare). :func:`film_image_report` maps
them as ``eels-id map`` does (pre-processing, the network, twin resolution on each pixel's 3 x 3
neighbourhood, Tc/Pm withheld, the paper's 1 % pixel criterion, since session 35 the spatial-coherence
test of :mod:`eels_helpers.inference.map_coherence`, since session 37 its test against chance) and
counts the images that keep an element other than carbon; ``eels-id evaluate --film-images N`` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eels_helpers.spectrum import Spectrum

__all__ = ["N_IMAGES", "SIDE", "SEED", "FilmImageReport", "carbon_film_images", "film_image_report"]

#: images, pixels per side and seed of the standard set (session 27's M27; 16 images until session 35)
N_IMAGES, SIDE, SEED = 64, 10, 2828


def carbon_film_images(n_images: int = N_IMAGES, side: int = SIDE, seed: int = SEED) -> list[Spectrum]:
    """``n_images`` carbon-film spectrum images of ``side`` x ``side`` Poisson pixels (module docstring);
    image k draws from ``numpy.random.default_rng([seed, k])``, so a smaller set is a prefix of a larger."""
    from eels_helpers.evaluation.open_world import _GRID_EV, carbon_film_model

    for name, value in (("n_images", n_images), ("side", side)):
        if not (isinstance(value, (int, np.integer)) and value >= 1):
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    images = []
    for k in range(int(n_images)):
        rng = np.random.default_rng([seed, k])
        start, end, model, text = carbon_film_model(rng)
        dispersion = float(rng.uniform(0.1, 1.0))
        axis = np.arange(start, end, dispersion)
        level = 10 ** rng.uniform(2.0, 5.0)
        expected = np.interp(axis, _GRID_EV, model) * level
        counts = rng.poisson(np.broadcast_to(expected, (side, side, expected.size))).astype(np.float32)
        meta = {"title": f"carbon film {k}", "description": f"{text}; {dispersion:.2f} eV per channel, "
                                                            f"{level:.1e} counts at {start:.0f} eV"}
        images.append(Spectrum(counts, axis, meta))
    return images


@dataclass(frozen=True)
class FilmImageReport:
    """What a model's maps keep on carbon-film images: ``kept`` (per image, the elements other than C
    kept at the 1 % pixel criterion), ``pixel_fraction`` (element -> mean over the images of the
    fraction of pixels above the threshold, elements other than C that reach any pixel)."""

    model: str
    kept: tuple[tuple[str, ...], ...]
    pixel_fraction: dict[str, float]

    @property
    def images_with_other(self) -> int:
        """Images that keep an element other than carbon (the figure of merit; 0 is the target)."""
        return sum(bool(k) for k in self.kept)

    def summary(self) -> str:
        others = sorted({e for k in self.kept for e in k})
        return (f"carbon-film images ({len(self.kept)}): an element other than C kept in {self.images_with_other}"
                + (f" ({', '.join(others)})" if others else ""))

    def to_dict(self) -> dict:
        return {"images": len(self.kept), "images_with_other": self.images_with_other,
                "kept": [list(k) for k in self.kept], "pixel_fraction": self.pixel_fraction}


def film_image_report(model="default", images: list[Spectrum] | None = None, *, twin_neighbourhood: int = 3,
                      device: str = "cpu", **map_options) -> FilmImageReport:
    """Map ``images`` (default :func:`carbon_film_images`) with ``model`` as ``eels-id map`` does
    (:func:`eels_helpers.inference.mapping.map_elements`, ``map_options`` passed on) and report what
    the maps keep besides carbon (:class:`FilmImageReport`)."""
    from eels_helpers.inference.mapping import map_elements
    from eels_helpers.inference.predict import _as_loaded
    from eels_helpers.physics.elements import ELEMENTS

    images = carbon_film_images() if images is None else list(images)
    loaded = _as_loaded(model, device)          # read the model once for all images
    kept, fractions = [], np.zeros(len(ELEMENTS))
    for image in images:
        result = map_elements(image, loaded, twin_neighbourhood=twin_neighbourhood, device=device, **map_options)
        kept.append(tuple(e for e in result.detected if e != "C"))
        fractions += np.asarray(result.pixel_fraction, dtype=np.float64)
    fractions /= max(len(images), 1)
    pixel = {e: float(f) for e, f in zip(ELEMENTS, fractions) if f > 0 and e != "C"}
    return FilmImageReport(str(model), tuple(kept), pixel)
