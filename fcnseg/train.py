"""python -m fcnseg.train: train a segmentation model with model.fit.

    python -m fcnseg.train --flagfile=configs/quickstart.flags
    python -m fcnseg.train --flagfile=configs/fcn8s_vgg16_cityscapes.flags --data_dir=cityscapes --model_dir=runs/fcn8s

Flags on the command line override those of the flagfile. Run the same command again to
resume a run that was stopped; a finished run only reports its metrics.
"""

from absl import app, flags

from fcnseg import models
from fcnseg.common_flags import (
    dataset_options,
    define_dataset_flags,
    key_value_options,
    one_line_errors,
    size_flag,
    start,
)
from fcnseg.data.augment import Augmentation
from fcnseg.distribute import STRATEGIES, split_cpu
from fcnseg.losses import LOSSES
from fcnseg.metrics import format_scores
from fcnseg.optimizers import OPTIMIZERS, SCHEDULES
from fcnseg.train_lib import MIXED_PRECISION, TrainConfig, train

_ABSL_FLAGS = set(flags.FLAGS)
define_dataset_flags(split="train")
flags.DEFINE_string("model_dir", None, "Folder for checkpoints, logs and metrics; the same folder resumes the run.")
flags.DEFINE_enum("model", "unet", models.list_models(), "The model to train.")
flags.DEFINE_multi_string("model_option", [], "A model option as key=value, e.g. output_stride=8.")
flags.DEFINE_string("encoder_weights", "none", "Encoder weights: none, imagenet, or the path of a weights file.")
flags.DEFINE_string("val_split", "val", "The split validated on after every epoch.")
flags.DEFINE_list(
    "crop_size", ["512", "512"], "Training crop as height,width; divisible by the model's factor (32 works for all)."
)
flags.DEFINE_list("eval_size", [], "Validation resize as height,width; empty for full resolution.")
flags.DEFINE_integer("batch_size", 8, "Global batch size, split across replicas.")
flags.DEFINE_integer("epochs", 10, "Epochs in all, counting those already done when resuming.")
flags.DEFINE_integer("steps_per_epoch", None, "Steps per epoch; default one pass over the training split.")
flags.DEFINE_enum("optimizer", "sgd", OPTIMIZERS, "The optimizer.")
flags.DEFINE_float("learning_rate", 0.01, "The peak learning rate.")
flags.DEFINE_float("momentum", 0.9, "SGD momentum.")
flags.DEFINE_float("weight_decay", 0.0, "Decoupled weight decay on kernels.")
flags.DEFINE_enum("schedule", "constant", SCHEDULES, "Learning-rate schedule.")
flags.DEFINE_integer("warmup_steps", 0, "Steps of linear learning-rate warm-up.")
flags.DEFINE_float("end_learning_rate", 0.0, "Final learning rate of the polynomial and cosine schedules.")
flags.DEFINE_enum("loss", "cross_entropy", LOSSES, "Per-pixel loss.")
flags.DEFINE_float("focal_gamma", 2.0, "Focusing exponent of the focal loss.")
flags.DEFINE_float("dice_weight", 0.0, "Weight of an added soft Dice loss.")
flags.DEFINE_string(
    "class_weights", "none", "none, median_frequency (from the training split), or a JSON file of weights."
)
flags.DEFINE_integer("freeze_encoder_epochs", 0, "Epochs at the start with the pretrained encoder frozen.")
flags.DEFINE_enum("mixed_precision", "none", MIXED_PRECISION, "Dtype policy; logits stay float32.")
flags.DEFINE_bool("jit_compile", False, "Compile the train step with XLA.")
flags.DEFINE_integer("steps_per_execution", 1, "Train steps per call into the graph.")
flags.DEFINE_enum("strategy", "auto", STRATEGIES, "tf.distribute strategy; multi_worker reads TF_CONFIG.")
flags.DEFINE_integer(
    "cpu_devices", 1, "Split the CPU into this many logical devices (to try --strategy=mirrored without GPUs)."
)
flags.DEFINE_float("min_scale", 0.5, "Smallest random rescaling of training images.")
flags.DEFINE_float("max_scale", 2.0, "Largest random rescaling of training images.")
flags.DEFINE_bool("flip", True, "Random left-right flips.")
flags.DEFINE_float("brightness", 25.0, "Largest random brightness shift, in pixel values.")
flags.DEFINE_float("contrast", 0.2, "Random contrast factor range 1 +- this.")
flags.DEFINE_float("saturation", 0.2, "Random saturation factor range 1 +- this.")
flags.DEFINE_float("hue", 0.05, "Largest random hue rotation, as a fraction of the colour wheel.")
flags.DEFINE_bool("cache", False, "Keep decoded examples in memory after the first epoch.")
flags.DEFINE_integer("seed", None, "Seed for weights, shuffling and augmentation.")
flags.DEFINE_integer("tensorboard_images", 3, "Validation images drawn with predictions in TensorBoard each epoch.")
flags.mark_flag_as_required("model_dir")
FLAGS = flags.FLAGS
_TRAIN_FLAGS = sorted(set(FLAGS) - _ABSL_FLAGS)


def config_from_flags(values):
    """The `TrainConfig` of parsed flags; raises ValueError naming the flag at fault."""
    return TrainConfig(
        model_dir=values.model_dir,
        model=values.model,
        model_options=key_value_options("model_option", values.model_option),
        encoder_weights=None if values.encoder_weights == "none" else values.encoder_weights,
        dataset=values.dataset,
        data_dir=values.data_dir,
        dataset_options=dataset_options(values),
        train_split=values.split,
        val_split=values.val_split,
        crop_size=size_flag("crop_size", values.crop_size),
        eval_size=size_flag("eval_size", values.eval_size) if values.eval_size else None,
        batch_size=values.batch_size,
        epochs=values.epochs,
        steps_per_epoch=values.steps_per_epoch,
        optimizer=values.optimizer,
        learning_rate=values.learning_rate,
        momentum=values.momentum,
        weight_decay=values.weight_decay,
        schedule=values.schedule,
        warmup_steps=values.warmup_steps,
        end_learning_rate=values.end_learning_rate,
        loss=values.loss,
        focal_gamma=values.focal_gamma,
        dice_weight=values.dice_weight,
        class_weights=values.class_weights,
        freeze_encoder_epochs=values.freeze_encoder_epochs,
        mixed_precision=values.mixed_precision,
        jit_compile=values.jit_compile,
        steps_per_execution=values.steps_per_execution,
        strategy=values.strategy,
        augmentation=Augmentation(
            values.min_scale,
            values.max_scale,
            values.flip,
            values.brightness,
            values.contrast,
            values.saturation,
            values.hue,
        ),
        cache=values.cache,
        seed=values.seed,
        tensorboard_images=values.tensorboard_images,
    )


def flags_text(values):
    """This program's flags, one `--name=value` a line, as a flagfile that repeats the run."""
    lines = (values[name].serialize() for name in _TRAIN_FLAGS)
    return "".join(f"{line}\n" for line in lines if line)


def main(argv):
    start(argv)
    with one_line_errors():
        config = config_from_flags(FLAGS)
        if FLAGS.cpu_devices > 1:
            split_cpu(FLAGS.cpu_devices)
        scores = train(config, flags_text(FLAGS))
    print(format_scores(scores))
    print(
        f"Best model (epoch {scores['best_epoch']}): {config.model_dir}/best.keras; "
        f"metrics in {config.model_dir}/metrics.json"
    )


if __name__ == "__main__":
    app.run(main)
