"""A model's architecture as a graph (networkx) drawn with Plotly, and two models compared.

The graph is built from an Architecture read off the model: one column per stack, bottom to
top as in Vaswani et al.'s Figure 1: embeddings, one block drawn in full with its sublayers in
the order the model runs them, an add node after each sublayer with its residual path
(dashed), "x N" for the repeats, the final norm and the output heads. T5's decoder gets an
edge from the encoder's output into its cross-attention. In a parallel block (GPT-NeoX) the
feed-forward branch starts from the block input (dotted) and both branches meet at one add.
"""

from __future__ import annotations

import re
from html import escape

import networkx as nx
import plotly.graph_objects as go

from models.results import Architecture
from viz.style import base_layout, plotly_text
from viz.words import model_words, t

GROUP_COLORS = {
    "input": "#f0f0f0", "embeddings": "#fdd49e", "norm": "#d9f0d3", "attention": "#c6dbef",
    "cross-attention": "#dadaeb", "router": "#fcbba1", "feed-forward": "#fee0b6", "add": "#ffffff",
    "head": "#e0e0e0",
}
DIFF_COLOR = "#d6604d"
# Which feature rows concern which kind of node, to mark a node when the two models differ there.
FEATURE_GROUPS = {
    "norm": ("norm",), "norm placement": ("norm",), "positions": ("embeddings", "attention"),
    "activation": ("feed-forward",), "feed-forward": ("feed-forward", "router"),
    "attention": ("attention",),
}
# Part names and feature values are API values too (models.architecture), so they are put in the
# reader's language here, where they are drawn. A value is read as phrases: each pattern's named
# fields fill its English template, which is also the key of its Chinese; a stack's name is itself
# translated. What no pattern knows (a class name, a number, an unusual activation) stays as it is.
PHRASES = tuple((re.compile(pattern), words) for pattern, words in (
    (r"multi-head \((?P<heads>\d+) heads\)", "multi-head ({heads} heads)"),
    (r"multi-query \((?P<heads>\d+) query heads share 1 key/value head\)",
     "multi-query ({heads} query heads share 1 key/value head)"),
    (r"grouped-query \((?P<heads>\d+) query heads share (?P<kv>\d+) key/value heads\)",
     "grouped-query ({heads} query heads share {kv} key/value heads)"),
    (r"mixture of (?P<experts>\d+) experts, top-(?P<k>\d+) per token",
     "mixture of {experts} experts, top-{k} per token"),
    (r"\b(?P<stack>encoder|decoder) width (?P<width>\d+)", "{stack} width {width}"),
    (r"dense \(width (?P<width>\d+)\)", "dense (width {width})"),
    (r"dense \((?P<widths>[^()]*)\)", "dense ({widths})"),
    (r"RoPE \(base (?P<base>[^)]+)\)", "RoPE (base {base})"),
    (r", partial: rotates (?P<turned>\d+) of each head's (?P<dims>\d+) dimensions \((?P<share>\d+%)\), the rest "
     r"carry no position",
     ", partial: rotates {turned} of each head's {dims} dimensions ({share}), the rest carry no position"),
    (r"relative buckets \((?P<buckets>\d+), learned bias per head\)",
     "relative buckets ({buckets}, learned bias per head)"),
    (r"\b(?P<stack>encoder|decoder) (?P<blocks>\d+)\b", "{stack} {blocks}"),
    (r"^gated (?P<act>\S+)$", "gated {act}"),
    *((re.escape(phrase), phrase) for phrase in (
        "pre-norm (norm before each sublayer)", "post-norm (norm after each residual add)",
        "; parallel: attention and feed-forward both read the block input, one add (x + attn(norm(x)) + ffn(norm(x)))",
        " (mean and variance)", " (RMS: no mean, no bias)", "learned absolute")),
))
# Rows whose values are model text or numbers, shown as they are.
VERBATIM_FEATURES = ("class", "parameters", "width", "vocabulary")
# A class name (LlamaRMSNorm, GPT2LMHeadModel): shown as code in the tables, in every language.
CLASS_NAME = re.compile(r"\b[A-Za-z][A-Za-z0-9]*[a-z0-9][A-Z][A-Za-z0-9]*\b")
TIED = re.compile(r"(?P<part>.+) \(tied to the token embeddings\)")
OWN_PART = re.compile(r"(?P<stack>encoder|decoder) (?P<part>position embeddings|embedding norm|final norm)")


def part_words(name: str) -> str:
    """A part's name (models.architecture) in the reader's language."""
    if match := TIED.fullmatch(name):
        return t("{part} (tied to the token embeddings)", part=part_words(match["part"]))
    if match := OWN_PART.fullmatch(name):
        return t("{stack} {part}", stack=t(match["stack"]), part=t(match["part"]))
    return t(name)


def _phrase(words: str, match: re.Match) -> str:
    fields = {field: t(text) if field == "stack" else text for field, text in match.groupdict().items()}
    return t(words, **fields)


def feature_words(name: str, value: str) -> str:
    """A feature row's value in the reader's language, its numbers and class names kept."""
    if name in VERBATIM_FEATURES:
        return value
    if name == "family" or value == "none":
        return t(value)
    if name == "output heads":
        return t(", ").join(part_words(part) for part in value.split(", "))
    for pattern, words in PHRASES:
        value = pattern.sub(lambda match, words=words: _phrase(words, match), value)
    # Lists of items (positions, stacks, norm classes) take the reader's separator.
    return value.replace(", ", t(", "))


def _label(group: str, arch: Architecture, stack: str) -> str:
    norm = arch.feature("norm").split(" ")[0]
    if group == "norm":
        return norm
    if group == "attention":
        kind = t("causal self-attention") if stack == "decoder" else t("self-attention (bidirectional)")
        return f"{kind}<br>{feature_words('attention', arch.feature('attention'))}"
    if group == "cross-attention":
        return t("cross-attention<br>(queries: decoder, keys/values: encoder)")
    if group == "router":
        return t("router (picks experts)")
    if group == "feed-forward":
        return (t("feed-forward, {activation}", activation=feature_words("activation", arch.feature("activation")))
                + "<br>" + feature_words("feed-forward", arch.feature("feed-forward")))
    return t(group)


def _embedding_node(arch: Architecture, stack: str, column: int) -> tuple[str, int]:
    """The embeddings node's label and parameters: the parts both stacks share (counted in the
    first column), then a stack's own (BART's "encoder position embeddings", counted in its column).
    Embedding norms are counted, not named."""
    shared, own = [], []
    for p in arch.parts:
        if p.group == "embeddings":
            first = p.name.split(" ")[0]
            if first not in ("encoder", "decoder"):
                shared.append(p)
            elif first == stack:
                own.append(p)
    named = [part_words(p.name) for p in shared if not p.name.endswith("embedding norm")]
    pieces = [" + ".join(named) + (t(" (shared by both stacks)") if arch.family == "encoder-decoder" else "")] \
        if named else []
    label = " + ".join(pieces + [part_words(p.name) for p in own if not p.name.endswith("embedding norm")])
    return label, sum(p.parameters for p in own) + (sum(p.parameters for p in shared) if column == 0 else 0)


def architecture_graph(arch: Architecture) -> nx.DiGraph:
    """Nodes carry label, group, stack, parameters, x, y; edges carry kind: flow, residual, cross, and
    in a parallel block parallel (the block input into the second branch) and join (the attention's
    output into the one add)."""
    graph = nx.DiGraph(model=arch.model_key)
    placement_pre = arch.feature("norm placement").startswith("pre")
    tops: dict[str, str] = {}
    for column, stack in enumerate(arch.stacks):
        per_block = dict(stack.per_block)
        y = 0

        def add(node: str, label: str, group: str, params: int = 0, x: float = column * 3.2) -> str:
            nonlocal y
            graph.add_node(node, label=label, group=group, stack=stack.name, parameters=params, x=x, y=y)
            y += 1
            return node

        first = f"{stack.name}:input"
        add(first, t("output so far (shifted right)") if stack.name == "decoder" and arch.family == "encoder-decoder"
            else t("input tokens"), "input")
        label, params = _embedding_node(arch, stack.name, column)
        emb = add(f"{stack.name}:embeddings", label, "embeddings", params)
        graph.add_edge(first, emb, kind="flow")
        previous = emb
        stream = emb  # the residual stream entering the current sublayer
        block_start = y
        waiting = None  # in a parallel block, the attention whose output joins the feed-forward's add
        for i, kind in enumerate(stack.flow):
            node = add(f"{stack.name}:{i}:{kind}", _label(kind, arch, stack.name), kind, per_block.get(kind, 0))
            if waiting is not None and previous == waiting:
                # The second branch reads the block input (through its own norm, when it has one),
                # or the attention's normalised input, not the attention's output.
                source = stream if kind == "norm" else next(iter(graph.predecessors(waiting)))
                graph.add_edge(source, node, kind="parallel")
            else:
                graph.add_edge(previous, node, kind="flow")
            previous = node
            if kind == "attention" and stack.parallel:
                waiting = node
                continue
            if kind in ("attention", "cross-attention", "feed-forward"):
                plus = add(f"{stack.name}:{i}:add", t("⊕ add"), "add")
                graph.add_edge(node, plus, kind="flow")
                if waiting is not None and kind == "feed-forward":
                    graph.add_edge(waiting, plus, kind="join")
                    waiting = None
                graph.add_edge(stream, plus, kind="residual")
                if kind == "cross-attention":
                    graph.nodes[node]["cross"] = True
                previous = plus
                stream = plus
            elif kind == "norm" and not placement_pre:
                stream = node  # post-norm: the normalised sum is what the next residual carries
        graph.graph[f"{stack.name}:block"] = (block_start, y - 1, stack.blocks)
        finals = [p for p in arch.parts if p.group == "norm" and p.block < 0
                  and (p.name == "final norm" or p.name.startswith(stack.name))]
        for p in finals:
            node = add(f"{stack.name}:final-norm", t("final {norm}", norm=arch.feature("norm").split(" ")[0]), "norm",
                       p.parameters)
            graph.add_edge(previous, node, kind="flow")
            previous = node
        tops[stack.name] = previous
        if arch.family != "encoder-decoder" or stack.name == "decoder":
            for p in arch.parts:
                if p.group == "head":
                    node = add(f"head:{p.name}", part_words(p.name), "head", p.parameters)
                    graph.add_edge(previous, node, kind="flow")
    if "encoder" in tops and "decoder" in tops:
        for node, data in graph.nodes(data=True):
            if data.get("cross"):
                graph.add_edge(tops["encoder"], node, kind="cross")
    return graph


def architecture_figure(arch: Architecture, marked: tuple[str, ...] = ()) -> go.Figure:
    """The graph drawn bottom-up; nodes of the groups in `marked` outlined in red (differences)."""
    graph = architecture_graph(arch)
    marked_groups = {g for feature in marked for g in FEATURE_GROUPS.get(feature, ())}
    traces = []
    styles = {"flow": dict(color="#555", width=2), "residual": dict(color="#2166ac", width=2, dash="dash"),
              "cross": dict(color="#762a83", width=3)}
    if any(d["kind"] == "parallel" for _, _, d in graph.edges(data=True)):
        # Only then, so that the figures of sequential blocks keep their three traces.
        styles["parallel"] = {"color": "#555", "width": 2, "dash": "dot"}
        styles["join"] = {"color": "#555", "width": 2}
    for kind, line in styles.items():
        xs, ys = [], []
        for a, b, data in graph.edges(data=True):
            if data["kind"] != kind:
                continue
            xa, ya, xb, yb = graph.nodes[a]["x"], graph.nodes[a]["y"], graph.nodes[b]["x"], graph.nodes[b]["y"]
            if kind in ("residual", "parallel", "join"):
                # Bow the skip connection out to the left of the column, and a parallel block's two
                # branch edges less far, so that they do not run through the nodes between.
                bow = {"residual": 1.1, "parallel": 0.6, "join": 0.3}[kind]
                xs += [xa, xa - bow, xb - bow, xb, None]
                ys += [ya, ya + 0.3, yb - 0.3, yb, None]
            else:
                xs += [xa, xb, None]
                ys += [ya, yb, None]
        traces.append(go.Scatter(x=xs, y=ys, mode="lines", line=line, hoverinfo="skip",
                                 name={"flow": t("data flow"), "residual": t("residual path"),
                                       "cross": t("encoder output → cross-attention"),
                                       "parallel": t("block input → feed-forward branch (parallel)"),
                                       "join": t("attention output → the one add (parallel)")}[kind]))
    nodes = list(graph.nodes)
    data = [graph.nodes[n] for n in nodes]
    traces.append(go.Scatter(
        x=[d["x"] for d in data], y=[d["y"] for d in data], mode="markers+text", showlegend=False,
        text=[d["label"] for d in data], textposition="middle right", textfont=dict(size=12),
        marker=dict(symbol="square", size=20, color=[GROUP_COLORS.get(d["group"], "#eee") for d in data],
                    line=dict(width=[4 if d["group"] in marked_groups else 1 for d in data],
                              color=[DIFF_COLOR if d["group"] in marked_groups else "#333" for d in data])),
        hovertext=[f"{d['label']}<br>{t(d['group'])}<br>" + t("{count} parameters", count=f"{d['parameters']:,}")
                   for d in data], hoverinfo="text"))
    fig = go.Figure(traces)
    for stack in arch.stacks:
        start, end, blocks = graph.graph[f"{stack.name}:block"]
        x = graph.nodes[f"{stack.name}:input"]["x"]
        fig.add_shape(type="rect", x0=x - 1.4, x1=x + 2.6, y0=start - 0.5, y1=end + 0.5,
                      line=dict(color="#999", dash="dot"), fillcolor="rgba(0,0,0,0)")
        blocks_text = t("{stack} blocks", stack=t(stack.name))
        fig.add_annotation(x=x - 1.35, y=end + 0.45, text=f"<b>× {blocks}</b> {blocks_text}", showarrow=False,
                           xanchor="left", yanchor="top", font=dict(size=13))
    height = int(140 + 46 * (max(d["y"] for d in data) + 1))
    title = t("{model}: {cls}, {count} parameters", model=plotly_text(model_words(arch.model_name)), cls=arch.model_class,
              count=f"{arch.parameters:,}")
    layout = base_layout(title, height=height)
    layout["margin"] = dict(l=10, r=10, t=48, b=10)
    width = max(d["x"] for d in data)
    fig.update_layout(layout, legend=dict(orientation="h", y=1.0, yanchor="bottom", x=1, xanchor="right"),
                      xaxis=dict(visible=False, range=[-1.8, width + 3.0]), yaxis=dict(visible=False))
    return fig


def parts_table_markdown(arch: Architecture) -> str:
    """Parameters per part, with each group's share of the total."""
    lines = [f"| {t('part')} | {t('where')} | {t('parameters')} | {t('share')} |", "|---|---|---:|---:|"]
    seen: dict[tuple, int] = {}
    for p in arch.parts:
        where = t("{stack} blocks", stack=t(p.stack)) if p.block >= 0 else t("outside the blocks")
        seen[(p.name, where)] = seen.get((p.name, where), 0) + p.parameters
    for (name, where), count in seen.items():
        lines.append(f"| {escape(part_words(name))} | {where} | {count:,} | {count / arch.parameters:.1%} |")
    lines.append(f"| **{t('total')}** {t('(= sum of `p.numel()`)')} | | **{arch.parameters:,}** | 100% |")
    return "\n".join(lines)


def comparison_markdown(a: Architecture, b: Architecture, rows: list[tuple[str, str, str, bool]]) -> str:
    """The feature rows side by side, differing rows marked ≠ and bold."""
    lines = [f"| | {escape(model_words(a.model_name))} | {escape(model_words(b.model_name))} |", "|---|---|---|"]
    for name, left, right, differs in rows:
        words = t(name)
        mark = "**≠ " + words + "**" if differs else words
        cells = [escape(feature_words(name, value)) for value in (left, right)]
        if name in ("class", "norm"):
            cells = [CLASS_NAME.sub(lambda m: f"`{m[0]}`", cell) for cell in cells]
        lines.append(f"| {mark} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)
