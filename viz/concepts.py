"""Figures and tables for the concept views: training objectives, positions, order without
positions, score scaling and expert routing. Data objects from models.concepts in, Plotly
figures or HTML out."""

from __future__ import annotations

from html import escape

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from models.results import MaskedLM, NextToken, OrderResult, RelativeBuckets, Rope, Routing, Scaling, SpanCorruption
from viz.style import ATTENTION_SCALE, base_layout, plotly_text
from viz.words import t

ACTION_COLORS = {"mask": "#fdd49e", "random": "#fcbba1", "keep": "#c7e9c0", "": "#ffffff"}
# The 80/10/10 actions as the table writes them; wrapped in t() where they are drawn.
ACTION_WORDS = {"mask": "[MASK] 80%", "random": "random 10%", "keep": "kept 10%"}


def _labels(tokens) -> list[str]:
    return [f"{i} {plotly_text(token)}" for i, token in enumerate(tokens)]


def _cell(text: str, color: str = "#fff", title: str = "", token: bool = False) -> str:
    """A table cell; a token's cell is model text, which no page translation may touch."""
    keep = ' translate="no"' if token else ""
    return (f'<td{keep} style="background:{color};padding:3px 6px;border:1px solid #ccc" title="{escape(title)}">'
            f"{escape(text)}</td>")


def masked_lm_html(result: MaskedLM) -> str:
    """One column per token: as typed, what the model read, the 80/10/10 action, its guess."""
    rows = {"typed": [], "model reads": [], "chosen as": [], "prediction": [], "p(original)": [], "loss": []}
    for i, token in enumerate(result.tokens):
        color = ACTION_COLORS[result.action[i]]
        rows["typed"].append(_cell(token, token=True))
        rows["model reads"].append(_cell(result.inputs[i], color, token=True))
        action = result.action[i]
        rows["chosen as"].append(_cell(t(ACTION_WORDS[action]) if action in ACTION_WORDS else "", color))
        hit = result.action[i] and result.predicted[i] == token
        rows["prediction"].append(_cell(result.predicted[i], "#c7e9c0" if hit else color if result.action[i] else "#fff",
                                         token=True))
        rows["p(original)"].append(_cell("" if np.isnan(result.prob_original[i]) else f"{result.prob_original[i]:.3f}"))
        rows["loss"].append(_cell("" if np.isnan(result.loss[i]) else f"{result.loss[i]:.3f}"))
    # The rows are keyed by their English names; the header cell says them in the reader's language.
    body = "".join(f'<tr><th style="text-align:left;padding:3px 6px">{t(name)}</th>{"".join(cells)}</tr>'
                   for name, cells in rows.items())
    chosen = sum(1 for a in result.action if a)
    nsp = "" if result.next_sentence is None else \
        "<p>" + t("Next-sentence prediction: P(IsNext) = <b>{}</b>", f"{result.next_sentence:.3f}") + "</p>"
    return (f'<div class="objective" style="overflow-x:auto;font-size:16px"><table style="border-collapse:collapse">'
            f"{body}</table><p>"
            + t("{chosen} of {total} tokens chosen (seed {seed}); masked-LM loss over the chosen positions: <b>{loss}</b>",
                chosen=chosen, total=len(result.action), seed=result.seed, loss=f"{result.mean_loss:.3f}")
            + f"</p>{nsp}</div>")


def next_token_figure(result: NextToken) -> go.Figure:
    """Per-position loss of the shifted targets: position i reads tokens 0..i and must say token i+1."""
    x = list(range(len(result.targets)))
    text = [t("reads …{read} → target {target}<br>top-1 {top}<br>p(target) {p}", read=plotly_text(result.tokens[i]),
              target=plotly_text(target), top=plotly_text(result.predicted[i]), p=f"{result.prob[i]:.3f}")
            for i, target in enumerate(result.targets)]
    colors = ["#1a9850" if p == target else "#d6604d" for p, target in zip(result.predicted, result.targets)]
    fig = go.Figure(go.Bar(x=x, y=result.loss, marker_color=colors, hovertext=text, hoverinfo="text"))
    layout = base_layout(t("next-token targets: loss per position (mean {}); green = top-1 right",
                           f"{result.mean_loss:.3f}"), height=400)
    layout["margin"] = dict(l=60, r=10, t=48, b=120)
    fig.update_layout(layout, xaxis=dict(tickmode="array", tickvals=x, tickangle=-45,
                                         ticktext=[f"{plotly_text(a)}→{plotly_text(b)}" for a, b in
                                                   zip(result.tokens[:-1], result.targets)]),
                      yaxis=dict(title=dict(text=t("-log p(target)"))))
    return fig


def span_html(result: SpanCorruption) -> str:
    """The sentence with its dropped spans struck out, the encoder input and the decoder target."""
    typed = "".join(f'<span translate="no" style="{"text-decoration:line-through;background:#fcbba1" if d else ""}">{escape(token)} </span>'
                    for token, d in zip(result.tokens, result.dropped))

    def row(tokens):
        return "".join(f'<span translate="no" style="{"background:#dadaeb;font-weight:bold" if token.startswith("<extra_id") else ""};'
                       f'padding:0 2px">{escape(token)}</span> ' for token in tokens)

    return (f'<div class="objective" style="font-size:16px;line-height:2"><div><b>{t("sentence:")}</b> {typed}</div>'
            f'<div><b>{t("encoder input:")}</b> {row(result.inputs)}</div>'
            f'<div><b>{t("decoder target:")}</b> {row(result.targets)}</div>'
            "<p>" + t("span-corruption loss (teacher forcing): <b>{}</b>", f"{result.mean_loss:.3f}") + "</p></div>")


def span_figure(result: SpanCorruption) -> go.Figure:
    x = list(range(len(result.targets)))
    fig = go.Figure(go.Bar(x=x, y=result.loss, marker_color=["#1a9850" if p == target else "#d6604d" for p, target in
                                                            zip(result.predicted, result.targets)],
                           hovertext=[t("target {target}<br>top-1 {top}", target=plotly_text(target), top=plotly_text(p))
                                      for target, p in zip(result.targets, result.predicted)], hoverinfo="text"))
    layout = base_layout(t("span corruption: loss per target token (mean {})", f"{result.mean_loss:.3f}"), height=360)
    layout["margin"] = dict(l=60, r=10, t=48, b=100)
    fig.update_layout(layout, xaxis=dict(tickmode="array", tickvals=x, ticktext=_labels(result.targets), tickangle=-45),
                      yaxis=dict(title=dict(text=t("-log p(target)"))))
    return fig


def _heat(fig, z, row, col, colorscale="RdBu", zmid=0.0, x=None, y=None, name="", showscale=True, colorbar_x=None):
    fig.add_trace(go.Heatmap(z=z, x=x, y=y, colorscale=colorscale, zmid=zmid, name=name, showscale=showscale,
                             colorbar=dict(x=colorbar_x) if colorbar_x is not None else None,
                             hovertemplate="%{y}, %{x}: %{z:.3f}<extra>" + name + "</extra>"), row=row, col=col)


def encoding_figure(encoding: np.ndarray, similarity: np.ndarray, title: str) -> go.Figure:
    """A position encoding (positions x dims) beside its position-by-position similarity."""
    fig = make_subplots(1, 2, subplot_titles=(t("encoding: position × dimension"), t("similarity between positions")),
                        horizontal_spacing=0.12)
    _heat(fig, encoding, 1, 1, name=t("value"), colorbar_x=0.44)
    _heat(fig, similarity, 1, 2, name=t("similarity"))
    layout = base_layout(title, height=460)
    layout["margin"] = dict(l=60, r=10, t=70, b=50)
    fig.update_layout(layout)
    fig.update_yaxes(title_text=t("position"), autorange="reversed", row=1, col=1)
    fig.update_yaxes(autorange="reversed", row=1, col=2)
    return fig


def rope_figure(result: Rope, pairs: int = 6) -> go.Figure:
    """Left: each dimension pair turns by its own angle per position (fast pairs first). Right: the
    score of a fixed query and key at positions m and n: constant along diagonals (only m - n counts)."""
    fig = make_subplots(1, 2, subplot_titles=(t("rotation angle (radians) of dimension pairs"),
                                              t("q·k after rotation at positions m, n")), horizontal_spacing=0.12)
    count = result.angles.shape[1]
    for i in np.unique(np.linspace(0, count - 1, min(pairs, count)).astype(int)):
        fig.add_trace(go.Scatter(y=result.angles[:, i], mode="lines", name=t("pair {}", i)), row=1, col=1)
    _heat(fig, result.scores, 1, 2, name=t("score"))
    layout = base_layout(t("RoPE (base {}, head dim {})", f"{result.base:g}", result.head_dim), height=480)
    layout["margin"] = dict(l=60, r=10, t=70, b=100)
    # The pairs' legend goes under the plots: on the right it covered the score's colour bar.
    fig.update_layout(layout, legend=dict(orientation="h", x=0, xanchor="left", y=-0.16, yanchor="top"))
    fig.update_xaxes(title_text=t("position"), row=1, col=1)
    fig.update_yaxes(title_text=t("m (query position)"), autorange="reversed", row=1, col=2)
    fig.update_xaxes(title_text=t("n (key position)"), row=1, col=2)
    return fig


def buckets_figure(result: RelativeBuckets, head: int = 0) -> go.Figure:
    heads = result.bias.shape[0]
    head = min(max(int(head), 0), heads - 1)
    fig = make_subplots(1, 3, subplot_titles=(t("encoder buckets (both directions)"), t("decoder buckets (past only)"),
                                              t("learned bias, head {}", head)), horizontal_spacing=0.08)
    _heat(fig, result.buckets, 1, 1, colorscale="Viridis", zmid=None, name=t("bucket"), showscale=False)
    _heat(fig, result.causal_buckets, 1, 2, colorscale="Viridis", zmid=None, name=t("bucket"), showscale=False)
    _heat(fig, result.bias[head], 1, 3, name=t("bias"))
    layout = base_layout(t("T5 relative positions: {buckets} buckets, exact up to {encoder} apart in the encoder "
                           "({decoder} in the decoder), logarithmic up to {far}", buckets=result.num_buckets,
                           encoder=result.num_buckets // 4, decoder=result.num_buckets // 2, far=result.max_distance),
                         height=420)
    layout["margin"] = dict(l=50, r=10, t=70, b=50)
    fig.update_layout(layout)
    for col in (1, 2, 3):
        fig.update_yaxes(autorange="reversed", row=1, col=col)
    return fig


def order_figure(result: OrderResult) -> go.Figure:
    """Per token, how far its output moved when the others were shuffled (log scale)."""
    x = _labels(result.tokens)
    floor = 1e-9  # zeros cannot be drawn on a log axis
    fig = go.Figure([
        go.Bar(x=x, y=np.maximum(result.diff_without_positions, floor), name=t("positions removed (all ids 0)"),
               marker_color="#2166ac"),
        go.Bar(x=x, y=np.maximum(result.diff_with_positions, floor), name=t("with the model's positions"),
               marker_color="#d6604d"),
    ])
    verdict = t("the same vectors, permuted") if result.max_without_positions < 1e-4 else t("different vectors")
    layout = base_layout(t("{}: max diff {} → {}", plotly_text(result.model_key), f"{result.max_without_positions:.1e}",
                           verdict), height=420)
    layout["margin"] = dict(l=70, r=10, t=48, b=110)
    fig.update_layout(layout, barmode="group", yaxis=dict(type="log", title=dict(text=t("max |h_shuffled − h|"))),
                      xaxis=dict(type="category", tickangle=-45),
                      legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"))
    return fig


def scaling_figure(result: Scaling) -> go.Figure:
    x = _labels(result.tokens)
    fig = make_subplots(1, 3, subplot_titles=(t("softmax(QKᵀ/√{}): the model", result.d_k), t("softmax(QKᵀ): unscaled"),
                                              t("per query")), horizontal_spacing=0.07, column_widths=[0.36, 0.36, 0.28])
    for col, z, name in ((1, result.scaled, t("scaled")), (2, result.unscaled, t("unscaled"))):
        fig.add_trace(go.Heatmap(z=z, x=x, y=x, colorscale=ATTENTION_SCALE, zmin=0, zmax=1, showscale=col == 2,
                                 colorbar=dict(x=0.7), hovertemplate="%{y} → %{x}: %{z:.3f}<extra>" + name + "</extra>"),
                      row=1, col=col)
        fig.update_yaxes(autorange="reversed", type="category", row=1, col=col)
        fig.update_xaxes(type="category", tickangle=-45, row=1, col=col)
    q = list(range(len(result.tokens)))
    for y, name, color in ((result.entropy_scaled, t("entropy, scaled"), "#2166ac"),
                           (result.entropy_unscaled, t("entropy, unscaled"), "#d6604d"),
                           (result.max_scaled, t("max weight, scaled"), "#92c5de"),
                           (result.max_unscaled, t("max weight, unscaled"), "#f4a582")):
        fig.add_trace(go.Scatter(x=q, y=y, mode="lines+markers", name=name, line=dict(color=color)), row=1, col=3)
    fig.update_xaxes(title_text=t("query position"), row=1, col=3)
    layout = base_layout(t("layer {layer}, head {head}: mean entropy {scaled} nats scaled vs {unscaled} unscaled; "
                           "mean max weight {max_scaled} vs {max_unscaled}", layer=result.layer, head=result.head,
                           scaled=f"{result.entropy_scaled.mean():.2f}", unscaled=f"{result.entropy_unscaled.mean():.2f}",
                           max_scaled=f"{result.max_scaled.mean():.2f}", max_unscaled=f"{result.max_unscaled.mean():.2f}"),
                         height=480)
    layout["margin"] = dict(l=90, r=10, t=70, b=110)
    fig.update_layout(layout, legend=dict(orientation="h", y=-0.25, x=1, xanchor="right"))
    return fig


def textbook_markdown(numbers: dict) -> str:
    def fmt(values):
        return "[" + ", ".join(t("overflow (nan)") if v is None else f"{v:.3f}" for v in values) + "]"

    d = numbers["d_k"]
    return "\n".join([
        t("| scores {} | softmax |", numbers["scores"]), "|---|---|",
        t("| exp() directly in float32 | {} |", fmt(numbers["naive_float32"])),
        t("| stable: subtract the max first | {} |", fmt(numbers["stable"])),
        t("| divided by √d_k = √{} | {} |", d, fmt(numbers["scaled"])),
        "",
        t("Random q, k with unit-variance entries in {d} dimensions: q·k has standard deviation **{std}** "
          "(≈ √{d} = {root}); divided by √d_k it is **{scaled}**.", d=d, std=f"{numbers['dot_std']:.2f}",
          root=f"{d ** 0.5:.0f}", scaled=f"{numbers['scaled_dot_std']:.2f}"),
    ])


def routing_figure(result: Routing, layer: int = 0) -> go.Figure:
    """Experts x tokens (the mixing weight where the router chose the expert, blank elsewhere)
    beside heads x tokens (every head attends from every token), and the load per expert."""
    layers = result.probs.shape[0]
    layer = min(max(int(layer), 0), layers - 1)
    tokens = _labels(result.tokens)
    n = len(tokens)
    weight = np.full((result.experts, n), np.nan, np.float32)
    for i in range(n):
        for slot in range(result.top_k):
            weight[result.chosen[layer, i, slot], i] = result.weights[layer, i, slot]
    attn = result.attention[layer]  # (heads, q, k)
    safe = np.where(attn > 0, attn, 1.0)
    entropy = -(attn * np.log(safe)).sum(-1)  # (heads, q)
    fig = make_subplots(1, 3, column_widths=[0.42, 0.42, 0.16], horizontal_spacing=0.06, subplot_titles=(
        t("experts: each token uses {k} of {experts}", k=result.top_k, experts=result.experts),
        t("attention heads: all work on every token"), t("tokens per expert")))
    experts = [t("expert {}", e) for e in range(result.experts)]
    fig.add_trace(go.Heatmap(z=weight, x=tokens, y=experts, colorscale="Oranges", zmin=0, zmax=1, showscale=False,
                             customdata=result.probs[layer].T,
                             hovertemplate="%{x} → %{y}<br>" + t("mixing weight {}", "%{z:.3f}") + "<br>"
                             + t("router p {}", "%{customdata:.3f}") + "<extra></extra>"),
                  row=1, col=1)
    fig.add_trace(go.Heatmap(z=np.ones_like(entropy), x=tokens, y=[t("head {}", h) for h in range(attn.shape[0])],
                             colorscale=[[0, "#c6dbef"], [1, "#2166ac"]], showscale=False, customdata=entropy,
                             hovertemplate=t("{}, {}: active", "%{x}", "%{y}") + "<br>"
                             + t("attention entropy {}", "%{customdata:.2f}") + "<extra></extra>"),
                  row=1, col=2)
    fig.add_trace(go.Bar(x=result.load[layer], y=experts, orientation="h", marker_color="#e6550d", showlegend=False),
                  row=1, col=3)
    for col in (1, 2, 3):
        fig.update_yaxes(autorange="reversed", row=1, col=col)
    fig.update_xaxes(tickangle=-45, type="category", row=1, col=1)
    fig.update_xaxes(tickangle=-45, type="category", row=1, col=2)
    layout = base_layout(t("{}, layer {}: sparse experts vs dense heads", plotly_text(result.model_key), layer),
                         height=int(220 + 30 * max(result.experts, attn.shape[0])))
    layout["margin"] = dict(l=80, r=10, t=70, b=110)
    fig.update_layout(layout, showlegend=False)
    return fig
