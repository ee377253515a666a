"""The TF Serving SavedModel: parity with Keras for each model, signatures, versions, atomic writes."""

import json
import os
import signal
import subprocess
import sys
import time

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf
from synthetic_models import CONVERTED

import fcnseg
from fcnseg import data
from fcnseg.deploy import saved_model
from fcnseg.deploy.saved_model import next_version, write_saved_model
from fcnseg.inference.segmenter import KerasSegmenter
from fcnseg.inference.tiling import segment

SPEC = data.dataset_spec("synthetic")


def _model(name="unet", **options):
    keras.utils.set_random_seed(0)
    return fcnseg.build_model(name, SPEC.num_classes, **options)


def _images(height, width, count=2, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, height, width, 3), dtype=np.uint8)


def _keras_probabilities(model, images):
    """Keras' softmax on the image padded to a multiple of 32, cropped back."""
    return segment(KerasSegmenter(model), images)


@pytest.fixture(scope="module")
def unet_export(tmp_path_factory):
    model = _model(depth=3, base_filters=8)
    return model, write_saved_model(model, SPEC, tmp_path_factory.mktemp("serving") / "road")


@pytest.mark.slow
@pytest.mark.parametrize("name", CONVERTED)
def test_each_model_serves_what_keras_computes(tmp_path, name):
    model = _model(name)  # the 64-filter U-Net: random 16-filter logits can tie where float32 rounding differs
    version = write_saved_model(model, SPEC, tmp_path / "road")
    signature = tf.saved_model.load(str(version)).signatures["serving_default"]
    images = _images(50, 70)  # not a multiple of 32: padded and cropped back in the graph
    outputs = signature(images=tf.constant(images))
    expected = _keras_probabilities(model, images)
    np.testing.assert_allclose(outputs["probabilities"].numpy(), expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(outputs["mask"].numpy(), expected.argmax(-1))


def test_signatures_take_pixels_or_encoded_images_of_any_size(unet_export):
    model, version = unet_export
    loaded = tf.saved_model.load(str(version))
    assert set(loaded.signatures) == set(saved_model.SIGNATURES)
    images = _images(37, 45)
    direct = loaded.signatures["serving_default"](images=tf.constant(images))
    assert direct["mask"].dtype == tf.int32 and direct["mask"].shape == (2, 37, 45)
    assert direct["probabilities"].shape == (2, 37, 45, SPEC.num_classes)
    encoded = [cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))[1].tobytes() for image in images]
    decoded = loaded.signatures["serving_bytes"](image_bytes=tf.constant(encoded))
    np.testing.assert_allclose(decoded["probabilities"], direct["probabilities"], rtol=1e-6, atol=1e-7)
    jpeg = cv2.imencode(".jpg", np.ascontiguousarray(images[0][..., ::-1]))[1].tobytes()
    assert loaded.signatures["serving_bytes"](image_bytes=tf.constant([jpeg]))["mask"].shape == (1, 37, 45)


def test_assets_hold_the_class_names_and_colours(unet_export):
    _, version = unet_export
    assert (version / "assets" / "labels.txt").read_text().splitlines() == list(SPEC.class_names)
    assert json.loads((version / "assets" / "classes.json").read_text())["colors"] == [list(c) for c in SPEC.colors]
    assert (version / "saved_model.pb").is_file() and (version / "variables").is_dir()


def test_a_resizing_graph_returns_the_input_size(tmp_path):
    model = _model(depth=2, base_filters=8)
    version = write_saved_model(model, SPEC, tmp_path / "road", resize=(64, 64))
    outputs = tf.saved_model.load(str(version)).signatures["serving_default"](images=tf.constant(_images(50, 90)))
    assert outputs["mask"].shape == (2, 50, 90) and outputs["probabilities"].shape == (2, 50, 90, SPEC.num_classes)


def test_versions_count_up_and_are_never_overwritten(tmp_path, monkeypatch):
    model = _model(depth=2, base_filters=8)
    root = tmp_path / "road"
    assert write_saved_model(model, SPEC, root).name == "1"
    assert write_saved_model(model, SPEC, root).name == "2"
    assert write_saved_model(model, SPEC, root, version=10).name == "10" and next_version(root) == 11
    with pytest.raises(ValueError, match="version 2 already exists"):
        write_saved_model(model, SPEC, root, version=2)

    def fail_half_way(module, path, signatures):
        os.makedirs(os.path.join(path, "variables"))
        raise OSError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", fail_half_way)
    with pytest.raises(OSError, match="disk full"):
        write_saved_model(model, SPEC, root)
    assert sorted(path.name for path in root.iterdir()) == ["1", "10", "2"]


_KILLED_EXPORT = """
import sys, fcnseg
from fcnseg import data
from fcnseg.deploy.saved_model import write_saved_model
model = fcnseg.build_model("fcn8s_vgg16", 8)  # 537 MB of weights: slow enough to be killed while writing
print("writing", flush=True)
write_saved_model(model, data.dataset_spec("synthetic"), sys.argv[1])
"""


@pytest.mark.slow
def test_a_killed_export_leaves_no_version_behind(tmp_path):
    root = tmp_path / "road"
    process = subprocess.Popen([sys.executable, "-c", _KILLED_EXPORT, str(root)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "writing"
        deadline = time.monotonic() + 120
        while not list(root.glob(".1.partial-*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(root.glob(".1.partial-*")), "the export never started writing"
        time.sleep(0.5)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert not (root / "1").exists() and next_version(root) == 1
    version = write_saved_model(_model(depth=2, base_filters=8), SPEC, root)
    assert version.name == "1" and sorted(path.name for path in root.iterdir()) == ["1"]  # the leftover is gone


_FRESH_PROCESS = """
import sys
sys.modules["fcnseg"] = None  # any import of fcnseg fails
import numpy as np, tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
outputs = loaded.signatures["serving_default"](images=tf.zeros([1, 40, 60, 3], tf.uint8))
print(outputs["mask"].shape, outputs["probabilities"].shape)
"""


@pytest.mark.slow
def test_loads_without_fcnseg_and_with_saved_model_cli(unet_export, tmp_path):
    _, version = unet_export
    fresh = subprocess.run([sys.executable, "-c", _FRESH_PROCESS, str(version)], capture_output=True, text=True)
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert "(1, 40, 60) (1, 40, 60, 8)" in fresh.stdout
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run([cli, "show", "--all", "--dir", str(version)], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr[-2000:]
    for text in ("inputs['images']", "DT_UINT8", "(-1, -1, -1, 3)", "outputs['mask']", "outputs['probabilities']"):
        assert text in shown.stdout
    assert "inputs['image_bytes']" in shown.stdout and "DT_STRING" in shown.stdout
    run = [cli, "run", "--dir", str(version), "--tag_set", "serve", "--signature_def", "serving_default"]
    np.save(tmp_path / "images.npy", _images(33, 47, count=1))
    ran = subprocess.run([*run, "--inputs", f"images={tmp_path / 'images.npy'}"], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "Result for output key mask" in ran.stdout and "Result for output key probabilities" in ran.stdout
