"""Registry models trained a few steps on synthetic scenes, shared by the export tests of every format."""

import functools

import keras
import numpy as np

import fcnseg
from fcnseg import data
from fcnseg.data.pipeline import make_dataset
from fcnseg.deploy.exporter import ExportConfig
from fcnseg.training.losses import SegmentationLoss

SIZE = (64, 96)
SPEC = data.dataset_spec("synthetic")
CLASSES = SPEC.num_classes
# The models each file format is checked on: all but the FCN-VGG16s, whose layers and operators
# are those of fcn8s_resnet50 (the FCN-8s head) and the U-Net (VGG16's convolutions and pools).
# Their 537 MB of weights take minutes to convert to TFLite, and more memory than the test
# machine has for ONNX (tf2onnx needs about 40 times a model's weights: 3.7 GB for FCN-8s ResNet50's 95 MB).
CONVERTED = [name for name in fcnseg.list_models() if not name.endswith("_vgg16")]
# The models whose int8 masks are checked. The ResNet-50 models are left out: after a few
# steps their int8 agreement swings with the training state (DeepLabV3+ ResNet-50: 0.997
# after 30 steps, 0.909 after 60), so it would test the luck of the run, not the converter.
TRAINED = [
    "unet",
    "deeplabv3plus_mobilenetv2",
    "lraspp_mobilenetv3_large",
    "lraspp_mobilenetv3_small",
    "bisenetv2",
    "ddrnet23_slim",
]


# The U-Net at 16 base filters (the README's CamVid U-Net): the layers of the 64-filter default
# with a sixteenth of its weights, so a sixteenth of the work to train and convert.
OPTIONS = {"unet": {"base_filters": 16}}


def build(name):
    """Registry model `name` (with its `OPTIONS`) with random weights, seeded."""
    keras.utils.set_random_seed(0)
    return fcnseg.build_model(name, CLASSES, **OPTIONS.get(name, {}))


def scenes(split, count, size=SIZE):
    """`count` synthetic scenes of `split`, uint8 `[count, height, width, 3]`."""
    source = data.open_source("synthetic", None, split, num_images=count, height=size[0], width=size[1])
    return np.stack([image for image, _ in source.load().as_numpy_iterator()])


@functools.lru_cache(maxsize=None)
def trained(name, steps=30):
    """The model after `steps` Adam steps on synthetic scenes: confident on in-distribution images.

    Built once per test session; only for tests that do not change its weights.
    """
    model = build(name)
    source = data.open_source("synthetic", None, "train", num_images=16, height=SIZE[0], width=SIZE[1])
    batches = make_dataset(source, training=True, batch_size=4, crop_size=SIZE, cache=True, seed=0).repeat()
    model.compile(keras.optimizers.Adam(1e-3), SegmentationLoss(CLASSES))
    model.fit(batches, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)
    return model


def export_config(tmp_path, model_path, **changes):
    """An `ExportConfig` of `model_path` into `tmp_path/export` at `SIZE`, calibrated and checked on
    synthetic scenes, no SavedModel; `changes` name the formats and override any field."""
    fields = dict(
        model=str(model_path),
        export_dir=str(tmp_path / "export"),
        dataset="synthetic",
        dataset_options={"num_images": 4, "height": SIZE[0], "width": SIZE[1]},
        saved_model=False,
        input_size=SIZE,
        calibration_images=4,
        parity_images=2,
    )
    return ExportConfig(**{**fields, **changes})
