"""The flags of `python -m fcnseg.train`, the `TrainConfig` they make, and a run folder's config.

A run folder written before `run_config.json` existed holds only `flags.txt`;
`run_config` reads its config by parsing that file with these same flag definitions, and
`upgrade_run_folder` writes it as the folder's `run_config.json`.
"""

import pathlib

from absl import flags

from fcnseg import models
from fcnseg.cli import key_value_options, size_flag
from fcnseg.cli.dataset_flags import dataset_from_flags, define_dataset_flags
from fcnseg.data.augment import Augmentation
from fcnseg.training import run_dir
from fcnseg.training.config import MIXED_PRECISION, TrainConfig
from fcnseg.training.distribute import STRATEGIES
from fcnseg.training.losses import LOSSES
from fcnseg.training.optimizers import OPTIMIZERS, SCHEDULES


def define_train_flags(flag_values=flags.FLAGS):
    """Defines the flags of `python -m fcnseg.train` in `flag_values`.

    Returns:
        The names of the flags defined, in the order `flags_text` writes them.
    """
    before = set(flag_values)
    define_dataset_flags(split="train", flag_values=flag_values)
    flags.DEFINE_string(
        "model_dir",
        None,
        "Folder for checkpoints, logs and metrics; the same folder resumes the run.",
        flag_values=flag_values,
    )
    flags.DEFINE_enum("model", "unet", models.list_models(), "The model to train.", flag_values=flag_values)
    flags.DEFINE_multi_string(
        "model_option", [], "A model option as key=value, e.g. output_stride=8.", flag_values=flag_values
    )
    flags.DEFINE_string(
        "encoder_weights",
        "none",
        "Encoder weights: none, imagenet, or the path of a weights file.",
        flag_values=flag_values,
    )
    flags.DEFINE_string(
        "val_split",
        "val",
        "The split validated on after every epoch; empty for none (a final fit: best.keras is the last epoch).",
        flag_values=flag_values,
    )
    flags.DEFINE_list(
        "crop_size",
        ["512", "512"],
        "Training crop as height,width; divisible by the model's factor (32 works for all).",
        flag_values=flag_values,
    )
    flags.DEFINE_list(
        "eval_size", [], "Validation resize as height,width; empty for full resolution.", flag_values=flag_values
    )
    flags.DEFINE_integer("batch_size", 8, "Global batch size, split across replicas.", flag_values=flag_values)
    flags.DEFINE_integer(
        "epochs", 10, "Epochs in all, counting those already done when resuming.", flag_values=flag_values
    )
    flags.DEFINE_integer(
        "steps_per_epoch", None, "Steps per epoch; default one pass over the training split.", flag_values=flag_values
    )
    flags.DEFINE_enum("optimizer", "sgd", OPTIMIZERS, "The optimizer.", flag_values=flag_values)
    flags.DEFINE_float("learning_rate", 0.01, "The peak learning rate.", flag_values=flag_values)
    flags.DEFINE_float("momentum", 0.9, "SGD momentum.", flag_values=flag_values)
    flags.DEFINE_float("weight_decay", 0.0, "Decoupled weight decay on kernels.", flag_values=flag_values)
    flags.DEFINE_enum("schedule", "constant", SCHEDULES, "Learning-rate schedule.", flag_values=flag_values)
    flags.DEFINE_integer("warmup_steps", 0, "Steps of linear learning-rate warm-up.", flag_values=flag_values)
    flags.DEFINE_float(
        "end_learning_rate", 0.0, "Final learning rate of the polynomial and cosine schedules.", flag_values=flag_values
    )
    flags.DEFINE_enum("loss", "cross_entropy", LOSSES, "Per-pixel loss.", flag_values=flag_values)
    flags.DEFINE_float("focal_gamma", 2.0, "Focusing exponent of the focal loss.", flag_values=flag_values)
    flags.DEFINE_float("dice_weight", 0.0, "Weight of an added soft Dice loss.", flag_values=flag_values)
    flags.DEFINE_float(
        "ohem_threshold",
        0.7,
        "OHEM keeps the pixels whose probability of their label is below this (--loss=ohem_cross_entropy).",
        flag_values=flag_values,
    )
    flags.DEFINE_integer(
        "ohem_min_kept",
        100_000,
        "...but at least this many hardest pixels a replica's batch (--loss=ohem_cross_entropy).",
        flag_values=flag_values,
    )
    flags.DEFINE_float(
        "batch_norm_momentum",
        None,
        "Momentum of every batch norm layer's moving statistics; default each layer's own. keras.applications' "
        "MobileNets use 0.999, whose statistics lag far behind the weights in a short run from scratch.",
        flag_values=flag_values,
    )
    flags.DEFINE_float(
        "auxiliary_weight",
        None,
        "Loss weight of each auxiliary (deep supervision) head; default the paper's, 0 trains without them.",
        flag_values=flag_values,
    )
    flags.DEFINE_string(
        "teacher",
        None,
        "A trained model file of the same classes (e.g. runs/x/best.keras) to distil from, pixel by pixel.",
        flag_values=flag_values,
    )
    flags.DEFINE_float(
        "distillation_temperature",
        1.0,
        "Softening temperature of the distillation (--teacher).",
        flag_values=flag_values,
    )
    flags.DEFINE_float(
        "distillation_weight", 1.0, "Loss weight of the distillation term (--teacher).", flag_values=flag_values
    )
    flags.DEFINE_float(
        "ema",
        None,
        "Average the weights: an exponential moving average with this momentum (e.g. 0.999) is validated and saved.",
        flag_values=flag_values,
    )
    flags.DEFINE_string(
        "class_weights",
        "none",
        "none, median_frequency (from the training split), sqrt_median_frequency (its square root), or a JSON "
        "file of weights.",
        flag_values=flag_values,
    )
    flags.DEFINE_integer(
        "freeze_encoder_epochs", 0, "Epochs at the start with the pretrained encoder frozen.", flag_values=flag_values
    )
    flags.DEFINE_enum(
        "mixed_precision", "none", MIXED_PRECISION, "Dtype policy; logits stay float32.", flag_values=flag_values
    )
    flags.DEFINE_bool("jit_compile", False, "Compile the train step with XLA.", flag_values=flag_values)
    flags.DEFINE_integer("steps_per_execution", 1, "Train steps per call into the graph.", flag_values=flag_values)
    flags.DEFINE_enum(
        "strategy", "auto", STRATEGIES, "tf.distribute strategy; multi_worker reads TF_CONFIG.", flag_values=flag_values
    )
    flags.DEFINE_integer(
        "cpu_devices",
        1,
        "Split the CPU into this many logical devices (to try --strategy=mirrored without GPUs).",
        flag_values=flag_values,
    )
    flags.DEFINE_float("min_scale", 0.5, "Smallest random rescaling of training images.", flag_values=flag_values)
    flags.DEFINE_float("max_scale", 2.0, "Largest random rescaling of training images.", flag_values=flag_values)
    flags.DEFINE_bool("flip", True, "Random left-right flips.", flag_values=flag_values)
    flags.DEFINE_float("brightness", 25.0, "Largest random brightness shift, in pixel values.", flag_values=flag_values)
    flags.DEFINE_float("contrast", 0.2, "Random contrast factor range 1 +- this.", flag_values=flag_values)
    flags.DEFINE_float("saturation", 0.2, "Random saturation factor range 1 +- this.", flag_values=flag_values)
    flags.DEFINE_float(
        "hue", 0.05, "Largest random hue rotation, as a fraction of the colour wheel.", flag_values=flag_values
    )
    flags.DEFINE_bool("cache", False, "Keep decoded examples in memory after the first epoch.", flag_values=flag_values)
    flags.DEFINE_integer("seed", None, "Seed for weights, shuffling and augmentation.", flag_values=flag_values)
    flags.DEFINE_integer(
        "tensorboard_images",
        3,
        "Validation images drawn with predictions in TensorBoard each epoch.",
        flag_values=flag_values,
    )
    flags.mark_flag_as_required("model_dir", flag_values=flag_values)
    return sorted(set(flag_values) - before)


def config_from_flags(values):
    """The `TrainConfig` of parsed train flags; raises ValueError naming the flag at fault."""
    dataset = dataset_from_flags(values)
    return TrainConfig(
        model_dir=values.model_dir,
        model=values.model,
        model_options=key_value_options("model_option", values.model_option),
        encoder_weights=None if values.encoder_weights == "none" else values.encoder_weights,
        dataset=dataset.name,
        data_dir=dataset.data_dir,
        dataset_options=dataset.options,
        train_split=values.split,
        val_split=values.val_split,
        crop_size=size_flag(values.crop_size),
        eval_size=size_flag(values.eval_size),
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
        ohem_threshold=values.ohem_threshold,
        ohem_min_kept=values.ohem_min_kept,
        auxiliary_weight=values.auxiliary_weight,
        batch_norm_momentum=values.batch_norm_momentum,
        teacher=values.teacher,
        distillation_temperature=values.distillation_temperature,
        distillation_weight=values.distillation_weight,
        ema=values.ema,
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


def flags_text(values, names):
    """The flags `names`, one `--name=value` a line, as a flagfile that repeats the run."""
    lines = (values[name].serialize() for name in names)
    return "".join(f"{line}\n" for line in lines if line)


def run_config(path):
    """The `TrainConfig` of the training run that wrote `path` (a model file in a run folder,
    or the folder), or None if it is not in one.

    It is the folder's `run_config.json`, or for a run written before that file existed,
    its `flags.txt` parsed as `python -m fcnseg.train` parses it.
    """
    path = pathlib.Path(path)
    folder = path if path.is_dir() else path.parent
    config = run_dir.read_config(folder)
    flags_file = folder / run_dir.FLAGS_FILE
    if config is not None or not flags_file.is_file():
        return config
    values = flags.FlagValues()
    define_train_flags(values)
    try:
        values(["train", f"--flagfile={flags_file}"])
    except flags.Error as error:
        raise ValueError(f"{flags_file}: not the flags of a training run ({error}).") from None
    return config_from_flags(values)


def upgrade_run_folder(folder):
    """Gives a run folder from before `run_config.json` existed that file, made from its `flags.txt`."""
    if run_dir.read_config(folder) is None and (pathlib.Path(folder) / run_dir.FLAGS_FILE).is_file():
        run_dir.write_config(folder, run_config(folder))
