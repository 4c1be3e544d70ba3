"""A presenter's upload in a real browser: headless Chromium (driven by Selenium through
chromedriver) opens the upload page of a real server, chooses a file, submits the plain HTML
form, and sees the receipt. No JavaScript is involved.

The browser comes from ``tests/browser.py``.
"""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from coordinator.models import Submission
from coordinator.submissions import samples
from tests.browser import chromium
from tests.integration.materials_http import running_server


@pytest.fixture
def browser(tmp_path):
    with chromium(tmp_path / "chromium") as driver:
        yield driver


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
