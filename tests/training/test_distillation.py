"""Pixel-wise distillation: its loss against NumPy, its place in the training loss, and `--teacher`'s checks."""

import json

import keras
import numpy as np
import pytest
from keras import layers
from training.runs import TINY_CONFIG, run_train

from fcnseg import data, models
from fcnseg.training import run
from fcnseg.training.config import TrainConfig
from fcnseg.training.deep_supervision import inference_model
from fcnseg.training.distillation import Distillation, distillation_loss, load_teacher
from fcnseg.training.losses import SegmentationLoss

NUM_CLASSES = 3
SYNTHETIC_CLASSES = data.dataset_spec("synthetic", None).num_classes


def _conv_model(num_classes=NUM_CLASSES, heads=1, seed=0, input_size=(None, None)):
    """Logits of `num_classes` classes at the input's size; `heads` outputs (the first the main)."""
    keras.utils.set_random_seed(seed)
    images = keras.Input((*input_size, 3))
    features = layers.Conv2D(4, 3, padding="same", activation="relu")(layers.Rescaling(1 / 255)(images))
    outputs = [layers.Conv2D(num_classes, 1)(features) for _ in range(heads)]
    return keras.Model(images, outputs if heads > 1 else outputs[0])


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, NUM_CLASSES, (2, 8, 8, 1)).astype("int32")
    labels[0, :2] = 255
    return rng.uniform(0, 255, (2, 8, 8, 3)).astype("float32"), labels


def _numpy_log_softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_the_distillation_loss_is_t_squared_times_the_mean_pixel_kl_divergence(temperature):
    rng = np.random.default_rng(1)
    student = rng.normal(0, 3, (2, 5, 7, NUM_CLASSES)).astype("float32")
    teacher = rng.normal(0, 3, (2, 5, 7, NUM_CLASSES)).astype("float32")
    log_p = _numpy_log_softmax(teacher / temperature)
    log_q = _numpy_log_softmax(student / temperature)
    expected = temperature**2 * (np.exp(log_p) * (log_p - log_q)).sum(axis=-1).mean()
    np.testing.assert_allclose(float(distillation_loss(student, teacher, temperature)), expected, rtol=1e-5)
    assert float(distillation_loss(teacher, teacher, temperature)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("heads", [1, 2])
def test_the_training_loss_adds_the_weighted_distillation_term_in_training_only(heads):
    images, labels = _batch()
    teacher = _conv_model(seed=1)
    auxiliary_weights = [0.4] * (heads - 1)
    model = Distillation(_conv_model(heads=heads), auxiliary_weights, teacher, temperature=2.0, weight=0.5)
    loss = SegmentationLoss(NUM_CLASSES, [1.0, 2.0, 0.5])
    model.compile(keras.optimizers.Adam(1e-2), loss)
    outputs = model.network(images, training=True)
    main, *auxiliary = outputs if heads > 1 else [outputs]
    own = float(loss(labels, main)) + sum(0.4 * float(loss(labels, logits)) for logits in auxiliary)
    expected = own + 0.5 * float(distillation_loss(main, teacher(images), 2.0))
    total = model.compute_loss(images, labels, model(images, training=True), training=True)
    np.testing.assert_allclose(float(total), expected, rtol=1e-5)
    validation = model.compute_loss(images, labels, model(images, training=False), training=False)
    np.testing.assert_allclose(float(validation), float(loss(labels, main)), rtol=1e-5)


def test_training_moves_the_student_toward_the_teacher_and_leaves_the_teacher_alone():
    images, labels = _batch(2)
    teacher = _conv_model(seed=1)
    teacher_weights = [weight.copy() for weight in teacher.get_weights()]
    student = _conv_model(seed=2)
    model = Distillation(student, [], teacher, temperature=1.0, weight=1.0)
    model.compile(keras.optimizers.Adam(1e-2), SegmentationLoss(NUM_CLASSES))
    before = float(distillation_loss(student(images), teacher(images), 1.0))
    model.fit(images, np.full_like(labels, 255), batch_size=2, epochs=30, verbose=0)  # no labels: distillation alone
    assert float(distillation_loss(student(images), teacher(images), 1.0)) < 0.5 * before
    for kept, now in zip(teacher_weights, teacher.get_weights()):
        np.testing.assert_array_equal(kept, now)
    assert inference_model(model).count_params() == student.count_params()


@pytest.fixture(scope="module")
def teachers(tmp_path_factory):
    """Model files for `--teacher`: a good one (3 classes), one of 5 classes, one with two outputs,
    one of a fixed 32x32 input, and a file that is no model."""
    folder = tmp_path_factory.mktemp("teachers")
    models = {
        "good": _conv_model(),
        "five_classes": _conv_model(num_classes=5),
        "two_outputs": _conv_model(heads=2),
        "fixed_size": _conv_model(input_size=(32, 32)),
    }
    paths = {}
    for name, model in models.items():
        paths[name] = folder / f"{name}.keras"
        model.save(paths[name])
    paths["corrupt"] = folder / "corrupt.keras"
    paths["corrupt"].write_bytes(b"not a zip file")
    return paths


@pytest.mark.parametrize(
    "teacher, changes, message",
    [
        ("missing", {}, "--teacher={}: no such file"),
        ("corrupt", {}, "--teacher={}: not a Keras model file"),
        ("five_classes", {}, "--teacher={} predicts 5 classes; the dataset has 3."),
        ("two_outputs", {}, "--teacher={} gives 2 outputs; expected one output of logits."),
        ("fixed_size", {}, "--teacher={} cannot take --crop_size=64,64"),
        ("good", {"distillation_temperature": 0.0}, "--distillation_temperature=0.0 is not valid"),
        ("good", {"distillation_weight": -1.0}, "--distillation_weight=-1.0 is not valid"),
        (None, {"distillation_weight": 2.0}, "--distillation_weight applies only with --teacher."),
        (None, {"distillation_temperature": 2.0}, "--distillation_temperature applies only with --teacher."),
    ],
)
def test_a_bad_teacher_fails_in_one_line_naming_the_flag_before_training(tmp_path, teachers, teacher, changes, message):
    path = None if teacher is None else str(teachers.get(teacher, tmp_path / "missing.keras"))
    with pytest.raises(ValueError) as error:
        config = TrainConfig(model_dir=str(tmp_path / "run"), crop_size=(64, 64), teacher=path, **changes)
        load_teacher(config.teacher, NUM_CLASSES, config.crop_size)
    assert message.format(path) in str(error.value)
    assert "\n" not in str(error.value)


def test_a_good_teacher_loads_as_a_model_of_the_datasets_classes(teachers):
    teacher = load_teacher(str(teachers["good"]), NUM_CLASSES, (64, 64))
    assert teacher(np.zeros((1, 64, 96, 3), np.float32)).shape == (1, 64, 96, NUM_CLASSES)


@pytest.mark.slow
def test_a_distilled_run_saves_the_student_alone_and_records_its_teacher(tmp_path):
    teacher = tmp_path / "teacher.keras"
    _conv_model(num_classes=SYNTHETIC_CLASSES).save(teacher)
    config = TrainConfig(
        model_dir=str(tmp_path / "run"),
        model="unet",
        model_options={"depth": 2, "base_filters": 8},
        teacher=str(teacher),
        distillation_temperature=2.0,
        tensorboard_images=1,
        **TINY_CONFIG,
    )
    scores = run.train(config, verbose=0)
    assert 0 <= scores["mean_iou"] <= 1
    best = keras.saving.load_model(tmp_path / "run" / "best.keras")
    assert best.count_params() == models.build_model("unet", SYNTHETIC_CLASSES, depth=2, base_filters=8).count_params()
    recorded = json.loads((tmp_path / "run" / "run_config.json").read_text())
    assert recorded["teacher"] == str(teacher) and recorded["distillation_temperature"] == 2.0


@pytest.mark.slow
def test_the_train_command_names_a_teacher_of_other_classes_in_one_line(tmp_path):
    teacher = tmp_path / "teacher.keras"
    _conv_model(num_classes=SYNTHETIC_CLASSES + 1).save(teacher)
    result = run_train(tmp_path / "run", f"--teacher={teacher}")
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: --teacher={teacher} predicts {SYNTHETIC_CLASSES + 1} classes; the dataset has {SYNTHETIC_CLASSES}."
    )
    assert not (tmp_path / "run" / "run_config.json").exists()
