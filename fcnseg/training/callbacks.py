"""Keras callbacks of a training run: throughput, a guard against a non-finite loss, and validation pictures."""

import math
import time

import keras
import numpy as np
import tensorflow as tf

from fcnseg.overlay import overlay


class NonFiniteLossError(FloatingPointError):
    """Raised when the training loss becomes NaN or infinite."""


class ImagesPerSecond(keras.callbacks.Callback):
    """Adds `images_per_second` to the logs: the progress bar, the CSV log and TensorBoard show it.

    It counts from the end of an epoch's first step, so tracing and compiling do not count.
    Place it before the callbacks that read the logs.

    Args:
        batch_size: int. The global batch size.
    """

    def __init__(self, batch_size):
        super().__init__()
        self.batch_size = batch_size

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self._rate = None

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self._start is None:
            self._start, self._first_batch = now, batch
            return
        self._rate = (batch - self._first_batch) * self.batch_size / max(now - self._start, 1e-9)
        if logs is not None:
            logs["images_per_second"] = self._rate

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._rate is not None:
            logs["images_per_second"] = self._rate


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Ends training with `NonFiniteLossError` the moment the loss is NaN or infinite.

    Keras' `TerminateOnNaN` lets the epoch finish, so the checkpoints of that epoch would
    be written with broken weights. Raising instead ends `fit` before any of them, so
    the last checkpoints are the last good ones.
    """

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NonFiniteLossError(f"The training loss became {float(loss)} at step {batch + 1} of the epoch.")


class ValidationImages(keras.callbacks.Callback):
    """Writes a few validation images with their predicted masks blended over them to TensorBoard.

    Args:
        log_dir: str. The TensorBoard folder; images go to its `validation` run.
        images: float array `[N, H, W, 3]` of RGB pixels 0..255.
        colors: sequence of (r, g, b), one per class.
    """

    def __init__(self, log_dir, images, colors):
        super().__init__()
        self.images = np.asarray(images, np.float32)
        self.colors = colors
        self._writer = tf.summary.create_file_writer(f"{log_dir}/validation")

    def on_epoch_end(self, epoch, logs=None):
        # Called directly rather than through predict, which would be a collective step
        # that only this worker takes.
        masks = np.argmax(np.asarray(self.model(self.images, training=False)), axis=-1)
        with self._writer.as_default():
            tf.summary.image(
                "predictions", overlay(self.images, masks, self.colors), step=epoch, max_outputs=len(self.images)
            )
        self._writer.flush()
