"""The input pipeline: a `Source` to batches of (image float32 0..255, label int32) for `model.fit`.

Order of work, cheapest first: shard and shuffle the source's elements (paths), read and
decode them in parallel, optionally cache the decoded examples, then augment (training)
or resize/pad (evaluation) in parallel, batch and prefetch.
"""

import numpy as np
import tensorflow as tf

from fcnseg.conventions import SIZE_MULTIPLE, check_size
from fcnseg.data.augment import Augmentation, augment
from fcnseg.data.specs import IGNORE_LABEL

_DISTRIBUTE = tf.data.experimental.AutoShardPolicy


def make_dataset(
    source,
    *,
    training,
    batch_size,
    crop_size=None,
    eval_size=None,
    augmentation=Augmentation(),
    cache=False,
    shuffle_buffer=256,
    seed=None,
    deterministic=None,
    input_context=None,
    size_multiple=SIZE_MULTIPLE,
):
    """Batches of a `Source` for training or evaluation.

    Args:
        source: Source. A split, from `fcnseg.data.open_source`.
        training: bool. Shuffle and augment, and drop the last partial batch.
        batch_size: int. Examples per batch (per replica when `input_context` is given).
        crop_size: (height, width). Training crop; required for training.
        eval_size: (height, width) or None. Evaluation resizes to this size (labels by
            nearest neighbour); None keeps full resolution, padded at the bottom and
            right to a multiple of `size_multiple` (image 0, label 255).
        augmentation: Augmentation. Random changes for training.
        cache: bool or str. Keep decoded examples in memory (True) or in files with
            this path prefix, so later epochs skip decoding.
        shuffle_buffer: int. Examples shuffled after caching or reading from shards
            (file paths are always shuffled in full before reading).
        seed: int or None. Makes shuffling and augmentation repeatable.
        deterministic: bool or None. Keep the order of elements through parallel
            maps. Defaults to True for evaluation or with a seed, else False (faster).
        input_context: tf.distribute.InputContext or None. Under
            `strategy.distribute_datasets_from_function`, reads only this worker's share.
        size_multiple: int. See `eval_size`.

    Returns:
        A `tf.data.Dataset` of (image float32 [batch, H, W, 3], label int32 [batch, H, W, 1]).
    """
    _check_size("batch_size", batch_size)
    if training:
        if crop_size is None:
            raise ValueError("make_dataset(training=True) needs crop_size, the (height, width) of training crops.")
        crop_size = check_size("crop_size", crop_size)
    if eval_size is not None:
        eval_size = check_size("eval_size", eval_size)
    elements = source.elements
    if input_context is not None and input_context.num_input_pipelines > 1:
        elements = elements.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    shuffle_elements = training and not cache and source.cheap_elements and not source.files_sharded
    if shuffle_elements or (training and source.files_sharded):
        elements = elements.shuffle(_cardinality_or(elements, 10_000), seed=seed, reshuffle_each_iteration=True)
    dataset = source.read(elements)
    if cache:
        dataset = dataset.cache("" if cache is True else str(cache))
    if training:
        if not shuffle_elements:
            dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip(dataset, seeds).map(
            lambda example, pair_seed: augment(*example, tf.cast(pair_seed, tf.int32), crop_size, augmentation),
            tf.data.AUTOTUNE,
        )
        dataset = dataset.batch(batch_size, drop_remainder=True)
    elif eval_size is not None:
        dataset = dataset.map(lambda image, label: _resize(image, label, eval_size), tf.data.AUTOTUNE)
        dataset = dataset.batch(batch_size)
    else:
        dataset = dataset.map(lambda image, label: _pad_to_multiple(image, label, size_multiple), tf.data.AUTOTUNE)
        dataset = dataset.padded_batch(batch_size, padding_values=(0.0, IGNORE_LABEL))
    options = tf.data.Options()
    options.deterministic = (seed is not None or not training) if deterministic is None else deterministic
    if input_context is not None:
        options.experimental_distribute.auto_shard_policy = _DISTRIBUTE.OFF
    else:
        options.experimental_distribute.auto_shard_policy = (
            _DISTRIBUTE.FILE if source.files_sharded else _DISTRIBUTE.DATA
        )
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


def _check_size(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r} is not valid; expected a positive integer.")


def _cardinality_or(dataset, default):
    count = int(dataset.cardinality())
    return count if count > 0 else default


def _resize(image, label, size):
    image = tf.image.resize(tf.cast(image, tf.float32), size, "bilinear")
    return image, tf.image.resize(label, size, "nearest")


def _pad_to_multiple(image, label, multiple):
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    paddings = [[0, -height % multiple], [0, -width % multiple], [0, 0]]
    return tf.pad(tf.cast(image, tf.float32), paddings), tf.pad(label, paddings, constant_values=IGNORE_LABEL)


def class_frequencies(dataset, num_classes):
    """Counts each class's pixels over a dataset of unbatched (image, label) pairs.

    Returns:
        (pixels, pixels_of_images_with): two int64 arrays of length `num_classes`: the
        pixels of each class, and the labelled pixels of the images in which the class
        appears (the denominator of SegNet's median-frequency balancing).
    """

    def count(image, label):
        labels = tf.reshape(label, [-1])
        labels = labels[labels < num_classes]
        pixels = tf.math.bincount(labels, minlength=num_classes, maxlength=num_classes, dtype=tf.int64)
        return pixels, tf.cast(pixels > 0, tf.int64) * tf.size(labels, tf.int64)

    zeros = tf.zeros([num_classes], tf.int64)
    totals = dataset.map(count, tf.data.AUTOTUNE).reduce((zeros, zeros), lambda a, b: (a[0] + b[0], a[1] + b[1]))
    return tuple(total.numpy() for total in totals)


def median_frequency_weights(pixels, pixels_of_images_with):
    """Class weights median(freq) / freq(c) with freq(c) = pixels(c) / pixels of images with c.

    Badrinarayanan, Kendall and Cipolla, "SegNet", TPAMI 2017, after Eigen and Fergus,
    ICCV 2015. A class absent from the data gets weight 0.
    """
    pixels = np.asarray(pixels, np.float64)
    seen = pixels > 0
    frequency = np.zeros_like(pixels)
    frequency[seen] = pixels[seen] / np.asarray(pixels_of_images_with, np.float64)[seen]
    weights = np.zeros_like(pixels)
    weights[seen] = np.median(frequency[seen]) / frequency[seen]
    return weights.astype(np.float32)
