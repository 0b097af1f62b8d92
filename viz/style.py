"""Shared look of every figure: large type and high contrast so it reads on a projector."""

from __future__ import annotations

import unicodedata

FONT = dict(family="Inter, 'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif", size=14, color="#111")

ATTENTION_SCALE = [[0.0, "#f7fbff"], [0.25, "#9ecae1"], [0.6, "#2171b5"], [1.0, "#08306b"]]
MASKED_COLOR = "#c8c8c8"
ALLOWED_COLOR = "#1f4e99"
PARTLY_COLOR = "#8fa7cc"  # a block of cells some of which are masked (long inputs, viz/heatmap.py)
SELECTED_COLOR = "#e6550d"  # orange: stands out on the blue scale and on grey gaps


def plotly_text(text: str) -> str:
    """Plotly reads a few HTML tags in any text it draws: "</s>" would vanish as a closing tag.
    Escaped, a token shows as itself (Plotly turns the entities back into characters)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def token_axis(labels: tuple[str, ...] | list[str], title: str) -> dict:
    """A categorical axis over positions: tokens may repeat, positions never do."""
    axis = dict(
        title=dict(text=title),
        tickmode="array",
        tickvals=list(range(len(labels))),
        ticktext=[plotly_text(label) for label in labels],
        showgrid=False,
        zeroline=False,
        automargin=False,  # fixed margins: automargin redraw loops squeezed narrow plots
        tickfont=dict(size=13 if len(labels) <= 32 else 10),
    )
    return axis


def text_px(text: str, size: float) -> float:
    """A label's drawn width, guessed: Plotly measures text only in the browser. About 0.55 em a
    character (~7 px at 13 px), twice that for wide ones such as Chinese."""
    return size * 0.55 * sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(text))


def labels_crowd(labels, width: float, size: float) -> bool:
    """Whether horizontal category labels, each centred in an equal share of `width` px, would
    touch a neighbour: one long label among short ones crowds as surely as a long total does."""
    widths = [text_px(label, size) for label in labels]
    if len(widths) < 2:
        return bool(widths) and widths[0] > width
    slot = width / len(widths)
    return max((a + b) / 2 for a, b in zip(widths, widths[1:])) + 4 > slot


def left_margin(labels, size: float) -> int:
    """Room for the row labels and the rotated axis title beside them, at most the 120 px every
    figure used to keep: short tokens leave a narrow figure's plot most of its width."""
    widest = max((text_px(label, size) for label in labels), default=0.0)
    return int(min(120, max(64, 34 + widest)))


def base_layout(title: str, height: int = 460) -> dict:
    return dict(
        title=dict(text=title, x=0.01, xanchor="left", font=dict(size=16)),
        font=FONT,
        height=height,
        margin=dict(l=120, r=10, t=48, b=120),
        paper_bgcolor="white",
        plot_bgcolor="white",
    )
