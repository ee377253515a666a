"""fcnseg: semantic segmentation of road scenes with Keras 3 on TensorFlow 2.

The package is layered; each layer imports only from those below it:

- the `python -m fcnseg.*` commands (`train`, `evaluate`, `predict`, `export`, `convert`)
  and `cli`, what they share;
- `deploy` (export; it checks its files with `inference`);
- `training` and `inference`;
- `metrics` and `overlay`, shared by training and inference;
- `models` and `data`;
- `conventions`, `errors` and `files` (atomic writing).

The run functions are `fcnseg.training.train`, `fcnseg.inference.evaluate` and
`predict`, and `fcnseg.deploy.export` (the commands' names are their modules).
"""

__version__ = "0.1.0"

# Importing the layers below also registers the package's Keras objects (layers, loss,
# metrics, schedule) under the name "fcnseg", so `keras.saving.load_model` finds them after
# `import fcnseg`: Keras' serialisation registry, the one deliberate import side effect.
from fcnseg.deploy import ExportConfig  # noqa: E402
from fcnseg.inference import (  # noqa: E402
    AugmentedSegmenter,
    EvalConfig,
    PredictConfig,
    Segmenter,
    Tiling,
    load_segmenter,
    segment,
)
from fcnseg.models import build_model, list_models  # noqa: E402
from fcnseg.training import TrainConfig  # noqa: E402

__all__ = [
    "AugmentedSegmenter",
    "EvalConfig",
    "ExportConfig",
    "PredictConfig",
    "Segmenter",
    "Tiling",
    "TrainConfig",
    "__version__",
    "build_model",
    "list_models",
    "load_segmenter",
    "segment",
]
