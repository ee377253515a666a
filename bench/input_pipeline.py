"""Training input throughput on CamVid: fcnseg's tf.data pipeline against a plain Python loop.

    python bench/input_pipeline.py --data_dir=../shared/data/camvid

Three readers of the CamVid train split, timed in one run, over whole epochs (the median
of --repeats), after one warm-up epoch each:
  decode floor   tf.data reading and decoding the PNG pairs in parallel, nothing else:
                 the most any pipeline on this machine can deliver from the files;
  fcnseg         make_dataset(training=True): decode, random scale 0.5-2, crop to
                 --crop with label padding, flip, brightness/contrast/saturation/hue;
                 again with cache=True, which decodes once and only augments later epochs;
  plain loop     one Python process reading with OpenCV and augmenting the same way with
                 OpenCV and NumPy, as most Keras segmentation repositories feed `fit`.
"""

import pathlib
import statistics
import sys
import time

import cv2
import numpy as np
import tensorflow as tf
from absl import app, flags

from fcnseg import data
from fcnseg.data.decode import read_image, read_index_label

flags.DEFINE_string(
    "data_dir",
    str(pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "camvid"),
    "CamVid (SegNet layout).",
)
flags.DEFINE_list("crop", ["360", "480"], "Training crop: height,width.")
flags.DEFINE_integer("batch_size", 8, "Batch size.")
flags.DEFINE_integer("repeats", 3, "Timed epochs per reader (the median is reported).")
FLAGS = flags.FLAGS


def decode_floor(source):
    pairs = source.elements.map(lambda image, label: (read_image(image), read_index_label(label)), tf.data.AUTOTUNE)
    return pairs.prefetch(tf.data.AUTOTUNE)


def fcnseg_pipeline(source, crop, batch_size):
    return data.make_dataset(source, training=True, batch_size=batch_size, crop_size=crop)


def plain_loop(pairs, crop, batch_size, rng):
    """Yields batches like a typical hand-written generator: one process, OpenCV and NumPy."""
    order = rng.permutation(len(pairs))
    images, labels = [], []
    for index in order:
        image_path, label_path = pairs[index]
        image = cv2.cvtColor(cv2.imread(image_path), cv2.COLOR_BGR2RGB)
        label = cv2.imread(label_path, cv2.IMREAD_GRAYSCALE)
        image, label = _plain_augment(image, label, crop, rng)
        images.append(image)
        labels.append(label)
        if len(images) == batch_size:
            yield np.stack(images), np.stack(labels)[..., None]
            images, labels = [], []


def _plain_augment(image, label, crop, rng):
    scale = rng.uniform(0.5, 2.0)
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR).astype(np.float32)
    label = cv2.resize(label, size, interpolation=cv2.INTER_NEAREST)
    pad_h, pad_w = max(crop[0] - image.shape[0], 0), max(crop[1] - image.shape[1], 0)
    image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)))
    label = np.pad(label, ((0, pad_h), (0, pad_w)), constant_values=255)
    top = rng.integers(0, image.shape[0] - crop[0] + 1)
    left = rng.integers(0, image.shape[1] - crop[1] + 1)
    image, label = image[top : top + crop[0], left : left + crop[1]], label[top : top + crop[0], left : left + crop[1]]
    if rng.random() < 0.5:
        image, label = image[:, ::-1], label[:, ::-1]
    image = image + rng.uniform(-25, 25)
    mean = image.mean()
    image = (image - mean) * rng.uniform(0.8, 1.2) + mean
    hsv = cv2.cvtColor(np.clip(image, 0, 255).astype(np.float32) / 255.0, cv2.COLOR_RGB2HSV)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-0.05, 0.05) * 360.0) % 360.0
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.8, 1.2), 0, 1)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0, np.ascontiguousarray(label)


def images_per_second(make_epoch, repeats):
    """Median images per second over `repeats` epochs, after a warm-up epoch."""
    rates = []
    for attempt in range(repeats + 1):
        start, count = time.perf_counter(), 0
        for images, _ in make_epoch():
            count += len(images)
        if attempt:
            rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def main(argv):
    del argv
    if len(FLAGS.crop) != 2 or not all(side.isdigit() and int(side) > 0 for side in FLAGS.crop):
        sys.exit(f"error: --crop={','.join(FLAGS.crop)} is not valid; expected height,width in pixels.")
    crop = tuple(int(side) for side in FLAGS.crop)
    source = data.open_source("camvid", FLAGS.data_dir, "train")
    image_paths, label_paths = zip(*[(i.decode(), l.decode()) for i, l in source.elements.as_numpy_iterator()])
    pairs = list(zip(image_paths, label_paths))
    rng = np.random.default_rng(0)

    floor = images_per_second(lambda: decode_floor(source).batch(FLAGS.batch_size), FLAGS.repeats)
    ours = images_per_second(lambda: fcnseg_pipeline(source, crop, FLAGS.batch_size), FLAGS.repeats)
    cached_dataset = data.make_dataset(source, training=True, batch_size=FLAGS.batch_size, crop_size=crop, cache=True)
    cached = images_per_second(lambda: cached_dataset, FLAGS.repeats)  # the warm-up epoch fills the cache
    plain = images_per_second(lambda: plain_loop(pairs, crop, FLAGS.batch_size, rng), FLAGS.repeats)

    print(
        f"CamVid train ({len(pairs)} images), crops {crop[0]}x{crop[1]}, batch {FLAGS.batch_size}, "
        f"median of {FLAGS.repeats} epochs, tf.data threads on {tf.config.threading.get_inter_op_parallelism_threads() or 'all'} cores\n"
    )
    print("| reader | images/s | vs plain loop | vs decode floor |")
    print("| --- | ---: | ---: | ---: |")
    rows = (
        ("decode floor (tf.data, decode only)", floor),
        ("fcnseg make_dataset, full augmentation", ours),
        ("fcnseg make_dataset, full augmentation, cache=True", cached),
        ("plain Python loop (OpenCV + NumPy)", plain),
    )
    for name, rate in rows:
        print(f"| {name} | {rate:.1f} | {rate / plain:.2f}x | {rate / floor:.0%} |")


if __name__ == "__main__":
    app.run(main)
