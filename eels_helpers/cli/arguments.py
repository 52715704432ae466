"""argparse ``type=`` functions shared by the commands: a value they refuse is argparse's usage
error (exit status 2) naming the option, e.g. ``argument --offset: must be a finite number, got
'nan'``. Imports nothing heavy (``eels-id COMMAND --help`` stays fast).
"""

from __future__ import annotations

import argparse
import math

__all__ = ["energy_offset", "finite_float", "finite_float_list", "non_negative_int", "positive_int", "probability"]


def finite_float(text: str) -> float:
    """A finite float: ``nan``, ``inf`` and non-numbers are refused."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def energy_offset(text: str) -> float:
    """An energy-calibration offset in eV: finite and within +-``MAX_OFFSET_EV`` (500 eV)."""
    from eels_helpers.inference.preprocess import MAX_OFFSET_EV

    value = finite_float(text)
    if abs(value) > MAX_OFFSET_EV:
        raise argparse.ArgumentTypeError(f"must be a calibration error within +-{MAX_OFFSET_EV:g} eV, got {text!r}")
    return value


def finite_float_list(text: str) -> list[float]:
    """Comma-separated finite floats, e.g. ``0.4,0.6`` (empty items are skipped)."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"must be comma-separated numbers, got {text!r}")
    values = []
    for item in items:
        try:
            values.append(finite_float(item))
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(f"must be comma-separated finite numbers, got {item!r} "
                                             f"in {text!r}") from None
    return values


def device_name(text: str) -> str:
    """A device name: auto, cpu, cuda or cuda:N (eels_helpers.device.resolve_device); whether it is
    available is checked when the work starts."""
    from eels_helpers.device import is_device_name

    if not is_device_name(text):
        raise argparse.ArgumentTypeError(f"must be auto, cpu, cuda or cuda:N, got {text!r}")
    return text


def non_negative_int(text: str) -> int:
    """An integer >= 0 (a random seed, a count)."""
    return _integer_at_least(text, 0)


def positive_int(text: str) -> int:
    """An integer >= 1 (a batch size in spectra)."""
    return _integer_at_least(text, 1)


def _integer_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
    return value


def probability(text: str) -> float:
    """A probability strictly between 0 and 1 (a decision threshold)."""
    value = finite_float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a probability in (0, 1), got {text!r}")
    return value
