"""The page's own machinery without a browser: both languages complete, links and scenarios
restore only valid values, exports carry the API's numbers, devices, ZeroGPU, Spaces start-up."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from models import limits, mechanisms, loading
from models.numeric import packed
from models import trace as traces
from ui import api, i18n, links
from ui.export import EXAMPLE_TEXT, export_view
from ui.page import SESSIONS, SESSIONS_ENV, build_demo, launch_settings
from ui.tabs import IDS
from viz.export import JSON_BYTES_PER_NUMBER, arrays, encoding_for, rows, write_exports

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo():
    return build_demo()


def test_every_string_has_both_languages(demo):
    missing = sorted(t for t in i18n.USED_TEXTS if t not in i18n.ZH)
    assert not missing, missing
    assert len(i18n.USED_TEXTS) > 80
    for lang in ("en", "zh"):
        assert all(i18n.I18N.translations[lang].values())
    for view, texts in i18n.EXPLANATIONS.items():
        assert set(texts) == {"en", "zh"} and all(len(t) > 60 for t in texts.values()), view
        assert any(ch in texts["zh"] for ch in "的是一"), view  # really Chinese
    shown = {key.removeprefix("explain_") for key in i18n.I18N.translations["en"] if key.startswith("explain_")}
    assert shown == set(i18n.EXPLANATIONS)  # every explanation is on the page, and only those
    tabs = [b for b in demo.blocks.values() if b.__class__.__name__ == "Tab"]
    assert {t.elem_id.removeprefix("tab-") for t in tabs} == set(IDS)


def _by_id(demo):
    return {c.elem_id: c for c in links.linked_components(demo)}


def test_restore_coerces_and_refuses(demo):
    linked = links.linked_components(demo)
    ids = _by_id(demo)
    params = {"tab": "attention", "text": "我喜欢吃苹果", "att-model": "Mini T5 (embedded)", "att-kind": "cross",
              "att-layer": "1", "att-head": "999", "dec-temperature": "nan", "dec-cache": "0", "nonsense": "1",
              "dec-strategy": "nucleus", "graph-kind": "banana"}
    with pytest.warns(UserWarning, match="dec-strategy, dec-temperature, graph-kind, nonsense"):
        marker, *updates = links.restore(params, linked, IDS)
    values = {c.elem_id: u.get("value") for c, u in zip(linked, updates) if "value" in u}
    assert values["text"] == "我喜欢吃苹果" and values["att-model"] == "mini-t5" and values["att-kind"] == "cross"
    assert values["att-layer"] == 1 and values["att-head"] == ids["att-head"].maximum  # clamped to the slider
    assert values["dec-cache"] is False and "dec-temperature" not in values  # NaN is refused
    # A choice a radio does not have is refused, not added to it.
    assert "dec-strategy" not in values and "graph-kind" not in values
    assert not any("choices" in u for u in updates)
    assert json.loads(marker)["tab"] == "attention"
    marker, *_ = links.restore({"tab": "<script>"}, linked, IDS)
    assert json.loads(marker)["tab"] == "compare"


def test_every_scenario_restores_valid_values(demo):
    linked = links.linked_components(demo)
    ids = _by_id(demo)
    assert len(links.SCENARIOS) >= 12
    tabs = set()
    for scenario in links.SCENARIOS:
        params = scenario["params"]
        assert set(params) - {"tab"} <= set(ids), scenario["name"]
        for key, value in params.items():
            if key != "tab":
                links.coerce(ids[key], str(value))  # raises if a scenario carries a bad value
        marker, *_ = links.restore_scenario(scenario["name"], linked, IDS)
        tabs.add(json.loads(marker)["tab"])
        assert any("\u4e00" <= ch <= "\u9fff" for ch in scenario["name"]) or any(
            "\u4e00" <= ch <= "\u9fff" for ch in json.dumps(params, ensure_ascii=False))
    assert tabs == set(IDS)


def test_exports_carry_the_numbers(tmp_path):
    data = {"tokens": ["a", "b"], "attentions": np.arange(8, dtype=np.float32).reshape(2, 2, 2), "score": 0.5,
            "nested": {"rank": [[1, 2], [3, 4]]}, "missing": float("nan")}
    json_path, csv_path, npz_path = write_exports(data, tmp_path, "view")
    loaded = json.loads(json_path.read_text(encoding="utf-8"))
    assert loaded["attentions"][1][0][1] == 5.0 and loaded["missing"] is None
    table = csv_path.read_text(encoding="utf-8").splitlines()
    assert table[0] == "field,i0,i1,i2,value" and "attentions,1,0,1,5.0" in table and "tokens,1,,,b" in table
    with np.load(npz_path) as npz:
        np.testing.assert_array_equal(npz["attentions"], data["attentions"])
        np.testing.assert_array_equal(npz["nested.rank"], [[1, 2], [3, 4]])
        assert "tokens" not in npz
    assert len(rows(loaded)) == 2 + 8 + 1 + 4 + 1 and set(arrays(loaded)) == {"attentions", "nested.rank"}


def test_packed_arrays_go_to_the_npz_in_their_dtype_and_count_towards_the_limit(tmp_path):
    weights = np.random.default_rng(0).random((2, 3, 5, 5)).astype(np.float16)
    data = {"tokens": ["a"], "encoder": {"attentions": packed(weights, "float16"), "mask": packed(np.eye(5), "uint8")}}
    json_path, csv_path, npz_path = write_exports(data, tmp_path / "ok", "view")
    loaded = json.loads(json_path.read_text(encoding="utf-8"))
    assert loaded["encoder"]["attentions"] == {"npz": "encoder.attentions", "dtype": "float16", "shape": [2, 3, 5, 5]}
    assert "encoder.attentions.npz,,encoder.attentions" in csv_path.read_text(encoding="utf-8").splitlines()
    with np.load(npz_path) as npz:
        assert npz["encoder.attentions"].dtype == np.float16 and npz["encoder.mask"].dtype == np.uint8
        np.testing.assert_array_equal(npz["encoder.attentions"], weights)
        np.testing.assert_array_equal(npz["encoder.mask"], np.eye(5))
    # 300 bytes of float16 and 25 of mask with a small JSON: a limit of 300 bytes refuses it.
    with pytest.raises(ValueError, match="more than an export may hold"):
        write_exports(data, tmp_path / "big", "view", 300)
    assert not (tmp_path / "big").exists()
    assert encoding_for(1000, 1000 * JSON_BYTES_PER_NUMBER) == "json"
    assert encoding_for(1001, 1000 * JSON_BYTES_PER_NUMBER) == "float16"


def test_an_attention_export_past_the_json_limit_is_packed_float16(demo, tmp_path, monkeypatch):
    """Past what JSON lists can hold, the export carries every layer as float16 in the NPZ."""
    text = " ".join(["the cat chases a mouse and the dog sleeps"] * 10)
    expected = api.api_attention_data("mini-bert", text)
    weights = np.asarray(expected["encoder"]["attentions"])
    assert weights.size * JSON_BYTES_PER_NUMBER > 2**20  # the JSON form would not fit 1 MB
    monkeypatch.setenv(limits.EXPORT_MB_ENV, "1")
    linked = links.linked_components(demo)
    values = [c.value for c in linked]
    ids = [c.elem_id for c in linked]
    values[ids.index("att-model")], values[ids.index("text")] = "mini-bert", text
    paths = export_view("attention", linked, *values)
    data = json.loads(Path(paths[0]).read_text(encoding="utf-8"))
    assert data["encoding"] == "float16" and data["tokens"] == expected["tokens"]
    assert data["encoder"]["attentions"]["shape"] == list(weights.shape)
    with np.load(paths[2]) as npz:
        got = npz[data["encoder"]["attentions"]["npz"]]
        assert got.dtype == np.float16
        np.testing.assert_allclose(got, weights, atol=1e-3)
        np.testing.assert_array_equal(npz["encoder.mask"], expected["encoder"]["mask"])


def test_export_of_the_attention_view_equals_the_api(demo, tmp_path):
    linked = links.linked_components(demo)
    values = [c.value for c in linked]
    values[[c.elem_id for c in linked].index("att-model")] = "mini-gpt"
    paths = export_view("attention", linked, *values)
    data = json.loads(Path(paths[0]).read_text(encoding="utf-8"))
    expected = api.api_attention_data("mini-gpt", EXAMPLE_TEXT)
    np.testing.assert_allclose(data["decoder"]["attentions"], expected["decoder"]["attentions"], rtol=1e-6)
    with np.load(paths[2]) as npz:
        assert npz["decoder.attentions"].shape == tuple(expected["decoder"]["shape"])


def test_device_menu(monkeypatch):
    assert "cpu" in loading.available_devices()
    monkeypatch.setattr(loading, "_chosen_device", None)
    assert str(loading.set_device("cpu")) == "cpu" and str(loading.default_device()) == "cpu"
    with pytest.raises(ValueError, match="not available"):
        loading.set_device("tpu:7")


def _device_menu(demo) -> tuple[bool, bool]:
    """(the Device menu is shown, a listener moves the models)."""
    menu = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "device")
    listens = any(d.get("api_name") == "device" for d in demo.get_config_file()["dependencies"])
    return bool(menu.visible), listens


def test_the_device_menu_is_the_server_owners_choice(demo, monkeypatch):
    # One visitor's choice would move every visitor's models: only with TRIPTYCH_DEVICE_MENU=1.
    from ui.page import DEVICE_MENU_ENV

    assert _device_menu(demo) == (False, False)
    monkeypatch.setenv(DEVICE_MENU_ENV, "1")
    assert _device_menu(build_demo()) == (True, True)


def _run(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=120)


def test_model_calls_run_under_spaces_gpu_when_the_package_exists(tmp_path):
    fake = tmp_path / "spaces"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "import functools\nWRAPPED = []\n"
        "def GPU(fn):\n    WRAPPED.append(fn.__name__)\n"
        "    @functools.wraps(fn)\n    def inner(*a, **k):\n        return fn(*a, **k)\n    inner.on_gpu = True\n    return inner\n")
    code = ("import spaces; from ui import api, page; from ui.tabs import compare; page.build_demo(); "
            "print(sorted(spaces.WRAPPED)); "
            "print(api.api_decode.on_gpu, compare.run_column.on_gpu, hasattr(api.api_models, 'on_gpu'))")
    out = _run(code, {"PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"})
    assert out.returncode == 0, out.stderr[-2000:]
    wrapped = eval(out.stdout.splitlines()[-2])
    assert {"api_decode", "api_attention_data", "run_column", "decode_move", "api_moe_routing", "export_view"} <= set(wrapped)
    # Library functions are never wrapped, so GPU calls never nest; each handler is wrapped once.
    assert not {"run_trace", "run_padded_batch", "run_prefix_lm", "decode"} & set(wrapped)
    assert len(wrapped) == len(set(wrapped))
    assert out.stdout.splitlines()[-1] == "True True False"
    plain = _run("from ui import api; print(hasattr(api.api_decode, 'on_gpu'))", {"PYTHONPATH": str(ROOT)})
    assert plain.stdout.strip().endswith("False")


def test_python_app_py_starts_where_spaces_says():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as page:
                    assert page.status == 200 and b"Transformer" in page.read()
                    return
            except OSError:
                time.sleep(0.5)
        pytest.fail("python app.py did not serve the page within 90 s")
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_messages_are_shown_in_both_languages():
    import re

    for entry in json.loads((ROOT / "assets" / "i18n" / "messages.json").read_text(encoding="utf-8")):
        assert re.fullmatch(entry["pattern"], entry["example"]), entry["pattern"]
        english, chinese = i18n.bilingual(entry["example"]).split("\n", 1)
        assert english == entry["example"] and any("\u4e00" <= ch <= "\u9fff" for ch in chinese)
    # Messages the library really raises come out in both languages.
    from models.decoding import Settings, decode

    for call in (lambda: decode("mini-bert", "hi", Settings()), lambda: decode("mini-gpt", "hi", Settings("beam", num_beams=1)),
                 lambda: mechanisms.moe_routing("mini-gpt", "hi"), lambda: traces.run_trace("mini-gpt", "   ")):
        with pytest.raises(ValueError) as err:
            call()
        assert "\n" in i18n.bilingual(str(err.value)), str(err.value)
    assert i18n.bilingual("no such message") == "no such message"


def test_every_request_is_time_limited(monkeypatch):
    import gradio as gr

    from models import limits
    from models.decoding import Settings, decode

    with limits.time_limit(0.0):
        with pytest.raises(limits.RequestTooLong, match="ran longer than 0 s"):
            decode("mini-gpt", "今天天气真好，", Settings(max_new_tokens=5))
    assert decode("mini-gpt", "今天天气真好，", Settings(max_new_tokens=2)).token_ids  # no limit outside
    monkeypatch.setenv(limits.REQUEST_SECONDS_ENV, "0.000001")
    with pytest.raises(gr.Error, match="ran longer than"):
        api.api_decode("mini-gpt", "今天天气真好，", "beam", 1.0, 0, 1.0, 0, 20, 4)
    with pytest.raises(gr.Error, match="ran longer than"):
        api.api_attention_flow("mini-gpt", "今天天气真好，我想去公园散步")
    monkeypatch.setenv(limits.REQUEST_SECONDS_ENV, "30")
    assert api.api_attention_flow("mini-gpt", "今天天气真好")["flow"]


def test_session_memory_is_bounded(monkeypatch):
    """Gradio keeps 10,000 sessions' state by default (~1 MiB each here): past the capacity set by
    TRIPTYCH_SESSIONS the oldest sessions' traces are dropped."""
    from gradio_client import Client

    assert launch_settings()["state_session_capacity"] == SESSIONS
    monkeypatch.setenv(SESSIONS_ENV, "10")
    settings = launch_settings()
    assert settings["state_session_capacity"] == 10
    small = build_demo()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    small.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **settings)
    try:
        held = small.server_app.state_holder.session_data
        for _ in range(14):  # each client is a new session that stores a trace
            Client(f"http://127.0.0.1:{port}/", verbose=False).predict(
                "mini-bert", "I like eating apples", "encoder", 0, 0, api_name="/compare_bert")
        assert 1 <= len(held) <= 10
    finally:
        small.close()


def test_every_component_is_drawn_by_one_of_gradios_own_frontends():
    # A subclass of a Gradio component is taken for a custom component (a frontend fetched from
    # /gradio_api/custom_component/..., which does not exist) unless it is marked as a template.
    import gradio.components as core

    from ui.page import build_demo

    names = {cls.__name__.lower() for cls in vars(core).values() if isinstance(cls, type)}
    drawn = {type(b).__name__: b.get_block_name() for b in build_demo().blocks.values()
             if isinstance(b, core.Component) and type(b).__module__ != "gradio.components.api_component"}
    assert {"IndexSlider", "Slider", "Radio", "Dropdown", "Number", "Examples"} <= set(drawn)
    assert {k: v for k, v in drawn.items() if v not in names} == {}


def test_graph_export_after_a_link_picked_an_encoder_uses_its_kind(demo):
    """A link that sets graph-model=mini-bert leaves the kind radio at "decoder" until the view
    runs; the export answers for the encoder's own kind, as the view would draw it."""
    linked = links.linked_components(demo)
    ids = [c.elem_id for c in linked]
    values = [c.value for c in linked]
    values[ids.index("graph-model")] = "mini-bert"
    values[ids.index("graph-kind")] = "decoder"
    paths = export_view("graph", linked, *values)
    data = json.loads(Path(paths[0]).read_text(encoding="utf-8"))
    expected = api.api_attention_flow("mini-bert", EXAMPLE_TEXT, -1, "encoder")
    np.testing.assert_allclose(data["rollout"], expected["rollout"], rtol=1e-6)


def test_a_page_shown_in_chinese_opens_on_the_chinese_example(demo):
    from types import SimpleNamespace

    from ui.export import EXAMPLE_TEXT_ZH

    linked = links.linked_components(demo)
    at = [c.elem_id for c in linked].index("text") + 1  # after the marker

    def opened(query, cookies=None, accept=""):
        request = SimpleNamespace(query_params=query, cookies=cookies or {}, headers={"accept-language": accept})
        return links.restore_link(request, linked, IDS)[at]

    assert opened({"lang": "zh"})["value"] == EXAMPLE_TEXT_ZH
    assert opened({}, {"triptych-lang": "zh"})["value"] == EXAMPLE_TEXT_ZH
    assert opened({}, accept="zh-CN,zh;q=0.9")["value"] == EXAMPLE_TEXT_ZH
    assert opened({"lang": "zh", "text": "hello"})["value"] == "hello"  # a link's own text wins
    assert "value" not in opened({}, accept="en-US")  # English keeps the page's example


def test_a_refusal_is_logged_in_one_line_without_a_traceback(caplog):
    from ui.validation import refuse

    with caplog.at_level("INFO", logger="triptych"):
        error = refuse("Type some text first.\n请先输入文字。")
    assert error.print_exception is False
    assert [r.getMessage() for r in caplog.records] == ["refused: Type some text first."]
