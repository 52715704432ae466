"""A quick look at the simulator: a few spectra of one specimen, plotted with its edges marked.

:func:`quick_look` simulates ``n`` spectra of the specimen made of given elements (fractions given,
or those of a Materials Project formula); :func:`plot_quick_look` stacks them with a marker at each
major edge onset. ``eels-id simulate preview`` prints and plots them.

matplotlib is imported inside :func:`plot_quick_look`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from eels_helpers.physics.elements import ELEMENTS, families_of
from eels_helpers.simulation import specimens as sp
from eels_helpers.simulation.config import SimulationConfig
from eels_helpers.simulation.pipeline import simulate_batch
from eels_helpers.simulation.specimens import Specimen


def quick_look(elements: Sequence[str], n: int = 5, *, seed: int = 0, fractions=None, config=None,
               simulate_fn: Callable | None = None):
    """Simulate ``n`` spectra of one specimen (query = first element).

    Returns (specimen, SimulatedBatch, Materials Project formula or None).

    Fractions: given, else those of the Materials Project formula made of exactly these elements
    with the most entries (polymorphs), else equal.
    """
    elements = tuple(elements)
    if not elements:
        raise ValueError("--elements is empty: give element symbols, e.g. --elements Fe,O")
    bad = [e for e in elements if e not in ELEMENTS]
    if bad:
        meant = [e.capitalize() for e in bad if e.capitalize() in ELEMENTS]
        hint = f" (did you mean {', '.join(meant)}? symbols are case-sensitive)" if meant else ""
        raise ValueError(f"unknown element(s) {', '.join(bad)}{hint}: choose among the 80 network elements "
                         f"{ELEMENTS[0]}..{ELEMENTS[-1]} (H, He, Li and elements beyond Bi have no edge/label)")
    if len(set(elements)) != len(elements):
        raise ValueError(f"--elements must list distinct elements, got {','.join(elements)}")
    if n < 1:
        raise ValueError(f"--n (number of spectra) must be >= 1, got {n}")
    order = sorted(elements, key=ELEMENTS.index)
    formula = None
    if fractions is None:
        table = sp.load_compositions()
        idx = [ELEMENTS.index(e) for e in order]
        mask = np.zeros(len(ELEMENTS), bool)
        mask[idx] = True
        rows = np.flatnonzero(((table.fractions > 0) == mask).all(axis=1))
        pure = [r for r in rows if set(re.findall(r"[A-Z][a-z]?", table.formula[r])) == set(order)]
        rows = np.asarray(pure if pure else rows, np.int64)  # prefer formulas without H or Li
        if rows.size:  # the formula with the most Materials Project entries (e.g. SrTiO3 for Sr,Ti,O)
            best = rows[np.argmax(table.n_entries[rows])]
            fr = table.fractions[best, idx].astype(float)
            formula = table.formula[best]
        else:
            fr = np.ones(len(order))
    else:
        fr = np.asarray(fractions, float)
        if fr.shape != (len(elements),) or (fr <= 0).any():
            raise ValueError(f"--fractions needs {len(elements)} positive numbers, got {fractions}")
        fr = fr[[elements.index(e) for e in order]]
    fr = fr / fr.sum()
    spec = Specimen(elements=tuple(order), fractions=tuple(float(x) for x in fr), query=elements[0])
    if config is None:
        config = SimulationConfig()
    rng = np.random.default_rng(seed)
    batch = (simulate_fn or simulate_batch)([spec] * n, config, rng)
    return spec, batch, formula


def plot_quick_look(spec, batch, out: str | Path | None = None, title: str | None = None):
    """Stacked spectra with markers at the major edge onsets of every specimen element."""
    import matplotlib

    if out is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spectra = np.asarray(batch.spectra)
    n, n_channels = spectra.shape
    fig, ax = plt.subplots(figsize=(9, 1.2 + 1.1 * n))
    e = np.arange(n_channels)
    for i in range(n):
        ax.plot(e, spectra[i] + 1.1 * (n - 1 - i), lw=0.8)
        lab = [ELEMENTS[j] for j in np.flatnonzero(batch.labels_identification[i])]
        ax.text(n_channels - 10, 1.1 * (n - 1 - i) + 0.5, " ".join(lab) or "(none)", ha="right", fontsize=8)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, el in enumerate(spec.elements):
        for fam in families_of(el):
            onset = float(fam.onset_eV)
            ax.axvline(onset, color=colours[k % len(colours)], ls=":", lw=1)
            ax.text(onset, 1.1 * n + 0.02, f"{el} {getattr(fam, 'shell', '')}", rotation=90,
                    fontsize=7, va="bottom", ha="center", color=colours[k % len(colours)])
    ax.set_xlabel("energy loss (eV)")
    ax.set_ylabel("normalised intensity (offset)")
    ax.set_xlim(0, n_channels)
    ax.set_title(title or "", fontsize=10, pad=28)
    fig.tight_layout()
    if out is not None:
        fig.savefig(out, dpi=120)
        plt.close(fig)
    return fig
