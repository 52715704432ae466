"""Where a network errs on simulated spectra, element by element, and the query weights that train
more on those elements (hard-example emphasis for a fine-tuning; simulated spectra only).

:func:`element_errors` scores a network per element on freshly simulated spectra (F1 per element
over all spectra: the element's false positives count as well as its misses, so Sc reported on N K
spectra makes Sc hard); :func:`query_weights` turns the errors into relative query weights for
:class:`eels_helpers.datasets.streaming.StreamingSpectra` (``TrainConfig.query_weights``,
``eels-id train --query-weights FILE``): a share of uniform draws keeps every element in view.
"""

from __future__ import annotations

import numpy as np

from eels_helpers.physics.elements import ELEMENTS


def element_errors(model, config, threshold: float, *, n_spectra: int = 8192, seed: int = 7,
                   batch_size: int = 64):
    """Per-element scores of ``model`` on ``n_spectra`` freshly simulated spectra
    (:func:`~eels_helpers.datasets.streaming.named_stream`: query elements uniform over those
    the simulator can draw, as in training; ``config``: a SimulationConfig or a name of
    NAMED_CONFIGS; ``seed``: a stream seed no training run used), one batch of ``batch_size``
    spectra at a time. Returns a
    pandas DataFrame indexed by element with columns ``support`` (spectra labelled with it), ``tp``,
    ``fp``, ``fn``, ``f1`` (2tp / (2tp + fp + fn); NaN where the element was neither labelled nor
    reported) and ``error`` (1 - f1)."""
    import pandas as pd

    from eels_helpers.datasets.streaming import named_stream
    from eels_helpers.evaluation.metrics import _counts, binarize
    from eels_helpers.inference.predict import _as_loaded, run_model

    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be a probability in (0, 1), got {threshold!r}")
    if not (isinstance(n_spectra, int) and n_spectra >= 1):
        raise ValueError(f"n_spectra must be an integer >= 1, got {n_spectra!r}")
    loaded = _as_loaded(model, "cpu")
    stream = named_stream(config, seed, batch_size)
    counts = np.zeros((3, len(ELEMENTS)))                # tp, fp, fn per element
    for b in range(-(-n_spectra // batch_size)):     # a batch at a time: the counts, not the spectra, are kept
        batch = stream.batch(b)
        counts += _counts(batch["labels_identification"].numpy() > 0,
                          binarize(run_model(loaded, batch["spectra"].numpy()), threshold))
    tp, fp, fn = counts
    denominator = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denominator > 0, 2 * tp / denominator, np.nan)
    return pd.DataFrame({"support": (tp + fn).astype(int), "tp": tp.astype(int), "fp": fp.astype(int),
                         "fn": fn.astype(int), "f1": f1, "error": 1 - f1}, index=pd.Index(ELEMENTS, name="element"))


def query_weights(errors, uniform_share: float = 0.5) -> dict[str, float]:
    """Relative query weights from :func:`element_errors`: w_e = u + (1 - u) error_e / mean(error),
    u = ``uniform_share`` (the weights average 1; an element with no score gets the mean error,
    i.e. weight 1). u = 1 is the paper's uniform draw."""
    if not 0 <= uniform_share <= 1:
        raise ValueError(f"uniform_share must be in [0, 1], got {uniform_share!r}")
    err = np.asarray(errors["error"], float)
    if not np.isfinite(err).any() or np.nanmean(err) <= 0:
        return {e: 1.0 for e in errors.index}
    err = np.where(np.isfinite(err), err, np.nanmean(err))
    w = uniform_share + (1 - uniform_share) * err / err.mean()
    return {str(e): round(float(v), 4) for e, v in zip(errors.index, w)}
