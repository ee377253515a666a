"""Sharded TFRecords as `python -m fcnseg.data.convert` writes them.

    <data_dir>/dataset.json                          the DatasetSpec of the labels
    <data_dir>/<split>-00000-of-00008.tfrecord ...   tf.train.Example records

Each record holds the image as PNG (`image/png`) and its labels, already mapped to
classes and 255, as a single-channel PNG (`label/png`). Sharding by file lets
multi-worker training give each worker its own files.
"""

import os
import pathlib

import tensorflow as tf

from fcnseg import files
from fcnseg.data.decode import check_same_size, index_table, map_label_values
from fcnseg.data.source import Source, existing_dir
from fcnseg.data.specs import DatasetSpec

SPEC_FILE = "dataset.json"
_FEATURES = {"image/png": tf.io.FixedLenFeature([], tf.string), "label/png": tf.io.FixedLenFeature([], tf.string)}


def shard_paths(data_dir, split, num_shards):
    return [pathlib.Path(data_dir) / f"{split}-{index:05d}-of-{num_shards:05d}.tfrecord" for index in range(num_shards)]


def existing_shards(data_dir, split):
    return sorted(
        pathlib.Path(data_dir).glob(f"{split}-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9].tfrecord")
    )


def spec(data_dir=None):
    if data_dir is None:
        raise ValueError(f"Dataset 'tfrecord' needs data_dir: the folder that holds {SPEC_FILE} and the shards.")
    return DatasetSpec.from_json_file(existing_dir(data_dir, "TFRecord") / SPEC_FILE)


def _encode_png(image, label):
    return tf.io.encode_png(image), tf.io.encode_png(tf.cast(label, tf.uint8))


def _example(image_png, label_png):
    features = {
        "image/png": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image_png])),
        "label/png": tf.train.Feature(bytes_list=tf.train.BytesList(value=[label_png])),
    }
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def write(dataset, dataset_spec, output_dir, split, num_shards):
    """Writes a dataset of (image, label) pairs as `num_shards` TFRecord files; returns the count.

    The split's earlier shards in `output_dir` are replaced only once every new shard is
    written: until then they stay as they were, and a failed or interrupted write leaves
    them so. Other splits stay, and must hold the same classes.
    """
    if isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1:
        raise ValueError(f"num_shards={num_shards!r} is not valid; expected a positive integer.")
    output_dir = pathlib.Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    spec_file = output_dir / SPEC_FILE
    if spec_file.exists() and DatasetSpec.from_json_file(spec_file).class_names != dataset_spec.class_names:
        raise ValueError(f"{spec_file}: holds other classes than {dataset_spec.name}; write to another folder.")
    with files.staging_folder(output_dir) as staging:
        paths = shard_paths(staging, split, num_shards)
        writers = [tf.io.TFRecordWriter(str(path)) for path in paths]
        count = 0
        try:
            encoded = dataset.map(_encode_png, tf.data.AUTOTUNE).as_numpy_iterator()
            for count, (image_png, label_png) in enumerate(encoded, start=1):
                writers[(count - 1) % num_shards].write(_example(image_png, label_png))
        finally:
            for writer in writers:
                writer.close()
        if not count:
            raise ValueError(f"The {split} split has no examples to write to {output_dir}.")
        files.write_text(spec_file, dataset_spec.to_json())
        for stale in existing_shards(output_dir, split):
            stale.unlink()
        for path in paths:
            os.replace(path, output_dir / path.name)
    return count


def source(data_dir, split):
    """The shards of `split` under `data_dir`, read in parallel."""
    root = existing_dir(data_dir, "TFRecord")
    dataset_spec = spec(root)
    shards = existing_shards(root, split)
    if not shards:
        raise FileNotFoundError(f"{root}: no {split}-NNNNN-of-NNNNN.tfrecord shards found.")
    total = int(shards[0].stem.rpartition("-of-")[2])
    if [path.name for path in shards] != [path.name for path in shard_paths(root, split, total)]:
        raise ValueError(
            f"{root}: the {split} shards are not one whole set of {total} ({len(shards)} files); convert the split again."
        )
    shard_files = [str(path) for path in shards]
    table = index_table(dataset_spec.num_classes)
    valid = f"0..{dataset_spec.num_classes - 1} or 255"

    def parse(path, record):
        example = tf.io.parse_single_example(record, _FEATURES)
        image = tf.io.decode_png(example["image/png"], channels=3)
        label = map_label_values(tf.io.decode_png(example["label/png"], channels=1), table, path, valid)
        return check_same_size(image, label, path, path)

    def read(shards):
        # One record of each shard in turn: read in order, the records come back in the order
        # `write` was given them (round robin), so slices of a split name the same examples.
        records = shards.interleave(
            lambda path: tf.data.TFRecordDataset(path).map(lambda record: (path, record)),
            cycle_length=total,
            block_length=1,
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        return records.map(parse, tf.data.AUTOTUNE)

    def count():
        return int(tf.data.TFRecordDataset(shard_files).reduce(0, lambda count, _: count + 1))

    elements = tf.data.Dataset.from_tensor_slices(shard_files)
    return Source(dataset_spec, elements, read, None, files_sharded=True, count=count)
