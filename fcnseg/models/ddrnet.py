"""DDRNet-23-slim: deep dual-resolution network with bilateral fusion and DAPPM.

Hong, Pan, Sun and Jia, "Deep Dual-resolution Networks for Real-time and Accurate Semantic
Segmentation of Road Scenes", IEEE T-ITS 2022 (arXiv:2101.06085); the layout of the
authors' `DualResNet(BasicBlock, [2, 2, 2, 2], planes=32, spp_planes=128, head_planes=64)`.

- A ResNet stem and two stages of basic blocks to stride 8 (32 then 64 channels).
- Two branches from there: a low-resolution one of basic blocks to stride 16 and 32
  (128, 256 channels) and a bottleneck to stride 64 (512); a high-resolution one that
  stays at stride 8 (64 channels, a bottleneck to 128 at the end).
- Bilateral fusion after stages 3 and 4: strided 3x3 convolutions carry the high branch
  down into the low one, 1x1 convolutions and bilinear upsampling carry the low branch up.
- DAPPM (deep aggregation pyramid pooling module) on the stride-64 features: average
  pooling at kernel 5/stride 2, 9/4, 17/8 and global, each fused hierarchically with the
  one before through a 3x3 convolution.
- The head (batch norm, ReLU, 3x3 convolution to 64, batch norm, ReLU, 1x1 classifier) on
  the sum of the two branches at stride 8, upsampled to the input.
- Auxiliary head, training only: the same head on the high branch after stage 3's fusion,
  loss weight 0.4 (section 4.2).

Trained from scratch here (`encoder_weights=None`); the paper starts from ImageNet.
Average pooling uses "same" padding, which averages real pixels only where PyTorch's
`AvgPool2d(padding=...)` also counts the zero padding at the borders.
"""

import keras
from keras import layers

from fcnseg.models.layers import (
    BilinearUpsampling,
    ImageNormalization,
    ResizeLike,
    conv_bn,
    conv_bn_relu,
    float32_logits,
    image_input,
)

AUXILIARY_LOSS_WEIGHTS = (0.4,)
_PLANES = 32
_HIGH_PLANES = 2 * _PLANES
_SPP_PLANES = 128
_HEAD_PLANES = 64
_BOTTLENECK_EXPANSION = 2
_POOLS = ((5, 2), (9, 4), (17, 8))  # DAPPM's (kernel, stride)


def ddrnet23_slim(num_classes, input_shape=(None, None, 3), encoder_weights=None, *, auxiliary_heads=False):
    """DDRNet-23-slim, trained from scratch.

    Args:
        num_classes: int. The number of classes.
        input_shape: tuple. `(height, width, 3)`; height and width divisible by 32 or
            None. The low branch reaches stride 64; odd sizes there are rounded up and
            resized back.
        encoder_weights: None only: no pretrained weights are shipped for DDRNet.
        auxiliary_heads: bool. Also return the auxiliary head's logits (see
            `fcnseg.models.build_model`). Defaults to False.
    """
    if encoder_weights is not None:
        raise ValueError(
            f"ddrnet23_slim is trained from scratch here and has no pretrained encoder; pass encoder_weights=None, "
            f"not {encoder_weights!r}."
        )
    inputs = image_input(input_shape, 32)
    x = ImageNormalization("tf", name="normalization")(inputs)
    x = conv_bn_relu(x, _PLANES, 3, "stem1", strides=2)
    x = conv_bn_relu(x, _PLANES, 3, "stem2", strides=2)
    stage1 = _basic_stage(x, _PLANES, 1, "stage1")
    stage2 = _relu(_basic_stage(_relu(stage1, "stage1"), 2 * _PLANES, 2, "stage2"), "stage2")

    low3 = _basic_stage(stage2, 4 * _PLANES, 2, "low3")
    high = _basic_stage(stage2, _HIGH_PLANES, 1, "high3")
    low = layers.Add(name="fuse3_down")([low3, conv_bn(_relu(high, "high3"), 4 * _PLANES, 3, "down3", strides=2)])
    high = layers.Add(name="fuse3_up")([high, _upsampled(low3, high, "compress3")])
    auxiliary_features = high

    low4 = _basic_stage(_relu(low, "fuse3"), 8 * _PLANES, 2, "low4")
    high = _basic_stage(_relu(high, "fuse3_high"), _HIGH_PLANES, 1, "high4")
    down = conv_bn_relu(_relu(high, "high4"), 4 * _PLANES, 3, "down4_1", strides=2)
    low = layers.Add(name="fuse4_down")([low4, conv_bn(down, 8 * _PLANES, 3, "down4_2", strides=2)])
    high = layers.Add(name="fuse4_up")([high, _upsampled(low4, high, "compress4")])

    high = _bottleneck(_relu(high, "fuse4_high"), _HIGH_PLANES, 1, "high5", final_relu=False)
    low = _bottleneck(_relu(low, "fuse4"), 8 * _PLANES, 2, "low5", final_relu=False)
    context = ResizeLike(name="dappm_resize")([_dappm(low, "dappm"), high])
    x = layers.Add(name="fuse5")([context, high])
    logits = float32_logits(_head(x, num_classes, "head"))
    if not auxiliary_heads:
        return keras.Model(inputs, logits, name="ddrnet23_slim")
    auxiliary = layers.Activation("linear", dtype="float32", name="auxiliary_logits")(
        _head(auxiliary_features, num_classes, "auxiliary")
    )
    return keras.Model(inputs, [logits, auxiliary], name="ddrnet23_slim")


def _relu(x, name):
    return layers.Activation("relu", name=f"{name}_out_relu")(x)


def _basic_stage(x, channels, strides, name, blocks=2):
    """Residual basic blocks; the last one leaves its sum without ReLU, as the paper's `no_relu`."""
    for index in range(blocks):
        x = _basic_block(x, channels, strides if index == 0 else 1, f"{name}_{index}", final_relu=index < blocks - 1)
    return x


def _basic_block(x, channels, strides, name, final_relu):
    shortcut = x
    if strides != 1 or x.shape[-1] != channels:
        shortcut = conv_bn(x, channels, 1, f"{name}_shortcut", strides=strides)
    y = conv_bn_relu(x, channels, 3, f"{name}_a", strides=strides)
    y = conv_bn(y, channels, 3, f"{name}_b")
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_relu")(y) if final_relu else y


def _bottleneck(x, channels, strides, name, final_relu):
    """A ResNet bottleneck with expansion 2."""
    out_channels = _BOTTLENECK_EXPANSION * channels
    shortcut = conv_bn(x, out_channels, 1, f"{name}_shortcut", strides=strides)
    y = conv_bn_relu(x, channels, 1, f"{name}_reduce")
    y = conv_bn_relu(y, channels, 3, f"{name}_spatial", strides=strides)
    y = conv_bn(y, out_channels, 1, f"{name}_expand")
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_relu")(y) if final_relu else y


def _upsampled(low, reference, name):
    """The low branch compressed to the high branch's channels (1x1, batch norm) and resized to it."""
    compressed = conv_bn(_relu(low, name), _HIGH_PLANES, 1, name)
    return ResizeLike(name=f"{name}_resize")([compressed, reference])


def _bn_relu_conv(x, channels, kernel_size, name):
    """Pre-activation unit of DAPPM and the head: batch norm, ReLU, convolution (no bias)."""
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    return layers.Conv2D(channels, kernel_size, padding="same", use_bias=False, name=f"{name}_conv")(x)


def _dappm(x, name):
    """Deep aggregation pyramid pooling module (Fig. 5), 128 channels a branch and out."""
    scales = [_bn_relu_conv(x, _SPP_PLANES, 1, f"{name}_scale0")]
    pooled = [
        layers.AveragePooling2D(kernel, strides=stride, padding="same", name=f"{name}_pool{index}")(x)
        for index, (kernel, stride) in enumerate(_POOLS, start=1)
    ]
    pooled.append(layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_pool4")(x))
    for index, features in enumerate(pooled, start=1):
        features = _bn_relu_conv(features, _SPP_PLANES, 1, f"{name}_scale{index}")
        features = ResizeLike(name=f"{name}_scale{index}_resize")([features, x])
        features = layers.Add(name=f"{name}_scale{index}_add")([features, scales[-1]])
        scales.append(_bn_relu_conv(features, _SPP_PLANES, 3, f"{name}_process{index}"))
    compressed = _bn_relu_conv(layers.Concatenate(name=f"{name}_concat")(scales), _SPP_PLANES, 1, f"{name}_compress")
    return layers.Add(name=f"{name}_add")([compressed, _bn_relu_conv(x, _SPP_PLANES, 1, f"{name}_shortcut")])


def _head(x, num_classes, name):
    """DDRNet's segment head at stride 8, upsampled to the input."""
    x = _bn_relu_conv(x, _HEAD_PLANES, 3, f"{name}_hidden")
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.Conv2D(num_classes, 1, name=f"{name}_classifier")(x)
    return BilinearUpsampling(8, name=f"{name}_upsample")(x)
