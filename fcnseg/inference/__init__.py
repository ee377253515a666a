"""Inference: any saved model behind one `Segmenter` interface (segmenter), images of any size
(tiling), scoring a split (evaluation) and drawing masks of images and videos (prediction)."""

from fcnseg.inference.evaluation import EvalConfig, evaluate
from fcnseg.inference.prediction import PredictConfig, predict
from fcnseg.inference.segmenter import Segmenter, load_segmenter
from fcnseg.inference.tiling import Tiling, segment

__all__ = ["EvalConfig", "PredictConfig", "Segmenter", "Tiling", "evaluate", "load_segmenter", "predict", "segment"]
