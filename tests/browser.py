"""Headless Chromium for the page tests: a driver fixture and a full-page screenshot.

Needs Debian's ``chromium``, ``chromium-driver`` and ``fonts-noto-cjk`` (``.ci/run`` installs them)
and the ``selenium`` package (the ``test`` extra). Without them a test that uses the fixture is
skipped, except in CI (``CI`` set), where it fails instead. A test module makes its fixture with
``yield from chromium()``.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
WIDTH = 1200


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} CI must run the browser test: .ci/run installs what it needs.")
    pytest.skip(f"{reason} (apt-get install chromium chromium-driver fonts-noto-cjk)")


def chromium() -> Iterator[Any]:
    """A headless Chromium driven by chromedriver, with the browser console's log kept; it
    quits when the fixture that yields from this ends."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("The selenium package is not installed.")
    binary = next(filter(None, map(shutil.which, BROWSERS)), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        unavailable("No Chromium or chromedriver on this machine.")
    fonts = subprocess.run(["fc-list", ":lang=ko"], capture_output=True, text=True).stdout
    if not fonts.strip():
        unavailable("No font with Hangul is installed, so the page would show empty boxes.")
    options = Options()
    options.binary_location = binary
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={WIDTH},900"
    ):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def console_errors(driver: Any) -> list[dict]:
    """The browser console's errors since the last call."""
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def screenshot(driver: Any) -> tuple[bytes, Any]:
    """The whole page (beyond the window) as PNG bytes and as an RGB PIL image."""
    from PIL import Image

    height = driver.execute_script("return document.documentElement.scrollHeight")
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True,
         "clip": {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1}},
    )  # fmt: skip
    png = base64.b64decode(shot["data"])
    return png, Image.open(io.BytesIO(png)).convert("RGB")
