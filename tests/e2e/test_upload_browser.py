"""A presenter's upload in a real browser: headless Chromium (driven by Selenium through
chromedriver) opens the upload page of a real server, chooses a file, submits the plain HTML
form, and sees the receipt. No JavaScript is involved.

Chromium and chromedriver come from the system (``make test`` installs them with apt-get when
it runs as root: ``scripts/ensure-browser``). Without them the test is skipped with the reason,
except on CI (``CI=true``), where it must run.
"""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest
from sqlalchemy import select

from coordinator.models import Submission
from coordinator.submissions import samples
from tests.integration.materials_http import running_server

CHROMIUM = os.environ.get("COORDINATOR_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("COORDINATOR_CHROMEDRIVER", "/usr/bin/chromedriver")


def _browser_missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)) and not shutil.which(path):
            return f"{path} is not installed (run scripts/ensure-browser as root)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture
def browser(tmp_path):
    reason = _browser_missing()
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"the browser test must run on CI: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(argument)
    service = Service(executable_path=CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def test_a_presenter_uploads_from_the_page_and_sees_the_receipt(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    with running_server(tmp_path / "server") as server:
        seeded = server.seed(languages=("en",))
        token, presentation_id = seeded.tokens[0], seeded.presentations[0]
        slides = tmp_path / "Flood control — Tokyo.pdf"
        data = samples.pdf(["Urban flood control", "Bureau of Construction"])
        slides.write_bytes(data)

        browser.get(f"{server.url}/upload/{token}")
        assert "Materials for Flood and Drought" in browser.title
        details = browser.find_element(By.ID, "details").text
        assert "Deadline" in details and "Sunday, October 1, 2023" in details
        assert "Nothing received yet." in details

        browser.find_element(By.ID, "file").send_keys(str(slides))
        browser.find_element(By.CSS_SELECTOR, "#upload button[type=submit]").click()
        WebDriverWait(browser, 30).until(
            expected_conditions.presence_of_element_located((By.ID, "receipt"))
        )
        receipt = browser.find_element(By.ID, "receipt-details").text
        assert "Flood control — Tokyo.pdf" in receipt
        assert hashlib.sha256(data).hexdigest() in receipt
        assert f"{len(data)} bytes" in receipt

        # Back on the page, the current version is the one just sent.
        browser.find_element(By.LINK_TEXT, "Back to the upload page").click()
        details = browser.find_element(By.ID, "details").text
        assert "version 1: Flood control — Tokyo.pdf" in details
        # A file over the limit: the browser shows the refusal naming the limit, not an error.
        big = tmp_path / "recording.pdf"
        big.write_bytes(data + bytes(8 * 1024 * 1024))
        browser.find_element(By.ID, "file").send_keys(str(big))
        browser.find_element(By.CSS_SELECTOR, "#upload button[type=submit]").click()
        WebDriverWait(browser, 30).until(
            expected_conditions.presence_of_element_located((By.ID, "error"))
        )
        assert "larger than the limit of 2 MiB" in browser.find_element(By.ID, "error").text
        with server.db() as db:
            stored = db.scalars(
                select(Submission).where(Submission.presentation_id == presentation_id)
            ).all()
        assert [(s.version, s.sha256) for s in stored] == [(1, hashlib.sha256(data).hexdigest())]
