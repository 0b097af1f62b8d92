"""Shared look of every figure: large type and high contrast so it reads on a projector."""

from __future__ import annotations

FONT = dict(family="Inter, 'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif", size=14, color="#111")

ATTENTION_SCALE = [[0.0, "#f7fbff"], [0.25, "#9ecae1"], [0.6, "#2171b5"], [1.0, "#08306b"]]
MASKED_COLOR = "#c8c8c8"
ALLOWED_COLOR = "#1f4e99"


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


def base_layout(title: str, height: int = 460) -> dict:
    return dict(
        title=dict(text=title, x=0.01, xanchor="left", font=dict(size=16)),
        font=FONT,
        height=height,
        margin=dict(l=120, r=10, t=48, b=120),
        paper_bgcolor="white",
        plot_bgcolor="white",
    )
