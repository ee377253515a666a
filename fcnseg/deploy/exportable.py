"""A trained model's graph made ready for TensorFlow export.

A model trained under a mixed-precision policy computes in bfloat16 or float16, which
TFLite's built-in kernels and most serving CPUs do not; `exportable` rebuilds it in
float32 with the same (float32) weights. Keras' bilinear `UpSampling2D` computes its output size in Python, so a graph traced
for images of any size (a SavedModel signature) cannot hold it. `exportable` rebuilds
the model with TensorFlow resizes that read the size at run time, sharing every weight.
With `delegate_friendly`, those resizes use the legacy sampling grid (no half-pixel
centres), which the TFLite delegates that reject half-pixel centres accept.
"""

import keras
import tensorflow as tf

from fcnseg.models.layers import all_layers
from fcnseg.models.precision import float32_model


class RuntimeBilinearUpsampling(keras.layers.Layer):
    """Bilinear upsampling by an integer factor whose output size is read at run time.

    Args:
        factor: (int, int). Height and width factors.
        half_pixel_centers: bool. True samples as `tf.image.resize` (and Keras) do; False
            uses the legacy grid (`align_corners=False, half_pixel_centers=False`).
        **kwargs: Base layer keyword arguments, such as `name`.
    """

    def __init__(self, factor, half_pixel_centers=True, **kwargs):
        super().__init__(**kwargs)
        self.factor = tuple(factor)
        self.half_pixel_centers = half_pixel_centers

    def call(self, images):
        size = tf.shape(images)[1:3] * tf.constant(self.factor, tf.int32)
        if self.half_pixel_centers:
            resized = tf.image.resize(images, size, "bilinear")
        else:
            resized = tf.compat.v1.image.resize_bilinear(images, size, align_corners=False, half_pixel_centers=False)
        return tf.cast(resized, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        scaled = [None if size is None else size * factor for size, factor in zip((height, width), self.factor)]
        return (batch, *scaled, channels)


def exportable(model, delegate_friendly=False):
    """The model in float32, with its bilinear `UpSampling2D` layers replaced by `RuntimeBilinearUpsampling`.

    Args:
        model: keras.Model.
        delegate_friendly: bool. Sample without half-pixel centres (see the module's docstring).

    Returns:
        A keras.Model with `model`'s weights; `model` itself if it computes in float32 and
        holds no bilinear `UpSampling2D`.
    """
    model = float32_model(model)
    upsamplings = [
        layer
        for layer in all_layers(model)
        if isinstance(layer, keras.layers.UpSampling2D) and layer.interpolation == "bilinear"
    ]
    if not upsamplings:
        return model

    def replace(layer):
        if layer in upsamplings:
            return RuntimeBilinearUpsampling(layer.size, not delegate_friendly, name=layer.name)
        return layer

    return keras.models.clone_model(model, clone_function=replace, recursive=True)
