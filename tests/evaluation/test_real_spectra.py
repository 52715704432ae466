"""Manifest reading, the grouped split, the shipped spectra as default, evaluate_model() and the
models of Tables 2 and 3 (tables: eels_helpers.evaluation.paper_numbers)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from support import terminal_stderr

from eels_helpers.datasets.occurrence import element_occurrence
from eels_helpers.evaluation import real_spectra as ex
from eels_helpers.physics.elements import ELEMENTS

EXPERIMENTAL = Path(__file__).resolve().parents[3] / "shared" / "experimental"


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
    from eels_helpers.inference.preprocess import preprocess
    from eels_helpers.inference.spectrum_files import read_spectrum

    for rec in df.itertuples():
        s = read_spectrum(rec.path)
        out = preprocess(s, offset_eV=rec.energy_offset_eV)
        assert out.max() == pytest.approx(1.0)
        assert set(rec.labels) <= set(ELEMENTS)
        from eels_helpers.physics.elements import families_of

        onsets = [o for sym in rec.labels for f in families_of(sym) for o in f.onsets_eV]
        lo, hi = s.energy_eV[0] - rec.energy_offset_eV, s.energy_eV[-1] - rec.energy_offset_eV
        assert any(lo <= o <= hi for o in onsets), rec.file  # an edge of a listed element is in the window


def test_evaluation_set_uses_the_shipped_spectra_without_a_directory(monkeypatch, tmp_path):
    monkeypatch.delenv(ex.ENV_DIRECTORY, raising=False)
    assert ex.experimental_directory() is None
    df, message = ex.evaluation_set()
    assert "ship with eels_helpers" in message and len(df) == len(ex.shipped_spectra()) >= 15
    assert set(df["collection"]) == {"shipped"}
    with pytest.raises(ex.ManifestError, match="no manifest.csv"):
        ex.experimental_directory(tmp_path)
    monkeypatch.setenv(ex.ENV_DIRECTORY, str(tmp_path / "absent"))
    with pytest.raises(ex.ManifestError, match=r"\$EELS_ID_EXPERIMENTAL_DIR=.*absent: no manifest.csv"):
        ex.evaluation_set()


def test_real_manifest_loads_when_present():
    if not (EXPERIMENTAL / "manifest.csv").is_file():
        pytest.skip("../shared/experimental is not present")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df = ex.load_manifest(EXPERIMENTAL)
    assert len(df) >= 90 and df["spectrum_image"].sum() >= 1
    val, test = ex.evaluation_split(df, seed=0)
    assert not set(val["compound_group"]) & set(test["compound_group"])


# ----------------------------------------------------------------------------- evaluate_model()


def _step_detector():
    import torch

    fe = ELEMENTS.index("Fe")

    class StepDetector(torch.nn.Module):
        """Fe logit = 200 * (mean 712-730 eV - mean 690-704 eV); all others -10."""

        def forward(self, x):
            logits = torch.full((x.shape[0], 80), -10.0)
            logits[:, fe] = 200.0 * (x[:, 712:730].mean(1) - x[:, 690:704].mean(1))
            return logits

    return StepDetector()


def _fe_csv(path, shift=0.0, jump=0.3):
    e = np.arange(600.0, 900.0, 0.5)
    bg = (e / 600.0) ** -3
    y = 1e4 * bg * (1 + jump / (1 + np.exp(-(e - 708.0 - shift))))
    path.write_text("".join(f"{a},{b:.3f}\n" for a, b in zip(e, y)))


def test_evaluate_scores_a_known_detector_with_carbon_left_out_and_offsets(tmp_path):
    _fe_csv(tmp_path / "fe.csv")
    _fe_csv(tmp_path / "fe_c.csv")  # labelled Fe;C: carbon never predicted, left out
    _fe_csv(tmp_path / "fe_shift.csv", shift=20.0)  # axis 20 eV high, offset in the manifest
    _fe_csv(tmp_path / "none.csv", jump=0.0)
    (tmp_path / "manifest.csv").write_text(
        "file,elements,energy_offset_eV,compound_group\n"
        "fe.csv,Fe,0,a\nfe_c.csv,Fe;C,,b\nfe_shift.csv,Fe,20,c\nnone.csv,O,0,d\n")
    result = ex.evaluate_model(_step_detector(), tmp_path, threshold=0.5, device="cpu")
    table = result.table.set_index("file")
    assert list(table["detected"]) == ["Fe", "Fe", "Fe", ""]
    assert table.loc["fe_c.csv", "exact_match"] and not table.loc["none.csv", "exact_match"]
    m = result.metrics
    # 3 true Fe found, 1 O missed: weighted recall 3/4, precision (Fe 1.0 x 3 + O 0 x 1)/4
    assert m["recall"] == pytest.approx(0.75) and m["precision"] == pytest.approx(0.75)
    assert m["emr"] == pytest.approx(0.75) and m["threshold"] == 0.5
    no_offsets = ex.evaluate_model(_step_detector(), tmp_path, threshold=0.5, use_offsets=False, device="cpu")
    assert no_offsets.table.set_index("file").loc["fe_shift.csv", "detected"] == ""


def test_evaluate_with_threshold_chosen_on_validation(tmp_path):
    for i in range(6):
        _fe_csv(tmp_path / f"fe{i}.csv", jump=0.1 + 0.05 * i)
    (tmp_path / "manifest.csv").write_text(
        "file,elements,compound_group\n" + "".join(f"fe{i}.csv,Fe,g{i}\n" for i in range(6)))
    result = ex.evaluate_model(_step_detector(), tmp_path, threshold="validation", seed=1, device="cpu")
    assert 0.05 <= result.threshold <= 0.95
    assert set(result.table["split"]) == {"validation", "test"} and result.validation_metrics
    assert result.probabilities.shape == (6, 80) and result.labels.shape == (6, 80)


def test_evaluate_spectrum_image_uses_summed_spectrum(tmp_path):
    from rsciio.hspy import file_writer

    e = np.arange(600.0, 900.0, 0.5)
    cube = np.tile(1e3 * (e / 600.0) ** -3, (4, 5, 1)).astype(np.float32)
    cube[0, 0] *= 1 + 3.0 / (1 + np.exp(-(e - 708.0)))  # one bright Fe pixel dominates the sum
    axes = [{"name": n, "size": k, "scale": 1.0, "offset": 0.0, "units": "nm", "navigate": True} for n, k in (("y", 4), ("x", 5))]
    axes.append({"name": "Energy loss", "size": e.size, "scale": 0.5, "offset": 600.0, "units": "eV", "navigate": False})
    file_writer(str(tmp_path / "si.hspy"), {
        "data": cube, "axes": axes, "metadata": {"General": {"title": "si"}, "Signal": {"signal_type": "EELS"}},
        "original_metadata": {}, "tmp_parameters": {}, "attributes": {"_lazy": False}, "learning_results": {},
        "models": {}, "package_info": {"name": "hyperspy", "version": "2.5.0"}}, show_progressbar=False)
    (tmp_path / "manifest.csv").write_text("file,elements,spectrum_image\nsi.hspy,Fe,yes\n")
    result = ex.evaluate_model(_step_detector(), tmp_path, threshold=0.5, device="cpu")
    assert result.table["detected"][0] == "Fe" and result.probabilities.shape == (1, 80)


def test_evaluate_on_the_shipped_spectra_with_a_saved_model(tmp_path, monkeypatch):
    """The default path end to end, through a real model file (tiny, untrained)."""
    import torch

    from eels_helpers.models import create_model
    from eels_helpers.models import model_files as checkpoints

    monkeypatch.delenv(ex.ENV_DIRECTORY, raising=False)
    torch.manual_seed(0)
    path = checkpoints.save_model(tmp_path / "m.pt", create_model("mlp", hidden=[8]), architecture="mlp",
                                  options={"hidden": [8]}, threshold=0.5)
    result = ex.evaluate_model(str(path), device="cpu")
    assert len(result.table) == len(ex.shipped_spectra()) == result.n_test and result.n_validation == 0
    assert set(result.metrics) == {"f1", "precision", "recall", "emr", "rmse", "threshold"}
    assert "ship with eels_helpers" in result.description
    assert set(result.intervals) == {"f1", "precision", "recall", "emr", "rmse"} and result.threshold_range is None
    split = ex.evaluate_model(str(path), device="cpu", threshold="validation")
    assert split.n_test + split.n_validation == len(ex.shipped_spectra()) and split.n_validation > 0
    low, high = split.threshold_range
    assert 0.05 <= low <= high <= 0.95
    assert split.reported()["n"] == split.n_test and split.reported()["intervals"] == split.intervals


# ----------------------------------------------------------------------------- the book chapter


def test_manifest_inputs_give_the_same_predictions_as_reading_the_files(tmp_path, capsys, monkeypatch):
    _fe_csv(tmp_path / "fe.csv")
    _fe_csv(tmp_path / "fe_shift.csv", shift=20.0)
    (tmp_path / "manifest.csv").write_text("file,elements,energy_offset_eV\nfe.csv,Fe,0\nfe_shift.csv,Fe,20\n")
    df = ex.load_manifest(tmp_path)
    inputs = ex.manifest_inputs(df)
    assert inputs.shape == (2, 3072) and inputs.dtype == np.float32
    np.testing.assert_allclose(inputs.max(axis=1), 1.0)
    terminal_stderr(monkeypatch)
    direct = ex.predict_manifest(_step_detector(), df, device="cpu", progress=True)
    assert "reading real spectra" in capsys.readouterr().err   # the progress bar, on stderr
    cached = ex.predict_manifest(_step_detector(), df, inputs=inputs, device="cpu")
    np.testing.assert_allclose(cached, direct, atol=1e-6)
    with pytest.raises(ValueError, match=r"inputs must have shape \(2, 3072\)"):
        ex.predict_manifest(_step_detector(), df, inputs=inputs[:1], device="cpu")
    result = ex.evaluate_model(_step_detector(), manifest=df, threshold=0.5, device="cpu")
    np.testing.assert_array_equal(result.inputs, inputs)
    assert len(result.select("test").table) == 2 and result.select("test").inputs.shape == (2, 3072)


def test_element_occurrence_counts_labelled_files():
    import pandas as pd

    df = pd.DataFrame({"labels": [("O", "Fe"), ("C", "O"), ("Ce",), ()]})
    occ = element_occurrence(ex.label_matrix(df["labels"]))
    assert occ.dtype == np.int64 and occ.sum() == 5
    assert occ[ELEMENTS.index("O")] == 2 and occ[ELEMENTS.index("C")] == 1 and occ[ELEMENTS.index("Ce")] == 1


def test_plot_occurrence_marks_carbon_and_checks_shapes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    occ = np.zeros(80)
    occ[ELEMENTS.index("C")] = 3
    ax = ex.plot_occurrence(occ, 10, simulated=np.ones(80), n_simulated=40)
    carbon = ax.containers[1][ELEMENTS.index("C")]       # the experimental series
    assert carbon.get_hatch() == "///" and carbon.get_height() == pytest.approx(0.3)
    assert ax.containers[0][0].get_height() == pytest.approx(1 / 40)
    assert any("ambiguous" in t.get_text() for t in ax.get_legend().get_texts())
    plt.close("all")
    with pytest.raises(ValueError, match=r"experimental must be \(80,\) counts"):
        ex.plot_occurrence(np.zeros(79), 10)
    with pytest.raises(ValueError, match=r"simulated must be \(80,\) counts"):
        ex.plot_occurrence(occ, 10, simulated=np.ones(80), n_simulated=0)


def test_evaluate_models_and_the_two_tables(tmp_path, capsys, monkeypatch):
    from eels_helpers.evaluation.paper_numbers import MISSING, table2_columns, table3_columns, table3_models
    from eels_helpers.models.model_files import LoadedModel
    from eels_helpers.training.runs import ModelEntry  # what the chapter passes (collect_models)

    for i in range(6):
        _fe_csv(tmp_path / f"fe{i}.csv", jump=0.1 + 0.05 * i)
    (tmp_path / "manifest.csv").write_text(
        "file,elements,compound_group\n" + "".join(f"fe{i}.csv,Fe,g{i}\n" for i in range(6)))
    df = ex.load_manifest(tmp_path)
    detector = LoadedModel(model=_step_detector(), architecture="vit")
    entries = [ModelEntry("missing", "unknown", None, "not shipped"),
               ModelEntry("ours", "vit", detector, "step detector"),
               ModelEntry("both", "ensemble", detector, "step detector", ("vit", "unet"))]
    terminal_stderr(monkeypatch)
    evaluations = ex.evaluate_models(entries, df, seed=1, progress=True)
    assert "evaluating models" in capsys.readouterr().err
    assert list(evaluations) == ["ours", "both"]
    alone = ex.evaluate_model(_step_detector(), manifest=df, threshold="validation", seed=1, device="cpu")
    assert evaluations["ours"].metrics == alone.metrics and evaluations["ours"].threshold == alone.threshold
    t2 = table2_columns(entries, evaluations)
    assert list(t2.index) == ["ours", "both"]
    assert t2.loc["ours", ("F1", "paper")] == 0.84        # 3 test spectra: flagged with n and interval
    assert t2.loc["ours", ("F1", "ours")].startswith(f"{alone.metrics['f1']:.2f} (n={alone.n_test}, 95 % CI ")
    assert t2.loc["both", ("F1", "paper")] == "-"
    t3 = table3_columns(entries, evaluations)
    assert t3.loc["ViT", ("our model", "")] == "ours"
    assert t3.loc["2\u00d7ViT+3\u00d7U-Net", ("our model", "")] == "both (1\u00d7ViT+1\u00d7U-Net)"
    assert t3.loc["U-Net", ("F1", "ours")] == MISSING
    assert table3_models(entries, evaluations) == {"vit": "ours", "ensemble": "both"}


def test_example_row_prefers_the_named_file(tmp_path):
    import pandas as pd

    df = pd.DataFrame({"file": ["si.dm3", "a.msa", "b.msa"], "spectrum_image": [True, False, False]})
    assert ex.example_row(df, "b.msa")["file"] == "b.msa"
    assert ex.example_row(df, "absent.msa")["file"] == "a.msa"     # first single spectrum
    assert ex.example_row(df)["file"] == "a.msa"


def test_real_spectra_occurrence_and_inputs_when_present():
    if not (EXPERIMENTAL / "manifest.csv").is_file():
        pytest.skip("../shared/experimental is not present")
    df = ex.load_manifest(EXPERIMENTAL)
    occ = element_occurrence(ex.label_matrix(df["labels"]))
    assert occ.sum() == sum(len(t) for t in df["labels"]) and occ[ELEMENTS.index("O")] >= 10
    inputs = ex.manifest_inputs(df.iloc[:5])
    assert inputs.shape == (5, 3072) and np.all(inputs[:, :75] == 0)
    np.testing.assert_allclose(inputs.max(axis=1), 1.0)
