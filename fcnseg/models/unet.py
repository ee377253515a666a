"""U-Net with batch normalisation, from scratch or on an ImageNet encoder.

Ronneberger, Fischer and Brox, "U-Net: Convolutional Networks for Biomedical Image
Segmentation", MICCAI 2015 (arXiv:1505.04597); batch normalisation after every
convolution as in Ioffe and Szegedy, ICML 2015. Convolutions use "same" padding, so
the output has the input's size and no cropping of skips is needed.
"""

import keras
from keras import layers

from fcnseg.models.backbones import ENCODERS, build_encoder
from fcnseg.models.layers import ImageNormalization, conv_bn_relu, float32_logits, image_input

_ENCODER_DEPTH = 5  # ImageNet encoders downsample 2**5 = 32 times.


def unet(num_classes, input_shape=(None, None, 3), encoder_weights=None, *, encoder=None, depth=None, base_filters=64):
    """U-Net: a contracting path, an expanding path, and skips between levels of one size.

    Every level holds two 3x3 convolutions with batch norm and ReLU; the expanding path
    upsamples with 2x2 transposed convolutions that halve the channels, as in the paper.

    Args:
        num_classes: int. The number of classes.
        input_shape: tuple. `(height, width, 3)`; height and width divisible by
            `2**depth` (32 with an encoder) or None.
        encoder_weights: None, "imagenet", or a path to the encoder's weights file of
            `keras.applications` without its classifier. Needs `encoder`.
        encoder: str or None. None for the paper's contracting path trained from
            scratch, or one of "vgg16", "resnet50", "mobilenetv2" to take it from
            `keras.applications`. Defaults to None.
        depth: int or None. Number of 2x downsamplings of the contracting path.
            Defaults to 4 (the paper) without an encoder; an encoder fixes it at 5.
        base_filters: int. Channels of the first level, doubled at each level down.
            Defaults to 64.
    """
    if not isinstance(base_filters, int) or base_filters < 1:
        raise ValueError(f"base_filters={base_filters!r} is not valid for unet; expected a positive integer.")
    if encoder is None:
        return _unet_from_scratch(
            num_classes, input_shape, encoder_weights, 4 if depth is None else depth, base_filters
        )
    if encoder not in ENCODERS:
        raise ValueError(f"encoder={encoder!r} is not valid for unet; expected None or one of {list(ENCODERS)}.")
    if depth not in (None, _ENCODER_DEPTH):
        raise ValueError(f"depth={depth!r} is not valid for unet with encoder={encoder!r}; it is fixed at 5.")
    inputs = image_input(input_shape, 2**_ENCODER_DEPTH)
    spec = ENCODERS[encoder]
    taps = [spec.features[2**level] for level in range(_ENCODER_DEPTH + 1) if 2**level in spec.features]
    features = build_encoder(encoder, encoder_weights, taps)(inputs)
    skips = [features.get(spec.features.get(2**level)) for level in range(_ENCODER_DEPTH)]
    bottom = features[spec.features[2**_ENCODER_DEPTH]]
    logits = _expanding_path(bottom, skips, base_filters, num_classes)
    return keras.Model(inputs, logits, name=f"unet_{encoder}")


def _unet_from_scratch(num_classes, input_shape, encoder_weights, depth, base_filters):
    if not isinstance(depth, int) or not 1 <= depth <= 7:
        raise ValueError(f"depth={depth!r} is not valid for unet; expected an integer from 1 to 7.")
    if encoder_weights is not None:
        raise ValueError(
            "unet without an encoder has no pretrained weights; pass encoder_weights=None, or choose "
            f"an encoder from {list(ENCODERS)}."
        )
    inputs = image_input(input_shape, 2**depth)
    x = ImageNormalization("tf", name="normalization")(inputs)
    skips = []
    for level in range(depth):
        x = _double_conv(x, base_filters * 2**level, f"down{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"down{level}_pool")(x)
    x = _double_conv(x, base_filters * 2**depth, "bottleneck")
    logits = _expanding_path(x, skips, base_filters, num_classes)
    return keras.Model(inputs, logits, name="unet")


def _expanding_path(x, skips, base_filters, num_classes):
    """Upsamples level by level, concatenating each level's skip where there is one."""
    for level in reversed(range(len(skips))):
        filters = base_filters * 2**level
        x = layers.Conv2DTranspose(filters, 2, strides=2, name=f"up{level}_upconv")(x)
        if skips[level] is not None:
            x = layers.Concatenate(name=f"up{level}_concat")([x, skips[level]])
        x = _double_conv(x, filters, f"up{level}")
    return float32_logits(layers.Conv2D(num_classes, 1, name="classifier")(x))


def _double_conv(x, filters, name):
    x = conv_bn_relu(x, filters, 3, f"{name}_a")
    return conv_bn_relu(x, filters, 3, f"{name}_b")
