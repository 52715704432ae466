"""The Dirac GOS of the paper (Zhang, Jannis, Verbeeck et al.), an optional drop-in for the
builtin table: where it lives on Zenodo, how to fetch it and check it (``gos=<path>`` then uses it).

Nothing in eels_helpers needs the network: :func:`download_dirac` is the one optional online path,
and fails within its timeout with a message saying how to fetch the file by hand.
"""

from __future__ import annotations

import hashlib
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path

from eels_helpers.physics.gos_tables import GoshError, read_gosh

__all__ = ["DIRAC_URL", "DIRAC_ZENODO_RECORD", "DIRAC_MD5", "DIRAC_COMPACT_URL",
           "DIRAC_COMPACT_ZENODO_RECORD", "DIRAC_COMPACT_MD5", "download_dirac", "verify_dirac_structure"]

#: Dirac GOS (Zhang, Jannis, Verbeeck et al.), the table used by the paper. CC-BY 4.0.
DIRAC_ZENODO_RECORD = "11199911"
DIRAC_URL = f"https://zenodo.org/records/{DIRAC_ZENODO_RECORD}/files/Dirac_GOS.gosh"
#: No checksum of record 11199911 is published with the file; ``download_dirac`` verifies the
#: GOSH STRUCTURE of that file (C/K1 and Fe/L3 tables) unless a checksum is passed.
DIRAC_MD5: str | None = None
#: The compact Dirac GOS (same tables, smaller grids) that exspy 0.3.2 downloads for
#: ``gos="dirac"``, with the checksum exspy verifies (exspy/_misc/eels/gosh_gos.py).
DIRAC_COMPACT_ZENODO_RECORD = "12800856"
DIRAC_COMPACT_URL = (f"https://zenodo.org/records/{DIRAC_COMPACT_ZENODO_RECORD}"
                     "/files/Dirac_GOS_compact.gosh")
DIRAC_COMPACT_MD5 = "01a855d3750d2c063955248358dbee8d"


def verify_dirac_structure(path) -> None:
    """Check that a file has the Dirac GOSH layout: j-resolved C/K1 and Fe/L3 tables."""
    f = read_gosh(path)
    for el, sub in (("C", "K1"), ("Fe", "L3")):
        t, _ = f.subshell(el, sub)
        if t.dfde_per_eV.size == 0:
            raise GoshError(f"{path}: table {el}/{sub} is empty")


def download_dirac(dest, *, timeout: float = 10.0, md5: str | None = None,
                   compact: bool = False) -> Path:
    """Download the Dirac GOS of Zhang et al. (``Dirac_GOS.gosh``, ~GB-scale HDF5, CC-BY 4.0)
    from Zenodo record 11199911 (``DIRAC_URL``) to ``dest`` (a file or a directory).

    Nothing in eels_helpers needs it: it is an optional drop-in (``gos=<path>``). The file is
    checked against ``md5`` (or ``DIRAC_MD5``) when one is known; the checksum of this record
    could not be obtained when this code was written, so by default the GOSH STRUCTURE is
    verified instead (C/K1 and Fe/L3 readable). Without network it fails within ``timeout``
    seconds with a message saying how to fetch the file by hand.

    ``compact=True`` fetches ``Dirac_GOS_compact.gosh`` (Zenodo record 12800856, the file
    exspy uses) instead, checked against its known md5 (``DIRAC_COMPACT_MD5``).
    """
    url = DIRAC_COMPACT_URL if compact else DIRAC_URL
    record = DIRAC_COMPACT_ZENODO_RECORD if compact else DIRAC_ZENODO_RECORD
    dest = Path(dest)
    if dest.is_dir() or str(dest).endswith(os.sep):
        dest = dest / url.rsplit("/", 1)[-1]
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".part")
    digest = hashlib.md5()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as out:
            while chunk := r.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, socket.timeout, OSError) as err:
        tmp.unlink(missing_ok=True)
        raise ConnectionError(
            f"could not download the Dirac GOS from {url} ({err}). Download it by hand "
            f"from https://zenodo.org/records/{record} and pass gos=<path to "
            f"{dest.name}>.") from err
    expected = md5 or (DIRAC_COMPACT_MD5 if compact else DIRAC_MD5)
    if expected:
        expected = expected.removeprefix("md5:")
        if digest.hexdigest() != expected:
            tmp.unlink(missing_ok=True)
            raise GoshError(f"checksum mismatch for {url}: md5 {digest.hexdigest()}, "
                            f"expected {expected}")
    tmp.replace(dest)
    verify_dirac_structure(dest)
    return dest
