"""python -m fcnseg.inspect: know a dataset before training on it.

    python -m fcnseg.inspect --dataset=camvid --data_dir=data/camvid --split=train --output_dir=inspect/camvid
    python -m fcnseg.inspect --dataset=folder --data_dir=my_data --split=train --output_dir=inspect/my_data \\
        --crop_size=512,512 --strict

Checks every image and label the way the dataset's reader reads them and lists each problem
in one line naming the file; says what the raw label values look like when they are not what
the reader expects (0/255 masks, Cityscapes label ids, ids shifted by one, colour masks of a
known palette); prints the classes' pixel shares and image counts. Writes report.json,
class_weights.json (median frequency, for --class_weights=FILE of training),
class_frequency.png and samples.png to --output_dir. --strict exits with status 1 when it
found a problem.
"""

import sys

from absl import app, flags

from fcnseg.cli import one_line_errors, size_flag, start
from fcnseg.cli.dataset_flags import dataset_from_flags, define_dataset_flags
from fcnseg.conventions import check_size
from fcnseg.inspection import PICKS, InspectConfig, format_report, inspect

define_dataset_flags(split="train", dataset=None)
flags.DEFINE_string("output_dir", None, "Folder for report.json, class_weights.json and the pictures.", required=True)
flags.DEFINE_list("crop_size", [], "Report images smaller than this training crop, height,width.")
flags.DEFINE_integer("samples", 8, "Images in samples.png (0 for none).")
flags.DEFINE_enum(
    "pick", "rare", list(PICKS), "Which images samples.png shows: rare (richest in rare classes), first or random."
)
flags.DEFINE_bool("strict", False, "Exit with status 1 if any problem is found (for CI).")
FLAGS = flags.FLAGS


def main(argv):
    start(argv)
    with one_line_errors():
        dataset = dataset_from_flags(FLAGS)
        crop = size_flag(FLAGS.crop_size)
        config = InspectConfig(
            dataset=dataset.name,
            output_dir=FLAGS.output_dir,
            data_dir=dataset.data_dir,
            split=FLAGS.split,
            dataset_options=dataset.options,
            crop_size=None if crop is None else check_size("crop_size", crop),
            samples=FLAGS.samples,
            pick=FLAGS.pick,
        )
        report = inspect(config)
    print(format_report(report))
    print(f"Report, class weights and pictures in {FLAGS.output_dir}/")
    if FLAGS.strict and report["problems"]:
        sys.exit(1)


if __name__ == "__main__":
    app.run(main)
