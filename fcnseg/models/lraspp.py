"""LR-ASPP on MobileNetV3: the segmentation head of "Searching for MobileNetV3".

Howard, Sandler, Chu, Chen, Chen, Tan, Wang, Zhu, Pang, Vasudevan, Le and Adam,
"Searching for MobileNetV3", ICCV 2019 (arXiv:1905.02244), section 6.4: the encoder's
last stage is atrous (output stride 16); its features pass a 1x1 convolution (128
channels, batch norm, ReLU) that a squeeze-and-excitation-like branch (global average
pooling, 1x1 convolution, sigmoid) scales; they are upsampled 2x and classified by a 1x1
convolution, and added to a 1x1 classification of the stride-8 features. The paper pools
with a large fixed window at its training size (49x49 at 1024x2048); a global average
pooling, as torchvision's and TF Model Garden's LR-ASPP use, does the same at any size.
"""

import keras
from keras import layers

from fcnseg.models.backbones import ENCODERS, build_encoder
from fcnseg.models.layers import BilinearUpsampling, conv_bn_relu, float32_logits, image_input

_HEAD_CHANNELS = 128


def lraspp_mobilenetv3_large(
    num_classes, input_shape=(None, None, 3), encoder_weights=None, *, output_stride=16, minimalistic=False
):
    """LR-ASPP on MobileNetV3-Large.

    Args:
        num_classes: int. The number of classes.
        input_shape: tuple. `(height, width, 3)`; height and width divisible by 32 or None.
        encoder_weights: None, "imagenet", or a path to the weights file of
            `keras.applications.MobileNetV3Large` without its classifier (`include_top=False`,
            with the same `minimalistic`).
        output_stride: int. 8, 16 or 32: the encoder's total downsampling; stages below it
            are atrous. Defaults to 16, as in the paper.
        minimalistic: bool. The encoder without squeeze-and-excitation and hard-swish, with
            3x3 kernels only: the variant GPU, NNAPI and Edge TPU delegates run best.
            Defaults to False.
    """
    return _lraspp("mobilenetv3_large", num_classes, input_shape, encoder_weights, output_stride, minimalistic)


def lraspp_mobilenetv3_small(
    num_classes, input_shape=(None, None, 3), encoder_weights=None, *, output_stride=16, minimalistic=False
):
    """LR-ASPP on MobileNetV3-Small.

    Args: as `lraspp_mobilenetv3_large`, with `keras.applications.MobileNetV3Small`.
    """
    return _lraspp("mobilenetv3_small", num_classes, input_shape, encoder_weights, output_stride, minimalistic)


def _lraspp(encoder_name, num_classes, input_shape, encoder_weights, output_stride, minimalistic):
    name = f"lraspp_{encoder_name}"
    if output_stride not in (8, 16, 32):
        raise ValueError(f"output_stride={output_stride!r} is not valid for {name}; expected 8, 16 or 32.")
    if not isinstance(minimalistic, bool):
        raise ValueError(f"minimalistic={minimalistic!r} is not valid for {name}; expected True or False.")
    inputs = image_input(input_shape, 32)
    spec = ENCODERS[encoder_name]
    low_level, high_level = spec.features[8], spec.features[32]
    encoder = build_encoder(
        encoder_name, encoder_weights, [low_level, high_level], output_stride, minimalistic=minimalistic
    )
    features = encoder(inputs)
    high = features[high_level]
    x = conv_bn_relu(high, _HEAD_CHANNELS, 1, "head")
    scale = layers.GlobalAveragePooling2D(keepdims=True, name="head_pool")(high)
    scale = layers.Conv2D(_HEAD_CHANNELS, 1, use_bias=False, name="head_scale")(scale)
    scale = layers.Activation("sigmoid", name="head_sigmoid")(scale)
    x = layers.Multiply(name="head_attention")([x, scale])
    if output_stride > 8:
        x = BilinearUpsampling(output_stride // 8, name="head_upsample")(x)
    x = layers.Add(name="classifier")(
        [
            layers.Conv2D(num_classes, 1, name="classifier_low")(features[low_level]),
            layers.Conv2D(num_classes, 1, name="classifier_high")(x),
        ]
    )
    x = BilinearUpsampling(8, name="upsample")(x)
    return keras.Model(inputs, float32_logits(x), name=name)
