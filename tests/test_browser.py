"""The Compare page in a real browser: Debian's Chromium driven by Playwright."""

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

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def page(live_url):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1200})
        page.console_errors = []
        page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
        page.on("pageerror", lambda e: page.console_errors.append(str(e)))
        page.goto(live_url)
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 6", timeout=60_000)
        yield page
        browser.close()


def _plot_titles(page) -> list[str]:
    return page.eval_on_selector_all(".js-plotly-plot", "els => els.map(e => e.layout.title.text)")


def test_compare_page_shows_three_architectures(page, tmp_path):
    titles = _plot_titles(page)
    assert any(t.startswith("mask: encoder self-attention") for t in titles)
    assert any(t.startswith("mask: decoder self-attention") for t in titles)
    assert any(t.startswith("cross-attention") for t in titles)
    for slug in ("encoder", "decoder", "encoder_decoder"):
        assert page.locator(f"#tokens-{slug} .tok").count() > 2
    shots = Path(os.environ.get("TRIPTYCH_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "compare.png"), full_page=True)


def test_typing_a_sentence_updates_every_column(page):
    page.locator("#text textarea").fill("I like eating [MASK] apples")
    page.locator("#run").click()
    page.wait_for_function(
        "document.querySelector('#outputs-encoder').innerText.includes('[MASK] at position')", timeout=30_000
    )
    page.wait_for_function(
        "document.querySelector('#tokens-decoder').innerText.includes('apples')", timeout=30_000
    )
    tokens = page.locator("#tokens-encoder .tok").all_inner_texts()
    assert tokens[0] == "[CLS]" and "[MASK]" in tokens and tokens[-1] == "[SEP]"


def test_choosing_t5_decoder_attention_redraws_it(page):
    page.locator("#kind-encoder_decoder label", has_text="decoder").first.click()
    page.wait_for_function(
        "[...document.querySelectorAll('#attn-encoder_decoder .js-plotly-plot')]"
        ".some(e => e.layout.title.text.startsWith('decoder self-attention'))",
        timeout=30_000,
    )


def test_script_text_shows_as_text(page):
    page.locator("#text textarea").fill("<img src=x onerror=window.__xss=1> hi")
    page.locator("#run").click()
    page.wait_for_function("document.querySelector('#tokens-decoder').innerText.includes('img')", timeout=30_000)
    assert page.evaluate("window.__xss === undefined")
    assert page.locator("#tokens-decoder img").count() == 0


def test_no_errors_in_the_page(page):
    assert page.locator("[data-testid='toast-body']").count() == 0
    assert page.console_errors == []
