"""Keras callbacks of a training run: throughput, a guard against a non-finite loss, validation pictures,
and the run's log and checkpoints written atomically."""

import math
import time

import keras
import numpy as np
import tensorflow as tf

from fcnseg import files
from fcnseg.overlay import overlay
from fcnseg.training import run_dir
from fcnseg.training.deep_supervision import inference_model


class NonFiniteLossError(FloatingPointError):
    """Raised when the training loss becomes NaN or infinite."""


class ImagesPerSecond(keras.callbacks.Callback):
    """Adds `images_per_second` and `epoch_seconds` to the logs: the progress bar, the CSV log
    and TensorBoard show them.

    The rate counts from the end of an epoch's first step, so tracing and compiling do not
    count; the seconds are the epoch's wall time, its validation included (what a training
    budget in epochs is made of). Place it before the callbacks that read the logs.

    Args:
        batch_size: int. The global batch size.
    """

    def __init__(self, batch_size):
        super().__init__()
        self.batch_size = batch_size

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self._rate = None
        self._epoch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self._start is None:
            self._start, self._first_batch = now, batch
            return
        self._rate = (batch - self._first_batch) * self.batch_size / max(now - self._start, 1e-9)
        if logs is not None:
            logs["images_per_second"] = self._rate

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        logs["epoch_seconds"] = time.perf_counter() - self._epoch_start
        if self._rate is not None:
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


class EpochLog(keras.callbacks.Callback):
    """Adds each epoch's logs as a row of `log.csv` in the run folder: `epoch`, then the logs' keys
    sorted, as Keras' `CSVLogger` writes them, but by rewriting the file atomically, so a killed
    run never leaves half a row.

    Args:
        out_dir: str. The run folder.
    """

    def __init__(self, out_dir):
        super().__init__()
        self.out_dir = out_dir

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch, **{key: float(value) for key, value in sorted((logs or {}).items())}}
        run_dir.append_log_row(self.out_dir, row)


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """Keras' `ModelCheckpoint`, saving to a temporary file that is renamed over the checkpoint,
    so a run killed while saving leaves the previous checkpoint whole; of a model trained with
    auxiliary heads, it saves the main head's model."""

    def _save_model(self, epoch, batch, logs):
        # Keras' own method, but for where it saves; `_should_save_model` also keeps `best`.
        filepath = self._get_file_path(epoch, batch, logs)
        if self._should_save_model(epoch, batch, logs, filepath):
            with files.atomic_path(filepath) as temporary:
                inference_model(self.model).save(temporary, overwrite=True)
