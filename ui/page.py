"""The page: toolbar, the shared text box, the tabs in order, export, deep links and the API.

Launch settings live here too (LAUNCH), so that app.py and the tests launch the same page.
"""

from __future__ import annotations

import html
import json

import gradio as gr
from gradio.i18n import I18nData

from models.limits import flag, setting
from models.loading import available_devices, configure_threads, default_device, set_device
from ui import api
from ui.controls import CONCURRENCY, Dropdown, Examples, Page, RUNS
from ui.export import EXAMPLE_TEXT, EXPORT_SECONDS, export_view
from ui.i18n import ASSETS, I18N, L, explain, speak_in_every_event, toast
from ui.links import SCENARIOS, linked_components, restore_link, restore_scenario
from ui.server import bound_waiting
from ui.tabs import IDS, TABS
from ui.tabs.compare import SLUGS
from ui.validation import user_errors

THEME = gr.themes.Soft()
CSS = (ASSETS / "style.css").read_text(encoding="utf-8")
JS = (ASSETS / "app.js").read_text(encoding="utf-8")
# Gradio keeps each session's state (our traces, updated components) in memory, 10,000 sessions
# by default: ~1 MiB each here, so a public Space could grow by gigabytes. A lecture hall needs far
# fewer; the oldest sessions go first.
SESSIONS_ENV, SESSIONS = "TRIPTYCH_SESSIONS", 200
# Requests waiting beyond the running ones; past this the page says "This application is currently
# busy. Please try again." (HTTP 503) at once instead of making the whole room wait minutes.
QUEUE_ENV = "TRIPTYCH_QUEUE_SIZE"
# The device menu moves every visitor's models, so it is the server owner's choice: shown only
# with TRIPTYCH_DEVICE_MENU=1 (docs/decisions.md); TRIPTYCH_DEVICE picks the device at start.
DEVICE_MENU_ENV = "TRIPTYCH_DEVICE_MENU"
UPLOAD_LIMIT = "64kb"
# Gradio 6's run history keeps every run's inputs and outputs (our figures) in the browser's
# localStorage and rewrites all of it after each run: measured here, the four Compare columns went
# from 0.46 s to 1.7 s per Run within 25 runs. A lecture hall's shared PCs should not keep them either.
# Gradio's own GRADIO_RUN_HISTORY=true turns it back on.
RUN_HISTORY = flag("GRADIO_RUN_HISTORY")


def launch_settings() -> dict:
    """Keyword arguments of launch(): styles, script, languages, session capacity, run history."""
    sessions = setting(SESSIONS_ENV, SESSIONS, minimum=10)
    # The page uploads nothing: Gradio's upload route would otherwise take any file from anyone.
    # Gradio's traffic monitoring answers /monitoring/summary to anyone: off (docs/decisions.md).
    return dict(css=CSS, theme=THEME, js=JS, i18n=I18N, state_session_capacity=sessions, run_history=RUN_HISTORY,
                max_file_size=UPLOAD_LIMIT, enable_monitoring=False)


EXAMPLES = ["The cat chases a mouse", "I like eating [MASK] apples", "我喜欢吃苹果",
            "translate Chinese to English: 我喜欢机器学习", "小明买了一个杯子 [SEP] 他把杯子放在桌子上",
            "The keys to the cabinet are on the table"]


def device_menu_enabled() -> bool:
    return flag(DEVICE_MENU_ENV)


def choose_device(name: str) -> None:
    with user_errors():
        set_device(name)
    gr.Info(toast(f"Models now run on {name}."))


def _toolbar() -> tuple:
    """Lecture mode, language and copy-link are handled in the page (assets/app.js); the
    scenario and device go to the server."""
    with gr.Row(elem_id="toolbar"):
        with gr.Column(scale=4, min_width=420):
            gr.HTML('<div class="toolbar-buttons">'
                    '<button id="lecture-toggle" class="tb-btn" type="button">Lecture mode · 讲课模式</button>'
                    '<button id="controls-toggle" class="tb-btn" type="button">Controls · 控件</button>'
                    '<button class="tb-btn lang-btn" data-lang="en" type="button">English</button>'
                    '<button class="tb-btn lang-btn" data-lang="zh" type="button">中文</button>'
                    '<button id="copy-link" class="tb-btn" type="button">Copy link · 复制链接</button></div>',
                    elem_id="toolbar-buttons")
        scenario = Dropdown([s["name"] for s in SCENARIOS], value=None, label=L("Scenario"), scale=4,
                               elem_id="scenario")
        device = Dropdown(available_devices(), value=str(default_device()), label=L("Device"), scale=1,
                             elem_id="device", visible=device_menu_enabled())
    return scenario, device


def _link_data(demo: gr.Blocks, linked: list, page: Page) -> None:
    """The linked controls' ids, every tab's label in both languages and each tab's Run relay, for
    the page's script: Gradio translates a tab's label when the tab is first shown, the script
    relabels the others when the language is switched, and Run runs the shown tab only."""
    tab_labels = {b.elem_id: {lang: I18N.translations[lang][b.label.key] for lang in ("en", "zh")}
                  for b in demo.blocks.values() if isinstance(b, gr.Tab) and isinstance(b.label, I18nData)}
    gr.HTML(f'<div id="linked-ids" data-ids="{html.escape(json.dumps([c.elem_id for c in linked]))}" '
            f'data-tabs="{html.escape(json.dumps(tab_labels, ensure_ascii=False))}" '
            f'data-runs="{html.escape(json.dumps(page.runs))}"></div>', elem_classes=["relay"])


def build_demo() -> gr.Blocks:
    # Exported files (and Gradio's copies of them) are deleted EXPORT_SECONDS after they were made.
    with gr.Blocks(title="Transformer Triptych", delete_cache=(EXPORT_SECONDS // 2, EXPORT_SECONDS)) as demo:
        explain("intro")
        scenario, device = _toolbar()
        with gr.Row(elem_id="text-row"):
            text = gr.Textbox(EXAMPLE_TEXT, label=L("Text"), scale=5, elem_id="text")
            # Optional: every view that reads the text shows text B's beside it (ui/beside.py).
            text_b = gr.Textbox("", label=L("Text B (optional, shown beside)"), scale=3, elem_id="text-b",
                                placeholder=L("Leave empty for one text"))
            run = gr.Button(L("Run"), variant="primary", scale=1, elem_id="run")
            # One relay per Compare column, all clicked by assets/app.js on Run, Enter and 300 ms after
            # the last keystroke while Compare is shown. Gradio's page runs the listeners of ONE
            # trigger one after another, waiting for each; four triggers run side by side.
            settled = {slug: gr.Button("settled", elem_id=f"text-settled-{slug}", elem_classes=["relay"])
                       for slug in SLUGS}
        examples = Examples(components=[text], samples=[[e] for e in EXAMPLES], type="index", label=L("Examples"),
                            elem_id="examples")
        examples.click(lambda i: EXAMPLES[i], examples, text, api_name="load_example", api_visibility="private")
        page = Page(text, settled, text_b)
        # Tabs wrap onto a second row instead of hiding in a "..." menu: every tab stays one click
        # (and one deep link) away at 1280x720 and on a phone.
        with gr.Tabs(elem_id="tabs", overflow_behavior="wrap"):
            for tab in TABS:
                with gr.Tab(L(tab.LABEL), id=tab.ID, elem_id=f"tab-{tab.ID}") as shown:
                    tab.build(page, shown)
        current_tab = gr.Textbox(IDS[0], elem_id="current-tab", elem_classes=["relay"], show_label=False,
                                 container=False)
        marker = gr.Textbox("", elem_id="restored", elem_classes=["relay"], show_label=False, container=False)
        with gr.Accordion(L("Download this view's numbers"), open=False, elem_id="export"):
            export_go = gr.Button(L("Download this view's numbers"), elem_id="export-run")
            export_files = gr.File(label=L("Files"), file_count="multiple", elem_id="export-files")
        linked = linked_components(demo)
        _link_data(demo, linked, page)

        def restore_page(request: gr.Request):
            return restore_link(request, linked, IDS)

        demo.load(restore_page, None, [marker, *linked], api_name="restore_link", api_visibility="private")
        scenario.input(lambda name: restore_scenario(name, linked, IDS), scenario, [marker, *linked],
                       api_name="scenario", api_visibility="private")
        if device_menu_enabled():
            device.input(choose_device, device, None, api_name="device", api_visibility="private")
        export_go.click(lambda tab, *values: export_view(tab, linked, *values, sides=page.sides), [current_tab, *linked],
                        export_files, api_name="export_view", api_visibility="private", **RUNS)
        # Figures and tables are drawn in the language of the page that asked (ui/i18n.py).
        speak_in_every_event(demo, skip=api.register())
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=setting(QUEUE_ENV, 64))
    bound_waiting(demo)
    configure_threads(CONCURRENCY)
    return demo
