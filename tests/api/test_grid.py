"""The time grid in a real browser: headless Chromium renders the page, and the colours read
from the screenshot at the cells' positions (taken from the DOM) are the right comfort colours,
the chosen slot is outlined, weekends and holidays carry their marks, and print keeps it all."""

from __future__ import annotations

import io

import httpx
import pytest

from tests.browser import chromium

# grid.css: the colours are the page's contract
COMFORT = {
    "working": (0xA5, 0xD6, 0xA7),
    "early": (0xFF, 0xF5, 0x9D),
    "evening": (0xFF, 0xCC, 0x80),
    "night": (0x9F, 0xA8, 0xDA),
}
CHOSEN = (0xC2, 0x18, 0x5B)
WEEKEND = (0x42, 0x42, 0x42)
HOLIDAY = (0x6A, 0x1B, 0x9A)


def close(actual, expected, tolerance: int = 6) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual[:3], expected, strict=True))


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    flags = ("--hide-scrollbars", "--force-device-scale-factor=1", "--window-size=1600,1200")
    with chromium(tmp_path_factory.mktemp("chromium"), *flags, page_load_timeout=120) as driver:
        yield driver


def open_page(driver, url: str, key: str | None = None, media: str = "screen"):
    """Load ``url`` (with the key as a header, when given) in a window as large as the page,
    and return the screenshot as an RGB image."""
    from PIL import Image

    driver.execute_cdp_cmd("Network.enable", {})
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": headers})
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": media})
    driver.get(url)
    width = driver.execute_script("return document.documentElement.scrollWidth")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    png = driver.get_screenshot_as_png()
    return Image.open(io.BytesIO(png)).convert("RGB")


CELLS = """
return Array.from(document.querySelectorAll(arguments[0])).map(function (e) {
  var r = e.getBoundingClientRect();
  return {x: r.left, y: r.top, w: r.width, h: r.height,
          comfort: e.getAttribute('data-comfort'), chosen: e.classList.contains('chosen'),
          start: e.getAttribute('data-start'), text: e.textContent,
          city: e.parentElement.getAttribute('data-city')};
});
"""


def cells(driver, selector: str = "td.slot") -> list[dict]:
    return driver.execute_script(CELLS, selector)


def background(image, cell) -> tuple[int, int, int]:
    """A pixel inside the cell, clear of its text (bottom right) and of the outline."""
    return image.getpixel((int(cell["x"] + cell["w"] - 9), int(cell["y"] + cell["h"] - 8)))


def edge(image, cell) -> tuple[int, int, int]:
    """A pixel on the cell's left edge, where the chosen slot's outline is drawn."""
    return image.getpixel((int(cell["x"] + 1), int(cell["y"] + cell["h"] / 2)))


@pytest.fixture(scope="module")
def scheduled(api):
    """Session A scheduled at a start that is not among its best candidates."""
    sid = api.ids["session_a"]
    with api.client("organizer") as c:
        r = c.post(f"/api/v1/sessions/{sid}/schedule", json={"start": "2023-09-28T03:00Z"})
        assert r.status_code == 200, r.text
        link = c.post(f"/api/v1/sessions/{sid}/grid-link").json()["url"]
    return sid, link


def test_session_grid_colours_and_chosen_slot(api, browser, scheduled):
    sid, link = scheduled
    image = open_page(browser, link)
    found = cells(browser)
    rows = browser.execute_script("return document.querySelectorAll('tbody tr').length")
    columns = browser.execute_script("return document.querySelectorAll('thead th').length") - 1
    session = api.client("viewer").get(f"/api/v1/sessions/{sid}").json()
    known = {c["city"] for c in session["cities"] if c["zone"] != "unknown"}
    row_names = {c["city"] for c in found}
    # a row per city, plus one for delegates who are elsewhere ("Tokyo (Name)")
    assert known <= row_names and len(row_names) == rows
    assert all(name.split(" (")[0] in known for name in row_names)
    assert len(found) == rows * columns and columns == 9  # 8 best + the chosen start
    seen = set()
    for cell in found:
        colour = background(image, cell)
        assert close(colour, COMFORT[cell["comfort"]]), (cell, colour)
        assert cell["comfort"].upper() in cell["text"].upper()  # also written out
        seen.add(cell["comfort"])
        outline = edge(image, cell)
        if cell["chosen"]:
            assert close(outline, CHOSEN), (cell, outline)
            assert cell["start"] == "2023-09-28T03:00Z"
        else:
            assert not close(outline, CHOSEN), (cell, outline)
    assert seen == set(COMFORT), seen  # the page shows all four classes
    chosen = [c for c in found if c["chosen"]]
    assert len(chosen) == rows
    # the API's local times and comfort for the chosen start are the grid's
    api_rows = {c["city"]: c for c in session["cities"]}
    for cell in (c for c in chosen if c["city"] in api_rows):
        city = api_rows[cell["city"]]
        assert city["comfort"] == cell["comfort"], cell["city"]
        assert city["local_start"][11:16] in cell["text"]
    header = browser.execute_script(
        "var r = document.querySelector('thead th.chosen').getBoundingClientRect();"
        "return {x: r.left, y: r.top, w: r.width, h: r.height};"
    )
    assert close(background(image, header), CHOSEN)


def test_stateless_grid_marks_weekends_and_holidays(api, browser):
    """Friday 14 July 2023 (France's national day) to Sunday: Paris pays a holiday, then a
    weekend; Tokyo a weekend (Monday 17 July, Marine Day, is outside the window). The chosen start (Saturday 09:00 UTC) is highlighted."""
    query = httpx.QueryParams(
        {
            "city": ["Paris", "Asia/Tokyo"],  # a network city and a bare zone
            "from": "2023-07-14T00:00Z",
            "to": "2023-07-17T00:00Z",
            "duration": "60",
            "top": "6",
            "step": "60",
            "chosen": "2023-07-15T09:00Z",
        }
    )
    image = open_page(browser, f"{api.url}/grid?{query}", key=api.keys["viewer"])
    found = cells(browser)
    assert {c["city"] for c in found} == {"Paris", "Asia/Tokyo"}
    for cell in found:
        assert close(background(image, cell), COMFORT[cell["comfort"]]), cell
    chosen = [c for c in found if c["chosen"]]
    assert len(chosen) == 2 and {c["start"] for c in chosen} == {"2023-07-15T09:00Z"}
    for cell in chosen:
        assert close(edge(image, cell), CHOSEN)
    marks = browser.execute_script(
        "return Array.from(document.querySelectorAll('.mark')).map(function (e) {"
        "var r = e.getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width,"
        "h: r.height, kind: e.className, title: e.getAttribute('title') || '',"
        "city: e.closest('tr').getAttribute('data-city'),"
        "start: e.closest('td').getAttribute('data-start')};});"
    )
    weekends = [m for m in marks if "weekend" in m["kind"]]
    holidays = [m for m in marks if "holiday" in m["kind"]]
    assert {m["city"] for m in weekends} == {"Paris", "Asia/Tokyo"}
    assert all(m["start"][:10] in ("2023-07-15", "2023-07-16") for m in weekends)
    assert holidays and {m["city"] for m in holidays} == {"Paris"}
    assert all(m["start"].startswith("2023-07-14") for m in holidays)
    for mark in weekends + holidays:
        pixel = image.getpixel((int(mark["x"] + 2), int(mark["y"] + 2)))
        assert close(pixel, WEEKEND if "weekend" in mark["kind"] else HOLIDAY), mark


def test_printed_grid_keeps_colours_and_outline(api, browser, scheduled):
    _, link = scheduled
    image = open_page(browser, link, media="print")
    found = cells(browser)
    for cell in found[:40]:
        assert close(background(image, cell), COMFORT[cell["comfort"]]), cell
    chosen = next(c for c in found if c["chosen"])
    assert close(edge(image, chosen), CHOSEN)
    label = browser.execute_script(
        "return getComputedStyle(document.querySelector('td.slot .label')).color"
    )
    assert label == "rgb(0, 0, 0)"  # comfort stays readable in black and white


def test_grid_without_credentials_is_401(api):
    r = httpx.get(f"{api.url}/sessions/{api.ids['session_a']}/grid")
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
