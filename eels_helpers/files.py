"""File contents as fingerprints (one SHA digest of a file, read once per file version), and text
files written whole or not at all.

A foundation module (standard library only): any stage may import it. It tells a verification
rule's networks apart (:func:`eels_helpers.inference.verification_model.network_fingerprint`),
keys the cached edge-shape tables by their GOS file
(:mod:`eels_helpers.simulation.shape_tables`) and recognises a real spectrum already in a
manifest (:func:`eels_helpers.evaluation.real_spectra.combine_manifests`). :func:`atomic_write_text`
writes the package's JSON tables (verification rules, report reliability) so that an interrupted
write leaves the old file, never half a new one; :func:`read_json_table` reads them back.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path

__all__ = ["atomic_write_text", "file_digest", "read_json_table"]


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """The hex digest of the contents of the file at ``path`` (``algorithm``: a :mod:`hashlib`
    name, e.g. ``"sha256"`` or ``"sha1"``). Read in 1 MiB blocks, once per process and file
    version (its resolved path, size and modification time): a file rewritten in place is read
    again. Raises ``FileNotFoundError`` naming the file when there is none, ``ValueError`` for
    an unknown algorithm."""
    algorithm = algorithm.lower()
    if algorithm not in hashlib.algorithms_available or algorithm.startswith("shake_"):
        raise ValueError(f"file_digest: unknown hash algorithm {algorithm!r} "
                         f"(hashlib's fixed-length digests, e.g. sha256, sha1, md5)")
    resolved = Path(path).resolve()
    st = resolved.stat()       # FileNotFoundError names the file
    return _digest(str(resolved), st.st_size, st.st_mtime_ns, algorithm)


@lru_cache(maxsize=256)
def _digest(path: str, size: int, mtime_ns: int, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` (its folder created) through a temporary file in the same folder
    renamed over it, so the file holds either its old or its whole new contents; returns the path.
    The file keeps its permissions (a new one gets the umask's, as ``open`` would give it; not
    ``mkstemp``'s owner-only 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        mode = path.stat().st_mode & 0o7777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_json_table(path: str | os.PathLike, what: str) -> dict:
    """The JSON object in the file at ``path``, or {} where there is no such file; ValueError
    naming the file and ``what`` it should be (e.g. "rules file") where it is not valid JSON."""
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not a valid {what} ({err})") from None
