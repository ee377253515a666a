"""Mean IoU and pixel accuracy on logits, and scores of a confusion matrix, against NumPy."""

import keras
import numpy as np

import pytest

from fcnseg.metrics import PixelAccuracy, confusion_matrix, confusion_scores, format_scores, mean_iou

NUM_CLASSES = 5


def _random_batch(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, NUM_CLASSES, size=(3, 8, 9, 1)).astype(np.int32)
    labels[rng.random(labels.shape) < 0.25] = 255
    logits = rng.normal(size=(3, 8, 9, NUM_CLASSES)).astype(np.float32)
    return labels, logits


def _confusion(labels, logits):
    truth, predicted = labels[..., 0].ravel(), logits.argmax(-1).ravel()
    keep = truth != 255
    return np.bincount(truth[keep] * NUM_CLASSES + predicted[keep], minlength=NUM_CLASSES**2).reshape(
        NUM_CLASSES, NUM_CLASSES
    )


def test_mean_iou_and_pixel_accuracy_leave_out_255():
    labels, logits = _random_batch(0)
    confusion = _confusion(labels, logits)
    iou = np.diag(confusion) / (confusion.sum(0) + confusion.sum(1) - np.diag(confusion))
    miou, accuracy = mean_iou(NUM_CLASSES), PixelAccuracy(NUM_CLASSES)
    for metric in (miou, accuracy):
        metric.update_state(labels, logits)
    np.testing.assert_allclose(float(miou.result()), iou.mean(), rtol=1e-6)
    np.testing.assert_allclose(float(accuracy.result()), np.trace(confusion) / confusion.sum(), rtol=1e-6)
    np.testing.assert_array_equal(miou.total_cm.numpy(), confusion)


def test_pixel_accuracy_config_round_trip():
    metric = keras.metrics.deserialize(keras.metrics.serialize(PixelAccuracy(NUM_CLASSES)))
    labels, logits = _random_batch(1)
    metric.update_state(labels, logits)
    confusion = _confusion(labels, logits)
    np.testing.assert_allclose(float(metric.result()), np.trace(confusion) / confusion.sum(), rtol=1e-6)


def test_confusion_scores_of_a_known_matrix():
    confusion = np.array([[8, 2, 0], [1, 4, 0], [0, 0, 0]])
    scores = confusion_scores(confusion, ["a", "b", "c"])
    assert scores["per_class_iou"] == {"a": 8 / 11, "b": 4 / 7, "c": None}
    assert scores["mean_iou"] == (8 / 11 + 4 / 7) / 2
    assert scores["pixel_accuracy"] == 12 / 15
    assert scores["per_class_precision"] == {"a": 8 / 9, "b": 4 / 6, "c": None}
    assert scores["per_class_recall"] == {"a": 8 / 10, "b": 4 / 5, "c": None}
    assert scores["frequency_weighted_iou"] == pytest.approx((10 * 8 / 11 + 5 * 4 / 7) / 15, rel=1e-12)
    table = format_scores(scores)
    rows = [line.split() for line in table.splitlines()]
    assert rows[0] == ["class", "IoU", "precision", "recall"]
    assert rows[1] == ["a", "0.7273", "0.8889", "0.8000"] and rows[3] == ["c", "-", "-", "-"]
    assert rows[4] == ["mean", "IoU", "0.6494"] and rows[-1] == ["pixel", "accuracy", "0.8000"]


def test_confusion_matrix_counts_pixels_and_leaves_out_255():
    labels, logits = _random_batch(2)
    np.testing.assert_array_equal(
        confusion_matrix(labels[..., 0], logits.argmax(-1), NUM_CLASSES), _confusion(labels, logits)
    )
    with pytest.raises(ValueError, match="labels and predictions differ in size"):
        confusion_matrix(labels[..., 0], logits.argmax(-1)[:1], NUM_CLASSES)
