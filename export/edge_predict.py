"""Run an fcnseg `.tflite` or `.onnx` model on an image or a video with LiteRT or ONNX Runtime,
NumPy and OpenCV only.

    pip install ai-edge-litert numpy opencv-python-headless     # for .tflite files
    pip install onnxruntime numpy opencv-python-headless        # for .onnx files
    python edge_predict.py --model=road_int8.tflite --input=street.jpg --output=street_overlay.png
    python edge_predict.py --model=best_int8.onnx --input=drive.mp4 --output=drive_overlay.mp4 --threads=4

This file stands alone (no TensorFlow, no fcnseg): copy it to the device with the model
file and the `classes.json` written beside it by `python -m fcnseg.export`, which gives
the class colours. Each image or frame is resized to the model's input size (a model of
any size, as ONNX files are by default, takes it padded at the bottom and right to a
multiple of 32), and the mask resized (nearest neighbour) or cropped back and blended
over it. It handles every format the exporter writes: float32 or uint8 input, float32
or quantised logits, or a uint8 mask (`--argmax` exports).

It refuses the inputs fcnseg itself refuses (`fcnseg.data.decode`): an image file that is
empty, not a PNG, JPEG, BMP or GIF, or cut short, and a video that ends before its
container's frame count. Like fcnseg (`fcnseg.files`), it writes the output under a hidden
temporary name beside the final one (`.<stem>.partial-<pid><suffix>`) and renames it into
place only when it is complete, so a failed or interrupted run leaves no half-written file.
"""

import argparse
import contextlib
import importlib
import json
import os
import pathlib
import sys
import time

import cv2
import numpy as np

SIZE_MULTIPLE = 32  # a model of any size takes heights and widths divisible by this
VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
MODEL_SUFFIXES = (".tflite", ".onnx")

# The checks of fcnseg.data.decode.read_encoded, with its messages: every fcnseg decoder
# refuses the same files.
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8"
_OTHER_SIGNATURES = (b"BM", b"GIF8")  # BMP and GIF: no end marker to check
_PARTIAL = ".partial-"


class EdgeSegmenter:
    """A `.tflite` segmentation model: `mask(rgb_image)` gives class ids at the image's size."""

    def __init__(self, model_path, threads=2):
        Interpreter = _runtime("ai_edge_litert.interpreter", "ai-edge-litert", model_path).Interpreter
        try:
            self.interpreter = Interpreter(model_path=str(model_path), num_threads=threads)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise ValueError(f"{model_path}: LiteRT cannot load this model ({_one_line(error)}).") from None
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.size = tuple(int(side) for side in self.input["shape"][1:3])

    def mask(self, image):
        """Class ids (uint8 `[height, width]`) of an RGB uint8 image of any size."""
        resized = _resized(image, self.size)
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
        return _resized(mask.astype(np.uint8), image.shape[:2], cv2.INTER_NEAREST)


class OnnxEdgeSegmenter:
    """An `.onnx` segmentation model (float32 pixels in, logits out): `mask(rgb_image)` as `EdgeSegmenter`."""

    def __init__(self, model_path, threads=2):
        runtime = _runtime("onnxruntime", "onnxruntime", model_path)
        options = runtime.SessionOptions()
        options.intra_op_num_threads = threads
        try:
            self.session = runtime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # ONNX Runtime raises its own kinds for a bad file
            raise ValueError(f"{model_path}: ONNX Runtime cannot load this model ({_one_line(error)}).") from None
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        size = model_input.shape[1:3]
        self.size = tuple(size) if all(isinstance(side, int) for side in size) else None

    def mask(self, image):
        """Class ids (uint8 `[height, width]`) of an RGB uint8 image of any size."""
        height, width = image.shape[:2]
        if self.size is None:  # any size divisible by 32: pad, then crop the mask back
            pixels = np.pad(image, [(0, -height % SIZE_MULTIPLE), (0, -width % SIZE_MULTIPLE), (0, 0)])
        else:
            pixels = _resized(image, self.size)
        logits = self.session.run(None, {self.input_name: pixels[None].astype(np.float32)})[0][0]
        mask = logits.argmax(-1).astype(np.uint8)
        if self.size is None:
            return mask[:height, :width]
        return _resized(mask, (height, width), cv2.INTER_NEAREST)


def open_segmenter(model_path, threads):
    """The segmenter of a `.tflite` or `.onnx` file."""
    onnx = pathlib.Path(model_path).suffix.lower() == ".onnx"
    return (OnnxEdgeSegmenter if onnx else EdgeSegmenter)(model_path, threads)


def _runtime(module, package, model_path):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ValueError(f"{model_path}: running it needs {package} (pip install {package}).") from None


def _resized(image, size, interpolation=cv2.INTER_LINEAR):
    """`image` at (height, width) `size`: itself if it has that size."""
    if tuple(image.shape[:2]) == tuple(size):
        return image
    return cv2.resize(image, (size[1], size[0]), interpolation=interpolation)


def _one_line(error):
    return " ".join(str(error).split())  # the runtimes' messages may span lines


def class_colors(model_path):
    """The class colours of the `classes.json` beside the model, or a fixed palette without one."""
    classes = pathlib.Path(model_path).with_name("classes.json")
    if classes.is_file():
        try:
            return np.asarray(json.loads(classes.read_text())["colors"], np.uint8)
        except (ValueError, KeyError, TypeError):
            raise ValueError(f'{classes}: not a classes.json of fcnseg.export (a JSON object with "colors").') from None
    return np.random.default_rng(0).integers(0, 256, (256, 3), dtype=np.uint8)


def overlay(image, mask, colors, alpha):
    """The mask's colours blended over the RGB image with weight `alpha`."""
    palette = np.zeros((256, 3), np.uint8)
    palette[: len(colors)] = colors
    blend = (1 - alpha) * image.astype(np.float32) + alpha * palette[mask].astype(np.float32)
    return np.clip(np.rint(blend), 0, 255).astype(np.uint8)


def encoded_problem(data):
    """What makes an image file's bytes unreadable for fcnseg (empty, not an image, cut short), or None."""
    if not data:
        return "the file is empty"
    if data.startswith(_PNG_SIGNATURE):
        return None if data[-8:-4] == b"IEND" else "the PNG file is cut short (no IEND chunk at its end)"
    if data.startswith(_JPEG_SIGNATURE):
        # Some writers pad after the end-of-image marker, so look for it near the end, not only at it.
        return None if b"\xff\xd9" in data[-64:] else "the JPEG file is cut short (no end marker)"
    if data.startswith(_OTHER_SIGNATURES):
        return None
    return "not a PNG, JPEG, BMP or GIF image"


def read_image(path):
    """The RGB pixels (uint8 `[height, width, 3]`) of an image file; ValueError naming the file if it is bad."""
    data = pathlib.Path(path).read_bytes()
    problem = encoded_problem(data)
    if problem:
        raise ValueError(f"{path}: {problem}")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: not a readable image.")
    return image[..., ::-1]


def temporary_path(path):
    """The hidden name beside `path` that `atomic_path` writes it under in this process."""
    path = pathlib.Path(path)
    return path.with_name(f".{path.stem}{_PARTIAL}{os.getpid()}{path.suffix}")


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path to write `path` to; renames it to `path` when the block ends without error.

    On any error, Ctrl-C included, the temporary file is removed and `path` left as it was. A
    temporary file of a process that was killed is removed by the next write into its folder.
    """
    path = pathlib.Path(path)
    for abandoned in path.parent.glob(f".*{_PARTIAL}*"):
        pid = abandoned.name.partition(_PARTIAL)[2].partition(".")[0]
        if pid.isdigit() and not _process_alive(int(pid)):
            abandoned.unlink(missing_ok=True)
    temporary = temporary_path(path)
    try:
        yield temporary
        try:
            os.replace(temporary, path)
        except OSError as error:
            raise OSError(f"{path}: could not be written ({error.strerror or error}).") from None
    finally:
        temporary.unlink(missing_ok=True)


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def predict_image(segmenter, colors, source, output, alpha):
    image = read_image(source)
    picture = np.ascontiguousarray(overlay(image, segmenter.mask(image), colors, alpha)[..., ::-1])
    with atomic_path(output) as temporary:
        if not cv2.imwrite(str(temporary), picture):
            raise OSError(f"{output}: could not write the picture.")
    return 1


def predict_video(segmenter, colors, source, output, alpha):
    capture = cv2.VideoCapture(str(source))
    try:
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
        fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
        with atomic_path(output) as temporary:
            writer, frames = None, 0
            try:
                for frame in _frames(capture, source):
                    if writer is None:
                        codec = cv2.VideoWriter_fourcc(*VIDEO_CODECS[pathlib.Path(output).suffix.lower()])
                        writer = cv2.VideoWriter(str(temporary), codec, fps, (frame.shape[1], frame.shape[0]))
                        if not writer.isOpened():
                            raise OSError(f"{output}: OpenCV cannot write this video.")
                    mask = segmenter.mask(frame)
                    writer.write(np.ascontiguousarray(overlay(frame, mask, colors, alpha)[..., ::-1]))
                    frames += 1
            finally:
                if writer is not None:
                    writer.release()
            if not frames:
                raise ValueError(f"{source}: not a readable video (no frame could be decoded).")
            if frames < total:
                raise ValueError(f"{source}: cut short: only {frames} of its {total} frames could be decoded.")
            _check_video(temporary, output, frames)
    finally:
        capture.release()
    return frames


def _frames(capture, source):
    """The video's frames as RGB, every one, failing on a frame size change (the writer would drop them)."""
    size = None
    while True:
        ok, frame = capture.read()
        if not ok:
            return
        if size is not None and frame.shape != size:
            raise ValueError(
                f"{source}: frame size changes from {size[1]}x{size[0]} to {frame.shape[1]}x{frame.shape[0]}."
            )
        size = frame.shape
        yield frame[..., ::-1]


def _check_video(path, final, frames):
    """Fails unless the video OpenCV wrote holds `frames` frames: its writer reports no errors (a full disk)."""
    capture = cv2.VideoCapture(str(path))
    written = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    readable = capture.isOpened() and capture.read()[0]
    capture.release()
    if written != frames or not readable:
        raise OSError(
            f"{final}: the video could not be written ({written} of {frames} frames readable; is the disk full?)."
        )


def check_flags(args):
    """Fails, naming the flag, on any flag that cannot work, before the model or the input is read."""
    if not 0 <= args.alpha <= 1:
        raise ValueError(f"--alpha={args.alpha:g} must be between 0 and 1.")
    if args.threads < 1:
        raise ValueError(f"--threads={args.threads} must be at least 1.")
    if pathlib.Path(args.model).suffix.lower() not in MODEL_SUFFIXES:
        raise ValueError(f"--model={args.model} must end in one of {', '.join(MODEL_SUFFIXES)}.")
    if not pathlib.Path(args.model).is_file():
        raise FileNotFoundError(f"{args.model}: model not found.")
    if not pathlib.Path(args.input).is_file():
        raise FileNotFoundError(f"{args.input}: input not found.")
    video = pathlib.Path(args.input).suffix.lower() in VIDEO_CODECS
    allowed = tuple(VIDEO_CODECS) if video else IMAGE_SUFFIXES
    output = pathlib.Path(args.output)
    if output.suffix.lower() not in allowed:
        raise ValueError(f"--output={args.output} must end in one of {', '.join(allowed)}.")
    if not output.parent.is_dir():
        raise FileNotFoundError(f"--output={args.output}: folder {output.parent} does not exist.")
    return video


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="The .tflite or .onnx file.")
    parser.add_argument("--input", required=True, help="An image or a video (.mp4, .m4v, .mov, .avi).")
    parser.add_argument("--output", required=True, help="The overlay picture or video to write.")
    parser.add_argument("--alpha", type=float, default=0.5, help="Weight of the mask's colours, 0 to 1.")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads the runtime may use.")
    args = parser.parse_args(argv)
    try:
        video = check_flags(args)
        colors = class_colors(args.model)
        segmenter = open_segmenter(args.model, args.threads)
        run = predict_video if video else predict_image
        start = time.perf_counter()
        count = run(segmenter, colors, args.input, args.output, args.alpha)
    except (ValueError, OSError, RuntimeError) as error:
        sys.exit(f"error: {error}")
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    seconds = time.perf_counter() - start
    print(f"{count} frame(s) in {seconds:.2f} s ({count / seconds:.1f} frames/s); wrote {args.output}")


if __name__ == "__main__":
    main()
