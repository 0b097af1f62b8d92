"""Layers x heads maps: the pattern label of every head, and the rank of every attention matrix.

Input is the plain analysis data (models.analysis.HeadPatterns / RankReport); output Plotly.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from models.analysis import LABEL_HELP, LABELS, HeadPatterns, RankReport
from viz.heatmap import KIND_TITLES
from viz.style import base_layout

LABEL_COLORS = {
    "diagonal": "#7b3294",
    "previous-token": "#1b7837",
    "next-token": "#5aae61",
    "sink": "#d6604d",
    "block": "#2166ac",
    "broad": "#92c5de",
    "mixed": "#d9d9d9",
}
SHORT = {"diagonal": "diag", "previous-token": "prev", "next-token": "next", "sink": "sink", "block": "block",
         "broad": "broad", "mixed": "mix"}
PATTERN_FIELDS = ("score", "entropy", "distance", "sink", "vertical", "previous", "diagonal", "next", "block")


def _grid_layout(fig: go.Figure, title: str, layers: int, heads: int) -> None:
    layout = base_layout(title, height=int(min(700, max(300, 90 + 42 * layers))))
    layout["margin"] = dict(l=80, r=10, t=48, b=50)
    fig.update_layout(
        layout,
        xaxis=dict(title=dict(text="head"), tickmode="array", tickvals=list(range(heads)), showgrid=False),
        yaxis=dict(title=dict(text="layer"), tickmode="array", tickvals=list(range(layers)), showgrid=False,
                   autorange="reversed"),
    )


def pattern_map(patterns: HeadPatterns, model_name: str = "") -> go.Figure:
    """Each head coloured by its label, the label written in the cell, every metric on hover."""
    layers, heads = patterns.label.shape
    # The centre of each label's colour band, so no code sits on a band edge.
    codes = np.vectorize(LABELS.index)(patterns.label).astype(np.float32) + 0.5
    n = len(LABELS)
    scale = []
    for i, name in enumerate(LABELS):
        scale += [[i / n, LABEL_COLORS[name]], [(i + 1) / n, LABEL_COLORS[name]]]
    metrics = np.stack([np.nan_to_num(getattr(patterns, f), nan=-1.0) for f in PATTERN_FIELDS], -1).astype(np.float32)
    help_text = np.vectorize(LABEL_HELP.get)(patterns.label)
    custom = np.concatenate([patterns.label[..., None].astype(object), help_text[..., None].astype(object),
                             metrics.astype(object)], -1)
    hover = ("layer %{y} · head %{x}: <b>%{customdata[0]}</b> (score %{customdata[2]:.3f})<br>%{customdata[1]}"
             "<br>entropy %{customdata[3]:.3f} · distance %{customdata[4]:.2f} tokens"
             "<br>first/special share %{customdata[5]:.3f} · top column %{customdata[6]:.3f}"
             "<br>previous %{customdata[7]:.3f} · diagonal %{customdata[8]:.3f} · next %{customdata[9]:.3f}"
             "<br>own segment %{customdata[10]:.3f} (-1: one segment only)<extra></extra>")
    text = np.vectorize(SHORT.get)(patterns.label)
    fig = go.Figure(go.Heatmap(
        z=codes, zmin=0, zmax=n, colorscale=scale, showscale=False, xgap=2, ygap=2,
        text=text, texttemplate="%{text}", textfont=dict(size=13, color="white"),
        customdata=custom, hovertemplate=hover, name="patterns",
    ))
    # A legend of the labels that occur, as empty scatter entries.
    for name in LABELS:
        if name in patterns.label:
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=f"{name}: {LABEL_HELP[name]}",
                                     marker=dict(size=12, color=LABEL_COLORS[name], symbol="square")))
    title = f"{model_name + ' · ' if model_name else ''}head patterns, {KIND_TITLES.get(patterns.kind, patterns.kind)}"
    _grid_layout(fig, title, layers, heads)
    fig.update_layout(showlegend=True, legend=dict(orientation="h", y=-0.3, yanchor="top", font=dict(size=12)),
                      height=fig.layout.height + 90, margin=dict(b=140))
    return fig


def rank_map(report: RankReport, model_name: str = "") -> go.Figure:
    """Numerical rank of each head's attention matrix, as a share of its size, rank in the cell."""
    layers, heads = report.rank.shape
    full = min(report.shape)
    share = (report.rank / full).astype(np.float32)
    custom = np.stack([report.rank.astype(np.float64), report.effective_rank, report.min_diagonal,
                       report.singular_values[..., -1]], -1)
    fig = go.Figure(go.Heatmap(
        z=share, zmin=0.0, zmax=1.0, colorscale="Viridis", xgap=2, ygap=2,
        text=report.rank.astype(str), texttemplate="%{text}", textfont=dict(size=13),
        customdata=custom,
        hovertemplate=(f"layer %{{y}} · head %{{x}}<br>rank %{{customdata[0]:.0f}} of {full}"
                       f" (tolerance {report.tolerance:g} x largest)<br>effective rank %{{customdata[1]:.2f}}"
                       "<br>smallest diagonal weight %{customdata[2]:.2e}<br>smallest singular value "
                       "%{customdata[3]:.2e}<extra></extra>"),
        colorbar=dict(title=dict(text="rank / n"), thickness=14), name="rank",
    ))
    title = (f"{model_name + ' · ' if model_name else ''}numerical rank, "
             f"{KIND_TITLES.get(report.kind, report.kind)} (n = {full})")
    _grid_layout(fig, title, layers, heads)
    return fig


def effective_rank_map(report: RankReport, model_name: str = "") -> go.Figure:
    layers, heads = report.rank.shape
    full = min(report.shape)
    fig = go.Figure(go.Heatmap(
        z=report.effective_rank.astype(np.float32), zmin=1.0, zmax=float(full), colorscale="Cividis",
        xgap=2, ygap=2, text=np.char.mod("%.1f", report.effective_rank), texttemplate="%{text}",
        hovertemplate="layer %{y} · head %{x}<br>effective rank %{z:.3f}" + f" of {full}<extra></extra>",
        colorbar=dict(title=dict(text="eff. rank"), thickness=14), name="effective rank",
    ))
    _grid_layout(fig, f"{model_name + ' · ' if model_name else ''}effective rank (exp of singular-value entropy)",
                 layers, heads)
    return fig


def spectrum_figure(reports: list[tuple[str, RankReport]], layer: int, head: int) -> go.Figure:
    """Singular values of one head, one line per model, on a log scale, with each tolerance line."""
    fig = go.Figure()
    colors = ["#2166ac", "#b2182b", "#1b7837", "#762a83"]
    for (name, report), color in zip(reports, colors):
        lay = min(max(int(layer), 0), report.rank.shape[0] - 1)
        hd = min(max(int(head), 0), report.rank.shape[1] - 1)
        s = report.singular_values[lay, hd]
        fig.add_trace(go.Scatter(
            x=np.arange(1, len(s) + 1), y=s, mode="lines+markers", line=dict(color=color, width=3),
            name=f"{name} L{lay} H{hd}: rank {report.rank[lay, hd]} of {len(s)}",
            hovertemplate="σ%{x} = %{y:.3e}<extra>" + name + "</extra>",
        ))
        cut = report.tolerance * float(s[0])
        fig.add_trace(go.Scatter(x=[1, len(s)], y=[cut, cut], mode="lines", line=dict(color=color, dash="dot"),
                                 name=f"{name} tolerance {report.tolerance:g} x σ1", hoverinfo="skip"))
    layout = base_layout(f"singular values of layer {layer}, head {head}", height=420)
    layout["margin"] = dict(l=80, r=10, t=48, b=60)
    fig.update_layout(layout, xaxis=dict(title=dict(text="index i")),
                      yaxis=dict(title=dict(text="σi"), type="log", exponentformat="power"),
                      legend=dict(orientation="h", y=-0.2, font=dict(size=12)))
    return fig
