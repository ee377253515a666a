"""Auxiliary heads: their losses in training, and nothing of them anywhere else."""

import dataclasses
import json

import keras
import numpy as np
import pytest
from keras import layers
from training.runs import TINY_CONFIG

from fcnseg import metrics
from fcnseg.training import run
from fcnseg.training.config import TrainConfig, check_model
from fcnseg.training.deep_supervision import DeepSupervision, inference_model
from fcnseg.training.losses import SegmentationLoss

NUM_CLASSES = 3


def _network():
    """Main logits and two auxiliary heads' logits, all at the input's size."""
    keras.utils.set_random_seed(0)
    images = keras.Input((None, None, 3))
    features = layers.Conv2D(4, 3, padding="same", activation="relu")(images)
    main = layers.Conv2D(NUM_CLASSES, 1, name="main")(features)
    first = layers.Conv2D(NUM_CLASSES, 3, padding="same", name="first")(features)
    second = layers.Conv2D(NUM_CLASSES, 1, name="second")(images)
    return keras.Model(images, [main, first, second], name="tiny")


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, NUM_CLASSES, (2, 8, 8, 1)).astype("int32")
    labels[0, :2] = 255
    return rng.uniform(0, 255, (2, 8, 8, 3)).astype("float32"), labels


def _compiled(weights=(0.4, 2.0)):
    model = DeepSupervision(_network(), weights)
    model.compile(
        keras.optimizers.Adam(1e-2),
        SegmentationLoss(NUM_CLASSES, [1.0, 2.0, 0.5]),
        metrics=[metrics.mean_iou(NUM_CLASSES), metrics.PixelAccuracy(NUM_CLASSES)],
    )
    return model


def test_the_training_loss_adds_each_auxiliary_loss_times_its_weight():
    model = _compiled()
    images, labels = _batch()
    loss = SegmentationLoss(NUM_CLASSES, [1.0, 2.0, 0.5])
    main, first, second = model.network(images, training=True)
    expected = float(loss(labels, main)) + 0.4 * float(loss(labels, first)) + 2.0 * float(loss(labels, second))
    total = model.compute_loss(images, labels, model(images, training=True), training=True)
    np.testing.assert_allclose(float(total), expected, rtol=1e-5)
    main_only = model.compute_loss(images, labels, model(images, training=False), training=False)
    np.testing.assert_allclose(float(main_only), float(loss(labels, main)), rtol=1e-5)


def test_metrics_evaluate_and_predict_see_the_main_head_only():
    model = _compiled()
    images, labels = _batch(1)
    history = model.fit(images, labels, batch_size=2, epochs=2, verbose=0)
    assert set(history.history) == {"loss", "mean_iou", "pixel_accuracy"}
    predictions = model.predict(images, verbose=0)
    assert predictions.shape == (2, 8, 8, NUM_CLASSES)
    np.testing.assert_allclose(predictions, model.network(images)[0], rtol=1e-5, atol=1e-5)
    scores = model.evaluate(images, labels, verbose=0, return_dict=True)
    assert set(scores) == {"loss", "mean_iou", "pixel_accuracy"}
    main = inference_model(model)
    assert len(main.outputs) == 1 and main.count_params() < model.network.count_params()


def test_the_weights_must_match_the_heads():
    with pytest.raises(ValueError, match="tiny has 2 auxiliary heads but 1 weights were given"):
        DeepSupervision(_network(), [0.4])


def test_a_plain_model_is_its_own_inference_model():
    network = _network()
    assert inference_model(network) is network


@pytest.mark.slow
def test_a_run_with_auxiliary_heads_saves_the_main_head(tmp_path):
    # DDRNet's one auxiliary head stands for every model's: `DeepSupervision` is the same for all.
    config = TrainConfig(
        model_dir=str(tmp_path / "run"),
        model="ddrnet23_slim",
        loss="ohem_cross_entropy",
        ohem_min_kept=1000,
        batch_norm_momentum=0.9,
        tensorboard_images=1,
        **TINY_CONFIG,
    )
    scores = run.train(config, verbose=0)
    assert 0 <= scores["mean_iou"] <= 1
    for file in ("best.keras", "last.keras"):
        model = keras.saving.load_model(tmp_path / "run" / file)
        assert len(model.outputs) == 1
        assert not any(layer.name.startswith(("booster", "auxiliary")) for layer in model.layers)
        norms = {layer.momentum for layer in model.layers if isinstance(layer, layers.BatchNormalization)}
        assert norms == {0.9}
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert {"loss", "mean_iou", "val_mean_iou"} <= set(log[0].split(","))
    assert json.loads((tmp_path / "run" / "run_config.json").read_text())["loss"] == "ohem_cross_entropy"
    run.train(dataclasses.replace(config, epochs=2), verbose=0)  # resumes from the backup
    assert len((tmp_path / "run" / "log.csv").read_text().splitlines()) == len(log) + 1


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(model="unet", auxiliary_weight=0.4), "--auxiliary_weight=0.4: --model=unet has no auxiliary heads"),
        (dict(model="bisenetv2", auxiliary_weight=-1.0), "--auxiliary_weight=-1.0 is not valid"),
        (dict(model="unet", ohem_threshold=0.5), "--ohem_threshold applies to --loss=ohem_cross_entropy only"),
        (dict(model="unet", loss="ohem_cross_entropy", ohem_threshold=1.5), "--ohem_threshold=1.5 is not valid"),
        (dict(model="unet", loss="ohem_cross_entropy", ohem_min_kept=0), "--ohem_min_kept=0 is not valid"),
        (dict(model="unet", batch_norm_momentum=1.0), "--batch_norm_momentum=1.0 is not valid"),
    ],
)
def test_bad_training_options_fail_in_one_line_before_training(tmp_path, changes, message):
    with pytest.raises(ValueError, match=message):
        config = TrainConfig(model_dir=str(tmp_path / "run"), crop_size=(64, 64), **changes)
        check_model(config, NUM_CLASSES)
