"""Pixel-wise knowledge distillation: a student trained on a fixed teacher's softened predictions too.

Hinton, Vinyals and Dean, "Distilling the Knowledge in a Neural Network", 2015, applied per
pixel as the pixel-wise distillation of Liu et al., "Structured Knowledge Distillation for
Semantic Segmentation", CVPR 2019 (and the KD baseline of Yang et al., "Cross-Image Relational
Knowledge Distillation for Semantic Segmentation", CVPR 2022): the teacher is a trained model
of the same classes, run in inference mode on the student's training batch.
"""

import os

import keras
from keras import ops

from fcnseg.training.deep_supervision import DeepSupervision


def distillation_loss(student_logits, teacher_logits, temperature):
    """T**2 times KL(softmax(teacher / T) || softmax(student / T)), averaged over every pixel.

    Every pixel counts, labelled or not: the teacher has a prediction for pixels without a
    label too. The T**2 keeps the gradient's scale the same at any temperature (Hinton et al.).
    No gradient reaches the teacher.

    Args:
        student_logits, teacher_logits: tensors (batch, height, width, classes).
        temperature: float. Above 0; higher softens both distributions.
    """
    teacher = ops.log_softmax(ops.stop_gradient(ops.cast(teacher_logits, "float32")) / temperature, axis=-1)
    student = ops.log_softmax(ops.cast(student_logits, "float32") / temperature, axis=-1)
    pixel_divergences = ops.sum(ops.exp(teacher) * (teacher - student), axis=-1)
    return temperature**2 * ops.mean(pixel_divergences)


class Distillation(DeepSupervision):
    """Trains a network on its own losses (`DeepSupervision`'s) plus `weight` times
    `distillation_loss` of its main head against `teacher`'s logits.

    The distillation term is added in training steps only: validation's loss, the metrics,
    `predict` and `inference_model` are those of the network alone; the teacher is in no
    saved model file.

    Args:
        network: keras.Model. The student: main logits, then any auxiliary heads' logits.
        auxiliary_weights: sequence of float. One loss weight per auxiliary head.
        teacher: keras.Model. Raw images in, logits of the same classes at the input's size out.
        temperature: float. See `distillation_loss`.
        weight: float. The distillation term's weight.
    """

    def __init__(self, network, auxiliary_weights, teacher, temperature, weight, **kwargs):
        super().__init__(network, auxiliary_weights, **kwargs)
        teacher.trainable = False
        self.teacher = teacher
        self.temperature = float(temperature)
        self.distillation_weight = float(weight)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        total = super().compute_loss(x, y, y_pred, sample_weight, training)
        if not training:
            return total
        student = y_pred[0] if isinstance(y_pred, (list, tuple)) else y_pred
        teacher = self.teacher(x, training=False)
        return total + self.distillation_weight * distillation_loss(student, teacher, self.temperature)


def load_teacher(path, num_classes, crop_size):
    """The teacher model saved at `path` (a `.keras` file), checked on a blank crop to give
    logits of `num_classes` classes at the crop's size.

    Args:
        path: str.
        num_classes: int. The dataset's classes.
        crop_size: (height, width). The training crops the teacher will see.

    Raises:
        ValueError: naming `--teacher`, where the file is missing or not a model, or the
            model cannot take the crops or gives other outputs.
    """
    if not os.path.isfile(path):
        raise ValueError(f"--teacher={path}: no such file; expected a model file such as runs/x/best.keras.")
    try:
        teacher = keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many kinds for a file it cannot read
        raise ValueError(f"--teacher={path}: not a Keras model file ({type(error).__name__}: {error}).") from None
    height, width = crop_size
    try:
        logits = teacher(ops.zeros((1, height, width, 3)), training=False)
    except Exception as error:  # whatever the model's own layers raise for this size
        raise ValueError(
            f"--teacher={path} cannot take --crop_size={height},{width} ({type(error).__name__}: {error})."
        ) from None
    if isinstance(logits, (list, tuple, dict)):
        raise ValueError(f"--teacher={path} gives {len(logits)} outputs; expected one output of logits.")
    shape = tuple(logits.shape)
    if shape[:-1] != (1, height, width):
        raise ValueError(
            f"--teacher={path} gives {shape} for a {height}x{width} crop; expected logits of shape "
            f"(1, {height}, {width}, classes)."
        )
    if shape[-1] != num_classes:
        raise ValueError(f"--teacher={path} predicts {shape[-1]} classes; the dataset has {num_classes}.")
    return teacher
