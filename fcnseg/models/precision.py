"""Rebuilding a model trained under a mixed-precision policy to compute in float32.

A model trained under `mixed_float16` or `mixed_bfloat16` keeps float32 weights but
computes in half precision; inference and export reference the float32 computation
(TFLite's built-in kernels and most serving CPUs have no bfloat16).
"""

from fcnseg.models.layers import all_layers


def float32_model(model):
    """The model rebuilt to compute in float32 with the same weights, or itself if it already does."""
    if all(layer.dtype_policy.name == "float32" for layer in all_layers(model)):
        return model
    rebuilt = model.__class__.from_config(_float32_config(model.get_config()))
    rebuilt.set_weights(model.get_weights())
    return rebuilt


def _float32_config(config):
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy":
            return {**config, "config": {**config["config"], "name": "float32"}}
        return {key: _float32_config(value) for key, value in config.items()}
    if isinstance(config, list):
        return [_float32_config(value) for value in config]
    return config
