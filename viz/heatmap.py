"""Attention heatmaps and mask matrices for one attention kind of one model.

Rows are queries (the token doing the looking), columns keys (the tokens looked at). Masked
cells are drawn in flat grey with their own hover text, so "not allowed" never looks like
"allowed but small".

Past PAGE_MAX_CELLS positions a side, the page is sent blocks of neighbouring positions, each the
largest allowed weight of its block (as the all-heads overview does), and the mask's blocks say
whether all, some or none of their cells may attend. At 512 tokens a cell is under one pixel of a
Compare column anyway, and the full matrix took 0.65 s to draw in Chromium (docs/benchmarks.md).
The API and exports always carry every weight.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from models.data import AttentionSet
from viz.style import (ALLOWED_COLOR, ATTENTION_SCALE, MASKED_COLOR, PARTLY_COLOR, base_layout, labels_crowd,
                        left_margin, plotly_text, token_axis)
from viz.words import t

KIND_TITLES = {
    "encoder": "encoder self-attention",
    "decoder": "decoder self-attention",
    "cross": "cross-attention (decoder → encoder)",
}


# A Compare column's figure (four columns of 356 px in a 1600 px window), the narrowest place these
# figures are drawn. The page builds the Compare and Attention figures alike (ui/controls.py
# head_view), so labels are laid out for it unless a caller passes the width it draws at.
NARROW_WIDTH = 356
COLORBAR_PX = 78  # the weight colour bar and its labels, taken from the plot's width (measured in Chromium)
PAGE_MAX_CELLS = 256  # positions a side drawn one by one; longer inputs are drawn in blocks


def blocks(n: int, limit: int | None = None) -> list[tuple[int, int]]:
    """[start, end) of the equal blocks (the last may be shorter) that n positions are drawn in,
    at most `limit` (default PAGE_MAX_CELLS) of them: single positions up to `limit`."""
    step = -(-n // (limit or PAGE_MAX_CELLS))
    return [(start, min(start + step, n)) for start in range(0, n, step)]


def pooled_max(values: np.ndarray, rows: list[tuple[int, int]], cols: list[tuple[int, int]]) -> np.ndarray:
    """The largest value of each (row block, column block) over the last two axes."""
    out = np.maximum.reduceat(values, [a for a, _ in rows], axis=-2)
    return np.maximum.reduceat(out, [a for a, _ in cols], axis=-1)


def kind_title(kind: str) -> str:
    """An attention kind's name in the reader's language."""
    return t(KIND_TITLES.get(kind, kind))


def position_labels(tokens: tuple[str, ...], spans: list[tuple[int, int]] | None = None) -> list[str]:
    """One category per position, "3: the", or per block of positions, "4-5: cat sat": unique
    where tokens repeat, and what the hover shows.

    The heatmaps take these as their x and y, so a hover reads the token from the axis (n strings)
    instead of from per-cell customdata (n² strings: at 512 tokens 0.5 M strings, seconds to
    serialise, where the weights themselves travel as one base64 float32 array)."""
    if spans is None:
        return [f"{i}: {plotly_text(token)}" for i, token in enumerate(tokens)]
    return [f"{a}: {plotly_text(tokens[a])}" if b - a == 1 else
            f"{a}-{b - 1}: " + " ".join(plotly_text(tok) for tok in tokens[a:b]) if b - a <= 3 else
            f"{a}-{b - 1}: {plotly_text(tokens[a])} … {plotly_text(tokens[b - 1])}" for a, b in spans]


def _grid(attn: AttentionSet) -> tuple[list, list, list[str], list[str], bool]:
    """Row and column blocks of the page's heatmaps, their category labels, and whether pooled."""
    rows, cols = blocks(len(attn.query_tokens)), blocks(len(attn.key_tokens))
    pooled = len(rows) < len(attn.query_tokens) or len(cols) < len(attn.key_tokens)
    if not pooled:
        return rows, cols, position_labels(attn.key_tokens), position_labels(attn.query_tokens), False
    return rows, cols, position_labels(attn.key_tokens, cols), position_labels(attn.query_tokens, rows), True


def _block_note(rows: list, cols: list, largest: bool = True) -> str:
    text = " (blocks of {rows} x {cols} tokens, largest weight)" if largest else " (blocks of {rows} x {cols} tokens)"
    return t(text, rows=rows[0][1], cols=cols[0][1])


def _axes(layout: dict, attn: AttentionSet, width: int, colorbar: bool, x: list[str], y: list[str],
          rows: list, cols: list) -> dict:
    """`layout` with token axes over the position (or block) categories x and y, the key labels
    turned upright when they would overlap at `width` px. One layout dict, given to go.Figure once:
    plotly's update_layout merges key by key and took most of a Compare column's time."""
    keys = tuple(attn.key_tokens[a] for a, _ in cols)
    queries = tuple(attn.query_tokens[a] for a, _ in rows)
    xaxis = dict(token_axis(keys, t("key (attended to)")), type="category", tickvals=x)
    yaxis = dict(token_axis(queries, t("query (attending)")), type="category", tickvals=y)
    left = left_margin(queries, yaxis["tickfont"]["size"])
    plot = width - left - layout["margin"]["r"] - (COLORBAR_PX if colorbar else 0)
    crowded = labels_crowd(keys, plot, xaxis["tickfont"]["size"])
    return dict(layout, height=int(min(900, max(340, 150 + 24 * len(rows)))), margin=dict(layout["margin"], l=left),
                xaxis=dict(xaxis, tickangle=-90 if crowded else 0), yaxis=dict(yaxis, autorange="reversed"))


def check_head(attn: AttentionSet, layer: int, head: int) -> tuple[int, int]:
    layer, head = int(layer), int(head)
    if not 0 <= layer < attn.layers:
        raise ValueError(f"Layer {layer} does not exist: this model has layers 0 to {attn.layers - 1}.")
    if not 0 <= head < attn.heads:
        raise ValueError(f"Head {head} does not exist: this model has heads 0 to {attn.heads - 1}.")
    return layer, head


def _layer(z: np.ndarray, color: str, hover: str, name: str, x: list[str], y: list[str], **kw) -> go.Heatmap:
    """Cells of one flat colour where z is 1 (nan elsewhere: not drawn, no hover)."""
    return go.Heatmap(z=z, x=x, y=y, colorscale=[[0, color], [1, color]], showscale=False, hoverongaps=False,
                      hovertemplate=hover + "<extra></extra>", name=name, **kw)


def attention_heatmap(attn: AttentionSet, layer: int, head: int, title: str = "",
                      width: int = NARROW_WIDTH) -> go.Figure:
    """One head's attention weights, masked cells greyed out (in blocks past PAGE_MAX_CELLS
    positions). layout.meta names the head, which the page's overview outline follows (assets/app.js)."""
    layer, head = check_head(attn, layer, head)
    rows, cols, x, y, pooled = _grid(attn)
    weights = np.where(attn.mask > 0, attn.attn[layer, head].astype(np.float32), -np.inf)
    if pooled:
        weights = pooled_max(weights, rows, cols)
    allowed = np.isfinite(weights)
    shown = np.where(allowed, weights, np.nan).astype(np.float32)
    weight = t("largest weight in this block") if pooled else t("weight")
    traces = [
        go.Heatmap(
            z=shown,
            x=x,
            y=y,
            colorscale=ATTENTION_SCALE,
            zmin=0.0,
            zmax=float(np.nanmax(shown)) if allowed.any() else 1.0,
            hoverongaps=False,
            hovertemplate=f"{t('query')} %{{y}}<br>{t('key')} %{{x}}<br>{weight} %{{z:.6f}}<extra></extra>",
            colorbar=dict(title=dict(text=t("weight")), thickness=14),
            name=t("attention"),
        ),
    ]
    if not allowed.all():
        hover = f"{t('query')} %{{y}} → {t('key')} %{{x}}: {t('masked, weight exactly 0')}"
        traces.append(_layer(np.where(allowed, np.nan, 1.0).astype(np.float32), MASKED_COLOR, hover, t("masked"), x, y))
    heading = title or t("{kind} · layer {layer} · head {head}", kind=kind_title(attn.kind), layer=layer, head=head)
    layout = dict(base_layout(heading + (_block_note(rows, cols) if pooled else "")), meta=dict(layer=layer, head=head))
    return go.Figure(traces, layout=_axes(layout, attn, width, True, x, y, rows, cols))


def mask_heatmap(attn: AttentionSet, title: str = "", width: int = NARROW_WIDTH) -> go.Figure:
    """The mask applied to this attention kind: dark = may attend, grey = masked (one trace each,
    so each has its own hover text without a string per cell); in blocks past PAGE_MAX_CELLS
    positions, with a third colour for blocks whose cells are partly masked."""
    rows, cols, x, y, pooled = _grid(attn)
    allowed = attn.mask > 0
    share = np.add.reduceat(np.add.reduceat(allowed.astype(np.float32), [a for a, _ in rows], axis=0),
                            [a for a, _ in cols], axis=1) if pooled else allowed.astype(np.float32)
    if pooled:
        share /= np.outer([b - a for a, b in rows], [b - a for a, b in cols])
    where = f"{t('query')} %{{y}}<br>{t('key')} %{{x}}<br>"
    # Grid lines only while cells are wide enough to keep some colour between them.
    gap = 1 if max(share.shape) <= 64 else 0
    layers = ((share == 1, ALLOWED_COLOR, "may attend"), ((share > 0) & (share < 1), PARTLY_COLOR, "partly masked"),
              (share == 0, MASKED_COLOR, "masked"))
    # A layer with no cell is left out: 1.4 MB of nothing for an encoder's full mask at 512 tokens.
    traces = [
        _layer(np.where(cells, 1.0, np.nan).astype(np.float32), color, where + t(name), t(name), x, y, xgap=gap, ygap=gap)
        for cells, color, name in layers if cells.any()
    ]
    n_allowed = int(allowed.sum())
    layout = base_layout(title or t("mask: {kind}", kind=kind_title(attn.kind))
                         + "<br><sup>" + t("{allowed} of {cells} cells allowed", allowed=n_allowed, cells=allowed.size)
                         + (_block_note(rows, cols, largest=False) if pooled else "")
                         + "</sup>")
    layout["margin"]["t"] = 64  # room for the second title line
    return go.Figure(traces, layout=_axes(layout, attn, width, False, x, y, rows, cols))


def difference_heatmap(attn: AttentionSet, difference: np.ndarray, title: str, width: int = NARROW_WIDTH) -> go.Figure:
    """A - B of one head on the same tokens (models.results.AttentionPair), on a diverging scale
    centred at 0: red where A attends more, blue where B does. Drawn cell by cell (no blocks: a
    difference has no "largest" to keep), masked cells left empty."""
    allowed = attn.mask > 0
    shown = np.where(allowed, difference, np.nan).astype(np.float32)
    limit = float(np.nanmax(np.abs(shown))) if allowed.any() and np.isfinite(shown).any() else 1.0
    x, y = position_labels(attn.key_tokens), position_labels(attn.query_tokens)
    trace = go.Heatmap(z=shown, x=x, y=y, colorscale="RdBu_r", zmin=-(limit or 1.0), zmax=limit or 1.0,
                       hoverongaps=False, colorbar=dict(title=dict(text="A − B"), thickness=14), name="A − B",
                       hovertemplate=f"{t('query')} %{{y}}<br>{t('key')} %{{x}}<br>A − B %{{z:.6f}}<extra></extra>")
    spans = [(i, i + 1) for i in range(len(attn.query_tokens))], [(j, j + 1) for j in range(len(attn.key_tokens))]
    return go.Figure([trace], layout=_axes(base_layout(title), attn, width, True, x, y, *spans))
