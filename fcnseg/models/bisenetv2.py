"""BiSeNet V2: a detail branch and a semantic branch, joined by bilateral guided aggregation.

Yu, Gao, Wang, Yu, Shen and Sang, "BiSeNet V2: Bilateral Network with Guided Aggregation
for Real-time Semantic Segmentation", IJCV 2021 (arXiv:2004.02147). Trained from scratch
(no ImageNet encoder), as in the paper.

- Detail branch (Table 1): wide and shallow, nine 3x3 convolutions with batch norm and
  ReLU, 64-64-128 channels, to stride 8.
- Semantic branch (lambda = 1/4): the stem block (a strided convolution beside a max
  pooling) to stride 4, gather-and-expansion layers (expansion 6) to stride 32 with
  16-32-64-128 channels, and the context embedding block (global average pooling, added
  back to every position).
- Bilateral guided aggregation (section 3.4): each branch gates the other at its own
  resolution through a sigmoid; the two are summed at stride 8.
- Segmentation head: a 3x3 convolution to `head_channels`, a 1x1 classifier, bilinear
  upsampling to the input.
- Booster heads (section 3.5), training only: the same head (128 channels) on the stem
  and on the outputs of stages 3, 4 and 5 (before the context embedding), each with loss
  weight 1.
"""

import keras
from keras import layers

from fcnseg.models.layers import (
    BilinearUpsampling,
    ImageNormalization,
    conv_bn,
    conv_bn_relu,
    depthwise_bn,
    float32_logits,
    image_input,
)

DOWNSAMPLING = 32
AUXILIARY_LOSS_WEIGHTS = (1.0, 1.0, 1.0, 1.0)
_DETAIL_STAGES = ((64, 2), (64, 3), (128, 3))  # (channels, convolutions); the first of each has stride 2
_SEMANTIC_STAGES = ((32, 2), (64, 2), (128, 4))  # (channels, GE layers); the first of each has stride 2
_STEM_CHANNELS = 16
_EXPANSION = 6
_AGGREGATION_CHANNELS = 128
_BOOSTER_CHANNELS = 128


def bisenetv2(
    num_classes, input_shape=(None, None, 3), encoder_weights=None, *, head_channels=1024, auxiliary_heads=False
):
    """BiSeNet V2, trained from scratch.

    Args:
        num_classes: int. The number of classes.
        input_shape: tuple. `(height, width, 3)`; height and width divisible by 32 or None.
        encoder_weights: None only: BiSeNet V2 has no pretrained encoder.
        head_channels: int. Channels of the segmentation head's 3x3 convolution. Defaults
            to 1024, as the authors' code and MMSegmentation use.
        auxiliary_heads: bool. Also return the four booster heads' logits (see
            `fcnseg.models.build_model`). Defaults to False.
    """
    if encoder_weights is not None:
        raise ValueError(
            f"bisenetv2 is trained from scratch and has no pretrained encoder; pass encoder_weights=None, "
            f"not {encoder_weights!r}."
        )
    if isinstance(head_channels, bool) or not isinstance(head_channels, int) or head_channels < 1:
        raise ValueError(f"head_channels={head_channels!r} is not valid for bisenetv2; expected a positive integer.")
    inputs = image_input(input_shape, DOWNSAMPLING)
    pixels = ImageNormalization("tf", name="normalization")(inputs)
    detail = _detail_branch(pixels)
    semantic, boosted = _semantic_branch(pixels)
    x = _guided_aggregation(detail, semantic)
    logits = float32_logits(_segmentation_head(x, head_channels, num_classes, 8, "head"))
    if not auxiliary_heads:
        return keras.Model(inputs, logits, name="bisenetv2")
    boosters = [
        layers.Activation("linear", dtype="float32", name=f"booster{index}_logits")(
            _segmentation_head(features, _BOOSTER_CHANNELS, num_classes, stride, f"booster{index}")
        )
        for index, (features, stride) in enumerate(boosted, start=1)
    ]
    return keras.Model(inputs, [logits, *boosters], name="bisenetv2")


def _detail_branch(x):
    for stage, (channels, convolutions) in enumerate(_DETAIL_STAGES, start=1):
        for index in range(convolutions):
            x = conv_bn_relu(x, channels, 3, f"detail{stage}_{index}", strides=2 if index == 0 else 1)
    return x


def _semantic_branch(x):
    """The semantic branch's output at stride 32, and the (features, stride) the boosters read."""
    x = _stem(x)
    boosted = [(x, 4)]
    for stage, (channels, count) in enumerate(_SEMANTIC_STAGES, start=3):
        x = _gather_expansion_down(x, channels, f"semantic{stage}_0")
        for index in range(1, count):
            x = _gather_expansion(x, f"semantic{stage}_{index}")
        boosted.append((x, 2**stage))
    return _context_embedding(x, "semantic5_context"), boosted


def _stem(x):
    """Stem block (Fig. 4a): to stride 4 by a strided convolution and a max pooling side by side."""
    x = conv_bn_relu(x, _STEM_CHANNELS, 3, "stem", strides=2)
    convolved = conv_bn_relu(x, _STEM_CHANNELS // 2, 1, "stem_left_reduce")
    convolved = conv_bn_relu(convolved, _STEM_CHANNELS, 3, "stem_left", strides=2)
    pooled = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_right_pool")(x)
    x = layers.Concatenate(name="stem_concat")([convolved, pooled])
    return conv_bn_relu(x, _STEM_CHANNELS, 3, "stem_fuse")


def _gather_expansion(x, name):
    """Gather-and-expansion layer, stride 1 (Fig. 5b)."""
    channels = x.shape[-1]
    y = conv_bn_relu(x, channels, 3, f"{name}_gather")
    y = depthwise_bn(y, 3, f"{name}_expand", depth_multiplier=_EXPANSION)
    y = conv_bn(y, channels, 1, f"{name}_project")
    x = layers.Add(name=f"{name}_add")([x, y])
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _gather_expansion_down(x, channels, name):
    """Gather-and-expansion layer, stride 2 (Fig. 5c): a depthwise-separable shortcut."""
    y = conv_bn_relu(x, x.shape[-1], 3, f"{name}_gather")
    y = depthwise_bn(y, 3, f"{name}_expand", strides=2, depth_multiplier=_EXPANSION)
    y = depthwise_bn(y, 3, f"{name}_spatial")
    y = conv_bn(y, channels, 1, f"{name}_project")
    shortcut = depthwise_bn(x, 3, f"{name}_shortcut_spatial", strides=2)
    shortcut = conv_bn(shortcut, channels, 1, f"{name}_shortcut_project")
    x = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _context_embedding(x, name):
    """Context embedding block (Fig. 4b): global context, added to every position."""
    context = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_pool")(x)
    context = layers.BatchNormalization(name=f"{name}_pool_bn")(context)
    context = conv_bn_relu(context, x.shape[-1], 1, f"{name}_embed")
    x = layers.Add(name=f"{name}_add")([x, context])
    return conv_bn_relu(x, x.shape[-1], 3, f"{name}_fuse")


def _guided_aggregation(detail, semantic):
    """Bilateral guided aggregation (Fig. 6): each branch gates the other, at its own resolution."""
    channels = _AGGREGATION_CHANNELS
    detail_keep = depthwise_bn(detail, 3, "aggregate_detail_keep")
    detail_keep = layers.Conv2D(channels, 1, use_bias=False, name="aggregate_detail_keep_conv")(detail_keep)
    detail_down = conv_bn(detail, channels, 3, "aggregate_detail_down", strides=2)
    detail_down = layers.AveragePooling2D(3, strides=2, padding="same", name="aggregate_detail_down_pool")(detail_down)
    semantic_up = conv_bn(semantic, channels, 3, "aggregate_semantic_up")
    semantic_up = BilinearUpsampling(4, name="aggregate_semantic_up_resize")(semantic_up)
    semantic_up = layers.Activation("sigmoid", name="aggregate_semantic_up_sigmoid")(semantic_up)
    semantic_keep = depthwise_bn(semantic, 3, "aggregate_semantic_keep")
    semantic_keep = layers.Conv2D(channels, 1, use_bias=False, name="aggregate_semantic_keep_conv")(semantic_keep)
    semantic_keep = layers.Activation("sigmoid", name="aggregate_semantic_keep_sigmoid")(semantic_keep)
    detail_gated = layers.Multiply(name="aggregate_detail_gated")([detail_keep, semantic_up])
    semantic_gated = layers.Multiply(name="aggregate_semantic_gated")([detail_down, semantic_keep])
    semantic_gated = BilinearUpsampling(4, name="aggregate_semantic_gated_resize")(semantic_gated)
    x = layers.Add(name="aggregate_sum")([detail_gated, semantic_gated])
    return conv_bn_relu(x, channels, 3, "aggregate_fuse")


def _segmentation_head(x, channels, num_classes, stride, name):
    """A 3x3 convolution, a 1x1 classifier, and bilinear upsampling by `stride` to the input."""
    x = conv_bn_relu(x, channels, 3, f"{name}_hidden")
    x = layers.Conv2D(num_classes, 1, name=f"{name}_classifier")(x)
    return BilinearUpsampling(stride, name=f"{name}_upsample")(x)
