"""Send an image to a TF Serving model exported by `python -m fcnseg.export`, and write its mask.

    python export/serving_client.py --image=street.jpg --output=mask.png                 # REST, port 8501
    python export/serving_client.py --image=street.jpg --output=mask.png --protocol=grpc --server=localhost:8500

Both protocols send the encoded image to the `serving_bytes` signature, which decodes it
in the graph. REST sends JSON (`{"b64": ...}`) and gets every output back, the class
probabilities included; gRPC (`tensorflow-serving-api`'s `PredictRequest`) asks for the
`mask` output alone. The mask is written as a PNG of class ids.
"""

import argparse
import base64
import json
import sys
import urllib.error
import urllib.request

import numpy as np

SIGNATURE = "serving_bytes"
INPUT = "image_bytes"


def rest_request(image_bytes):
    """The JSON body of a REST predict request for one encoded image."""
    return {"signature_name": SIGNATURE, "instances": [{"b64": base64.b64encode(image_bytes).decode("ascii")}]}


def parse_rest_response(response):
    """The mask (uint8 `[height, width]`) of a REST predict response for one image."""
    if "error" in response:
        raise ValueError(f"TF Serving answered with an error: {response['error']}")
    return np.asarray(response["predictions"][0]["mask"], np.uint8)


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
    """The mask (uint8 `[height, width]`) of a `PredictResponse` for one image."""
    import tensorflow as tf

    return tf.make_ndarray(response.outputs["mask"])[0].astype(np.uint8)


def predict_rest(image_bytes, server, model_name, timeout=60):
    url = f"http://{server}/v1/models/{model_name}:predict"
    body = json.dumps(rest_request(image_bytes)).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return parse_rest_response(json.load(answer))
    except urllib.error.HTTPError as error:  # TF Serving answers errors with 4xx and {"error": "..."}
        try:
            message = json.load(error).get("error")
        except ValueError:
            message = None
        raise ValueError(f"{url}: HTTP {error.code}: {message or error.reason}") from None


def predict_grpc(image_bytes, server, model_name, timeout=60):
    request = grpc_request(image_bytes, model_name)  # fails first, with the install hint, if the API is missing
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(server) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            response = stub.Predict(request, timeout=timeout)
        except grpc.RpcError as error:
            raise OSError(f"gRPC {server}: {error.code().name}: {error.details()}") from None
    return parse_grpc_response(response)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True, help="A JPEG or PNG image.")
    parser.add_argument("--output", required=True, help="The PNG of class ids to write.")
    parser.add_argument("--protocol", choices=["rest", "grpc"], default="rest")
    parser.add_argument("--server", default=None, help="host:port; localhost:8501 (REST) or localhost:8500 (gRPC).")
    parser.add_argument("--model_name", default="road", help="The model's name in models.config.")
    args = parser.parse_args(argv)
    server = args.server or ("localhost:8501" if args.protocol == "rest" else "localhost:8500")
    if not args.output.lower().endswith(".png"):
        sys.exit(f"error: --output={args.output} must be a .png file (class ids survive only lossless).")
    try:
        with open(args.image, "rb") as file:
            image_bytes = file.read()
        predict = predict_rest if args.protocol == "rest" else predict_grpc
        mask = predict(image_bytes, server, args.model_name)
        import cv2

        if not cv2.imwrite(args.output, mask):
            raise OSError(f"{args.output}: could not write the mask.")
    except (OSError, ValueError) as error:
        sys.exit(f"error: {error}")
    classes, counts = np.unique(mask, return_counts=True)
    shares = ", ".join(f"{c}: {n / mask.size:.1%}" for c, n in zip(classes, counts))
    print(f"Wrote {args.output} ({mask.shape[1]}x{mask.shape[0]}); pixels per class id: {shares}")


if __name__ == "__main__":
    main()
