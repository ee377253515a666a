"""Inference: any saved model behind one `Segmenter` interface (segmenter), images of any size
(tiling), test-time augmentation (augmented), scoring a split (evaluation) and drawing masks of
images and videos (prediction)."""

from fcnseg.inference.augmented import AugmentedSegmenter
from fcnseg.inference.evaluation import EvalConfig, evaluate
from fcnseg.inference.prediction import PredictConfig, predict
from fcnseg.inference.segmenter import Segmenter, load_segmenter
from fcnseg.inference.tiling import Tiling, segment

__all__ = [
    "AugmentedSegmenter",
    "EvalConfig",
    "PredictConfig",
    "Segmenter",
    "Tiling",
    "evaluate",
    "load_segmenter",
    "predict",
    "segment",
]
