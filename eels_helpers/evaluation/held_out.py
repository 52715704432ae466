"""Seeds of the held-out simulated spectra: the validation and test sets that training never sees.

A training run streams simulated spectra drawn from its own ``seed``; the simulated validation
and test sets are drawn with ``seed + VALIDATION_SEED`` and ``seed + TEST_SEED``, and the
single-element set of the confusion matrix with ``seed + SINGLE_ELEMENT_SEED``: far from the
small seeds that training runs use, so no held-out spectrum is a training spectrum. The model
release (:mod:`eels_helpers.training.release`) uses the seeds themselves (run seed 0), the
chapters "Train an architecture" and "Ensemble and confusion" the offsets.
"""

from __future__ import annotations

__all__ = ["VALIDATION_SEED", "TEST_SEED", "SINGLE_ELEMENT_SEED", "RECALIBRATION_SEED"]

#: seed (offset to a run's seed) of the simulated validation spectra (threshold choice)
VALIDATION_SEED = 10_001
#: seed (offset to a run's seed) of the simulated test spectra (the scores reported)
TEST_SEED = 20_002
#: seed (offset to a run's seed) of the single-element spectra of the confusion matrix
SINGLE_ELEMENT_SEED = 30_003
#: seed of the simulated spectra on which a released network's BatchNorm statistics are
#: re-estimated (mixed spectra of the streaming simulator: a different stream from the
#: single-element set, which draws with its own key)
RECALIBRATION_SEED = 30_003
