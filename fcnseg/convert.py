"""python -m fcnseg.convert (also python -m fcnseg.data.convert): write a dataset split as sharded TFRecords.

python -m fcnseg.convert --dataset=camvid --data_dir=CamVid --split=train --output=records/camvid
"""

from absl import app, flags

from fcnseg import data
from fcnseg.cli import one_line_errors, start
from fcnseg.cli.dataset_flags import dataset_from_flags, define_dataset_flags
from fcnseg.data import tfrecord

define_dataset_flags()
flags.DEFINE_string("output", None, "Folder to write dataset.json and <split>-NNNNN-of-NNNNN.tfrecord into.")
flags.DEFINE_integer("num_shards", 8, "Number of TFRecord files.", lower_bound=1)
flags.mark_flag_as_required("output")
FLAGS = flags.FLAGS


def main(argv):
    start(argv)
    with one_line_errors():
        dataset = dataset_from_flags(FLAGS)
        source = data.open_source(dataset.name, dataset.data_dir, FLAGS.split, **dataset.options)
        count = tfrecord.write(source.load(), source.spec, FLAGS.output, FLAGS.split, FLAGS.num_shards)
    print(f"Wrote {count} examples of {FLAGS.dataset} {FLAGS.split} to {FLAGS.num_shards} shards in {FLAGS.output}")


if __name__ == "__main__":
    app.run(main)
