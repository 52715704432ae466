"""Time the verification fit (:func:`eels_helpers.inference.verification.verify`) and measure what it
does to the identification of real spectra.

Usage: python benchmarks/bench_verification.py [--model default] [--dir DIR] [--repeat N]

1. Timing: one simulated spectrum (Fe L + O K on a power law, 400-1000 eV at 0.5 eV/channel,
   eight candidates incl. neighbours): the first call (cross sections computed for this
   microscope) and the median of ``--repeat`` later calls; prints ``verify_cold_ms=`` and
   ``verify_ms=`` (target: <= 50 ms per spectrum).
2. Real spectra (``--dir``, else $EELS_ID_EXPERIMENTAL_DIR, else ../shared/experimental, when
   present): every file of the manifest (spectrum images summed, the manifest's energy offsets
   corrected) through the network, then through the verification; exact match and weighted F1
   (carbon left out, the model's own threshold) without and with verification, on all files and
   on the compound-grouped validation / test halves (``evaluation_split(seed=0)``). The rule is
   not tuned on these spectra. Prints ``exact_match_before=``, ``exact_match_after=``,
   ``f1_before=``, ``f1_after=`` and the mean verification time per file.
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


def timing(repeat: int) -> float:
    from eels_helpers.inference.verification import verify

    sp = _synthetic()
    cand = {"Fe": 0.9, "O": 0.95, "Mn": 0.3, "Cr": 0.02, "Co": 0.1, "Ba": 0.06, "La": 0.01, "Ce": 0.01}
    t = time.perf_counter()
    verify(sp, cand)
    cold = 1000 * (time.perf_counter() - t)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        verify(sp, cand)
        times.append(1000 * (time.perf_counter() - t))
    warm = statistics.median(times)
    print(f"verify one spectrum ({len(cand)} candidates): first call {cold:.0f} ms (cross sections "
          f"for this microscope computed), then median {warm:.1f} ms over {repeat}")
    print(f"verify_cold_ms={cold:.1f}")
    print(f"verify_ms={warm:.1f}")
    return warm


def real(model: str, directory: Path) -> None:
    from eels_helpers.evaluation.real_spectra import evaluation_split, label_matrix, load_manifest, metric_mask
    from eels_helpers.inference.predict import predict
    from eels_helpers.inference.spectrum_files import read_spectrum
    from eels_helpers.inference.verification import VerifyConfig, verify
    from eels_helpers.inference.verification_rules import candidates_from_probabilities
    from eels_helpers.physics.elements import ELEMENTS

    manifest = load_manifest(directory)
    spectra = [read_spectrum(p).summed() for p in manifest["path"]]
    offsets = [float(o) for o in manifest["energy_offset_eV"]]
    preds = predict(spectra, model, None, offsets, device="cpu")
    threshold = preds[0].threshold
    before = np.stack([p.probabilities >= threshold for p in preds]).astype(float)
    after = before.copy()
    seconds, failed = [], 0
    for i, (pred, off) in enumerate(zip(preds, offsets)):
        cand = candidates_from_probabilities(pred.probabilities, 0.05)
        if not cand:
            continue
        try:
            res = verify(pred.spectrum, cand, VerifyConfig(offset_eV=off), threshold=threshold)
        except ValueError as err:
            print(f"  {manifest['file'][i]}: verification failed: {err}")
            failed += 1
            continue
        seconds.append(res.seconds)
        after[i] = 0.0
        for el in res.verified:
            after[i, ELEMENTS.index(el)] = 1.0
    y = label_matrix(manifest["labels"])
    mask = metric_mask()
    val, test = evaluation_split(manifest, seed=0)
    rows = {"all": np.ones(len(manifest), bool),
            "validation": manifest["file"].isin(val["file"]).to_numpy(),
            "test": manifest["file"].isin(test["file"]).to_numpy()}

    def scores(pred, r):
        t, p = y[r][:, mask], pred[r][:, mask]
        exact = float(np.mean(np.all(t == p, axis=1)))
        tp, fp, fn = (t * p).sum(0), ((1 - t) * p).sum(0), (t * (1 - p)).sum(0)
        support = t.sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
        return exact, float((f1 * support).sum() / max(support.sum(), 1))

    print(f"real spectra: {len(manifest)} files in {directory}, model {model}, threshold {threshold:g}, "
          f"carbon left out; {failed} verification(s) failed (network answer kept)")
    for name, r in rows.items():
        (e0, f0), (e1, f1) = scores(before, r), scores(after, r)
        print(f"  {name:<10} n={int(r.sum()):3d}  exact match {e0:.3f} -> {e1:.3f}  weighted F1 {f0:.3f} -> {f1:.3f}")
    (e0, f0), (e1, f1) = scores(before, rows["all"]), scores(after, rows["all"])
    print(f"exact_match_before={e0:.3f}\nexact_match_after={e1:.3f}\nf1_before={f0:.3f}\nf1_after={f1:.3f}")
    print(f"verify_real_mean_ms={1000 * float(np.mean(seconds)):.1f}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="default")
    p.add_argument("--dir", default=None, help="directory of real spectra with manifest.csv")
    p.add_argument("--repeat", type=int, default=20)
    args = p.parse_args(argv)
    timing(args.repeat)
    here = Path(__file__).resolve().parent.parent
    candidates = [args.dir, os.environ.get("EELS_ID_EXPERIMENTAL_DIR"), here.parent / "shared" / "experimental"]
    directory = next((Path(c) for c in candidates if c and (Path(c) / "manifest.csv").is_file()), None)
    if directory is None:
        print("no directory of real spectra (--dir, $EELS_ID_EXPERIMENTAL_DIR, ../shared/experimental): "
              "real-spectrum part skipped")
        return 0
    real(args.model, directory)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
