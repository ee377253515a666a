"""Milliseconds per frame of the browser page (`export --web`) in headless Chromium, float32 against int8_cpu.

    python bench/web_latency.py --data_dir=../shared/data/camvid

Each --models entry (random weights, 11 classes) is converted to ONNX at --height x --width,
float32 and int8_cpu (calibrated on --calibration_images CamVid train frames), written as the
page `python -m fcnseg.export --web` writes, served cross-origin isolated as
`python -m fcnseg.serve_web` serves it, and opened in Debian's headless `chromium` (through
`chromium-driver`): the page segments one CamVid val frame (its warm-up run done), then times
--runs more runs of the model on it (`window.fcnseg.time`, the session's run only: no drawing).
Reported: the median of the runs, min and median over --rounds page loads; the backend the
page names (headless Chromium has no WebGPU adapter here, so wasm with the page's threads);
and ONNX Runtime's CPU provider in Python on the same files with --threads threads, for scale,
timed before the browser starts.
Needs `npm install onnxruntime-web@1.31.1` in the current folder, and selenium.
"""

import os
import pathlib
import shlex
import statistics
import sys
import tempfile
import threading

import cv2
import onnxruntime
from absl import app, flags
from common import camvid_frames, cpu_model, define_runtime_flags, exit_unless_valid, file_ms, random_model

from fcnseg import data
from fcnseg.deploy import onnx_convert, web_app, web_browser
from fcnseg.deploy.web_server import make_server

PRECISIONS = ("float32", "int8_cpu")

flags.DEFINE_list(
    "models", ["ddrnet23_slim", "lraspp_mobilenetv3_small:minimalistic=True"], "Models: name or name:option=value."
)
flags.DEFINE_integer("rounds", 3, "Page loads per file.")
flags.DEFINE_string("web_runtime", web_app.DEFAULT_RUNTIME, "onnxruntime-web's dist folder.")
define_runtime_flags("ONNX Runtime threads of the Python comparison.")
FLAGS = flags.FLAGS


def page_ms(browser, url, frame_path, runs):
    """(median ms of `runs` runs on the frame, backend) of one page load."""
    web_browser.open_page(browser, url)
    state, status = web_browser.segment_file(browser, frame_path)
    if state == "error":
        sys.exit(f"error: the page failed: {status}")
    times = browser.execute_async_script(f"window.fcnseg.time({runs}).then(arguments[arguments.length - 1])")
    return statistics.median(times), browser.execute_script("return window.fcnseg.backend")


def main(argv):
    del argv
    exit_unless_valid(FLAGS.models)
    missing = web_browser.missing_parts(FLAGS.web_runtime)
    if missing:
        sys.exit(f"error: missing {', '.join(missing)}.")
    size = (FLAGS.height, FLAGS.width)
    calibration = camvid_frames(FLAGS.data_dir, "train", size, FLAGS.calibration_images)
    frame = camvid_frames(FLAGS.data_dir, "val", size, 1)[0]
    spec = data.dataset_spec("camvid")
    results, backends = {}, set()
    with tempfile.TemporaryDirectory() as temporary:
        frame_path = pathlib.Path(temporary, "frame.png")
        cv2.imwrite(str(frame_path), frame[..., ::-1])
        folders = {}
        for index, text in enumerate(FLAGS.models):
            float32 = onnx_convert.convert_onnx(random_model(text, 11), size)
            models = {"float32": float32, "int8_cpu": onnx_convert.quantize_onnx(float32, calibration, "int8_cpu")}
            folders[text] = pathlib.Path(temporary, str(index))
            web_app.write_web_app(folders[text], models, spec, size, text, FLAGS.web_runtime)
        # Python first, with no browser open: its wasm threads would share the cores.
        python_ms = {
            (text, precision): file_ms(
                folder / f"model_{precision}.onnx", frame, FLAGS.threads, FLAGS.runs, FLAGS.warmup
            )
            for text, folder in folders.items()
            for precision in PRECISIONS
        }
        browser = web_browser.headless_chromium()
        try:
            for text, folder in folders.items():
                server = make_server(folder, port=0, verbose=False)
                threading.Thread(target=server.serve_forever, daemon=True).start()
                try:
                    for precision in PRECISIONS:
                        url = f"http://127.0.0.1:{server.server_address[1]}/?model={precision}"
                        loads = [page_ms(browser, url, frame_path, FLAGS.runs) for _ in range(FLAGS.rounds)]
                        backends.update(backend for _, backend in loads)
                        results[text, precision] = ([ms for ms, _ in loads], python_ms[text, precision])
                finally:
                    server.shutdown()
                    server.server_close()
        finally:
            browser.quit()
    print(f"Command: python {shlex.join(sys.argv)}\n")
    print(
        f"Machine: {cpu_model()}, {os.cpu_count()} cores; {browser.capabilities.get('browserVersion', 'chromium')} "
        f"headless, onnxruntime-web {web_app.runtime_version(FLAGS.web_runtime)} on {', '.join(sorted(backends))}; "
        f"ONNX Runtime {onnxruntime.__version__} (Python, CPU provider, {FLAGS.threads} threads); input "
        f"{size[0]}x{size[1]}; median ms of {FLAGS.runs} runs; min / median of {FLAGS.rounds} page loads.\n"
    )
    print(
        "| model | browser float32 | browser int8_cpu | float32 / int8_cpu | Python ORT float32 | Python ORT int8_cpu |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for text in FLAGS.models:
        (f32, f32_python), (i8, i8_python) = results[text, "float32"], results[text, "int8_cpu"]
        print(
            f"| {text} | {min(f32):.1f} / {statistics.median(f32):.1f} | {min(i8):.1f} / {statistics.median(i8):.1f} "
            f"| {statistics.median(f32) / statistics.median(i8):.2f}x | {f32_python:.1f} | {i8_python:.1f} |"
        )


if __name__ == "__main__":
    app.run(main)
