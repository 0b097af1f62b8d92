"""All heads at once: every layer x head attention matrix tiled into ONE heatmap.

One trace with NaN gaps between tiles draws in a fraction of the time of one subplot per head
(see docs/benchmarks.md). Rows and columns are labelled "L<layer> q<query>" and
"H<head> k<key>", so a hovered or clicked cell names its head; the app reads the click to open
that head.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from models.data import AttentionSet
from viz.heatmap import KIND_TITLES
from viz.style import ATTENTION_SCALE, MASKED_COLOR, base_layout, plotly_text


def tile_grid(attn: AttentionSet) -> np.ndarray:
    """(layers * (q + 1) - 1, heads * (k + 1) - 1) float32: the tiles, NaN in gaps and masked cells."""
    layers, heads, q, k = attn.attn.shape
    grid = np.full((layers * (q + 1) - 1, heads * (k + 1) - 1), np.nan, dtype=np.float32)
    masked = attn.mask <= 0
    for layer in range(layers):
        for head in range(heads):
            tile = attn.attn[layer, head].astype(np.float32).copy()
            tile[masked] = np.nan
            grid[layer * (q + 1):layer * (q + 1) + q, head * (k + 1):head * (k + 1) + k] = tile
    return grid


def _labels(count: int, size: int, prefix: str, inner: str, tokens: tuple[str, ...]) -> list[str]:
    """Category labels along one axis; gap rows/columns get unique blank-ish labels."""
    out = []
    for block in range(count):
        out += [f"{prefix}{block} {inner}{i} {plotly_text(tokens[i])}" for i in range(size)]
        if block < count - 1:
            out.append(" " * (block + 1))
    return out


def parse_pick(x: str, y: str) -> tuple[int, int]:
    """(layer, head) of a clicked cell from its axis labels, e.g. ("H3 k5 cat", "L2 q1 the")."""
    try:
        head = int(str(x).split()[0].lstrip("H"))
        layer = int(str(y).split()[0].lstrip("L"))
    except (ValueError, IndexError):
        raise ValueError("That spot is a gap between heads; click inside a tile.") from None
    return layer, head


def overview_figure(attn: AttentionSet, model_name: str = "") -> go.Figure:
    layers, heads, q, k = attn.attn.shape
    x = _labels(heads, k, "H", "k", attn.key_tokens)
    y = _labels(layers, q, "L", "q", attn.query_tokens)
    fig = go.Figure(
        go.Heatmap(
            z=tile_grid(attn),
            x=x,
            y=y,
            colorscale=ATTENTION_SCALE,
            zmin=0.0,
            zmax=1.0,
            hoverongaps=False,
            hovertemplate="%{y} → %{x}<br>weight %{z:.4f}<extra>click to open this head</extra>",
            colorbar=dict(title=dict(text="weight"), thickness=14),
            name="overview",
        )
    )
    size = int(min(1100, max(420, 28 * max(layers, heads) + 3 * max(q, k) * max(layers, heads) // 2)))
    title = f"{model_name + ' · ' if model_name else ''}{KIND_TITLES.get(attn.kind, attn.kind)}: all {layers} x {heads} heads"
    layout = base_layout(title, height=size)
    layout["margin"] = dict(l=70, r=10, t=48, b=60)
    fig.update_layout(
        layout,
        plot_bgcolor=MASKED_COLOR,
        xaxis=dict(tickmode="array", tickvals=[x[h * (k + 1) + k // 2] for h in range(heads)],
                   ticktext=[f"head {h}" for h in range(heads)], showgrid=False, side="top"),
        yaxis=dict(tickmode="array", tickvals=[y[lay * (q + 1) + q // 2] for lay in range(layers)],
                   ticktext=[f"layer {lay}" for lay in range(layers)], showgrid=False, autorange="reversed"),
    )
    return fig
