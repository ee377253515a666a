"""Training throughput of every model: the real training path against in-memory batches, with FLOPs.

    python bench/train_step.py
    python bench/train_step.py --models=unet --modes=float32,jit_compile --height=64 --width=128 --steps=2

For every model of `fcnseg.list_models()` (8 classes, random weights) and every mode,
one run times training images per second at --height x --width, batch --batch_size:
  modes          float32; mixed_bfloat16 (`keras.config.set_dtype_policy` before the
                 model is built, restored after); jit_compile (float32, the train step
                 compiled with XLA);
  pipeline       the model compiled as `fcnseg.training.run` compiles it (SegmentationLoss,
                 mean IoU and pixel accuracy, SGD at 0.01 with momentum 0.9) and fed by
                 `make_dataset(training=True, cache=True).repeat()` of the synthetic train
                 split drawn at the training size, with the callbacks every run has
                 (ImagesPerSecond, StopOnNonFiniteLoss). The cache is filled by one pass
                 before any timing, as it is after a run's first epoch;
  in-memory      the same compiled model fed one fixed batch of that pipeline, repeated
                 (`Dataset.from_tensors(batch).repeat()`), with no callbacks;
  ratio          pipeline / in-memory: what the input pipeline and callbacks cost.
Each rate is --steps x --batch_size images over the time from the first step of
`model.fit(epochs=1, steps_per_epoch=--steps)` to its last (`on_train_begin` to
`on_train_end`), after a warm-up fit of --warmup_steps steps on the same input (tracing and
compilation excluded); the fit is timed --repeats times and the table gives the median, the
range, and the median CPU use: the process's CPU seconds (`time.process_time`, all
threads) per wall second over the steps, at most the core count. The steps are what a
training run pays every epoch; the rest of a `fit` call is mostly the end of its input
iterator, which waits for tf.data's autotuning thread to wake (its period doubles from
10 ms, so the call ends at 10 ms x (2^k - 1) after the iterator started), and a run
pays that once (its training iterator lives for the whole run). A second table lists
every timed fit: both rates, how busy each CPU was, the seconds after the last step, and
the wall time of a fixed reference workload (ten 1024x1024 float32 matmuls) timed right
after it.

FLOPs: the forward pass of a float32 model at 1 x height x width x 3, traced as a
`tf.function` and counted with `tf.compat.v1.profiler` (float_operation) on the graph of
its concrete function. The counts are FLOPs, a multiply-add counting 2 (Conv2D: 2 x
output elements x kernel height x width x input channels), plus the elementwise and
pooling ops the profiler knows; ops it has no count for (resizes, activations) add 0.
A training step is taken as 3x the forward pass (forward, gradients of the inputs and of
the weights), so achieved GFLOP/s = in-memory images/s x 3 x forward GFLOPs per image.
"""

import collections
import gc
import os
import platform
import shlex
import statistics
import sys
import time

import keras
import tensorflow as tf
from absl import app, flags, logging
from common import cpu_model, cpu_seconds_by_cpu, exit_unless_valid, forward_flops, model_spec

import fcnseg
from fcnseg import data, metrics
from fcnseg.data.pipeline import make_dataset
from fcnseg.training.callbacks import ImagesPerSecond, StopOnNonFiniteLoss
from fcnseg.training.losses import SegmentationLoss
from fcnseg.training.optimizers import make_optimizer

MODES = ("float32", "mixed_bfloat16", "jit_compile")
NUM_CLASSES = 8  # the synthetic dataset's classes
TRAIN_FLOPS_PER_FORWARD = 3

flags.DEFINE_list("models", fcnseg.list_models(), "Models to time: name or name:option=value:...")
flags.DEFINE_list("modes", list(MODES), f"Modes to time: any of {', '.join(MODES)}.")
flags.DEFINE_integer("steps", 10, "Timed training steps per configuration and input.")
flags.DEFINE_integer("warmup_steps", 2, "Untimed training steps before each timed fit.")
flags.DEFINE_integer("repeats", 3, "Timed fits per configuration and input (the median is reported).")
flags.DEFINE_integer("height", 256, "Training crop height (and the height of the synthetic scenes).")
flags.DEFINE_integer("width", 512, "Training crop width (and the width of the synthetic scenes).")
flags.DEFINE_integer("batch_size", 2, "Images per training step.")
FLAGS = flags.FLAGS


def pipeline_dataset(height, width, batch_size):
    """The training input of a run on the synthetic train split, its cache already filled."""
    source = data.open_source("synthetic", split="train", height=height, width=width)
    dataset = make_dataset(source, training=True, batch_size=batch_size, crop_size=(height, width), cache=True)
    for _ in dataset:  # one pass fills the in-memory cache, as a run's first epoch does
        pass
    return dataset.repeat()


def build_and_compile(spec, height, width, jit_compile):
    """The model of a --models entry, compiled as `fcnseg.training.run` compiles it for a run."""
    name, options = model_spec(spec)
    model = fcnseg.build_model(name, NUM_CLASSES, (height, width, 3), encoder_weights=None, **options)
    model.compile(
        optimizer=make_optimizer("sgd", 0.01),
        loss=SegmentationLoss(NUM_CLASSES),
        metrics=[metrics.mean_iou(NUM_CLASSES), metrics.PixelAccuracy(NUM_CLASSES)],
        jit_compile=jit_compile,
        steps_per_execution=1,
    )
    model.optimizer.build(model.trainable_variables)
    return model


Rate = collections.namedtuple("Rate", "median low high cpu_use repeats")
Repeat = collections.namedtuple(
    "Repeat", "images_per_second fit_images_per_second cpu_use cpu_busy iterator_end_s reference_ms"
)
_REFERENCE = tf.random.stateless_uniform((1024, 1024), seed=(0, 0))


def reference_ms():
    """Wall milliseconds of a fixed workload (ten 1024x1024 float32 matmuls): the machine's speed now."""
    start = time.perf_counter()
    product = _REFERENCE
    for _ in range(10):
        product = tf.linalg.matmul(product, _REFERENCE) * 1e-3
    product.numpy()
    return 1000 * (time.perf_counter() - start)


class _Steps(keras.callbacks.Callback):
    """Wall and process CPU time from a fit's first step to its last (`on_train_begin` to `on_train_end`)."""

    def on_train_begin(self, logs=None):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def on_train_end(self, logs=None):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def images_per_second(model, dataset, callbacks, steps, warmup_steps, batch_size, repeats):
    """The `Rate` of `repeats` timed fits of `steps` steps each, after a warm-up fit."""
    fit = dict(x=dataset, epochs=1, shuffle=False, verbose=0)
    model.fit(steps_per_epoch=warmup_steps, callbacks=callbacks, **fit)
    measured = []
    for _ in range(repeats):
        timer, busy = _Steps(), cpu_seconds_by_cpu()
        wall = time.perf_counter()
        model.fit(steps_per_epoch=steps, callbacks=[*callbacks, timer], **fit)
        wall = time.perf_counter() - wall
        busy = [(end - start) / wall for start, end in zip(busy, cpu_seconds_by_cpu())]
        images = steps * batch_size
        measured.append(
            Repeat(images / timer.wall, images / wall, timer.cpu / timer.wall, busy, wall - timer.wall, reference_ms())
        )
    rates = [repeat.images_per_second for repeat in measured]
    cpu_use = statistics.median(repeat.cpu_use for repeat in measured)
    return Rate(statistics.median(rates), min(rates), max(rates), cpu_use, measured)


def time_configuration(name, mode, pipeline, batch):
    """(pipeline img/s, in-memory img/s), each a float or the `failed: ...` text of its error."""
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16" if mode == "mixed_bfloat16" else "float32")
    try:
        model = build_and_compile(name, FLAGS.height, FLAGS.width, jit_compile=mode == "jit_compile")
    except Exception as error:  # noqa: BLE001 - a failing configuration is a result
        return failed(error), "-"  # one message for both inputs
    finally:
        keras.config.set_dtype_policy(previous_policy)
    timing = dict(
        steps=FLAGS.steps, warmup_steps=FLAGS.warmup_steps, batch_size=FLAGS.batch_size, repeats=FLAGS.repeats
    )
    rates = []
    for dataset, callbacks in (
        (pipeline, [ImagesPerSecond(FLAGS.batch_size), StopOnNonFiniteLoss()]),
        (tf.data.Dataset.from_tensors(batch).repeat(), []),
    ):
        try:
            rates.append(images_per_second(model, dataset, callbacks, **timing))
        except Exception as error:  # noqa: BLE001
            rates.append(failed(error))
    del model
    keras.backend.clear_session()
    gc.collect()
    return tuple(rates)


def failed(error):
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = f"{type(error).__name__}: {lines[0] if lines else ''}"
    return "failed: " + (text if len(text) <= 160 else text[:157] + "...").replace("|", "\\|")


def rate_text(value):
    if isinstance(value, str):
        return value
    return f"{value.median:.2f} ({value.low:.2f}-{value.high:.2f}; CPU {value.cpu_use:.2f})"


def main(argv):
    del argv
    exit_unless_valid(FLAGS.models)
    bad_modes = [mode for mode in FLAGS.modes if mode not in MODES]
    if bad_modes:
        sys.exit(f"error: unknown --modes {', '.join(bad_modes)}; valid: {', '.join(MODES)}.")
    for name in ("steps", "warmup_steps", "repeats", "height", "width", "batch_size"):
        if getattr(FLAGS, name) < 1:
            sys.exit(f"error: --{name}={getattr(FLAGS, name)} must be at least 1.")

    logging.info("Filling the synthetic train split's cache at %dx%d.", FLAGS.height, FLAGS.width)
    pipeline = pipeline_dataset(FLAGS.height, FLAGS.width, FLAGS.batch_size)
    batch = next(iter(pipeline))

    rows = []
    for name in FLAGS.models:
        try:
            model_name, options = model_spec(name)
            flops = forward_flops(model_name, FLAGS.height, FLAGS.width, NUM_CLASSES, **options)
        except Exception as error:  # noqa: BLE001
            flops = failed(error)
        for mode in FLAGS.modes:
            logging.info("Timing %s, %s.", name, mode)
            rows.append((name, mode, *time_configuration(name, mode, pipeline, batch), flops))

    gpus = tf.config.list_physical_devices("GPU")
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"Command: python {shlex.join(sys.argv)}\n")
    print(
        f"Machine: {cpu_model()}, {os.cpu_count()} cores ({affinity} usable by this process), "
        f"{f'{len(gpus)} GPU(s)' if gpus else 'no GPU'}; "
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, Python {platform.python_version()}.\n"
    )
    print(
        f"Training at {FLAGS.height}x{FLAGS.width}, batch {FLAGS.batch_size}, {NUM_CLASSES} classes, random weights; "
        f"{FLAGS.steps} timed steps after {FLAGS.warmup_steps} warm-up steps per input, {FLAGS.repeats} times: "
        "median (range; median CPU use).\n"
    )
    print("| model | mode | pipeline img/s | in-memory img/s | ratio | GFLOPs/img (forward) | achieved GFLOP/s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name, mode, piped, in_memory, flops in rows:
        both = not isinstance(piped, str) and not isinstance(in_memory, str)
        ratio = f"{piped.median / in_memory.median:.2f}" if both else "-"
        gflops = flops if isinstance(flops, str) else f"{flops / 1e9:.1f}"
        achieved = "-"
        if not isinstance(flops, str) and not isinstance(in_memory, str):
            achieved = f"{in_memory.median * TRAIN_FLOPS_PER_FORWARD * flops / 1e9:.1f}"
        print(f"| {name} | {mode} | {rate_text(piped)} | {rate_text(in_memory)} | {ratio} | {gflops} | {achieved} |")
    print(
        "\nEvery timed fit: the rate of its steps and of the whole `fit` call, the process's CPU use over its "
        "steps, how busy each CPU of the machine was over the whole call (every process and the kernel, from "
        "/proc/stat), the seconds the call went on after its last step (the input iterator's end), and the "
        "wall time of a fixed reference workload (ten 1024x1024 float32 matmuls) right after it.\n"
    )
    print(
        "| model | mode | input | img/s (steps) | img/s (fit call) | CPU use | each CPU busy | after the last step, s | reference ms |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, mode, piped, in_memory, _ in rows:
        for label, rate in (("pipeline", piped), ("in-memory", in_memory)):
            for repeat in [] if isinstance(rate, str) else rate.repeats:
                busy = ", ".join(f"{cores:.2f}" for cores in repeat.cpu_busy)
                print(
                    f"| {name} | {mode} | {label} | {repeat.images_per_second:.2f} | "
                    f"{repeat.fit_images_per_second:.2f} | {repeat.cpu_use:.2f} | {busy} | "
                    f"{repeat.iterator_end_s:.2f} | {repeat.reference_ms:.0f} |"
                )
    print(
        "\n- *pipeline*: `make_dataset(training=True, cache=True)` of the synthetic train split (cache filled "
        "beforehand) and the ImagesPerSecond and StopOnNonFiniteLoss callbacks; *in-memory*: one fixed batch "
        "repeated, no callbacks; "
        "*ratio* = pipeline / in-memory."
        "\n- *GFLOPs/img (forward)*: `tf.compat.v1.profiler` float operations of the float32 forward pass at "
        f"1x{FLAGS.height}x{FLAGS.width}x3, a multiply-add counting 2 FLOPs."
        f"\n- *achieved GFLOP/s* = in-memory img/s x {TRAIN_FLOPS_PER_FORWARD} x forward GFLOPs/img "
        "(a training step taken as 3 forward passes)."
    )


if __name__ == "__main__":
    app.run(main)
