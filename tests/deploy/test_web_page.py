"""The browser page (`export --web`, `serve_web`): served with the right headers, and run in Chromium.

The browser test needs Debian's `chromium` and `chromium-driver` and the npm package
`onnxruntime-web` in `node_modules/` of the repository (`.ci/run` installs all three); it
skips where one is absent, and fails instead when the `CI` environment variable is set.
"""

import base64
import json
import os
import pathlib
import shutil
import threading
import urllib.request

import cv2
import numpy as np
import pytest
from synthetic_models import SIZE, SPEC, export_config, scenes, trained

from fcnseg.deploy import web_app, web_browser
from fcnseg.deploy.exporter import export
from fcnseg.deploy.web_server import make_server
from fcnseg.inference.segmenter import OnnxSegmenter

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
RUNTIME = REPOSITORY / web_app.DEFAULT_RUNTIME


def _export_config(tmp_path, model_path, **changes):
    return export_config(
        tmp_path,
        model_path,
        **{"web": True, "web_runtime": str(RUNTIME), "quantize": ("float32", "int8_cpu"), **changes},
    )


def _fake_runtime(folder):
    folder.mkdir()
    for name in web_app.RUNTIME_FILES:
        (folder / name).write_text("// stand-in")
    return folder


@pytest.fixture
def served():
    """Serves a folder on 127.0.0.1 at a free port; yields a function of the folder that gives its URL."""
    servers = []

    def serve(folder):
        server = make_server(folder, port=0, verbose=False)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_the_server_sends_isolation_headers_and_module_and_wasm_types(tmp_path, served):
    for name in ("index.html", "app.mjs", "runtime.wasm"):
        (tmp_path / name).write_text("x")
    url = served(tmp_path)
    for name, expected in [
        ("index.html", "text/html"),
        ("app.mjs", "text/javascript"),
        ("runtime.wasm", "application/wasm"),
    ]:
        with urllib.request.urlopen(url + name) as response:
            assert response.headers["Content-Type"].startswith(expected)
            assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
            assert response.headers["Cross-Origin-Embedder-Policy"] == "require-corp"


def test_a_folder_without_a_page_and_a_busy_port_are_refused_in_one_line(tmp_path, served):
    with pytest.raises(ValueError, match=f"^--web_dir={tmp_path}: no index.html; write the page with"):
        make_server(tmp_path)
    (tmp_path / "index.html").write_text("x")
    port = int(served(tmp_path).rsplit(":", 1)[1].strip("/"))
    with pytest.raises(ValueError, match=f"^--port={port}: cannot listen on 127.0.0.1:{port}"):
        make_server(tmp_path, port=port)


def test_web_requests_are_checked_before_any_work(tmp_path):
    with pytest.raises(ValueError, match=r"^--web_runtime=.*nowhere: ONNX Runtime Web not found \(no ort.min.js\); "):
        export(_export_config(tmp_path, tmp_path / "missing.keras", web_runtime=str(tmp_path / "nowhere")))
    with pytest.raises(ValueError, match=r"^--quantize=float32,int8 is not valid with --web alone; the page takes"):
        _export_config(tmp_path, "unused.keras", quantize=("float32", "int8"))
    with pytest.raises(ValueError, match=r"^--web needs --input_size=height,width"):
        _export_config(tmp_path, "unused.keras", input_size=None)


@pytest.mark.slow
def test_the_export_writes_a_self_contained_page_and_replaces_it_whole(tmp_path):
    model_path = tmp_path / "best.keras"
    trained("unet").save(model_path)
    runtime = _fake_runtime(tmp_path / "dist")
    report = export(_export_config(tmp_path, model_path, web_runtime=str(runtime)), verbose=0)
    web = tmp_path / "export" / "web"
    names = {"index.html", "app.js", "model.json", "model_float32.onnx", "model_int8_cpu.onnx", *web_app.RUNTIME_FILES}
    assert {path.name for path in web.iterdir()} == names
    manifest = json.loads((web / "model.json").read_text())
    assert manifest["models"] == {"float32": "model_float32.onnx", "int8_cpu": "model_int8_cpu.onnx"}
    assert manifest["input_size"] == list(SIZE) and manifest["classes"] == list(SPEC.class_names)
    assert [entry["format"] for entry in report["files"]] == ["web_float32", "web_int8_cpu"]
    assert report["files"][0]["mask_agreement"] == 1.0 and report["files"][1]["mask_agreement"] >= 0.9
    assert OnnxSegmenter(web / "model_float32.onnx", SPEC).input_size == SIZE  # fixed: the page's size

    export(_export_config(tmp_path, model_path, web_runtime=str(runtime), quantize=("float32",)), verbose=0)
    assert not (web / "model_int8_cpu.onnx").exists()  # the old page went whole, not file by file
    assert sorted(path.name for path in web.parent.iterdir() if path.name.startswith(".")) == []


def _browser_or_skip():
    """Headless Chromium through chromium-driver; skips (fails where `CI` is set) if a part is missing."""
    missing = web_browser.missing_parts(RUNTIME)
    if missing:
        message = f"the browser test needs {', '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: .ci/run installs them)")
        pytest.skip(message)
    return web_browser.headless_chromium()


@pytest.mark.slow
def test_the_page_segments_a_frame_as_onnx_runtime_does_in_chromium(tmp_path, served):
    browser = _browser_or_skip()
    try:
        model_path = tmp_path / "best.keras"
        trained("unet").save(model_path)
        export(_export_config(tmp_path, model_path), verbose=0)
        web = tmp_path / "export" / "web"
        frame = scenes("val", 1)[0]  # at the model's size, so the page draws it unscaled
        frame_path = tmp_path / "frame.png"
        cv2.imwrite(str(frame_path), frame[..., ::-1])
        url = served(web)
        for precision in ("float32", "int8_cpu"):
            state, status = web_browser.open_page(browser, f"{url}?model={precision}")
            assert state == "ready", status
            assert browser.execute_script("return self.crossOriginIsolated") is True
            # Headless Chromium has no WebGPU adapter here: threaded wasm, one thread a core up to 4.
            threads = min(browser.execute_script("return navigator.hardwareConcurrency"), 4)
            assert threads >= 2 and f"wasm ({threads} threads)" in status, status
            state, status = web_browser.segment_file(browser, frame_path)
            assert state == "done", status
            mask = np.array(browser.execute_script("return Array.from(window.fcnseg.mask)"), np.uint8).reshape(SIZE)
            expected = OnnxSegmenter(web / f"model_{precision}.onnx", SPEC).logits(frame[None])[0].argmax(-1)
            assert np.mean(mask == expected) >= 0.999, precision
            png = browser.execute_async_script("window.fcnseg.maskPng().then(arguments[arguments.length - 1])")
            written = cv2.imdecode(np.frombuffer(base64.b64decode(png), np.uint8), cv2.IMREAD_UNCHANGED)
            np.testing.assert_array_equal(written, mask)  # the download: an 8-bit index PNG at the frame's size
            screenshot = tmp_path / f"page_{precision}.png"
            assert browser.save_screenshot(str(screenshot)) and cv2.imread(str(screenshot)).size > 0

        broken = tmp_path / "broken"
        shutil.copytree(web, broken)
        (broken / "model_float32.onnx").write_bytes(b"not a protobuf")
        state, status = web_browser.open_page(browser, served(broken))
        assert state == "error" and status.startswith("model_float32.onnx: not a model ONNX Runtime Web can load (")
        (broken / "ort.min.js").unlink()
        state, status = web_browser.open_page(browser, served(broken))
        assert state == "error" and status.startswith("ort.min.js: ONNX Runtime Web did not load")
        assert "\n" not in status
    finally:
        browser.quit()


def test_ci_installs_the_runtime_version_the_page_is_tested_against():
    assert f"onnxruntime-web@{web_app.RUNTIME_VERSION}" in (REPOSITORY / ".ci" / "run").read_text()
