"""Power-law background of the spectrum (paper Fig. 2e).

    B(E) = A (E / E_start)^-r          (counts per 1 eV channel)

with A (counts at the spectrum start) drawn from {1e3, ..., 1e7}, the exponent r from [2, 4] and
E_start the (random) start of the detector window (Annys et al. 2023, Methods and Table 1; the
Methods print "A (E/E_0)^-1", which we read as the usual A (E/E_start)^-r of Egerton 2011
eq. 4.61 with E_0 the spectrum start, as the surrounding text says). Energies below 1 eV are
clipped to 1 eV (the background is only used inside the window, which starts at >= 75 eV).
"""

from __future__ import annotations

import numpy as np

__all__ = ["power_law"]


def power_law(energy_eV, amplitude, exponent, start_eV) -> np.ndarray:
    """A (E / E_start)^-r for energies ``energy_eV`` ((n,) shared, or (B, n)) and per-spectrum
    ``amplitude`` A (counts), ``exponent`` r and ``start_eV`` E_start (B,) -> (B, n) float32.

    Computed as exp(ln A + r ln E_start - r ln E) in float32 (E clipped to >= 1 eV)."""
    E = np.asarray(energy_eV, dtype=np.float32)
    if E.ndim == 1:
        E = E[None, :]
    lnE = np.log(np.maximum(E, np.float32(1)))
    r = np.asarray(exponent, dtype=np.float64)[:, None]
    c = (np.log(np.asarray(amplitude, dtype=np.float64))[:, None]
         + r * np.log(np.asarray(start_eV, dtype=np.float64))[:, None])
    out = lnE * (-r.astype(np.float32))
    out += c.astype(np.float32)
    return np.exp(out, out=out)
