"""The app in a real browser: Debian's Chromium driven by Playwright."""

import json
import os
import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must install Debian's chromium (apt-get install chromium).")
    pytest.skip("no chromium on this machine (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from tests.patience import patient  # noqa: E402
from viz.architecture import CLASS_NAME  # noqa: E402

COLUMNS_DRAWN = ("document.querySelectorAll('#col-bert .js-plotly-plot, #col-gpt .js-plotly-plot, "
                 "#col-t5 .js-plotly-plot, #col-llama .js-plotly-plot').length >= 8")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_url):
    """Each test on its own page, drawn from scratch: a test that hangs or leaves the page in
    another state cannot fail the tests after it. No page may log an error."""
    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    page.goto(live_url)
    page.wait_for_function(COLUMNS_DRAWN, timeout=patient(90_000))
    yield page
    errors = list(page.console_errors)
    page.close()
    assert errors == []


def _stable(page, expression: str, polls: int = 3, timeout: float = patient(30_000)) -> None:
    """Wait until a page expression gives the same value `polls` times in a row (250 ms apart):
    the figures have stopped redrawing."""
    page.evaluate("window.__stable = []")
    page.wait_for_function(
        f"(() => {{ const v = JSON.stringify({expression}); window.__stable.push(v);"
        f" const s = window.__stable.slice(-{polls}); return s.length === {polls} && s.every(x => x === v); }})()",
        polling=250, timeout=timeout)


def _plot_titles(page) -> list[str]:
    return page.eval_on_selector_all(".js-plotly-plot", "els => els.map(e => e.layout.title.text)")


def _shots(tmp_path) -> Path:
    shots = Path(os.environ.get("TRIPTYCH_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    return shots


def test_compare_page_shows_four_models(page, tmp_path):
    titles = _plot_titles(page)
    assert any(t.startswith("mask: encoder self-attention") for t in titles)
    assert sum(t.startswith("mask: decoder self-attention") for t in titles) == 2  # GPT and LLaMA
    assert any(t.startswith("cross-attention") for t in titles)
    for slug in ("bert", "gpt", "t5", "llama"):
        assert page.locator(f"#tokens-{slug} .tok").count() > 2
    # Plotly would swallow "</s>" as a closing tag; escaped, the axis shows it.
    assert "</s>" in page.locator("#attn-t5 .xtick text").all_text_contents()
    page.screenshot(path=str(_shots(tmp_path) / "compare.png"), full_page=True)


def test_typing_updates_every_column_without_a_click(page):
    box = page.locator("#text textarea")
    box.fill("")
    box.press_sequentially("I like eating [MASK] apples", delay=15)
    page.wait_for_function(
        "document.querySelector('#outputs-bert').innerText.includes('[MASK] at position')", timeout=patient(30_000)
    )
    for slug in ("gpt", "llama"):
        page.wait_for_function(
            f"document.querySelector('#tokens-{slug}').innerText.includes('apples')", timeout=patient(30_000)
        )
    tokens = page.locator("#tokens-bert .tok").all_inner_texts()
    assert tokens[0] == "[CLS]" and "[MASK]" in tokens and tokens[-1] == "[SEP]"


def _settled(page, timeout: float = patient(60_000)) -> None:
    """Wait until no component shows a Gradio status tracker (every queued run is done)."""
    page.wait_for_function("document.querySelectorAll(\"[data-testid='status-tracker']:not(.hide)\").length === 0",
                           timeout=timeout)


def test_choosing_t5_decoder_attention_redraws_it(page):
    _settled(page)
    visible = "[...document.querySelectorAll('#{} label')].filter(l => l.offsetParent !== null).map(l => l.innerText.trim())"
    assert page.evaluate(visible.format("kind-t5")) == ["encoder", "decoder", "cross"]
    page.locator("#kind-t5 label", has_text="decoder").first.click()
    page.wait_for_function(
        "[...document.querySelectorAll('#attn-t5 .js-plotly-plot')]"
        ".some(e => e.layout.title.text.startsWith('decoder self-attention'))",
        timeout=patient(30_000),
    )


def _open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def _wait_plots(page, selector: str, count: int = 1, timeout: float = patient(60_000)) -> None:
    page.wait_for_function(
        f"document.querySelectorAll('{selector} .js-plotly-plot').length >= {count}", timeout=timeout
    )


def test_overview_click_opens_that_head(page, tmp_path):
    _open_tab(page, "Attention")  # selecting the tab runs the model on the current text, once
    _wait_plots(page, "#overview")
    page.wait_for_function("document.querySelector('#overview .js-plotly-plot').layout.title.text.includes('Mini BERT')")
    shown = page.evaluate("[...document.querySelectorAll('#att-kind label')].filter(l => l.offsetParent !== null)"
                          ".map(l => l.innerText.trim())")
    assert shown == ["encoder"]  # BERT has one kind; the others stay valid choices but are hidden
    # The Run click and the tab switch both redraw the overview; a redraw that lands after the click
    # shows head 0 again, so click again, as a person would.
    for attempt in range(3):
        page.locator("#overview").scroll_into_view_if_needed()
        # A real mouse click in the middle of the tile of layer 2, head 3.
        x, y = page.evaluate("""() => {
            const gd = document.querySelector('#overview .js-plotly-plot');
            const trace = gd.data[0], n = trace.x.indexOf(trace.x.find(v => v.startsWith('H1 ')));
            const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
            return [box.left + xa._offset + xa.l2p(3 * n + 2), box.top + ya._offset + ya.l2p(2 * n + 1)];
        }""")
        page.mouse.click(x, y)
        try:
            page.wait_for_function(
                "[...document.querySelectorAll('#att-heatmap .js-plotly-plot')]"
                ".some(e => e.layout.title.text.includes('layer 2 · head 3'))", timeout=patient(15_000))
            break
        except Exception:
            if attempt == 2:
                raise
    assert page.evaluate("document.querySelector('#overview-pick textarea').value").startswith("H3 ")
    page.screenshot(path=str(_shots(tmp_path) / "attention.png"), full_page=True)


def test_every_analysis_tab_draws(page, tmp_path):
    for tab, selector, count in (("Masks", "#masks-plots", 14), ("Head patterns", "#pat-map", 1),
                                 ("Rank", "#rank-spectrum", 1), ("Graph & flow", "#flow-plot", 1)):
        _open_tab(page, tab)
        _wait_plots(page, selector, count)
        page.screenshot(path=str(_shots(tmp_path) / f"{tab.split()[0].lower()}.png"), full_page=True)
    titles = _plot_titles(page)
    assert any("prefix decoder" in t for t in titles)
    assert any("[PAD] keys masked" in t for t in titles)
    assert any(t.startswith("Mini BERT") and "head patterns" in t for t in titles)
    assert any("numerical rank" in t for t in titles) and any("singular values" in t for t in titles)
    assert any(t.startswith("token graph") for t in titles) and any("through every layer" in t for t in titles)
    assert "full rank at tolerance" in page.locator("#rank-summary").inner_text()


DECODING_PLOTS = ("#dec-stages", "#dec-attention", "#dec-cross", "#dec-alignment", "#dec-beams-tree")


def _shown_plots(page, selectors) -> list[str]:
    return page.evaluate("(s) => s.filter((id) => { const e = document.querySelector(id); return e && e.offsetHeight > 0; })",
                         list(selectors))


def test_decoding_three_steps_then_beam_search(page, tmp_path):
    _open_tab(page, "Decoding")
    assert _shown_plots(page, DECODING_PLOTS) == []  # no empty boxes before the first step
    for expected in (1, 2, 3):
        page.locator("#dec-step").click()
        page.wait_for_function(f"document.querySelectorAll('#dec-text .gen').length === {expected}", timeout=patient(30_000))
    _wait_plots(page, "#dec-stages")
    title = page.evaluate("document.querySelector('#dec-stages .js-plotly-plot').layout.title.text")
    assert title.startswith("step 3: chose")
    # GPT has no cross-attention and greedy search no beams: only its two figures are shown.
    assert _shown_plots(page, DECODING_PLOTS) == ["#dec-stages", "#dec-attention"]
    page.screenshot(path=str(_shots(tmp_path) / "decoding.png"), full_page=True)
    page.locator("#dec-strategy label", has_text="beam").click()
    page.locator("#dec-end").click()
    page.wait_for_function("(document.querySelector('#dec-beams-tree .js-plotly-plot')?.layout?.title?.text || '')"
                           ".includes('winner')", timeout=patient(30_000))
    names = page.evaluate("document.querySelector('#dec-beams-tree .js-plotly-plot').data.map(t => t.name)")
    assert {"running", "finished", "pruned"} <= set(names)
    page.locator("#dec-beams-tree").screenshot(path=str(_shots(tmp_path) / "beam-tree.png"))


def test_every_concept_tab_draws(page, tmp_path):
    for tab, selectors in (("Architecture", ["#arch-plot-a", "#arch-plot-b"]),
                           ("Objectives", ["#obj-gpt-plot", "#obj-span-plot"]),
                           ("Positions", ["#pos-sinusoid", "#pos-bert", "#pos-gpt", "#pos-rope", "#pos-buckets"]),
                           ("Order & scaling", ["#order-enc-plot", "#order-dec-plot", "#scale-plot"]),
                           ("Experts (MoE)", ["#moe-plot"])):
        _open_tab(page, tab)
        for selector in selectors:
            _wait_plots(page, selector)
        page.screenshot(path=str(_shots(tmp_path) / f"{tab.split()[0].lower()}.png"), full_page=True)
    assert "≠" in page.inner_text("#arch-diff")
    assert "loss" in page.inner_text("#obj-mlm")
    titles = _plot_titles(page)
    assert any("same vectors, permuted" in t for t in titles)
    assert any("different vectors" in t for t in titles)
    assert any("sparse experts vs dense heads" in t for t in titles)


def _record_runs(page) -> list[str]:
    """The api_name of every run the page sends from now on (its queue joins)."""
    names = {d["id"]: d.get("api_name") for d in page.evaluate("window.gradio_config.dependencies")}
    sent: list[str] = []

    def joined(request):
        if request.method == "POST" and "/queue/join" in request.url:
            sent.append(str(names.get((request.post_data_json or {}).get("fn_index"))))
    page.on("request", joined)
    return sent


def test_run_sends_one_request_per_shown_view_and_a_hidden_tab_waits(page):
    _settled(page)
    sent = _record_runs(page)
    page.locator("#text textarea").fill("The dog sleeps under the old tree")  # starts the typing timer
    page.locator("#run").click()  # Run cancels it: each column once
    page.wait_for_function("document.querySelector('#tokens-gpt').innerText.includes('tree')", timeout=patient(30_000))
    page.wait_for_timeout(600)  # past the typing timer: nothing more may come
    _settled(page)
    assert sorted(sent) == ["compare_bert", "compare_gpt", "compare_llama", "compare_t5"]
    _open_tab(page, "Attention")
    _wait_plots(page, "#att-heatmap")
    _settled(page)
    sent.clear()
    page.locator("#text textarea").fill("A bird sings in the garden")
    page.locator("#run").click()  # on the Attention tab: its view only, not the hidden columns
    page.wait_for_function("(document.querySelector('#att-heatmap .js-plotly-plot')?.layout?.xaxis?.ticktext || [])"
                           ".join(' ').includes('garden')", timeout=patient(30_000))
    page.wait_for_timeout(600)
    _settled(page)
    assert sorted(sent) == ["attention_overview", "attention_view"]
    sent.clear()
    _open_tab(page, "Compare")  # the columns catch up with the text once, when shown
    page.wait_for_function("document.querySelector('#tokens-gpt').innerText.includes('garden')", timeout=patient(30_000))
    _settled(page)
    assert sorted(sent) == ["compare_bert", "compare_gpt", "compare_llama", "compare_t5"]


def test_script_text_shows_as_text(page):
    page.locator("#text textarea").fill("<img src=x onerror=window.__xss=1> hi")
    page.locator("#run").click()
    page.wait_for_function("document.querySelector('#tokens-gpt').innerText.includes('img')", timeout=patient(30_000))
    assert page.evaluate("window.__xss === undefined")
    assert page.locator("#tokens-gpt img").count() == 0


def test_lecture_mode_language_and_export(page, live_url, tmp_path):
    _open_tab(page, "Attention")
    _wait_plots(page, "#att-heatmap")
    # Every figure downloads as PNG from its Plotly toolbar.
    plots = page.locator("#tab-attention .js-plotly-plot").count()
    assert page.locator("#tab-attention .modebar-btn[data-title='Download plot as a PNG']").count() == plots
    with page.expect_download(timeout=patient(30_000)) as download:
        # What that button does, called directly: a click can land while a figure redraws.
        page.evaluate("window.Plotly.downloadImage(document.querySelector('#att-heatmap .js-plotly-plot'), "
                      "{format: 'png', filename: 'attention'})")
    path = tmp_path / "plot.png"
    download.value.save_as(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page.locator("#text textarea").fill("今天天气真好，我想去公园散步")
    page.locator("#run").click()
    page.wait_for_function("(document.querySelector('#att-heatmap .js-plotly-plot')?.layout?.xaxis?.ticktext || [])"
                           ".join('').includes('公')", timeout=patient(30_000))
    page.locator("#lecture-toggle").click()
    assert "lecture" in page.evaluate("document.body.className")
    assert page.locator("#att-model").is_hidden() and page.locator("#att-heatmap").is_visible()
    page.wait_for_function("location.search.includes('lecture=1')", timeout=patient(5_000))
    _stable(page, "[...document.querySelectorAll('#tab-attention .js-plotly-plot')].map(e => e._fullLayout.width)")
    page.screenshot(path=str(_shots(tmp_path) / "lecture.png"))
    page.locator("#controls-toggle").click()
    assert page.locator("#att-model").is_visible()
    page.locator("#controls-toggle").click()
    page.locator("#lecture-toggle").click()
    assert "lecture" not in page.evaluate("document.body.className")
    page.locator(".lang-btn[data-lang=zh]").click()
    page.wait_for_function("document.querySelector('#explain-attention').innerText.includes('注意力矩阵')", timeout=patient(10_000))
    tabs = page.eval_on_selector_all("button[role=tab]", "els => els.map(e => e.textContent.trim())")
    assert tabs[:4] == ["对比", "注意力", "并排对比", "掩码"]
    assert "文本" in page.inner_text("#text") and "运行" in page.inner_text("#run")
    page.wait_for_function("location.search.includes('lang=zh')", timeout=patient(5_000))
    page.locator(".lang-btn[data-lang=en]").click()
    page.wait_for_function("document.querySelector('#explain-attention').innerText.includes('One model in depth')",
                           timeout=patient(10_000))
    # Export: the numbers of this view as JSON, CSV and NPZ.
    page.locator("#export button.label-wrap, #export .label-wrap").first.click()
    page.locator("#export-run").click()
    page.wait_for_function("document.querySelectorAll('#export-files a').length >= 3", timeout=patient(30_000))
    names = page.eval_on_selector_all("#export-files a", "els => els.map(e => e.getAttribute('download') || e.href)")
    assert {n.rsplit(".", 1)[-1] for n in names} >= {"json", "csv", "npz"}


# What each tab draws once its view has run: a deep link must bring back the same figures.
TAB_PLOTS = {
    "compare": ("#tab-compare", 8), "attention": ("#att-heatmap", 1), "masks": ("#masks-plots", 14),
    "patterns": ("#pat-map", 1), "rank": ("#rank-spectrum", 1), "graph": ("#flow-plot", 1),
    "decoding": ("#dec-stages", 1), "architecture": ("#arch-plot-b", 1), "objectives": ("#obj-span-plot", 1),
    "positions": ("#pos-buckets", 1), "order": ("#scale-plot", 1), "moe": ("#moe-plot", 1),
    "lens": ("#lens-plot", 1), "attribution": ("#attr-plot", 1), "ablation": ("#abl-plot", 1), "qk": ("#qk-scores", 1),
    "pair": ("#pair-b", 1),
}


def _view(browser_page, tab: str) -> list:
    selector, count = TAB_PLOTS[tab]
    _wait_plots(browser_page, selector, count, timeout=patient(90_000))
    panel = f"#tab-{tab}"
    # A second update (sliders set to the model's bounds) may still land: wait for a still view.
    _stable(browser_page, f"[document.querySelector('{panel}').innerText,"
                          f" [...document.querySelectorAll('{panel} .js-plotly-plot')].map(e => e.layout.title.text)]")
    titles = browser_page.eval_on_selector_all(f"{panel} .js-plotly-plot", "els => els.map(e => e.layout.title.text)")
    text = browser_page.eval_on_selector(panel, "e => e.innerText")
    return [titles, re.sub(r"[\d.,]+\s*ms", "… ms", text)]  # wall times differ run to run


def _first_scenario(tab: str) -> dict:
    from ui.links import SCENARIOS

    return next(s for s in SCENARIOS if s["params"]["tab"] == tab)


@pytest.mark.parametrize("tab", sorted(TAB_PLOTS))
def test_a_deep_link_to_each_tab_reproduces_the_view(browser, live_url, tab, tmp_path):
    """Open the tab's first prepared scenario, take the link the page shows for it, open that link
    in a fresh page: the same figures and the same numbers in the text."""
    from urllib.parse import urlencode

    errors = []
    first = browser.new_page(viewport={"width": 1600, "height": 1200})
    second = browser.new_page(viewport={"width": 1600, "height": 1200})
    try:
        for shown in (first, second):
            shown.on("pageerror", lambda e: errors.append(str(e)))
        first.goto(f"{live_url}?{urlencode(_first_scenario(tab)['params'])}")
        before = _view(first, tab)
        first.wait_for_function(f"location.search.includes('tab={tab}')", timeout=patient(10_000))
        link = first.url
        second.goto(link)
        after = _view(second, tab)
        assert after == before, (tab, link)
        if tab in ("compare", "attention", "decoding", "architecture", "moe"):
            second.screenshot(path=str(_shots(tmp_path) / f"link-{tab}.png"))
    finally:
        first.close()
        second.close()
    assert errors == []


@pytest.mark.parametrize("width, height, tab", [(1280, 720, "moe"), (1280, 720, "order"), (390, 844, "decoding")])
def test_every_tab_is_in_the_bar_and_its_link_opens_it(browser, live_url, width, height, tab):
    """No tab hides in an overflow menu at projector or phone width, so a link to any tab opens it
    (it used to open Compare and rewrite the link to tab=compare)."""
    from ui.tabs import IDS

    shown = browser.new_page(viewport={"width": width, "height": height})
    try:
        shown.goto(f"{live_url}?tab={tab}")
        shown.wait_for_function(f"document.querySelector('#tab-{tab}-button')?.getAttribute('aria-selected') === 'true'",
                                timeout=patient(60_000))
        for other in IDS:
            assert shown.locator(f"#tab-{other}-button").is_visible(), (width, other)
        assert shown.locator("button[aria-label='More tabs']:visible").count() == 0
        shown.wait_for_function(f"location.search.includes('tab={tab}')", timeout=patient(10_000))
        shown.wait_for_timeout(1_000)
        assert f"tab={tab}" in shown.url
    finally:
        shown.close()


def _open_for_figures(shown, tab: str) -> None:
    """Open a tab so that its figures are drawn: every tab runs its views when opened, except
    Decoding, which waits for Step."""
    shown.locator(f"#tab-{tab}-button").click()
    if tab == "decoding":
        shown.locator("#dec-step").click()


# Names that a Chinese lecture says as they are: architectures, functions, symbols, units.
KEPT_IN_CHINESE = {
    "bert", "gpt", "llama", "mixtral", "moe", "mini", "embedded", "token", "tokens", "softmax", "top", "kv", "rope",
    "gelu", "swiglu", "silu", "relu", "layernorm", "rmsnorm", "cls", "sep", "mask", "unk", "pad", "eos", "sqrt",
    "nsp", "mlm", "log", "det", "exp", "max", "min", "argmax", "qk", "ffn", "mlp", "alibi", "kib", "mib", "ms",
    "nats", "abnar", "zuidema", "bertviz", "png", "csv", "json", "hub", "safetensors", "pre", "post", "norm",
    "transformers", "generate", "logits", "pe", "sin", "cos", "tanh", "rms", "api", "numpy", "float", "nan",
    "kl", "transformer",
}


def _english_left(shown, tab: str) -> set[str]:
    """English words a reader of the 中文 page still meets in a tab: its text outside tokens,
    model text and inputs (translate="no", text boxes), and its figures' titles, axes and legends."""
    words = shown.evaluate("""(tab) => {
      const panel = document.querySelector(`#tab-${tab}`).cloneNode(true);
      // Notices carry both languages by design; code is formulas and class names.
      panel.querySelectorAll('[translate=no], .js-plotly-plot, .relay, textarea, input, select, .tok, .notice, code, pre')
        .forEach((e) => e.remove());
      const texts = [panel.innerText];
      // Figure titles may quote the typed text's tokens: model text, left out like the rest.
      const typed = new Set((document.querySelector('#text textarea').value.match(/[A-Za-z']+/g) || [])
        .map((w) => w.toLowerCase()));
      const figure = [];
      for (const plot of document.querySelectorAll(`#tab-${tab} .js-plotly-plot`)) {
        const layout = plot.layout || {};
        for (const [key, axis] of Object.entries(layout)) {
          if (/^[xy]axis/.test(key) && axis && axis.title) figure.push(axis.title.text || "");
        }
        figure.push((layout.title && layout.title.text) || "");
        for (const note of layout.annotations || []) figure.push(note.text || "");
        // The legend as drawn (heatmaps have a trace name but no legend entry).
        for (const entry of plot.querySelectorAll('.legendtext')) figure.push(entry.textContent);
        for (const trace of plot.data || []) {
          if (trace.colorbar && trace.colorbar.title) figure.push(trace.colorbar.title.text || "");
        }
      }
      const words = figure.join(" ").replace(/<[^>]+>/g, " ").split(/([A-Za-z']+)/)
        .map((w) => (typed.has(w.toLowerCase()) ? " " : w)).join("");
      return texts.join(" ").replace(/<[^>]+>/g, " ") + " " + words;
    }""", tab)
    # Class names (GPT2LMHeadModel in a figure title) are code, as in the tables' code cells.
    words = CLASS_NAME.sub(" ", words)
    return {w for w in re.findall(r"[A-Za-z][A-Za-z']+", words) if w.lower() not in KEPT_IN_CHINESE}


def test_every_tab_reads_in_chinese(browser, live_url, tmp_path):
    """Issue 16: in 中文 every tab's labels, figures and tables are Chinese; only model text,
    tokens and names that stay as they are remain in Latin letters."""
    from ui.tabs import IDS

    shown = browser.new_page(viewport={"width": 1600, "height": 1200}, locale="zh-CN")
    left = {}
    try:
        shown.goto(f"{live_url}?lang=zh")
        shown.wait_for_function(COLUMNS_DRAWN, timeout=patient(90_000))
        assert shown.input_value("#text textarea") == "猫追一只老鼠"  # the Chinese page opens on a Chinese example
        for tab in IDS:
            _open_for_figures(shown, tab)
            selector, count = TAB_PLOTS[tab]
            _wait_plots(shown, selector, count, timeout=patient(90_000))
            _settled(shown)
            left[tab] = sorted(_english_left(shown, tab))
            if tab in ("compare", "attention", "decoding"):
                shown.screenshot(path=str(_shots(tmp_path) / f"zh-{tab}.png"))
        labels = shown.eval_on_selector_all("button[role=tab]", "els => els.map(e => e.innerText)")
    finally:
        shown.close()
    english = {tab: words for tab, words in left.items() if words}
    (tmp_path / "english-left.json").write_text(json.dumps(english, ensure_ascii=False, indent=1))
    assert english == {}, english
    assert [w for label in labels for w in re.findall(r"[A-Za-z]{2,}", label) if w.lower() not in KEPT_IN_CHINESE] == [], labels


# Each tab's main figure: what the room must see on the first screen of a projector.
MAIN_FIGURE = {
    "compare": "#mask-bert", "attention": "#att-heatmap", "masks": "#masks-plots", "patterns": "#pat-map",
    "rank": "#rank-map-dec", "graph": "#graph-plot", "decoding": "#dec-stages", "architecture": "#arch-plot-b",
    "objectives": "#obj-gpt-plot", "positions": "#pos-sinusoid", "order": "#order-enc-plot", "moe": "#moe-plot",
    "lens": "#lens-plot", "attribution": "#attr-plot", "ablation": "#abl-plot", "qk": "#qk-products", "pair": "#pair-a",
}



@pytest.mark.parametrize("width, height", [(1280, 720), (1920, 1080)])
def test_lecture_mode_shows_each_tabs_main_figure_on_the_first_screen(browser, live_url, width, height, tmp_path):
    """Issue 16: on a projector in lecture mode, 中文, every tab's main figure starts on the first
    screen with at least 100 px of it in view, the four Compare columns side by side."""
    from ui.tabs import IDS

    shown = browser.new_page(viewport={"width": width, "height": height}, locale="zh-CN")
    placed = {}
    try:
        shown.goto(f"{live_url}?lang=zh&lecture=1")
        shown.wait_for_function(COLUMNS_DRAWN, timeout=patient(90_000))
        tops = shown.eval_on_selector_all("[id^=col-]", "els => els.map(e => Math.round(e.getBoundingClientRect().top))")
        assert len(set(tops)) == 1, tops  # one row: no column wrapped
        for tab in IDS:
            _open_for_figures(shown, tab)
            selector, count = TAB_PLOTS[tab]
            _wait_plots(shown, selector, count, timeout=patient(90_000))
            _settled(shown)
            shown.evaluate("window.scrollTo(0, 0)")
            box = shown.eval_on_selector(f"{MAIN_FIGURE[tab]} .js-plotly-plot",
                                         "e => { const r = e.getBoundingClientRect(); return [r.top, r.bottom]; }")
            placed[tab] = (round(box[0]), round(min(box[1], height) - box[0]))
            if width == 1280:
                shown.screenshot(path=str(_shots(tmp_path) / f"lecture-1280-{tab}.png"))
    finally:
        shown.close()
    (tmp_path / "placed.json").write_text(json.dumps(placed))
    low = {tab: p for tab, p in placed.items() if not (0 <= p[0] and p[1] >= 100)}
    assert low == {}, placed


def test_markup_in_tokens_shows_as_text_in_every_view(browser, live_url):
    """Token text that is HTML or script, through every tab and the decoding lab: never run, never
    turned into elements, in a fresh page opened on a link."""
    evil = "<img src=x onerror=window.__xss=1><b>bold</b> apples"
    other = browser.new_page(viewport={"width": 1600, "height": 1200})
    try:
        from urllib.parse import urlencode

        other.goto(f"{live_url}?{urlencode({'text': evil})}")
        _wait_plots(other, "#tab-compare", 8)
        for tab, (selector, count) in TAB_PLOTS.items():
            if tab in ("compare", "positions", "decoding"):  # decoding: below, with the prompt
                continue
            other.get_by_role("tab", name=_TAB_NAMES[tab]).click()
            _wait_plots(other, selector, count, timeout=patient(90_000))
        _open_tab(other, "Decoding")
        other.locator("#dec-prompt textarea").fill(evil)
        other.locator("#dec-end").click()
        other.wait_for_function("document.querySelectorAll('#dec-text .gen').length >= 1", timeout=patient(30_000))
        assert other.evaluate("window.__xss === undefined")
        assert other.locator("img[src=x]").count() == 0 and other.locator(".gradio-container b:text-is('bold')").count() == 0
        assert "<b>bold</b>" in other.inner_text("#dec-text") or "bold" in other.inner_text("#dec-text")
    finally:
        other.close()


_TAB_NAMES = {"attention": "Attention", "masks": "Masks", "patterns": "Head patterns", "rank": "Rank",
              "graph": "Graph & flow", "decoding": "Decoding", "architecture": "Architecture",
              "objectives": "Objectives", "order": "Order & scaling", "moe": "Experts (MoE)", "lens": "Logit lens",
              "attribution": "Attribution", "ablation": "Head ablation", "qk": "Query & key", "pair": "Side by side"}


def _held_page(browser, busy_app, crashes: list | None = None):
    """A second page on the busy app, drawn with its gate open; then the gate is closed (the next
    model runs wait) and the count of started runs is emptied."""
    other = browser.new_page(viewport={"width": 1600, "height": 1200})
    if crashes is not None:
        other.on("pageerror", lambda e: crashes.append(str(e)))
    busy_app.gate.set()
    other.goto(busy_app.url)
    # The busy app's queue holds 2: the page's first burst of column runs can meet a full house
    # (the "busy" toast) and leave a column undrawn. Run again until all four are drawn.
    for _ in range(4):
        try:
            other.wait_for_function(COLUMNS_DRAWN, timeout=patient(30_000))
            break
        except PlaywrightTimeout:
            other.locator("#run").click()
    else:
        pytest.fail("the busy app's page never drew its four columns")
    _settled(other)
    busy_app.gate.clear()
    while busy_app.started.acquire(timeout=patient(0)):
        pass
    return other


def test_a_full_queue_shows_busy_in_both_languages_then_recovers(browser, busy_app, tmp_path):
    """API clients take the two workers and the two queue places of a server whose runs are held;
    pressing Run in the page must then say "busy, try again" (and in Chinese) at once."""
    from gradio_client import Client
    from gradio_client.utils import Status

    crashes = []
    page = _held_page(browser, busy_app, crashes)
    try:
        jobs = [Client(busy_app.url, verbose=False).submit("mini-gpt", "hello there", api_name="/attention_data")
                for _ in range(4)]
        for _ in range(2):
            assert busy_app.started.acquire(timeout=patient(30)), "the API runs never reached the workers"
        for _ in range(100):
            if sum(job.status().code == Status.IN_QUEUE for job in jobs) == 2:
                break
            page.wait_for_timeout(100)
        page.locator("#run").click()
        toast = page.locator(".toast-body", has_text="currently busy").first
        toast.wait_for(timeout=patient(10_000))
        page.wait_for_function("[...document.querySelectorAll('.busy-zh')].some(e => e.textContent.includes('请稍后再试'))",
                               timeout=patient(5_000))
        assert "Please try again" in toast.inner_text()
        page.screenshot(path=str(_shots(tmp_path) / "busy.png"))
        busy_app.gate.set()
        assert all(job.result(timeout=patient(60))["model"] == "mini-gpt" for job in jobs)
        page.locator("#text textarea").fill("我喜欢吃苹果")
        page.locator("#run").click()  # served again once the queue has room
        page.wait_for_function("document.querySelector('#tokens-gpt').innerText.includes('苹')", timeout=patient(30_000))
        assert not crashes
    finally:
        page.close()


def test_runs_leave_no_toast_and_no_run_history(page):
    for text in ("我喜欢吃苹果", "The cat chases a mouse"):
        page.locator("#text textarea").fill(text)
        page.locator("#run").click()
        page.wait_for_function(f"document.querySelector('#tokens-gpt').innerText.includes({text.split()[-1][-2:]!r})",
                               timeout=patient(30_000))
    _settled(page)
    assert page.locator("[data-testid='toast-body']").count() == 0
    # Gradio's run history (off: it rewrote every run's figures into localStorage after each run,
    # 0.46 s -> 1.7 s per Run within 25 runs) keeps nothing.
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('gradio:run-history'))") == []


def test_the_compare_columns_run_side_by_side(browser, busy_app):
    """One relay per column: the page sends the four runs at once. (Listeners of one Gradio trigger
    run one after another, each waiting for the last to finish: then only one run would start.)"""
    other = _held_page(browser, busy_app)
    try:
        other.locator("#text textarea").fill("The cat sees the keys")  # the debounced relays, no Run
        assert busy_app.started.acquire(timeout=patient(20)) and busy_app.started.acquire(timeout=patient(10)), \
            "the second column did not start while the first was still running"
        busy_app.gate.set()
        for slug in ("bert", "gpt", "t5", "llama"):
            other.wait_for_function(f"document.querySelector('#tokens-{slug}').innerText.includes('keys')",
                                    timeout=patient(30_000))
    finally:
        busy_app.gate.set()
        other.close()


def test_unreadable_tokens_are_framed_and_named_in_both_languages(browser, live_url, tmp_path):
    """An emoji BERT and T5 have no token for, and a rare hanzi the BPE models spell in bytes: every
    column frames them and says so, in English and Chinese, on a page opened from a link."""
    from urllib.parse import urlencode

    other = browser.new_page(viewport={"width": 1600, "height": 1200})
    try:
        other.goto(f"{live_url}?{urlencode({'text': '人工智能正在改变世界 😀 龘'})}")
        other.wait_for_function(COLUMNS_DRAWN, timeout=patient(90_000))
        for slug in ("bert", "gpt", "t5", "llama"):
            other.wait_for_function(f"document.querySelectorAll('#tokens-{slug} .tok.unfamiliar').length >= 1",
                                    timeout=patient(60_000))
        bert = other.locator("#tokens-bert .tok.unfamiliar").all_inner_texts()
        assert bert == ["[UNK]", "[UNK]"]  # 😀 and 龘; the ten common hanzi are whole tokens
        outputs = other.inner_text("#outputs-bert")
        assert "😀, 龘" in outputs and "means little" in outputs and "意义不大" in outputs
        assert "byte pieces" in other.inner_text("#outputs-gpt") and "字节片段" in other.inner_text("#outputs-gpt")
        other.screenshot(path=str(_shots(tmp_path) / "unfamiliar.png"), full_page=False)
    finally:
        other.close()


HOSTILE = '<a id="x" href="http://127.0.0.1:9/p">Sign in again</a><img src="http://127.0.0.1:9/t.png">'


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("where", ["name", "value"])
def test_a_crafted_link_draws_nothing_and_fetches_nothing(browser, live_url, where, lang):
    """Markup in a link's parameter name (echoed in "Ignored link parameters") or value (a model
    name, echoed in "Unknown model") shows as text in the toast: no element, no request."""
    from urllib.parse import urlencode

    params = {HOSTILE: "1"} if where == "name" else {"model-bert": HOSTILE}
    requests = []
    other = browser.new_page(viewport={"width": 1600, "height": 1200})
    other.on("request", lambda r: requests.append(r.url))
    try:
        other.goto(f"{live_url}?{urlencode({**params, 'lang': lang})}")
        toast = other.locator("[data-testid='toast-body']", has_text="Sign in again").first
        toast.wait_for(timeout=patient(60_000))
        assert '<a id="x"' in toast.inner_text()  # the markup, shown as text
        assert other.locator("#x").count() == 0 and other.locator("img[src*='127.0.0.1:9/']").count() == 0
        assert not [u for u in requests if "127.0.0.1:9/" in u]
    finally:
        other.close()


def test_every_model_menu_shows_the_longest_embedded_name_whole(browser, live_url):
    """Issue 16: at 1280 wide no model menu cuts a name ("Mini GPT-2 (embedd"): each is as wide
    as the longest embedded model's name in its own font."""
    from models import registry
    from ui.tabs import IDS

    longest = max((spec.name for spec in registry.EMBEDDED), key=len)
    shown = browser.new_page(viewport={"width": 1280, "height": 800})
    narrow = {}
    try:
        shown.goto(live_url)
        shown.wait_for_function(COLUMNS_DRAWN, timeout=patient(90_000))
        for tab in IDS:
            shown.locator(f"#tab-{tab}-button").click()
            shown.wait_for_function(f"document.querySelector('#tab-{tab}').offsetWidth > 0", timeout=patient(30_000))
            for menu, needed, width in shown.evaluate("""([tab, name]) =>
                [...document.querySelectorAll(`#tab-${tab} input[role=combobox]`)].filter((i) => i.offsetWidth > 0)
                  .map((i) => { const c = document.createElement('canvas').getContext('2d'), s = getComputedStyle(i);
                    c.font = `${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
                    return [i.closest('.block').id, Math.ceil(c.measureText(name).width), i.clientWidth]; })""",
                                                      [tab, longest]):
                if needed > width:
                    narrow[menu] = (needed, width)
    finally:
        shown.close()
    assert narrow == {}, narrow


# Enter in a slider's number box redraws the view, and the overview's outline follows the head
# shown, moved by the page rather than by sending the overview again.
HEATMAP = "document.querySelector('#att-heatmap .js-plotly-plot')"
OVERVIEW = "document.querySelector('#overview .js-plotly-plot')"
# The outline as drawn (visible, x0, y0) and the tile geometry it is placed with.
OUTLINE = (f"(() => {{ const s = {OVERVIEW}?.layout?.shapes?.[0]; const m = {OVERVIEW}?.layout?.meta?.tiles;"
           " return s && m ? [s.visible !== false, s.x0, s.y0, m.rows, m.cols] : null; })()")



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


def test_text_b_is_drawn_beside_a_kept_in_the_link_and_gone_when_emptied(browser, live_url):
    """Issue 19, item 5: a link with text B opens the tab with B's figure under A's and the note
    in the page's language; the page's link keeps text B; emptying it (Enter) takes B away."""
    from urllib.parse import quote, urlencode

    shown = browser.new_page(viewport={"width": 1600, "height": 1200}, locale="zh-CN")
    errors = []
    shown.on("pageerror", lambda e: errors.append(str(e)))
    try:
        query = {"tab": "lens", "lens-model": "mini-gpt", "text": "I like eating", "text-b": "我喜欢吃", "lang": "zh"}
        shown.goto(f"{live_url}?{urlencode(query)}")
        _wait_plots(shown, "#lens-b", 1, timeout=patient(90_000))
        _wait_plots(shown, "#lens-plot", 1, timeout=patient(90_000))
        note = shown.inner_text("#lens-b-note")
        assert "并排" in note and "side by side" not in note
        shown.wait_for_function(f"location.search.includes('text-b={quote('我喜欢吃')}')", timeout=patient(10_000))
        box = shown.locator("#text-b textarea, #text-b input").first
        box.fill("")
        box.press("Enter")
        shown.wait_for_function("!document.querySelector('#lens-b .js-plotly-plot')"
                                " && !location.search.includes('text-b=')", timeout=patient(60_000))
        assert shown.locator("#lens-plot .js-plotly-plot").count() == 1
    finally:
        shown.close()
    assert errors == []
