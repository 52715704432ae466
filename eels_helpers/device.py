"""The one device and precision choice of training and inference.

* :func:`resolve_device`: ``"auto"`` is CUDA when present, else the CPU;
* :func:`cuda_unavailable_reason`: why CUDA cannot be used here (None where it can);
* :func:`fast_bfloat16`: whether bfloat16 autocast is faster than float32 on a device (and
  computes right there: :func:`bfloat16_fault`);
* :func:`bfloat16_fault`: why bfloat16 convolutions give wrong numbers on a device, or None;
* :func:`resolve_precision`: the autocast precision of a training run (``"auto"``: bfloat16
  where it is fast, float16 on CUDA without it, float32 on CPUs without it).

Which bfloat16 detection, and why. On the CPU, bfloat16 pays off only with native bfloat16
instructions, AVX512-BF16 (Intel Cooper Lake and later, AMD Zen 4 and later) or AMX-BF16
(Intel Sapphire Rapids and later); without them PyTorch/oneDNN converts to float32 and back
around every product, several times slower than plain float32. This module reads the CPU's
flags (``avx512_bf16``, ``amx_bf16`` in Linux's ``/proc/cpuinfo``). The other detection the
package used, oneDNN's ``torch.ops.mkldnn._is_mkldnn_bf16_supported()`` (a private API),
answers whether oneDNN can *run* bfloat16 at all: it is True on every CPU with AVX512BW/VL/DQ
(e.g. Skylake-SP, which emulates bfloat16), so it said "fast" where bfloat16 is slow. Where
the flags cannot be read (not Linux) the answer is False: float32 is never the slow choice.
On CUDA, bfloat16 is fast from compute capability 8.0 (Ampere) on: ``torch.cuda.
is_bf16_supported(including_emulation=False)``.

Fast is not enough: on an Intel Xeon with AMX under PyTorch 2.13.0+cpu (session 26) a bfloat16
1-D convolution with kernel 32 (the networks' own) and 2, 4, 8 or 12 input channels returned
numbers unrelated to float32's (relative error ~1; 1, 3 and 16 channels were right), so the shipped U-Nets
gave F1 0.01 instead of 0.75 under autocast and a fine-tuning run collapsed. :func:`bfloat16_fault`
compares such convolutions once per device type; "auto" then chooses float32, and an explicit
bfloat16 request is refused with the reason.

A foundation module (any stage may import it); torch is imported inside the functions.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["DEVICES", "PRECISIONS", "NATIVE_BF16_FLAGS", "BF16_CONV_TOLERANCE", "resolve_device",
           "cuda_unavailable_reason", "cpu_has_native_bf16", "bfloat16_fault", "check_bfloat16", "fast_bfloat16",
           "resolve_precision"]

#: device names accepted by :func:`resolve_device` (besides ``"cuda:N"``)
DEVICES = ("auto", "cpu", "cuda")
#: autocast precisions of a training run (:func:`resolve_precision`)
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: CPU flags (``/proc/cpuinfo``) of native bfloat16 arithmetic
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
CPUINFO = Path("/proc/cpuinfo")
#: largest relative error of a bfloat16 convolution against float32 that :func:`bfloat16_fault`
#: accepts (bfloat16's own rounding gives ~3e-3 for these convolutions)
BF16_CONV_TOLERANCE = 0.05

log = logging.getLogger(__name__)
_LOGGED: set[str] = set()          # device types whose bfloat16 fault was logged


def is_device_name(name: str) -> bool:
    """Whether ``name`` is a device name :func:`resolve_device` knows: 'auto', 'cpu', 'cuda' or 'cuda:N'
    (not whether that device is available here)."""
    return name in DEVICES or re.fullmatch(r"cuda:\d+", name) is not None


def resolve_device(device: "str | torch.device" = "auto", local_rank: int = 0) -> "torch.device":
    """The torch device for a device name.

    Parameters
    ----------
    device : {'auto', 'cpu', 'cuda'} or 'cuda:N' or torch.device
        ``'auto'``: CUDA when ``torch.cuda.is_available()``, else the CPU.
    local_rank : int
        the GPU of ``'auto'``/``'cuda'`` (the process's ``LOCAL_RANK`` under torchrun).

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        for an unknown name, or CUDA requested where none is available.
    """
    import torch

    name = str(device)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if is_device_name(name):       # cuda or cuda:N
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} was requested but CUDA cannot be used here: "
                             f"{cuda_unavailable_reason()}; use the device 'cpu' (or 'auto')")
        return torch.device("cuda", local_rank) if name == "cuda" else torch.device(name)
    raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}")


def cuda_unavailable_reason() -> str | None:
    """Why CUDA cannot be used here, in words; None where it can.

    Returns
    -------
    str or None
        None when ``torch.cuda.is_available()``; else which of the usual causes applies: a
        PyTorch built without CUDA (``torch.version.cuda`` is None), ``CUDA_VISIBLE_DEVICES``
        hiding every device, or no driver or device found.
    """
    import os

    import torch

    if torch.cuda.is_available():
        return None
    if torch.version.cuda is None:
        return (f"this PyTorch ({torch.__version__}) was built without CUDA; install a CUDA build "
                "(environment.yml) on a GPU node")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return f"CUDA_VISIBLE_DEVICES={visible!r} hides every GPU"
    return (f"no CUDA device or driver was found (PyTorch {torch.__version__}, CUDA {torch.version.cuda}; "
            "torch.cuda.is_available() is False)")


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """True if the CPU has native bfloat16 instructions (a flag of :data:`NATIVE_BF16_FLAGS`).

    ``cpuinfo``: the text of ``/proc/cpuinfo`` (read when None; False where it cannot be read).
    """
    if cpuinfo is None:
        try:
            cpuinfo = CPUINFO.read_text()
        except OSError:
            return False
    flags = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            flags.update(value.split())
    return any(flag in flags for flag in NATIVE_BF16_FLAGS)


@lru_cache(maxsize=4)
def bfloat16_fault(device_type: str = "cpu") -> str | None:
    """Why bfloat16 autocast computes wrong numbers on ``device_type`` ('cpu' or 'cuda'), in words;
    None where it computes right. The check: 1-D convolutions with kernel 32 and 1-16 input
    channels (those of the networks' first layers) on fixed random inputs, under autocast against
    float32; a relative error above :data:`BF16_CONV_TOLERANCE` is a fault (module docstring: PyTorch
    2.13.0+cpu on AMX). Run once per device type (a few milliseconds)."""
    import torch

    if device_type == "cuda" and not torch.cuda.is_available():
        return None
    gen = torch.Generator().manual_seed(0)
    worst = (0.0, 0)
    for channels in range(1, 17):
        x = torch.randn(4, channels, 512, generator=gen).to(device_type)
        w = torch.randn(8, channels, 32, generator=gen).to(device_type)
        exact = torch.nn.functional.conv1d(x, w)
        with torch.no_grad(), torch.autocast(device_type, dtype=torch.bfloat16):
            approx = torch.nn.functional.conv1d(x, w).float()
        err = float((approx - exact).norm() / exact.norm())
        worst = max(worst, (err, channels))
    if worst[0] <= BF16_CONV_TOLERANCE:
        return None
    return (f"bfloat16 convolutions give wrong numbers on this {device_type} with PyTorch {torch.__version__} "
            f"(kernel 32, {worst[1]} input channels: {100 * worst[0]:.0f} % away from float32, tolerance "
            f"{100 * BF16_CONV_TOLERANCE:.0f} %; eels_helpers.device.bfloat16_fault)")


def check_bfloat16(device: "str | torch.device") -> None:
    """Raise ValueError with :func:`bfloat16_fault`'s reason where bfloat16 computes wrong numbers on ``device``."""
    import torch

    fault = bfloat16_fault(torch.device(device).type)
    if fault is not None:
        raise ValueError(f"{fault}: use float32 (--precision fp32 for predict and train; map without --bf16)")


def use_bfloat16(choice: "bool | str", device: "str | torch.device" = "cpu") -> bool:
    """Whether to run under bfloat16 autocast: ``choice`` True / False as given, ``"auto"`` where it is
    faster and computes right (:func:`fast_bfloat16`); the one reading of ``bfloat16="auto"`` of
    ``predict``, ``map_elements`` and the real-spectrum evaluation."""
    return fast_bfloat16(device) if choice == "auto" else bool(choice)


def fast_bfloat16(device: "str | torch.device" = "cpu") -> bool:
    """True where bfloat16 autocast is faster than float32 and computes right: a CUDA device of
    compute capability >= 8.0, or a CPU with native bfloat16 (:func:`cpu_has_native_bf16`); False
    (logged once, at DEBUG: nobody asked for bfloat16 and the results are right in float32, so
    ``eels-id predict`` does not print it; asking for bfloat16 there is refused with the reason)
    where :func:`bfloat16_fault` finds its convolutions wrong."""
    import torch

    kind = torch.device(device).type
    if kind == "cuda":
        fast = torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    else:
        fast = cpu_has_native_bf16()
    if fast and (fault := bfloat16_fault(kind)) is not None:
        if kind not in _LOGGED:
            _LOGGED.add(kind)
            log.debug("%s: float32 instead", fault)
        return False
    return fast


def resolve_precision(precision: str, device: "str | torch.device") -> str:
    """The autocast precision of a training run on ``device``.

    Parameters
    ----------
    precision : {'auto', 'fp32', 'bf16', 'fp16'}
        ``'auto'``: ``'bf16'`` where :func:`fast_bfloat16`, else ``'fp16'`` on CUDA (with a
        gradient scaler) and ``'fp32'`` on the CPU.
    device : str or torch.device

    Returns
    -------
    str
        one of ``'fp32'``, ``'bf16'``, ``'fp16'``.
    """
    import torch

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    cuda = torch.device(device).type == "cuda"
    if precision != "auto":
        if precision == "fp16" and not cuda:
            raise ValueError("precision='fp16' needs CUDA; use 'bf16' or 'fp32' on CPU")
        if precision == "bf16":
            check_bfloat16(device)
        return precision
    if fast_bfloat16(device):
        return "bf16"
    return "fp16" if cuda else "fp32"
