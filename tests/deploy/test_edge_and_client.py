"""The deployment side: export/edge_predict.py without TensorFlow, export/serving_client.py against the SavedModel."""

import base64
import contextlib
import http.server
import importlib.util
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest
import tensorflow as tf
from fake_layouts import read_video, write_png, write_video
from fault_injection import interruptible
from known_models import nearest_color, nearest_color_model

from fcnseg.data import camvid, decode
from fcnseg.deploy.onnx_convert import convert_onnx
from fcnseg.deploy.saved_model import write_saved_model
from fcnseg.deploy.tflite import convert
from fcnseg.errors import error_line
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
# The same, with ONNX Runtime missing too.
_WITHOUT_ONNXRUNTIME = _WITHOUT_TENSORFLOW.replace('"tf_keras"', '"tf_keras", "onnxruntime"')


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


@pytest.fixture(scope="module")
def onnx_models(tmp_path_factory):
    """The nearest-colour model as float32 .onnx files of any size and of fixed size, with their classes.json."""
    folder = tmp_path_factory.mktemp("onnx")
    (folder / "any_size.onnx").write_bytes(convert_onnx(nearest_color_model(COLORS)))
    (folder / "fixed_size.onnx").write_bytes(convert_onnx(nearest_color_model(COLORS), SIZE))
    (folder / "classes.json").write_text(camvid.SPEC.to_json())
    return folder


def _edge_predict(*args, prelude=_WITHOUT_TENSORFLOW):
    command = [sys.executable, "-c", prelude, str(EXPORT / "edge_predict.py"), *map(str, args)]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=300)


def _error(result):
    """The one error line of a failed run (exit code 1, no traceback)."""
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    return result.stderr.strip().splitlines()[-1]


def test_edge_predict_draws_the_known_mask_without_tensorflow(tmp_path, edge_model):
    image = np.random.default_rng(0).integers(0, 256, (*SIZE, 3), dtype=np.uint8)
    write_png(tmp_path / "street.png", image)
    result = _edge_predict("--model", edge_model, "--input", tmp_path / "street.png", "--output", tmp_path / "out.png")
    assert result.returncode == 0, result.stderr[-2000:]
    drawn = cv2.imread(str(tmp_path / "out.png"))[..., ::-1]
    np.testing.assert_array_equal(drawn, overlay(image, nearest_color(image, COLORS), COLORS, 0.5))


@pytest.mark.parametrize("name, image_size", [("any_size", (40, 50)), ("fixed_size", SIZE), ("fixed_size", (40, 50))])
def test_edge_predict_draws_the_known_mask_of_an_onnx_model(tmp_path, onnx_models, name, image_size):
    # Any size: padded to 64x64 and the mask cropped back; fixed size: resized to 32x48 and back.
    image = np.random.default_rng(1).integers(0, 256, (*image_size, 3), dtype=np.uint8)
    write_png(tmp_path / "street.png", image)
    model = onnx_models / f"{name}.onnx"
    result = _edge_predict("--model", model, "--input", tmp_path / "street.png", "--output", tmp_path / "out.png")
    assert result.returncode == 0, result.stderr[-2000:]
    drawn = cv2.imread(str(tmp_path / "out.png"))[..., ::-1]
    if name == "fixed_size" and image_size != SIZE:
        resized = cv2.resize(image, SIZE[::-1], interpolation=cv2.INTER_LINEAR)
        mask = cv2.resize(
            nearest_color(resized, COLORS).astype(np.uint8), image_size[::-1], interpolation=cv2.INTER_NEAREST
        )
    else:
        mask = nearest_color(image, COLORS)
    np.testing.assert_array_equal(drawn, overlay(image, mask, COLORS, 0.5))


def test_edge_predict_names_the_runtime_a_model_needs(tmp_path, onnx_models):
    write_png(tmp_path / "street.png", np.zeros((*SIZE, 3), np.uint8))
    model = onnx_models / "any_size.onnx"
    args = ("--model", model, "--input", tmp_path / "street.png", "--output", tmp_path / "out.png")
    result = _edge_predict(*args, prelude=_WITHOUT_ONNXRUNTIME)
    assert _error(result) == f"error: {model}: running it needs onnxruntime (pip install onnxruntime)."
    assert not (tmp_path / "out.png").exists()


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
    assert _error(result) == f"error: {tmp_path / 'broken.png'}: not a PNG, JPEG, BMP or GIF image"
    assert sorted(tmp_path.iterdir()) == [tmp_path / "broken.png"]


def _encoded(suffix, damage=None):
    image = cv2.GaussianBlur(np.random.default_rng(3).integers(0, 256, (*SIZE, 3), dtype=np.uint8), (5, 5), 2)
    data = cv2.imencode(suffix, image)[1].tobytes()
    return data if damage is None else damage(data)


# Files that fcnseg.data.decode refuses or accepts, with its message.
_IMAGE_FILES = {
    "empty.png": (b"", "the file is empty"),
    "html.jpg": (b"<html>not found</html>", "not a PNG, JPEG, BMP or GIF image"),
    "cut.png": (
        _encoded(".png", lambda data: data[: len(data) * 3 // 4]),
        "the PNG file is cut short (no IEND chunk at its end)",
    ),
    "no_iend.png": (_encoded(".png", lambda data: data[:-12]), "the PNG file is cut short (no IEND chunk at its end)"),
    "cut.jpg": (_encoded(".jpg", lambda data: data[: len(data) // 2]), "the JPEG file is cut short (no end marker)"),
    "no_end_marker.jpg": (_encoded(".jpg", lambda data: data[:-2]), "the JPEG file is cut short (no end marker)"),
    "padded.jpg": (_encoded(".jpg", lambda data: data + bytes(40)), None),
    "good.png": (_encoded(".png"), None),
    "good.bmp": (_encoded(".bmp"), None),
}


def test_edge_predict_refuses_the_images_fcnseg_refuses(tmp_path):
    edge = _load("edge_predict")
    for name, (data, message) in _IMAGE_FILES.items():
        path = tmp_path / name
        path.write_bytes(data)
        try:
            decode.read_encoded(tf.constant(str(path)))
            refused = None
        except tf.errors.InvalidArgumentError as error:
            refused = error_line(error)
        assert refused == (message and f"{path}: {message}"), name  # what the training decoder says
        if message:
            with pytest.raises(ValueError) as error:
                edge.read_image(path)
            assert str(error.value) == refused, name
        else:
            assert edge.read_image(path).shape == (*SIZE, 3), name


@pytest.mark.parametrize("name", ["cut.jpg", "cut.png"])
def test_edge_predict_refuses_a_cut_short_image_in_one_line(tmp_path, edge_model, name):
    data, message = _IMAGE_FILES[name]
    (tmp_path / name).write_bytes(data)
    result = _edge_predict("--model", edge_model, "--input", tmp_path / name, "--output", tmp_path / "out.png")
    assert _error(result) == f"error: {tmp_path / name}: {message}"
    assert sorted(tmp_path.iterdir()) == [tmp_path / name]


def test_edge_predict_refuses_a_cut_short_video_and_writes_nothing(tmp_path, edge_model):
    frames = np.random.default_rng(4).integers(0, 256, (9, 50, 70, 3), dtype=np.uint8)
    write_video(tmp_path / "drive.avi", frames, fps=10, codec="MJPG")
    data = (tmp_path / "drive.avi").read_bytes()
    (tmp_path / "drive.avi").write_bytes(data[: len(data) // 2])  # the header still says 9 frames
    result = _edge_predict("--model", edge_model, "--input", tmp_path / "drive.avi", "--output", tmp_path / "out.avi")
    line = _error(result)
    assert line.startswith(f"error: {tmp_path / 'drive.avi'}: cut short: only ") and line.endswith(
        " of its 9 frames could be decoded."
    )
    assert sorted(tmp_path.iterdir()) == [tmp_path / "drive.avi"]


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--alpha=5", "--alpha=5 must be between 0 and 1."),
        ("--alpha=-0.5", "--alpha=-0.5 must be between 0 and 1."),
        ("--alpha=nan", "--alpha=nan must be between 0 and 1."),
        ("--threads=0", "--threads=0 must be at least 1."),
        ("--model=m.pb", "--model=m.pb must end in one of .tflite, .onnx."),
    ],
)
def test_edge_predict_checks_its_flags_before_any_work(tmp_path, flag, message):
    # Neither the model nor the input exists: the flag is refused before either is looked at.
    result = _edge_predict(
        f"--model={tmp_path / 'm.tflite'}", f"--input={tmp_path / 'a.png'}", f"--output={tmp_path / 'o.png'}", flag
    )
    assert _error(result) == f"error: {message}"


def test_edge_predict_refuses_a_missing_output_folder(tmp_path, edge_model):
    write_png(tmp_path / "street.png", np.zeros((*SIZE, 3), np.uint8))
    output = tmp_path / "missing" / "out.png"
    result = _edge_predict("--model", edge_model, "--input", tmp_path / "street.png", "--output", output)
    assert _error(result) == f"error: --output={output}: folder {output.parent} does not exist."


@pytest.mark.parametrize("script", ["edge_predict.py", "serving_client.py"])
def test_stray_positional_arguments_are_refused(tmp_path, script):
    command = [
        sys.executable,
        str(EXPORT / script),
        "stray",
        "--model=m",
        "--input=i.png",
        "--image=i.png",
        "--output=o.png",
    ]
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 2 and "unrecognized arguments: stray" in result.stderr
    assert sorted(tmp_path.iterdir()) == []


def _half_written_picture(path, pixels, *args):
    """cv2.imwrite on a full disk: part of the file, then False."""
    pathlib.Path(path).write_bytes(cv2.imencode(pathlib.Path(path).suffix, pixels)[1].tobytes()[:100])
    return False


class _FullDiskVideoWriter:
    """cv2.VideoWriter on a disk that fills up after two frames: it drops the rest without a word.

    (It wraps rather than subclasses cv2.VideoWriter: OpenCV's Python subclasses can crash
    the interpreter when it exits.)
    """

    def __init__(self, *args):
        self.writer, self.frames = _VIDEO_WRITER(*args), 0

    def isOpened(self):
        return self.writer.isOpened()

    def release(self):
        self.writer.release()

    def write(self, frame):
        self.frames += 1
        if self.frames <= 2:
            self.writer.write(frame)


_VIDEO_WRITER = cv2.VideoWriter


def test_edge_predict_leaves_the_previous_output_when_writing_fails(tmp_path, edge_model, monkeypatch, capsys):
    edge = _load("edge_predict")
    write_png(tmp_path / "street.png", np.zeros((*SIZE, 3), np.uint8))
    write_video(tmp_path / "drive.avi", np.zeros((5, 50, 70, 3), np.uint8), fps=10, codec="MJPG")
    for name in ("out.png", "out.avi"):
        (tmp_path / name).write_bytes(b"previous run")
    monkeypatch.setattr(edge.cv2, "imwrite", _half_written_picture)
    monkeypatch.setattr(edge.cv2, "VideoWriter", _FullDiskVideoWriter)
    for source, output, message in [
        ("street.png", "out.png", "could not write the picture."),
        ("drive.avi", "out.avi", "the video could not be written (2 of 5 frames readable; is the disk full?)."),
    ]:
        with pytest.raises(SystemExit) as exit:
            edge.main(
                ["--model", str(edge_model), "--input", str(tmp_path / source), "--output", str(tmp_path / output)]
            )
        assert exit.value.code == f"error: {tmp_path / output}: {message}"
        assert (tmp_path / output).read_bytes() == b"previous run"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["drive.avi", "out.avi", "out.png", "street.png"]


# Every video frame written takes a while, so that Ctrl-C comes in the middle of the video.
_SLOW_WRITER = """
import time, cv2
class _SlowVideoWriter:
    def __init__(self, *args, writer=cv2.VideoWriter):
        self.writer = writer(*args)
        self.isOpened, self.release = self.writer.isOpened, self.writer.release
    def write(self, frame):
        self.writer.write(frame)
        time.sleep(0.1)
cv2.VideoWriter = _SlowVideoWriter
"""


def test_edge_predict_ctrl_c_ends_in_one_line_and_leaves_nothing(tmp_path, edge_model):
    write_video(tmp_path / "drive.avi", np.zeros((100, 50, 70, 3), np.uint8), fps=10, codec="MJPG")
    command = [sys.executable, "-c", _SLOW_WRITER + _WITHOUT_TENSORFLOW, str(EXPORT / "edge_predict.py")]
    flags = ["--model", str(edge_model), "--input", str(tmp_path / "drive.avi"), "--output", str(tmp_path / "out.avi")]
    process = interruptible([*command, *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.iterdir())) == 1 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        written = [path.name for path in tmp_path.iterdir() if path.name != "drive.avi"]
        assert written == [f".out.partial-{process.pid}.avi"]
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130 and "Traceback" not in stderr, stderr[-2000:]
    assert stderr.strip().splitlines()[-1] == "error: interrupted"
    assert sorted(tmp_path.iterdir()) == [tmp_path / "drive.avi"]


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


def _client(tmp_path, *flags):
    """Runs serving_client.py on a street image; proxies are bypassed for the loopback servers."""
    _, png = _street()
    (tmp_path / "street.png").write_bytes(png)
    command = [sys.executable, str(EXPORT / "serving_client.py"), f"--image={tmp_path / 'street.png'}"]
    env = {**os.environ, "no_proxy": "127.0.0.1", "NO_PROXY": "127.0.0.1"}
    return subprocess.run(
        [*command, f"--output={tmp_path / 'mask.png'}", *flags],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@contextlib.contextmanager
def _http_server(body, status=200, content_type="application/json", answer_after=None):
    """A TF Serving stand-in on 127.0.0.1 that answers one request, then stops; yields its host:port.

    With `answer_after` (a threading.Event), it answers only once that is set (or after 30 s).
    """
    requested = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            requested.set()
            if answer_after is not None:
                answer_after.wait(30)
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the client has given up
                pass

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    server.timeout = 0.1  # handle_request returns after this long without a request
    stop = threading.Event()

    def serve():  # one request at most, and none once the test is over
        while not (requested.is_set() or stop.is_set()):
            server.handle_request()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", requested
    finally:
        stop.set()
        if answer_after is not None:
            answer_after.set()
        thread.join(60)
        server.server_close()


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_client_writes_the_mask_a_rest_server_answers(tmp_path, served):
    image, png = _street()
    outputs = served(image_bytes=tf.constant([png]))
    answer = {"predictions": [{key: value[0].numpy().tolist() for key, value in outputs.items()}]}
    with _http_server(json.dumps(answer).encode()) as (server, _):
        result = _client(tmp_path, f"--server={server}")
    assert result.returncode == 0, result.stderr[-2000:]
    np.testing.assert_array_equal(
        cv2.imread(str(tmp_path / "mask.png"), cv2.IMREAD_UNCHANGED), nearest_color(image, COLORS)
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["mask.png", "street.png"]


@pytest.mark.parametrize(
    "status, content_type, body, problem",
    [
        (
            200,
            "text/html",
            b"<html><body>It works!</body></html>",
            "the answer is not JSON (text/html: '<html><body>It works!</body></html>')",
        ),
        (
            200,
            "application/json",
            b'{"predictions": [1, 2]}',
            "the answer is JSON without the mask and probabilities outputs: '{\"predictions\": [1, 2]}'",
        ),
        (
            200,
            "application/json",
            b'{"outputs": {"mask": [[0]]}}',
            'the answer is JSON without the mask and probabilities outputs: \'{"outputs": {"mask": [[0]]}}\'',
        ),
        (
            200,
            "application/json",
            b'{"predictions": [{"logits": [0.5]}]}',
            "the answer is JSON without the mask output (its outputs: logits); is --model_name right?",
        ),
        (
            200,
            "application/json",
            b'{"predictions": [{"mask": [[0, 1], [2]]}]}',
            "the answer's mask output is not a [height, width] array of class ids.",
        ),
        (
            404,
            "application/json",
            b'{"error": "Servable not found for request: Latest(road)"}',
            "HTTP 404: Servable not found for request: Latest(road)",
        ),
        (502, "text/html", b"<h1>Bad gateway</h1>", "HTTP 502: Bad Gateway"),
    ],
    ids=["html", "another-model", "columnar", "no-mask", "ragged-mask", "unknown-model", "proxy-error"],
)
def test_the_client_names_the_server_of_a_wrong_answer(tmp_path, status, content_type, body, problem):
    with _http_server(body, status, content_type) as (server, _):
        result = _client(tmp_path, f"--server={server}")
    assert result.stderr.strip() == f"error: http://{server}/v1/models/road:predict: {problem}"
    assert result.returncode == 1 and sorted(tmp_path.iterdir()) == [tmp_path / "street.png"]


def test_the_client_gives_up_on_a_silent_server_after_its_timeout(tmp_path):
    with _http_server(b"{}", answer_after=threading.Event()) as (server, _):
        start = time.monotonic()
        result = _client(tmp_path, f"--server={server}", "--timeout=0.5")
        assert time.monotonic() - start < 20
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == f"error: http://{server}/v1/models/road:predict: timed out after 0.5 s without an answer"
    )


def test_the_client_reports_an_unreachable_server_in_one_line(tmp_path):
    server = f"127.0.0.1:{_closed_port()}"
    result = _client(tmp_path, f"--server={server}")
    assert result.returncode == 1 and result.stderr.strip() == (
        f"error: http://{server}/v1/models/road:predict: connection refused "
        "(is TF Serving running and listening on this port?)"
    )


@pytest.mark.parametrize("server", ["closed", "silent"])
def test_the_grpc_client_names_the_server_it_could_not_use(tmp_path, server):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{sock.getsockname()[1]}"
        if server == "silent":
            sock.listen()  # the kernel accepts the connection; nothing ever answers
        else:
            sock.close()
        result = _client(tmp_path, "--protocol=grpc", f"--server={address}", "--timeout=1")
    line = _error(result)
    if server == "silent":
        assert line == f"error: gRPC {address}: timed out after 1 s without an answer"
    else:
        assert line.startswith(f"error: gRPC {address}: UNAVAILABLE: ") and "refused" in line


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--timeout=0", "--timeout=0 must be a positive number of seconds."),
        (
            "--server=http://localhost:8501",
            "--server=http://localhost:8501 must be host:port, without http:// or a path.",
        ),
        ("--server=localhost", "--server=localhost must be host:port, without http:// or a path."),
    ],
)
def test_the_client_checks_its_flags_first(tmp_path, flag, message):
    assert _client(tmp_path, flag).stderr.strip() == f"error: {message}"


def test_the_client_ctrl_c_ends_in_one_line(tmp_path):
    _, png = _street()
    (tmp_path / "street.png").write_bytes(png)
    with _http_server(b"{}", answer_after=threading.Event()) as (server, requested):
        command = [sys.executable, str(EXPORT / "serving_client.py"), f"--image={tmp_path / 'street.png'}"]
        flags = [f"--output={tmp_path / 'mask.png'}", f"--server={server}"]
        env = {**os.environ, "no_proxy": "127.0.0.1", "NO_PROXY": "127.0.0.1"}
        process = interruptible([*command, *flags], stderr=subprocess.PIPE, text=True, env=env)
        try:
            assert requested.wait(60)
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=60)
        finally:
            process.kill()
    assert process.returncode == 130 and stderr.strip() == "error: interrupted"
    assert sorted(tmp_path.iterdir()) == [tmp_path / "street.png"]
