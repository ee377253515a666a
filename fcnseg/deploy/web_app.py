"""The browser as an edge device: a self-contained folder that segments images, videos and the webcam.

`write_web_app` puts the page (`web_page/index.html` and `app.js`), the model as ONNX files,
`model.json` (the files, the input size, the classes and colours) and the ONNX Runtime Web
files from a local install of the npm package `onnxruntime-web` into one folder. The page
runs the model at the size it was exported at, on WebGPU where the browser has it, else on
WebAssembly (threaded when the page is cross-origin isolated, which
`python -m fcnseg.serve_web` arranges).
"""

import json
import pathlib
import shutil

WEB_FOLDER = "web"
# The onnxruntime-web release the page is written and tested against.
RUNTIME_VERSION = "1.31.1"
DEFAULT_RUNTIME = "node_modules/onnxruntime-web/dist"
# ort.min.js holds the WebGPU and WebAssembly backends; it loads the other two itself.
RUNTIME_FILES = ("ort.min.js", "ort-wasm-simd-threaded.jsep.mjs", "ort-wasm-simd-threaded.jsep.wasm")
WEB_PRECISIONS = ("float32", "int8_cpu")
_PAGE = pathlib.Path(__file__).with_name("web_page")
_INSTALL = f"npm install onnxruntime-web@{RUNTIME_VERSION}"


def check_runtime(runtime_dir):
    """Fails in one line, naming `--web_runtime` and the npm command, unless every runtime file is there."""
    folder = pathlib.Path(runtime_dir)
    missing = [name for name in RUNTIME_FILES if not (folder / name).is_file()]
    if missing:
        raise ValueError(
            f"--web_runtime={runtime_dir}: ONNX Runtime Web not found (no {missing[0]}); install it in the current "
            f"folder with `{_INSTALL}`, or name its dist folder."
        )


def runtime_version(runtime_dir):
    """The version in the package.json beside `runtime_dir`, or None."""
    package = pathlib.Path(runtime_dir).parent / "package.json"
    try:
        return json.loads(package.read_text()).get("version")
    except (OSError, ValueError):
        return None


def write_web_app(folder, models, spec, input_size, model_name, runtime_dir):
    """Writes the page into `folder` (which must be new and empty).

    Args:
        folder: pathlib.Path. Where the page goes.
        models: dict of precision (in `WEB_PRECISIONS`) -> the `.onnx` file's bytes.
        spec: DatasetSpec. The classes and colours.
        input_size: (height, width). The size the page runs the model at.
        model_name: str. The model's file name, shown on the page.
        runtime_dir: str. onnxruntime-web's `dist` folder (see `check_runtime`).

    Returns:
        dict: `model.json`'s content.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("index.html", "app.js"):
        shutil.copyfile(_PAGE / name, folder / name)
    for name in RUNTIME_FILES:
        shutil.copyfile(pathlib.Path(runtime_dir) / name, folder / name)
    files = {}
    for precision, content in models.items():
        files[precision] = f"model_{precision}.onnx"
        (folder / files[precision]).write_bytes(content)
    manifest = {
        "model": model_name,
        "models": files,
        "input_size": list(input_size),
        "classes": list(spec.class_names),
        "colors": [list(color) for color in spec.colors],
        "onnxruntime_web": runtime_version(runtime_dir),
    }
    (folder / "model.json").write_text(json.dumps(manifest, indent=2))
    return manifest
