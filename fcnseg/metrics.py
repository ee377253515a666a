"""Segmentation metrics on logits that leave out pixels labelled 255, and scores from a confusion matrix."""

import keras
import numpy as np

from fcnseg.data.specs import IGNORE_LABEL


def mean_iou(num_classes, name="mean_iou"):
    """Keras' `MeanIoU` on logits (argmax taken inside), ignoring label 255."""
    return keras.metrics.MeanIoU(num_classes, name=name, ignore_class=IGNORE_LABEL, sparse_y_pred=False)


@keras.saving.register_keras_serializable("fcnseg")
class PixelAccuracy(keras.metrics.MeanIoU):
    """The fraction of labelled pixels whose argmax logit is their label.

    It keeps the same confusion matrix as `MeanIoU` (its trace over its sum), so the two
    always count the same pixels.

    Args:
        num_classes: int. The number of classes of the logits.
        name: str. Defaults to "pixel_accuracy".
    """

    def __init__(self, num_classes, name="pixel_accuracy", **kwargs):
        kwargs.update(ignore_class=IGNORE_LABEL, sparse_y_pred=False)
        super().__init__(num_classes, name=name, **kwargs)

    def result(self):
        confusion = keras.ops.cast(self.total_cm, "float32")
        return keras.ops.divide_no_nan(keras.ops.trace(confusion), keras.ops.sum(confusion))

    def get_config(self):
        config = super().get_config()
        for key in ("ignore_class", "sparse_y_pred"):
            config.pop(key, None)
        return config


def confusion_scores(confusion, class_names):
    """Scores of a confusion matrix whose rows are true classes and columns predicted ones.

    Mean IoU averages over the classes that occur in the labels or the predictions,
    as Keras' `MeanIoU` does; a class with neither has IoU None.

    Returns:
        A dict: `mean_iou`, `pixel_accuracy` and `per_class_iou` (class name -> IoU).
    """
    confusion = np.asarray(confusion, np.float64)
    true_positives = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - true_positives
    present = union > 0
    iou = np.divide(true_positives, union, out=np.zeros_like(union), where=present)
    total = confusion.sum()
    return {
        "mean_iou": float(iou[present].mean()) if present.any() else 0.0,
        "pixel_accuracy": float(true_positives.sum() / total) if total else 0.0,
        "per_class_iou": {name: float(value) if seen else None for name, value, seen in zip(class_names, iou, present)},
    }
