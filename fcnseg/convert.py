"""python -m fcnseg.convert (also python -m fcnseg.data.convert): write a dataset split as sharded TFRecords.

python -m fcnseg.convert --dataset=camvid --data_dir=CamVid --split=train --output=records/camvid
python -m fcnseg.convert --dataset=cityscapes_pairs --data_dir=pairs --split=train[:-300] --output_split=train \
    --output=records/pairs
"""

from absl import app, flags

from fcnseg import data
from fcnseg.cli import one_line_errors, start
from fcnseg.cli.dataset_flags import dataset_from_flags, define_dataset_flags
from fcnseg.data import split_expressions, tfrecord

define_dataset_flags()
flags.DEFINE_string("output", None, "Folder to write dataset.json and <split>-NNNNN-of-NNNNN.tfrecord into.")
flags.DEFINE_integer("num_shards", 8, "Number of TFRecord files.", lower_bound=1)
flags.DEFINE_string(
    "output_split", None, "The name the written split takes; defaults to --split, which must then be one split's name."
)
flags.mark_flag_as_required("output")
FLAGS = flags.FLAGS


def main(argv):
    start(argv)
    with one_line_errors():
        dataset = dataset_from_flags(FLAGS)
        split_expressions.check(FLAGS.split, "--split")
        output_split = FLAGS.output_split or FLAGS.split
        if not split_expressions.is_plain(output_split):
            raise ValueError(
                f"--split={FLAGS.split} is an expression; name the split it is written as with --output_split "
                "(letters, digits and _)."
            )
        source = data.open_source(dataset.name, dataset.data_dir, FLAGS.split, **dataset.options)
        print(f"Converting {FLAGS.dataset} split {split_expressions.describe(source, FLAGS.split)}", flush=True)
        count = tfrecord.write(source.load(), source.spec, FLAGS.output, output_split, FLAGS.num_shards)
    renamed = f" as split {output_split}" if output_split != FLAGS.split else ""
    shards = f"{FLAGS.num_shards} shards in {FLAGS.output}"
    print(f"Wrote {count} examples of {FLAGS.dataset} {FLAGS.split}{renamed} to {shards}")


if __name__ == "__main__":
    app.run(main)
