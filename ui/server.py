"""What the server bounds beyond Gradio's defaults (issue 17, items 0b and 11).

- Answers nobody reads. A client joins the queue (POST /gradio_api/queue/join) and reads its
  answers from a stream it opens afterwards; Gradio keeps every answer until that stream reads
  it, without a limit, so a client that joins and never reads can fill the memory (~10 MiB per
  attention answer on a 100-token text). Here one session may have at most
  TRIPTYCH_PENDING_PER_SESSION requests waiting, and answers left unread longer than
  UNREAD_SECONDS are dropped once more than TRIPTYCH_UNREAD of them wait in all.
- SIGTERM (a Space restarting, `docker stop`): the queue stops taking requests, those running
  finish (up to TRIPTYCH_DRAIN_SECONDS) and reach their readers, then the server closes.

Gradio has no setting for either, so both wrap methods of this app's own queue object (the
methods the routes call: Queue.push and Queue.send_message), nothing global.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

import gradio as gr
from gradio.server_messages import ProcessCompletedMessage

from models.limits import setting
from ui.i18n import toast

log = logging.getLogger("triptych")

PER_SESSION_ENV, PER_SESSION = "TRIPTYCH_PENDING_PER_SESSION", 16
UNREAD_ENV, UNREAD = "TRIPTYCH_UNREAD", 16
DRAIN_ENV, DRAIN_SECONDS = "TRIPTYCH_DRAIN_SECONDS", 30.0
# A page reads its answers within milliseconds; an answer older than this has no reader.
UNREAD_SECONDS = 5.0


def _answers(messages) -> int:
    # asyncio.Queue keeps its items in the deque `_queue`; only finished answers weigh anything
    # (progress and heartbeat messages are a few bytes).
    return sum(isinstance(m, ProcessCompletedMessage) for m in messages._queue)


def _drop_unread(queue, unread_since: dict, limit: int, now: float) -> int:
    """Empty the queues of sessions whose answers wait unread, oldest first, while more than
    `limit` answers wait in all; returns how many answers were dropped."""
    waiting = {h: _answers(q) for h, q in queue.pending_messages_per_session.items() if not q.empty()}
    waiting = {h: n for h, n in waiting.items() if n}
    for gone in set(unread_since) - set(waiting):
        del unread_since[gone]
    total = sum(waiting.values())
    dropped = 0
    for session, since in sorted(unread_since.items(), key=lambda item: item[1]):
        if total <= limit or now - since < UNREAD_SECONDS:
            break
        messages = queue.pending_messages_per_session[session]
        while not messages.empty():
            messages.get_nowait()
        dropped += waiting[session]
        total -= waiting[session]
        queue.pending_event_ids_session.pop(session, None)
        del unread_since[session]
    if dropped:
        log.warning("dropped %d unread answers of sessions that never opened their stream", dropped)
    return dropped


def bound_waiting(demo: gr.Blocks) -> None:
    """Per-session and server-wide bounds on requests waiting and answers unread."""
    queue = demo._queue
    per_session, limit = setting(PER_SESSION_ENV, PER_SESSION), setting(UNREAD_ENV, UNREAD)
    unread_since: dict[str, float] = {}
    join, send = queue.push, queue.send_message

    async def push(body, request, username):
        _drop_unread(queue, unread_since, limit, time.monotonic())
        if len(queue.pending_event_ids_session.get(body.session_hash) or ()) >= per_session:
            return False, toast(f"This session already has {per_session} requests waiting; wait for their "
                                "answers (or reload the page) before sending more."), "queue_full"
        return await join(body=body, request=request, username=username)

    def send_message(event, message):
        send(event, message)
        if isinstance(message, ProcessCompletedMessage):
            # When this session's oldest unread answer arrived (a reader empties its queue at once).
            unread_since.setdefault(event.session_hash, time.monotonic())
            _drop_unread(queue, unread_since, limit, time.monotonic())

    queue.push, queue.send_message = push, send_message


def _running(queue) -> bool:
    return len(queue) > 0 or any(job is not None for job in queue.active_jobs)


def drain(demo: gr.Blocks, seconds: float) -> None:
    """Refuse new requests, let the running and queued ones finish, then close the server."""
    queue = demo._queue

    async def refuse(body, request, username):
        return False, toast("The server is shutting down; try again in a minute."), "queue_full"

    queue.push = refuse
    deadline = time.monotonic() + seconds
    while _running(queue) and time.monotonic() < deadline:
        time.sleep(0.1)
    # The last answers still have to travel through their streams.
    time.sleep(1.0)
    log.info("drained; closing the server")
    demo.close()


def drain_on_sigterm(demo: gr.Blocks) -> None:
    """On SIGTERM, drain (in a thread: a signal handler must return quickly) instead of dying
    with requests half done. Call from the main thread, before launch()."""
    seconds = setting(DRAIN_ENV, DRAIN_SECONDS, kind=float)

    def on_term(signum, frame):
        log.info("SIGTERM: finishing the running requests (at most %g s)", seconds)
        threading.Thread(target=drain, args=(demo, seconds), name="drain", daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
