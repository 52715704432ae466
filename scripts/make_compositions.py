#!/usr/bin/env python
"""Derive the shipped Materials Project composition list from matminer's offline extract.

The paper draws its specimens from The Materials Project (Jain et al., APL Mater. 1, 011002,
2013). The live API needs the internet and a key, so we use the Materials Project extract that
matminer ships: ``matminer/utils/data_files/mp_transport/transport_database.tar.xz`` ->
``transport_database.csv`` (Ricci et al., "An ab initio electronic transport database for
inorganic materials", Sci. Data 4, 170085, 2017; Materials Project data, CC-BY 4.0).

This script reads that file WITHOUT importing matminer (matminer 0.10.1 requires pandas<3 and
pymatgen, which conflict with our pins), from one of:

* an installed matminer (located with ``importlib.util.find_spec``, nothing is executed);
* a matminer wheel, e.g. after ``pip download --no-deps matminer==0.10.1 -d /tmp/mm``
  (``--source /tmp/mm/matminer-0.10.1-py3-none-any.whl``);
* the extracted ``transport_database.csv`` or ``.tar.xz`` itself.

It writes ``eels_helpers/data/mp_compositions.csv.gz``: ``#``-prefixed provenance lines (JSON),
then CSV columns ``mp_id, formula, elements, fractions`` where ``elements`` is a space-separated
list of symbols in order of first appearance in the formula and ``fractions`` the atomic
fractions (6 decimals, summing to 1). All rows are kept; filtering to the 80 elements of the
network happens at run time in :mod:`eels_helpers.simulation.specimens`. The output is byte-reproducible
for a given input (gzip mtime 0, fixed ``created`` date unless ``--date`` is given).

Usage::

    python scripts/make_compositions.py --source /tmp/mm/matminer-0.10.1-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import importlib.util
import io
import json
import re
import sys
import tarfile
import zipfile
from pathlib import Path

MATMINER_VERSION = "0.10.1"
MEMBER = "matminer/utils/data_files/mp_transport/transport_database.tar.xz"
OUT = Path(__file__).resolve().parents[1] / "eels_helpers" / "data" / "mp_compositions.csv.gz"

# Every element symbol, Z = 1..118 (used only to validate parsed formulas).
SYMBOLS = (
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se "
    "Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb "
    "Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm "
    "Bk Cf Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og"
).split()
_TOKEN = re.compile(r"([A-Z][a-z]?)|(\()|(\))|(\d+(?:\.\d+)?)")


def parse_formula(formula: str) -> dict[str, float]:
    """Parse a chemical formula such as ``Ca(CoO2)2`` into ``{symbol: amount}``.

    Parentheses nest, amounts may be decimal; element order is that of first appearance.
    Raises ValueError for unknown symbols or malformed formulas.
    """
    pos, stack = 0, [dict()]
    tokens = []
    while pos < len(formula):
        m = _TOKEN.match(formula, pos)
        if m is None:
            raise ValueError(f"cannot parse formula {formula!r} at position {pos}")
        tokens.append(m)
        pos = m.end()
    i = 0
    while i < len(tokens):
        sym, opn, cls, _num = tokens[i].groups()
        nxt = tokens[i + 1].group(4) if i + 1 < len(tokens) else None
        mult = float(nxt) if nxt is not None else 1.0
        if sym:
            if sym not in SYMBOLS:
                raise ValueError(f"unknown element {sym!r} in formula {formula!r}")
            stack[-1][sym] = stack[-1].get(sym, 0.0) + mult
        elif opn:
            stack.append(dict())
            mult = None
        elif cls:
            if len(stack) == 1:
                raise ValueError(f"unbalanced ')' in formula {formula!r}")
            inner = stack.pop()
            for k, v in inner.items():
                stack[-1][k] = stack[-1].get(k, 0.0) + v * mult
        else:
            raise ValueError(f"number without element in formula {formula!r}")
        i += 2 if (nxt is not None and mult is not None) else 1
    if len(stack) != 1:
        raise ValueError(f"unbalanced '(' in formula {formula!r}")
    return stack[0]


def _open_transport_csv(source: Path | None) -> tuple[str, str]:
    """Return (csv text, description of where it came from)."""
    if source is None:
        spec = importlib.util.find_spec("matminer")
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit(
                "matminer is not installed; run `pip download --no-deps matminer=="
                f"{MATMINER_VERSION} -d /tmp/mm` and pass --source /tmp/mm/matminer-"
                f"{MATMINER_VERSION}-py3-none-any.whl"
            )
        root = Path(list(spec.submodule_search_locations)[0]).parent
        source = root / MEMBER
    source = Path(source)
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as zf:
            blob = zf.read(MEMBER)
        where = f"{source.name}:{MEMBER}"
    elif source.name.endswith(".tar.xz"):
        blob = source.read_bytes()
        where = str(source)
    elif source.suffix == ".csv":
        return source.read_text(), str(source)
    else:
        raise SystemExit(f"--source must be a .whl, .tar.xz or .csv file, got {source}")
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:xz") as tf:
        member = next(m for m in tf.getmembers() if m.name.endswith("transport_database.csv"))
        text = tf.extractfile(member).read().decode()
    return text, where


def build_rows(text: str) -> list[tuple[str, str, str, str]]:
    """Rows (mp_id, formula, elements, fractions) from the transport database CSV text."""
    rows = []
    for rec in csv.DictReader(io.StringIO(text)):
        amounts = parse_formula(rec["pretty_formula"])
        total = sum(amounts.values())
        fr = [v / total for v in amounts.values()]
        rows.append((
            rec["mp_id"],
            rec["pretty_formula"],
            " ".join(amounts),
            " ".join(f"{f:.6f}" for f in fr),
        ))
    rows.sort(key=lambda r: (int(r[0].split("-")[1]) if r[0].split("-")[1].isdigit() else 0, r[0]))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=None,
                        help="matminer wheel, transport_database.tar.xz or .csv (default: installed matminer)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--date", default="2026-11-24", help="date recorded in the provenance")
    args = parser.parse_args(argv)

    text, where = _open_transport_csv(args.source)
    rows = build_rows(text)
    provenance = {
        "description": "Materials Project compositions (mp_id, reduced formula, atomic fractions)",
        "source_package": f"matminer=={MATMINER_VERSION}",
        "source_file": where,
        "source_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "n_rows": len(rows),
        "created": args.date,
        "script": "scripts/make_compositions.py",
        "licence": "Materials Project data: CC-BY 4.0 (https://creativecommons.org/licenses/by/4.0/)",
        "citations": [
            "Ricci, F. et al. An ab initio electronic transport database for inorganic materials. "
            "Sci. Data 4, 170085 (2017). https://doi.org/10.1038/sdata.2017.85",
            "Jain, A. et al. Commentary: The Materials Project: A materials genome approach to "
            "accelerating materials innovation. APL Mater. 1, 011002 (2013). "
            "https://doi.org/10.1063/1.4812323",
            "Ward, L. et al. Matminer: An open source toolkit for materials data mining. "
            "Comput. Mater. Sci. 152, 60-69 (2018). https://doi.org/10.1016/j.commatsci.2018.05.018",
        ],
    }
    buf = io.StringIO()
    buf.write("# provenance: " + json.dumps(provenance, sort_keys=True) + "\n")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["mp_id", "formula", "elements", "fractions"])
    writer.writerows(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0,
                                                   compresslevel=9) as gz:
        gz.write(buf.getvalue().encode())
    print(f"wrote {len(rows)} compositions to {args.out} ({args.out.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
