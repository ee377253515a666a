"""The README's picture of the browser page: an exported page segmenting one image, in headless Chromium.

    python -m fcnseg.export --model=runs/X/best.keras --export_dir=serving/camvid --web --quantize=int8_cpu --data_dir=../shared/data/camvid
    python bench/web_page_picture.py --web_dir=serving/camvid/web --image=../shared/data/camvid/val/0016E5_08101.png --output=docs/images/web_page.jpg

Serves --web_dir as `python -m fcnseg.serve_web` does (on a free port of 127.0.0.1), opens it in
Debian's headless `chromium` (through `chromium-driver`) with the --model form, gives it --image,
waits for the page to say it is done, and saves the window as --output (PNG, or JPEG for a .jpg name),
written whole or not at all. Prints the page's status line: the backend that ran and its ms per frame.
"""

import pathlib
import tempfile
import threading

import cv2
from absl import app, flags

from fcnseg import files
from fcnseg.deploy import web_browser
from fcnseg.deploy.web_server import make_server

flags.DEFINE_string("web_dir", None, "The page's folder, as `export --web` writes it.", required=True)
flags.DEFINE_string("image", None, "The image the page segments.", required=True)
flags.DEFINE_string("output", None, "The picture to write: .png or .jpg.", required=True)
flags.DEFINE_string("model", "float32", "The page's model form: float32 or int8_cpu.")
flags.DEFINE_list("window_size", ["1000", "820"], "width,height of the browser window in pixels.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    image = pathlib.Path(FLAGS.image).resolve()
    if not image.is_file():
        raise SystemExit(f"error: --image={FLAGS.image}: no such file.")
    missing = web_browser.missing_parts(web_runtime=None)  # the page's folder holds its own copy
    if missing:
        raise SystemExit(f"error: missing {', '.join(missing)}.")
    try:
        server = make_server(FLAGS.web_dir, port=0, verbose=False)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    browser = web_browser.headless_chromium(tuple(int(pixels) for pixels in FLAGS.window_size))
    try:
        web_browser.open_page(browser, f"http://127.0.0.1:{server.server_address[1]}/?model={FLAGS.model}")
        state, status = web_browser.segment_file(browser, image)
        if state == "error":
            raise SystemExit(f"error: the page failed: {status}")
        with tempfile.TemporaryDirectory() as temporary:
            picture = pathlib.Path(temporary, "page.png")
            browser.save_screenshot(str(picture))
            suffix = pathlib.Path(FLAGS.output).suffix.lower()
            encoded = cv2.imencode(".jpg" if suffix in (".jpg", ".jpeg") else ".png", cv2.imread(str(picture)))[1]
            files.write_bytes(FLAGS.output, encoded.tobytes())
    finally:
        browser.quit()
        server.shutdown()
        server.server_close()
    print(f"Wrote {FLAGS.output}: {status}")


if __name__ == "__main__":
    app.run(main)
