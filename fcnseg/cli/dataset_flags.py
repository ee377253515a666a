"""The dataset flags of every command: --dataset, --data_dir, the dataset's options, --split."""

from typing import NamedTuple, Optional

from absl import flags

from fcnseg import data
from fcnseg.cli import key_value_options

# The dataset options that have flags of their own, and those flags.
_OPTION_FLAGS = {"grouping": "grouping", "target": "road_or_lane", "skip_bad_files": "skip_bad_files"}


class DatasetChoice(NamedTuple):
    """A dataset as the commands name it: `name` and `data_dir` for `fcnseg.data`, and its `options`."""

    name: str
    data_dir: Optional[str]
    options: dict


def define_dataset_flags(split="train", dataset="synthetic", reads_data=True, flag_values=flags.FLAGS):
    """Defines --dataset, --data_dir and the flags of dataset options, and --split and
    --skip_bad_files if the program `reads_data` (rather than only the class list)."""
    flags.DEFINE_string(
        "dataset",
        dataset,
        f"Dataset: one of {', '.join(data.list_datasets())}, or tfds:<name>.",
        flag_values=flag_values,
    )
    flags.DEFINE_string("data_dir", None, "The dataset's folder, in its published layout.", flag_values=flag_values)
    flags.DEFINE_string(
        "grouping",
        None,
        "Cityscapes class grouping from fcnseg/data/groupings.json, e.g. 4class.",
        flag_values=flag_values,
    )
    flags.DEFINE_enum(
        "road_or_lane", None, ["road", "lane"], "KITTI Road: learn the road or the ego lane.", flag_values=flag_values
    )
    flags.DEFINE_multi_string(
        "dataset_option", [], "Any other dataset option as key=value, e.g. num_images=100.", flag_values=flag_values
    )
    if reads_data:
        flags.DEFINE_string("split", split, "The split to read, e.g. train, val.", flag_values=flag_values)
        flags.DEFINE_bool(
            "skip_bad_files",
            False,
            "Leave out unreadable or invalid files (and report them) instead of failing.",
            flag_values=flag_values,
        )


def dataset_from_flags(values, run=None):
    """The dataset that the parsed flags name, with its options checked against what it takes.

    Args:
        values: absl FlagValues with the flags of `define_dataset_flags`.
        run: TrainConfig or None. The training run of the model at hand: when --dataset
            is not given, its dataset, with each dataset flag given here replacing the
            run's value.

    Returns:
        DatasetChoice.
    """
    given = {
        name for name in ("dataset", "data_dir", *_OPTION_FLAGS.values()) if name in values and values[name].present
    }
    options = key_value_options("dataset_option", values.dataset_option)
    for option, flag in _OPTION_FLAGS.items():
        if flag in values and values[flag].value not in (None, False):
            options[option] = values[flag].value
    name, data_dir = values.dataset, values.data_dir
    if run is not None and "dataset" not in given:
        name = run.dataset
        data_dir = values.data_dir if "data_dir" in given else run.data_dir
        options = {**run.dataset_options, **options}
        for option, flag in _OPTION_FLAGS.items():
            if flag in given and values[flag].value in (None, False):
                options.pop(option, None)
    if name is None:
        raise ValueError("No --dataset given and no training run beside the model to take it from; give --dataset.")
    valid = data.dataset_option_names(name)
    unknown = [key for key in options if key not in valid]
    if unknown:
        named = ", ".join(
            f"--{_OPTION_FLAGS[key]}" if key in _OPTION_FLAGS else f"--dataset_option={key}=..." for key in unknown
        )
        raise ValueError(f"{named} does not apply to --dataset={name}; its options: {', '.join(valid) or 'none'}.")
    return DatasetChoice(name, data_dir, options)
