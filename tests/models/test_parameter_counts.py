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


def depthwise_bn(kernel, channels, multiplier=1):
    return kernel * kernel * channels * multiplier + 4 * channels * multiplier


def bisenetv2(classes, head_channels=1024, auxiliary_heads=False):
    # Yu et al. 2021, Table 1 and Figs. 4-6; detail branch 64-64-128, semantic 16-32-64-128.
    detail = conv_bn(3, 3, 64) + 4 * conv_bn(3, 64, 64) + conv_bn(3, 64, 128) + 2 * conv_bn(3, 128, 128)
    stem = conv_bn(3, 3, 16) + conv_bn(1, 16, 8) + conv_bn(3, 8, 16) + conv_bn(3, 32, 16)

    def gather_expansion(c):
        return conv_bn(3, c, c) + depthwise_bn(3, c, 6) + conv_bn(1, 6 * c, c)

    def gather_expansion_down(c, out):
        main = conv_bn(3, c, c) + depthwise_bn(3, c, 6) + depthwise_bn(3, 6 * c) + conv_bn(1, 6 * c, out)
        return main + depthwise_bn(3, c) + conv_bn(1, c, out)

    semantic = stem + sum(gather_expansion_down(c // 2, c) for c in (32, 64, 128))
    semantic += gather_expansion(32) + gather_expansion(64) + 3 * gather_expansion(128)
    semantic += 4 * 128 + conv_bn(1, 128, 128) + conv_bn(3, 128, 128)  # context embedding
    aggregation = 2 * (depthwise_bn(3, 128) + conv(1, 128, 128, bias=False)) + 3 * conv_bn(3, 128, 128)
    head = conv_bn(3, 128, head_channels) + conv(1, head_channels, classes)
    boosters = sum(conv_bn(3, c, 128) + conv(1, 128, classes) for c in (16, 32, 64, 128))
    return detail + semantic + aggregation + head + (boosters if auxiliary_heads else 0)


def ddrnet23_slim(classes, auxiliary_heads=False):
    # Hong et al. 2022: DualResNet(BasicBlock, [2, 2, 2, 2], planes=32, spp_planes=128, head_planes=64).
    def basic(inputs, channels, stride):
        shortcut = conv_bn(1, inputs, channels) if stride != 1 or inputs != channels else 0
        return conv_bn(3, inputs, channels) + conv_bn(3, channels, channels) + shortcut

    def stage(inputs, channels, stride):
        return basic(inputs, channels, stride) + basic(channels, channels, 1)

    def bottleneck(inputs, channels):
        main = conv_bn(1, inputs, channels) + conv_bn(3, channels, channels) + conv_bn(1, channels, 2 * channels)
        return main + conv_bn(1, inputs, 2 * channels)

    def bn_relu_conv(kernel, inputs, outputs):
        return 4 * inputs + conv(kernel, inputs, outputs, bias=False)

    def head(inputs):
        return bn_relu_conv(3, inputs, 64) + 4 * 64 + conv(1, 64, classes)

    trunk = conv_bn(3, 3, 32) + conv_bn(3, 32, 32) + stage(32, 32, 1) + stage(32, 64, 2)
    low = stage(64, 128, 2) + stage(128, 256, 2) + bottleneck(256, 256)
    high = 2 * stage(64, 64, 1) + bottleneck(64, 64)
    fusion = conv_bn(3, 64, 128) + conv_bn(1, 128, 64) + conv_bn(3, 64, 128) + conv_bn(3, 128, 256) + conv_bn(1, 256, 64)
    dappm = 6 * bn_relu_conv(1, 512, 128) + 4 * bn_relu_conv(3, 128, 128) + bn_relu_conv(1, 5 * 128, 128)
    return trunk + low + high + fusion + dappm + head(128) + (head(64) if auxiliary_heads else 0)


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
    "bisenetv2": bisenetv2,
    "ddrnet23_slim": ddrnet23_slim,
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


def test_bisenetv2_head_channels_size_the_head_only():
    model = fcnseg.build_model("bisenetv2", NUM_CLASSES, head_channels=128)
    assert model.count_params() == bisenetv2(NUM_CLASSES, head_channels=128)


@pytest.mark.parametrize("name", ["bisenetv2", "ddrnet23_slim"])
def test_auxiliary_heads_add_their_layers_only(name):
    model = fcnseg.build_model(name, NUM_CLASSES, auxiliary_heads=True)
    assert model.count_params() == EXPECTED[name](NUM_CLASSES, auxiliary_heads=True)


def test_ddrnet23_slim_has_the_papers_size():
    # Hong et al. 2022, Table 4: DDRNet-23-slim has 5.7M parameters (19 Cityscapes classes).
    assert fcnseg.build_model("ddrnet23_slim", 19).count_params() == pytest.approx(5.7e6, rel=0.01)
