"""The deployment side: export/edge_predict.py without TensorFlow, export/serving_client.py against the SavedModel."""

import base64
import importlib.util
import json
import pathlib
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tensorflow as tf
from fake_layouts import read_video, write_png, write_video
from known_models import nearest_color, nearest_color_model

from fcnseg.data import camvid
from fcnseg.deploy.saved_model import write_saved_model
from fcnseg.deploy.tflite import convert
from fcnseg.overlay import overlay

EXPORT = pathlib.Path(__file__).resolve().parents[2] / "export"
COLORS = camvid.SPEC.colors
SIZE = (32, 48)

# Runs edge_predict.py in a process where importing TensorFlow, Keras or fcnseg fails.
_WITHOUT_TENSORFLOW = """
import runpy, sys
for name in ("tensorflow", "keras", "fcnseg", "tf_keras"):
    sys.modules[name] = None
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXPORT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def edge_model(tmp_path_factory):
    """The nearest-colour model as a float32 .tflite of fixed size, with its classes.json."""
    folder = tmp_path_factory.mktemp("edge")
    (folder / "road_float32.tflite").write_bytes(convert(nearest_color_model(COLORS), SIZE))
    (folder / "classes.json").write_text(camvid.SPEC.to_json())
    return folder / "road_float32.tflite"


def _edge_predict(*args):
    command = [sys.executable, "-c", _WITHOUT_TENSORFLOW, str(EXPORT / "edge_predict.py"), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_edge_predict_draws_the_known_mask_without_tensorflow(tmp_path, edge_model):
    image = np.random.default_rng(0).integers(0, 256, (*SIZE, 3), dtype=np.uint8)
    write_png(tmp_path / "street.png", image)
    result = _edge_predict("--model", edge_model, "--input", tmp_path / "street.png", "--output", tmp_path / "out.png")
    assert result.returncode == 0, result.stderr[-2000:]
    drawn = cv2.imread(str(tmp_path / "out.png"))[..., ::-1]
    np.testing.assert_array_equal(drawn, overlay(image, nearest_color(image, COLORS), COLORS, 0.5))


def test_edge_predict_keeps_every_frame_and_the_frame_size(tmp_path, edge_model):
    frames = np.random.default_rng(1).integers(0, 256, (5, 50, 70, 3), dtype=np.uint8)
    write_video(tmp_path / "drive.avi", frames, fps=10, codec="MJPG")
    result = _edge_predict("--model", edge_model, "--input", tmp_path / "drive.avi", "--output", tmp_path / "out.avi")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("5 frame(s)")
    written, fps = read_video(tmp_path / "out.avi")
    assert written.shape == (5, 50, 70, 3) and fps == pytest.approx(10)


def test_edge_predict_fails_in_one_line(tmp_path, edge_model):
    (tmp_path / "broken.png").write_bytes(b"not an image")
    result = _edge_predict("--model", edge_model, "--input", tmp_path / "broken.png", "--output", tmp_path / "o.png")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"error: {tmp_path / 'broken.png'}: not a readable image."


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The serving_bytes signature of the nearest-colour model's SavedModel, as TF Serving would run it."""
    version = write_saved_model(nearest_color_model(COLORS), camvid.SPEC, tmp_path_factory.mktemp("serving") / "road")
    return tf.saved_model.load(str(version)).signatures["serving_bytes"]


def _street():
    image = np.random.default_rng(2).integers(0, 256, (30, 41, 3), dtype=np.uint8)
    return image, cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))[1].tobytes()


def test_rest_request_and_response_round_trip(served):
    client = _load("serving_client")
    image, png = _street()
    body = json.loads(json.dumps(client.rest_request(png)))  # as sent over HTTP
    assert body["signature_name"] == "serving_bytes"
    # What TF Serving does with a row-format request: decode each {"b64": ...} and run the signature.
    inputs = [base64.b64decode(instance["b64"]) for instance in body["instances"]]
    outputs = served(image_bytes=tf.constant(inputs))
    response = {"predictions": [{key: value[0].numpy().tolist() for key, value in outputs.items()}]}
    mask = client.parse_rest_response(json.loads(json.dumps(response)))
    np.testing.assert_array_equal(mask, nearest_color(image, COLORS))
    with pytest.raises(ValueError, match="TF Serving answered with an error: bad input"):
        client.parse_rest_response({"error": "bad input"})


def test_grpc_request_and_response_round_trip(served):
    from tensorflow_serving.apis import predict_pb2

    client = _load("serving_client")
    image, png = _street()
    request = predict_pb2.PredictRequest.FromString(client.grpc_request(png, "road").SerializeToString())
    assert request.model_spec.name == "road" and request.model_spec.signature_name == "serving_bytes"
    assert list(request.output_filter) == ["mask"]
    outputs = served(image_bytes=tf.constant(tf.make_ndarray(request.inputs["image_bytes"])))
    response = predict_pb2.PredictResponse()
    for key in request.output_filter:
        response.outputs[key].CopyFrom(tf.make_tensor_proto(outputs[key].numpy()))
    mask = client.parse_grpc_response(predict_pb2.PredictResponse.FromString(response.SerializeToString()))
    np.testing.assert_array_equal(mask, nearest_color(image, COLORS))


def test_the_client_reports_an_unreachable_server_in_one_line(tmp_path):
    _, png = _street()
    (tmp_path / "street.png").write_bytes(png)
    command = [sys.executable, str(EXPORT / "serving_client.py"), f"--image={tmp_path / 'street.png'}"]
    result = subprocess.run(
        [*command, f"--output={tmp_path / 'mask.png'}", "--server=127.0.0.1:9"], capture_output=True, text=True
    )
    assert result.returncode == 1 and result.stderr.strip().startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1
