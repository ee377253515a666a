"""The shared layers and the encoders, checked against Keras' own reference functions."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fcnseg.models.backbones import ENCODERS, build_encoder
from fcnseg.models.layers import ImageNormalization, ResizeLike, bilinear_upsampling


@pytest.mark.parametrize("mode", ["caffe", "tf"])
@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_normalization_matches_keras_applications_preprocessing(mode, dtype):
    pixels = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3)).astype(dtype)
    expected = keras.applications.imagenet_utils.preprocess_input(pixels.astype("float32"), mode=mode)
    got = ImageNormalization(mode)(pixels).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_normalization_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="'torch'.*expected one of"):
        ImageNormalization("torch")


@pytest.mark.parametrize("factor", [2, 4, 8, 16, 32])
def test_bilinear_upsampling_reproduces_tf_image_resize(factor):
    rows, cols = np.meshgrid(np.linspace(0, 2, 6), np.linspace(0, 3, 5), indexing="ij")
    smooth = np.stack([np.cos(rows + cols), np.sin(rows * cols), rows - cols], axis=-1)[None].astype("float32")
    got = bilinear_upsampling(3, factor, name="up")(smooth).numpy()
    expected = tf.image.resize(smooth, (6 * factor, 5 * factor), "bilinear").numpy()
    assert got.shape == expected.shape
    inner = slice(factor, -factor)  # the borders see the transposed convolution's zero padding
    np.testing.assert_allclose(got[:, inner, inner], expected[:, inner, inner], atol=1e-5)


def test_resize_like_follows_the_reference_size_at_run_time():
    images = keras.Input((None, None, 4))
    reference = keras.Input((None, None, 1))
    model = keras.Model([images, reference], ResizeLike()([images, reference]))
    pooled = np.arange(8, dtype="float32").reshape(2, 1, 1, 4)
    out = model([pooled, np.zeros((2, 5, 7, 1), "float32")]).numpy()
    assert out.shape == (2, 5, 7, 4)
    np.testing.assert_allclose(out, np.broadcast_to(pooled, out.shape))
    # Also in a graph whose size is unknown until run time, as in an exported model.
    traced = tf.function(
        model, input_signature=[[tf.TensorSpec([None, 1, 1, 4]), tf.TensorSpec([None, None, None, 1])]]
    )
    np.testing.assert_allclose(
        traced([pooled, np.zeros((2, 3, 9, 1), "float32")]), np.broadcast_to(pooled, (2, 3, 9, 4))
    )
    larger = np.arange(2 * 2 * 3 * 4, dtype="float32").reshape(2, 2, 3, 4)
    np.testing.assert_allclose(
        model([larger, np.zeros((2, 4, 6, 1), "float32")]), tf.image.resize(larger, (4, 6), "bilinear"), atol=1e-6
    )


@pytest.mark.parametrize("name", ["resnet50", "mobilenetv2", "mobilenetv3_large", "mobilenetv3_small"])
@pytest.mark.parametrize("output_stride", [8, 16, 32])
def test_dilated_encoder_keeps_resolution_and_weights(name, output_stride):
    top = ENCODERS[name].features[32]
    keras.utils.set_random_seed(0)
    reference = build_encoder(name, None, [top])
    keras.utils.set_random_seed(0)
    encoder = build_encoder(name, None, [top], output_stride)
    features = encoder(np.zeros((1, 64, 96, 3), "float32"))[top]
    assert tuple(features.shape[1:3]) == (64 // output_stride, 96 // output_stride)
    for got, expected in zip(encoder.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(got, expected)
    dilations = {
        layer.dilation_rate[0]
        for layer in encoder.layers
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))
    }
    assert max(dilations) == 32 // output_stride


def test_encoder_without_dilation_support_says_so():
    with pytest.raises(ValueError, match="'vgg16' only supports output_stride=32"):
        build_encoder("vgg16", None, ["block5_pool"], output_stride=16)
