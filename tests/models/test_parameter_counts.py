"""Parameter counts computed from each paper's architecture, layer by layer.

The encoders' own counts come from `keras.applications` (cut at the layer the model
taps); everything the package adds is counted here by formula, so a missing, extra or
mis-sized layer changes the count.
"""

import functools

import keras
import pytest

import fcnseg
from model_cases import CASES, NUM_CLASSES, shared_model

# Channels of the encoder features each model taps (stride -> channels).
VGG16_CHANNELS = {1: 64, 2: 128, 4: 256, 8: 512, 16: 512, 32: 512}
RESNET50_CHANNELS = {2: 64, 4: 256, 8: 512, 16: 1024, 32: 2048}
MOBILENETV2_CHANNELS = {2: 96, 4: 144, 8: 192, 16: 576, 32: 320}
ENCODER_CHANNELS = {"vgg16": VGG16_CHANNELS, "resnet50": RESNET50_CHANNELS, "mobilenetv2": MOBILENETV2_CHANNELS}
ENCODER_TOPS = {"vgg16": "block5_pool", "resnet50": "conv5_block3_out", "mobilenetv2": "block_16_project_BN"}
APPLICATIONS = {
    "vgg16": keras.applications.VGG16,
    "resnet50": keras.applications.ResNet50,
    "mobilenetv2": keras.applications.MobileNetV2,
}


@functools.lru_cache(maxsize=None)
def encoder_params(encoder):
    application = APPLICATIONS[encoder](include_top=False, weights=None, input_shape=(None, None, 3))
    return keras.Model(application.input, application.get_layer(ENCODER_TOPS[encoder]).output).count_params()


def conv(kernel, inputs, outputs, bias=True):
    return kernel * kernel * inputs * outputs + (outputs if bias else 0)


def conv_bn(kernel, inputs, outputs):
    return conv(kernel, inputs, outputs, bias=False) + 4 * outputs  # gamma, beta, moving mean and variance


def fcn(encoder, skips, classes):
    if encoder == "vgg16":  # fc6 and fc7 on pool5; skips from pool4 and pool3
        head, top, channels = conv(7, 512, 4096) + conv(1, 4096, 4096), 4096, {16: 512, 8: 256}
    else:
        head, top, channels = 0, RESNET50_CHANNELS[32], RESNET50_CHANNELS
    total = encoder_params(encoder) + head + conv(1, top, classes)
    for stride in (16, 8)[:skips]:
        total += conv(1, channels[stride], classes) + 4 * 4 * classes * classes  # score + 2x upsampling
    final = 32 // 2**skips
    return total + (2 * final) ** 2 * classes * classes


def unet_expanding_path(bottom, skip_channels, base, classes):
    total, inputs = 0, bottom
    for level in reversed(range(len(skip_channels))):
        filters = base * 2**level
        total += 2 * 2 * inputs * filters + filters  # 2x2 up-convolution
        total += conv_bn(3, filters + skip_channels[level], filters) + conv_bn(3, filters, filters)
        inputs = filters
    return total + conv(1, base, classes)


def unet(classes, encoder=None, depth=4, base=64):
    if encoder is None:
        total, inputs = 0, 3
        for level in range(depth + 1):  # contracting path and bottleneck
            filters = base * 2**level
            total += conv_bn(3, inputs, filters) + conv_bn(3, filters, filters)
            inputs = filters
        return total + unet_expanding_path(inputs, [base * 2**level for level in range(depth)], base, classes)
    channels = ENCODER_CHANNELS[encoder]
    skips = [channels.get(2**level, 0) for level in range(5)]
    return encoder_params(encoder) + unet_expanding_path(channels[32], skips, base, classes)


def lraspp(encoder, classes, output_stride=16, minimalistic=False):
    application = {
        "mobilenetv3_large": keras.applications.MobileNetV3Large,
        "mobilenetv3_small": keras.applications.MobileNetV3Small,
    }[encoder]
    network = application(
        include_top=False,
        weights=None,
        input_shape=(None, None, 3),
        minimalistic=minimalistic,
        include_preprocessing=False,
    )
    low, top = {"mobilenetv3_large": (40, 960), "mobilenetv3_small": (24, 576)}[encoder]
    head = conv_bn(1, top, 128) + conv(1, top, 128, bias=False)  # features and their attention scale
    return network.count_params() + head + conv(1, low, classes) + conv(1, 128, classes)


def deeplabv3plus(encoder, classes):
    channels = ENCODER_CHANNELS[encoder]
    top = channels[32]
    aspp = conv_bn(1, top, 256) + 3 * conv_bn(3, top, 256) + conv_bn(1, top, 256) + conv_bn(1, 5 * 256, 256)
    decoder = conv_bn(1, channels[4], 48) + conv_bn(3, 256 + 48, 256) + conv_bn(3, 256, 256) + conv(1, 256, classes)
    return encoder_params(encoder) + aspp + decoder


EXPECTED = {
    "fcn32s_vgg16": lambda classes, **_: fcn("vgg16", 0, classes),
    "fcn16s_vgg16": lambda classes, **_: fcn("vgg16", 1, classes),
    "fcn8s_vgg16": lambda classes, **_: fcn("vgg16", 2, classes),
    "fcn8s_resnet50": lambda classes, **_: fcn("resnet50", 2, classes),
    "unet": unet,
    "deeplabv3plus_mobilenetv2": lambda classes, **_: deeplabv3plus("mobilenetv2", classes),
    "deeplabv3plus_resnet50": lambda classes, **_: deeplabv3plus("resnet50", classes),
    "lraspp_mobilenetv3_large": lambda classes, **options: lraspp("mobilenetv3_large", classes, **options),
    "lraspp_mobilenetv3_small": lambda classes, **options: lraspp("mobilenetv3_small", classes, **options),
}


@pytest.mark.parametrize("name, options", CASES)
def test_parameter_count_matches_the_architecture(name, options):
    assert shared_model(name, options).count_params() == EXPECTED[name](NUM_CLASSES, **options)


def test_fcn8s_vgg16_has_the_papers_134_million_parameters():
    # Long et al. 2015, Table 1: FCN-VGG16 has 134M parameters (21 PASCAL classes).
    assert fcnseg.build_model("fcn8s_vgg16", 21).count_params() == pytest.approx(134e6, rel=0.005)


def test_unet_has_the_papers_size():
    # The paper's U-Net (2 classes) has about 31.0M parameters; batch norm adds 4 per channel
    # and takes the convolution biases away, a difference of under 0.1%.
    assert fcnseg.build_model("unet", 2).count_params() == pytest.approx(31.0e6, rel=0.01)
