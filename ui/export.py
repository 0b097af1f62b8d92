"""One export path: the numbers behind the current view, as JSON, CSV and NPZ files.

Each tab says what its numbers are (its `numbers` function, mostly the API's answer for the
view's controls); this module only writes them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ui.gpu import gpu
from ui.tabs import BY_ID, IDS
from ui.validation import user_errors
from viz.export import write_exports

EXAMPLE_TEXT = "The cat chases a mouse"


@gpu
def export_view(tab: str, components: list, *values) -> list[str]:
    with user_errors():
        by_id = {c.elem_id: value for c, value in zip(components, values)}
        tab = tab if tab in BY_ID else IDS[0]
        data = BY_ID[tab].numbers(by_id, by_id.get("text") or EXAMPLE_TEXT)
        folder = Path(tempfile.mkdtemp(prefix="triptych-"))
        return [str(p) for p in write_exports(data, folder, f"triptych-{tab}")]
