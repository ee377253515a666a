"""Fully convolutional networks: FCN-32s, FCN-16s and FCN-8s.

Long, Shelhamer and Darrell, "Fully Convolutional Networks for Semantic
Segmentation", CVPR 2015 (arXiv:1411.4038).

Layer names follow the authors' Caffe models (`fc6`, `score_fr`, `score_pool4`, ...).
Convolutions use "same" padding instead of the paper's 100-pixel padding and crops,
so inputs must divide by 32 and no cropping is needed.
"""

import keras
from keras import layers

from fcnseg.models.backbones import ENCODERS, build_encoder, check_width_multiplier, load_application, scaled_channels
from fcnseg.models.layers import bilinear_upsampling, float32_logits, image_input

# The paper's names for the taps of the skip connections, at strides 16 and 8.
_SKIP_TAPS = ("pool4", "pool3")
_VGG16_POOLS = {32: "block5_pool", 16: "block4_pool", 8: "block3_pool"}


def fcn32s_vgg16(num_classes, input_shape=(None, None, 3), encoder_weights=None, *, dropout=0.5, width_multiplier=1.0):
    """FCN-32s on VGG16: one stride-32 prediction, upsampled 32x.

    Args:
        num_classes: int. The number of classes.
        input_shape: tuple. `(height, width, 3)`; height and width divisible by 32 or None.
        encoder_weights: None, "imagenet", or a path to the full VGG16 weights file of
            `keras.applications` (with its classifier, whose fc1/fc2 become fc6/fc7).
        dropout: float. Dropout rate after fc6 and fc7. Defaults to 0.5.
        width_multiplier: float in (0, 1]. Multiplies the channels of every convolution, fc6 and fc7
            included (`backbones.build_encoder`); below 1 only from scratch. Defaults to 1.
    """
    return _fcn_vgg16("fcn32s_vgg16", 0, num_classes, input_shape, encoder_weights, dropout, width_multiplier)


def fcn16s_vgg16(num_classes, input_shape=(None, None, 3), encoder_weights=None, *, dropout=0.5, width_multiplier=1.0):
    """FCN-16s on VGG16: FCN-32s fused with a prediction from pool4, upsampled 16x.

    Args: as `fcn32s_vgg16`.
    """
    return _fcn_vgg16("fcn16s_vgg16", 1, num_classes, input_shape, encoder_weights, dropout, width_multiplier)


def fcn8s_vgg16(num_classes, input_shape=(None, None, 3), encoder_weights=None, *, dropout=0.5, width_multiplier=1.0):
    """FCN-8s on VGG16: FCN-16s further fused with a prediction from pool3, upsampled 8x.

    Args: as `fcn32s_vgg16`.
    """
    return _fcn_vgg16("fcn8s_vgg16", 2, num_classes, input_shape, encoder_weights, dropout, width_multiplier)


def fcn8s_resnet50(num_classes, input_shape=(None, None, 3), encoder_weights=None, *, width_multiplier=1.0):
    """FCN-8s decoder on ResNet50 features at strides 32, 16 and 8.

    ResNet50 has no fully connected layers to convert, so `score_fr` scores the last
    residual stage directly. ResNet: He et al., "Deep Residual Learning for Image
    Recognition", CVPR 2016.

    Args:
        num_classes: int. The number of classes.
        input_shape: tuple. `(height, width, 3)`; height and width divisible by 32 or None.
        encoder_weights: None, "imagenet", or a path to the ResNet50 weights file of
            `keras.applications` without its classifier.
        width_multiplier: float in (0, 1]. Multiplies the channels of every convolution of the
            encoder (`backbones.build_encoder`); below 1 only from scratch. Defaults to 1.
    """
    check_width_multiplier(width_multiplier, encoder_weights, "fcn8s_resnet50")
    inputs = image_input(input_shape, 32)
    taps = [ENCODERS["resnet50"].features[stride] for stride in (32, 16, 8)]
    features = build_encoder("resnet50", encoder_weights, taps, width_multiplier=width_multiplier)(inputs)
    logits = _fcn_decoder([features[tap] for tap in taps], num_classes)
    return keras.Model(inputs, logits, name="fcn8s_resnet50")


def _fcn_vgg16(name, num_skips, num_classes, input_shape, encoder_weights, dropout, width_multiplier):
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout={dropout} is not valid for {name}; expected 0 <= dropout < 1.")
    check_width_multiplier(width_multiplier, encoder_weights, name)
    inputs = image_input(input_shape, 32)
    pool5, *pools = [_VGG16_POOLS[stride] for stride in (32, 16, 8)[: num_skips + 1]]
    encoder = build_encoder("vgg16", None, [pool5, *pools], width_multiplier=width_multiplier)
    fc_channels = scaled_channels(4096, width_multiplier)
    fc6 = layers.Conv2D(fc_channels, 7, padding="same", activation="relu", name="fc6")
    fc7 = layers.Conv2D(fc_channels, 1, activation="relu", name="fc7")
    features = encoder(inputs)
    x = layers.Dropout(dropout, name="drop6")(fc6(features[pool5]))
    x = layers.Dropout(dropout, name="drop7")(fc7(x))
    logits = _fcn_decoder([x, *(features[pool] for pool in pools)], num_classes)
    if encoder_weights is not None:
        _load_vgg16_weights(encoder, fc6, fc7, encoder_weights)
    return keras.Model(inputs, logits, name=name)


def _fcn_decoder(features, num_classes):
    """Scores the stride-32 features, then fuses in the scores of finer skips, coarse to fine.

    Skip scores start at zero, so a new skip starts from the coarser net's prediction
    (paper, Section 4.2); every 2x upsampling starts bilinear and is learnt, the final
    one stays bilinear.
    """
    coarsest, *skips = features
    x = layers.Conv2D(num_classes, 1, name="score_fr")(coarsest)
    for feature, tap in zip(skips, _SKIP_TAPS):
        x = bilinear_upsampling(num_classes, 2, name=f"upscore2_{tap}")(x)
        score = layers.Conv2D(num_classes, 1, kernel_initializer="zeros", name=f"score_{tap}")(feature)
        x = layers.Add(name=f"fuse_{tap}")([x, score])
    stride = 32 // 2 ** len(skips)
    x = bilinear_upsampling(num_classes, stride, name=f"upscore{stride}", trainable=False)(x)
    return float32_logits(x)


def _load_vgg16_weights(encoder, fc6, fc7, weights):
    """Copies ImageNet VGG16 into the encoder and reshapes its classifier fc1/fc2 into fc6/fc7."""
    source = load_application(keras.applications.VGG16, weights, include_top=True)
    for layer in encoder.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())
    for target, source_name in ((fc6, "fc1"), (fc7, "fc2")):
        kernel, bias = source.get_layer(source_name).get_weights()
        target.set_weights([kernel.reshape(target.kernel.shape), bias])
