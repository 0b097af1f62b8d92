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


def _pairs(query: tuple[str, ...], key: tuple[str, ...]) -> np.ndarray:
    """(query, key, 2) labels for hover text."""
    q = np.asarray([plotly_text(token) for token in query], dtype=object)[:, None]
    k = np.asarray([plotly_text(token) for token in key], dtype=object)[None, :]
    return np.stack(np.broadcast_arrays(q, k), axis=-1)


def _axes(fig: go.Figure, attn: AttentionSet, width: int, colorbar: bool) -> None:
    """Token axes, the key labels turned upright when they would overlap at `width` px."""
    rows = len(attn.query_tokens)
    xaxis = token_axis(attn.key_tokens, t("key (attended to)"))
    yaxis = token_axis(attn.query_tokens, t("query (attending)"))
    left = left_margin(attn.query_tokens, yaxis["tickfont"]["size"])
    plot = width - left - fig.layout.margin.r - (COLORBAR_PX if colorbar else 0)
    crowded = labels_crowd(attn.key_tokens, plot, xaxis["tickfont"]["size"])
    fig.update_layout(
        height=int(min(900, max(340, 150 + 24 * rows))),
        margin=dict(l=left),
        xaxis=dict(xaxis, tickangle=-90 if crowded else 0),
        yaxis=dict(yaxis, autorange="reversed"),
    )


def check_head(attn: AttentionSet, layer: int, head: int) -> tuple[int, int]:
    layer, head = int(layer), int(head)
    if not 0 <= layer < attn.layers:
        raise ValueError(f"Layer {layer} does not exist: this model has layers 0 to {attn.layers - 1}.")
    if not 0 <= head < attn.heads:
        raise ValueError(f"Head {head} does not exist: this model has heads 0 to {attn.heads - 1}.")
    return layer, head


def attention_heatmap(attn: AttentionSet, layer: int, head: int, title: str = "",
                      width: int = NARROW_WIDTH) -> go.Figure:
    """One head's attention weights, masked cells greyed out. layout.meta names the head, which
    the page's overview outline follows (assets/app.js)."""
    layer, head = check_head(attn, layer, head)
    weights = attn.attn[layer, head].astype(np.float32)
    allowed = attn.mask > 0
    shown = np.where(allowed, weights, np.nan).astype(np.float32)
    masked = np.where(allowed, np.nan, 1.0).astype(np.float32)
    pairs = _pairs(attn.query_tokens, attn.key_tokens)
    fig = go.Figure(
        [
            go.Heatmap(
                z=shown,
                customdata=pairs,
                colorscale=ATTENTION_SCALE,
                zmin=0.0,
                zmax=float(np.nanmax(shown)) if allowed.any() else 1.0,
                hoverongaps=False,
                hovertemplate=f"{t('query')} %{{y}}: %{{customdata[0]}}<br>{t('key')} %{{x}}: %{{customdata[1]}}"
                f"<br>{t('weight')} %{{z:.6f}}<extra></extra>",
                colorbar=dict(title=dict(text=t("weight")), thickness=14),
                name=t("attention"),
            ),
            go.Heatmap(
                z=masked,
                colorscale=[[0, MASKED_COLOR], [1, MASKED_COLOR]],
                showscale=False,
                hoverongaps=False,
                hovertemplate=f"{t('query')} %{{y}} → {t('key')} %{{x}}: {t('masked, weight exactly 0')}<extra></extra>",
                name=t("masked"),
            ),
        ]
    )
    fig.update_layout(base_layout(title or t("{kind} · layer {layer} · head {head}", kind=kind_title(attn.kind),
                                              layer=layer, head=head)),
                      meta=dict(layer=layer, head=head))
    _axes(fig, attn, width, colorbar=True)
    return fig


def mask_heatmap(attn: AttentionSet, title: str = "", width: int = NARROW_WIDTH) -> go.Figure:
    """The mask applied to this attention kind: dark = may attend, grey = masked."""
    allowed = (attn.mask > 0).astype(np.float32)
    text = np.where(allowed > 0, t("may attend"), t("masked"))
    pairs = _pairs(attn.query_tokens, attn.key_tokens)
    fig = go.Figure(
        go.Heatmap(
            z=allowed,
            customdata=np.concatenate([pairs, text[..., None].astype(object)], axis=-1),
            colorscale=[[0, MASKED_COLOR], [0.5, MASKED_COLOR], [0.5, ALLOWED_COLOR], [1, ALLOWED_COLOR]],
            zmin=0,
            zmax=1,
            showscale=False,
            xgap=1,
            ygap=1,
            hovertemplate=f"{t('query')} %{{y}}: %{{customdata[0]}}<br>{t('key')} %{{x}}: %{{customdata[1]}}"
            "<br>%{customdata[2]}<extra></extra>",
            name=t("mask"),
        )
    )
    n_allowed = int(allowed.sum())
    layout = base_layout(title or t("mask: {kind}", kind=kind_title(attn.kind))
                         + "<br><sup>" + t("{allowed} of {cells} cells allowed", allowed=n_allowed, cells=allowed.size)
                         + "</sup>")
    layout["margin"]["t"] = 64  # room for the second title line
    fig.update_layout(layout)
    _axes(fig, attn, width, colorbar=False)
    return fig
