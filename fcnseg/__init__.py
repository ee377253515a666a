"""fcnseg: semantic segmentation of road scenes with Keras 3 on TensorFlow 2."""

__version__ = "0.1.0"

from fcnseg.models import build_model, list_models  # noqa: E402

# Saved models name the package's loss, metric and schedule; importing them here lets
# `keras.saving.load_model` find them after `import fcnseg`. This is Keras' serialisation
# registry, the one deliberate import side effect; the package's own registries stay plain dicts.
from fcnseg import losses, metrics, optimizers  # noqa: E402,F401

__all__ = ["__version__", "build_model", "list_models"]
