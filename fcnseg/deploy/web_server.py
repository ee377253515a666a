"""Serving the browser page on this computer, with the headers its WebAssembly threads need.

ONNX Runtime Web runs on several threads only in a cross-origin isolated page: one served with
`Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`.
Python's own `http.server` sends neither, and guesses no type for `.mjs`; browsers refuse a
module script without a JavaScript type and compile `.wasm` fastest as `application/wasm`.
"""

import functools
import http.server
import pathlib

ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}
TYPES = {".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript", ".onnx": "application/octet-stream"}


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def end_headers(self):
        for name, value in ISOLATION_HEADERS.items():
            self.send_header(name, value)
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format, *args):  # noqa: A002 - the signature of the method it replaces
        if self.server.verbose:
            super().log_message(format, *args)


def make_server(folder, host="127.0.0.1", port=8000, verbose=True):
    """An HTTP server of `folder` (it must hold `index.html`); call `serve_forever()` to run it.

    Port 0 takes a free port (`server.server_address[1]`). Fails in one line naming the folder or the port.
    """
    folder = pathlib.Path(folder)
    if not (folder / "index.html").is_file():
        raise ValueError(f"--web_dir={folder}: no index.html; write the page with python -m fcnseg.export --web.")
    handler = functools.partial(_Handler, directory=str(folder))
    try:
        server = http.server.ThreadingHTTPServer((host, port), handler)
    except OSError as error:
        raise ValueError(f"--port={port}: cannot listen on {host}:{port} ({error.strerror}).") from None
    server.verbose = verbose
    return server
