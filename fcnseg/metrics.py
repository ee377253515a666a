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


def confusion_matrix(labels, predictions, num_classes):
    """The confusion matrix of one prediction: rows are true classes, columns predicted ones.

    Pixels labelled `num_classes` or more (255: ignore) are left out; every prediction must
    be a class index below `num_classes`.

    Args:
        labels: int array of true classes.
        predictions: int array of predicted classes, the shape of `labels`.
        num_classes: int.

    Returns:
        int64 array `[num_classes, num_classes]`.
    """
    labels, predictions = np.asarray(labels).ravel(), np.asarray(predictions).ravel()
    if labels.shape != predictions.shape:
        raise ValueError(f"labels and predictions differ in size: {labels.size} and {predictions.size} pixels.")
    keep = labels < num_classes
    pairs = labels[keep].astype(np.int64) * num_classes + predictions[keep]
    return np.bincount(pairs, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def confusion_scores(confusion, class_names):
    """Scores of a confusion matrix whose rows are true classes and columns predicted ones.

    Mean IoU averages over the classes that occur in the labels or the predictions, as
    Keras' `MeanIoU` and the Cityscapes evaluator do; a class with neither has IoU None.
    Frequency-weighted IoU weighs each class's IoU by its share of the labelled pixels
    (Long, Shelhamer and Darrell, "Fully Convolutional Networks", CVPR 2015).

    Returns:
        A dict: `mean_iou`, `frequency_weighted_iou`, `pixel_accuracy`, and per class
        (class name -> value, None where undefined) `per_class_iou`, `per_class_precision`
        (of the pixels predicted as the class) and `per_class_recall` (of its labelled pixels).
    """
    confusion = np.asarray(confusion, np.float64)
    true_positives = np.diag(confusion)
    labelled, predicted = confusion.sum(1), confusion.sum(0)
    union = labelled + predicted - true_positives
    iou = _ratios(true_positives, union)
    total = confusion.sum()
    return {
        "mean_iou": float(np.mean([value for value in iou if value is not None])) if any(union) else 0.0,
        "frequency_weighted_iou": float(sum(n * value for n, value in zip(labelled, iou) if n) / total)
        if total
        else 0.0,
        "pixel_accuracy": float(true_positives.sum() / total) if total else 0.0,
        "per_class_iou": dict(zip(class_names, iou)),
        "per_class_precision": dict(zip(class_names, _ratios(true_positives, predicted))),
        "per_class_recall": dict(zip(class_names, _ratios(true_positives, labelled))),
    }


def _ratios(numerators, denominators):
    return [float(n / d) if d else None for n, d in zip(numerators, denominators)]


def format_scores(scores):
    """The per-class table (IoU, and precision and recall where given) and the mean scores, as text."""
    columns = [key for key in ("iou", "precision", "recall") if f"per_class_{key}" in scores]
    names = list(scores["per_class_iou"])
    width = max(len(name) for name in [*names, "frequency-weighted IoU"])
    header = "".join(f"{'IoU' if key == 'iou' else key:>11}" for key in columns)
    lines = [f"{'class':<{width}}{header}"]
    for name in names:
        cells = (scores[f"per_class_{key}"][name] for key in columns)
        lines.append(f"{name:<{width}}" + "".join(f"{'-' if value is None else f'{value:.4f}':>11}" for value in cells))
    summary = [
        ("mean IoU", "mean_iou"),
        ("frequency-weighted IoU", "frequency_weighted_iou"),
        ("pixel accuracy", "pixel_accuracy"),
    ]
    lines += [f"{label:<{width}}{scores[key]:>11.4f}" for label, key in summary if key in scores]
    return "\n".join(lines)
