"""Run an fcnseg `.tflite` model on an image or a video with LiteRT, NumPy and OpenCV only.

    pip install ai-edge-litert numpy opencv-python-headless
    python edge_predict.py --model=road_int8.tflite --input=street.jpg --output=street_overlay.png
    python edge_predict.py --model=road_int8.tflite --input=drive.mp4 --output=drive_overlay.mp4 --threads=4

This file stands alone (no TensorFlow, no fcnseg): copy it to the device with the
`.tflite` file and the `classes.json` written beside it by `python -m fcnseg.export`,
which gives the class colours. Each image or frame is resized to the model's input size,
and the mask resized back (nearest neighbour) and blended over it. It handles every
format the exporter writes: float32 or uint8 input, float32 or quantised logits, or a
uint8 mask (`--argmax` exports).
"""

import argparse
import json
import pathlib
import sys
import time

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter

VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}


class EdgeSegmenter:
    """A `.tflite` segmentation model: `mask(rgb_image)` gives class ids at the image's size."""

    def __init__(self, model_path, threads=2):
        self.interpreter = Interpreter(model_path=str(model_path), num_threads=threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.height, self.width = (int(side) for side in self.input["shape"][1:3])

    def mask(self, image):
        """Class ids (uint8 `[height, width]`) of an RGB uint8 image of any size."""
        height, width = image.shape[:2]
        resized = image
        if (height, width) != (self.height, self.width):
            resized = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        pixels = resized[None].astype(np.float32)
        scale, zero_point = self.input["quantization"]
        if scale:
            limits = np.iinfo(self.input["dtype"])
            pixels = np.clip(np.round(pixels / scale + zero_point), limits.min, limits.max)
        self.interpreter.set_tensor(self.input["index"], pixels.astype(self.input["dtype"]))
        self.interpreter.invoke()
        output = self.interpreter.get_tensor(self.output["index"])[0]
        # Quantised logits keep their order, so the argmax needs no dequantising.
        mask = output if output.ndim == 2 else output.argmax(-1)
        mask = mask.astype(np.uint8)
        if (height, width) != (self.height, self.width):
            mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
        return mask


def class_colors(model_path):
    """The class colours of the `classes.json` beside the model, or a fixed palette without one."""
    classes = pathlib.Path(model_path).with_name("classes.json")
    if classes.is_file():
        return np.asarray(json.loads(classes.read_text())["colors"], np.uint8)
    return np.random.default_rng(0).integers(0, 256, (256, 3), dtype=np.uint8)


def overlay(image, mask, colors, alpha):
    """The mask's colours blended over the RGB image with weight `alpha`."""
    palette = np.zeros((256, 3), np.uint8)
    palette[: len(colors)] = colors
    blend = (1 - alpha) * image.astype(np.float32) + alpha * palette[mask].astype(np.float32)
    return np.clip(np.rint(blend), 0, 255).astype(np.uint8)


def predict_image(segmenter, colors, source, output, alpha):
    image = cv2.imread(str(source), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{source}: not a readable image.")
    mask = segmenter.mask(image[..., ::-1])
    if not cv2.imwrite(str(output), overlay(image[..., ::-1], mask, colors, alpha)[..., ::-1]):
        raise OSError(f"{output}: could not write the picture.")
    return 1


def predict_video(segmenter, colors, source, output, alpha):
    capture = cv2.VideoCapture(str(source))
    writer, frames = None, 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if writer is None:
                codec = cv2.VideoWriter_fourcc(*VIDEO_CODECS.get(pathlib.Path(output).suffix.lower(), "mp4v"))
                size = (frame.shape[1], frame.shape[0])
                writer = cv2.VideoWriter(str(output), codec, capture.get(cv2.CAP_PROP_FPS) or 30.0, size)
                if not writer.isOpened():
                    raise OSError(f"{output}: OpenCV cannot write this video.")
            mask = segmenter.mask(frame[..., ::-1])
            writer.write(np.ascontiguousarray(overlay(frame[..., ::-1], mask, colors, alpha)[..., ::-1]))
            frames += 1
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    if not frames:
        raise ValueError(f"{source}: not a readable video (no frame could be decoded).")
    return frames


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="The .tflite file.")
    parser.add_argument("--input", required=True, help="An image or a video (.mp4, .m4v, .mov, .avi).")
    parser.add_argument("--output", required=True, help="The overlay picture or video to write.")
    parser.add_argument("--alpha", type=float, default=0.5, help="Weight of the mask's colours, 0 to 1.")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads LiteRT may use.")
    args = parser.parse_args(argv)
    try:
        if not pathlib.Path(args.model).is_file():
            raise FileNotFoundError(f"{args.model}: model not found.")
        if not pathlib.Path(args.input).is_file():
            raise FileNotFoundError(f"{args.input}: input not found.")
        video = pathlib.Path(args.input).suffix.lower() in VIDEO_CODECS
        allowed = tuple(VIDEO_CODECS) if video else (".png", ".jpg", ".jpeg", ".bmp")
        if pathlib.Path(args.output).suffix.lower() not in allowed:
            raise ValueError(f"--output={args.output} must end in one of {', '.join(allowed)}.")
        segmenter = EdgeSegmenter(args.model, args.threads)
        colors = class_colors(args.model)
        run = predict_video if video else predict_image
        start = time.perf_counter()
        count = run(segmenter, colors, args.input, args.output, args.alpha)
    except (ValueError, OSError, RuntimeError) as error:
        sys.exit(f"error: {error}")
    seconds = time.perf_counter() - start
    print(f"{count} frame(s) in {seconds:.2f} s ({count / seconds:.1f} frames/s); wrote {args.output}")


if __name__ == "__main__":
    main()
