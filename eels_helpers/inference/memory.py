"""Whether a spectrum image's identification fits in this machine's memory, asked before it starts.

``predict`` and ``map`` keep each pixel's probabilities and masks and make the network input (3,072
float32 channels, 12 KiB per pixel) one block of pixels at a time
(:mod:`eels_helpers.inference.image_blocks`; ``map`` since session 40, ``predict`` since session 41);
the pre-processing works on blocks of ``preprocess.CHUNK`` spectra with a few float64 copies each.
Measured (``benchmarks/bench_map_memory.py``, 2,048 channels, ``default``; about 0.4 GiB of each figure
is the process itself): ``map`` peaked at 1.9 GiB with a 0.5 GiB image (256 x 256) and at 5.8 GiB with a
2 GiB image (512 x 512) when it kept every network input (session 39), at 1.4 and 3.0 GiB in blocks
(session 40); what :func:`needed_memory_bytes` says is in the README. An image that needs more than the
memory available is refused at once with the figures (:func:`check_memory`), instead of the operating
system killing the process minutes later without a word.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = ["BYTES_PER_PIXEL", "BLOCK_COPIES", "available_memory_bytes", "needed_memory_bytes",
           "check_memory"]

#: per pixel that ``map`` and ``predict`` keep: the probabilities and the masks over them (80 per pixel)
BYTES_PER_PIXEL = 80 * 4 * 4
#: float64 copies of a pre-processing block held at once (counts, repairs, rebinning, spline)
BLOCK_COPIES = 6


def available_memory_bytes() -> int | None:
    """Memory this process can still take (bytes): Linux's ``MemAvailable``, lowered to a cgroup's
    (container's) remaining limit where one is set; None where neither can be read."""
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            found.append(int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text().strip()))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def needed_memory_bytes(n_spectra: int, n_channels: int) -> int:
    """Bytes identification needs beyond the loaded image: per spectrum ``BYTES_PER_PIXEL``, one block's
    network input, the twin resolvers' pass (their float64 sums and the inputs they read) and
    ``BLOCK_COPIES`` float64 copies of one pre-processing block of ``n_channels``."""
    from eels_helpers.inference.image_blocks import BLOCK
    from eels_helpers.inference.preprocess import CHUNK
    from eels_helpers.inference.twin_resolution import ROWS_PER_PASS

    n = int(n_spectra)
    return (n * BYTES_PER_PIXEL + min(n, CHUNK) * int(n_channels) * 8 * BLOCK_COPIES
            + min(n, BLOCK) * 3072 * 4 + min(n, ROWS_PER_PASS) * 3072 * (8 + 2 * 4))


def check_memory(n_spectra: int, n_channels: int, where: str) -> None:
    """MemoryError naming ``where``, its size and both figures when identifying ``n_spectra``
    spectra of ``n_channels`` channels needs more memory than is available
    (:func:`needed_memory_bytes`); silent where it fits or the available memory cannot be read."""
    available = available_memory_bytes()
    needed = needed_memory_bytes(n_spectra, n_channels)
    if available is None or needed <= available:
        return
    raise MemoryError(
        f"{where}: {n_spectra:,} spectra need about {_size(needed)} beyond the loaded image (the probabilities "
        f"and the pre-processing of one block at a time), but {_size(available)} are available; crop or bin the "
        "image (e.g. HyperSpy's .inav[...] or .rebin()) or map it in parts")


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 2**30:.1f} GiB" if n_bytes >= 2**30 / 10 else f"{n_bytes / 2**20:.0f} MiB"
