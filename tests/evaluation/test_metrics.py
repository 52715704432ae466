"""eels_helpers.evaluation.metrics against scikit-learn on random multi-label data."""

import numpy as np
import pytest
from sklearn import metrics as skm

from eels_helpers.evaluation import metrics as M


@pytest.fixture
def data():
    rng = np.random.default_rng(1)
    y = (rng.random((400, 80)) < 0.05).astype(np.float32)
    y[:, 70:] = 0                                     # classes without support (weight 0)
    p = np.clip(0.6 * y + rng.random((400, 80)) * 0.6, 0, 1)
    return y, p


@pytest.mark.parametrize("threshold", [0.2, 0.5, 0.8])
def test_weighted_scores_match_sklearn(data, threshold):
    y, p = data
    pred = (p >= threshold).astype(int)
    ours = M.precision_recall_f1(y, p, threshold)
    ref = skm.precision_recall_fscore_support(y.astype(int), pred, average="weighted", zero_division=0)[:3]
    np.testing.assert_allclose(ours, ref, rtol=1e-12)


def test_exact_match_and_rmse_match_sklearn(data):
    y, p = data
    assert M.exact_match_ratio(y, p, 0.5) == pytest.approx(skm.accuracy_score(y.astype(int), (p >= 0.5).astype(int)))
    assert M.rmse(y, p) == pytest.approx(np.sqrt(skm.mean_squared_error(y.ravel(), p.ravel())))


def test_exclude_carbon_drops_column_2(data):
    y, p = data
    keep = [i for i in range(80) if i != M.CARBON_INDEX]
    pred = (p >= 0.5).astype(int)
    ref = skm.f1_score(y[:, keep].astype(int), pred[:, keep], average="weighted", zero_division=0)
    assert M.precision_recall_f1(y, p, 0.5, exclude_carbon=True)[2] == pytest.approx(ref)
    # a carbon-only mistake changes nothing once carbon is left out
    p2 = p.copy()
    p2[:, M.CARBON_INDEX] = 1 - y[:, M.CARBON_INDEX]
    assert M.evaluate(y, p2, 0.5, exclude_carbon=True) == M.evaluate(y, p, 0.5, exclude_carbon=True)
    assert M.evaluate(y, p2, 0.5) != M.evaluate(y, p, 0.5)


def test_select_threshold_is_argmin_of_precision_recall_gap(data):
    y, p = data
    gaps = []
    for th in M.THRESHOLDS:
        pr, rc, _, _ = skm.precision_recall_fscore_support(y.astype(int), (p >= th).astype(int), average="weighted",
                                                           zero_division=0)
        gaps.append(abs(pr - rc) if pr + rc > 0 else np.inf)
    assert len(M.THRESHOLDS) == 19 and M.THRESHOLDS[0] == 0.05 and M.THRESHOLDS[-1] == 0.95
    assert M.select_threshold(y, p) == pytest.approx(M.THRESHOLDS[int(np.argmin(gaps))])


def test_select_threshold_skips_thresholds_with_nothing_correct():
    y = np.zeros((2, 80))
    y[0, 5] = 1
    p = np.full((2, 80), 0.02)
    p[:, 5] = 0.3                      # up to 0.30: P = 0.5, R = 1; above: P = R = 0 (a degenerate tie)
    assert M.select_threshold(y, p) == pytest.approx(0.05)


def test_perfect_prediction_and_empty_support():
    y = np.eye(80)[:10]
    s = M.evaluate(y, y, 0.5)
    assert (s.f1, s.precision, s.recall, s.emr, s.rmse) == (1.0, 1.0, 1.0, 1.0, 0.0)
    assert M.precision_recall_f1(np.zeros((3, 80)), np.ones((3, 80)), 0.5) == (0.0, 0.0, 0.0)


def test_confusion_matrix_matches_sklearn():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 80, 300)
    y = np.eye(80)[labels]
    p = rng.random((300, 80)) + 0.5 * y
    ours = M.confusion_matrix(y, p)
    ref = skm.confusion_matrix(labels, p.argmax(1), labels=np.arange(80))
    np.testing.assert_array_equal(ours, ref)
    assert ours.sum() == 300


def test_torch_input_and_shape_errors():
    torch = pytest.importorskip("torch")
    y = torch.eye(80)[:5]
    assert M.rmse(y, y) == 0.0
    with pytest.raises(ValueError, match="same shape"):
        M.rmse(np.zeros((2, 80)), np.zeros((3, 80)))
    with pytest.raises(ValueError, match="threshold"):
        M.precision_recall_f1(y, y, 1.5)


def test_threshold_curve_matches_the_single_threshold_metrics(data):
    y, p = data
    curve = M.threshold_curve(y, p, [0.2, 0.5, 0.8])
    for k, th in enumerate([0.2, 0.5, 0.8]):
        np.testing.assert_allclose([curve["precision"][k], curve["recall"][k], curve["f1"][k]],
                                   M.precision_recall_f1(y, p, th), rtol=1e-12)
        assert curve["emr"][k] == M.exact_match_ratio(y, p, th)
    full = M.threshold_curve(y, p)
    gap = np.abs(full["precision"] - full["recall"])
    assert M.select_threshold(y, p) == full["threshold"][int(np.argmin(gap))]
    with pytest.raises(ValueError, match="thresholds must be a non-empty"):
        M.threshold_curve(y, p, [])
