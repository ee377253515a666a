"""Exporting a trained `.keras` model: `ExportConfig` in, a SavedModel, TFLite and ONNX files out, with parity.

Each file written is checked against the Keras model on real images of the model's
dataset (the same images int8 calibration reads): for the SavedModel at their full size,
for TFLite and ONNX files resized to the input size. The report gives the file's size,
its operators (and ONNX operator set), the largest logit (or probability) difference and
the fraction of pixels whose class agrees; it is printed and written to
`<export_dir>/export_report.json`.
"""

import contextlib
import dataclasses
import json
import pathlib
from typing import Optional

import numpy as np

from fcnseg import data, files
from fcnseg.conventions import SIZE_MULTIPLE, check_size
from fcnseg.data import split_expressions
from fcnseg.data.pipeline import make_dataset
from fcnseg.data.specs import CLASSES_FILE
from fcnseg.deploy import onnx_convert, web_app
from fcnseg.deploy.saved_model import write_saved_model
from fcnseg.deploy.tflite import QUANTIZATIONS, convert, operators
from fcnseg.inference.segmenter import (
    KerasSegmenter,
    OnnxSegmenter,
    SavedModelSegmenter,
    TFLiteSegmenter,
    classes_beside,
    load_keras_model,
)
from fcnseg.inference.tiling import Tiling, segment


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """What to export; one field per flag of `python -m fcnseg.export`.

    Args:
        model: str. A `.keras` file.
        export_dir: str. The SavedModel's folder of versions, and where TFLite files go.
        dataset, data_dir, split, dataset_options: the real images for parity and int8
            calibration (the model's training data).
        saved_model: bool. Write the SavedModel.
        version: int or None. Its version; None takes the next free one.
        serving_resize: (height, width) or None. Resize in the serving graph instead of padding.
        tflite: bool. Write TFLite files, one per entry of `quantize`.
        onnx: bool. Write ONNX files, one per entry of `quantize`.
        web: bool. Write `<export_dir>/web/`, a page that runs the model in a browser
            (`fcnseg.deploy.web_app`): float32, and int8_cpu when `quantize` has it.
        web_runtime: str. onnxruntime-web's `dist` folder, copied into the page.
        quantize: tuple of `QUANTIZATIONS` (of `onnx_convert.ONNX_QUANTIZATIONS` with `onnx`).
        input_size: (height, width). The TFLite input size, and the size ONNX files are
            checked and calibrated at; required with `tflite` or `onnx`.
        onnx_fixed_size: bool. ONNX files take `input_size` only; False keeps their
            height and width dynamic.
        onnx_opset: int. The ONNX operator set.
        argmax: bool. TFLite files output the uint8 mask.
        delegate_friendly: bool. See `fcnseg.tflite`.
        calibration_images: int. Images int8 calibration reads.
        parity_images: int. Images the parity check reads (the first of the calibration images).
    """

    model: str
    export_dir: str
    dataset: str
    data_dir: Optional[str] = None
    split: str = "train"
    dataset_options: dict = dataclasses.field(default_factory=dict)
    saved_model: bool = True
    version: Optional[int] = None
    serving_resize: Optional[tuple] = None
    tflite: bool = False
    onnx: bool = False
    web: bool = False
    web_runtime: str = web_app.DEFAULT_RUNTIME
    quantize: tuple = ("float32",)
    input_size: Optional[tuple] = None
    onnx_fixed_size: bool = False
    onnx_opset: int = onnx_convert.DEFAULT_OPSET
    argmax: bool = False
    delegate_friendly: bool = False
    calibration_images: int = 100
    parity_images: int = 8

    def __post_init__(self):
        split_expressions.check(self.split, "--split")
        if not (self.saved_model or self.tflite or self.onnx or self.web):
            raise ValueError("Nothing to export: give --saved_model, --tflite, --onnx, --web or several.")
        unknown = [name for name in self.quantize if name not in QUANTIZATIONS]
        if self.tflite and "int8_cpu" in unknown:
            raise ValueError(
                "--quantize=int8_cpu is an ONNX form (uint8 activations for ONNX Runtime on CPUs); "
                "TFLite's int8 already is: use --quantize=int8 for --tflite, or export --onnx alone."
            )
        if self.tflite and (unknown or not self.quantize):
            raise ValueError(
                f"--quantize={','.join(self.quantize)} is not valid; expected some of {', '.join(QUANTIZATIONS)}."
            )
        if self.onnx:
            onnx_convert.check_quantizations(self.quantize)
        if self.web and not (self.tflite or self.onnx):
            unknown = [name for name in self.quantize if name not in web_app.WEB_PRECISIONS]
            if unknown:
                raise ValueError(
                    f"--quantize={','.join(self.quantize)} is not valid with --web alone; the page takes some of "
                    f"{', '.join(web_app.WEB_PRECISIONS)}."
                )
        if self.onnx or self.web:
            onnx_convert.check_opset(self.onnx_opset)
        for fixed_size_format in ("tflite", "onnx", "web"):
            if getattr(self, fixed_size_format) and self.input_size is None:
                raise ValueError(
                    f"--{fixed_size_format} needs --input_size=height,width (a multiple of {SIZE_MULTIPLE}): the size "
                    "its files are checked and calibrated at."
                )
        for name in ("input_size", "serving_resize"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, check_size(name, getattr(self, name), SIZE_MULTIPLE))
        for name in ("calibration_images", "parity_images"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name}={getattr(self, name)} is not valid; expected a positive integer.")


def export(config, verbose=1):
    """Writes what `config` asks for and checks each file against the Keras model.

    Returns:
        The report: a dict with one entry per file written (`path`, `bytes`, parity
        figures, `operators` for TFLite and ONNX files, and `opset` for ONNX files).
    """
    if config.onnx or config.web:
        onnx_convert.check_installed()
    if config.web:
        web_app.check_runtime(config.web_runtime)
    spec = data.dataset_spec(config.dataset, config.data_dir, **config.dataset_options)
    trained = classes_beside(config.model)
    if trained is not None and trained.frame_size is not None:  # the exports carry the model's geometry
        spec = dataclasses.replace(spec, frame_size=trained.frame_size)
    keras_model = KerasSegmenter(load_keras_model(config.model, float32=True), spec, config.model)
    model = keras_model.model
    keras_model.check_classes(spec, config.model, f"--dataset={config.dataset}")
    source = data.open_source(config.dataset, config.data_dir, config.split, **config.dataset_options)
    export_dir = pathlib.Path(config.export_dir)
    report = {"model": str(config.model), "dataset": config.dataset, "files": []}
    if config.saved_model:
        images = _full_size_images(source, config.parity_images, config)
        path = write_saved_model(model, spec, export_dir, config.version, config.serving_resize)
        served = SavedModelSegmenter(path, spec)
        tiling = Tiling(resize=config.serving_resize)  # what the serving graph does
        expected = [segment(keras_model, image[None], tiling)[0] for image in images]
        got = [served(image[None])[0] for image in images]
        entry = {"path": str(path), "format": "saved_model", "bytes": _size(path)}
        entry.update(_parity(expected, got, "probability"))
        report["files"].append(entry)
        _say(verbose, entry)
    # The TFLite and ONNX files, their classes.json and the report take their final names
    # together, once all are written: a failed export leaves the previous ones as they were.
    with contextlib.ExitStack() as staged:
        if config.tflite or config.onnx or config.web:
            check = _ParityCheck(config, model, source)
            onnx_files = _OnnxFiles(config, model, check)
            staged.enter_context(files.atomic_path(export_dir / CLASSES_FILE)).write_text(spec.to_json())
        if config.tflite:
            _export_tflite(config, model, spec, check, export_dir, report, staged, verbose)
        if config.onnx:
            _export_onnx(config, spec, check, onnx_files, export_dir, report, staged, verbose)
        if config.web:
            _export_web(config, spec, check, onnx_files, export_dir, report, staged, verbose)
        staged.enter_context(files.atomic_path(export_dir / "export_report.json")).write_text(
            json.dumps(report, indent=2)
        )
    return report


class _ParityCheck:
    """The images that fixed-size exports are calibrated on and compared with the Keras model on."""

    def __init__(self, config, model, source):
        calibrated = any(name in onnx_convert.INT8_FORMS for name in config.quantize)
        count = max(config.calibration_images if calibrated else 0, config.parity_images)
        self.images = resized_images(source, config.input_size, count)
        if not len(self.images):
            raise ValueError(_no_images(config))
        self.calibration_images = self.images[: config.calibration_images]
        self.parity_images = self.images[: config.parity_images]
        self.expected = model.predict_on_batch(self.parity_images.astype(np.float32))

    def entry(self, path, kind, content, outputs, masks=False):
        """The report entry of a file of format `kind` whose outputs on `parity_images` are `outputs`."""
        entry = {"path": str(path), "format": kind, "bytes": len(content)}
        entry.update(_parity(self.expected, outputs, "logit", masks=masks))
        return entry


def _export_tflite(config, model, spec, check, export_dir, report, staged, verbose):
    for quantize in config.quantize:
        content = convert(
            model,
            config.input_size,
            quantize,
            config.argmax,
            config.delegate_friendly,
            check.calibration_images if quantize == "int8" else None,
        )
        suffix = "_argmax" if config.argmax else ""
        path = export_dir / f"{pathlib.Path(config.model).stem}_{quantize}{suffix}.tflite"
        temporary = staged.enter_context(files.atomic_path(path))
        temporary.write_bytes(content)
        runner = TFLiteSegmenter(temporary, spec)
        outputs = [runner.run(image) for image in check.parity_images]
        entry = check.entry(path, f"tflite_{quantize}", content, outputs, masks=runner.outputs_mask)
        entry["operators"] = operators(content)
        report["files"].append(entry)
        _say(verbose, entry)


class _OnnxFiles:
    """The ONNX files' bytes, each converted or quantised once for the ONNX files and the page."""

    def __init__(self, config, model, check):
        self._config, self._model, self._check = config, model, check
        self._made = {}

    def get(self, precision, fixed_size):
        key = (precision, fixed_size)
        if key not in self._made:
            if precision == "float32":
                size = self._config.input_size if fixed_size else None
                self._made[key] = onnx_convert.convert_onnx(self._model, size, self._config.onnx_opset)
            else:
                float32 = self.get("float32", fixed_size)
                self._made[key] = onnx_convert.quantize_onnx(float32, self._check.calibration_images, form=precision)
        return self._made[key]


def _export_onnx(config, spec, check, onnx_files, export_dir, report, staged, verbose):
    for quantize in config.quantize:
        content = onnx_files.get(quantize, config.onnx_fixed_size)
        path = export_dir / f"{pathlib.Path(config.model).stem}_{quantize}.onnx"
        temporary = staged.enter_context(files.atomic_path(path))
        temporary.write_bytes(content)
        _check_onnx(path, temporary, f"onnx_{quantize}", content, spec, check, report, verbose)


def _export_web(config, spec, check, onnx_files, export_dir, report, staged, verbose):
    """The page, with the model at its input size (WebGPU and WebAssembly run fixed shapes best)."""
    precisions = [name for name in web_app.WEB_PRECISIONS if name == "float32" or name in config.quantize]
    models = {precision: onnx_files.get(precision, True) for precision in precisions}
    folder = staged.enter_context(files.atomic_path(export_dir / web_app.WEB_FOLDER))
    manifest = web_app.write_web_app(
        folder, models, spec, config.input_size, pathlib.Path(config.model).name, config.web_runtime
    )
    for precision, name in manifest["models"].items():
        final = export_dir / web_app.WEB_FOLDER / name
        _check_onnx(final, folder / name, f"web_{precision}", models[precision], spec, check, report, verbose)


def _check_onnx(path, written, kind, content, spec, check, report, verbose):
    """Runs the ONNX file `written` (to be renamed `path`) on the parity images and reports it."""
    runner = OnnxSegmenter(written, spec)
    entry = check.entry(path, kind, content, list(runner.logits(check.parity_images)))
    entry.update(onnx_convert.onnx_summary(content))
    report["files"].append(entry)
    _say(verbose, entry)


def _parity(expected, got, quantity, masks=False):
    """Mask agreement, and for scores the largest absolute difference and that over the reference's range."""
    expected_masks = np.concatenate([np.argmax(scores, -1).ravel() for scores in expected])
    got_masks = np.concatenate([np.ravel(output if masks else np.argmax(output, -1)) for output in got])
    result = {"images": len(expected), "mask_agreement": float(np.mean(expected_masks == got_masks))}
    if not masks:
        difference = max(float(np.abs(np.asarray(a, np.float64) - b).max()) for a, b in zip(expected, got))
        spread = max(float(np.ptp(a)) for a in expected)
        result[f"max_{quantity}_difference"] = difference
        result[f"max_{quantity}_difference_over_range"] = difference / spread if spread else 0.0
    return result


def _full_size_images(source, count, config):
    images = [image for image, _ in source.load().take(count).as_numpy_iterator()]
    if not images:
        raise ValueError(_no_images(config))
    return images


def _no_images(config):
    return f"--split={config.split} of --dataset={config.dataset} has no images to check the export on."


def resized_images(source, size, count):
    """The first `count` images of a `Source` resized to `size` (bilinear), uint8 `[n, height, width, 3]`."""
    batches = make_dataset(source, training=False, batch_size=1, eval_size=size).take(count)
    images = [images for images, _ in batches.as_numpy_iterator()]
    if not images:
        return np.zeros((0, *size, 3), np.uint8)
    return np.clip(np.round(np.concatenate(images)), 0, 255).astype(np.uint8)


def _size(path):
    return sum(file.stat().st_size for file in pathlib.Path(path).rglob("*") if file.is_file())


def _say(verbose, entry):
    if not verbose:
        return
    line = f"{entry['path']}: {entry['bytes'] / 1e6:.1f} MB, mask agreement {entry['mask_agreement']:.2%}"
    for key in ("max_probability_difference", "max_logit_difference"):
        if key in entry:
            line += f", {key.replace('_', ' ')} {entry[key]:.3g} ({entry[key + '_over_range']:.2e} of the range)"
    if "opset" in entry:
        line += f"; operator set {entry['opset']}"
    if "operators" in entry:
        line += f"; operators: {', '.join(entry['operators'])}"
    print(line, flush=True)
