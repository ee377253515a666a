"""What the `python -m fcnseg.*` entry points share: the dataset flags, key=value options, one-line errors."""

import ast
import contextlib
import gc
import pathlib
import sys

from absl import flags, logging
import tensorflow as tf

from fcnseg import data
from fcnseg.segmenter import Tiling


def define_dataset_flags(split="train", dataset="synthetic", reads_data=True):
    """Defines --dataset, --data_dir and the flags of dataset options, and --split and
    --skip_bad_files if the program `reads_data` (rather than only the class list)."""
    flags.DEFINE_string("dataset", dataset, f"Dataset: one of {', '.join(data.list_datasets())}, or tfds:<name>.")
    flags.DEFINE_string("data_dir", None, "The dataset's folder, in its published layout.")
    flags.DEFINE_string("grouping", None, "Cityscapes class grouping from fcnseg/data/groupings.json, e.g. 4class.")
    flags.DEFINE_enum("road_or_lane", None, ["road", "lane"], "KITTI Road: learn the road or the ego lane.")
    flags.DEFINE_multi_string("dataset_option", [], "Any other dataset option as key=value, e.g. num_images=100.")
    if reads_data:
        flags.DEFINE_string("split", split, "The split to read, e.g. train, val.")
        flags.DEFINE_bool(
            "skip_bad_files", False, "Leave out unreadable or invalid files (and report them) instead of failing."
        )


def define_tiling_flags():
    """Defines --resize, --window and --overlap: how images meet the model's input size (see `Tiling`)."""
    flags.DEFINE_list(
        "resize", [], "Run the model on images resized to height,width (the masks are resized back); empty for none."
    )
    flags.DEFINE_list(
        "window",
        [],
        "Run the model on overlapping height,width windows and average them; empty for none (models of fixed size "
        "use their size). Otherwise images are padded to a multiple of 32.",
    )
    flags.DEFINE_float("overlap", 0.25, "Overlap of neighbouring windows, a fraction of their size.")


def tiling_from_flags(values):
    """The `Tiling` of --resize, --window and --overlap."""
    return Tiling(
        resize=size_flag("resize", values.resize) if values.resize else None,
        window=size_flag("window", values.window) if values.window else None,
        overlap=values.overlap,
    )


def dataset_options(values):
    """The options for `fcnseg.data` from parsed flag values, failing on options the dataset does not take."""
    options = key_value_options("dataset_option", values.dataset_option)
    if values.grouping is not None:
        options["grouping"] = values.grouping
    if values.road_or_lane is not None:
        options["target"] = values.road_or_lane
    if getattr(values, "skip_bad_files", False):
        options["skip_bad_files"] = True
    valid = data.dataset_options(values.dataset)
    unknown = [key for key in options if key not in valid]
    if unknown:
        flag_of = {"grouping": "--grouping", "target": "--road_or_lane", "skip_bad_files": "--skip_bad_files"}
        named = ", ".join(flag_of.get(key, f"--dataset_option={key}=...") for key in unknown)
        raise ValueError(
            f"{named} does not apply to --dataset={values.dataset}; its options: {', '.join(valid) or 'none'}."
        )
    return options


def key_value_options(flag_name, items):
    """The dict of a repeated `--flag_name=key=value` flag; values are Python literals or else strings."""
    options = {}
    for item in items:
        key, separator, text = item.partition("=")
        if not separator or not key:
            raise ValueError(f"--{flag_name}={item!r} is not valid; expected key=value.")
        options[key] = _value(text)
    return options


def size_flag(name, items):
    """The (height, width) of a list flag `--name=height,width`."""
    try:
        size = tuple(int(item) for item in items)
    except ValueError:
        size = ()
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"--{name}={','.join(items)} is not valid; expected height,width, two positive integers.")
    return size


def start(argv):
    """What every entry point's `main` does first: refuse stray arguments, and log warnings only
    unless --verbosity is given."""
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {' '.join(argv[1:])}; every setting is a --flag.")
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)


@contextlib.contextmanager
def one_line_errors():
    """Ends the program with `error: <one line>` on bad input or a diverged run, not a stack trace.

    It exits after the error and its traceback are released, so the input pipeline's
    threads stop before the interpreter does (exiting with them still running aborts).
    """
    message = None
    try:
        yield
    except (ValueError, OSError, ArithmeticError) as error:
        message = str(error)
    except tf.errors.OpError as error:
        message = data.error_line(error)
    if message is not None:
        gc.collect()
        sys.exit(f"error: {message}")


def flagfile_values(text):
    """The values of a flagfile's `--name=value` lines: name -> list of values, in order."""
    values = {}
    for line in text.splitlines():
        name, _, value = line.strip().lstrip("-").partition("=")
        if name and not line.lstrip().startswith("#"):
            values.setdefault(name, []).append(value)
    return values


def run_flags(model_path):
    """The flags of the training run that wrote `model_path` (the `flags.txt` beside it), or {}."""
    path = pathlib.Path(model_path).parent / "flags.txt"
    return flagfile_values(path.read_text()) if path.is_file() else {}


def _value(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
