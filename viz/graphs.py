"""Attention as graphs: one head's token graph (networkx), and token importance by rollout and flow.

The token graph has a node per position and an edge query -> key for every weight at or above
a threshold. Drawn with tokens on a line, edges to earlier tokens arc above it and edges to
later tokens below: in a decoder every arc is above, because every edge points backwards.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import plotly.graph_objects as go

from models.analysis import Importance
from models.data import AttentionSet
from viz.heatmap import check_head, kind_title
from viz.style import base_layout, plotly_text
from viz.words import model_words, t

BACKWARD_COLOR = "#2166ac"
FORWARD_COLOR = "#d6604d"
ARC_POINTS = 16


def token_graph(attn: AttentionSet, layer: int, head: int, threshold: float) -> nx.DiGraph:
    """Nodes are positions (with their token and self-attention weight); an edge q -> k carries
    weight a[q, k] when that weight is at least `threshold` and q != k."""
    layer, head = check_head(attn, layer, head)
    threshold = float(threshold)
    if not np.isfinite(threshold) or not 0 <= threshold <= 1:
        raise ValueError("The edge threshold must be between 0 and 1.")
    if len(attn.query_tokens) != len(attn.key_tokens):
        raise ValueError("The token graph is drawn for self-attention; cross-attention links two sequences.")
    weights = attn.attn[layer, head]
    graph = nx.DiGraph(kind=attn.kind, layer=layer, head=head, threshold=threshold)
    for i, tok in enumerate(attn.query_tokens):
        graph.add_node(i, token=tok, self_weight=float(weights[i, i]))
    queries, keys = np.nonzero((weights >= threshold) & (attn.mask > 0))
    graph.add_weighted_edges_from((int(q), int(k), float(weights[q, k])) for q, k in zip(queries, keys) if q != k)
    return graph


def _arc(q: int, k: int) -> tuple[list[float], list[float]]:
    angle = np.linspace(0.0, np.pi, ARC_POINTS)
    centre, radius = (q + k) / 2, abs(q - k) / 2
    x = centre + radius * np.cos(angle) * (1 if q > k else -1)
    height = np.sin(angle) * (0.25 + 0.12 * abs(q - k))
    y = height if k < q else -height
    return x.tolist(), y.tolist()


def token_graph_figure(graph: nx.DiGraph) -> go.Figure:
    n = graph.number_of_nodes()
    traces = []
    arcs = {(q, k): _arc(q, k) for q, k in graph.edges}
    for backward, color, name in ((True, BACKWARD_COLOR, t("to an earlier token")),
                                  (False, FORWARD_COLOR, t("to a later token"))):
        edges = [(q, k, w) for q, k, w in graph.edges(data="weight") if (k < q) == backward]
        # Four width bands instead of one trace per edge: a long text has thousands of edges.
        legend = True
        for band in range(4):
            low, high = band / 4, (band + 1) / 4
            chosen = [(q, k, w) for q, k, w in edges if low <= w < high or (band == 3 and w >= 1.0)]
            if not chosen:
                continue
            xs, ys = [], []
            for q, k, _ in chosen:
                x, y = arcs[q, k]
                xs += x + [None]
                ys += y + [None]
            traces.append(go.Scatter(x=xs, y=ys, mode="lines", hoverinfo="skip", showlegend=legend,
                                     name=name, legendgroup=name,
                                     line=dict(color=color, width=1 + 6 * (low + high) / 2),
                                     opacity=0.45 + 0.5 * high))
            legend = False
        if edges:
            mids = [arcs[q, k] for q, k, _ in edges]
            traces.append(go.Scatter(
                x=[m[0][ARC_POINTS // 2] for m in mids], y=[m[1][ARC_POINTS // 2] for m in mids], mode="markers",
                marker=dict(size=7, color=color), showlegend=False, name=f"edges {name}",
                customdata=[[plotly_text(graph.nodes[q]["token"]), plotly_text(graph.nodes[k]["token"]), w]
                            for q, k, w in edges],
                text=[f"{q}→{k}" for q, k, _ in edges],
                hovertemplate="%{text}: %{customdata[0]} → %{customdata[1]}<br>" + t("weight")
                + " %{customdata[2]:.4f}<extra></extra>",
            ))
    tokens = [plotly_text(graph.nodes[i]["token"]) for i in range(n)]
    self_weights = [graph.nodes[i]["self_weight"] for i in range(n)]
    traces.append(go.Scatter(
        x=list(range(n)), y=[0.0] * n, mode="markers+text", text=tokens, textposition="bottom center",
        marker=dict(size=[10 + 24 * w for w in self_weights], color="#111", line=dict(color="white", width=1)),
        customdata=np.array([tokens, self_weights], dtype=object).T, name="tokens", showlegend=False,
        hovertemplate=t("position {}", "%{x}") + ": %{customdata[0]}<br>"
        + t("attends to itself {}", "%{customdata[1]:.4f}") + "<extra></extra>",
    ))
    fig = go.Figure(traces)
    g = graph.graph
    title = t("token graph, {kind} · layer {layer} · head {head}: {edges} edges with weight ≥ {threshold}",
              kind=kind_title(g.get("kind")), layer=g.get("layer"), head=g.get("head"), edges=graph.number_of_edges(),
              threshold=f"{g.get('threshold', 0):g}")
    layout = base_layout(title, height=440)
    layout["margin"] = dict(l=20, r=10, t=48, b=40)
    fig.update_layout(layout, xaxis=dict(visible=False, range=[-1, n]),
                      yaxis=dict(visible=False, scaleanchor=None),
                      legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"))
    return fig


def importance_figure(result: Importance, model_name: str = "") -> go.Figure:
    """Rollout and flow score of every input token for the chosen query position, side by side."""
    x = [f"{i} {plotly_text(token)}" for i, token in enumerate(result.tokens)]
    bars = [go.Bar(x=x, y=result.rollout.astype(np.float32), name=t("attention rollout"), marker_color="#2166ac",
                   hovertemplate="%{x}<br>" + t("rollout {}", "%{y:.4f}") + "<extra></extra>")]
    if result.flow is not None:
        # Flow divided by its sum, as Abnar and Zuidema's code shows it, so both bars sum to 1;
        # the raw max-flow value is in the hover and the API.
        bars.append(go.Bar(x=x, y=result.flow.astype(np.float32), name=t("attention flow (max flow, normalised)"),
                           marker_color="#d6604d", customdata=result.flow_raw.astype(np.float32),
                           hovertemplate="%{x}<br>" + t("flow {} (max flow {})", "%{y:.4f}", "%{customdata:.4f}")
                           + "<extra></extra>"))
    fig = go.Figure(bars)
    title = (f"{model_words(model_name) + ' · ' if model_name else ''}"
             + t("which input tokens reach position {position} ({token}) through every layer",
                 position=result.position, token=plotly_text(result.tokens[result.position])))
    if result.flow is None:
        title += " · " + t("rollout only: this input is too long for attention flow")
    layout = base_layout(title, height=420)
    layout["margin"] = dict(l=60, r=10, t=48, b=120)
    fig.update_layout(layout, barmode="group", legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"),
                      xaxis=dict(tickangle=-60 if len(x) > 10 else 0, type="category"),
                      yaxis=dict(title=dict(text=t("score"))))
    return fig
