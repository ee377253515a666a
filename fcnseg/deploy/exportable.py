"""A trained model's graph made ready for TensorFlow export.

A model trained under a mixed-precision policy computes in bfloat16 or float16, which
TFLite's built-in kernels and most serving CPUs do not; `exportable` rebuilds it in
float32 with the same (float32) weights. Keras' own bilinear `UpSampling2D` computes its
output size in Python, so a graph traced for images of any size (a SavedModel signature)
cannot hold it; models saved before fcnseg's `BilinearUpsampling` have it, and
`exportable` swaps it for that layer, sharing every weight. With `delegate_friendly`,
every bilinear upsampling uses the legacy sampling grid (no half-pixel centres), which
the TFLite delegates that reject half-pixel centres accept.
"""

import keras
import tensorflow as tf

from fcnseg.models.layers import BilinearUpsampling, all_layers
from fcnseg.models.precision import float32_model


class LegacyGridUpsampling(keras.layers.Layer):
    """Bilinear upsampling by an integer factor on the legacy grid (`align_corners=False,
    half_pixel_centers=False`), with its output size read at run time.

    Args:
        factor: (int, int). Height and width factors.
        **kwargs: Base layer keyword arguments, such as `name`.
    """

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = tuple(factor)

    def call(self, images):
        size = tf.shape(images)[1:3] * tf.constant(self.factor, tf.int32)
        resized = tf.compat.v1.image.resize_bilinear(images, size, align_corners=False, half_pixel_centers=False)
        return tf.cast(resized, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        scaled = [None if size is None else size * factor for size, factor in zip((height, width), self.factor)]
        return (batch, *scaled, channels)


def exportable(model, delegate_friendly=False):
    """The model in float32, its bilinear upsamplings traceable for any image size.

    Args:
        model: keras.Model.
        delegate_friendly: bool. Sample without half-pixel centres (see the module's docstring).

    Returns:
        A keras.Model with `model`'s weights; `model` itself if it computes in float32 and
        has no upsampling to replace.
    """
    model = float32_model(model)
    wanted = LegacyGridUpsampling if delegate_friendly else BilinearUpsampling
    replaced = [layer for layer in all_layers(model) if _is_bilinear_upsampling(layer) and type(layer) is not wanted]
    if not replaced:
        return model

    def replace(layer):
        return wanted(layer.size, name=layer.name) if layer in replaced else layer

    return keras.models.clone_model(model, clone_function=replace, recursive=True)


def _is_bilinear_upsampling(layer):
    return isinstance(layer, keras.layers.UpSampling2D) and layer.interpolation == "bilinear"
