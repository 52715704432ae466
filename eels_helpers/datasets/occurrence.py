"""How often each element is labelled (paper Fig. 4): from a label matrix, a dataset split or a table.

:func:`element_occurrence` is the one count, from an (N, 80) 0/1 label matrix: of simulated
spectra, of a dataset split read block by block (:func:`split_occurrence`), of freshly streamed
spectra (:func:`eels_helpers.datasets.streaming.stream_occurrence`) or of the labelled experimental
spectra (``element_occurrence(eels_helpers.evaluation.real_spectra.label_matrix(manifest["labels"]))``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from eels_helpers.physics.elements import ELEMENTS

N_ELEMENTS = len(ELEMENTS)


def element_occurrence(labels) -> np.ndarray:
    """(80,) int64: the number of rows of ``labels`` in which each element is labelled.

    ``labels``: (N, 80) array, one column per element Be..Bi (:data:`ELEMENTS`), nonzero where the
    element is labelled (0/1 of any dtype, e.g. uint8 from a dataset, float32 from a network's targets).
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape[1] != N_ELEMENTS:
        raise ValueError(f"labels must have shape (N, {N_ELEMENTS}) (one column per element), got {labels.shape}")
    return np.count_nonzero(labels, axis=0).astype(np.int64)


def split_occurrence(dataset, split: str = "train", block: int = 65_536) -> np.ndarray:
    """(80,) :func:`element_occurrence` of the ``labels_identification`` of one split of a
    :class:`~eels_helpers.datasets.hdf5_reader.SpectraDataset`, read ``block`` rows at a time."""
    view = dataset[split]
    total = np.zeros(N_ELEMENTS, np.int64)
    for start in range(0, len(view), block):
        total += element_occurrence(view.read("labels_identification", slice(start, start + block)))
    return total


def occurrence_table(dataset):
    """pandas DataFrame, one row per element: labelled occurrences and query spectra per split."""
    import pandas as pd

    cols = {"element": list(ELEMENTS)}
    for s in dataset.splits:
        cols[f"{s}_occurrence"] = split_occurrence(dataset, s)
        q = dataset[s].read("query")
        cols[f"{s}_query"] = np.bincount(q, minlength=N_ELEMENTS)
    return pd.DataFrame(cols)


def plot_element_occurrence(dataset, splits: Sequence[str] = ("train", "test"), ax=None):
    """Bar chart of the relative occurrence of each element, one series per split (Fig. 4a)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(12, 3.2))
    width = 0.8 / len(splits)
    x = np.arange(N_ELEMENTS)
    for k, s in enumerate(splits):
        occ = split_occurrence(dataset, s)
        ax.bar(x + (k - (len(splits) - 1) / 2) * width, occ / max(1, len(dataset[s])), width, label=s)
    ax.set_xticks(x, ELEMENTS, fontsize=6, rotation=90)
    ax.set_ylabel("fraction of spectra")
    ax.set_xlim(-1, N_ELEMENTS)
    ax.legend()
    return ax
