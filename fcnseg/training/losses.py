"""The segmentation loss: cross-entropy, OHEM cross-entropy or focal loss over labelled pixels, with an optional Dice term.

Pixels labelled 255 are left out through Keras' `ignore_class`: they add nothing to the
loss and nothing to its gradient, so a batch with no labelled pixel gives a loss of 0.
"""

import keras
from keras import ops

from fcnseg.data.specs import IGNORE_LABEL

LOSSES = ("cross_entropy", "ohem_cross_entropy", "focal")


@keras.saving.register_keras_serializable("fcnseg")
class SegmentationLoss(keras.losses.Loss):
    """Per-pixel classification loss on logits, averaged over the labelled pixels of a batch.

    Under `tf.distribute` each replica averages over its share of the batch, and the step
    averages the replicas.

    The pixel losses are averaged with the class weight of each pixel's label as its
    weight, sum(w * loss) / sum(w), as PyTorch's weighted cross-entropy does, so class
    weights change the balance between classes but not the scale of the loss.

    Args:
        num_classes: int. The number of classes of the logits.
        class_weights: list of float or None. One weight per class; None weighs every
            class 1. Defaults to None.
        loss: str. "cross_entropy"; "ohem_cross_entropy", the cross-entropy of the hard
            pixels only (online hard example mining: Shrivastava et al., CVPR 2016, as
            Wu et al.'s "High-performance semantic segmentation using very deep fully
            convolutional networks" and the BiSeNetV2 and DDRNet trainings use it); or
            "focal" for the focal loss of Lin et al., "Focal Loss for Dense Object
            Detection", ICCV 2017, which scales each pixel's cross-entropy by
            (1 - p)**focal_gamma. Defaults to "cross_entropy".
        focal_gamma: float. The focusing exponent of the focal loss. Defaults to 2.0.
        ohem_threshold: float. OHEM keeps the labelled pixels whose softmax probability of
            their label is below this, in (0, 1]. Defaults to 0.7.
        ohem_min_kept: int. ...but at least this many pixels of a replica's batch (the
            hardest), where it has that many labelled pixels. Defaults to 100000.
        dice_weight: float. Adds this times the soft Dice loss (Milletari et al.,
            "V-Net", 3DV 2016), averaged over classes. Defaults to 0.0 (none).
        ignore_label: int. The label of pixels to leave out. Defaults to 255.
    """

    def __init__(
        self,
        num_classes,
        class_weights=None,
        loss="cross_entropy",
        focal_gamma=2.0,
        dice_weight=0.0,
        ignore_label=IGNORE_LABEL,
        ohem_threshold=0.7,
        ohem_min_kept=100_000,
        name="segmentation_loss",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if loss not in LOSSES:
            raise ValueError(f"Unknown loss {loss!r}; valid losses: {', '.join(LOSSES)}.")
        if class_weights is not None:
            class_weights = [float(weight) for weight in class_weights]
            if len(class_weights) != num_classes or min(class_weights) < 0:
                raise ValueError(
                    f"class_weights has {len(class_weights)} values; "
                    f"expected {num_classes} values of at least 0, one per class."
                )
        if focal_gamma < 0 or dice_weight < 0:
            raise ValueError(f"focal_gamma={focal_gamma} and dice_weight={dice_weight} must be at least 0.")
        if not 0 < ohem_threshold <= 1 or ohem_min_kept < 1:
            raise ValueError(
                f"ohem_threshold={ohem_threshold} must be in (0, 1] and ohem_min_kept={ohem_min_kept} at least 1."
            )
        self.num_classes = num_classes
        self.class_weights = class_weights
        self.loss = loss
        self.focal_gamma = focal_gamma
        self.dice_weight = dice_weight
        self.ignore_label = ignore_label
        self.ohem_threshold = float(ohem_threshold)
        self.ohem_min_kept = int(ohem_min_kept)

    def call(self, y_true, y_pred):
        labels = ops.cast(ops.reshape(y_true, ops.shape(y_pred)[:-1]), "int32")
        logits = ops.cast(y_pred, "float32")
        pixel_losses = keras.losses.sparse_categorical_crossentropy(
            labels, logits, from_logits=True, ignore_class=self.ignore_label
        )
        labelled = ops.not_equal(labels, self.ignore_label)
        if self.loss == "focal":
            pixel_losses = pixel_losses * (1 - ops.exp(-pixel_losses)) ** self.focal_gamma
        weights = ops.cast(labelled, "float32")
        if self.loss == "ohem_cross_entropy":
            weights = weights * hard_pixels(pixel_losses, labelled, self.ohem_threshold, self.ohem_min_kept)
        if self.class_weights is not None:
            weights = weights * ops.take(ops.convert_to_tensor(self.class_weights), ops.where(labelled, labels, 0))
        loss = ops.divide_no_nan(ops.sum(weights * pixel_losses), ops.sum(weights))
        if self.dice_weight:
            loss = loss + self.dice_weight * soft_dice_loss(labels, logits, labelled, self.num_classes)
        # Shape (1,), not (): Keras passes a scalar through untouched, skipping the division
        # by the number of replicas that makes the summed gradients of a replicated step a mean.
        return ops.expand_dims(loss, 0)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "class_weights": self.class_weights,
            "loss": self.loss,
            "focal_gamma": self.focal_gamma,
            "dice_weight": self.dice_weight,
            "ignore_label": self.ignore_label,
            "ohem_threshold": self.ohem_threshold,
            "ohem_min_kept": self.ohem_min_kept,
        }


def hard_pixels(pixel_losses, labelled, threshold, min_kept):
    """1.0 where OHEM keeps a pixel, else 0.0.

    The rule of the HRNet/DDRNet `OhemCrossEntropy`: keep the labelled pixels whose softmax
    probability of their label is below `threshold`; where fewer than `min_kept` pass, raise
    the threshold to the (`min_kept` + 1)-th smallest probability, which keeps the `min_kept`
    hardest; where there are no more than `min_kept` labelled pixels, to the largest, which
    keeps all but the easiest. The choice passes no gradient.
    """
    probabilities = ops.stop_gradient(ops.exp(-pixel_losses))  # softmax probability of the label
    flat = ops.reshape(ops.where(labelled, probabilities, 1.0), (-1,))
    # Padded with ones, so the order statistic exists in any batch; where it falls on the
    # padding, the largest labelled probability takes its place.
    padded = ops.concatenate([flat, ops.ones((min_kept + 1,), flat.dtype)])
    order_statistic = -ops.top_k(-padded, min_kept + 1, sorted=True)[0][min_kept]
    largest = ops.max(ops.where(labelled, probabilities, 0.0))
    cut = ops.maximum(ops.minimum(order_statistic, largest), threshold)
    return ops.cast(ops.logical_and(labelled, probabilities < cut), "float32")


def soft_dice_loss(labels, logits, labelled, num_classes, smooth=1.0):
    """1 - the mean over classes of (2 |P ∩ Y| + s) / (|P| + |Y| + s), on softmax probabilities of labelled pixels."""
    mask = ops.expand_dims(ops.cast(labelled, "float32"), -1)
    probabilities = ops.softmax(logits, axis=-1) * mask
    truth = ops.one_hot(ops.where(labelled, labels, 0), num_classes) * mask
    axes = tuple(range(len(logits.shape) - 1))
    overlap = ops.sum(probabilities * truth, axis=axes)
    sizes = ops.sum(probabilities, axis=axes) + ops.sum(truth, axis=axes)
    return 1 - ops.mean((2 * overlap + smooth) / (sizes + smooth))
