"""Opens the exported page (`export --web`) in headless Chromium: what its test and its bench share.

Needs Debian's `chromium` and `chromium-driver` on the PATH and selenium (the `test` extra).
"""

import shutil

from fcnseg.deploy import web_app

# The page's `document.body.dataset.state`: "ready" once the model is loaded, "done" after a
# frame is segmented, "error" with the reason in its status line.
_STATE = "return [document.body.dataset.state, document.getElementById('status').textContent]"
# Seconds a page may take to load its model or to segment a file before the wait gives up.
PAGE_TIMEOUT_S = 300


def missing_parts(web_runtime):
    """What is missing to drive the page here, each with how to get it; [] if nothing.

    `web_runtime`: the onnxruntime-web folder the page will copy, or None for a page already written.
    """
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    try:
        import selenium  # noqa: F401, PLC0415 - in the test extra, not a dependency of the package
    except ImportError:
        missing.append("selenium (pip install -e '.[test]')")
    try:
        if web_runtime is not None:
            web_app.check_runtime(web_runtime)
    except ValueError:
        missing.append(f"{web_runtime} (npm install onnxruntime-web@{web_app.RUNTIME_VERSION})")
    return missing


def headless_chromium(window_size=(900, 700)):
    """A selenium driver of headless Chromium, `window_size` (width, height) pixels."""
    from selenium import webdriver  # noqa: PLC0415 - in the test extra

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=%d,%d" % window_size):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(shutil.which("chromedriver")))


def wait_for_state(browser, states, timeout_s):
    """Waits until the page's state is one of `states` or "error"; returns (state, status line)."""
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415 - in the test extra

    WebDriverWait(browser, timeout_s).until(lambda driver: driver.execute_script(_STATE)[0] in (*states, "error"))
    return tuple(browser.execute_script(_STATE))


def open_page(browser, url, timeout_s=PAGE_TIMEOUT_S):
    """Opens the page at `url` and waits until its model is loaded; returns (state, status line)."""
    browser.get(url)
    return wait_for_state(browser, ["ready"], timeout_s)


def segment_file(browser, path, timeout_s=PAGE_TIMEOUT_S):
    """Gives the open page the image or video file `path`; returns (state, status line) once it is done."""
    browser.find_element("id", "file").send_keys(str(path))
    return wait_for_state(browser, ["done"], timeout_s)
