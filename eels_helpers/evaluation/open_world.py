"""The open-world test suite: spectra a closed-world network was never shown (issue 15).

The paper's training spectra always hold at least one element with a strong edge among its 107
edge families, and have no detector artefacts. Real spectra break each of these. This module
makes a small, seeded suite of such spectra, each with the elements a microscopist would name
(``truth``), and measures how often a model *invents* an element:

``edge_free``
    a Poisson-noisy power law A (E/E1)^-r (r 2..4.5), half of them curved as plural scattering
    makes them (the background convolved with its plasmon replicas, Poisson weights of t/lambda
    0.2..1.5, Egerton 2011 eq. 3.105), any window in 75..3000 eV, dispersion 0.1..1 eV, counts
    per channel at the window start 1e2..1e7. Truth: nothing.
``carbon_film``
    the same background with a carbon K edge (the holey-carbon support film; the builtin GOS
    at random E0, alpha, beta, jump ratio 0.2..3) in a window that holds 284 eV. Truth: C.
``out_of_family``
    an edge that is not among the 107 families: Al L2,3 (onset 72.6 eV) or Mg L2,3 (49.5 eV)
    in a window starting at 75-100 eV; their dsigma/dE is Egerton's hydrogenic L-shell GOS
    (SIGMAL3, :mod:`eels_helpers.physics.hydrogenic`), which lacks the delayed maximum of the
    real edges (a known limit of this stand-in). Truth: Al or Mg (the output layer has both,
    through their K edges).
``m23_3d``
    the M2,3 edge of a 3d metal, Cr..Zn (onsets 42.5-86.6 eV, xraylib via
    :data:`eels_helpers.evaluation.failure_causes.NON_FAMILY_EDGES`), not among the families:
    below the window for Cr..Ni (their tail runs into it), at its start for Cu and Zn; windows
    from 75-100 eV to below the metal's L2,3 family (so the M2,3 edge is its only edge). No GOS
    source here computes these 3p shells: the shape is Al's hydrogenic L2,3 edge moved to the
    metal's onset (a stand-in with a rising, delayed shape; the real ones are broad 3p -> 3d
    resonances). Truth: the metal (naming it is not an invention; naming another element is).
``artefacts``
    edge-free spectra with a detector artefact: a gain-change step (the counts beyond a channel
    scaled by 0.8..1.25), one to five single-channel spikes (5..50 times the local counts) or
    one to ten dead channels (zero). Truth: nothing.
``vacuum``
    what a spectrum-image pixel over vacuum or a hole records: a flat dark/read-out level of
    1..30 counts per channel with a faint steep tail (A (E/E1)^-r, A up to the flat level,
    r 3..6), Poisson noise, for half of them the flat level subtracted afterwards (a dark
    reference), any window, dispersion 0.1..1 eV. Truth: nothing.

Figure of merit (:func:`invention_rates`): per kind, the fraction of spectra where an element
other than the true ones is reported; carbon is left aside (it is everywhere in real spectra
and the paper leaves it out of every experimental metric).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from eels_helpers.spectrum import Spectrum

__all__ = ["KINDS", "METALS_3D", "OpenWorldCase", "carbon_film_model", "open_world_suite", "invented_elements",
           "invention_rates", "evaluate_open_world", "structure_table"]

#: the kinds of spectra in the suite, in order
KINDS = ("edge_free", "carbon_film", "out_of_family", "artefacts", "vacuum", "m23_3d")
#: the 3d metals of the ``m23_3d`` kind (their M2,3 onsets: NON_FAMILY_EDGES)
METALS_3D = ("Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn")
#: window limits of the suite (eV): the paper's network sees 75..3071 eV
WINDOW_EV = (75.0, 3000.0)
#: the edges outside the 107 families: (element, L3 onset eV, L1 onset eV)
OUT_OF_FAMILY_EDGES = (("Al", 72.55, 117.8), ("Mg", 49.5, 88.7))
_GRID_EV = np.arange(3072, dtype=np.float64)   # the model is built on 1 eV channels, then resampled


@dataclass(frozen=True, eq=False)
class OpenWorldCase:
    """One spectrum of the suite: ``spectrum`` (counts on its own axis), the elements a
    microscopist would name (``truth``), its ``kind`` and a one-line ``description``."""

    kind: str
    spectrum: Spectrum
    truth: tuple[str, ...]
    description: str


def _background(rng: np.random.Generator, start_eV: float, curved: bool) -> tuple[np.ndarray, str]:
    """A power law f(E) = (E/E1)^-r on the 1 eV grid (counts per eV, 1 at E1 = ``start_eV``),
    optionally with the plasmon replicas of plural scattering: J(E) = sum_n P_n g(E - n Ep) / P_0,
    normalised to 1 at E1. The replicas (n >= 1) use g(x) = ((max(x, 0)^2 + E1^2) / E1^2)^(-r/2):
    the power law for x >> E1, finite and flat (zero slope, so no step and no kink) where the
    replica's argument falls below the window, where the single-scattering background is no
    longer a power law (the plasmon region). The first version evaluated the bare power law
    there (clamped at 1 eV: (1/E1)^-r, ~1e6): windows starting below 6 Ep (90-180 eV) then had
    falls by 3-100x at n Ep, which read as edges."""
    from eels_helpers.simulation.lowloss import poisson_weights

    r = rng.uniform(2.0, 4.5)
    E = np.maximum(_GRID_EV, 1.0)
    f = (E / start_eV) ** (-r)
    text = f"power law r={r:.2f}"
    if curved:
        t_over_lambda, plasmon_eV = rng.uniform(0.2, 1.5), rng.uniform(15.0, 30.0)
        weights = poisson_weights(np.array([t_over_lambda]), 6)[0]
        x = np.maximum(_GRID_EV[None, :] - plasmon_eV * np.arange(1, 7)[:, None], 0.0)
        replicas = ((x ** 2 + start_eV ** 2) / start_eV ** 2) ** (-r / 2)
        f = f + np.tensordot(weights[1:7] / weights[0], replicas, axes=1)
        f = f / np.interp(start_eV, _GRID_EV, f)
        text += f", plural scattering t/lambda={t_over_lambda:.2f}, Ep={plasmon_eV:.0f} eV"
    return f, text


def _window(rng: np.random.Generator, contains: float | None = None) -> tuple[float, float]:
    """(start, end) eV of a window inside :data:`WINDOW_EV`, 100..2000 eV wide, holding
    ``contains`` (eV) at least 20 eV after the start and 60 eV before the end."""
    lo, hi = WINDOW_EV
    start = rng.uniform(lo, hi - 100.0) if contains is None else rng.uniform(max(lo, contains - 400.0),
                                                                              contains - 20.0)
    end_min = start + 100.0 if contains is None else max(start + 100.0, contains + 60.0)
    end = rng.uniform(end_min, max(end_min, min(hi, start + 2000.0)))
    return float(start), float(end)


def _edge(rng: np.random.Generator, edge, background: np.ndarray, onset_eV: float, gos) -> tuple[np.ndarray, str]:
    """An edge's dsigma/dE on the 1 eV grid scaled to a jump ratio 0.2..3 over ``background``."""
    from eels_helpers.physics.cross_section import dsigma_dE

    E0_keV = float(rng.choice([100.0, 200.0, 300.0]))
    alpha, beta = rng.uniform(1.0, 20.0), rng.uniform(5.0, 100.0)
    sigma = dsigma_dE(edge, _GRID_EV, E0_keV, alpha, beta, gos=gos)[0, 0].astype(np.float64)
    probe = min(int(round(onset_eV)) + 10, _GRID_EV.size - 1)
    peak = sigma[int(round(onset_eV)):probe + 1].max()
    if not peak > 0:
        raise RuntimeError(f"no cross section for {edge!r} near {onset_eV} eV")
    jump = rng.uniform(0.2, 3.0)
    return sigma * (jump * background[probe] / peak), f"E0 {E0_keV:.0f} keV, jump ratio {jump:.2f}"


def _artefact(rng: np.random.Generator, counts: np.ndarray) -> tuple[np.ndarray, str]:
    counts = counts.astype(np.float64)
    n = counts.size
    kind = rng.choice(["gain_step", "spikes", "dead_channels"])
    if kind == "gain_step":
        at, factor = int(rng.integers(n // 10, 9 * n // 10)), rng.uniform(0.8, 1.25)
        counts[at:] *= factor
        return counts, f"gain-change step x{factor:.2f} at channel {at}"
    if kind == "spikes":
        where = rng.choice(n, size=int(rng.integers(1, 6)), replace=False)
        counts[where] *= rng.uniform(5.0, 50.0, size=where.size)
        return counts, f"{where.size} spike(s)"
    where = rng.choice(n, size=int(rng.integers(1, 11)), replace=False)
    counts[where] = 0.0
    return counts, f"{where.size} dead channel(s)"


def _record(rng: np.random.Generator, model_per_eV: np.ndarray, start: float, end: float) -> tuple[Spectrum, str]:
    """Poisson counts of ``model_per_eV`` (1 eV grid, 1 count per eV at ``start``) on a detector
    axis from ``start`` to ``end`` with dispersion 0.1..1 eV and 1e2..1e7 counts per channel at
    the start."""
    dispersion = float(rng.uniform(0.1, 1.0))
    axis = np.arange(start, end, dispersion)
    level = 10 ** rng.uniform(2.0, 7.0)
    expected = np.interp(axis, _GRID_EV, model_per_eV) * level
    counts = rng.poisson(np.clip(expected, 0.0, 1e12)).astype(np.float64)
    meta = {"title": "open-world suite", "dispersion_eV": dispersion}
    return Spectrum(counts.astype(np.float32), axis, meta), f"{axis.size} channels of {dispersion:.2f} eV, " \
                                                           f"{level:.1e} counts at {start:.0f} eV"


def _vacuum(rng: np.random.Generator, start: float, end: float) -> tuple[Spectrum, str]:
    """A vacuum pixel (module docstring, ``vacuum``) on a detector axis from ``start`` to ``end``."""
    dispersion = float(rng.uniform(0.1, 1.0))
    axis = np.arange(start, end, dispersion)
    level = float(rng.uniform(1.0, 30.0))
    tail_amplitude, r = level * rng.uniform(0.0, 1.0), rng.uniform(3.0, 6.0)
    expected = level + tail_amplitude * (axis / start) ** -r
    counts = rng.poisson(expected).astype(np.float64)
    subtracted = bool(rng.random() < 0.5)
    if subtracted:
        counts -= level
    meta = {"title": "open-world suite", "dispersion_eV": dispersion}
    text = (f"flat level {level:.1f} counts per channel{' (subtracted)' if subtracted else ''}, tail "
            f"{tail_amplitude:.1f} (E/E1)^-{r:.1f}; {axis.size} channels of {dispersion:.2f} eV")
    return Spectrum(counts.astype(np.float32), axis, meta), text


def carbon_film_model(rng: np.random.Generator) -> tuple[float, float, np.ndarray, str]:
    """A carbon-film spectrum (module docstring, ``carbon_film``) before it is recorded: ``(start,
    end, model, description)``, the window (eV) holding 284 eV and the counts per eV on the 1 eV grid
    0..3071 eV (1 at the window's start). Shared with :mod:`eels_helpers.evaluation.film_images`."""
    start, end = _window(rng, contains=284.0)
    bg, text = _background(rng, start, curved=bool(rng.random() < 0.5))
    edge, etext = _edge(rng, "C K", bg, 284.0, "builtin")
    return start, end, bg + edge, f"{text}; C K, {etext}"


def open_world_suite(n_per_kind: int = 25, seed: int = 0, kinds: Sequence[str] = KINDS) -> list[OpenWorldCase]:
    """The seeded open-world suite: ``n_per_kind`` spectra of each kind in ``kinds``.

    Parameters
    ----------
    n_per_kind : int
        spectra per kind, >= 1.
    seed : int
        seed of the suite (the same seed gives the same spectra).
    kinds : sequence of str
        a subset of :data:`KINDS`.

    Returns
    -------
    list of OpenWorldCase
        in the order of ``kinds``, ``n_per_kind`` each; every spectrum on its own energy axis
        (eV) inside 50..3000 eV.
    """
    if not (isinstance(n_per_kind, int) and n_per_kind >= 1):
        raise ValueError(f"n_per_kind must be an integer >= 1, got {n_per_kind!r}")
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ValueError(f"kinds must be a non-empty subset of {KINDS}, got {tuple(kinds)}")
    from eels_helpers.physics.hydrogenic import HydrogenicSource

    hydrogenic = HydrogenicSource(onsets={el: {"L3": l3, "L1": l1} for el, l3, l1 in OUT_OF_FAMILY_EDGES})
    cases = []
    for k_index, kind in enumerate(KINDS):
        if kind not in kinds:
            continue
        rng = np.random.default_rng([seed, k_index])
        for _ in range(n_per_kind):
            truth: tuple[str, ...] = ()
            if kind == "carbon_film":
                start, end, model, text = carbon_film_model(rng)
                truth = ("C",)
            elif kind == "out_of_family":
                element, l3, _ = OUT_OF_FAMILY_EDGES[int(rng.integers(len(OUT_OF_FAMILY_EDGES)))]
                start = rng.uniform(75.0, 100.0)
                end = rng.uniform(start + 150.0, 1400.0)   # below Al K (1560 eV) and Mg K (1305 eV)
                end = min(end, 1290.0) if element == "Mg" else end
                bg, text = _background(rng, start, curved=bool(rng.random() < 0.5))
                edge, etext = _edge(rng, (element, "L3", l3), bg, max(l3, start), hydrogenic)
                model, truth, text = bg + edge, (element,), f"{text}; {element} L2,3 (hydrogenic), {etext}"
            elif kind == "m23_3d":
                from eels_helpers.evaluation.failure_causes import NON_FAMILY_EDGES
                from eels_helpers.physics.elements import families_of

                metal = METALS_3D[int(rng.integers(len(METALS_3D)))]
                onset = dict(NON_FAMILY_EDGES[metal])[f"{metal} M2,3"]
                start = rng.uniform(75.0, 100.0)
                l_onset = min(f.onset_eV for f in families_of(metal))
                end = rng.uniform(start + 150.0, l_onset - 30.0)
                bg, text = _background(rng, start, curved=bool(rng.random() < 0.5))
                al, l3, _ = OUT_OF_FAMILY_EDGES[0]
                shift = int(round(onset - l3))          # Al's edge moved to the metal's M2,3 onset
                # the jump ratio is set against the background 10 eV above the metal's onset
                shape, etext = _edge(rng, (al, "L3", l3), np.roll(bg, -shift), l3, hydrogenic)
                edge = np.interp(_GRID_EV - shift, _GRID_EV, shape, left=0.0, right=0.0)
                model, truth = bg + edge, (metal,)
                text = f"{text}; {metal} M2,3 at {onset:g} eV (Al L2,3 hydrogenic shape), {etext}"
            elif kind == "vacuum":
                start, end = _window(rng)
                spectrum, text = _vacuum(rng, start, end)
                cases.append(OpenWorldCase(kind, spectrum, truth, f"{text}; {start:.0f}-{end:.0f} eV"))
                continue
            else:
                start, end = _window(rng)
                model, text = _background(rng, start, curved=bool(rng.random() < 0.5))
            spectrum, rtext = _record(rng, model, start, end)
            if kind == "artefacts":
                counts, atext = _artefact(rng, spectrum.data)
                spectrum = Spectrum(counts.astype(np.float32), spectrum.energy_eV, spectrum.metadata)
                rtext += f"; {atext}"
            cases.append(OpenWorldCase(kind, spectrum, truth, f"{text}; {start:.0f}-{end:.0f} eV; {rtext}"))
    return cases


def invented_elements(detected: Iterable[str], truth: Iterable[str], ignore: Iterable[str] = ("C",)) -> tuple[str, ...]:
    """The detected elements that are neither true nor ignored (carbon by default)."""
    keep = set(truth) | set(ignore)
    return tuple(e for e in detected if e not in keep)


def invention_rates(cases: Sequence[OpenWorldCase], detected: Sequence[Iterable[str]]) -> Mapping[str, float]:
    """Per kind (and ``"all"``), the fraction of spectra where an element other than the true
    ones (carbon aside) is reported; ``detected[i]`` are the elements reported for ``cases[i]``."""
    if len(cases) != len(detected):
        raise ValueError(f"{len(cases)} cases but {len(detected)} detections")
    invented = np.array([bool(invented_elements(d, c.truth)) for c, d in zip(cases, detected)])
    kinds = np.array([c.kind for c in cases])
    rates = {k: float(invented[kinds == k].mean()) for k in KINDS if (kinds == k).any()}
    rates["all"] = float(invented.mean()) if invented.size else float("nan")
    return rates


def evaluate_open_world(model="default", n_per_kind: int = 25, seed: int = 0, threshold: float | None = None,
                        cases: Sequence[OpenWorldCase] | None = None,
                        allow_radioactive: bool = False) -> tuple[Mapping[str, float], list]:
    """Run ``model`` (as :func:`eels_helpers.inference.predict.predict` takes it, and decides with
    ``allow_radioactive``) on the suite
    (``cases``, or :func:`open_world_suite` of ``n_per_kind`` and ``seed``) and return
    (:func:`invention_rates`, the list of predictions in the order of the cases)."""
    from eels_helpers.inference.predict import predict

    cases = open_world_suite(n_per_kind, seed) if cases is None else list(cases)
    predictions = predict([c.spectrum for c in cases], model=model, threshold=threshold,
                          allow_radioactive=allow_radioactive)
    return invention_rates(cases, [p.detected for p in predictions]), predictions


def structure_table(cases: Sequence[OpenWorldCase]):
    """Per kind, how many suite spectra hold no structure beyond their noise, which ``predict`` and
    ``map`` answer with no element before any network runs (:mod:`eels_helpers.inference.structure`):
    a pandas DataFrame indexed by kind with ``spectra``, ``no identifiable edge`` (the fraction with
    z < ``STRUCTURE_Z_MIN``) and ``median z``; ``attrs["caught"]``: the cases with z below it."""
    import pandas as pd

    from eels_helpers.inference.structure import STRUCTURE_Z_MIN, structure_in_window

    z = np.array([float(np.ravel(structure_in_window(c.spectrum, 0.0))[0]) for c in cases])
    kinds = np.array([c.kind for c in cases])
    rows = {k: {"spectra": int((kinds == k).sum()),
                "no identifiable edge": float(np.mean(z[kinds == k] < STRUCTURE_Z_MIN)),
                "median z": float(np.median(z[kinds == k]))} for k in KINDS if (kinds == k).any()}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("kind")
    table.attrs["caught"] = [c for c, zi in zip(cases, z) if zi < STRUCTURE_Z_MIN]
    return table
