"""One export path: the numbers behind the current view, as JSON, CSV and NPZ files.

Each tab says what its numbers are (its `numbers` function, mostly the API's answer for the
view's controls); this module only writes them, bounded: one export at most EXPORT_MB
(TRIPTYCH_EXPORT_MB) of JSON and packed arrays, and each export's folder deleted EXPORT_SECONDS after it was made
(Gradio's served copies too: the page's Blocks has delete_cache with the same age).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from models.limits import export_limit
from ui.beside import text_b
from ui.gpu import gpu
from ui.tabs import BY_ID, IDS
from ui.validation import user_errors
from viz.export import write_exports

EXAMPLE_TEXT = "The cat chases a mouse"
# The same sentence as the training grammar pairs it: what a page shown in Chinese opens on.
EXAMPLE_TEXT_ZH = "猫追一只老鼠"
EXPORT_SECONDS = 600
EXPORTS = Path(tempfile.gettempdir()) / "triptych-exports"


def prune(folder: Path = EXPORTS, age: float = EXPORT_SECONDS, now: float | None = None) -> int:
    """Delete the export folders older than `age` seconds; returns how many went."""
    now = time.time() if now is None else now
    gone = 0
    for item in folder.glob("triptych-*") if folder.is_dir() else ():
        try:
            if now - item.stat().st_mtime > age:
                shutil.rmtree(item, ignore_errors=True)
                gone += 1
        except FileNotFoundError:
            continue
    return gone


@gpu
def export_view(tab: str, components: list, *values, sides=()) -> list[str]:
    """The shown tab's numbers as files. In a tab that shows text B beside A (`sides`), with text B
    given, the numbers of both: {"a": ..., "b": ...}."""
    with user_errors():
        by_id = {c.elem_id: value for c, value in zip(components, values)}
        tab = tab if tab in BY_ID else IDS[0]
        text = by_id.get("text") or EXAMPLE_TEXT
        second = text_b(by_id.get("text-b"))
        data = BY_ID[tab].numbers(by_id, text)
        if tab in sides and second:
            data = {"a": data, "b": BY_ID[tab].numbers(by_id, second)}
        prune()
        EXPORTS.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="triptych-", dir=EXPORTS))
        try:
            return [str(p) for p in write_exports(data, folder, f"triptych-{tab}", export_limit())]
        except ValueError:
            shutil.rmtree(folder, ignore_errors=True)
            raise
