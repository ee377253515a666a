"""What the end of a validation pass costs, with and without tf.data's autotuning thread.

    python bench/iterator_teardown.py --data_dir=../shared/data/camvid
    python bench/iterator_teardown.py --model=lraspp_mobilenetv3_small --repeats=2

One model (--model, random weights, 11 classes) evaluated with `model.evaluate` on the
validation input of a run (`make_dataset(training=False)`, batch --batch_size) of the
CamVid val split (or --images synthetic scenes of --height x --width without --data_dir),
--repeats times in each of two forms, alternating: as a run builds it (tf.data's
autotuning on) and with autotuning off. For each pass: the wall time of `evaluate`, the
time from its first to its last batch (`on_test_begin` to `on_test_end`), and the
difference, which is the pipeline's setup and its iterator's end. Ending a `fit` on an
endless training input can wait seconds for the autotuning thread to wake (`train_step.py`,
the seconds after the last step); this bench checks whether a run's validation passes,
which end every epoch, pay the same.
"""

import os
import shlex
import statistics
import sys
import time

import keras
import tensorflow as tf
from absl import app, flags
from machine import cpu_model
from model_specs import exit_unless_valid, random_model

from fcnseg import data
from fcnseg.data.pipeline import make_dataset
from fcnseg.training.losses import SegmentationLoss

NUM_CLASSES = 11

flags.DEFINE_string("model", "ddrnet23_slim", "Model to evaluate (random weights): name or name:option=value:...")
flags.DEFINE_integer("repeats", 3, "Passes in each form.")
flags.DEFINE_integer("batch_size", 8, "Validation batch size (the real-time CamVid recipes' batch).")
flags.DEFINE_string("data_dir", None, "CamVid (SegNet layout); synthetic scenes without it.")
flags.DEFINE_integer("images", 24, "Synthetic scenes without --data_dir.")
flags.DEFINE_integer("height", 352, "Height of the synthetic scenes.")
flags.DEFINE_integer("width", 480, "Width of the synthetic scenes.")
FLAGS = flags.FLAGS


class _Loop(keras.callbacks.Callback):
    """Remembers when evaluation's first batch began and its last one ended."""

    def on_test_begin(self, logs=None):
        self.begin = time.perf_counter()

    def on_test_end(self, logs=None):
        self.end = time.perf_counter()


def validation_source():
    """The CamVid val split, or synthetic scenes without --data_dir."""
    if FLAGS.data_dir:
        return data.open_source("camvid", FLAGS.data_dir, "val")
    return data.open_source("synthetic", None, "val", num_images=FLAGS.images, height=FLAGS.height, width=FLAGS.width)


def timed_pass(model, source, autotune):
    """(wall s, first-to-last-batch s) of one `evaluate` of a run's validation input of
    `source`, its autotuning on (as a run builds it) or off."""
    options = tf.data.Options()
    options.autotune.enabled = autotune
    dataset = make_dataset(source, training=False, batch_size=FLAGS.batch_size).with_options(options)
    loop = _Loop()
    start = time.perf_counter()
    model.evaluate(dataset, callbacks=[loop], verbose=0)
    return time.perf_counter() - start, loop.end - loop.begin


def main(argv):
    del argv
    exit_unless_valid([FLAGS.model])
    if FLAGS.repeats < 1:
        sys.exit(f"error: --repeats={FLAGS.repeats} must be at least 1.")
    model = random_model(FLAGS.model, NUM_CLASSES)
    model.compile(loss=SegmentationLoss(NUM_CLASSES))  # a run's loss: label 255 ignored
    source = validation_source()
    timed_pass(model, source, autotune=True)  # traces the test function
    forms = {"autotuning on (a run's validation)": True, "autotuning off": False}
    passes = {form: [] for form in forms}
    for _ in range(FLAGS.repeats):
        for form, autotune in forms.items():
            passes[form].append(timed_pass(model, source, autotune))

    print(f"Command: python {shlex.join(sys.argv)}\n")
    print(f"Machine: {cpu_model()}, {os.cpu_count()} cores; TensorFlow {tf.__version__}, Keras {keras.__version__}.\n")
    print("| form | pass | evaluate s | first to last batch s | the rest s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for form, timings in passes.items():
        for index, (wall, loop) in enumerate(timings, 1):
            print(f"| {form} | {index} | {wall:.2f} | {loop:.2f} | {wall - loop:.2f} |")
    print("\n| form | median evaluate s | median rest s |")
    print("| --- | ---: | ---: |")
    for form, timings in passes.items():
        walls, rests = [wall for wall, _ in timings], [wall - loop for wall, loop in timings]
        print(f"| {form} | {statistics.median(walls):.2f} | {statistics.median(rests):.2f} |")


if __name__ == "__main__":
    app.run(main)
