"""Small building blocks shared by the segmentation models.

Custom layers and initialisers are registered with Keras under the package name
`fcnseg`, so a saved `.keras` model loads with `keras.saving.load_model` once
`fcnseg` has been imported.
"""

import keras
import numpy as np
from keras import layers, ops

_RGB_TO_BGR = (2, 1, 0)
# Per-channel ImageNet means in BGR order, as `keras.applications` subtracts them in
# "caffe" mode (VGG16, ResNet50).
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
NORMALIZATION_MODES = ("caffe", "tf")


@keras.saving.register_keras_serializable(package="fcnseg")
class ImageNormalization(layers.Layer):
    """Turns raw RGB pixels (0..255, any numeric dtype) into an encoder's input range.

    The layer always computes in float32, also under a mixed-precision policy, so
    the mean subtraction is exact; the next layer casts to its compute dtype.

    Args:
        mode: str. `"caffe"`: RGB to BGR, then subtract the ImageNet channel means
            (VGG16, ResNet50). `"tf"`: scale to [-1, 1] (MobileNetV2). The names
            are those of `keras.applications.imagenet_utils.preprocess_input`.
        **kwargs: Base layer keyword arguments, such as `name`.
    """

    def __init__(self, mode, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        if mode not in NORMALIZATION_MODES:
            raise ValueError(f"Unknown normalization mode {mode!r}; expected one of {NORMALIZATION_MODES}.")
        self.mode = mode

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        if self.mode == "tf":
            return x / 127.5 - 1.0
        # A gather, not a flip: LiteRT's int8 REVERSE_V2 keeps the input's bytes under new
        # quantization parameters, which garbled every caffe-normalised model's input in int8.
        bgr = ops.take(x, _RGB_TO_BGR, axis=-1)
        return bgr - ops.convert_to_tensor(_CAFFE_BGR_MEAN, "float32")

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.pop("dtype", None)
        config["mode"] = self.mode
        return config


@keras.saving.register_keras_serializable(package="fcnseg")
class BilinearUpsamplingKernel(keras.initializers.Initializer):
    """Initialises a `Conv2DTranspose` kernel to bilinear interpolation, channel by channel.

    With kernel size `2 * factor`, stride `factor` and `"same"` padding, the layer then
    reproduces bilinear resizing with half-pixel centres (`tf.image.resize`), as in
    Long et al., "Fully Convolutional Networks for Semantic Segmentation", CVPR 2015.
    The kernel shape must be `(k, k, channels, channels)`.
    """

    def __call__(self, shape, dtype=None):
        size, width, out_channels, in_channels = shape
        if size != width or out_channels != in_channels:
            raise ValueError(f"A bilinear kernel must be square with as many outputs as inputs; got shape {shape}.")
        factor = (size + 1) // 2
        center = factor - 1 if size % 2 == 1 else factor - 0.5
        profile = 1.0 - np.abs(np.arange(size) - center) / factor
        kernel = np.zeros(shape, dtype="float32")
        kernel[:, :, np.arange(out_channels), np.arange(in_channels)] = np.outer(profile, profile)[..., None]
        return ops.convert_to_tensor(kernel, dtype=dtype)

    def get_config(self):
        return {}


def resize(images, size, interpolation="bilinear"):
    """`keras.ops.image.resize` of channels-last `images`, also to a size known only at run time.

    Keras checks `size` with Python comparisons, which a TensorFlow graph traced for
    images of any size (a validation set of several frame sizes, a `reduce_retracing`
    retrace) cannot evaluate. Only that backend traces with unknown sizes, so there the
    resize goes to `tf.image.resize`, the op Keras itself calls.
    """
    if all(isinstance(length, int) for length in size):
        return ops.image.resize(images, size, interpolation=interpolation)
    import tensorflow as tf  # noqa: PLC0415 - reached only under the TensorFlow backend

    return tf.image.resize(images, tf.stack(size), method=interpolation)


@keras.saving.register_keras_serializable(package="fcnseg")
class BilinearUpsampling(layers.UpSampling2D):
    """Keras' bilinear `UpSampling2D`, also in graphs traced for inputs of any size.

    Args:
        size: int or (int, int). Height and width factors.
        **kwargs: `UpSampling2D` keyword arguments (channels-last only).
    """

    def __init__(self, size=2, **kwargs):
        kwargs.setdefault("interpolation", "bilinear")
        super().__init__(size, **kwargs)
        if self.data_format != "channels_last":
            raise ValueError(f"{type(self).__name__} takes channels-last images only.")

    def call(self, inputs):
        shape = ops.shape(inputs)
        return resize(inputs, (shape[1] * self.size[0], shape[2] * self.size[1]), self.interpolation)


@keras.saving.register_keras_serializable(package="fcnseg")
class ResizeLike(layers.Layer):
    """Resizes its first input to the height and width of its second input.

    Call it on `[images, reference]`; works with shapes only known at run time.

    Args:
        interpolation: str. Any interpolation `keras.ops.image.resize` accepts.
            Defaults to `"bilinear"`.
        **kwargs: Base layer keyword arguments, such as `name`.
    """

    def __init__(self, interpolation="bilinear", **kwargs):
        super().__init__(**kwargs)
        self.interpolation = interpolation

    def call(self, inputs):
        images, reference = inputs
        if images.shape[1] == 1 and images.shape[2] == 1:
            # Resizing a 1x1 map gives its value everywhere; broadcasting does so without the
            # static size `ops.image.resize` needs (an exported graph may take any size).
            return ops.cast(images * ops.ones_like(reference[..., :1]), self.compute_dtype)
        resized = resize(images, ops.shape(reference)[1:3], self.interpolation)
        return ops.cast(resized, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        images_shape, reference_shape = input_shape
        return (images_shape[0], reference_shape[1], reference_shape[2], images_shape[3])

    def get_config(self):
        config = super().get_config()
        config["interpolation"] = self.interpolation
        return config


def image_input(input_shape, divisor):
    """Returns the `keras.Input` of a model, after checking that its size divides by `divisor`.

    Args:
        input_shape: tuple. `(height, width, 3)`; height and width may be `None`.
        divisor: int. The model's total downsampling factor.

    Returns:
        A float32 `keras.Input` for raw RGB pixels.
    """
    height, width, _ = input_shape
    for axis, size in (("height", height), ("width", width)):
        if size is not None and size % divisor:
            raise ValueError(
                f"Input {axis} {size} (input_shape={tuple(input_shape)}) is not divisible by {divisor}, "
                f"the model's downsampling factor; pad or resize images to a multiple of {divisor}."
            )
    return keras.Input(shape=tuple(input_shape), dtype="float32", name="image")


def float32_logits(x):
    """Casts the head's output to float32 logits, whatever the dtype policy."""
    return layers.Activation("linear", dtype="float32", name="logits")(x)


def bilinear_upsampling(channels, factor, name, trainable=True):
    """Returns a transposed convolution initialised to `factor`x bilinear upsampling."""
    return layers.Conv2DTranspose(
        channels,
        kernel_size=2 * factor,
        strides=factor,
        padding="same",
        use_bias=False,
        kernel_initializer=BilinearUpsamplingKernel(),
        trainable=trainable,
        name=name,
    )


def conv_bn_relu(x, filters, kernel_size, name, dilation_rate=1, strides=1):
    """Convolution (no bias), batch normalisation and ReLU."""
    return layers.Activation("relu", name=f"{name}_relu")(conv_bn(x, filters, kernel_size, name, dilation_rate, strides))


def conv_bn(x, filters, kernel_size, name, dilation_rate=1, strides=1):
    """Convolution (no bias, "same" padding) and batch normalisation."""
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        dilation_rate=dilation_rate,
        use_bias=False,
        name=f"{name}_conv",
    )(x)
    return layers.BatchNormalization(name=f"{name}_bn")(x)


def depthwise_bn(x, kernel_size, name, strides=1, depth_multiplier=1):
    """Depthwise convolution (no bias, "same" padding) and batch normalisation."""
    x = layers.DepthwiseConv2D(
        kernel_size,
        strides=strides,
        padding="same",
        depth_multiplier=depth_multiplier,
        use_bias=False,
        name=f"{name}_dwconv",
    )(x)
    return layers.BatchNormalization(name=f"{name}_bn")(x)


def all_layers(model):
    """Every layer of a model, and of the models nested in it (such as its encoder), depth first."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from all_layers(layer)
