"""Manifest reading, the grouped split, the package-spectra fallback and evaluate()."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from eels_helpers import experimental as ex
from eels_helpers.elements import ELEMENTS

EXPERIMENTAL = Path(__file__).resolve().parents[2] / "shared" / "experimental"


def _write_dir(tmp_path, rows, header="file,elements,energy_offset_eV,compound_group,spectrum_image"):
    for rec in rows:
        name = rec.split(",")[0]
        e = np.arange(400.0, 800.0)
        (tmp_path / name).write_text("".join(f"{x},{1e4 * (x / 400) ** -3:.4f}\n" for x in e))
    (tmp_path / "manifest.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    return tmp_path


def test_load_manifest_parses_and_fills_defaults(tmp_path):
    _write_dir(tmp_path, ["a.csv,Fe;O,5,FeO,no", "b.csv,O;C;Li,,,yes", "c.csv,Mn,-2.5,MnO,no"])
    with pytest.warns(UserWarning, match=r"\['Li'\] are outside Be..Bi"):
        df = ex.load_manifest(tmp_path)
    assert list(df["labels"]) == [("O", "Fe"), ("C", "O"), ("Mn",)]  # Be..Bi order
    assert list(df["energy_offset_eV"]) == [5.0, 0.0, -2.5]
    assert list(df["compound_group"]) == ["FeO", "b.csv", "MnO"]
    assert list(df["spectrum_image"]) == [False, True, False]
    assert df["ignored_elements"][1] == ("Li",)
    assert all(Path(p).is_file() for p in df["path"])


def test_load_manifest_errors(tmp_path):
    with pytest.raises(ex.ManifestError, match="no manifest"):
        ex.load_manifest(tmp_path)
    _write_dir(tmp_path, ["a.csv,Fe,x,g,no"])
    with pytest.raises(ex.ManifestError, match=r"line 2: energy_offset_eV='x'"):
        ex.load_manifest(tmp_path)
    (tmp_path / "manifest.csv").write_text("file,labels\na.csv,Fe\n")
    with pytest.raises(ex.ManifestError, match=r"missing required column\(s\) \['elements'\]"):
        ex.load_manifest(tmp_path)
    (tmp_path / "manifest.csv").write_text("file,elements\nabsent.csv,Fe\n")
    with pytest.raises(ex.ManifestError, match="1 listed file"):
        ex.load_manifest(tmp_path)


def test_evaluation_split_keeps_groups_together_and_is_reproducible(tmp_path):
    rows = [f"s{i}.csv,Fe,0,g{i % 7},no" for i in range(30)]
    df = ex.load_manifest(_write_dir(tmp_path, rows))
    val, test = ex.evaluation_split(df, seed=3)
    assert len(val) + len(test) == 30 and len(val) >= 15 and len(test) > 0
    assert not set(val["compound_group"]) & set(test["compound_group"])
    val2, _ = ex.evaluation_split(df, seed=3)
    assert list(val2["file"]) == list(val["file"])
    other = {tuple(ex.evaluation_split(df, seed=s)[0]["file"]) for s in range(6)}
    assert len(other) > 1
    with pytest.raises(ValueError, match="validation_fraction"):
        ex.evaluation_split(df, seed=0, validation_fraction=1.0)


def test_label_matrix_and_carbon_mask():
    y = ex.label_matrix([("Fe", "O"), ()])
    assert y.shape == (2, 80) and y[0].sum() == 2 and y[0, ELEMENTS.index("Fe")] == 1 and y[1].sum() == 0
    mask = ex.metric_mask()
    assert mask.sum() == 79 and not mask[ELEMENTS.index("C")]


def test_package_spectra_are_real_files_with_known_elements():
    df = ex.package_spectra()
    if df.empty:
        pytest.skip("exspy is not installed")
    from eels_helpers.io import read_spectrum
    from eels_helpers.preprocess import preprocess

    for rec in df.itertuples():
        s = read_spectrum(rec.path)
        out = preprocess(s, offset_eV=rec.energy_offset_eV)
        assert out.max() == pytest.approx(1.0)
        assert set(rec.labels) <= set(ELEMENTS)
        from eels_helpers.elements import families_of

        onsets = [o for sym in rec.labels for f in families_of(sym) for o in f.onsets_eV]
        lo, hi = s.energy_eV[0] - rec.energy_offset_eV, s.energy_eV[-1] - rec.energy_offset_eV
        assert any(lo <= o <= hi for o in onsets), rec.file  # an edge of a listed element is in the window


def test_evaluation_set_falls_back_and_says_so(monkeypatch, tmp_path):
    monkeypatch.setattr(ex, "DEFAULT_DIRECTORY", tmp_path / "absent")
    monkeypatch.delenv(ex.ENV_DIRECTORY, raising=False)
    assert ex.experimental_directory() is None
    with pytest.warns(UserWarning, match="no directory of real spectra is configured"):
        df, message = ex.evaluation_set()
    assert "ship with installed packages" in message and len(df) == len(ex.package_spectra())
    with pytest.raises(ex.ManifestError, match="no manifest.csv"):
        ex.experimental_directory(tmp_path)


def test_real_manifest_loads_when_present():
    if not (EXPERIMENTAL / "manifest.csv").is_file():
        pytest.skip("../shared/experimental is not present")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df = ex.load_manifest(EXPERIMENTAL)
    assert len(df) >= 90 and df["spectrum_image"].sum() >= 1
    val, test = ex.evaluation_split(df, seed=0)
    assert not set(val["compound_group"]) & set(test["compound_group"])
