"""Checkpoint storage: float16 weights halve the file and load back as float32 networks."""

import numpy as np
import pytest
import torch

from eels_helpers.models import create_model, predict_proba
from eels_helpers.models import model_files as checkpoints


def _net():
    torch.manual_seed(0)
    return create_model("mlp", hidden=[64], dropout=0.0).eval()


def test_float16_weights_halve_the_file_and_keep_the_probabilities(tmp_path):
    net = _net()
    full = checkpoints.save_model(tmp_path / "full.pt", net, architecture="mlp",
                                  options={"hidden": [64], "dropout": 0.0})
    half = checkpoints.save_model(tmp_path / "half.pt", net, architecture="mlp",
                                  options={"hidden": [64], "dropout": 0.0}, weights="float16")
    assert half.stat().st_size < 0.6 * full.stat().st_size
    loaded = checkpoints.load_model(half)
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())
    x = np.random.default_rng(1).random((16, 3072), dtype=np.float32)
    np.testing.assert_allclose(predict_proba(loaded.model, x), predict_proba(net, x), atol=1e-3)


def test_float16_ensemble_members(tmp_path):
    a = checkpoints.save_model(tmp_path / "a.pt", _net(), architecture="mlp", options={"hidden": [64], "dropout": 0.0})
    ens = checkpoints.save_ensemble(tmp_path / "e.pt", [a, a], weights="float16", threshold=0.6)
    loaded = checkpoints.load_model(ens)
    assert loaded.architecture == "ensemble" and loaded.threshold == 0.6
    assert len(loaded.model.members) == 2


def test_ensemble_members_in_their_own_files(tmp_path):
    a = checkpoints.save_model(tmp_path / "a.pt", _net(), architecture="mlp", options={"hidden": [64], "dropout": 0.0})
    inline = checkpoints.load_model(checkpoints.save_ensemble(tmp_path / "inline.pt", [a, a]))
    ens = checkpoints.save_ensemble(tmp_path / "e.pt", [a, a], member_files=["nets/a.pt", "nets/a.pt"])
    assert (tmp_path / "nets" / "a.pt").is_file() and not list(tmp_path.glob("nets/*.tmp"))
    assert ens.stat().st_size < 0.1 * a.stat().st_size          # the weights are not in the ensemble's file
    loaded = checkpoints.load_model(ens)
    x = np.random.default_rng(2).random((8, 3072), dtype=np.float32)
    np.testing.assert_allclose(predict_proba(loaded.model, x), predict_proba(inline.model, x), atol=1e-6)
    # each member's file in the members' order (a shared file listed per member), the model's files once each
    assert checkpoints.member_files(ens) == [tmp_path / "nets" / "a.pt"] * 2
    assert checkpoints.model_files(ens) == [ens, tmp_path / "nets" / "a.pt"]
    assert checkpoints.member_files(tmp_path / "inline.pt") == [None, None] and checkpoints.member_files(a) == [None]
    (tmp_path / "nets" / "a.pt").unlink()
    with pytest.raises(checkpoints.ModelNotFoundError, match="network file it refers to, .*a.pt, does not exist"):
        checkpoints.load_model(ens)
    with pytest.raises(ValueError, match="names 1 files for 2 members"):
        checkpoints.save_ensemble(tmp_path / "f.pt", [a, a], member_files=["x.pt"])


def test_a_single_network_can_refer_to_its_weights_file(tmp_path):
    net, options = _net(), {"hidden": [64], "dropout": 0.0}
    inline = checkpoints.save_model(tmp_path / "inline.pt", net, architecture="mlp", options=options)
    ref = checkpoints.save_model(tmp_path / "default.pt", net, architecture="mlp", options=options, threshold=0.3,
                                 metadata={"card": 1}, weights_file="networks/mlp.pt")
    assert ref.stat().st_size < 0.1 * inline.stat().st_size and (tmp_path / "networks" / "mlp.pt").is_file()
    loaded = checkpoints.load_model(ref)
    assert (loaded.architecture, loaded.threshold, loaded.metadata) == ("mlp", 0.3, {"card": 1})
    assert checkpoints.member_files(ref) == [tmp_path / "networks" / "mlp.pt"]
    x = np.random.default_rng(3).random((8, 3072), dtype=np.float32)
    np.testing.assert_allclose(predict_proba(loaded.model, x), predict_proba(net, x), atol=1e-6)
    # an ensemble can share the same file
    ens = checkpoints.save_ensemble(tmp_path / "e.pt", [loaded, loaded], member_files=["networks/mlp.pt"] * 2)
    assert len(checkpoints.load_model(ens).model.members) == 2
    # a file that holds another architecture than the reference says is named
    checkpoints.save_model(tmp_path / "networks" / "mlp.pt", create_model("cnn", width=0.05), architecture="cnn",
                           options={"width": 0.05})
    with pytest.raises(ValueError, match="holds a cnn, default.pt expects a mlp"):
        checkpoints.load_model(ref)


def test_unknown_weight_type_is_named(tmp_path):
    with pytest.raises(ValueError, match="weights must be one of"):
        checkpoints.save_model(tmp_path / "x.pt", _net(), architecture="mlp", weights="int8")
    assert not (tmp_path / "x.pt").exists()


def test_recalibrate_model_file_rewrites_the_statistics_in_place(tmp_path):
    torch.manual_seed(0)
    net = create_model("mlp", hidden=[32], dropout=0.5)
    path = checkpoints.save_model(tmp_path / "m.pt", net, architecture="mlp",
                                  options={"hidden": [32], "dropout": 0.5}, threshold=0.4, metadata={"seed": 1})
    x = np.random.default_rng(0).random((64, 3072), dtype=np.float32)
    before = checkpoints.load_model(path)
    out = checkpoints.recalibrate_model_file(path, x)
    after = checkpoints.load_model(path)
    assert after.metadata == {"seed": 1, "batchnorm_recalibration": {"spectra": 64}} and after.threshold == 0.4
    bn = lambda m: [b.running_mean for b in m.modules() if isinstance(b, torch.nn.BatchNorm1d)]  # noqa: E731
    assert not torch.allclose(bn(before.model)[0], bn(after.model)[0])
    torch.testing.assert_close(bn(out.model)[0], bn(after.model)[0])
    assert not list(tmp_path.glob("*.tmp"))
    half = checkpoints.save_model(tmp_path / "h.pt", net, architecture="mlp", options={"hidden": [32], "dropout": 0.5},
                                  weights="float16")
    checkpoints.recalibrate_model_file(half, x)
    assert checkpoints.read_info(half)["weights"] == "float16"          # the storage type is kept
    shared = checkpoints.save_model(tmp_path / "s.pt", net, architecture="mlp", options={"hidden": [32], "dropout": 0.5},
                                    weights_file="networks/n.pt")
    before = (tmp_path / "networks" / "n.pt").read_bytes()
    checkpoints.recalibrate_model_file(shared, x)
    assert (tmp_path / "networks" / "n.pt").read_bytes() == before     # a shared network file is not touched
    assert checkpoints.model_files(shared) == [shared]                   # the recalibrated weights are inline


def test_a_failed_save_leaves_no_file_and_keeps_the_old_one(tmp_path):
    path = checkpoints.save_model(tmp_path / "m.pt", _net(), architecture="mlp", options={"hidden": [64], "dropout": 0.0})
    before = path.read_bytes()
    with pytest.raises(Exception):
        checkpoints.atomic_save({"not storable": lambda: None}, path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]
    with pytest.raises(Exception):
        checkpoints.atomic_save({"not storable": lambda: None}, tmp_path / "new.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]


def test_read_info_describes_a_file_without_building_it(tmp_path, monkeypatch):
    path = checkpoints.save_model(tmp_path / "m.pt", _net(), architecture="mlp", options={"hidden": [64], "dropout": 0.0},
                                  threshold=0.4, metadata={"seed": 3})
    loaded = checkpoints.load_model(path)
    monkeypatch.setattr(checkpoints, "_build", lambda *a: pytest.fail("read_info built the network"))
    assert checkpoints.read_info(path) == {"architecture": "mlp", "options": loaded.options, "threshold": 0.4,
                                           "metadata": {"seed": 3}, "weights": "float32"}
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"junk.pt is not a PyTorch checkpoint \(not a zip/pickle file\)"):
        checkpoints.read_info(tmp_path / "junk.pt")


def test_a_path_that_is_not_a_model_file_is_named_with_why(tmp_path):
    """A directory, an empty file, a text file named .pt, a broken checkpoint: each one line naming
    the path and the problem (a directory: ModelNotFoundError, like a missing file; the rest ValueError)."""
    (tmp_path / "adir").mkdir()
    with pytest.raises(checkpoints.ModelNotFoundError, match=r"adir is a directory, not a model file$"):
        checkpoints.load_model(tmp_path / "adir")
    run = tmp_path / "run"
    checkpoints.save_model(run / "model.pt", _net(), architecture="mlp", options={"hidden": [64], "dropout": 0.0})
    with pytest.raises(checkpoints.ModelNotFoundError, match=r"run is a directory, not a model file; a training "
                                                             r"run's model is .*run/model.pt"):
        checkpoints.load_model(run)
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.pt is empty \(0 bytes\), not a model file"):
        checkpoints.load_model(tmp_path / "empty.pt")
    (tmp_path / "spectrum.pt").write_text("energy,counts\n400,1\n")
    for read in (checkpoints.load_model, checkpoints.read_info):
        with pytest.raises(ValueError, match=r"spectrum.pt is not a PyTorch checkpoint \(not a zip/pickle file\)"):
            read(tmp_path / "spectrum.pt")
    (tmp_path / "cut.pt").write_bytes((run / "model.pt").read_bytes()[:1000])   # a zip cut short: torch's reason
    with pytest.raises(ValueError, match="cut.pt: not a readable eels_helpers model file: .*zip"):
        checkpoints.load_model(tmp_path / "cut.pt")
    from fractions import Fraction

    torch.save({"ratio": Fraction(1, 3)}, tmp_path / "objects.pt")            # not a weights-only file
    with pytest.raises(ValueError, match="objects.pt: not a readable eels_helpers model file: it holds Python objects"):
        checkpoints.load_model(tmp_path / "objects.pt")


def test_an_identical_network_file_is_kept_not_rewritten(tmp_path):
    net, options = _net(), {"hidden": [64], "dropout": 0.0}
    checkpoints.save_model(tmp_path / "a.pt", net, architecture="mlp", options=options, weights_file="nets/n.pt")
    first = (tmp_path / "nets" / "n.pt").read_bytes()
    checkpoints.save_model(tmp_path / "b.pt", net, architecture="mlp", options=options, weights_file="nets/n.pt")
    assert (tmp_path / "nets" / "n.pt").read_bytes() == first          # same weights: the file is untouched
    with torch.no_grad():
        next(net.parameters()).add_(1.0)
    checkpoints.save_model(tmp_path / "c.pt", net, architecture="mlp", options=options, weights_file="nets/n.pt")
    assert (tmp_path / "nets" / "n.pt").read_bytes() != first          # other weights: rewritten
    x = np.random.default_rng(4).random((4, 3072), dtype=np.float32)
    np.testing.assert_allclose(predict_proba(checkpoints.load_model(tmp_path / "c.pt").model, x),
                               predict_proba(net, x), atol=1e-6)


def test_decision_threshold_is_the_given_then_the_stored_then_the_fallback(tmp_path):
    from eels_helpers import FALLBACK_THRESHOLD

    bare = checkpoints.save_model(tmp_path / "bare.pt", _net(), architecture="mlp",
                                  options={"hidden": [64], "dropout": 0.0})
    stored = checkpoints.save_model(tmp_path / "stored.pt", _net(), architecture="mlp",
                                    options={"hidden": [64], "dropout": 0.0}, threshold=0.65)
    assert checkpoints.decision_threshold(checkpoints.load_model(bare)) == FALLBACK_THRESHOLD
    assert checkpoints.decision_threshold(checkpoints.load_model(stored)) == 0.65
    assert checkpoints.decision_threshold(checkpoints.load_model(stored), 0.3) == 0.3
    assert checkpoints.decision_threshold(_net()) == FALLBACK_THRESHOLD     # a bare network stores none
    with pytest.raises(ValueError, match=r"probability in \(0, 1\), got 1.5"):
        checkpoints.decision_threshold(_net(), 1.5)
