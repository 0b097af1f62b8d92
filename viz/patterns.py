"""Layers x heads maps: the pattern label of every head, and the rank of every attention matrix.

Input is the plain analysis data (models.analysis.HeadPatterns / RankReport); output Plotly.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from models.analysis import LABEL_HELP, LABELS, HeadPatterns, RankReport
from viz.heatmap import kind_title
from viz.style import base_layout
from viz.tables import exact_rank_text
from viz.words import model_words, t

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


def _where(row: str = "%{y}", column: str = "%{x}") -> str:
    """"layer %{y} · head %{x}" of a hover text in the reader's language, Plotly's fields kept."""
    return t("layer {layer} · head {head}", layer=row, head=column)


def _grid_layout(fig: go.Figure, title: str, layers: int, heads: int) -> None:
    layout = base_layout(title, height=int(min(700, max(300, 90 + 42 * layers))))
    layout["margin"] = dict(l=80, r=10, t=48, b=50)
    fig.update_layout(
        layout,
        xaxis=dict(title=dict(text=t("head")), tickmode="array", tickvals=list(range(heads)), showgrid=False),
        yaxis=dict(title=dict(text=t("layer")), tickmode="array", tickvals=list(range(layers)), showgrid=False,
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
    # The labels are API values (models.analysis); each cell shows them in the reader's language.
    names = {name: t(name) for name in LABELS}
    meanings = {name: t(LABEL_HELP[name]) for name in LABELS}
    label_words = np.vectorize(names.get, otypes=[object])(patterns.label)
    help_text = np.vectorize(meanings.get, otypes=[object])(patterns.label)
    custom = np.concatenate([label_words[..., None], help_text[..., None], metrics.astype(object)], -1)
    hover = (_where() + ": <b>%{customdata[0]}</b> (" + t("score {}", "%{customdata[2]:.3f}") + ")<br>%{customdata[1]}"
             "<br>" + t("entropy {} · distance {} tokens", "%{customdata[3]:.3f}", "%{customdata[4]:.2f}")
             + "<br>" + t("first/special share {} · top column {}", "%{customdata[5]:.3f}", "%{customdata[6]:.3f}")
             + "<br>" + t("previous {} · diagonal {} · next {}", "%{customdata[7]:.3f}", "%{customdata[8]:.3f}",
                          "%{customdata[9]:.3f}")
             + "<br>" + t("own segment {} (-1: one segment only)", "%{customdata[10]:.3f}") + "<extra></extra>")
    text = np.vectorize(lambda name: t(SHORT[name]), otypes=[object])(patterns.label)
    fig = go.Figure(go.Heatmap(
        z=codes, zmin=0, zmax=n, colorscale=scale, showscale=False, xgap=2, ygap=2,
        text=text, texttemplate="%{text}", textfont=dict(size=13, color="white"),
        customdata=custom, hovertemplate=hover, name="patterns",
    ))
    # A legend of the labels that occur, as empty scatter entries.
    for name in LABELS:
        if name in patterns.label:
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers",
                                     name=t("{label}: {meaning}", label=names[name], meaning=meanings[name]),
                                     marker=dict(size=12, color=LABEL_COLORS[name], symbol="square")))
    title = f"{model_words(model_name) + ' · ' if model_name else ''}" + t("head patterns, {kind}", kind=kind_title(patterns.kind))
    _grid_layout(fig, title, layers, heads)
    fig.update_layout(showlegend=True, legend=dict(orientation="h", y=-0.3, yanchor="top", font=dict(size=12)),
                      height=fig.layout.height + 90, margin=dict(b=140))
    return fig


def rank_map(report: RankReport, model_name: str = "") -> go.Figure:
    """Numerical rank of each head's attention matrix, as a share of its size, rank in the cell."""
    layers, heads = report.rank.shape
    full = min(report.shape)
    share = (report.rank / full).astype(np.float32)
    numbers = np.stack([report.rank.astype(np.float64), report.effective_rank, report.min_diagonal,
                        report.singular_values[..., -1], report.float_rank.astype(np.float64)], -1)
    custom = np.concatenate([numbers.astype(object), _exact_words(report)[..., None]], -1)
    fig = go.Figure(go.Heatmap(
        z=share, zmin=0.0, zmax=1.0, colorscale="Viridis", xgap=2, ygap=2,
        text=report.rank.astype(str), texttemplate="%{text}", textfont=dict(size=13),
        customdata=custom,
        hovertemplate=(_where() + "<br>" + t("rank {rank} of {full} (tolerance {tolerance} x largest)",
                                             rank="%{customdata[0]:.0f}", full=full, tolerance=f"{report.tolerance:g}")
                       + "<br>" + t("effective rank {}", "%{customdata[1]:.2f}")
                       + "<br>" + t("smallest diagonal weight {}", "%{customdata[2]:.2e}")
                       + "<br>" + t("smallest singular value {}", "%{customdata[3]:.2e}") + "<br>"
                       + t("rank at float32 precision (σ > {:.1e} σ1): {}", report.float_tolerance, "%{customdata[4]:.0f}")
                       + "<br>%{customdata[5]}<extra></extra>"),
        colorbar=dict(title=dict(text=t("rank / n")), thickness=14), name="rank",
    ))
    title = (f"{model_words(model_name) + ' · ' if model_name else ''}"
             + t("numerical rank, {kind} (n = {n})", kind=kind_title(report.kind), n=full))
    _grid_layout(fig, title, layers, heads)
    # The exact argument sits apart from the numerical rank the cells show: it needs no tolerance.
    fig.update_layout(title_subtitle_text=exact_rank_text(report), margin=dict(t=72))
    return fig


def _exact_words(report: RankReport) -> np.ndarray:
    """(layers, heads) object: each head's exact verdict, for the hover."""
    words = np.full(report.rank.shape, t("not triangular: no exact argument"), dtype=object)
    for index in zip(*np.nonzero(report.triangular)):
        words[index] = (t("full rank exactly: triangular, every a[i, i] > 0, log det = {:.1f}", report.log_det[index])
                        if report.full_rank_exact[index] else t("triangular, but a diagonal weight is 0: det = 0"))
    return words


def effective_rank_map(report: RankReport, model_name: str = "") -> go.Figure:
    layers, heads = report.rank.shape
    full = min(report.shape)
    fig = go.Figure(go.Heatmap(
        z=report.effective_rank.astype(np.float32), zmin=1.0, zmax=float(full), colorscale="Cividis",
        xgap=2, ygap=2, text=np.char.mod("%.1f", report.effective_rank), texttemplate="%{text}",
        hovertemplate=_where() + "<br>" + t("effective rank {} of {}", "%{z:.3f}", full) + "<extra></extra>",
        colorbar=dict(title=dict(text=t("eff. rank")), thickness=14), name="effective rank",
    ))
    title = f"{model_words(model_name) + ' · ' if model_name else ''}" + t("effective rank (exp of singular-value entropy)")
    _grid_layout(fig, title, layers, heads)
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
            name=f"{name} L{lay} H{hd}: " + t("rank {rank} of {full}", rank=report.rank[lay, hd], full=len(s)),
            hovertemplate="σ%{x} = %{y:.3e}<extra>" + name + "</extra>",
        ))
        cut = report.tolerance * float(s[0])
        fig.add_trace(go.Scatter(x=[1, len(s)], y=[cut, cut], mode="lines", line=dict(color=color, dash="dot"),
                                 name=f"{name} " + t("tolerance {} x σ1", f"{report.tolerance:g}"), hoverinfo="skip"))
    layout = base_layout(t("singular values of layer {layer}, head {head}", layer=layer, head=head), height=420)
    layout["margin"] = dict(l=80, r=10, t=48, b=60)
    fig.update_layout(layout, xaxis=dict(title=dict(text=t("index i"))),
                      yaxis=dict(title=dict(text="σi"), type="log", exponentformat="power"),
                      legend=dict(orientation="h", y=-0.2, font=dict(size=12)))
    return fig
