"""Send an image to a TF Serving model exported by `python -m fcnseg.export`, and write its mask.

    python export/serving_client.py --image=street.jpg --output=mask.png                 # REST, port 8501
    python export/serving_client.py --image=street.jpg --output=mask.png --protocol=grpc --server=localhost:8500

Both protocols send the encoded image to the `serving_bytes` signature, which decodes it
in the graph. REST sends JSON (`{"b64": ...}`) and gets every output back, the class
probabilities included; gRPC (`tensorflow-serving-api`'s `PredictRequest`) asks for the
`mask` output alone. The mask is written as a PNG of class ids.

Whatever goes wrong with the server (nothing listening, no answer within `--timeout`
seconds, an answer that is not the JSON or the outputs of an fcnseg model) ends in one
line that names the server's address.
"""

import argparse
import base64
import http.client
import json
import os
import pathlib
import socket
import sys
import urllib.error
import urllib.request

import numpy as np

SIGNATURE = "serving_bytes"
INPUT = "image_bytes"
OUTPUTS = ("mask", "probabilities")  # what `serving_bytes` returns; gRPC asks for the mask only


def rest_request(image_bytes):
    """The JSON body of a REST predict request for one encoded image."""
    return {"signature_name": SIGNATURE, "instances": [{"b64": base64.b64encode(image_bytes).decode("ascii")}]}


def parse_rest_response(response):
    """The mask (uint8 `[height, width]`) of a REST predict response for one image.

    Raises ValueError, saying what was expected, for an error answer or one that is not an
    fcnseg model's (another model's outputs, no outputs).
    """
    if isinstance(response, dict) and "error" in response:
        raise ValueError(f"TF Serving answered with an error: {' '.join(str(response['error']).split())}")
    predictions = response.get("predictions") if isinstance(response, dict) else None
    if not (isinstance(predictions, list) and predictions and isinstance(predictions[0], dict)):
        raise ValueError(f"the answer is JSON without the {' and '.join(OUTPUTS)} outputs: {_preview(response)}")
    if "mask" not in predictions[0]:
        names = ", ".join(map(str, predictions[0])) or "none"
        raise ValueError(f"the answer is JSON without the mask output (its outputs: {names}); is --model_name right?")
    return _mask(predictions[0]["mask"])


def _mask(value):
    try:
        mask = np.asarray(value)
    except ValueError:  # ragged lists
        mask = None
    if mask is None or mask.ndim != 2 or not np.issubdtype(mask.dtype, np.integer) or mask.size == 0:
        raise ValueError("the answer's mask output is not a [height, width] array of class ids.")
    if mask.min() < 0 or mask.max() > 255:
        raise ValueError(f"the answer's mask holds class ids {mask.min()}..{mask.max()}, outside 0..255.")
    return mask.astype(np.uint8)


def grpc_request(image_bytes, model_name):
    """A `PredictRequest` for one encoded image that asks for the mask only."""
    import tensorflow as tf

    try:
        from tensorflow_serving.apis import predict_pb2
    except ImportError:
        raise OSError("gRPC needs tensorflow-serving-api: pip install tensorflow-serving-api") from None

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = SIGNATURE
    request.inputs[INPUT].CopyFrom(tf.make_tensor_proto([image_bytes], dtype=tf.string, shape=[1]))
    request.output_filter.append("mask")
    return request


def parse_grpc_response(response):
    """The mask (uint8 `[height, width]`) of a `PredictResponse` for one image; ValueError without one."""
    import tensorflow as tf

    if "mask" not in response.outputs:  # reading a missing key of a proto map would add an empty one
        names = ", ".join(response.outputs) or "none"
        raise ValueError(f"the answer has no mask output (its outputs: {names}); is --model_name right?")
    try:
        value = tf.make_ndarray(response.outputs["mask"])
    except (TypeError, ValueError):
        raise ValueError("the answer's mask output is not a tensor of class ids.") from None
    if value.ndim != 3 or not len(value):
        raise ValueError(f"the answer's mask output has shape {list(value.shape)}, not [1, height, width].")
    return _mask(value[0])


def predict_rest(image_bytes, server, model_name, timeout=60):
    """The mask TF Serving's REST API at `server` (host:port) gives for an encoded image.

    Raises OSError (no connection, no answer within `timeout` seconds) or ValueError (an
    error or an answer that is not an fcnseg model's), each naming the URL.
    """
    url = f"http://{server}/v1/models/{model_name}:predict"
    body = json.dumps(rest_request(image_bytes)).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            content_type, content = answer.headers.get_content_type(), answer.read()
    except urllib.error.HTTPError as error:  # TF Serving answers errors with 4xx and {"error": "..."}
        raise ValueError(f"{url}: HTTP {error.code}: {_http_error_message(error)}") from None
    except urllib.error.URLError as error:
        raise OSError(f"{url}: {_connection_problem(error.reason, timeout)}") from None
    except (OSError, http.client.HTTPException) as error:  # while reading the answer: urllib does not wrap these
        raise OSError(f"{url}: {_connection_problem(error, timeout)}") from None
    try:
        response = json.loads(content)
    except ValueError:
        raise ValueError(f"{url}: the answer is not JSON ({content_type}: {_preview(content)})") from None
    try:
        return parse_rest_response(response)
    except ValueError as error:
        raise ValueError(f"{url}: {error}") from None


def _http_error_message(error):
    try:
        message = json.load(error)
    except (ValueError, OSError, http.client.HTTPException):
        message = None
    if isinstance(message, dict) and message.get("error"):
        return " ".join(str(message["error"]).split())
    return error.reason


def _connection_problem(reason, timeout):
    """Words for why a connection failed: `reason` is an exception or urllib's reason string."""
    if isinstance(reason, TimeoutError):  # socket.timeout is TimeoutError
        return f"timed out after {timeout:g} s without an answer"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (is TF Serving running and listening on this port?)"
    if isinstance(reason, socket.gaierror):
        return f"unknown host ({reason.strerror})"
    if isinstance(reason, http.client.InvalidURL):
        return f"not a valid address ({reason})"
    if isinstance(reason, http.client.IncompleteRead):
        return "the answer was cut short"
    if isinstance(reason, http.client.HTTPException):
        return f"the answer is not HTTP ({type(reason).__name__})"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return " ".join(str(reason).split()) or type(reason).__name__


def _preview(content, length=80):
    """The start of an answer on one line, for error messages."""
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    elif not isinstance(content, str):
        content = json.dumps(content)
    content = " ".join(content.split())
    return repr(content[:length] + ("..." if len(content) > length else "")) if content else "empty"


def predict_grpc(image_bytes, server, model_name, timeout=60):
    """The mask TF Serving's gRPC API at `server` (host:port) gives; OSError or ValueError naming the server."""
    request = grpc_request(image_bytes, model_name)  # fails first, with the install hint, if the API is missing
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(server) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            response = stub.Predict(request, timeout=timeout)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise OSError(f"gRPC {server}: timed out after {timeout:g} s without an answer") from None
            details = " ".join((error.details() or "").split())
            raise OSError(f"gRPC {server}: {error.code().name}: {details}") from None
    try:
        return parse_grpc_response(response)
    except ValueError as error:
        raise ValueError(f"gRPC {server}: {error}") from None


def write_mask(path, mask):
    """Writes the mask as a PNG under a temporary name beside `path`, renamed into place when complete."""
    import cv2

    path = pathlib.Path(path)
    temporary = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
    try:
        if not cv2.imwrite(str(temporary), mask):
            raise OSError(f"{path}: could not write the mask.")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True, help="A JPEG or PNG image.")
    parser.add_argument("--output", required=True, help="The PNG of class ids to write.")
    parser.add_argument("--protocol", choices=["rest", "grpc"], default="rest")
    parser.add_argument("--server", default=None, help="host:port; localhost:8501 (REST) or localhost:8500 (gRPC).")
    parser.add_argument("--model_name", default="road", help="The model's name in models.config.")
    parser.add_argument("--timeout", type=float, default=60, help="Seconds to wait for the server's answer.")
    args = parser.parse_args(argv)
    server = args.server or ("localhost:8501" if args.protocol == "rest" else "localhost:8500")
    try:
        if args.protocol == "rest" and ("/" in server or not server.rpartition(":")[2].isdigit()):
            raise ValueError(f"--server={server} must be host:port, without http:// or a path.")
        if not args.timeout > 0:
            raise ValueError(f"--timeout={args.timeout:g} must be a positive number of seconds.")
        if not args.output.lower().endswith(".png"):
            raise ValueError(f"--output={args.output} must be a .png file (class ids survive only lossless).")
        if not pathlib.Path(args.output).parent.is_dir():
            raise FileNotFoundError(
                f"--output={args.output}: folder {pathlib.Path(args.output).parent} does not exist."
            )
        if not pathlib.Path(args.image).is_file():
            raise FileNotFoundError(f"{args.image}: image not found.")
        image_bytes = pathlib.Path(args.image).read_bytes()
        predict = predict_rest if args.protocol == "rest" else predict_grpc
        mask = predict(image_bytes, server, args.model_name, args.timeout)
        write_mask(args.output, mask)
    except (OSError, ValueError) as error:
        sys.exit(f"error: {error}")
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    classes, counts = np.unique(mask, return_counts=True)
    shares = ", ".join(f"{c}: {n / mask.size:.1%}" for c, n in zip(classes, counts))
    print(f"Wrote {args.output} ({mask.shape[1]}x{mask.shape[0]}); pixels per class id: {shares}")


if __name__ == "__main__":
    main()
