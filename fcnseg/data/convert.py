"""python -m fcnseg.data.convert: write a dataset split as sharded TFRecords.

    python -m fcnseg.data.convert --dataset=camvid --data_dir=CamVid --split=train --output=records/camvid
"""

from absl import app, flags

from fcnseg import data
from fcnseg.data import tfrecord
from fcnseg.common_flags import dataset_options, define_dataset_flags, one_line_errors

define_dataset_flags()
flags.DEFINE_string("output", None, "Folder to write dataset.json and <split>-NNNNN-of-NNNNN.tfrecord into.")
flags.DEFINE_integer("num_shards", 8, "Number of TFRecord files.", lower_bound=1)
flags.mark_flag_as_required("output")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    with one_line_errors():
        options = dataset_options(FLAGS)
        source = data.open_source(FLAGS.dataset, FLAGS.data_dir, FLAGS.split, **options)
        count = tfrecord.write(source.load(), source.spec, FLAGS.output, FLAGS.split, FLAGS.num_shards)
    print(f"Wrote {count} examples of {FLAGS.dataset} {FLAGS.split} to {FLAGS.num_shards} shards in {FLAGS.output}")


if __name__ == "__main__":
    app.run(main)
