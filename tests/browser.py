"""Headless Chromium for the page tests, driven by Selenium through chromedriver.

Chromium and chromedriver come from the system (``make test`` installs Debian's packages with
apt-get when it runs as root: ``scripts/ensure-browser``). Without them a browser test is
skipped with the reason, except on CI (``CI=true``), where it must run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("COORDINATOR_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("COORDINATOR_CHROMEDRIVER", "/usr/bin/chromedriver")
# Flags for a root user on a machine with no network but loopback.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def browser_missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)) and not shutil.which(path):
            return f"{path} is not installed (run scripts/ensure-browser as root)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


def require_browser() -> None:
    reason = browser_missing()
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"the browser test must run on CI: {reason}")
        pytest.skip(reason)


@contextmanager
def chromium(folder: Path, *extra_flags: str, page_load_timeout: float = 60) -> Iterator:
    """A headless Chromium with a fresh profile under ``folder``; quit afterwards."""
    require_browser()
    os.environ.setdefault("SE_AVOID_STATS", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    folder.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, *extra_flags, f"--user-data-dir={folder / 'profile'}"):
        options.add_argument(flag)
    service = Service(executable_path=CHROMEDRIVER, log_output=str(folder / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(page_load_timeout)
    try:
        yield driver
    finally:
        driver.quit()
