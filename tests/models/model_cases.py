"""Model cases shared by the model tests: every registry entry plus the option variants."""

import functools

import keras
import pytest

import fcnseg

NUM_CLASSES = 5

# Every registered model with default options, plus options that change the graph. Output
# stride 8 is one case, on MobileNetV2: DeepLabV3+'s head treats every encoder alike, and each
# encoder's dilation at strides 8, 16 and 32 is checked in test_layers (a stride-8 ResNet-50
# case cost two minutes of the suite for nothing more).
CASES = [pytest.param(name, {}, id=name) for name in fcnseg.list_models()] + [
    pytest.param("unet", {"encoder": "vgg16"}, id="unet-vgg16"),
    pytest.param("unet", {"encoder": "resnet50"}, id="unet-resnet50"),
    pytest.param("unet", {"encoder": "mobilenetv2"}, id="unet-mobilenetv2"),
    pytest.param("deeplabv3plus_mobilenetv2", {"output_stride": 8}, id="deeplabv3plus_mobilenetv2-os8"),
    pytest.param("lraspp_mobilenetv3_large", {"minimalistic": True}, id="lraspp_mobilenetv3_large-minimalistic"),
]


@functools.lru_cache(maxsize=None)
def _cached_model(name, options):
    keras.utils.set_random_seed(0)
    return fcnseg.build_model(name, NUM_CLASSES, **dict(options))


def shared_model(name, options):
    """A model built once per session; only for tests that do not change its weights."""
    return _cached_model(name, tuple(sorted(options.items())))
