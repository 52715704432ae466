"""Model files (checkpoints), predict() and `eels-id predict`.

No trained model ships yet: tests build a tiny network with create_model, save it with
checkpoints.save_model into tmp_path and load it through the real path. Detection logic
is checked with a hand-made "step detector" network whose answer is known.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from support import terminal_stderr, write_msa

from eels_helpers.cli import main as cli_main
from eels_helpers.inference.predict import Prediction, format_prediction, predict
from eels_helpers.models import model_files as checkpoints
from eels_helpers.physics.elements import ELEMENTS, families_of
from eels_helpers.spectrum import Spectrum

EXPERIMENTAL = Path(__file__).resolve().parents[3] / "shared" / "experimental"
FE = ELEMENTS.index("Fe")
FE_L3 = families_of("Fe")[0].onset_of("L3")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from eels_helpers.models import create_model

    torch.manual_seed(0)
    options = {"hidden": [16]}
    model = create_model("mlp", **options).eval()
    path = tmp_path_factory.mktemp("models") / "tiny.pt"
    checkpoints.save_model(path, model, architecture="mlp", options=options, threshold=0.3,
                           metadata={"trained_on": "nothing (test)", "steps": 0})
    return model, path


class StepDetector(torch.nn.Module):
    """Logit for Fe = 200 * (mean over 712-730 eV - mean over 690-704 eV); others -10."""

    def forward(self, x):
        logits = torch.full((x.shape[0], 80), -10.0)
        logits[:, FE] = 200.0 * (x[:, 712:730].mean(1) - x[:, 690:704].mean(1))
        return logits


def _fe_spectrum(energy, jump=0.3):
    bg = (energy / 600.0) ** -3
    return bg * (1 + jump / (1 + np.exp(-(energy - FE_L3) / 1.0)))


# ----------------------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip_gives_identical_outputs(tiny):
    model, path = tiny
    loaded = checkpoints.load_model(path)
    assert loaded.architecture == "mlp" and loaded.threshold == 0.3 and loaded.outputs == "logits"
    assert loaded.metadata["steps"] == 0 and not loaded.model.training
    x = torch.rand(4, 3072)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x), model(x))
    raw = torch.load(path, weights_only=True)
    assert raw["elements"] == list(ELEMENTS) and raw["format"] == checkpoints.FORMAT


def test_ensemble_file_averages_member_probabilities(tiny, tmp_path):
    from eels_helpers.models import create_model

    model, path = tiny
    torch.manual_seed(1)
    other = create_model("mlp", hidden=[16]).eval()
    p2 = checkpoints.save_model(tmp_path / "b.pt", other, architecture="mlp", options={"hidden": [16]})
    ens_path = checkpoints.save_ensemble(tmp_path / "ens.pt", [path, p2], threshold=0.75)
    ens = checkpoints.load_model(ens_path)
    assert ens.architecture == "ensemble" and ens.outputs == "logits" and ens.threshold == 0.75
    x = torch.rand(3, 3072)
    with torch.no_grad():
        expected = (torch.sigmoid(model(x)) + torch.sigmoid(other(x))) / 2
        torch.testing.assert_close(torch.sigmoid(ens.model(x)), expected)


def test_missing_models_explain_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "MODELS_DIR", tmp_path / "none")
    with pytest.raises(checkpoints.ModelNotFoundError, match=r"'default'.*none ships.*eels-id train"):
        checkpoints.load_model("default")
    with pytest.raises(checkpoints.ModelNotFoundError, match="does not exist"):
        checkpoints.load_model(tmp_path / "absent.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt is not a PyTorch checkpoint"):
        checkpoints.load_model(tmp_path / "junk.pt")
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an eels_helpers checkpoint"):
        checkpoints.load_model(tmp_path / "other.pt")


def test_shipped_name_resolves_from_models_dir(tiny, tmp_path, monkeypatch):
    _, path = tiny
    (tmp_path / "default.pt").write_bytes(path.read_bytes())
    monkeypatch.setattr(checkpoints, "MODELS_DIR", tmp_path)
    assert checkpoints.shipped_models() == ["default"]
    assert checkpoints.load_model("default").architecture == "mlp"


def test_save_rejects_bad_threshold_and_metadata(tiny, tmp_path):
    model, _ = tiny
    with pytest.raises(ValueError, match=r"threshold.*\(0, 1\)"):
        checkpoints.save_model(tmp_path / "x.pt", model, architecture="mlp", threshold=1.5)
    with pytest.raises(TypeError, match="metadata must hold plain JSON"):
        checkpoints.save_model(tmp_path / "x.pt", model, architecture="mlp", metadata={"a": object()})


# ----------------------------------------------------------------------------- predict()


def test_predict_detects_a_known_step_in_a_spectrum():
    energy = 600.0 + 0.25 * np.arange(1200)
    with_fe = _fe_spectrum(energy)
    without = _fe_spectrum(energy, jump=0.0)
    res = predict([with_fe, without], StepDetector(), threshold=0.5, energy_eV=energy, device="cpu")
    assert res[0].detected == ("Fe",) and res[1].detected == ()
    assert res[0].probabilities.shape == (80,) and res[0].probabilities[FE] > 0.99
    # an energy offset of 30 eV moves the step out of the detector's window
    shifted = predict(with_fe, StepDetector(), threshold=0.5, energy_eV=energy, offset_eV=-30.0, device="cpu")
    assert shifted[0].detected == ()


@pytest.mark.parametrize("n_fe, expected", [(5, ("Fe",)), (1, ())])
def test_spectrum_image_uses_the_one_percent_presence_rule(n_fe, expected):
    energy = 600.0 + 0.5 * np.arange(600)
    cube = np.tile(_fe_spectrum(energy, jump=0.0), (10, 20, 1))  # 200 pixels
    cube.reshape(-1, energy.size)[:n_fe] = _fe_spectrum(energy)  # 2.5 % or 0.5 % of pixels
    (res,) = predict(Spectrum(cube, energy), StepDetector(), threshold=0.5, batch_size=7, device="cpu")
    assert res.probabilities.shape == (10, 20, 80) and res.is_spectrum_image
    assert res.detected == expected
    assert res.pixel_fraction["Fe"] == pytest.approx(n_fe / 200)
    d = res.to_dict()
    assert np.asarray(d["probabilities"]["Fe"]).shape == (10, 20)


def test_predict_batches_and_bfloat16_agree(tiny):
    _, path = tiny
    x = np.random.default_rng(0).random((2, 3, 3072)).astype(np.float32)
    (a,) = predict(x, path, device="cpu", batch_size=6)
    (b,) = predict(x, path, device="cpu", batch_size=1)
    np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-6)
    from eels_helpers.device import bfloat16_fault

    if bfloat16_fault("cpu") is not None:                # this CPU's bfloat16 convolutions are wrong: refused
        with pytest.raises(ValueError, match="bfloat16 convolutions give wrong numbers"):
            predict(x, path, device="cpu", bfloat16=True)
    else:
        (c,) = predict(x, path, device="cpu", bfloat16=True)
        np.testing.assert_allclose(a.probabilities, c.probabilities, atol=0.05)
    assert a.threshold == 0.3  # the model file's threshold by default


def test_predict_argument_errors(tiny):
    _, path = tiny
    with pytest.raises(ValueError, match="threshold"):
        predict(np.ones(3072), path, threshold=1.0, device="cpu")
    with pytest.raises(ValueError, match="3072 channels"):
        predict(np.ones(100), path, device="cpu")
    with pytest.raises(ValueError, match="2 offsets for 1 inputs"):
        predict(np.ones(3072), path, offset_eV=[0, 1], device="cpu")


def test_format_prediction():
    probs = np.zeros(80, np.float32)
    probs[FE], probs[ELEMENTS.index("O")] = 0.9, 0.6
    text = format_prediction(Prediction("a/b.msa", probs, 0.5, ("Fe", "O")))
    assert text.startswith("b.msa: Fe (0.90), O (0.60)")
    probs[:] = 0.1
    empty = format_prediction(Prediction("a/c.msa", probs, 0.3, ()))
    assert empty.startswith("c.msa: no identifiable edge (no element above the threshold 0.30)")


def test_a_probability_just_below_the_threshold_is_not_rounded_onto_it():
    """Co3O4 with --offset 6.5 printed "[next: Ba 0.70 ...]" at the threshold 0.70, for p = 0.699."""
    probs = np.zeros(80, np.float32)
    probs[FE], probs[ELEMENTS.index("Ba")], probs[ELEMENTS.index("O")] = 0.99, 0.699, 0.6995
    text = format_prediction(Prediction("a/b.msa", probs, 0.7, ("Fe",)))
    assert "Ba 0.699" in text and "O 0.6995" in text
    probs[ELEMENTS.index("Ba")] = 0.65
    assert "Ba 0.65," in format_prediction(Prediction("a/b.msa", probs, 0.7, ("Fe",)))


def test_the_next_most_probable_say_why_an_element_above_the_threshold_was_set_aside():
    """An element above the threshold that the twin resolver dropped, or that was withheld (Tc, Pm),
    appears among the next most probable ones with a note, not as a bare higher probability."""
    from eels_helpers.inference.twin_resolution import TwinDecision

    probs = np.zeros(80, np.float32)
    for s, v in (("N", 0.83), ("Sc", 0.98), ("Pm", 0.9), ("B", 0.2)):
        probs[ELEMENTS.index(s)] = v
    pred = Prediction("a/bn.msa", probs, 0.7, ("N",), twins=(TwinDecision(("N", "Sc"), "N", "Sc", 0.8),),
                      withheld={"Pm": 0.9})
    head = format_prediction(pred).split("\n")[0]
    assert head.startswith("bn.msa: N (0.83)   [next: Sc 0.98 (dropped by the twin resolver), "
                           "Pm 0.90 (withheld: no stable isotope), B 0.20")


# ----------------------------------------------------------------------------- CLI


def test_cli_json_plot_and_errors(tiny, tmp_path, capsys):
    _, path = tiny
    energy = 600.0 + 0.25 * np.arange(1200)
    write_msa(tmp_path / "fe.msa", energy, _fe_spectrum(energy) * 1e4)
    rc = cli_main(["predict", str(tmp_path / "fe.msa"), "--model", str(path), "--json",
                   "--plot", str(tmp_path / "out.png"), "--offset", "2"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    (result,) = out["results"]
    assert list(result["probabilities"]) == list(ELEMENTS)
    assert result["offset_eV"] == 2.0 and out["threshold"] == 0.3
    assert (tmp_path / "out.png").stat().st_size > 10_000

    rc = cli_main(["predict", str(tmp_path / "fe.msa"), str(tmp_path / "absent.msa"), "--model", str(path),
                   "--threshold", "0.9"])
    captured = capsys.readouterr()
    assert rc == 1 and "fe.msa:" in captured.out and "absent.msa: no such file" in captured.err

    rc = cli_main(["predict", str(tmp_path / "fe.msa"), "--model", str(tmp_path / "nope.pt")])
    assert rc == 2 and "does not exist" in capsys.readouterr().err


def test_cli_column_chooses_the_counts_of_a_text_file(tiny, tmp_path, capsys):
    """``--column``: by header name or number; without it the column named "Counts", not the one after
    the energy; column 1 (all zero) is refused as carrying no signal; a wrong name lists the columns;
    a file read by its own format ignores it with a warning."""
    _, path = tiny
    energy = 600.0 + 0.25 * np.arange(1200)
    counts = _fe_spectrum(energy) * 1e4
    (tmp_path / "fe.csv").write_text("Energy (eV),Empty,Counts\n"
                                     + "".join(f"{x},0,{c}\n" for x, c in zip(energy, counts)))
    write_msa(tmp_path / "fe.msa", energy, counts)
    assert cli_main(["predict", str(tmp_path / "fe.msa"), "--model", str(path), "--json"]) == 0
    expected = json.loads(capsys.readouterr().out)["results"][0]["probabilities"]
    for column in ((), ("--column", "counts"), ("--column", "2")):
        assert cli_main(["predict", str(tmp_path / "fe.csv"), "--model", str(path), "--json", *column]) == 0
        got = json.loads(capsys.readouterr().out)["results"][0]["probabilities"]
        assert got == pytest.approx(expected, abs=1e-6)
    assert cli_main(["predict", str(tmp_path / "fe.csv"), "--model", str(path), "--column", "Empty"]) == 1
    assert "fe.csv" in capsys.readouterr().err
    assert cli_main(["predict", str(tmp_path / "fe.csv"), "--model", str(path), "--column", "Signal"]) == 1
    assert "no column named 'Signal'; its columns are 'Energy (eV)', 'Empty', 'Counts'" in capsys.readouterr().err
    assert cli_main(["predict", str(tmp_path / "fe.msa"), "--model", str(path), "--column", "1"]) == 0
    assert "fe.msa: column='1' ignored: the file is read by its own format" in capsys.readouterr().err


def test_cli_result_lines_are_not_glued_to_the_progress_bar(tiny, tmp_path, capsys, monkeypatch):
    """Several files on one terminal (stdout and stderr together): the progress bar is cleared before
    each result line, so every line that reports a file starts with its name (after the bar's
    carriage returns), never behind the bar's text."""
    import sys

    _, path = tiny
    energy = 600.0 + 0.25 * np.arange(1200)
    for name in ("a.msa", "b.msa", "c.msa"):
        write_msa(tmp_path / name, energy, _fe_spectrum(energy) * 1e4)
    monkeypatch.setattr(sys, "stderr", sys.stdout)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)       # a terminal: the bar is drawn
    rc = cli_main(["predict", *(str(tmp_path / n) for n in ("a.msa", "b.msa", "c.msa")), "--model", str(path)])
    text = capsys.readouterr().out
    assert rc == 0 and "predict:" in text                          # the bar was drawn
    reported = [line.split("\r")[-1] for line in text.split("\n") if ".msa:" in line]
    assert len(reported) == 3 and all(line.split(":")[0] in ("a.msa", "b.msa", "c.msa") for line in reported)


def test_cli_on_real_spectrum_image(tiny, capsys):
    path = EXPERIMENTAL / "lensmind_FeOx_SI.dm3"
    if not path.is_file():
        pytest.skip("../shared/experimental is not present")
    rc = cli_main(["predict", str(path), "--model", str(tiny[1]), "--json", "--offset", "-8"])
    assert rc == 0
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert result["navigation_shape"] == [17, 19]
    assert np.asarray(result["probabilities"]["Fe"]).shape == (17, 19)
    assert set(result["pixel_fraction"]) == set(ELEMENTS)


def test_plain_layout_files_are_read(tiny, tmp_path):
    model, _ = tiny
    torch.save({"model": "mlp", "options": {"hidden": [16]}, "state_dict": model.state_dict(),
                "metadata": {"threshold": 0.45, "epochs": 1}}, tmp_path / "m.pt")
    loaded = checkpoints.load_model(tmp_path / "m.pt")
    assert loaded.architecture == "mlp" and loaded.threshold == 0.45 and loaded.metadata["epochs"] == 1
    x = torch.rand(2, 3072)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x), model(x))


def test_int8_quantises_only_transformer_linear_layers():
    from eels_helpers.inference.predict import int8_linear_copy, run_model
    from eels_helpers.models import Ensemble, create_model
    from eels_helpers.models.model_files import LoadedModel

    torch.manual_seed(0)
    vit = create_model("vit", config="cpu", depth=1).eval()
    ens = Ensemble([vit, create_model("mlp", hidden=[16]).eval()]).eval()
    q = int8_linear_copy(ens)
    quantised = [name for name, m in q.named_modules() if "quantized" in type(m).__module__]
    assert quantised and all(".transformer." in name for name in quantised)
    assert not any("quantized" in type(m).__module__ for m in ens.modules())      # the original is untouched
    x = np.random.default_rng(3).random((24, 3072), dtype=np.float32)
    loaded = LoadedModel(model=ens, architecture="ensemble")
    assert np.abs(run_model(loaded, x, int8=True) - run_model(loaded, x)).max() < 0.05
    with pytest.raises(ValueError, match="int8 inference is for the CPU"):
        run_model(loaded, x, int8=True, device="cuda")


@pytest.mark.parametrize("architecture", ["unet", "cnn", "resnet", "vit", "cct", "mlp"])
def test_frozen_copy_gives_the_eager_outputs_for_any_batch(architecture, monkeypatch):
    """Spectrum images run a traced, frozen TorchScript copy (BatchNorm folded): the same
    probabilities as the eager network, for every architecture and batch size."""
    from eels_helpers.inference import predict as pr
    from eels_helpers.models import Ensemble, create_model
    from eels_helpers.models.model_files import LoadedModel

    torch.manual_seed(0)
    options = {"mlp": {"hidden": [16]}, "vit": {"depth": 1}, "cct": {"depth": 1}}.get(architecture, {})
    net = create_model(architecture, config="cpu", **options).eval()
    for module in net.modules():            # non-trivial BatchNorm statistics to fold
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    frozen = pr.frozen_copy(net)
    assert isinstance(frozen, torch.jit.ScriptModule)
    x = torch.from_numpy(np.random.default_rng(4).random((9, 3072), dtype=np.float32))
    with torch.inference_mode():
        for k in (1, 2, 9):
            # (float32 sums in another order: ~1e-5 on the shipped networks, up to ~1e-3 in the
            # logits of an untrained 35-layer ResNet)
            torch.testing.assert_close(torch.sigmoid(frozen(x[:k])), torch.sigmoid(net(x[:k])), rtol=0, atol=2e-3)
    # run_model switches to it from FROZEN_MIN_SPECTRA spectra on (here 4), also for an ensemble
    monkeypatch.setattr(pr, "FROZEN_MIN_SPECTRA", 4)
    loaded = LoadedModel(model=Ensemble([net, create_model("mlp", hidden=[8]).eval()]).eval(), architecture="ensemble")
    eager = pr.run_model(loaded, x.numpy()[:3], batch_size=2)
    assert np.abs(pr.run_model(loaded, x.numpy(), batch_size=2)[:3] - eager).max() < 1e-4


def test_frozen_copy_falls_back_to_the_module_when_tracing_fails():
    from eels_helpers.inference.predict import frozen_copy

    class Branchy(torch.nn.Module):
        def forward(self, x):
            return {"not": "a tensor"}

    module = Branchy()
    assert frozen_copy(module) is module


def test_shipped_models_predict_out_of_the_box(capsys):
    """`eels-id predict` works after installation: default and the ensembles ship with the package,
    with their card, on the real Mn/O core-loss spectrum that ships with exspy."""
    from eels_helpers.evaluation.real_spectra import package_spectra

    assert {"default", "ensemble", "ensemble-paper"} <= set(checkpoints.shipped_models())
    assert (checkpoints.MODELS_DIR / "MODELS.md").is_file()
    # the paper's ensemble layout ships too: 2 ViT + 3 U-Net
    assert sorted(checkpoints.load_model("ensemble-paper").options["members"]) == ["unet"] * 3 + ["vit"] * 2
    for name in ("default", "ensemble", "ensemble-paper"):
        loaded = checkpoints.load_model(name)
        members = len(getattr(loaded.model, "members", [loaded.model]))
        files = checkpoints.model_files(name)          # the model's file and the network files it uses
        assert len(files) == 1 + len(set(files[1:])) and all(f.is_file() for f in files)
        size = sum(f.stat().st_size for f in files)
        assert size <= 10e6 * members, f"{name}: {size / 1e6:.1f} MB > 10 MB per network"
        assert 0 < loaded.threshold < 1 and loaded.metadata["runs"]
    for path in (checkpoints.MODELS_DIR / "networks").glob("*.pt"):     # one file per network
        assert path.stat().st_size <= 10e6, f"{path.name}: {path.stat().st_size / 1e6:.1f} MB > 10 MB per network"
    files = package_spectra()
    if files.empty:
        pytest.skip("exspy's real spectra are not installed")
    assert cli_main(["predict", str(files["path"].iloc[0]), "--model", "ensemble", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"].endswith("ensemble.pt")
    probabilities = out["results"][0]["probabilities"]
    assert set(probabilities) == set(ELEMENTS)
    assert all(0.0 <= p <= 1.0 for p in probabilities.values())


def test_int8_without_transformer_layers_warns_and_runs_the_float32_path(monkeypatch, caplog):
    """A U-Net has nothing for int8 to quantise: one warning says so, and the spectrum image still
    runs the frozen float32 copy (it had silently lost it)."""
    from eels_helpers.inference import predict as pr
    from eels_helpers.models import create_model
    from eels_helpers.models.model_files import LoadedModel

    torch.manual_seed(0)
    loaded = LoadedModel(model=create_model("mlp", hidden=[16]).eval(), architecture="mlp")
    frozen = []
    monkeypatch.setattr(pr, "FROZEN_MIN_SPECTRA", 8)
    monkeypatch.setattr(pr, "frozen_copy", lambda m, n: frozen.append(n) or m)
    x = np.random.default_rng(4).random((12, 3072), dtype=np.float32)
    with caplog.at_level("WARNING", logger="eels_helpers.inference.predict"):
        got = pr.run_model(loaded, x, int8=True)
    assert frozen == [3072]
    assert [r.getMessage() for r in caplog.records if "int8" in r.getMessage()] == [
        "int8: MLP has no transformer Linear layers to quantise (only the ViT and CCT, alone or in an ensemble, "
        "have them); it runs in float32"]
    np.testing.assert_array_equal(got, pr.run_model(loaded, x))


def test_predict_int8_quantises_once_for_all_files(tiny, monkeypatch):
    import eels_helpers.inference.predict as pr

    _, path = tiny
    calls = []
    real = pr.int8_linear_copy
    monkeypatch.setattr(pr, "int8_linear_copy", lambda m: calls.append(1) or real(m))
    x = np.random.default_rng(0).random((3, 3072), dtype=np.float32)
    preds = predict([x[0], x[1], x[2]], path, int8=True, device="cpu")
    assert len(preds) == 3 and len(calls) == 1
    with pytest.raises(ValueError, match="int8 inference is for the CPU"):
        predict(x[0], path, int8=True, device="cuda")


def test_model_option_help_lists_the_installed_models(monkeypatch, capsys):
    import eels_helpers

    monkeypatch.setattr(eels_helpers, "shipped_model_names", lambda: ["default", "ensemble", "ensemble-paper"])
    for command in ("predict", "map"):
        with pytest.raises(SystemExit):
            cli_main([command, "--help"])
        assert "(default, ensemble, ensemble-paper)" in " ".join(capsys.readouterr().out.split())


# ----------------------------------------------------------------- decisions users can trust
class _SaysBa(torch.nn.Module):
    """A network that names Ba whatever it sees (as the closed-world networks do on power laws)."""

    def forward(self, x):
        out = torch.full((x.shape[0], 80), -20.0)
        out[:, ELEMENTS.index("Ba")] = 20.0
        return out


@pytest.mark.parametrize("counts, what", [(0.0, "zero"), (-3.0, "negative"), (50.0, "constant")])
def test_a_spectrum_without_signal_is_an_error_naming_it_not_an_element(counts, what):
    from eels_helpers.inference.spectrum_files import SpectrumFileError
    from eels_helpers.spectrum import Spectrum

    energy = np.arange(200.0, 900.0, 0.5)
    blank = Spectrum(np.full(energy.size, counts, np.float32), energy, {"title": f"{what} spectrum"})
    with pytest.raises(SpectrumFileError, match=f"{what} spectrum: no signal"):
        predict(blank, _SaysBa(), threshold=0.5, device="cpu")


def test_empty_pixels_of_a_spectrum_image_name_no_element():
    from eels_helpers.spectrum import Spectrum

    energy = np.arange(200.0, 900.0, 0.5)
    image = np.zeros((2, 3, energy.size), np.float32)
    image[0, :] = 1e4 * (energy / 200.0) ** -3.0 + np.where(energy >= 532.0, 100.0, 0.0)   # specimen: an edge
    [pred] = predict(Spectrum(image, energy), _SaysBa(), threshold=0.5, device="cpu")
    ba = pred.probabilities[..., ELEMENTS.index("Ba")]
    assert np.all(ba[0] > 0.5) and np.all(ba[1] == 0.0)
    assert pred.pixel_fraction["Ba"] == 0.5


def test_a_window_without_edge_family_says_so_instead_of_naming_an_element(capsys):
    from eels_helpers.physics.elements import families_in_window
    from eels_helpers.spectrum import Spectrum

    energy = np.arange(2880.0, 2960.0, 0.1)                 # between the families' major onsets
    assert families_in_window(energy[0], energy[-1]) == ()
    spectrum = Spectrum((1e5 * (energy / 2880.0) ** -3.0).astype(np.float32), energy, {"title": "narrow"})
    [pred] = predict(spectrum, _SaysBa(), threshold=0.5, device="cpu")
    assert pred.detected == () and "no onset of the 107 edge families" in pred.note
    assert format_prediction(pred).startswith("narrow: no element: the window 2880-2960 eV")
    assert pred.to_dict()["note"] == pred.note
    edge = np.where(energy >= 2920.0, 1e3, 0.0)                           # a step: not a bare smooth background
    wide = Spectrum((1e5 * (energy / 2880.0) ** -3.0 + edge).astype(np.float32), energy - 400.0)
    assert predict(wide, _SaysBa(), threshold=0.5, device="cpu")[0].detected == ("Ba",)


def test_a_window_narrower_than_any_training_spectrum_gets_a_note(tiny, tmp_path, capsys):
    from eels_helpers.inference.prediction_text import training_window_margins_eV
    from eels_helpers.simulation.named_configs import NAMED_CONFIGS, named_config

    before, after = training_window_margins_eV()
    assert all(named_config(n).margin_before_eV + named_config(n).margin_after_eV == before + after
               for n in NAMED_CONFIGS)
    _, path = tiny
    energy = 395.0 + 3.0 * np.arange(5)                       # 12 eV
    write_msa(tmp_path / "five.msa", energy, np.array([1000.0, 990, 2500, 2400, 2300]))
    assert cli_main(["predict", str(tmp_path / "five.msa"), "--model", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"covers only 12 eV of the networks' window (395-407 eV), narrower than any training spectrum " \
           f"({before + after:.0f} eV" in out
    wide = 395.0 + np.arange(200.0)
    write_msa(tmp_path / "wide.msa", wide, 1e4 * (wide / 395.0) ** -3)
    assert cli_main(["predict", str(tmp_path / "wide.msa"), "--model", str(path)]) == 0
    assert "covers only" not in capsys.readouterr().out


def test_the_cli_fails_on_an_empty_file_with_one_line(tmp_path, capsys):
    energy = np.arange(300.0, 800.0, 1.0)
    write_msa(tmp_path / "empty.msa", energy, np.zeros(energy.size))
    assert cli_main(["predict", str(tmp_path / "empty.msa")]) == 1
    err = capsys.readouterr().err
    assert "empty.msa: no signal" in err and "Traceback" not in err


# ----------------------------------------------------------------- inputs the command line refuses or flags


@pytest.mark.parametrize("offset", ["nan", "inf", "-inf"])
def test_cli_offset_must_be_finite(tmp_path, capsys, offset):
    energy = 600.0 + 0.25 * np.arange(1200)
    write_msa(tmp_path / "fe.msa", energy, _fe_spectrum(energy) * 1e4)
    with pytest.raises(SystemExit) as err:
        cli_main(["predict", str(tmp_path / "fe.msa"), f"--offset={offset}"])
    assert err.value.code == 2 and f"--offset: must be a finite number, got '{offset}'" in capsys.readouterr().err


def test_cli_plot_path_is_checked_before_the_prediction_and_the_written_path_printed(tiny, tmp_path, capsys):
    _, path = tiny
    absent = str(tmp_path / "absent.msa")               # were the prediction run, it would say "no such file"
    (tmp_path / "adir").mkdir()
    for plot, why in ((tmp_path / "adir", "is a directory"), (tmp_path / "p.xyz", "cannot write '.xyz' figures")):
        assert cli_main(["predict", absent, "--model", str(path), "--plot", str(plot)]) == 2
        err = capsys.readouterr().err
        assert f"--plot {plot}" in err and why in err and ".png, .ps, .raw" in err and "no such file" not in err
    energy = 600.0 + 0.25 * np.arange(1200)
    write_msa(tmp_path / "fe.msa", energy, _fe_spectrum(energy) * 1e4)
    assert cli_main(["predict", str(tmp_path / "fe.msa"), "--model", str(path), "--plot", str(tmp_path / "noext")]) == 0
    assert f"plot saved to {tmp_path / 'noext.png'}" in capsys.readouterr().out
    assert cli_main(["predict", str(tmp_path / "fe.msa"), "--model", str(path), "--plot", str(tmp_path / "q.png"),
                     "-q"]) == 0      # --quiet: the prediction, not the informational line
    out = capsys.readouterr().out
    assert "fe.msa:" in out and "plot saved" not in out and (tmp_path / "q.png").is_file()
    assert (tmp_path / "noext.png").stat().st_size > 10_000 and not (tmp_path / "noext").exists()


def test_cli_notes_mostly_negative_counts(tiny, tmp_path, capsys):
    """A background- or mean-subtracted spectrum is not what the networks read: a note says so."""
    _, path = tiny
    energy = 600.0 + 0.25 * np.arange(1200)
    counts = _fe_spectrum(energy) * 1e4
    write_msa(tmp_path / "sub.msa", energy, counts - np.percentile(counts, 70))     # 70 % negative
    write_msa(tmp_path / "raw.msa", energy, counts)
    assert cli_main(["predict", str(tmp_path / "sub.msa"), str(tmp_path / "raw.msa"), "--model", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    notes = [line for line in lines if "are negative" in line]
    assert len(notes) == 1 and notes[0].startswith("   note: ") and "mean-subtracted" in notes[0]
    assert lines.index(notes[0]) > next(i for i, line in enumerate(lines) if line.startswith("sub.msa:"))
    assert cli_main(["predict", str(tmp_path / "sub.msa"), str(tmp_path / "raw.msa"), "--model", str(path),
                     "--json"]) == 0
    sub, raw = json.loads(capsys.readouterr().out)["results"]
    assert "are negative" in sub["input_notes"][0] and "input_notes" not in raw


def test_cli_json_stays_json_for_a_malformed_emsa_header(tiny, tmp_path, capsys):
    _, path = tiny
    energy = 600.0 + 0.25 * np.arange(1200)
    write_msa(tmp_path / "fe.msa", energy, _fe_spectrum(energy) * 1e4)
    text = (tmp_path / "fe.msa").read_text().splitlines()
    (tmp_path / "bad.msa").write_text("\n".join("#XPERCHAN    : abc" if t.startswith("#XPERCHAN") else t
                                                for t in text) + "\n")
    rc = cli_main(["predict", str(tmp_path / "bad.msa"), str(tmp_path / "fe.msa"), "--model", str(path), "--json"])
    captured = capsys.readouterr()
    bad, good = json.loads(captured.out)["results"]
    assert rc == 1 and bad["file"] == str(tmp_path / "bad.msa") and good["file"].endswith("fe.msa")
    assert "bad.msa: EMSA keyword XPERCHAN 'abc' is not a number" in captured.err
    assert "Traceback" not in captured.err


def test_cli_json_has_an_entry_for_each_file_in_order_failed_ones_with_their_error(tiny, tmp_path, capsys):
    """A script reading --json can tell which input failed: {"file", "error"} in its place."""
    _, path = tiny
    energy = 600.0 + 0.25 * np.arange(1200)
    write_msa(tmp_path / "good.msa", energy, _fe_spectrum(energy) * 1e4)
    (tmp_path / "bad.msa").write_text("not a spectrum\n")
    files = [tmp_path / "good.msa", tmp_path / "bad.msa", tmp_path / "absent.msa", tmp_path / "good.msa"]
    rc = cli_main(["predict", *map(str, files), "--model", str(path), "--json", "--quiet"])
    captured = capsys.readouterr()
    results = json.loads(captured.out)["results"]
    assert rc == 1 and len(results) == 4
    good, bad, absent, again = results
    assert good == again and good["file"].endswith("good.msa") and "error" not in good
    assert set(good) >= {"file", "detected", "probabilities", "threshold"}
    assert bad == {"file": str(tmp_path / "bad.msa"), "error": bad["error"]} and "bad.msa:" in bad["error"]
    assert absent == {"file": str(tmp_path / "absent.msa"), "error": f"{tmp_path / 'absent.msa'}: no such file"}
    assert f"eels-id predict: error: {bad['error']}" in captured.err


def test_predict_reads_a_200000_channel_csv_in_modest_memory(tmp_path):
    """The structure test once held a (channels x channels / 32) matrix: 2.7 GB for 100,000 channels."""
    import tracemalloc

    energy = np.linspace(100.0, 3000.0, 200_000)
    counts = 1e6 * (energy / 100.0) ** -3.0 + np.where(energy >= 532.0, 50.0, 0.0)
    np.savetxt(tmp_path / "long.csv", np.column_stack([energy, counts]), delimiter=",", fmt="%.6f")
    tracemalloc.start()
    try:
        (pred,) = predict(tmp_path / "long.csv", _SaysBa(), threshold=0.5, device="cpu")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert pred.spectrum.n_channels == 200_000 and peak < 1e9


def test_predict_shows_the_preprocessing_progress_of_a_large_image(tiny, monkeypatch, capsys):
    """A spectrum image of more than one pre-processing block gets a bar over those blocks too."""
    from eels_helpers.inference import preprocess as pre

    monkeypatch.setattr(pre, "CHUNK", 8)
    terminal_stderr(monkeypatch)
    energy = 300.0 + np.arange(400.0)
    counts = np.random.default_rng(1).poisson(1e3 * (energy / 300.0) ** -3, size=(4, 5, energy.size))
    predict(counts.astype(np.float32), tiny[1], energy_eV=energy, progress=True, device="cpu")
    assert "pre-processing" in capsys.readouterr().err
