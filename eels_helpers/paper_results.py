"""The paper's published numbers, and tables that put ours beside them.

``TABLE2``: Annys, Jannis & Verbeeck, Sci. Rep. 13:13724 (2023), Table 2 "Comparison of the
identification model architectures": parameter count (millions), F1 (support-weighted), exact
match ratio (EMR) and RMSE on the simulated and on the experimental test set, each at the
threshold chosen on the matching validation set, and the inference time in seconds (the paper
does not say for how many spectra or on which device).

This module is light (pandas is imported only by :func:`table2_simulated`).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

__all__ = ["PaperRow", "TABLE2", "DISPLAY_NAMES", "table2_simulated", "MISSING"]


@dataclass(frozen=True)
class PaperRow:
    """One row of the paper's Table 2 (fractions in [0, 1]; parameters in millions)."""

    parameters_m: float
    sim_f1: float
    sim_emr: float
    sim_rmse: float
    exp_f1: float
    exp_emr: float
    exp_rmse: float
    inference_s: float


#: Table 2 of the paper, in its row order (keys are ``eels_helpers.models`` names).
TABLE2: Mapping[str, PaperRow] = MappingProxyType({
    "mlp": PaperRow(56, 0.50, 0.05, 0.16, 0.42, 0.12, 0.15, 0.1),
    "cnn": PaperRow(45, 0.90, 0.68, 0.07, 0.76, 0.42, 0.12, 0.2),
    "resnet": PaperRow(41, 0.89, 0.68, 0.07, 0.77, 0.53, 0.10, 0.3),
    "unet": PaperRow(20, 0.86, 0.63, 0.07, 0.84, 0.62, 0.09, 0.2),
    "vit": PaperRow(2, 0.84, 0.55, 0.09, 0.84, 0.60, 0.08, 0.6),
    "cct": PaperRow(5, 0.87, 0.60, 0.08, 0.79, 0.58, 0.08, 0.6),
})

DISPLAY_NAMES: Mapping[str, str] = MappingProxyType(
    {"mlp": "MLP", "cnn": "CNN", "resnet": "ResNet", "unet": "U-Net", "vit": "ViT", "cct": "CCT"})

#: What a cell shows when an architecture has no results.
MISSING = "not run"


def table2_simulated(results: Mapping[str, Any]):
    """Table 2's simulated columns, the paper's values beside ours, as a pandas DataFrame.

    ``results`` maps architecture names to :class:`eels_helpers.train.TrainResults` (or None
    when that architecture was not trained: its cells read ``"not run"``). Rows follow the
    paper's order; architectures absent from ``results`` are listed as not run too. Columns
    come in pairs ``(quantity, "paper")`` / ``(quantity, "ours")``: parameters (millions), F1,
    EMR, RMSE, and inference time (the paper's in seconds as printed; ours in milliseconds per
    spectrum), then our threshold, training spectra and training minutes.
    """
    import pandas as pd

    unknown = sorted(set(results) - set(TABLE2))
    if unknown:
        raise ValueError(f"unknown architecture(s) {unknown}; Table 2 has {', '.join(TABLE2)}")
    columns = pd.MultiIndex.from_tuples([
        ("parameters (M)", "paper"), ("parameters (M)", "ours"),
        ("F1", "paper"), ("F1", "ours"),
        ("EMR", "paper"), ("EMR", "ours"),
        ("RMSE", "paper"), ("RMSE", "ours"),
        ("inference", "paper [s]"), ("inference", "ours [ms/spectrum]"),
        ("this run", "threshold"), ("this run", "training spectra"), ("this run", "training (min)"),
    ])
    rows = []
    for name, paper in TABLE2.items():
        ours = results.get(name)
        if ours is None:
            mine = [MISSING] * 8
        else:
            mine = [round(ours.parameters / 1e6, 2), round(ours.f1, 2), round(ours.emr, 2),
                    round(ours.rmse, 2), round(ours.inference_ms_per_spectrum, 2),
                    round(ours.threshold, 2), int(ours.spectra), round(ours.train_minutes, 1)]
        rows.append([paper.parameters_m, mine[0], paper.sim_f1, mine[1], paper.sim_emr, mine[2],
                     paper.sim_rmse, mine[3], paper.inference_s, mine[4], *mine[5:]])
    return pd.DataFrame(rows, index=pd.Index([DISPLAY_NAMES[n] for n in TABLE2], name="model"),
                        columns=columns, dtype=object)
