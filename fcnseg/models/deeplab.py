"""DeepLabV3+ on MobileNetV2 and ResNet50.

Chen, Zhu, Papandreou, Schroff and Adam, "Encoder-Decoder with Atrous Separable
Convolution for Semantic Image Segmentation", ECCV 2018 (arXiv:1802.02611): an encoder
with atrous convolution at output stride 16 or 8, atrous spatial pyramid pooling (ASPP)
with image pooling, and a decoder that refines with stride-4 features. ASPP and decoder
use plain (not depthwise separable) convolutions, as for ResNet in DeepLabV3.
"""

import keras
from keras import layers

from fcnseg.models.backbones import ENCODERS, build_encoder
from fcnseg.models.layers import BilinearUpsampling, ResizeLike, conv_bn_relu, float32_logits, image_input

_ASPP_RATES_AT_STRIDE_16 = (6, 12, 18)
_FILTERS = 256
_LOW_LEVEL_FILTERS = 48


def deeplabv3plus_mobilenetv2(num_classes, input_shape=(None, None, 3), encoder_weights=None, *, output_stride=16):
    """DeepLabV3+ on MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018).

    Args:
        num_classes: int. The number of classes.
        input_shape: tuple. `(height, width, 3)`; height and width divisible by
            `output_stride` or None.
        encoder_weights: None, "imagenet", or a path to the encoder's weights file of
            `keras.applications` without its classifier.
        output_stride: int. 16 or 8: the encoder's total downsampling. ASPP rates are
            6, 12, 18 at 16 and doubled at 8. Defaults to 16.
    """
    return _deeplabv3plus("mobilenetv2", num_classes, input_shape, encoder_weights, output_stride)


def deeplabv3plus_resnet50(num_classes, input_shape=(None, None, 3), encoder_weights=None, *, output_stride=16):
    """DeepLabV3+ on ResNet50 (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016).

    Args: as `deeplabv3plus_mobilenetv2`.
    """
    return _deeplabv3plus("resnet50", num_classes, input_shape, encoder_weights, output_stride)


def _deeplabv3plus(encoder_name, num_classes, input_shape, encoder_weights, output_stride):
    name = f"deeplabv3plus_{encoder_name}"
    if output_stride not in (8, 16):
        raise ValueError(f"output_stride={output_stride!r} is not valid for {name}; expected 8 or 16.")
    inputs = image_input(input_shape, output_stride)
    spec = ENCODERS[encoder_name]
    low_level, high_level = spec.features[4], spec.features[32]
    features = build_encoder(encoder_name, encoder_weights, [low_level, high_level], output_stride)(inputs)
    rates = tuple(rate * 16 // output_stride for rate in _ASPP_RATES_AT_STRIDE_16)
    x = _atrous_spatial_pyramid_pooling(features[high_level], rates)
    x = BilinearUpsampling(output_stride // 4, name="decoder_upsample")(x)
    skip = conv_bn_relu(features[low_level], _LOW_LEVEL_FILTERS, 1, "decoder_low_level")
    x = layers.Concatenate(name="decoder_concat")([x, skip])
    x = conv_bn_relu(x, _FILTERS, 3, "decoder_a")
    x = conv_bn_relu(x, _FILTERS, 3, "decoder_b")
    x = layers.Conv2D(num_classes, 1, name="classifier")(x)
    x = BilinearUpsampling(4, name="upsample")(x)
    return keras.Model(inputs, float32_logits(x), name=name)


def _atrous_spatial_pyramid_pooling(x, rates):
    """A 1x1 branch, one 3x3 branch per atrous rate and an image-pooling branch, fused by 1x1."""
    branches = [conv_bn_relu(x, _FILTERS, 1, "aspp_1x1")]
    branches += [conv_bn_relu(x, _FILTERS, 3, f"aspp_rate{rate}", dilation_rate=rate) for rate in rates]
    pooled = layers.GlobalAveragePooling2D(keepdims=True, name="aspp_image_pool")(x)
    pooled = conv_bn_relu(pooled, _FILTERS, 1, "aspp_image_pool")
    branches.append(ResizeLike(name="aspp_image_pool_resize")([pooled, x]))
    x = layers.Concatenate(name="aspp_concat")(branches)
    return conv_bn_relu(x, _FILTERS, 1, "aspp_projection")
