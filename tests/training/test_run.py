"""`fcnseg.training.train` in-process: mixed precision, freezing the encoder, class weights, the NaN guard."""

import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from training.runs import TINY_CONFIG

from fcnseg import build_model, data
from fcnseg.training import run
from fcnseg.training.class_weights import class_weights
from fcnseg.training.callbacks import NonFiniteLossError, StopOnNonFiniteLoss
from fcnseg.training.config import TrainConfig

pytestmark = pytest.mark.slow

TINY = dict(model="unet", model_options={"depth": 2, "base_filters": 8}, tensorboard_images=0, **TINY_CONFIG)


def _config(tmp_path, **changes):
    return TrainConfig(model_dir=str(tmp_path / "run"), **{**TINY, **changes})


def test_mixed_bfloat16_trains_and_keeps_float32_logits(tmp_path):
    scores = run.train(_config(tmp_path, mixed_precision="mixed_bfloat16"), verbose=0)
    assert keras.config.dtype_policy().name == "float32"  # restored after the run
    model = keras.saving.load_model(tmp_path / "run" / "last.keras")
    assert model.get_layer("down0_a_conv").dtype_policy.name == "mixed_bfloat16"
    assert model.get_layer("down0_a_conv").compute_dtype == "bfloat16"
    logits = model(np.zeros((1, 64, 64, 3), np.float32))
    assert logits.dtype == tf.float32
    assert 0 <= scores["mean_iou"] <= 1


class _EncoderRecorder(keras.callbacks.Callback):
    """Records the encoder's weights when training starts and after each epoch."""

    def __init__(self):
        super().__init__()
        self.snapshots = []

    def _snapshot(self):
        self.snapshots.append([w.numpy().copy() for w in self.model.get_layer("encoder").weights])

    def on_train_begin(self, logs=None):
        if not self.snapshots:
            self._snapshot()

    def on_epoch_end(self, epoch, logs=None):
        self._snapshot()


def test_the_encoder_stays_frozen_for_its_epochs_then_trains(tmp_path, monkeypatch):
    recorder = _EncoderRecorder()
    make_callbacks = run._callbacks
    monkeypatch.setattr(run, "_callbacks", lambda *args: [*make_callbacks(*args), recorder])
    config = _config(
        tmp_path, model_options={"encoder": "mobilenetv2", "base_filters": 8}, epochs=2, freeze_encoder_epochs=1
    )
    run.train(config, verbose=0)
    start, after_frozen, after_thawed = recorder.snapshots
    assert all(np.array_equal(a, b) for a, b in zip(start, after_frozen))  # batch-norm statistics included
    assert any(not np.array_equal(a, b) for a, b in zip(after_frozen, after_thawed))


def test_median_frequency_class_weights_are_computed_and_saved(tmp_path):
    run.train(_config(tmp_path, class_weights="median_frequency"), verbose=0)
    weights = json.loads((tmp_path / "run" / "class_weights.json").read_text())
    assert list(weights)[:3] == ["sky", "building", "road"]
    present = [value for value in weights.values() if value > 0]
    assert len(present) >= 6 and min(present) < 1 < max(present)  # rare classes up, common ones down
    model = keras.saving.load_model(tmp_path / "run" / "last.keras")
    assert model.loss.class_weights == pytest.approx(list(weights.values()))  # the loss trained with them


def test_a_class_weights_file_must_name_every_class(tmp_path):
    path = tmp_path / "weights.json"
    path.write_text(json.dumps({"sky": 1.0}))
    with pytest.raises(ValueError, match="must give a weight to exactly the classes sky, building"):
        run.train(_config(tmp_path, class_weights=str(path)), verbose=0)


def test_a_nan_loss_ends_fit_before_the_epoch_is_checkpointed(tmp_path):
    images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype(np.float32)
    labels = np.zeros((4, 32, 32, 1), np.int32)
    poisoned = images.copy()
    poisoned[1] = np.nan
    # Epochs 1 and 2 see the clean batches, epoch 3 the poisoned one.
    dataset = tf.data.Dataset.from_tensor_slices(
        (np.concatenate([images, images, poisoned]), np.concatenate([labels] * 3))
    ).batch(4)
    model = build_model("unet", 2, depth=2, base_filters=4)
    model.compile("sgd", "sparse_categorical_crossentropy")
    last = tmp_path / "last.keras"
    with pytest.raises(NonFiniteLossError, match="became nan at step 1"):
        model.fit(
            dataset,
            epochs=3,
            steps_per_epoch=1,
            callbacks=[StopOnNonFiniteLoss(), keras.callbacks.ModelCheckpoint(last)],
            shuffle=False,
            verbose=0,
        )
    saved = keras.saving.load_model(last)
    assert all(np.isfinite(w).all() for w in saved.get_weights())


def test_sqrt_median_frequency_weights_are_the_square_roots_of_median_frequency(tmp_path):
    config = _config(tmp_path)
    spec = data.dataset_spec(config.dataset, **config.dataset_options)
    full = class_weights(dataclasses.replace(config, class_weights="median_frequency"), spec, tmp_path / "full")
    root = class_weights(dataclasses.replace(config, class_weights="sqrt_median_frequency"), spec, tmp_path / "sqrt")
    assert max(full) / min(w for w in full if w > 0) > 2  # far enough apart for the root to show
    assert root == pytest.approx(np.sqrt(full).tolist())
    assert list(json.loads((tmp_path / "sqrt" / "class_weights.json").read_text()).values()) == pytest.approx(root)


def test_a_run_without_validation_keeps_the_last_epoch_and_resumes(tmp_path):
    config = _config(tmp_path, val_split="", epochs=2, tensorboard_images=2)
    scores = run.train(config, verbose=0)
    folder = tmp_path / "run"
    saved = json.loads((folder / "metrics.json").read_text())
    assert saved == scores and saved["split"] is None and saved["validation"].startswith("none")
    assert saved["best_epoch"] == 2 and saved["train_mean_iou_on_crops"] >= 0
    best, last = (keras.saving.load_model(folder / name) for name in ("best.keras", "last.keras"))
    for kept, final in zip(best.get_weights(), last.get_weights()):
        np.testing.assert_array_equal(kept, final)
    header = (folder / "log.csv").read_text().splitlines()[0]
    assert "loss" in header and "val_" not in header
    assert (folder / "tensorboard").is_dir() and not (folder / "tensorboard" / "validation").exists()
    resumed = run.train(dataclasses.replace(config, epochs=3), verbose=0)
    assert resumed["best_epoch"] == 3 and len((folder / "log.csv").read_text().splitlines()) == 4


class _AverageRecorder(keras.callbacks.Callback):
    """Placed after every other callback: records, as each fit begins, as validation begins and
    at each epoch's end, the model's trainable weights and the optimizer's moving averages."""

    def __init__(self):
        super().__init__()
        self.at = {"train_begin": [], "test_begin": [], "epoch_end": [], "train_end": []}

    def _record(self, moment):
        optimizer = self.model.optimizer
        self.at[moment].append(
            (
                [keras.ops.convert_to_numpy(w) for w in optimizer._trainable_variables],
                [keras.ops.convert_to_numpy(a) for a in optimizer._model_variables_moving_average],
            )
        )

    def on_train_begin(self, logs=None):
        self._record("train_begin")

    def on_test_begin(self, logs=None):
        self._record("test_begin")

    def on_epoch_end(self, epoch, logs=None):
        self._record("epoch_end")

    def on_train_end(self, logs=None):
        self._record("train_end")


def _equal(first, second):
    return all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_weight_averages_are_validated_saved_and_kept_on_resume(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"^--ema=1.0 is not valid; expected a momentum in \(0, 1\)"):
        _config(tmp_path, ema=1.0)
    recorder = _AverageRecorder()
    make_callbacks = run._callbacks
    monkeypatch.setattr(run, "_callbacks", lambda *args: [*make_callbacks(*args), recorder])
    config = _config(
        tmp_path,
        ema=0.5,
        epochs=2,
        freeze_encoder_epochs=1,
        model_options={"encoder": "mobilenetv2", "base_filters": 8},
    )
    run.train(config, verbose=0)  # two fits: the encoder frozen in the first
    (trained, averages), (trained_2, averages_2) = recorder.at["epoch_end"]
    assert not _equal(trained, averages)  # after the checkpoints the model holds the trained weights again
    assert _equal(recorder.at["test_begin"][0][0], averages)  # validation ran on the averages
    after_fit, _ = recorder.at["train_end"][0]
    assert _equal(after_fit, trained)  # Keras' finalize_variable_values does not put the averages in
    second_fit = recorder.at["train_begin"][1]
    assert _equal(second_fit[0], trained) and _equal(second_fit[1], averages)  # the second fit trains on
    saved = {w.path: w.numpy() for w in keras.saving.load_model(tmp_path / "run" / "last.keras").weights}
    assert _equal([saved[w.path] for w in recorder.model.optimizer._trainable_variables], averages_2)

    run.train(dataclasses.replace(config, epochs=3), verbose=0)  # resumes from the backup
    resumed = recorder.at["train_begin"][2]
    assert _equal(resumed[0], trained_2) and _equal(resumed[1], averages_2)  # the backup kept both
    assert "finalize_variable_values" not in vars(recorder.model.optimizer)  # Keras' own again after the run
