"""The ``Spectrum``: an EELS spectrum or spectrum image with its calibrated energy axis.

A foundation module (NumPy only): any stage may import it. The simulation makes spectra
(:mod:`eels_helpers.simulation.superlattice`), :func:`eels_helpers.inference.spectrum_files.read_spectrum`
reads them from files, and pre-processing, prediction and mapping take them. Data have the
energy axis LAST, ``(*navigation_shape, n_channels)``; energies are in eV.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Spectrum:
    """An EELS spectrum or spectrum image with its calibrated energy axis.

    data: float32 array (*navigation_shape, n_channels), energy axis last.
    energy_eV: float64 array (n_channels,), strictly increasing, in eV (the file's
        calibration; no offset correction applied).
    metadata: beam_energy_keV, convergence_angle_mrad, collection_angle_mrad when the file
        has them; title; energy_axis (name, original units, offset, scale); navigation_axes;
        reader; energy_units_assumed (text files without units).
    source: the path it was read from (None for in-memory spectra).
    """

    data: np.ndarray
    energy_eV: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str | None = None

    def __post_init__(self) -> None:
        data = np.asarray(self.data)
        energy = np.asarray(self.energy_eV, dtype=np.float64)
        if energy.ndim != 1:
            raise ValueError(f"energy_eV must be 1-D, got shape {energy.shape}")
        if data.ndim < 1 or data.shape[-1] != energy.size:
            raise ValueError(
                f"data shape {data.shape} does not end with the {energy.size} channels of energy_eV"
            )
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "energy_eV", energy)

    @property
    def navigation_shape(self) -> tuple[int, ...]:
        """Shape of the navigation (pixel) axes; () for a single spectrum."""
        return tuple(self.data.shape[:-1])

    @property
    def n_channels(self) -> int:
        return int(self.energy_eV.size)

    @property
    def is_spectrum_image(self) -> bool:
        return len(self.navigation_shape) > 0

    @property
    def dispersion_eV(self) -> float:
        """Median channel width (eV)."""
        return float(np.median(np.diff(self.energy_eV))) if self.n_channels > 1 else float("nan")

    @property
    def name(self) -> str:
        return Path(self.source).name if self.source else self.metadata.get("title", "spectrum")

    def summed(self) -> "Spectrum":
        """The sum over all navigation positions (a spectrum image's total spectrum)."""
        if not self.is_spectrum_image:
            return self
        axes = tuple(range(len(self.navigation_shape)))
        total = self.data.sum(axis=axes, dtype=np.float64).astype(np.float32)
        meta = dict(self.metadata, summed_over=self.navigation_shape)
        return Spectrum(total, self.energy_eV, meta, self.source)
