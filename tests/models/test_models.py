"""Behaviour every model in the registry promises, run on each of them."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import fcnseg
from fcnseg.models import model_options
from fcnseg.models.layers import all_layers
from model_cases import CASES, NUM_CLASSES, shared_model


def _images(batch, height, width, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (batch, height, width, 3)).astype("float32")


@pytest.mark.parametrize("name, options", CASES)
@pytest.mark.parametrize("height, width", [(64, 64), (96, 128)])
def test_logits_are_float32_at_input_resolution(name, options, height, width):
    logits = shared_model(name, options)(_images(2, height, width))
    assert logits.dtype == tf.float32
    assert tuple(logits.shape) == (2, height, width, NUM_CLASSES)
    assert np.isfinite(logits.numpy()).all()


@pytest.mark.parametrize("name, options", CASES)
def test_fixed_input_shape(name, options):
    model = fcnseg.build_model(name, NUM_CLASSES, input_shape=(64, 96, 3), **options)
    assert tuple(model.output.shape) == (None, 64, 96, NUM_CLASSES)


@pytest.mark.parametrize("name, options", CASES)
def test_uint8_input_gives_the_float32_output(name, options):
    model = shared_model(name, options)
    pixels = np.random.default_rng(1).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    from_float = model(pixels.astype("float32")).numpy()
    np.testing.assert_array_equal(model(pixels).numpy(), from_float)
    np.testing.assert_array_equal(model(tf.constant(pixels)).numpy(), from_float)


@pytest.mark.parametrize("name, options", CASES)
def test_keras_file_round_trip_gives_identical_outputs(name, options, tmp_path):
    model = shared_model(name, options)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    images = _images(2, 64, 64)
    np.testing.assert_array_equal(reloaded(images).numpy(), model(images).numpy())


@pytest.mark.parametrize("name, options", CASES)
def test_has_no_lambda_layers(name, options):
    lambdas = [
        layer.name for layer in all_layers(shared_model(name, options)) if isinstance(layer, keras.layers.Lambda)
    ]
    assert lambdas == []


@pytest.mark.parametrize("name, options", CASES)
def test_one_training_step_lowers_the_loss(name, options):
    # Dropout off, so the training-mode loss before and after the step is deterministic.
    if "dropout" in model_options(name):
        options = {**options, "dropout": 0.0}
    keras.utils.set_random_seed(0)
    model = fcnseg.build_model(name, NUM_CLASSES, **options)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    # Plain SGD with a step small enough for first-order descent on every model: batch norm over
    # two images makes DeepLab's image-pooling branch sharp enough that 1e-3 can overshoot.
    model.compile(optimizer=keras.optimizers.SGD(1e-4), loss=loss)
    images = _images(2, 64, 64)
    labels = (images[..., :1] > 127).astype("int32")  # learnable from the pixels
    before = float(loss(labels, model(images, training=True)))
    model.train_on_batch(images, labels)
    after = float(loss(labels, model(images, training=True)))
    assert after < before


@pytest.mark.parametrize("name, options", CASES)
def test_mixed_precision_keeps_float32_logits(name, options):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = fcnseg.build_model(name, NUM_CLASSES, **options)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    compute_dtypes = {layer.compute_dtype for layer in all_layers(model) if isinstance(layer, keras.layers.Conv2D)}
    assert compute_dtypes == {"bfloat16"}
    logits = model(_images(2, 64, 64))
    assert logits.dtype == tf.float32
    assert np.isfinite(logits.numpy()).all()


@pytest.mark.parametrize("name, options", CASES)
def test_runs_in_a_graph_traced_for_any_image_size(name, options):
    # Validation on frames of several sizes, or a `reduce_retracing` retrace, traces the
    # model with unknown height and width: Keras' bilinear UpSampling2D cannot run there.
    model = shared_model(name, options)
    step = tf.function(
        lambda images: model(images, training=True),
        input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
        autograph=False,
    )
    for height, width in ((64, 64), (96, 128)):
        logits = step(tf.constant(_images(1, height, width)))
        assert logits.shape == (1, height, width, NUM_CLASSES)
        assert np.isfinite(logits.numpy()).all()


@pytest.mark.parametrize("name", ["fcn32s_vgg16", "fcn16s_vgg16", "fcn8s_vgg16", "fcn8s_resnet50"])
def test_fcn_upsampling_starts_as_bilinear_resize(name):
    model = shared_model(name, {})
    upsamplings = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2DTranspose)]
    assert upsamplings, "an FCN upsamples with transposed convolutions"
    rows, cols = np.meshgrid(np.linspace(0, 1, 8), np.linspace(0, 1, 8), indexing="ij")
    smooth = np.stack([np.sin(rows * 2 + cols + channel) for channel in range(NUM_CLASSES)], axis=-1)[None]
    for layer in upsamplings:
        factor = layer.strides[0]
        expected = tf.image.resize(smooth, (8 * factor, 8 * factor), "bilinear").numpy()
        interior = slice(factor, -factor)
        got = layer(smooth.astype("float32")).numpy()
        np.testing.assert_allclose(got[:, interior, interior], expected[:, interior, interior], atol=1e-5)
    # The paper keeps the last upsampling fixed and learns the others.
    assert [layer.trainable for layer in upsamplings] == [True] * (len(upsamplings) - 1) + [False]
