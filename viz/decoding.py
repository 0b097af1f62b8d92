"""Figures of a decoding run: what each knob did to one step's distribution, the text so far
coloured by confidence, the new token's attention row, and beam search's tree of hypotheses."""

from __future__ import annotations

from html import escape

import networkx as nx
import numpy as np
import plotly.graph_objects as go

from models.results import BeamTree, Decoding, MaskFill, Step
from viz.style import base_layout, plotly_text
from viz.words import model_words, t

# In English, as the keys of their Chinese: a figure names them through t() when it is drawn.
STAGE_LABELS = ("raw softmax", "after temperature", "after top-k", "after top-p", "final (renormalised)")
STAGE_COLORS = ("#bdbdbd", "#92c5de", "#4393c3", "#2166ac", "#d6604d")


def fixed(value: float, digits: int = 3) -> str:
    """A number to `digits` decimals that never reads "-0.000": rounding a tiny negative (or -0.0)
    to zero keeps its sign, and adding 0.0 drops it."""
    return f"{round(value, digits) + 0.0:.{digits}f}"


def probabilities_text(step: Step, digits: int = 3) -> str:
    """The chosen token's probability, named: the model's own, and the sampled-from one when sampling."""
    text = t("model p = {}", f"{step.prob:.{digits}f}")
    if step.sample_prob is not None:
        text += t(" · sampled from p = {}", f"{step.sample_prob:.{digits}f}")
    return text


def check_step(result: Decoding, index: int) -> int:
    index = int(index)
    if not 0 <= index < len(result.steps):
        raise ValueError(f"Step {index} does not exist: this run has steps 0 to {len(result.steps) - 1}.")
    return index


def stages_figure(result: Decoding, index: int) -> go.Figure:
    """Top candidates of one step under each stage; the chosen token starred, the filter boundary dashed."""
    index = check_step(result, index)
    step = result.steps[index]
    labels = [f"{'★ ' if i == step.token_id else ''}{plotly_text(token)}"
              for token, i in zip(step.candidate_tokens, step.candidate_ids)]
    x = list(range(len(labels)))
    names = [t(label) for label in STAGE_LABELS]
    fig = go.Figure([
        go.Bar(x=x, y=step.stages[k], name=name, marker_color=color,
               customdata=np.array(labels, dtype=object),
               hovertemplate="%{customdata}<br>" + name + ": %{y:.4f}<extra></extra>")
        for k, (name, color) in enumerate(zip(names, STAGE_COLORS))
    ])
    survivors = int((step.stages[3] > 0).sum())
    if result.settings.sampling and survivors < len(labels):
        fig.add_vline(x=survivors - 0.5, line_dash="dash", line_color="#b2182b",
                      annotation_text=t("filters keep {} token(s)", step.kept), annotation_position="top right")
    s = result.settings
    if not s.sampling:
        knobs = t("beam search: knobs ignored" if s.strategy == "beam" else "greedy: knobs ignored")
    else:
        knobs = t("T = {temperature:g}, top-k = {top_k}, top-p = {top_p:g}", temperature=s.temperature,
                  top_k=s.top_k or t("off"), top_p=s.top_p)
    layout = base_layout(t("step {step}: chose {token}, {probabilities} · {knobs}", step=index + 1,
                           token=plotly_text(step.token), probabilities=probabilities_text(step), knobs=knobs),
                         height=430)
    layout["margin"] = dict(l=60, r=10, t=48, b=110)
    fig.update_layout(layout, barmode="group", legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"),
                      xaxis=dict(tickmode="array", tickvals=x, ticktext=labels, tickangle=-45),
                      yaxis=dict(title=dict(text=t("probability")), range=[0, 1.05]))
    return fig


UNFAMILIAR_STYLE = "border:2px dashed #c0392b;background:#fde8e8;"
CHIP_STYLE = ("display:inline-block;margin:1px;padding:0 4px;border:1px solid #9aa;border-radius:4px;"
              "font-family:ui-monospace,monospace;")
# T5's output is a new text, not a continuation of its input: an arrow between them.
ARROW = '<span style="color:#999"> → </span>'


def _texts(result: Decoding) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What each prompt token and each step add to the text as the tokenizer decodes it.

    models.decoding's runs carry it; a Decoding made by hand (tests) may have only the token
    labels, which then stand in for the text."""
    prompt = result.prompt_text or result.prompt_tokens
    steps = result.step_text or tuple(s.token for s in result.steps)
    return prompt, steps


def _framed_pieces(pieces, flags) -> list[tuple[str, bool]]:
    """The non-empty pieces, each flagged when a token since the last piece was: the byte tokens
    of one character add "" but the character they complete must still carry their frame."""
    found, pending = [], False
    for piece, flag in zip(pieces, flags):
        pending = pending or bool(flag)
        if piece:
            found.append((piece, pending))
            pending = False
    return found


def text_html(result: Decoding, upto: int) -> str:
    """The prompt, then each generated step's text shaded by the probability the model gave its
    token; under it the tokens as chips (their labels), then the facts naming the model's own
    numbers and, when sampling, the sampled-from ones."""
    shown = result.steps[:max(0, int(upto))]
    flags = result.familiarity.flags if result.familiarity is not None else [False] * len(result.prompt_tokens)
    prompt_text, step_text = _texts(result)
    # Prompt tokens the model cannot really read get the token strips' dashed red frame.
    prompt = "".join(f'<span class="unfamiliar" style="{UNFAMILIAR_STYLE}">{escape(piece)}</span>'
                     if flag else escape(piece) for piece, flag in _framed_pieces(prompt_text, flags))
    # translate="no": the prompt and the tokens are the model's text, never the page's.
    parts = [f'<span class="prompt" style="color:#555" translate="no">{prompt}</span>']
    # The tokens themselves, labelled as in every token strip: the text above cannot show a space
    # token or a character's bytes, which is what a step adds.
    chips = [f'<span class="tok{" unfamiliar" if flag else ""}" style="{CHIP_STYLE}{UNFAMILIAR_STYLE if flag else ""}" '
             f'translate="no">{escape(token)}</span>' for token, flag in zip(result.prompt_tokens, flags)]
    if result.family == "encoder-decoder" and shown:
        parts.append(ARROW)
        chips.append(ARROW)
    for i, (s, piece) in enumerate(zip(shown, step_text)):
        # Shaded by the model's own confidence, which the knobs do not change.
        alpha = 0.15 + 0.85 * s.prob
        shade = f'background:rgba(33,102,172,{alpha:.2f});color:{"white" if s.prob > 0.5 else "#111"};border-radius:3px;'
        title = escape(t("step {}: {}", i + 1, probabilities_text(s, 4)))
        # A step that adds no text (a special token, a character's first bytes) keeps its span, unpadded.
        pad = "padding:1px 0" if piece else ""
        parts.append(f'<span class="gen" title="{title}" style="{shade}{pad}" translate="no">{escape(piece)}</span>')
        chips.append(f'<span class="tok gen-token" title="{title}" style="{CHIP_STYLE}{shade}" translate="no">'
                     f'{escape(s.token)}</span>')
    last = shown[-1] if shown else None
    ended = last is not None and len(shown) == len(result.steps) and result.stopped == "eos"
    facts = "" if last is None else (
        f"<div>{t('step {} of {}', len(shown), len(result.steps))} · <span class='model-numbers'>"
        + t("the model's own distribution: log-probability so far {}, entropy {} nats", fixed(last.logprob_sum),
            fixed(last.entropy)) + "</span>"
        + ("" if last.sample_logprob_sum is None else
           " · <span class='sample-numbers'>"
           + t("the distribution sampled from (after temperature, top-k, top-p): log-probability so far {}, "
               "entropy {} nats", fixed(last.sample_logprob_sum), fixed(last.sample_entropy)) + "</span>")
        + f" · {t('step {} ms', f'{last.seconds * 1000:.1f}')} · {_cache_text(result, last)}"
        + (t(" · stopped at end-of-sequence") if ended else "") + "</div>")
    notes = "".join(f'<div class="notice" style="color:#8a4b00">⚠ {escape(n)}</div>' for n in result.notices)
    # pre-wrap: the decoded text's own spaces and line breaks are part of what the model wrote.
    text = f'<div class="decoded" style="font-size:20px;line-height:1.8;white-space:pre-wrap">{"".join(parts)}</div>'
    strip = f'<div class="tokens" style="font-size:13px">{"".join(chips)}</div>'
    return f"{text}{strip}{facts}{notes}"


def _cache_text(result: Decoding, step: Step) -> str:
    if not result.settings.use_cache:
        return t("KV cache off")
    if result.family != "encoder-decoder":
        return t("KV cache {:,} B (self-attention)", step.self_cache_bytes)
    return t("KV cache {total:,} B = {own:,} B self-attention + {cross:,} B cross-attention (encoder output)",
             total=step.cache_bytes, own=step.self_cache_bytes, cross=step.cross_cache_bytes)


ROW_PX, MIN_PLOT_PX, MAX_HEIGHT_PX = 24, 200, 900


def heatmap_height(rows: int, margin: dict) -> int:
    """A heatmap's figure height: the margins (titles, rotated tick labels) plus a plot area of
    ROW_PX per row, so that rows and their labels stay readable, at least MIN_PLOT_PX; capped at
    MAX_HEIGHT_PX, past which the page scrolls more than the rows gain."""
    plot = max(MIN_PLOT_PX, ROW_PX * int(rows))
    return int(min(MAX_HEIGHT_PX, margin["t"] + margin["b"] + plot))


def attention_row_figure(result: Decoding, index: int, cross: bool = False) -> go.Figure:
    """(layer, head) rows x key columns: where the new token looked (its cross-attention for T5)."""
    index = check_step(result, index)
    step = result.steps[index]
    rows = step.cross if cross else step.attention
    if rows is None:
        raise ValueError("This model has no cross-attention.")
    layers, heads, keys = rows.shape
    if cross:
        labels = list(result.prompt_tokens)
    else:
        before = [] if result.family == "encoder-decoder" else list(result.prompt_tokens)
        start = ["<start>"] if result.family == "encoder-decoder" else []
        labels = before + start + [s.token for s in result.steps[:index]]
    labels = [f"{i} {plotly_text(token)}" for i, token in enumerate(labels[:keys])]
    y = [f"L{layer} H{head}" for layer in range(layers) for head in range(heads)]
    fig = go.Figure(go.Heatmap(z=rows.reshape(layers * heads, keys), x=labels, y=y, colorscale="Blues", zmin=0,
                               hovertemplate=f"%{{y}} → %{{x}}<br>{t('weight')} %{{z:.4f}}<extra></extra>"))
    kind = t("cross-attention to the input" if cross else "self-attention")
    margin = dict(l=80, r=10, t=48, b=110)
    layout = base_layout(t("step {step} ({token}): its {kind}, every layer and head", step=index + 1,
                           token=plotly_text(step.token), kind=kind), height=heatmap_height(layers * heads, margin))
    layout["margin"] = margin
    fig.update_layout(layout, xaxis=dict(type="category", tickangle=-45), yaxis=dict(type="category", autorange="reversed"))
    return fig


def _timing_hover(result: Decoding) -> dict:
    """A time line's hover: how the time was measured, and step 1 named as the prefill, which
    reads the whole prompt in either mode and so is no sign of what the cache saves."""
    runs = result.runs
    how = (t("median of {} runs, alternating cache on and off, after an untimed warm-up", runs) if runs > 1
           else t("one run"))
    prefill = t("the prefill: the whole input at once, cross-attention cache filled" if result.family == "encoder-decoder"
                else "the prefill: the whole prompt at once")
    hover = [prefill if i == 0 else "" for i in range(len(result.steps))]
    return dict(hovertext=hover, hovertemplate=t("step {}: {} ms", "%{x}", "%{y:.2f}") + f"<br>{how}<br>%{{hovertext}}"
                + "<extra></extra>")


def cache_figure(with_cache: Decoding, without: Decoding) -> go.Figure:
    """Per-step forward time with and without the KV cache, and the cache's size, measured live."""
    steps = list(range(1, len(with_cache.steps) + 1))
    seq2seq = with_cache.family == "encoder-decoder"
    traces = [
        go.Scatter(x=steps, y=[s.seconds * 1000 for s in with_cache.steps], name=t("step time, KV cache on"),
                   mode="lines+markers", line=dict(color="#2166ac", width=3), **_timing_hover(with_cache)),
        go.Scatter(x=list(range(1, len(without.steps) + 1)), y=[s.seconds * 1000 for s in without.steps],
                   name=t("step time, cache off (recompute everything)"), mode="lines+markers",
                   line=dict(color="#d6604d", width=3), **_timing_hover(without)),
        # Plotly's %{...} go in as fields, so that a language may put the step number where it reads.
        go.Bar(x=steps, y=[s.self_cache_bytes / 1024 for s in with_cache.steps], yaxis="y2",
               name=t("self-attention cache (KiB): the output's own tokens, grows each step"),
               marker_color="rgba(33,102,172,0.3)",
               hovertemplate=t("step {}: self-attention {} KiB", "%{x}", "%{y:.2f}") + "<extra></extra>"),
    ]
    if seq2seq:
        traces.append(go.Bar(x=steps, y=[s.cross_cache_bytes / 1024 for s in with_cache.steps], yaxis="y2",
                             name=t("cross-attention cache (KiB): the encoder output's {} tokens, fixed",
                                    len(with_cache.prompt_tokens)), marker_color="rgba(26,152,80,0.3)",
                             hovertemplate=t("step {}: cross-attention {} KiB", "%{x}", "%{y:.2f}") + "<extra></extra>"))
    fig = go.Figure(traces)
    title = t("the KV cache trades memory for time, measured on this run")
    if seq2seq:
        title += t(" · cache bars: self-attention + cross-attention, stacked")
    layout = base_layout(title, height=420)
    layout["margin"] = dict(l=70, r=70, t=48, b=60)
    fig.update_layout(layout, barmode="stack", xaxis=dict(title=dict(text=t("step"))),
                      yaxis=dict(title=dict(text=t("ms per step"))),
                      yaxis2=dict(title=dict(text="KiB"), overlaying="y", side="right", showgrid=False),
                      legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"))
    return fig


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.2f} {unit}"
        n /= 1024
    return str(n)


def kv_table_markdown(rows: list[dict]) -> str:
    """The calculator as a Markdown table, one row per model and context, one column per precision."""
    bits = sorted({r["bits"] for r in rows}, reverse=True)
    head = f"| {t('model (layers, KV heads, head dim)')} | {t('context')} | " + " | ".join(
        {16: "fp16", 8: "int8", 4: "int4"}.get(b) or t("{}-bit", b) for b in bits) + " |"
    lines = [t("KV cache = 2 (keys and values) x layers x KV heads x head dim x tokens x bytes per value")]
    if any(r.get("cross_bytes", 0) for r in rows):
        # Encoder-decoders hold a second part that a decoder does not have; say which cell is which.
        lines += ["", t("Encoder-decoders also keep a cross-attention cache, the keys and values of the encoder output: "
                        "2 x layers x KV heads x head dim x source tokens x bytes per value, computed once and fixed "
                        "while the output grows. Their cells read total = self-attention + cross-attention, for a "
                        "source as long as the context.")]
    lines += ["", head, "|---|---|" + "---|" * len(bits)]
    keys = []
    for r in rows:
        if (r["model"], r["context"]) not in keys:
            keys.append((r["model"], r["context"]))
    for name, context in keys:
        chosen = {r["bits"]: r for r in rows if r["model"] == name and r["context"] == context}
        first = chosen[bits[0]]
        lines.append(f"| {escape(model_words(name))} ({first['layers']}, {first['kv_heads']}, {first['head_dim']}) | {context:,} | "
                     + " | ".join(_cell(chosen[b]) for b in bits) + " |")
    return "\n".join(lines)


def _cell(row: dict) -> str:
    if not row.get("cross_bytes", 0):
        return _size(row["bytes"])
    return t("{total} = {own} self + {cross} cross", total=_size(row["bytes"]), own=_size(row["self_bytes"]),
             cross=_size(row["cross_bytes"]))


def cache_summary_markdown(with_cache: Decoding) -> str:
    """What the live cache held after the first and the last step, each part named."""
    first, last = with_cache.steps[0], with_cache.steps[-1]
    n = len(with_cache.steps)
    if with_cache.family != "encoder-decoder":
        return t("Measured on this run: the self-attention cache held {first:,} B after step 1 and {last:,} B after "
                 "step {n} (a decoder has no cross-attention cache).", first=first.self_cache_bytes,
                 last=last.self_cache_bytes, n=n)
    return t("Measured on this run: after step 1 the cache held {first:,} B of self-attention keys and values (the "
             "output so far) and {first_cross:,} B of cross-attention ones (the encoder output, {inputs} input "
             "tokens); after step {n}, {last:,} B self-attention and {last_cross:,} B cross-attention (computed "
             "once, unchanged).", first=first.self_cache_bytes, first_cross=first.cross_cache_bytes,
             inputs=len(with_cache.prompt_tokens), n=n, last=last.self_cache_bytes, last_cross=last.cross_cache_bytes)


def mask_fill_html(fills: tuple[MaskFill, ...], gpt: Decoding) -> str:
    """An encoder filling a trailing [MASK] again and again, beside a decoder's greedy tokens."""
    # translate="no" on the model's text; a title holds the page's words around the candidates.
    titles = [t("p = {}; also {}", f"{f.prob:.3f}", ", ".join(c for c, _ in f.candidates[1:])) for f in fills]
    bert = "".join(f'<span title="{escape(title)}" style="background:rgba(214,96,77,{0.15 + 0.85 * f.prob:.2f});'
                   f'padding:1px 2px;margin:0 1px;border-radius:3px" translate="no">{escape(f.token)}</span>'
                   for f, title in zip(fills, titles))
    gpt_tokens = "".join(f'<span title="p = {s.prob:.3f}" style="background:rgba(33,102,172,{0.15 + 0.85 * s.prob:.2f});'
                         f'padding:1px 2px;margin:0 1px;border-radius:3px" translate="no">{escape(s.token)}</span>'
                         for s in gpt.steps)
    prompt = f'<span translate="no">{escape("".join(_texts(gpt)[0]))}</span>'
    return (f'<div style="font-size:18px;line-height:2"><div><b>{t("BERT, filling a trailing [MASK]:")}</b> {prompt} '
            f'{bert}</div><div><b>{t("GPT, next-token prediction:")}</b> {prompt} {gpt_tokens}</div></div>')


def alignment_figure(result: Decoding, index: int) -> go.Figure:
    """Output tokens so far x input tokens: each step's cross-attention row (mean over layers and
    heads) stacked under the previous ones, the alignment a translation builds up."""
    index = check_step(result, index)
    if result.steps[0].cross is None:
        raise ValueError("This model has no cross-attention.")
    rows = np.stack([s.cross.mean(axis=(0, 1)) for s in result.steps[:index + 1]]).astype(np.float32)
    x = [f"{i} {plotly_text(token)}" for i, token in enumerate(result.prompt_tokens)]
    y = [f"{i + 1} {plotly_text(s.token)}" for i, s in enumerate(result.steps[:index + 1])]
    fig = go.Figure(go.Heatmap(z=rows, x=x, y=y, colorscale="Blues", zmin=0,
                               hovertemplate=t("output {} → input {}", "%{y}", "%{x}") + "<br>"
                               + t("mean weight {}", "%{z:.4f}") + "<extra></extra>"))
    margin = dict(l=110, r=10, t=48, b=110)
    layout = base_layout(t("alignment after {} step(s): cross-attention, mean of all layers and heads", index + 1),
                         height=heatmap_height(index + 1, margin))
    layout["margin"] = margin
    fig.update_layout(layout, xaxis=dict(type="category", tickangle=-45), yaxis=dict(type="category", autorange="reversed"))
    return fig


BEAM_COLORS = {"root": "#111111", "running": "#2166ac", "finished": "#1a9850", "pruned": "#b0b0b0"}
WINNER_COLOR = "#d6604d"


def beam_graph(tree: BeamTree, upto: int | None = None) -> nx.DiGraph:
    """The hypotheses as a tree: node = a beam plus one token (attributes of BeamNode), edge =
    parent -> child. Only steps up to `upto` (all when None)."""
    last = tree.steps - 1 if upto is None else int(upto)
    graph = nx.DiGraph(num_beams=tree.num_beams, winner=tree.winner)
    for n in tree.nodes:
        if n.step <= last:
            graph.add_node(n.node, **{k: getattr(n, k) for k in ("step", "token", "token_id", "logprob", "score",
                                                                  "status", "final_score", "final_rank")})
            if n.parent >= 0:
                graph.add_edge(n.parent, n.node)
    return graph


def beam_tree_figure(result: Decoding, upto: int | None = None) -> go.Figure:
    """Columns are steps, rows the continuations kept at that step, best score on top. Blue nodes
    continue as beams, green ones ended and entered the finished list, grey ones were pruned; the
    winning hypothesis is drawn in red once the search is over."""
    tree = result.beams
    if tree is None:
        raise ValueError("This run did not use beam search; pick the beam strategy.")
    last = tree.steps - 1 if upto is None else min(int(upto), tree.steps - 1)
    graph = beam_graph(tree, last)
    over = last >= tree.steps - 1
    winning = set(nx.shortest_path(graph, 0, tree.winner)) if over else set()
    rank: dict[int, int] = {0: (tree.kept_per_step - 1) // 2}
    for step in range(last + 1):
        here = sorted((n for n, d in graph.nodes(data=True) if d["step"] == step), key=lambda n: -graph.nodes[n]["score"])
        rank.update({n: r for r, n in enumerate(here)})
    xy = {n: (graph.nodes[n]["step"] + 1, rank[n]) for n in graph.nodes}
    traces = []
    for kind, color, width in (("pruned", BEAM_COLORS["pruned"], 1), ("kept", BEAM_COLORS["running"], 2),
                               ("winner", WINNER_COLOR, 4)):
        xs, ys = [], []
        for a, b in graph.edges:
            edge = "winner" if a in winning and b in winning else "pruned" if graph.nodes[b]["status"] == "pruned" else "kept"
            if edge == kind:
                xs += [xy[a][0], xy[b][0], None]
                ys += [xy[a][1], xy[b][1], None]
        traces.append(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=color, width=width), hoverinfo="skip",
                                 showlegend=False))
    for status in ("root", "running", "finished", "pruned"):
        nodes = [n for n in graph.nodes if graph.nodes[n]["status"] == status]
        data = [graph.nodes[n] for n in nodes]
        hover = [t("step {}: {}", d["step"] + 1, plotly_text(d["token"]))
                 + "<br>" + t("log p(token) {:.3f}", d["logprob"]) + "<br>" + t("score (sum of log p) {:.3f}", d["score"])
                 + ("<br>" + t("finished: {score:.4f} = score / length^{penalty:g}", score=d["final_score"],
                               penalty=tree.length_penalty)
                    + (t(" · WINNER") if n == tree.winner and over else "") if status == "finished" else "")
                 for n, d in zip(nodes, data)]
        traces.append(go.Scatter(
            x=[xy[n][0] for n in nodes], y=[xy[n][1] for n in nodes], mode="markers+text",
            text=[plotly_text(d["token"]) if status != "root" else t("prompt") for d in data], textposition="top center",
            marker=dict(size=[16 if n in winning else 11 for n in nodes], color=BEAM_COLORS[status],
                        symbol="x" if status == "pruned" else "circle",
                        line=dict(width=[3 if n in winning else 0 for n in nodes], color=WINNER_COLOR)),
            name=t(status), hovertext=hover, hoverinfo="text"))
    title = t("beam search, {beams} beams, {kept} continuations kept per step", beams=tree.num_beams,
              kept=tree.kept_per_step)
    if over:
        title += t(" · winner {:.3f} (red)", tree.nodes[tree.winner].final_score)
    layout = base_layout(title, height=int(min(700, 200 + 34 * tree.kept_per_step)))
    layout["margin"] = dict(l=60, r=10, t=48, b=50)
    fig = go.Figure(traces)
    fig.update_layout(layout, legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"),
                      xaxis=dict(title=dict(text=t("step")), dtick=1, range=[-0.5, last + 2.5]),
                      yaxis=dict(title=dict(text=t("rank by score")), autorange="reversed", showgrid=False,
                                 zeroline=False))
    return fig
