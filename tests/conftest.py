"""Shared fixtures: tiny random checkpoints of every family, built in a temporary folder.

The environment is fixed before anything imports huggingface_hub or gradio: no Hub access,
no analytics.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("TRIPTYCH_DEVICE", "cpu")

import socket  # noqa: E402

import pytest  # noqa: E402

from training import tiny  # noqa: E402

FAMILY_OF_TINY = {
    "mini-bert": "encoder",
    "mini-gpt": "decoder",
    "mini-llama": "decoder",
    "mini-t5": "encoder-decoder",
}


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, str]:
    """name -> folder of a freshly built tiny checkpoint (save_pretrained format)."""
    root = tmp_path_factory.mktemp("tiny")
    return {name: str(path) for name, path in tiny.build_all(root, seed=1).items()}


@pytest.fixture
def allow_any_model(monkeypatch):
    monkeypatch.setenv("TRIPTYCH_ALLOW_ANY_MODEL", "1")


@pytest.fixture(params=sorted(FAMILY_OF_TINY))
def tiny_name(request) -> str:
    return request.param


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_url():
    """The real app, launched on a free localhost port for the whole session."""
    from ui.page import build_demo, launch_settings

    demo = build_demo()
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **launch_settings())
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture
def busy_app(monkeypatch):
    """A second app with a queue of 2 whose model runs wait at a gate: two runs hold the two
    workers, two more fill the queue, and the next visitor meets a full house. Opening the gate
    lets everything finish."""
    import threading
    from types import SimpleNamespace

    from models import trace
    from ui.page import QUEUE_ENV, build_demo, launch_settings

    gate, started = threading.Event(), threading.Semaphore(0)
    real_run = trace.run_trace

    def waiting_run(*args, **kwargs):
        started.release()
        gate.wait(120)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(trace, "run_trace", waiting_run)
    monkeypatch.setenv(QUEUE_ENV, "2")
    demo = build_demo()
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **launch_settings())
    try:
        yield SimpleNamespace(url=f"http://127.0.0.1:{port}/", gate=gate, started=started, demo=demo)
    finally:
        gate.set()
        demo.close()
