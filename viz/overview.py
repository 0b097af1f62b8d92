"""All heads at once: every layer x head attention matrix tiled into ONE heatmap.

One trace with NaN gaps between tiles draws in a fraction of the time of one subplot per head
(see docs/benchmarks.md). Rows and columns are labelled "L<layer> q<query>" and
"H<head> k<key>", so a hovered or clicked cell names its head; the app reads the click to open
that head. The chosen head is outlined; the outline's shape and the tile geometry it is placed
with (layout.meta["tiles"]) let the page move it without the figure being sent again.

A tile has at most MAX_TILE x MAX_TILE cells. Longer texts are shown in blocks of neighbouring
queries and keys, each cell the largest weight of its block (a one-token diagonal or sink stays
visible); up to 64 tokens every cell is one weight. Without this, 12 x 12 heads at 512 tokens
would be 38 M cells, ~200 MB for the browser to receive and draw.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from models.data import AttentionSet
from viz.heatmap import blocks as spans, check_head, kind_title
from viz.style import ATTENTION_SCALE, MASKED_COLOR, SELECTED_COLOR, base_layout, plotly_text
from viz.words import model_words, t


MAX_TILE = 64


def blocks(n: int) -> list[tuple[int, int]]:
    """[start, end) of the blocks that n positions are shown in: single positions up to MAX_TILE."""
    return spans(n, MAX_TILE)


def tile_grid(attn: AttentionSet) -> np.ndarray:
    """(layers * (r + 1) - 1, heads * (c + 1) - 1) float32 for r query blocks and c key blocks: the
    tiles (each cell the largest allowed weight of its block), NaN in gaps and fully masked cells."""
    layers, heads, q, k = attn.attn.shape
    rows, cols = blocks(q), blocks(k)
    allowed = np.where(attn.mask > 0, attn.attn.astype(np.float32), -np.inf)
    pooled = np.maximum.reduceat(allowed, [r[0] for r in rows], axis=2)
    pooled = np.maximum.reduceat(pooled, [c[0] for c in cols], axis=3)
    pooled[np.isneginf(pooled)] = np.nan
    r, c = len(rows), len(cols)
    grid = np.full((layers * (r + 1) - 1, heads * (c + 1) - 1), np.nan, dtype=np.float32)
    for layer in range(layers):
        for head in range(heads):
            grid[layer * (r + 1):layer * (r + 1) + r, head * (c + 1):head * (c + 1) + c] = pooled[layer, head]
    return grid


def _labels(count: int, spans: list[tuple[int, int]], prefix: str, inner: str, tokens: tuple[str, ...]) -> list[str]:
    """Category labels along one axis; gap rows/columns get unique blank-ish labels."""
    out = []
    for block in range(count):
        out += [f"{prefix}{block} {inner}{a} {plotly_text(tokens[a])}" if b - a == 1 else
                f"{prefix}{block} {inner}{a}-{b - 1}" for a, b in spans]
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


def tile_box(layer: int, head: int, rows: int, cols: int) -> dict:
    """x0, x1, y0, y1 of a tile of `rows` x `cols` cells in axis units. On a category axis cell i
    spans i - 0.5 .. i + 0.5, and tiles are one gap apart, as tile_grid lays them out; assets/app.js
    computes the same box from layout.meta["tiles"]."""
    x0, y0 = head * (cols + 1) - 0.5, layer * (rows + 1) - 0.5
    return dict(x0=x0, x1=x0 + cols, y0=y0, y1=y0 + rows)


def _outline(attn: AttentionSet, rows: int, cols: int, layer: int | None, head: int | None) -> dict:
    """The chosen head's frame. Without a head it is still there, hidden at head 0, so that the
    page only ever moves it and the figure alone says how it looks."""
    chosen = layer is not None and head is not None
    layer, head = check_head(attn, layer, head) if chosen else (0, 0)
    return dict(type="rect", xref="x", yref="y", **tile_box(layer, head, rows, cols), visible=chosen,
                line=dict(color=SELECTED_COLOR, width=3), fillcolor="rgba(0,0,0,0)", layer="above")


def overview_figure(attn: AttentionSet, model_name: str = "", layer: int | None = None,
                    head: int | None = None) -> go.Figure:
    """Every head of one attention kind; given layer and head, that head's tile is outlined."""
    layers, heads, q, k = attn.attn.shape
    rows, cols = blocks(q), blocks(k)
    pooled = len(rows) < q or len(cols) < k
    x = _labels(heads, cols, "H", "k", attn.key_tokens)
    y = _labels(layers, rows, "L", "q", attn.query_tokens)
    fig = go.Figure(
        go.Heatmap(
            z=tile_grid(attn),
            x=x,
            y=y,
            colorscale=ATTENTION_SCALE,
            zmin=0.0,
            zmax=1.0,
            hoverongaps=False,
            hovertemplate="%{y} → %{x}<br>" + t("largest weight in this block" if pooled else "weight")
            + " %{z:.4f}<extra>" + t("click to open this head") + "</extra>",
            colorbar=dict(title=dict(text=t("weight")), thickness=14),
            name=t("overview"),
        )
    )
    q, k = len(rows), len(cols)
    size = int(min(1100, max(420, 28 * max(layers, heads) + 3 * max(q, k) * max(layers, heads) // 2)))
    title = (model_words(model_name) + " · " if model_name else "") + t("{kind}: all {layers} x {heads} heads",
                                                         kind=kind_title(attn.kind), layers=layers, heads=heads)
    if pooled:
        title += t(" (blocks of {rows} x {cols} tokens, largest weight)", rows=rows[0][1], cols=cols[0][1])
    layout = base_layout(title, height=size)
    layout["margin"] = dict(l=70, r=10, t=48, b=60)
    fig.update_layout(
        layout,
        plot_bgcolor=MASKED_COLOR,
        shapes=[_outline(attn, q, k, layer, head)],
        meta=dict(tiles=dict(rows=q, cols=k, layers=layers, heads=heads)),
        xaxis=dict(tickmode="array", tickvals=[x[h * (k + 1) + k // 2] for h in range(heads)],
                   ticktext=[t("head {}", h) for h in range(heads)], showgrid=False, side="top"),
        yaxis=dict(tickmode="array", tickvals=[y[lay * (q + 1) + q // 2] for lay in range(layers)],
                   ticktext=[t("layer {}", lay) for lay in range(layers)], showgrid=False, autorange="reversed"),
    )
    return fig
