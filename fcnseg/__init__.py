"""fcnseg: semantic segmentation of road scenes with Keras 3 on TensorFlow 2."""

__version__ = "0.1.0"

from fcnseg.models import build_model, list_models  # noqa: E402

__all__ = ["__version__", "build_model", "list_models"]
