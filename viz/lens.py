"""The logit lens as one heatmap: layers (rows, the embeddings at the bottom) by positions
(columns); each cell names the top token the output head reads there and is coloured by the
probability of the model's final prediction at that layer. Input: models.results.LogitLens.
And the two other readings of one prediction: head ablation's ranking (models.results.Ablation)
and input attribution (models.results.Attribution); and one head's query and key vectors
(models.results.QKVectors)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from models.results import LogitLens
from viz.style import ATTENTION_SCALE, base_layout, labels_crowd, plotly_text, token_axis
from viz.words import model_words, t


def lens_figure(result: LogitLens) -> go.Figure:
    layers, positions, _ = result.top_ids.shape
    rows = [t("embeddings")] + [t("layer {}", i) for i in range(1, layers)]
    columns = [f"{p}: {plotly_text(result.tokens[p])}" for p in result.positions]
    top = np.array([[plotly_text(result.top_tokens[layer][i][0]) for i in range(positions)] for layer in range(layers)],
                   dtype=object)
    final = np.array([plotly_text(token) for token in result.final_tokens], dtype=object)
    custom = np.stack([top, np.broadcast_to(final, top.shape), result.top_probs[..., 0].astype(object),
                       result.final_rank.astype(object)], -1)
    hover = (t("position %{x} · %{y}") + "<br>" + t("top token {} ({})", "<b>%{customdata[0]}</b>", "%{customdata[2]:.3f}")
             + "<br>" + t("final prediction {}: probability {}, rank {}", "%{customdata[1]}", "%{z:.4f}",
                          "%{customdata[3]}") + "<extra></extra>")
    fig = go.Figure(go.Heatmap(
        z=result.final_prob.astype(np.float32), x=columns, y=rows, zmin=0.0, zmax=1.0, colorscale=ATTENTION_SCALE,
        text=top, texttemplate="%{text}" if layers * positions <= 600 else "", textfont=dict(size=12),
        customdata=custom, hovertemplate=hover, xgap=1, ygap=1, name=t("logit lens"),
        colorbar=dict(title=dict(text=t("P(final prediction)")), thickness=14),
    ))
    reads = t("what the output head reads at every layer of the {stack}", stack=t(result.stack))
    title = (model_words(result.model_name) + " · " if result.model_name else "") + reads
    layout = base_layout(title, height=int(min(900, max(360, 160 + 46 * layers))))
    layout["margin"] = dict(l=110, r=10, t=48, b=110)
    shown = [result.tokens[p] for p in result.positions]
    return go.Figure(fig.data, layout=dict(
        layout,
        # Upright only when the tokens would touch (about 1,000 px of plot on the page).
        xaxis=dict(token_axis(shown, t("position (input token)")), type="category", tickvals=columns,
                   tickangle=-60 if labels_crowd(shown, 1000, 13 if positions <= 32 else 10) else 0),
        yaxis=dict(title=dict(text=t("layer")), type="category", showgrid=False),
    ))


def ablation_figure(result) -> go.Figure:
    """Every head ranked by one ablation each: how much probability the current prediction loses
    when that head alone is switched off (models.results.Ablation.single_drop); the heads switched
    off together are outlined."""
    layers, heads = result.single_drop.shape
    drop = result.single_drop.astype(np.float32)
    limit = float(np.abs(drop).max()) or 1.0
    fig = go.Figure(go.Heatmap(
        z=drop, x=list(range(heads)), y=list(range(layers)), zmin=-limit, zmax=limit, colorscale="RdBu_r", xgap=2, ygap=2,
        hovertemplate=t("layer {layer} · head {head}", layer="%{y}", head="%{x}") + "<br>"
        + t("P(prediction) falls by {} with this head off", "%{z:.4f}") + "<extra></extra>",
        colorbar=dict(title=dict(text=t("drop in P"))), name=t("one head off"),
    ))
    shapes = [dict(type="rect", x0=h - 0.5, x1=h + 0.5, y0=l - 0.5, y1=l + 0.5, line=dict(color="#e6550d", width=3))
              for l, h in result.heads_off]
    title = ((model_words(result.model_name) + " · ") if result.model_name else "") + t(
        "which heads the prediction needs (one head off at a time)")
    layout = base_layout(title, height=int(min(700, max(320, 110 + 44 * layers))))
    layout["margin"] = dict(l=70, r=10, t=48, b=50)
    return go.Figure(fig.data, layout=dict(
        layout, shapes=shapes,
        xaxis=dict(title=dict(text=t("head")), tickmode="array", tickvals=list(range(heads)), showgrid=False),
        yaxis=dict(title=dict(text=t("layer")), tickmode="array", tickvals=list(range(layers)), showgrid=False,
                   autorange="reversed")))


def attribution_figure(result) -> go.Figure:
    """Each input token's score for the target (models.results.Attribution): gradient x input and
    integrated gradients side by side; the completeness check in the title."""
    x = [f"{i}: {plotly_text(token)}" for i, token in enumerate(result.tokens)]
    fig = go.Figure([
        go.Bar(x=x, y=result.gradient_x_input.astype(np.float32), name=t("gradient × input"), marker_color="#92c5de",
               hovertemplate="%{x}<br>" + t("gradient × input {}", "%{y:.4f}") + "<extra></extra>"),
        go.Bar(x=x, y=result.integrated_gradients.astype(np.float32), name=t("integrated gradients ({} steps)", result.steps),
               marker_color="#b2182b", hovertemplate="%{x}<br>" + t("integrated gradients {}", "%{y:.4f}") + "<extra></extra>"),
    ])
    # The tokens themselves are named beside the figure (attribution_markdown), where they can be
    # marked as model text that stays as it is in either language.
    what = t("why the target and not the other token") if result.contrast is not None else t("what makes the target likely")
    check = t("IG sum {sum} = f(x) − f(baseline) {delta} (gap {gap})", sum=f"{result.integrated_gradients.sum():.4f}",
              delta=f"{result.value - result.baseline_value:.4f}", gap=f"{result.completeness_gap:+.4f}")
    title = ((model_words(result.model_name) + " · ") if result.model_name else "") + what + "<br><sup>" + check + "</sup>"
    layout = base_layout(title, height=440)
    layout["margin"] = dict(l=60, r=10, t=70, b=120)
    return go.Figure(fig.data, layout=dict(
        layout, barmode="group", legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"),
        xaxis=dict(type="category", tickangle=-60 if len(x) > 10 else 0), yaxis=dict(title=dict(text=t("score")))))


def qk_figures(result) -> tuple[go.Figure, go.Figure]:
    """One head and one query (models.results.QKVectors): q * k for every key, dimension by
    dimension (a row sums to q . k), and the score of every key before softmax with its weight."""
    keys = [f"{i}: {plotly_text(token)}" for i, token in enumerate(result.key_tokens)]
    query = plotly_text(result.query_tokens[result.query])
    limit = float(np.abs(result.products).max()) or 1.0
    where = t("{kind} · layer {layer} · head {head}", kind=t(result.kind), layer=result.layer, head=result.head)
    products = go.Figure(go.Heatmap(
        z=result.products.astype(np.float32), x=list(range(result.products.shape[1])), y=keys, zmin=-limit, zmax=limit,
        colorscale="RdBu_r", hovertemplate=t("key %{y} · dimension %{x}") + "<br>q × k = %{z:.4f}<extra></extra>",
        colorbar=dict(title=dict(text="q × k")), name="q × k"))
    layout = base_layout(where + " · " + t("q × k for the query {token} (position {position})", token=query,
                                          position=result.query), height=int(min(900, max(340, 120 + 18 * len(keys)))))
    layout["margin"] = dict(l=120, r=10, t=48, b=50)
    products = go.Figure(products.data, layout=dict(layout, xaxis=dict(title=dict(text=t("dimension of the head"))),
                                                    yaxis=dict(type="category", autorange="reversed")))
    scaled = np.where(result.allowed, result.scores, np.nan).astype(np.float32)
    bias = result.bias if result.bias is not None else np.zeros_like(result.scores)
    custom = np.stack([result.weights.astype(np.float32), (result.products.sum(-1) * result.scaling).astype(np.float32),
                       bias.astype(np.float32)], -1)
    scores = go.Figure(go.Bar(
        x=keys, y=scaled, marker_color="#2166ac", customdata=custom, name=t("score"),
        hovertemplate="%{x}<br>" + t("score {} = q·k × scale {} + bias {}", "%{y:.4f}", "%{customdata[1]:.4f}",
                                     "%{customdata[2]:.4f}") + "<br>" + t("weight {}", "%{customdata[0]:.4f}")
        + "<extra></extra>"))
    title = where + " · " + t("scores before softmax (scale {scale})", scale=f"{result.scaling:.4g}")
    if result.bias is not None:
        title += " · " + t("T5's relative position bias included")
    layout = base_layout(title, height=380)
    layout["margin"] = dict(l=60, r=10, t=48, b=110)
    scores = go.Figure(scores.data, layout=dict(layout, xaxis=dict(type="category", tickangle=-60 if len(keys) > 10 else 0),
                                                yaxis=dict(title=dict(text=t("score")))))
    return products, scores


def rope_figure(result) -> go.Figure | None:
    """RoPE in one head (models.results.QKVectors with its rotation): left, the angle each
    dimension is turned by at every key's position (low dimensions turn fast, high ones slowly);
    right, each key's score with the rotation and without any. None for a model that does not rotate."""
    if result.q_before is None:
        return None
    keys = [f"{i}: {plotly_text(token)}" for i, token in enumerate(result.key_tokens)]
    where = t("{kind} · layer {layer} · head {head}", kind=t(result.kind), layer=result.layer, head=result.head)
    fig = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], horizontal_spacing=0.12,
                        subplot_titles=(t("angle each dimension is turned by"), t("score with and without RoPE")))
    fig.add_trace(go.Heatmap(
        z=result.key_angles.astype(np.float32), x=list(range(result.key_angles.shape[1])), y=keys, zmin=-np.pi,
        zmax=np.pi, colorscale="Twilight", colorbar=dict(title=dict(text=t("radians")), x=0.5, len=0.9),
        hovertemplate=t("position %{y} · dimension %{x}") + "<br>" + t("turned by {} rad", "%{z:.3f}") + "<extra></extra>",
        name=t("angle")), row=1, col=1)
    shown = {t("with RoPE"): (result.scores, "#2166ac"), t("without rotation"): (result.scores_unrotated, "#bdbdbd")}
    for name, (values, colour) in shown.items():
        fig.add_trace(go.Bar(x=keys, y=np.where(result.allowed, values, np.nan).astype(np.float32), name=name,
                             marker_color=colour, hovertemplate="%{x}<br>" + name + ": %{y:.4f}<extra></extra>"),
                      row=1, col=2)
    layout = base_layout(where + " · " + t("RoPE: the query {token} (position {position}) and every key, rotated by position",
                                          token=plotly_text(result.query_tokens[result.query]), position=result.query),
                         height=int(min(900, max(380, 140 + 18 * len(keys)))))
    layout["margin"] = dict(l=120, r=10, t=70, b=110)
    fig.update_layout(layout, barmode="group", legend=dict(orientation="h", y=1.08, yanchor="bottom", x=1, xanchor="right"))
    fig.update_yaxes(type="category", autorange="reversed", row=1, col=1)
    fig.update_xaxes(title=dict(text=t("dimension of the head")), row=1, col=1)
    fig.update_xaxes(type="category", tickangle=-60 if len(keys) > 4 else 0, row=1, col=2)
    return fig
