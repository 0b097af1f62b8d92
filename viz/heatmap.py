"""Attention heatmaps and mask matrices for one attention kind of one model.

Rows are queries (the token doing the looking), columns keys (the tokens looked at). Masked
cells are drawn in flat grey with their own hover text, so "not allowed" never looks like
"allowed but small".
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from models.data import AttentionSet
from viz.style import (ALLOWED_COLOR, ATTENTION_SCALE, MASKED_COLOR, base_layout, labels_crowd, left_margin,
                        plotly_text, token_axis)
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


def kind_title(kind: str) -> str:
    """An attention kind's name in the reader's language."""
    return t(KIND_TITLES.get(kind, kind))


def position_labels(tokens: tuple[str, ...]) -> list[str]:
    """One category per position, "3: the": unique where tokens repeat, and what the hover shows.

    The heatmaps take these as their x and y, so a hover reads the token from the axis (n strings)
    instead of from per-cell customdata (n² strings: at 512 tokens 0.5 M strings, seconds to
    serialise, where the weights themselves travel as one base64 float32 array)."""
    return [f"{i}: {plotly_text(token)}" for i, token in enumerate(tokens)]


def _axes(layout: dict, attn: AttentionSet, width: int, colorbar: bool, x: list[str], y: list[str]) -> dict:
    """`layout` with token axes over the position categories x and y, the key labels turned
    upright when they would overlap at `width` px. One layout dict, given to go.Figure once:
    plotly's update_layout merges key by key and took most of a Compare column's time."""
    rows = len(attn.query_tokens)
    xaxis = dict(token_axis(attn.key_tokens, t("key (attended to)")), type="category", tickvals=x)
    yaxis = dict(token_axis(attn.query_tokens, t("query (attending)")), type="category", tickvals=y)
    left = left_margin(attn.query_tokens, yaxis["tickfont"]["size"])
    plot = width - left - layout["margin"]["r"] - (COLORBAR_PX if colorbar else 0)
    crowded = labels_crowd(attn.key_tokens, plot, xaxis["tickfont"]["size"])
    return dict(layout, height=int(min(900, max(340, 150 + 24 * rows))), margin=dict(layout["margin"], l=left),
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
    """One head's attention weights, masked cells greyed out. layout.meta names the head, which
    the page's overview outline follows (assets/app.js)."""
    layer, head = check_head(attn, layer, head)
    weights = attn.attn[layer, head].astype(np.float32)
    allowed = attn.mask > 0
    shown = np.where(allowed, weights, np.nan).astype(np.float32)
    x, y = position_labels(attn.key_tokens), position_labels(attn.query_tokens)
    traces = [
        go.Heatmap(
            z=shown,
            x=x,
            y=y,
            colorscale=ATTENTION_SCALE,
            zmin=0.0,
            zmax=float(np.nanmax(shown)) if allowed.any() else 1.0,
            hoverongaps=False,
            hovertemplate=f"{t('query')} %{{y}}<br>{t('key')} %{{x}}<br>{t('weight')} %{{z:.6f}}<extra></extra>",
            colorbar=dict(title=dict(text=t("weight")), thickness=14),
            name=t("attention"),
        ),
    ]
    if not allowed.all():
        hover = f"{t('query')} %{{y}} → {t('key')} %{{x}}: {t('masked, weight exactly 0')}"
        traces.append(_layer(np.where(allowed, np.nan, 1.0).astype(np.float32), MASKED_COLOR, hover, t("masked"), x, y))
    layout = dict(base_layout(title or t("{kind} · layer {layer} · head {head}", kind=kind_title(attn.kind),
                                         layer=layer, head=head)), meta=dict(layer=layer, head=head))
    return go.Figure(traces, layout=_axes(layout, attn, width, colorbar=True, x=x, y=y))


def mask_heatmap(attn: AttentionSet, title: str = "", width: int = NARROW_WIDTH) -> go.Figure:
    """The mask applied to this attention kind: dark = may attend, grey = masked (one trace each,
    so each has its own hover text without a string per cell)."""
    allowed = attn.mask > 0
    x, y = position_labels(attn.key_tokens), position_labels(attn.query_tokens)
    where = f"{t('query')} %{{y}}<br>{t('key')} %{{x}}<br>"
    # Grid lines only while cells are wide enough to keep some colour between them.
    gap = 1 if max(allowed.shape) <= 64 else 0
    # A layer with no cell is left out: 1.4 MB of nothing for an encoder's full mask at 512 tokens.
    traces = [
        _layer(np.where(cells, 1.0, np.nan).astype(np.float32), color, where + t(name), t(name), x, y, xgap=gap, ygap=gap)
        for cells, color, name in ((allowed, ALLOWED_COLOR, "may attend"), (~allowed, MASKED_COLOR, "masked"))
        if cells.any()
    ]
    n_allowed = int(allowed.sum())
    layout = base_layout(title or t("mask: {kind}", kind=kind_title(attn.kind))
                         + "<br><sup>" + t("{allowed} of {cells} cells allowed", allowed=n_allowed, cells=allowed.size)
                         + "</sup>")
    layout["margin"]["t"] = 64  # room for the second title line
    return go.Figure(traces, layout=_axes(layout, attn, width, colorbar=False, x=x, y=y))
