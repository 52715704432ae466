"""Time the verification fit (:func:`eels_helpers.inference.verification.verify`) and measure what it
does to the identification of real spectra.

Usage: python benchmarks/bench_verification.py [--model default] [--dir DIR] [--repeat N] [--no-superlattice]
       [--white-lines] [--rules FILE]

``--white-lines``: the verification fit holds the computed white lines (``VerifyConfig.white_lines``);
pair it with ``--rules`` = a rules file fitted with them (``scripts/fit_verification_rule.py --white-lines
--out FILE``); default: the shipped rules file.

1. Timing: one simulated spectrum (Fe L + O K on a power law, 400-1000 eV at 0.5 eV/channel,
   eight candidates incl. neighbours): the first call (cross sections computed for this
   microscope) and the median of ``--repeat`` later calls; prints ``verify_cold_ms=`` and
   ``verify_ms=`` (target: <= 50 ms per spectrum).
2. The synthetic superlattice (``--no-superlattice`` skips it), simulated without and with white
   lines (``SuperlatticeConfig.white_lines``): the network's map, the verification of the summed
   image and 4 x 4 blocks (``verify_si_s=``), and the verified and the true elements quantified
   on the summed spectrum against the simulator's truth, with the quantification's white lines
   off, free and in the edge, each without and with 30 eV of free zero-area fine structure
   (``QuantificationConfig.fine_structure_eV``; exspy's default fine-structure width)
   (``superlattice_max_relative_error_<sim>_<elements>_<mode>_fs<W>=``; target <= 0.10).
3. Real spectra (``--dir``, else $EELS_ID_EXPERIMENTAL_DIR, else ../shared/experimental, when
   present): the network alone and the network + verification (the model's rule fitted on
   simulated spectra, ``eels_helpers/data/verification_rules.json``) scored by compound-grouped
   cross-validation (5 splits; threshold chosen on each validation half, test half scored,
   carbon out; :func:`eels_helpers.evaluation.verified.before_after`). Prints
   ``exact_match_network=``, ``exact_match_verified=``, ``f1_network=``, ``f1_verified=`` and the
   verification time per file: a first pass (cross sections computed on each microscope's first
   use) and a second pass over the same files (cached: a batch from one microscope).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np


def _synthetic():
    from eels_helpers.physics.cross_section import dsigma_dE
    from eels_helpers.spectrum import Spectrum

    E = np.arange(400.0, 1000.0, 0.5)
    s = dsigma_dE(["Fe L", "O K"], E, 200.0, 10.0, 30.0)[0]
    mu = 2e5 * (E / 400.0) ** -3.0 + 1e4 * s[0] / s[0].max() + 3e4 * s[1] / s[1].max()
    y = np.random.default_rng(0).poisson(mu).astype(np.float32)
    return Spectrum(y, E, {"beam_energy_keV": 200.0, "convergence_angle_mrad": 10.0,
                           "collection_angle_mrad": 30.0})


def timing(repeat: int, config=None) -> float:
    from eels_helpers.inference.verification import verify

    sp = _synthetic()
    cand = {"Fe": 0.9, "O": 0.95, "Mn": 0.3, "Cr": 0.02, "Co": 0.1, "Ba": 0.06, "La": 0.01, "Ce": 0.01}
    t = time.perf_counter()
    verify(sp, cand, config)
    cold = 1000 * (time.perf_counter() - t)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        verify(sp, cand, config)
        times.append(1000 * (time.perf_counter() - t))
    warm = statistics.median(times)
    print(f"verify one spectrum ({len(cand)} candidates): first call {cold:.0f} ms (cross sections "
          f"for this microscope computed), then median {warm:.1f} ms over {repeat}")
    print(f"verify_cold_ms={cold:.1f}")
    print(f"verify_ms={warm:.1f}")
    return warm


def real(model: str, directory: Path, config=None, rules=None) -> None:
    from eels_helpers.evaluation.real_spectra import evaluation_set
    from eels_helpers.evaluation.verified import before_after, real_candidates, verified_probabilities
    from eels_helpers.inference.verification_model import load_rule

    rule = load_rule(model, rules)
    if rule is None:
        print(f"no fitted verification rule for {model}: real-spectrum part skipped "
              f"(python scripts/fit_verification_rule.py --model {model})")
        return
    manifest, about = evaluation_set(directory)
    rows, P, seconds = real_candidates(model, manifest, fit=config)
    V = verified_probabilities(rows, len(manifest), rule)
    table, cv = before_after(manifest, P, V)
    print(f"real spectra: {about}; model {model}; compound-grouped CV, 5 splits, threshold per split on its "
          f"validation half, carbon out; rule fitted on simulated spectra (threshold {rule.threshold:.2f})")
    print(table.round(3).to_string())
    for name in ("network", "verified"):
        m = table.loc[name]
        print(f"f1_{name}={m['f1']:.3f}\nexact_match_{name}={m['exact_match']:.3f}")
    fitted = seconds[seconds > 0]
    print("first pass (the cross sections computed for each file's microscope on first use):")
    print(f"verify_real_median_ms={1000 * float(np.median(fitted)):.1f}")
    print(f"verify_real_mean_ms={1000 * float(np.mean(fitted)):.1f}")
    _, _, seconds = real_candidates(model, manifest, probabilities=P, fit=config)
    warm = seconds[seconds > 0]
    print("second pass (the same files again, cross sections cached):")
    print(f"verify_real_warm_median_ms={1000 * float(np.median(warm)):.1f}")
    print(f"verify_real_warm_mean_ms={1000 * float(np.mean(warm)):.1f}")


def superlattice(model: str, config=None, rules=None) -> None:
    """The synthetic superlattice, simulated without and with white lines: network map,
    verify_regions (sum + 4 x 4 blocks) with the model's fitted rule, then the verified and the
    true elements quantified on the summed spectrum (low-loss convolved; white lines off, free,
    edge) against the simulated truth (fractions renormalised over the fitted elements)."""
    from eels_helpers.inference.mapping import map_elements
    from eels_helpers.inference.quantify import WHITE_LINE_MODES, QuantificationConfig, quantify
    from eels_helpers.inference.verification_model import load_rule
    from eels_helpers.inference.verification_rules import DecisionRule, verify_regions
    from eels_helpers.physics.elements import ELEMENTS
    from eels_helpers.simulation.superlattice import SuperlatticeConfig, superlattice_si

    rule = DecisionRule(model=model, logistic=load_rule(model, rules))
    for sim_lines in (False, True):
        sim = "wl" if sim_lines else "nowl"
        si = superlattice_si(SuperlatticeConfig(white_lines=sim_lines))
        mapping = map_elements(si, model)
        t = time.perf_counter()
        checked = verify_regions(si.spectrum, mapping.probabilities, mapping.threshold, config, rule=rule)
        t_si = time.perf_counter() - t
        truth = [e for e in ELEMENTS if si.labels[..., ELEMENTS.index(e)].any()]
        print(f"superlattice {si.shape}, simulated {'with' if sim_lines else 'without'} white lines: network "
              f"kept {', '.join(mapping.detected)}; verified {', '.join(checked['verified'])} (summed chi2_reduced "
              f"{checked['summed'].chi2_reduced:.3g}); truth (in window) {', '.join(truth)}")
        print(f"verify_si_s_{sim}={t_si:.2f}  (sum + {len(checked['regions'])} blocks)")
        m = si.spectrum.metadata
        summed = si.spectrum.summed()
        runs = [(what, els, mode, fs_w) for what, els in (("verified", list(checked["verified"])), ("true", truth))
                for mode in WHITE_LINE_MODES for fs_w in (0.0, 30.0)]
        for what, els, mode, fs_w in runs:
            cfg = QuantificationConfig(E0_keV=m["beam_energy_keV"], alpha_mrad=m["convergence_angle_mrad"],
                                       beta_mrad=m["collection_angle_mrad"], white_lines=mode,
                                       fine_structure_eV=fs_w)
            q = quantify(summed.data, summed.energy_eV, els, cfg, lowloss=si.lowloss.data,
                         lowloss_energy_eV=si.lowloss.energy_eV)
            true = si.fractions.reshape(-1, len(ELEMENTS)).mean(axis=0)[[ELEMENTS.index(e) for e in q.elements]]
            true = true / true.sum() if true.sum() > 0 else true
            rel = np.where(true > 0, np.abs(np.ravel(q.fractions) - true) / np.where(true > 0, true, 1), np.inf)
            print(f"  {what} elements, quantification white lines {mode:4}, fine structure {fs_w:g} eV: chi2_reduced "
                  f"{float(q.chi2_reduced):.3g}; " + ", ".join(
                      f"{el} {est:.3f}/{tr:.3f} ({100 * r:+.0f} %)" for el, est, tr, r in
                      zip(q.elements, np.ravel(q.fractions), true, np.sign(np.ravel(q.fractions) - true) * rel)))
            print(f"superlattice_max_relative_error_{sim}_{what}_{mode}_fs{fs_w:g}={float(rel.max()):.3f}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="default")
    p.add_argument("--dir", default=None, help="directory of real spectra with manifest.csv")
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--no-superlattice", action="store_true")
    p.add_argument("--white-lines", action="store_true", help="the verification fit holds the white lines")
    p.add_argument("--plural-eV", type=float, nargs="*", default=[], help="plasmon replicas (VerifyConfig.plural_eV)")
    p.add_argument("--rules", default=None, help="rules file (default: the shipped one)")
    args = p.parse_args(argv)
    from eels_helpers.inference.verification import VerifyConfig
    from eels_helpers.inference.verification_model import fit_settings

    # the settings the model's rule was fitted with (conditional uncertainty, ...), then the options
    settings = fit_settings(args.model, args.rules)
    if args.white_lines:
        settings["white_lines"] = True
    if args.plural_eV:
        settings["plural_eV"] = tuple(args.plural_eV)
    config = VerifyConfig(**settings)
    timing(args.repeat, config)
    if not args.no_superlattice:
        superlattice(args.model, config, args.rules)
    here = Path(__file__).resolve().parent.parent
    candidates = [args.dir, os.environ.get("EELS_ID_EXPERIMENTAL_DIR"), here.parent / "shared" / "experimental"]
    directory = next((Path(c) for c in candidates if c and (Path(c) / "manifest.csv").is_file()), None)
    if directory is None:
        print("no directory of real spectra (--dir, $EELS_ID_EXPERIMENTAL_DIR, ../shared/experimental): "
              "real-spectrum part skipped")
        return 0
    real(args.model, directory, config, args.rules)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
