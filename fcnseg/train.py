"""python -m fcnseg.train: train a segmentation model with model.fit.

    python -m fcnseg.train --flagfile=configs/quickstart.flags
    python -m fcnseg.train --flagfile=configs/fcn8s_vgg16_cityscapes.flags --data_dir=cityscapes --model_dir=runs/fcn8s

Flags on the command line override those of the flagfile. Run the same command again to
resume a run that was stopped; a finished run only reports its metrics.
"""

import os

from absl import app, flags

from fcnseg.cli import one_line_errors, start
from fcnseg.cli.train_flags import config_from_flags, define_train_flags, flags_text, upgrade_run_folder
from fcnseg.metrics import format_scores
from fcnseg.training.distribute import split_cpu, worker_subdir
from fcnseg.training.run import train

TRAIN_FLAGS = define_train_flags()
FLAGS = flags.FLAGS


def main(argv):
    start(argv)
    with one_line_errors():
        config = config_from_flags(FLAGS)
        if FLAGS.cpu_devices > 1:
            split_cpu(FLAGS.cpu_devices)
        upgrade_run_folder(os.path.normpath(os.path.join(config.model_dir, worker_subdir())))
        scores = train(config, flags_text(FLAGS, TRAIN_FLAGS))
    if "per_class_iou" in scores:
        print(format_scores(scores))
    kept = "the last epoch, no validation" if scores.get("split") is None else f"epoch {scores['best_epoch']}"
    print(f"Best model ({kept}): {config.model_dir}/best.keras; metrics in {config.model_dir}/metrics.json")


if __name__ == "__main__":
    app.run(main)
