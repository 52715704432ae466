"""Grouped cross-validation on real spectra (the spectra shipped with the package)."""

import numpy as np
import pytest

from eels_helpers.evaluation.cross_validation import grouped_cross_validation
from eels_helpers.evaluation.metrics import evaluate, select_threshold
from eels_helpers.evaluation.real_spectra import evaluation_set, evaluation_split, label_matrix


@pytest.fixture(scope="module")
def manifest():
    return evaluation_set()[0]


def test_each_split_is_scored_at_its_own_validation_threshold(manifest):
    rng = np.random.default_rng(0)
    labels = label_matrix(manifest["labels"]).astype(float)
    probs = np.clip(labels * 0.7 + rng.uniform(0, 0.4, labels.shape), 0, 1)
    cv = grouped_cross_validation("made-up", manifest, probabilities=probs, seeds=(0, 3))
    assert list(cv.splits["seed"]) == [0, 3]
    for row in cv.splits.to_dict("records"):
        val, test = evaluation_split(manifest, row["seed"])
        is_val = manifest["file"].isin(val["file"]).to_numpy()
        t = select_threshold(labels[is_val], probs[is_val], exclude_carbon=True)
        s = evaluate(labels[~is_val], probs[~is_val], t, exclude_carbon=True)
        assert row["threshold"] == pytest.approx(t)
        assert row["f1"] == pytest.approx(s.f1) and row["exact_match"] == pytest.approx(s.emr)
        assert row["n_test"] == len(test) and row["n_validation"] == len(val)
    assert cv.mean["f1"] == pytest.approx(cv.splits["f1"].mean())
    assert "made-up: F1" in cv.summary()
    with pytest.raises(ValueError, match="at least one split"):
        grouped_cross_validation("x", manifest, probabilities=probs, seeds=())


def test_eels_id_evaluate_prints_real_and_open_world_figures(manifest, capsys):
    import json

    from eels_helpers.cli import main

    assert main(["evaluate", "default", "--splits", "2", "--suite", "2", "--film-images", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    fig = out["models"]["default"]
    film = fig["film_images"]                             # carbon-film images mapped as `eels-id map` does
    assert film["images"] == 1 and film["images_with_other"] == sum(map(bool, film["kept"]))
    assert "C" not in film["pixel_fraction"] and all(0 < f <= 1 for f in film["pixel_fraction"].values())
    assert 0 <= fig["real"]["f1"] <= 1 and len(fig["splits"]) == 2
    assert set(fig["open_world"]) >= {"edge_free", "out_of_family", "all"}
    resolved = fig["real_twins_resolved"]                 # as predict decides: twins resolved
    assert 0 <= resolved["f1"] <= 1 and resolved["pairs_resolved_split0"] >= 0
    assert main(["evaluate", "default", "--splits", "1", "--suite", "0", "--film-images", "0", "--keep-twins",
                 "--json"]) == 0
    alone = json.loads(capsys.readouterr().out)["models"]["default"]
    assert "real_twins_resolved" not in alone and "film_images" not in alone and "superlattices" not in alone
    assert main(["evaluate", "--film-images", "-1"]) == 2
    assert "--film-images and --superlattices >= 0" in capsys.readouterr().err
    assert main(["evaluate", "--superlattices", "-1"]) == 2
    assert "--superlattices >= 0" in capsys.readouterr().err
    assert main(["evaluate", "--splits", "0"]) == 2
    assert "--splits must be >= 1" in capsys.readouterr().err


def test_per_element_thresholds_are_chosen_on_the_validation_half(manifest):
    from eels_helpers.evaluation.cross_validation import _element_thresholds

    labels = np.zeros((6, 80))
    labels[:3, 0] = 1                      # element 0: positives score 0.6, negatives 0.3
    probs = np.zeros((6, 80))
    probs[:3, 0], probs[3:, 0] = 0.6, 0.3
    probs[:, 1] = 0.9                       # element 1: no positive -> the global threshold
    t = _element_thresholds(labels, probs, 0.5)
    assert 0.3 < t[0] <= 0.6 and t[1] == 0.5
    y = label_matrix(manifest["labels"]).astype(float)
    rng = np.random.default_rng(1)
    p = np.clip(y * 0.6 + rng.uniform(0, 0.5, y.shape), 0, 1)
    cv = grouped_cross_validation("x", manifest, probabilities=p, seeds=(0,), per_element=True)
    assert 0 <= cv.mean["f1"] <= 1


def test_a_decision_stage_acts_after_each_split_threshold(manifest):
    """``decide`` gets every row's thresholded decisions and its output is scored on the test half;
    the threshold is still the network's (the identity leaves the scores as they were)."""
    rng = np.random.default_rng(1)
    labels = label_matrix(manifest["labels"]).astype(float)
    probs = np.clip(labels * 0.7 + rng.uniform(0, 0.4, labels.shape), 0, 1)
    plain = grouped_cross_validation("x", manifest, probabilities=probs, seeds=(0, 3))
    same = grouped_cross_validation("x", manifest, probabilities=probs, seeds=(0, 3), decide=lambda r: r)
    assert same.splits[["threshold", "f1", "exact_match"]].equals(plain.splits[["threshold", "f1", "exact_match"]])
    seen = []
    perfect = grouped_cross_validation("x", manifest, probabilities=probs, seeds=(0, 3),
                                       decide=lambda r: seen.append(r.shape) or labels > 0.5)
    assert seen == [labels.shape] * 2
    assert list(perfect.splits["threshold"]) == list(plain.splits["threshold"])
    assert (perfect.splits["exact_match"] >= plain.splits["exact_match"]).all()
    assert perfect.mean["exact_match"] == pytest.approx(1.0)


def test_eels_id_evaluate_superlattices_option(manifest, capsys, monkeypatch):
    """--superlattices N maps N superlattices per model (superlattice_maps, tested there) and reports them."""
    import json

    import eels_helpers.evaluation.superlattice_maps as sl
    from eels_helpers.cli import main

    calls = []

    def fake(model, n_seeds, **options):
        calls.append((model, n_seeds, options))
        true = ("O", "Ti", "Mn", "Ba", "La")
        return sl.SuperlatticeReport(model, (60, 130), (sl.SuperlatticeMap(2023, true + ("Co",), true, {}),))

    monkeypatch.setattr(sl, "superlattice_report", fake)
    args = ["evaluate", "default", "--splits", "1", "--suite", "0", "--film-images", "0", "--superlattices", "1"]
    assert main(args + ["--json"]) == 0
    lattices = json.loads(capsys.readouterr().out)["models"]["default"]["superlattices"]
    assert lattices["exact"] == 0 and lattices["extra_counts"] == {"Co": 1}
    assert calls[0][:2] == ("default", 1) and calls[0][2]["keep_twins"] is False
    assert main(args) == 0
    assert "superlattices (1 seed, 60 x 130 pixels): exactly the true elements kept in 0; extra elements kept: Co 1/1" \
        in capsys.readouterr().out
