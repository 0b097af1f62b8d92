"""A bounded load test on loopback: many gradio_client sessions at once, mixed requests, several
rounds; latency percentiles, errors by kind, and the server's resident memory after each round.

`run_load(url, ...)` is used by `python -m benchmarks` (50 sessions x 10 requests x 3 rounds,
against a server in its own process, so that the clients' memory is not counted) and, smaller,
by the test suite. `server_pid` says whose resident memory to report (default: this process).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import numpy as np

TEXT = "The keys to the cabinet are on the table"
MIXED = (
    ("/attention_data", ("mini-gpt", TEXT)),
    ("/decode", ("mini-gpt", "今天天气真好，", "sample", 0.8, 20, 0.9, 7, 12, 1)),
    ("/head_patterns", ("mini-bert", TEXT)),
    ("/moe_routing", ("mini-mixtral", "我喜欢吃苹果 and I like eating apples")),
    ("/mask_data", (TEXT, "I like eating apples", 2)),
    ("/attention_data", ("mini-t5", "translate Chinese to English: 我喜欢机器学习")),
    ("/order_experiment", ("mini-bert", TEXT, 0)),
    ("/decode", ("mini-t5", "translate Chinese to English: 我喜欢机器学习", "beam", 1.0, 0, 1.0, 0, 20, 4)),
    ("/attention_rank", ("mini-llama", TEXT, 1e-3)),
    ("/architecture", ("mini-llama",)),
)


# What a session of the page does in the Attention and Compare tabs: the views that keep a run in
# the session's state (issue 17, item 3). gr.State inputs are filled in by the server.
HEAVY_TEXT = "The little cat chases a blue butterfly in the garden while the old dog sleeps under the tree"
HEAVY = (
    ("/attention_data", ("mini-bert", HEAVY_TEXT)),
    ("/compare_bert", ("mini-bert", HEAVY_TEXT, "encoder", 0, 0)),
    ("/attention_view", ("mini-bert", HEAVY_TEXT, "encoder", 1, 1)),
    ("/attention_overview", ("encoder",)),
)

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def serve(**env: str):
    """`python app.py` in its own process on a free loopback port, with extra environment `env`;
    yields (url, pid) once the page answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
                                   "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", **env})
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError(f"python app.py exited with {server.returncode}") from None
                time.sleep(0.5)
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


def resident_mib(pid: int | str = "self") -> float:
    """A process's resident memory (Linux /proc), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _session(url: str, index: int, requests: int, latencies: list, errors: Counter, lock: threading.Lock,
             pattern: tuple = MIXED, in_order: bool = False) -> None:
    offset = 0 if in_order else index
    from gradio_client import Client

    try:
        client = Client(url, verbose=False)
    except Exception as err:  # a session that cannot even connect counts as one error
        with lock:
            errors[f"connect: {type(err).__name__}"] += 1
        return
    for k in range(requests):
        api_name, args = pattern[(offset + k) % len(pattern)]
        started = time.perf_counter()
        try:
            client.predict(*args, api_name=api_name)
        except Exception as err:
            kind = "busy" if "queue" in str(err).lower() and "full" in str(err).lower() else type(err).__name__
            with lock:
                errors[f"{api_name}: {kind}: {str(err)[:80]}"] += 1
            continue
        with lock:
            latencies.append(time.perf_counter() - started)


def run_load(url: str, sessions: int = 50, requests: int = 10, rounds: int = 3,
             server_pid: int | str = "self", pattern: tuple = MIXED, in_order: bool = False) -> list[dict]:
    """One dict per round: requests answered, p50/p95/max seconds, errors by kind, RSS after.
    Each session sends `requests` of `pattern`, starting at its own index, or from the first with
    `in_order` (HEAVY: its later views draw from the first ones' run)."""
    results = []
    for round_index in range(rounds):
        latencies: list[float] = []
        errors: Counter = Counter()
        lock = threading.Lock()
        threads = [threading.Thread(target=_session, args=(url, i, requests, latencies, errors, lock, pattern, in_order))
                   for i in range(sessions)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        results.append({
            "round": round_index + 1, "sessions": sessions, "requests": sessions * requests,
            "answered": len(latencies), "wall_s": wall,
            "p50_s": float(np.percentile(latencies, 50)) if latencies else float("nan"),
            "p95_s": float(np.percentile(latencies, 95)) if latencies else float("nan"),
            "max_s": max(latencies, default=float("nan")), "errors": dict(errors),
            "rss_mib": resident_mib(server_pid),
        })
    return results
