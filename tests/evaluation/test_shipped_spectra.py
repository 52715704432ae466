"""The real spectra that ship with the package (eels_helpers/data/real_spectra): manifest, files,
licences and data card agree; they are evaluation data only; a directory replaces or extends
them; small-sample intervals (eels_helpers.evaluation.intervals) and their flags in the tables."""

from __future__ import annotations

import ast
import csv
import glob
import shutil
from pathlib import Path

import numpy as np
import pytest
import tomllib

from eels_helpers.evaluation import intervals as ci
from eels_helpers.evaluation import real_spectra as ex
from eels_helpers.evaluation.metrics import THRESHOLDS, evaluate
from eels_helpers.evaluation.paper_numbers import small_sample_note, table2_experimental, table3
from eels_helpers.physics.elements import families_of

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "eels_helpers"
SHIPPED = ex.SHIPPED_DIRECTORY
#: the manifest format of the project's real spectra (../shared/experimental/manifest.csv)
COLUMNS = ["file", "elements", "energy_offset_eV", "label_trust", "spectrum_image", "compound_group", "source",
           "licence", "notes"]


def _rows():
    with open(SHIPPED / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


# ----------------------------------------------------------------------------- the shipped folder


def test_the_folder_is_in_the_package_and_its_data_is_packaged():
    assert SHIPPED == PACKAGE / "data" / "real_spectra" and SHIPPED.is_dir()
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["eels_helpers"]
    packaged = {Path(p) for pattern in patterns for p in glob.glob(pattern, root_dir=PACKAGE, recursive=True)}
    for path in SHIPPED.iterdir():
        assert path.relative_to(PACKAGE) in packaged, f"{path.name} would not be in the wheel (package-data)"


def test_manifest_matches_the_files_licences_and_data_card():
    rows = _rows()
    with open(SHIPPED / "manifest.csv", newline="") as f:
        assert next(csv.reader(f)) == COLUMNS
    listed = [r["file"] for r in rows]
    present = sorted(p.name for p in SHIPPED.iterdir() if p.name not in ("manifest.csv", "DATA_CARD.md"))
    assert sorted(listed) == present, "every listed file exists and every file is listed"
    assert len(set(listed)) == len(listed) >= 15
    card = (SHIPPED / "DATA_CARD.md").read_text()
    for r in rows:
        licence = r["licence"].split()[0]
        assert licence in ex.SHIPPED_LICENCES, f"{r['file']}: licence {r['licence']!r} is not redistributable here"
        assert "gatan" not in (r["source"] + r["licence"]).lower() and not r["file"].startswith("atlas_")
        assert r["file"] in card, f"DATA_CARD.md does not describe {r['file']}"
        assert r["source"] and r["notes"] and r["label_trust"] in ("high", "medium", "low")
        if licence == "ODbL-1.0":
            assert "EELSDB" in r["licence"] and "contributor" in r["notes"], r["file"]
    assert "ODbL" in card and "evaluation data only" in card.lower()
    total = sum(p.stat().st_size for p in SHIPPED.iterdir())
    assert total < 3e6, f"the shipped spectra take {total / 1e6:.1f} MB (a few MB at most)"


def test_every_shipped_spectrum_reads_and_shows_an_edge_of_each_label():
    from eels_helpers.inference.preprocess import preprocess
    from eels_helpers.inference.spectrum_files import read_spectrum

    df = ex.shipped_spectra()
    assert df["compound_group"].nunique() >= 8 and all(df["labels"].map(len) > 0)
    for rec in df.itertuples():
        s = read_spectrum(rec.path).summed()
        assert preprocess(s, offset_eV=rec.energy_offset_eV).max() == pytest.approx(1.0)
        lo, hi = s.energy_eV[0] - rec.energy_offset_eV, s.energy_eV[-1] - rec.energy_offset_eV
        for symbol in rec.labels:
            onsets = [o for f in families_of(symbol) for o in f.onsets_eV]
            assert any(lo - 5 <= o <= hi for o in onsets), f"{rec.file}: no {symbol} edge in {lo:.0f}-{hi:.0f} eV"


def test_package_spectra_are_the_shipped_exspy_files():
    df = ex.package_spectra()
    assert set(df["file"]) == {"exspy_coreloss_MnO.msa", "exspy_Cr_L_cl.hspy"}
    assert all(Path(p).parent == SHIPPED for p in df["path"])


# ----------------------------------------------------------------------------- evaluation only


def _sources(stage: str):
    for path in sorted((PACKAGE / stage).rglob("*.py")):
        yield path, path.read_text()


@pytest.mark.parametrize("stage", ["physics", "simulation", "datasets", "models", "training"])
def test_no_training_or_simulation_code_reads_the_shipped_spectra(stage):
    forbidden = ("real_spectra\"", "real_spectra'", "real_spectra/", "SHIPPED_DIRECTORY", "shipped_spectra",
                 "package_spectra", "data/real", "combine_manifests")
    for path, text in _sources(stage):
        hits = [word for word in forbidden if word in text]
        assert not hits, f"{path.relative_to(ROOT)} refers to the shipped real spectra ({hits})"


def test_training_evaluates_on_real_spectra_only_from_a_given_directory():
    """Training may score on real spectra (release thresholds), but only from a directory it is
    given: evaluation_set(None) would fall back to the shipped spectra."""
    calls = 0
    for path, text in _sources("training"):
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "evaluation_set":
                calls += 1
                first = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "directory"),
                                                             None)
                assert first is not None and not (isinstance(first, ast.Constant) and first.value is None), (
                    f"{path.relative_to(ROOT)}:{node.lineno}: evaluation_set() without a directory")
    assert calls >= 1


# ----------------------------------------------------------------------------- replace or extend


def _copy(name: str, directory: Path, as_name: str | None = None) -> None:
    shutil.copyfile(SHIPPED / name, directory / (as_name or name))


def test_a_directory_replaces_the_shipped_spectra_or_extends_them_without_duplicates(tmp_path, monkeypatch):
    monkeypatch.delenv(ex.ENV_DIRECTORY, raising=False)
    _copy("exspy_coreloss_MnO.msa", tmp_path)                                     # same name
    _copy("eelsdb_AlN_Al_K_V_Serin_5.msa", tmp_path, "my_AlN.msa")                # same content, new name
    (tmp_path / "manifest.csv").write_text("file,elements,compound_group\nexspy_coreloss_MnO.msa,Mn;O,MnO\n"
                                           "my_AlN.msa,Al,AlN\n")
    shipped = ex.shipped_spectra()
    replaced, message = ex.evaluation_set(tmp_path)
    assert list(replaced["file"]) == ["exspy_coreloss_MnO.msa", "my_AlN.msa"] and str(tmp_path) in message
    assert set(replaced["collection"]) == {str(tmp_path)}
    extended, message = ex.evaluation_set(tmp_path, extend=True)
    assert len(extended) == 2 + len(shipped) - 2 and "2 already in" in message
    assert extended["file"].is_unique and "eelsdb_AlN_Al_K_V_Serin_5.msa" not in set(extended["file"])
    assert list(extended["file"][:2]) == ["exspy_coreloss_MnO.msa", "my_AlN.msa"]      # the user's rows win
    assert (extended["collection"] == "shipped").sum() == len(shipped) - 2
    assert extended["label_trust"].map(type).eq(str).all()                               # missing columns -> ""
    val, test = ex.evaluation_split(extended, seed=0)
    assert not set(val["compound_group"]) & set(test["compound_group"])      # AlN of both sides stays together
    with pytest.raises(ValueError, match="extend must be True or False"):
        ex.evaluation_set(tmp_path, extend="false")
    monkeypatch.setenv(ex.ENV_DIRECTORY, str(tmp_path))
    assert list(ex.evaluation_set()[0]["file"]) == list(replaced["file"])


# ----------------------------------------------------------------------------- small-sample intervals


def test_wilson_interval_known_values_and_errors():
    assert ci.wilson_interval(0, 7) == pytest.approx((0.0, 0.3543), abs=1e-4)
    assert ci.wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert ci.wilson_interval(10, 10)[1] == 1.0 and ci.wilson_interval(10, 10)[0] == pytest.approx(0.7225, abs=1e-4)
    with pytest.raises(ValueError, match="successes <= n"):
        ci.wilson_interval(3, 2)
    with pytest.raises(ValueError, match="level must be in"):
        ci.wilson_interval(1, 2, level=1.0)


def _fake(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.zeros((n, 80), dtype=np.float32)
    y[np.arange(n), rng.integers(3, 80, n)] = 1
    p = np.where(y > 0, rng.uniform(0.3, 1.0, (n, 80)), rng.random((n, 80)) ** 30)   # misses and false alarms
    return y, p


def test_bootstrap_intervals_hold_the_estimate_are_seeded_and_shrink_with_n():
    y, p = _fake(8)
    point = evaluate(y, p, 0.5, exclude_carbon=True)
    small = ci.bootstrap_intervals(y, p, 0.5, seed=3)
    assert set(small) == {"f1", "precision", "recall", "rmse", "emr"}
    for key, (lo, hi) in small.items():
        assert 0.0 <= lo <= getattr(point, key) + 1e-9 and getattr(point, key) - 1e-9 <= hi <= 1.0, key
    assert ci.bootstrap_intervals(y, p, 0.5, seed=3) == small
    y2, p2 = _fake(400)
    large = ci.bootstrap_intervals(y2, p2, 0.5, seed=3)
    assert large["f1"][1] - large["f1"][0] < small["f1"][1] - small["f1"][0]
    assert large["emr"][1] - large["emr"][0] < small["emr"][1] - small["emr"][0]
    with pytest.raises(ValueError, match="n_boot must be an integer >= 100"):
        ci.bootstrap_intervals(y, p, 0.5, n_boot=10)


def test_threshold_range_brackets_the_chosen_threshold():
    from eels_helpers.evaluation.metrics import select_threshold

    y, p = _fake(10, seed=1)
    low, high = ci.threshold_range(y, p, seed=0)
    assert low in THRESHOLDS and high in THRESHOLDS and low <= select_threshold(y, p, exclude_carbon=True) <= high


def test_tables_flag_small_samples_with_size_and_interval():
    small = {"f1": 0.714, "precision": 0.7, "recall": 0.75, "emr": 0.286, "rmse": 0.1, "threshold": 0.3, "n": 7,
             "n_validation": 6, "threshold_range": (0.1, 0.55),
             "intervals": {"f1": (0.45, 0.9), "precision": (0.4, 0.9), "recall": (0.5, 1.0), "emr": (0.08, 0.64),
                           "rmse": (0.08, 0.12)}}
    large = {**small, "n": 50, "n_validation": 40}
    t2 = table2_experimental({"ours": ("unet", small), "big": ("vit", large), "none": ("cnn", None)})
    assert t2.loc["ours", ("F1", "ours")] == "0.71 (n=7, 95 % CI 0.45-0.90)"
    assert t2.loc["ours", ("EMR", "ours")] == "0.29 (n=7, 95 % CI 0.08-0.64)"
    assert t2.loc["ours", ("threshold", "ours")] == "0.30 (chosen on n=6, 95 % range 0.10-0.55)"
    assert t2.loc["big", ("F1", "ours")] == 0.71 and t2.loc["big", ("threshold", "ours")] == 0.3
    t3 = table3({"vit": small})
    assert t3.loc["ViT", ("recall", "ours")] == "0.75 (n=7, 95 % CI 0.50-1.00)"
    plain = {k: v for k, v in small.items() if k in ("f1", "precision", "recall", "emr", "rmse", "threshold")}
    assert table2_experimental({"x": ("unet", plain)}).loc["x", ("F1", "ours")] == 0.71   # no n: as before
    note = small_sample_note({"ours": small, "big": large})
    assert "6 validation / 7 test spectra" in note and "Wilson" in note and "bootstrap" in note
    assert small_sample_note({"big": large}) == ""


def test_extending_the_project_set_adds_only_what_it_lacks():
    experimental = ROOT.parent / "shared" / "experimental"
    if not (experimental / "manifest.csv").is_file():
        pytest.skip("../shared/experimental is not present")
    own = ex.load_manifest(experimental)
    combined, message = ex.evaluation_set(experimental, extend=True)
    added = combined[combined["collection"] == "shipped"]
    assert len(combined) == len(own) + len(added) and combined["file"].is_unique
    assert not set(added["file"]) & set(own["file"]) and f"{len(ex.shipped_spectra()) - len(added)} already in" in message
