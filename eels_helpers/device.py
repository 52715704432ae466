"""The one device and precision choice of training and inference.

* :func:`resolve_device`: ``"auto"`` is CUDA when present, else the CPU;
* :func:`cuda_unavailable_reason`: why CUDA cannot be used here (None where it can);
* :func:`fast_bfloat16`: whether bfloat16 autocast is faster than float32 on a device;
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

A foundation module (any stage may import it); torch is imported inside the functions.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["DEVICES", "PRECISIONS", "NATIVE_BF16_FLAGS", "resolve_device", "cuda_unavailable_reason",
           "cpu_has_native_bf16", "fast_bfloat16", "resolve_precision"]

#: device names accepted by :func:`resolve_device` (besides ``"cuda:N"``)
DEVICES = ("auto", "cpu", "cuda")
#: autocast precisions of a training run (:func:`resolve_precision`)
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: CPU flags (``/proc/cpuinfo``) of native bfloat16 arithmetic
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
CPUINFO = Path("/proc/cpuinfo")


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
    if name == "cuda" or re.fullmatch(r"cuda:\d+", name):
        if not torch.cuda.is_available():
            raise ValueError(f"device={name!r} was requested but torch.cuda.is_available() is False")
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


def fast_bfloat16(device: "str | torch.device" = "cpu") -> bool:
    """True where bfloat16 autocast is faster than float32: a CUDA device of compute
    capability >= 8.0, or a CPU with native bfloat16 (:func:`cpu_has_native_bf16`)."""
    import torch

    if torch.device(device).type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    return cpu_has_native_bf16()


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
        return precision
    if fast_bfloat16(device):
        return "bf16"
    return "fp16" if cuda else "fp32"
