"""SavedModel export for TensorFlow Serving.

`write_saved_model` writes `<export_dir>/<version>/` (`saved_model.pb`, `variables/`,
`assets/labels.txt` and `assets/classes.json`) by saving into a hidden temporary folder
and renaming it into place, so a server polling `export_dir` never sees half a version.
The SavedModel needs neither Keras nor fcnseg to load. Its signatures:

- `serving_default`: `images`, uint8 `[batch, height, width, 3]` of any size;
- `serving_bytes`: `image_bytes`, a batch of encoded JPEG or PNG images of one size
  (what TF Serving's REST API sends as `{"b64": ...}`), decoded in the graph.

Both return `mask`, int32 class ids `[batch, height, width]`, and `probabilities`,
float32 `[batch, height, width, classes]`, at the input's size: the graph pads images to
a multiple of 32 and crops back, or resizes to a fixed size and back.
"""

import pathlib
import tempfile

import tensorflow as tf

from fcnseg import files
from fcnseg.conventions import SIZE_MULTIPLE
from fcnseg.data.specs import CLASSES_FILE
from fcnseg.deploy.exportable import exportable

LABELS_FILE = "labels.txt"
SIGNATURES = ("serving_default", "serving_bytes")


class SegmentationServing(tf.Module):
    """The serving graph of a segmentation model (see the module's docstring).

    Args:
        model: keras.Model from pixels to logits.
        spec: DatasetSpec. Its class names and colours become assets.
        assets_dir: str. A folder to write the asset files to before saving.
        resize: (height, width) or None. Resize images to this size for the model;
            None pads them to a multiple of 32.
    """

    def __init__(self, model, spec, assets_dir, resize=None):
        super().__init__()
        self.model = exportable(model)
        # The weights' own tf.Variables, tracked here so that the SavedModel restores them in
        # TF1-style loaders (TF Serving, saved_model_cli run) too, not only in TF2's.
        self.model_weights = [weight.value for weight in self.model.weights]
        self.resize = None if resize is None else tuple(resize)
        assets = pathlib.Path(assets_dir)
        (assets / LABELS_FILE).write_text("".join(f"{name}\n" for name in spec.class_names))
        (assets / CLASSES_FILE).write_text(spec.to_json())
        self.labels = tf.saved_model.Asset(str(assets / LABELS_FILE))
        self.classes = tf.saved_model.Asset(str(assets / CLASSES_FILE))
        self.serve = tf.function(
            self.segment, input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, "images")]
        )
        self.serve_bytes = tf.function(
            self.segment_encoded, input_signature=[tf.TensorSpec([None], tf.string, "image_bytes")]
        )

    def segment(self, images):
        height, width = tf.shape(images)[1], tf.shape(images)[2]
        pixels = tf.cast(images, tf.float32)
        if self.resize is None:
            paddings = [[0, 0], [0, -height % SIZE_MULTIPLE], [0, -width % SIZE_MULTIPLE], [0, 0]]
            logits = self.model(tf.pad(pixels, paddings), training=False)[:, :height, :width]
        else:
            logits = self.model(tf.image.resize(pixels, self.resize, "bilinear"), training=False)
            logits = tf.image.resize(logits, tf.stack([height, width]), "bilinear")
        probabilities = tf.nn.softmax(logits)
        return {"mask": tf.argmax(probabilities, -1, output_type=tf.int32), "probabilities": probabilities}

    def segment_encoded(self, image_bytes):
        def decode(data):
            image = tf.io.decode_image(data, channels=3, expand_animations=False)
            image.set_shape([None, None, 3])
            return image

        images = tf.map_fn(decode, image_bytes, fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8))
        return self.segment(images)


def next_version(export_dir):
    """One more than the largest version folder (an integer name) in `export_dir`, or 1."""
    folder = pathlib.Path(export_dir)
    versions = (
        [int(path.name) for path in folder.iterdir() if path.is_dir() and path.name.isdigit()]
        if folder.is_dir()
        else []
    )
    return max(versions, default=0) + 1


def write_saved_model(model, spec, export_dir, version=None, resize=None):
    """Writes the serving SavedModel to `<export_dir>/<version>` atomically.

    Args:
        model: keras.Model.
        spec: DatasetSpec.
        export_dir: str. The model's folder in TF Serving's model base path.
        version: int or None. None takes `next_version(export_dir)`.
        resize: see `SegmentationServing`.

    Returns:
        The version folder, a pathlib.Path.
    """
    export_dir = pathlib.Path(export_dir)
    version = next_version(export_dir) if version is None else version
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"--version={version!r} is not valid; expected a positive integer.")
    final = export_dir / str(version)
    if final.exists():
        raise ValueError(f"{final}: version {version} already exists; TF Serving versions are never overwritten.")
    # Written under a hidden, non-numeric name, which TF Serving does not take for a version.
    with files.atomic_path(final) as temporary, tempfile.TemporaryDirectory() as assets_dir:
        module = SegmentationServing(model, spec, assets_dir, resize)
        signatures = {"serving_default": module.serve, "serving_bytes": module.serve_bytes}
        tf.saved_model.save(module, str(temporary), signatures=signatures)
    return final
