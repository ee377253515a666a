"""ImageNet encoders from `keras.applications` as feature extractors on raw pixels.

An encoder is a `keras.Model` named `"encoder"` that takes raw RGB pixels (0..255),
normalises them as its ImageNet weights expect, and returns the feature maps of the
layers asked for. Models nest it as one layer, so it can be frozen as a whole.
"""

import dataclasses
import os
import warnings

import keras
from keras import layers

from fcnseg.models.layers import ImageNormalization


@dataclasses.dataclass(frozen=True)
class EncoderSpec:
    """What the models need to know about one `keras.applications` encoder.

    Args:
        application: callable. The `keras.applications` constructor.
        normalization: str. The `ImageNormalization` mode its weights expect.
        features: dict. Output stride -> name of the last layer at that stride.
        stages: dict. Output stride (16 or 32) -> prefixes of the layer names that
            downsample to and compute at that stride; used to trade their stride for
            dilation (atrous convolution). Empty if the encoder does not support it.
        application_options: dict. Keyword arguments the constructor always gets.
    """

    application: object
    normalization: str
    features: dict
    stages: dict
    application_options: dict = dataclasses.field(default_factory=dict)


# The name `features` gives the application's own output (its last layer, whose name Keras
# numbers by how many layers of its kind were made before it).
APPLICATION_OUTPUT = "<application output>"


ENCODERS = {
    "vgg16": EncoderSpec(
        application=keras.applications.VGG16,
        normalization="caffe",
        features={
            1: "block1_conv2",
            2: "block2_conv2",
            4: "block3_conv3",
            8: "block4_conv3",
            16: "block5_conv3",
            32: "block5_pool",
        },
        stages={},
    ),
    "resnet50": EncoderSpec(
        application=keras.applications.ResNet50,
        normalization="caffe",
        features={
            2: "conv1_relu",
            4: "conv2_block3_out",
            8: "conv3_block4_out",
            16: "conv4_block6_out",
            32: "conv5_block3_out",
        },
        stages={16: ("conv4_",), 32: ("conv5_",)},
    ),
    "mobilenetv2": EncoderSpec(
        application=keras.applications.MobileNetV2,
        normalization="tf",
        features={
            2: "block_1_expand_relu",
            4: "block_3_expand_relu",
            8: "block_6_expand_relu",
            16: "block_13_expand_relu",
            # The last inverted residual block: the 1x1 expansion to 1280 channels after it
            # serves ImageNet classification, and DeepLab's feature extractor also stops here.
            32: "block_16_project_BN",
        },
        stages={
            16: ("block_6_pad", "block_6_depthwise") + tuple(f"block_{i}_" for i in range(7, 13)),
            32: ("block_13_pad", "block_13_depthwise", "block_14_", "block_15_", "block_16_"),
        },
    ),
    # Howard et al., "Searching for MobileNetV3", ICCV 2019. The stride-32 features are the
    # last 1x1 convolution's (960 or 576 channels), which LR-ASPP taps; the stride-8 ones the
    # last block at stride 8. Preprocessing is ImageNormalization's, not the application's.
    "mobilenetv3_large": EncoderSpec(
        application=keras.applications.MobileNetV3Large,
        normalization="tf",
        features={8: "expanded_conv_5_add", 16: "expanded_conv_11_add", 32: APPLICATION_OUTPUT},
        stages={
            16: ("expanded_conv_6_depthwise",) + tuple(f"expanded_conv_{i}_" for i in range(7, 12)),
            32: ("expanded_conv_12_depthwise", "expanded_conv_13_", "expanded_conv_14_"),
        },
        application_options={"include_preprocessing": False},
    ),
    "mobilenetv3_small": EncoderSpec(
        application=keras.applications.MobileNetV3Small,
        normalization="tf",
        features={8: "expanded_conv_2_add", 16: "expanded_conv_7_add", 32: APPLICATION_OUTPUT},
        stages={
            16: ("expanded_conv_3_depthwise",) + tuple(f"expanded_conv_{i}_" for i in range(4, 8)),
            32: ("expanded_conv_8_depthwise", "expanded_conv_9_", "expanded_conv_10_"),
        },
        application_options={"include_preprocessing": False},
    ),
}

OUTPUT_STRIDES = (8, 16, 32)


def check_encoder_weights(encoder_weights):
    """Raises a clear error unless `encoder_weights` is None, "imagenet" or an existing file."""
    if encoder_weights is None or encoder_weights == "imagenet":
        return
    if not isinstance(encoder_weights, (str, os.PathLike)):
        raise ValueError(
            f"encoder_weights={encoder_weights!r} is not valid; expected None, 'imagenet' or a path to a weights file."
        )
    if not os.path.isfile(encoder_weights):
        raise FileNotFoundError(
            f"encoder_weights file {os.fspath(encoder_weights)!r} does not exist; expected None, 'imagenet' "
            "or a path to a weights file."
        )


def load_application(application, weights, **kwargs):
    """Calls a `keras.applications` constructor, turning weight-loading failures into one clear line."""
    try:
        with warnings.catch_warnings():
            # MobileNetV2 warns that its weights were trained at 224x224; any size is intended here.
            warnings.filterwarnings("ignore", message=".*input_shape.*", category=UserWarning)
            return application(weights=weights, **kwargs)
    except Exception as error:
        name = application.__name__
        # Keras explains a mismatch over hundreds of lines; its first line says what happened.
        reason = next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
        if weights == "imagenet":
            raise RuntimeError(
                f"Could not get the ImageNet weights of {name} ({reason}). Without internet access, download "
                f"the file keras.applications.{name} uses on a machine that has it and pass "
                "encoder_weights='/path/to/that/file'."
            ) from error
        if weights is not None:
            raise ValueError(
                f"Could not load encoder_weights file {os.fspath(weights)!r} into {name} "
                f"(include_top={kwargs.get('include_top')}): {reason}"
            ) from error
        raise


# The encoders `build_encoder` can narrow: plain convolutions, no depthwise ones.
NARROWABLE_ENCODERS = ("vgg16", "resnet50")


def build_encoder(name, weights, feature_layers, output_stride=32, *, width_multiplier=1.0, **options):
    """Builds an ImageNet encoder that returns feature maps of raw RGB pixels.

    Args:
        name: str. One of `ENCODERS`.
        weights: None, "imagenet" or a path to a file that `keras.applications`
            accepts for this encoder without its classifier (`include_top=False`).
        feature_layers: list of str. Names of the layers whose outputs to return;
            `ENCODERS[name].features` names them by stride.
        output_stride: int. 32, 16 or 8. Stages below this stride trade their
            downsampling for dilation (Chen et al., "Rethinking Atrous Convolution
            for Semantic Image Segmentation", 2017), so features at stride 32 are
            then computed at `output_stride`.
        width_multiplier: float in (0, 1]. Multiplies the channels of every convolution
            (Howard et al., "MobileNets", 2017): 0.25 costs about 1/16 of the operations.
            Below 1 the encoder has no ImageNet weights, so `weights` must be None. VGG16 and
            ResNet50 only: the MobileNets have their own width option, `alpha`.
        **options: Options of the `keras.applications` constructor, e.g. `minimalistic`.

    Returns:
        A `keras.Model` named "encoder" from an image to a dict of feature maps
        keyed by layer name.
    """
    spec = ENCODERS[name]
    check_width_multiplier(width_multiplier, weights, f"the {name} encoder")
    if width_multiplier != 1.0 and name not in NARROWABLE_ENCODERS:
        raise ValueError(
            f"width_multiplier is for the {' and '.join(NARROWABLE_ENCODERS)} encoders, not {name}; "
            "the MobileNets take alpha."
        )
    if output_stride not in OUTPUT_STRIDES:
        raise ValueError(f"output_stride={output_stride} is not valid; expected one of {OUTPUT_STRIDES}.")
    if output_stride < 32 and not spec.stages:
        raise ValueError(f"Encoder {name!r} only supports output_stride=32, not {output_stride}.")
    pixels = keras.Input(shape=(None, None, 3), name="pixels")
    normalized = ImageNormalization(spec.normalization, name="normalization")(pixels)
    network = load_application(
        spec.application, weights, include_top=False, input_tensor=normalized, **spec.application_options, **options
    )
    if width_multiplier != 1.0:
        network = _narrow(network, width_multiplier)
    if output_stride < 32:
        network = _dilate(network, spec, output_stride)
    outputs = {
        layer_name: network.outputs[0] if layer_name == APPLICATION_OUTPUT else network.get_layer(layer_name).output
        for layer_name in feature_layers
    }
    return keras.Model(network.inputs, outputs, name="encoder")


def check_width_multiplier(width_multiplier, weights, what):
    """Raises a clear error unless `width_multiplier` is in (0, 1] and goes with `weights`."""
    if (
        isinstance(width_multiplier, bool)
        or not isinstance(width_multiplier, (int, float))
        or not 0.0 < width_multiplier <= 1.0
    ):
        raise ValueError(f"width_multiplier={width_multiplier!r} is not valid for {what}; expected a number in (0, 1].")
    if width_multiplier != 1.0 and weights is not None:
        raise ValueError(
            f"width_multiplier={width_multiplier} is not valid with encoder_weights={weights!r} for {what}: pretrained weights "
            "exist only at width 1; train it from scratch (encoder_weights=None)."
        )


def scaled_channels(channels, width_multiplier):
    """`channels` times `width_multiplier`, rounded, at least 1."""
    return max(1, round(channels * width_multiplier))


def _narrow(network, width_multiplier):
    """Returns a copy of `network`, freshly initialised, its convolutions' channels times `width_multiplier`.

    `keras.applications` builds VGG16 and ResNet50 at full width only, so the full network is
    built first and cloned narrower here: a second or two more at build time, nothing at run time.
    """

    def clone_layer(layer):
        config = layer.get_config()
        if isinstance(layer, layers.Conv2D):
            config["filters"] = scaled_channels(config["filters"], width_multiplier)
        return layer.__class__.from_config(config)

    return keras.models.clone_model(network, clone_function=clone_layer)


def _dilate(network, spec, output_stride):
    """Returns a copy of `network` whose stages below `output_stride` use dilation, same weights."""

    def stage_rate(layer_name):
        for stride, prefixes in spec.stages.items():
            if stride > output_stride and layer_name.startswith(prefixes):
                return stride // output_stride
        return 1

    def clone_layer(layer):
        rate = stage_rate(layer.name)
        if rate > 1 and isinstance(layer, layers.ZeroPadding2D):
            # The padding only served a stride-2 "valid" convolution, which becomes "same" below.
            return layers.Identity(name=layer.name)
        config = layer.get_config()
        if rate > 1 and "dilation_rate" in config:
            config["strides"] = 1
            if max(config["kernel_size"]) > 1:
                config["dilation_rate"] = rate
                config["padding"] = "same"
        return layer.__class__.from_config(config)

    dilated = keras.models.clone_model(network, clone_function=clone_layer)
    dilated.set_weights(network.get_weights())
    return dilated
