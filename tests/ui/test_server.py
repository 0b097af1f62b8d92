"""The server's own bounds (ui/server.py, ui/export.py, launch settings), on launched apps:
answers nobody reads, exports on disk, uploads, monitoring, and draining on SIGTERM."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from gradio_client import Client

from models import limits
from ui import export, server
from ui.page import build_demo, launch_settings

ROOT = Path(__file__).resolve().parents[2]


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def small_bounds(monkeypatch):
    monkeypatch.setenv(server.PER_SESSION_ENV, "3")
    monkeypatch.setenv(server.UNREAD_ENV, "4")
    monkeypatch.setattr(server, "UNREAD_SECONDS", 0.0)
    demo = build_demo()
    port = _port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **launch_settings())
    try:
        yield demo, f"http://127.0.0.1:{port}"
    finally:
        demo.close()


def _unread(demo) -> int:
    """Finished answers waiting in all sessions' message queues."""
    return sum(server._answers(q) for q in demo._queue.pending_messages_per_session.values())


def _settle(demo, deadline: float = 120) -> None:
    end = time.monotonic() + deadline
    while (len(demo._queue) or any(demo._queue.active_jobs)) and time.monotonic() < end:
        time.sleep(0.05)


def _join(http, demo, api_name: str, data: list, session: str) -> httpx.Response:
    fn = next(i for i, f in demo.fns.items() if f.api_name == api_name)
    return http.post("/gradio_api/queue/join", json={"data": data, "fn_index": fn, "session_hash": session,
                                                     "event_data": None, "trigger_id": None})


def test_one_session_may_have_only_so_many_requests_waiting(small_bounds):
    demo, url = small_bounds
    slow = ["mini-gpt", "The cat chases a mouse", "beam", 1.0, 0, 1.0, 0, 64, 8]
    with httpx.Client(base_url=url, timeout=60) as http:
        session = uuid.uuid4().hex
        answers = [_join(http, demo, "decode", slow, session) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 503]
        assert "3 requests waiting" in answers[3].json()["detail"] and "请求在等待" in answers[3].json()["detail"]
        # Another session is not held to this one's count.
        assert _join(http, demo, "decode", slow, uuid.uuid4().hex).status_code == 200
    _settle(demo)


def test_answers_nobody_reads_are_dropped_down_to_the_bound(small_bounds):
    demo, url = small_bounds
    data = ["mini-gpt", "The cat chases a mouse", -1]
    with httpx.Client(base_url=url, timeout=60) as http:
        for _ in range(6):  # sessions that join and never open their stream
            session = uuid.uuid4().hex
            assert all(_join(http, demo, "attention_data", data, session).status_code == 200 for _ in range(3))
            _settle(demo)
    # 18 answers were computed and none read: as they came in, the oldest were dropped down to
    # the bound of 4 (each answer sweeps as it arrives).
    assert _unread(demo) <= 4
    # A client that reads its answers is served as before.
    assert Client(url + "/", verbose=False).predict("mini-gpt", "hello", api_name="/attention_data")["model"] == "mini-gpt"


def test_export_folders_are_pruned_by_age_and_an_export_has_a_size_limit(tmp_path, monkeypatch):
    old, new = tmp_path / "triptych-old", tmp_path / "triptych-new"
    for folder in (old, new):
        folder.mkdir()
        (folder / "a.json").write_text("{}")
    os.utime(old, (time.time() - export.EXPORT_SECONDS - 5,) * 2)
    assert export.prune(tmp_path) == 1 and not old.exists() and new.exists()

    from viz.export import write_exports

    with pytest.raises(ValueError, match=r"take \d+ MB, more than an export may hold \(1 MB\)"):
        write_exports({"values": list(range(400_000))}, tmp_path / "big", "x", 2**20)
    assert not (tmp_path / "big").exists()
    monkeypatch.setenv(limits.EXPORT_MB_ENV, "3")
    assert export.export_limit() == 3 * 2**20


def test_no_anonymous_upload_and_no_monitoring(live_url):
    with httpx.Client(base_url=live_url, timeout=60) as http:
        upload = http.post("/gradio_api/upload", files={"files": ("x.bin", b"0" * 200_000)})
        assert upload.status_code == 413
        assert http.get("/monitoring/summary").status_code in (403, 404)
        assert http.get("/gradio_api/monitoring/summary").status_code in (403, 404)


def test_sigterm_lets_a_running_request_finish_then_the_server_exits():
    port = _port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    app = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "config", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        client = Client(url, verbose=False)
        job = client.submit("mini-gpt", "The cat chases a mouse", "beam", 1.0, 0, 1.0, 0, 64, 8, api_name="/decode")
        from gradio_client.utils import Status

        while job.status().code != Status.PROCESSING and time.monotonic() < deadline:
            time.sleep(0.05)
        app.send_signal(signal.SIGTERM)
        result = job.result(timeout=120)
        assert result["model"] == "mini-gpt" and len(result["steps"]) >= 1
        assert app.wait(timeout=120) == 0
    finally:
        if app.poll() is None:
            app.kill()
