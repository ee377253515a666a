"""The segmentation loss against NumPy computed by hand."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fcnseg.training.losses import SegmentationLoss

NUM_CLASSES = 4


def _batch(seed=0, holes=True):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(2, 6, 5, NUM_CLASSES)).astype(np.float32) * 3
    labels = rng.integers(0, NUM_CLASSES, size=(2, 6, 5, 1)).astype(np.int32)
    if holes:
        labels[rng.random(labels.shape) < 0.3] = 255
    return labels, logits


def _pixel_cross_entropy(labels, logits):
    labels = labels[..., 0]
    shifted = logits - logits.max(-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    safe = np.where(labels == 255, 0, labels)
    return -np.take_along_axis(log_p, safe[..., None], -1)[..., 0], labels != 255


def test_cross_entropy_is_the_mean_over_labelled_pixels():
    labels, logits = _batch()
    ce, labelled = _pixel_cross_entropy(labels, logits)
    loss = SegmentationLoss(NUM_CLASSES)(labels, logits)
    np.testing.assert_allclose(float(loss), ce[labelled].mean(), rtol=1e-5)


def test_class_weights_weigh_each_pixel_by_its_label():
    labels, logits = _batch(1)
    weights = np.array([0.5, 2.0, 1.0, 3.0], np.float32)
    ce, labelled = _pixel_cross_entropy(labels, logits)
    w = weights[np.where(labelled, labels[..., 0], 0)] * labelled
    expected = (w * ce).sum() / w.sum()
    loss = SegmentationLoss(NUM_CLASSES, class_weights=weights.tolist())(labels, logits)
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)
    assert abs(expected - ce[labelled].mean()) > 1e-3  # the weights made a difference


def test_focal_loss_scales_cross_entropy_by_one_minus_p_to_gamma():
    labels, logits = _batch(2)
    ce, labelled = _pixel_cross_entropy(labels, logits)
    focal = (1 - np.exp(-ce)) ** 2.0 * ce
    loss = SegmentationLoss(NUM_CLASSES, loss="focal", focal_gamma=2.0)(labels, logits)
    np.testing.assert_allclose(float(loss), focal[labelled].mean(), rtol=1e-5)


def test_dice_term_adds_one_minus_the_mean_soft_dice():
    labels, logits = _batch(3)
    ce, labelled = _pixel_cross_entropy(labels, logits)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p = p / p.sum(-1, keepdims=True) * labelled[..., None]
    y = np.eye(NUM_CLASSES)[np.where(labelled, labels[..., 0], 0)] * labelled[..., None]
    dice = (2 * (p * y).sum((0, 1, 2)) + 1) / (p.sum((0, 1, 2)) + y.sum((0, 1, 2)) + 1)
    expected = ce[labelled].mean() + 0.5 * (1 - dice.mean())
    loss = SegmentationLoss(NUM_CLASSES, dice_weight=0.5)(labels, logits)
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)


def _ohem_reference(labels, logits, threshold, min_kept, class_weights=None):
    """HRNet's OhemCrossEntropy in NumPy: sort the labelled pixels' probabilities of their label,
    cut at max(threshold, the value at index min(min_kept, n - 1)), keep the pixels below it."""
    ce, labelled = _pixel_cross_entropy(labels, logits)
    probabilities = np.exp(-ce[labelled])
    ordered = np.sort(probabilities)
    cut = max(ordered[min(min_kept, ordered.size - 1)], threshold)
    kept = probabilities < cut
    weights = np.ones_like(probabilities) if class_weights is None else class_weights[labels[..., 0][labelled]]
    return (weights * ce[labelled])[kept].sum() / weights[kept].sum(), kept.sum()


@pytest.mark.parametrize(
    "threshold, min_kept, expect_kept",
    [
        (0.7, 5, "above min_kept"),  # the threshold alone keeps more than min_kept
        (0.05, 20, "min_kept"),  # too few below the threshold: the 20 hardest
        (0.05, 1000, "all but the easiest"),  # fewer labelled pixels than min_kept
    ],
)
@pytest.mark.parametrize("class_weights", [None, [0.5, 2.0, 1.0, 3.0]])
def test_ohem_cross_entropy_matches_numpy(threshold, min_kept, expect_kept, class_weights):
    labels, logits = _batch(6)
    weights = None if class_weights is None else np.array(class_weights, np.float32)
    expected, kept = _ohem_reference(labels, logits, threshold, min_kept, weights)
    labelled = int((labels != 255).sum())
    assert {"above min_kept": kept > min_kept, "min_kept": kept == min_kept}.get(expect_kept, kept == labelled - 1)
    loss = SegmentationLoss(
        NUM_CLASSES, class_weights, loss="ohem_cross_entropy", ohem_threshold=threshold, ohem_min_kept=min_kept
    )
    np.testing.assert_allclose(float(loss(labels, logits)), expected, rtol=1e-5)
    ce, is_labelled = _pixel_cross_entropy(labels, logits)
    assert abs(expected - ce[is_labelled].mean()) > 1e-3  # the mining made a difference


def test_ohem_easy_pixels_get_no_gradient():
    labels, logits = _batch(7)
    logits = tf.Variable(logits)
    loss_fn = SegmentationLoss(NUM_CLASSES, loss="ohem_cross_entropy", ohem_threshold=0.3, ohem_min_kept=1)
    with tf.GradientTape() as tape:
        loss = loss_fn(labels, logits)
    gradient = np.abs(tape.gradient(loss, logits).numpy()).sum(-1)
    ce, labelled = _pixel_cross_entropy(labels, logits.numpy())
    hard = labelled & (np.exp(-ce) < 0.3)
    assert 0 < hard.sum() < labelled.sum()
    assert np.all(gradient[hard] > 0) and not np.any(gradient[~hard])


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"class_weights": [1.0, 2.0, 3.0, 4.0]},
        {"loss": "focal", "dice_weight": 1.0},
        {"loss": "ohem_cross_entropy", "ohem_min_kept": 4},
    ],
)
def test_a_batch_labelled_all_255_gives_no_loss_and_no_gradient(options):
    labels = np.full((2, 4, 4, 1), 255, np.int32)
    logits = tf.Variable(np.random.default_rng(0).normal(size=(2, 4, 4, NUM_CLASSES)).astype(np.float32))
    loss_fn = SegmentationLoss(NUM_CLASSES, **options)
    with tf.GradientTape() as tape:
        loss = loss_fn(labels, logits)
    gradient = tape.gradient(loss, logits)
    assert float(loss) == 0.0
    assert gradient is None or not np.any(gradient.numpy())


def test_ignored_pixels_get_no_gradient():
    labels, logits = _batch(4)
    logits = tf.Variable(logits)
    with tf.GradientTape() as tape:
        loss = SegmentationLoss(NUM_CLASSES)(labels, logits)
    gradient = tape.gradient(loss, logits).numpy()
    ignored = labels[..., 0] == 255
    assert not np.any(gradient[ignored])
    assert np.all(np.abs(gradient[~ignored]).sum(-1) > 0)


def test_config_round_trip():
    loss = SegmentationLoss(NUM_CLASSES, class_weights=[1, 2, 3, 4], loss="focal", focal_gamma=1.5, dice_weight=0.2)
    ohem = SegmentationLoss(NUM_CLASSES, loss="ohem_cross_entropy", ohem_threshold=0.4, ohem_min_kept=3)
    assert keras.losses.deserialize(keras.losses.serialize(ohem)).get_config() == ohem.get_config()
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    labels, logits = _batch(5)
    np.testing.assert_allclose(float(again(labels, logits)), float(loss(labels, logits)), rtol=1e-6)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"loss": "hinge"}, "Unknown loss 'hinge'"),
        ({"class_weights": [1.0, 2.0]}, "class_weights has 2 values; expected 4"),
        ({"class_weights": [1.0, -1.0, 1.0, 1.0]}, "of at least 0"),
        ({"dice_weight": -1.0}, "must be at least 0"),
        ({"loss": "ohem_cross_entropy", "ohem_threshold": 0.0}, r"ohem_threshold=0.0 must be in \(0, 1\]"),
        ({"loss": "ohem_cross_entropy", "ohem_min_kept": 0}, "ohem_min_kept=0 at least 1"),
    ],
)
def test_bad_options_fail_clearly(options, message):
    with pytest.raises(ValueError, match=message):
        SegmentationLoss(NUM_CLASSES, **options)
