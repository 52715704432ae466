"""Specimen sampling from the shipped Materials Project composition list."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
from pathlib import Path

import numpy as np
import pytest

from eels_helpers.physics.elements import ELEMENTS
from eels_helpers.simulation import specimens as sp
from eels_helpers.simulation.specimens import Specimen

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "eels_helpers" / "data" / "mp_compositions.csv.gz"


def _script():
    spec = importlib.util.spec_from_file_location("make_compositions", ROOT / "scripts" / "make_compositions.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _write_table(path: Path, rows: list[tuple[str, str]]) -> Path:
    """A small composition file in the shipped format, fractions computed by the script's parser."""
    parse = _script().parse_formula
    buf = io.StringIO()
    buf.write('# provenance: {"description": "test"}\n')
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["mp_id", "formula", "elements", "fractions"])
    for mp_id, formula in rows:
        amounts = parse(formula)
        tot = sum(amounts.values())
        w.writerow([mp_id, formula, " ".join(amounts), " ".join(f"{v / tot:.6f}" for v in amounts.values())])
    path.write_bytes(gzip.compress(buf.getvalue().encode()))
    return path


def test_parse_formula_handles_nesting_and_decimals():
    parse = _script().parse_formula
    assert parse("Ca(CoO2)2") == {"Ca": 1, "Co": 2, "O": 4}
    assert parse("Sr(Fe(CN)6)0.5") == {"Sr": 1, "Fe": 0.5, "C": 3, "N": 3}
    assert parse("LiFePO4") == {"Li": 1, "Fe": 1, "P": 1, "O": 4}
    for bad in ("Xx2O", "Fe(O", "FeO)", "2O"):
        with pytest.raises(ValueError):
            parse(bad)


def test_shipped_file_and_provenance():
    prov = sp.provenance()
    assert prov["source_package"] == "matminer==0.10.1"
    assert "CC-BY 4.0" in prov["licence"]
    assert any("Ricci" in c for c in prov["citations"])
    assert len(prov["source_sha256"]) == 64
    with gzip.open(DATA, "rt") as fh:
        n_rows = sum(1 for line in fh if not line.startswith("#")) - 1
    assert n_rows == prov["n_rows"] == 47737
    table = sp.load_compositions()
    # every row of the shipped file is either a kept distinct formula, a polymorph or dropped
    assert table.n_entries.sum() + table.n_dropped == n_rows
    assert len(set(table.formula)) == len(table) > 30_000
    np.testing.assert_allclose(table.fractions.sum(axis=1), 1.0, atol=1e-5)
    assert table.fractions.shape[1] == len(ELEMENTS) == 80


def test_coverage_report_counts_match_an_independent_count():
    """Count formulas containing some elements straight from the CSV text (regex on the formula)."""
    import re

    df = sp.coverage_report()
    assert list(df.element) == list(ELEMENTS)
    formulas_with = {e: set() for e in ("Fe", "Kr", "Ce")}
    bad = set("He Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No Lr".split())
    with gzip.open(DATA, "rt") as fh:
        for rec in csv.DictReader(line for line in fh if not line.startswith("#")):
            symbols = set(re.findall(r"[A-Z][a-z]?", rec["formula"]))
            if symbols & bad:
                continue
            for e in formulas_with:
                if e in symbols:
                    formulas_with[e].add(rec["formula"])
    for e, forms in formulas_with.items():
        assert int(df.loc[df.element == e, "n_formulas"].iloc[0]) == len(forms)
    # the shipped extract contains every one of the 80 elements: no fallback needed
    assert df.attrs["fallback_elements"] == []
    assert (df.n_formulas > 0).all() and (df.n_entries >= df.n_formulas).all()


def test_sample_specimens_query_present_fractions_sum_to_one():
    pytest.importorskip("eels_helpers.simulation.pipeline")
    rng = np.random.default_rng(1)
    for q in ("Be", "O", "Ce", "Xe", "Bi"):
        specs = sp.sample_specimens(q, 200, rng)
        assert len(specs) == 200
        for s in specs:
            assert s.query == q and q in s.elements
            assert abs(sum(s.fractions) - 1) < 1e-9 and min(s.fractions) > 0
            assert list(s.elements) == sorted(s.elements, key=ELEMENTS.index)
            assert set(s.elements) <= set(ELEMENTS)
    a = [s.elements for s in sp.sample_specimens("Fe", 50, np.random.default_rng(5))]
    b = [s.elements for s in sp.sample_specimens("Fe", 50, np.random.default_rng(5))]
    assert a == b


def test_sampling_is_uniform_over_formulas():
    table = sp.load_compositions()
    rows = table.containing("Kr")
    n = 16_000
    idx = sp.sample_indices("Kr", n, np.random.default_rng(0))
    assert set(idx) <= set(rows)
    counts = np.array([(idx == r).sum() for r in rows])
    expected = n / rows.size
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 30  # chi-square with len(rows)-1 = 7 dof: p ~ 1e-4


def test_invisible_elements_dropped_heavy_compounds_excluded_and_fallback(tmp_path):
    pytest.importorskip("eels_helpers.simulation.pipeline")
    path = _write_table(tmp_path / "t.csv.gz", [
        ("mp-1", "LiFePO4"), ("mp-2", "UO2"), ("mp-3", "FeO"), ("mp-4", "FeO"), ("mp-5", "LiH"),
        ("mp-6", "Fe2O3"),
    ])
    table = sp.load_compositions(path)
    assert table.formula == ("LiFePO4", "FeO", "Fe2O3")   # UO2 and LiH dropped, FeO once
    assert table.n_dropped == 2 and list(table.n_entries) == [1, 2, 1]
    df = sp.coverage_report(table)
    assert int(df.loc[df.element == "Fe", "n_formulas"].iloc[0]) == 3
    assert int(df.loc[df.element == "O", "n_entries"].iloc[0]) == 4
    assert "Xe" in df.attrs["fallback_elements"] and "Fe" not in df.attrs["fallback_elements"]
    specs = sp.sample_specimens("P", 20, np.random.default_rng(0), table)
    assert all(s.elements == ("O", "P", "Fe") for s in specs)
    np.testing.assert_allclose(specs[0].fractions, [4 / 6, 1 / 6, 1 / 6], atol=1e-5)
    pure = sp.sample_specimens("Xe", 3, np.random.default_rng(0), table)
    assert [(s.elements, s.fractions, s.query) for s in pure] == [(("Xe",), (1.0,), "Xe")] * 3


def test_unknown_element_error_names_the_range():
    with pytest.raises(ValueError, match="Be..Bi"):
        sp.sample_indices("Li", 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="0..79"):
        sp.sample_indices(80, 3, np.random.default_rng(0))


@pytest.mark.parametrize("kwargs, match", [
    (dict(elements=("Fe", "O"), fractions=(0.5,), query="Fe"), "same length"),
    (dict(elements=("Fe", "O"), fractions=(0.5, 0.6), query="Fe"), "sum to 1"),
    (dict(elements=("Fe", "O"), fractions=(0.5, 0.5), query="C"), "query"),
    (dict(elements=("H", "O"), fractions=(0.5, 0.5), query="O"), "no edge in range"),
    (dict(elements=("Xx",), fractions=(1.0,), query="Xx"), "not an element symbol"),
    (dict(elements=("O", "O"), fractions=(0.5, 0.5), query="O"), "duplicates"),
    (dict(elements=("O",), fractions=(-1.0,), query="O"), "positive"),
])
def test_specimen_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Specimen(**kwargs)


def test_excluded_elements_are_never_drawn():
    """exclude: formulas holding an excluded element are not drawn; the others as before; an
    excluded query is an error naming it."""
    table = sp.load_compositions()
    rng = np.random.default_rng(3)
    idx = sp.sample_indices("Dy", 8000, rng, exclude=("Tc", "Pm"))
    cols = [ELEMENTS.index("Tc"), ELEMENTS.index("Pm")]
    assert not (table.fractions[np.ix_(idx, cols)] > 0).any()
    with_pm = [r for r in table.containing("Dy") if table.fractions[r, cols[1]] > 0]
    assert with_pm, "no shipped formula holds Dy beside Pm: the test would pass trivially"
    allowed = set(table.containing("Dy")) - set(with_pm)
    assert set(idx) <= allowed and len(set(idx)) > 0.9 * len(allowed)
    with pytest.raises(ValueError, match="Pm is among the excluded"):
        sp.sample_indices("Pm", 3, rng, exclude=("Tc", "Pm"))
