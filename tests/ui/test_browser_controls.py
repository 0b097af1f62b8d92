"""Page controls in a real browser (Debian's Chromium driven by Playwright): Enter in a slider's
number box redraws the view, and the overview's outline follows the head shown, moved by the page
rather than by sending the overview again."""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must install Debian's chromium (apt-get install chromium).")
    pytest.skip("no chromium on this machine (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402
from tests.patience import patient  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]
HEATMAP = "document.querySelector('#att-heatmap .js-plotly-plot')"
OVERVIEW = "document.querySelector('#overview .js-plotly-plot')"
# The outline as drawn (visible, x0, y0) and the tile geometry it is placed with.
OUTLINE = (f"(() => {{ const s = {OVERVIEW}?.layout?.shapes?.[0]; const m = {OVERVIEW}?.layout?.meta?.tiles;"
           " return s && m ? [s.visible !== false, s.x0, s.y0, m.rows, m.cols] : null; })()")


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_url):
    """Each test on its own page; no page may log an error."""
    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    yield page
    errors = list(page.console_errors)
    page.close()
    assert errors == []


def _outline_at(page, layer: int, head: int) -> None:
    """Wait until the overview's outline frames the tile of `layer`, `head`."""
    page.wait_for_function(
        f"(() => {{ const o = {OUTLINE}; return !!o && o[0] && o[1] === {head} * (o[4] + 1) - 0.5"
        f" && o[2] === {layer} * (o[3] + 1) - 0.5; }})()", timeout=patient(30_000))


def test_enter_in_the_layer_number_box_redraws_and_moves_the_outline(page, live_url):
    page.goto(f"{live_url}?tab=attention")
    page.wait_for_function(f"!!{HEATMAP}", timeout=patient(90_000))
    page.wait_for_function(f"{HEATMAP}.layout.title.text.includes('layer 0')", timeout=patient(30_000))
    page.wait_for_function(f"!!{OVERVIEW}", timeout=patient(60_000))
    _outline_at(page, 0, 0)

    box = page.locator("#att-layer input[type=number]")
    box.fill("2")
    box.press("Enter")
    page.wait_for_function(f"{HEATMAP}.layout.title.text.includes('layer 2')", timeout=patient(30_000))
    assert page.evaluate(f"{HEATMAP}.layout.meta") == {"layer": 2, "head": 0}
    _outline_at(page, 2, 0)

    # The head's number box too, and the outline follows without the overview being drawn again.
    page.evaluate(f"window.__overviewTrace = {OVERVIEW}.data[0]")
    box = page.locator("#att-head input[type=number]")
    box.fill("1")
    box.press("Enter")
    page.wait_for_function(f"{HEATMAP}.layout.title.text.includes('layer 2 · head 1')", timeout=patient(30_000))
    _outline_at(page, 2, 1)
    assert page.evaluate(f"{OVERVIEW}.data[0] === window.__overviewTrace")

    # Run draws a new overview through /attention_overview, which names no head: it comes with the
    # outline hidden, and the page shows it at the head the heatmap still shows.
    page.locator("#run").click()
    page.wait_for_function(f"{OVERVIEW}.data[0] !== window.__overviewTrace", timeout=patient(60_000))
    _outline_at(page, 2, 1)
