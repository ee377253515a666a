"""Class weights of a run's loss: none, median frequency over the training split (or its square
root, which keeps the order of the weights but narrows their range), or a JSON file."""

import json
import os

import numpy as np

from fcnseg import data, files

# The weights computed from the training split: name -> what it makes of the median-frequency weights.
COMPUTED = {"median_frequency": lambda weights: weights, "sqrt_median_frequency": np.sqrt}


def class_weights(config, spec, out_dir):
    """The loss's class weights that `config.class_weights` names (None for "none"), also written to
    `class_weights.json` in `out_dir`."""
    if config.class_weights == "none":
        return None
    if config.class_weights in COMPUTED:
        frequencies = data.class_frequencies(
            data.load(config.dataset, config.data_dir, config.train_split, **config.dataset_options), spec.num_classes
        )
        weights = COMPUTED[config.class_weights](data.median_frequency_weights(*frequencies)).tolist()
    else:
        weights = _read_class_weights(config.class_weights, spec.class_names)
    files.write_text(
        os.path.join(out_dir, "class_weights.json"), json.dumps(dict(zip(spec.class_names, weights)), indent=2)
    )
    return weights


def _read_class_weights(path, class_names):
    try:
        with open(path) as file:
            values = json.load(file)
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"--class_weights={path} cannot be read as JSON: {error}") from None
    if isinstance(values, dict):
        missing = [name for name in class_names if name not in values]
        if missing or len(values) != len(class_names):
            raise ValueError(
                f"--class_weights={path} must give a weight to exactly the classes {', '.join(class_names)}."
            )
        values = [values[name] for name in class_names]
    if not isinstance(values, list) or len(values) != len(class_names):
        raise ValueError(f"--class_weights={path} must hold {len(class_names)} weights, one per class.")
    if not all(isinstance(value, (int, float)) and value >= 0 for value in values):
        raise ValueError(f"--class_weights={path} must hold numbers of at least 0.")
    return [float(value) for value in values]
