"""Numbers computed from attention weights: head patterns, rank, rollout and flow.

These functions take the float32 arrays of a Trace and return small frozen dataclasses, so
the API and viz/ share one computation.

- Head patterns: entropy, mean attention distance, sink share, previous/next/diagonal scores
  and a rule-based label per head (the rules are in docs/decisions.md), in the spirit of the
  head taxonomies of Clark et al. 2019 ("What does BERT look at?") and Kovaleva et al. 2019.
- Rank: singular values, numerical rank at a relative tolerance and effective rank
  (Roy and Vetterli 2007: exp of the entropy of the normalised singular values); and, apart
  from those, the exact argument for a causal head: a lower-triangular matrix has
  det = prod a[i, i], so with every diagonal weight > 0 it is full rank without any tolerance.
- Rollout and flow: Abnar and Zuidema 2020, "Quantifying Attention Flow in Transformers".

Pure numpy and scipy (its maximum-flow solver); no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import maximum_flow

from models import numeric
from models.spectra import singular_values
from models.data import AttentionSet, Trace
from models.results import AttentionPair
from models.limits import check_time, setting

LABELS = ("diagonal", "previous-token", "next-token", "sink", "block", "broad", "mixed")
LABEL_HELP = {
    "diagonal": "attends to itself",
    "previous-token": "attends to the token just before",
    "next-token": "attends to the token just after",
    "sink": "most rows attend to one column (a sink such as [CLS], [SEP], BOS or a full stop)",
    "block": "stays inside its own segment (between separators and punctuation)",
    "broad": "spreads its attention almost uniformly",
    "mixed": "no single pattern dominates",
}
PATTERN_THRESHOLD = 0.5
BLOCK_THRESHOLD = 0.6
BROAD_THRESHOLD = 0.8
SEGMENT_BREAKS = frozenset({".", ",", "!", "?", ";", ":", "，", "。", "！", "？", "；", "：", "、"})

METRICS = ("entropy", "distance", "sink", "vertical", "previous", "diagonal", "next", "block")


@dataclass(frozen=True)
class HeadPatterns:
    kind: str
    entropy: np.ndarray  # (layers, heads) mean row entropy / log(allowed keys), 0..1
    distance: np.ndarray  # (layers, heads) mean over rows of sum_j a_ij |i - j|, in tokens
    sink: np.ndarray  # (layers, heads) mean share of attention on the first and special tokens
    vertical: np.ndarray  # (layers, heads) largest mean attention any one key column receives
    vertical_key: np.ndarray  # (layers, heads) int, the key position of that column
    previous: np.ndarray  # (layers, heads) mean a[i, i-1]
    diagonal: np.ndarray  # (layers, heads) mean a[i, i]
    next: np.ndarray  # (layers, heads) mean a[i, i+1] (0 where the mask forbids it)
    block: np.ndarray  # (layers, heads) mean share inside the own segment, self excluded; NaN with one segment
    label: np.ndarray  # (layers, heads) str, one of LABELS
    score: np.ndarray  # (layers, heads) the metric value that decided the label

    def metric(self, name: str) -> np.ndarray:
        if name not in METRICS:
            raise ValueError(f"Unknown head metric {name!r}; choose from {', '.join(METRICS)}.")
        return getattr(self, name)


@dataclass(frozen=True)
class RankReport:
    kind: str
    tolerance: float  # relative: singular values above tolerance * largest count
    shape: tuple[int, int]  # (query, key) of each attention matrix
    singular_values: np.ndarray  # (layers, heads, min(query, key)) float64, descending
    rank: np.ndarray  # (layers, heads) int
    effective_rank: np.ndarray  # (layers, heads) float64
    min_diagonal: np.ndarray  # (layers, heads) smallest a[i, i]: for a causal matrix det = prod a[i, i]
    triangular: np.ndarray  # (layers, heads) bool: square, every weight above the diagonal exactly 0
    full_rank_exact: np.ndarray  # (layers, heads) bool: triangular and every a[i, i] > 0, so det > 0
    log_det: np.ndarray  # (layers, heads) float64: sum of log a[i, i] (= log det) where triangular, else NaN
    float_tolerance: float  # relative: max(query, key) * float32 eps, numpy matrix_rank's default
    float_rank: np.ndarray  # (layers, heads) int: singular values above float_tolerance * largest


@dataclass(frozen=True)
class Importance:
    kind: str
    position: int  # the query position whose inputs are scored
    tokens: tuple[str, ...]
    rollout: np.ndarray  # (tokens,) row `position` of the attention rollout, sums to 1
    # None for both when the flow's cost is over flow_max_work() (the notice says so)
    flow: np.ndarray | None  # (tokens,) flow_raw / its sum: on rollout's scale, as Abnar and Zuidema's code shows it
    flow_raw: np.ndarray | None  # (tokens,) maximum flow from `position` in the last layer to each input token
    notices: tuple[str, ...] = ()


def _valid(attn: AttentionSet) -> np.ndarray:
    """Query rows that belong to real tokens (a padded query row has no allowed key)."""
    return attn.mask.sum(axis=1) > 0


def segments(tokens: tuple[str, ...], special: np.ndarray) -> np.ndarray:
    """(tokens,) int segment id; special tokens and punctuation close a segment and get -1."""
    ids = np.full(len(tokens), -1, dtype=np.int64)
    current = 0
    for i, tok in enumerate(tokens):
        if special[i] or tok.strip("▁Ġ ") in SEGMENT_BREAKS:
            current += 1
            continue
        ids[i] = current
    return ids


def head_patterns(attn: AttentionSet, special: np.ndarray | None = None) -> HeadPatterns:
    """Pattern metrics and a label for every head of one self-attention kind."""
    if len(attn.query_tokens) != len(attn.key_tokens):
        raise ValueError("Head patterns need self-attention (queries and keys are the same tokens); "
                         f"{attn.kind} attention is not.")
    # float32 throughout the (layers, heads, n, n) passes, float64 in the means over rows: a
    # float64 copy of bert-base's weights at 512 tokens is 300 MB and doubled this view's time.
    a = np.asarray(attn.attn, dtype=np.float32)  # (layers, heads, n, n)
    n = a.shape[-1]
    special = np.zeros(n, dtype=bool) if special is None else np.asarray(special, dtype=bool)
    allowed = attn.mask > 0
    rows = _valid(attn)
    # Rows that can see only one key carry no pattern (a causal model's first row): leave them out.
    informative = rows & (allowed.sum(axis=1) > 1)
    if not informative.any():
        informative = rows
    idx = np.arange(n)

    def row_mean(values: np.ndarray, where: np.ndarray) -> np.ndarray:
        if not where.any():
            return np.zeros(a.shape[:2])
        return values[..., where].mean(axis=-1, dtype=np.float64)

    entropy_rows = numeric.entropy(a)
    norm = np.log(np.maximum(allowed.sum(axis=1), 2))
    entropy = row_mean(entropy_rows / norm, informative)
    offsets = np.abs(idx[:, None] - idx[None, :]).astype(np.float32)
    distance = row_mean((a * offsets).sum(-1), informative)
    sinks = special.copy()
    sinks[0] = True
    sink = row_mean(a[..., sinks].sum(-1), informative)
    column = (informative / informative.sum()).astype(np.float32) @ a  # (layers, heads, n): mean over rows
    vertical, vertical_key = column.max(-1), column.argmax(-1)
    previous = row_mean(np.concatenate([np.zeros(a.shape[:2] + (1,), np.float32), a[..., idx[1:], idx[:-1]]], -1),
                        informative & (idx > 0))
    diagonal = row_mean(a[..., idx, idx], informative)
    nxt = row_mean(np.concatenate([a[..., idx[:-1], idx[1:]], np.zeros(a.shape[:2] + (1,), np.float32)], -1),
                   informative & (idx < n - 1))
    seg = segments(attn.query_tokens, special)
    real = seg[seg >= 0]
    if len(np.unique(real)) > 1:
        same = (seg[:, None] == seg[None, :]) & (seg[:, None] >= 0) & ~np.eye(n, dtype=bool)
        block = row_mean((a * same).sum(-1), informative & (seg >= 0))
    else:
        block = np.full(a.shape[:2], np.nan)
    label, score = _labels(entropy, np.maximum(sink, vertical), previous, diagonal, nxt, block)
    f32 = np.float32
    return HeadPatterns(attn.kind, entropy.astype(f32), distance.astype(f32), sink.astype(f32), vertical.astype(f32),
                        vertical_key.astype(np.int64), previous.astype(f32), diagonal.astype(f32), nxt.astype(f32),
                        block.astype(f32), label, score.astype(f32))


def _labels(entropy, sink, previous, diagonal, nxt, block) -> tuple[np.ndarray, np.ndarray]:
    """First the position patterns (strongest wins, at least PATTERN_THRESHOLD), then block,
    then broad (normalised entropy at least BROAD_THRESHOLD), else mixed."""
    label = np.full(entropy.shape, "mixed", dtype=object)
    score = np.zeros(entropy.shape)
    named = np.stack([diagonal, previous, nxt, sink])  # (4, layers, heads)
    names = np.array(["diagonal", "previous-token", "next-token", "sink"], dtype=object)
    best = named.argmax(0)
    best_score = named.max(0)
    strong = best_score >= PATTERN_THRESHOLD
    label[strong] = names[best[strong]]
    score[strong] = best_score[strong]
    blocky = ~strong & (np.nan_to_num(block, nan=0.0) >= BLOCK_THRESHOLD)
    label[blocky] = "block"
    score[blocky] = block[blocky]
    broad = ~strong & ~blocky & (entropy >= BROAD_THRESHOLD)
    label[broad] = "broad"
    score[broad] = entropy[broad]
    rest = label == "mixed"
    score[rest] = best_score[rest]
    return label.astype(str), score


def attention_rank(attn: AttentionSet, tolerance: float = 1e-3) -> RankReport:
    """Singular values, numerical rank (sigma > tolerance * sigma_max) and effective rank per head,
    the rank at float32 precision, and for triangular (causal) heads the exact argument."""
    tolerance = float(tolerance)
    if not np.isfinite(tolerance) or not 0 < tolerance < 1:
        raise ValueError("The rank tolerance must be a number between 0 and 1 (for example 1e-3).")
    rows = _valid(attn)
    keys = attn.mask.sum(axis=0) > 0
    # (layers, heads, query, key) float32. At 512 tokens a copy is 150-300 MB: only padding makes one.
    stored = attn.attn if rows.all() and keys.all() else attn.attn[..., np.flatnonzero(rows)[:, None], np.flatnonzero(keys)]
    square = stored.shape[-2] == stored.shape[-1]
    # Zero in float32 is zero in float64: the triangle and the diagonal are read on the stored weights.
    triangular = (np.triu(stored, 1) == 0).all(axis=(-2, -1)) if square else np.zeros(stored.shape[:2], dtype=bool)
    s = singular_values(stored)  # (layers, heads, k) descending
    rank = (s > tolerance * s[..., :1]).sum(-1)
    p = s / np.maximum(s.sum(-1, keepdims=True), 1e-300)
    effective = np.exp(numeric.entropy(p))
    k = min(stored.shape[-2:])
    diagonal = stored[..., np.arange(k), np.arange(k)].astype(np.float64)  # (layers, heads, k)
    # The exact test reads the stored weights themselves: a diagonal weight that underflowed to
    # 0 in float32 voids the argument, however positive the true softmax value was.
    exact = triangular & (diagonal > 0).all(-1)
    with np.errstate(divide="ignore"):
        log_det = np.where(triangular, np.log(diagonal).sum(-1), np.nan)
    # The weights arrive as float32: singular values below this are within their rounding.
    float_tolerance = float(max(stored.shape[-2:]) * np.finfo(np.float32).eps)
    float_rank = (s > float_tolerance * s[..., :1]).sum(-1)
    return RankReport(attn.kind, tolerance, stored.shape[-2:], s, rank.astype(np.int64), effective, diagonal.min(-1),
                      triangular, exact, log_det, float_tolerance, float_rank.astype(np.int64))


def residual_attention(attn: np.ndarray) -> np.ndarray:
    """(layers, n, n): heads averaged, 0.5 A + 0.5 I for the residual path, rows renormalised."""
    a = attn.astype(np.float64).mean(axis=1)
    a = 0.5 * a + 0.5 * np.eye(a.shape[-1])
    return a / a.sum(-1, keepdims=True)


def rollout(attn: np.ndarray) -> np.ndarray:
    """(n, n) attention rollout: residual attention of the layers multiplied, last layer first."""
    layers = residual_attention(attn)
    result = np.eye(layers.shape[-1])
    for a in layers:
        result = a @ result
    return result


FLOW_SCALE = 10**9  # capacities as integers in billionths: the solver works on integers
FLOW_WORK_ENV = "TRIPTYCH_FLOW_MAX_WORK"


def flow_max_work() -> int:
    """The most token x edge units one flow may cost (default 12,000,000, about 0.2-0.3 s here: a
    12-layer model up to ~100 tokens, the embedded models at every length they take). Measured
    15-27 ns per unit with scipy's Dinic; bert-base at 512 tokens is 1.5 G units, ~30 s and more."""
    return setting(FLOW_WORK_ENV, 12_000_000)


def flow_work(n_layers: int, n: int) -> int:
    """Token x edge units of `flow` on n tokens: n maximum-flow problems, each on the graph of
    flow_capacities (at most (layers - 1) n^2 + n edges)."""
    return n * ((n_layers - 1) * n * n + n)


def flow_capacities(attn: np.ndarray, position: int) -> csr_array:
    """Abnar and Zuidema's layered graph as a sparse capacity matrix: node l * n + i is token i
    after layer l (l = 0 is the input), and the edge (l, i) -> (l - 1, j) has capacity equal to the
    residual attention of i on j, in integer billionths. Only the query's node is kept in the last
    layer (no other node there is reachable from it).

    Built with numpy: networkx took ~10 s to build bert-base's graph at 512 tokens (3.1 M edges),
    this takes ~0.2 s."""
    residual = residual_attention(attn)  # (layers, n, n)
    n_layers, n = residual.shape[0], residual.shape[-1]
    capacity = np.floor(residual * FLOW_SCALE).astype(np.int64)
    below = (np.arange(n_layers - 1)[:, None] * n + np.arange(n)[None, :])[:, None, :]  # (layers - 1, 1, n)
    rows = np.concatenate([np.repeat(np.arange(n, n_layers * n), n), np.full(n, n_layers * n + position)])
    cols = np.concatenate([np.broadcast_to(below, (n_layers - 1, n, n)).ravel(), (n_layers - 1) * n + np.arange(n)])
    values = np.concatenate([capacity[:-1].ravel(), capacity[-1, position]])
    keep = values > 0
    size = (n_layers + 1) * n
    return csr_array((values[keep], (rows[keep], cols[keep])), shape=(size, size))


def flow(attn: np.ndarray, position: int) -> np.ndarray:
    """(n,) maximum flow from `position` at the last layer to each input token.

    The maximum flow runs in scipy's Dinic solver on flow_capacities (networkx's pure-Python
    solvers take minutes on 12 layers x 64 tokens, this takes ~0.1 s). Capacities are rounded
    down to billionths, so values are exact to about 1e-8.
    """
    n_layers, n = attn.shape[0], attn.shape[-1]
    capacity = flow_capacities(attn, position)
    source = n_layers * n + position
    values = []
    for j in range(n):
        check_time()  # n max-flow problems: the one analysis whose cost grows with tokens x layers
        values.append(maximum_flow(capacity, source, j, method="dinic").flow_value / FLOW_SCALE)
    return np.array(values)


def importance(attn: AttentionSet, position: int | None = None) -> Importance:
    """Rollout and flow scores of every input token for one query position."""
    if len(attn.query_tokens) != len(attn.key_tokens):
        raise ValueError("Rollout and flow follow one stack of self-attention; cross-attention is not one.")
    n = len(attn.query_tokens)
    if position is None:
        position = n - 1 if attn.kind == "decoder" else 0
    position = int(position)
    if not 0 <= position < n:
        raise ValueError(f"Position {position} does not exist: the text has positions 0 to {n - 1}.")
    spread = rollout(attn.attn)[position]
    n_layers, limit = attn.layers, flow_max_work()
    if flow_work(n_layers, n) > limit:
        fits = max(m for m in range(1, n) if flow_work(n_layers, m) <= limit) if flow_work(n_layers, 1) <= limit else 0
        return Importance(attn.kind, position, attn.query_tokens, spread, None, None, (
            f"Attention flow was not computed: it solves one maximum-flow problem per input token, here {n:,} "
            f"problems on up to {(n_layers - 1) * n * n + n:,} edges each, more than the {limit:,} token x edges "
            f"allowed ({FLOW_WORK_ENV}). Rollout is shown alone; for flow, use at most {fits:,} tokens on this "
            "model or raise the limit.",))
    raw = flow(attn.attn, position)
    total = raw.sum()
    normalised = raw / total if total > 0 else raw
    return Importance(attn.kind, position, attn.query_tokens, spread, normalised, raw)


# ---------------------------------------------------------------------------------------------
# Whole traces and their public JSON


def self_attention_kinds(trace: Trace) -> tuple[str, ...]:
    return tuple(a.kind for a in trace.attentions if a.kind != "cross")


def importance_of(trace, position, kind: str):
    """Rollout and flow for one self-attention kind (the first when none is named)."""
    kinds = self_attention_kinds(trace)
    kind = kind or kinds[0]
    if kind not in kinds:
        raise ValueError(f"{trace.model_name} has self-attention kinds {', '.join(kinds)}; not {kind!r}.")
    position = None if position is None or int(position) < 0 else int(position)
    return importance(trace.attention(kind), position)


def trace_patterns(trace: Trace) -> dict[str, HeadPatterns]:
    """Head patterns of every self-attention kind (cross-attention has no shared positions)."""
    out = {}
    for kind in self_attention_kinds(trace):
        attn = trace.attention(kind)
        special = trace.special if kind == "encoder" or trace.family == "decoder" else _special_labels(attn)
        out[kind] = head_patterns(attn, special)
    return out


def _special_labels(attn: AttentionSet) -> np.ndarray:
    """Special tokens of a T5 decoder input, which the trace keeps as labels only."""
    return np.array([t.startswith("<") and t.endswith(">") for t in attn.query_tokens], dtype=bool)


def trace_rank(trace: Trace, tolerance: float) -> dict[str, RankReport]:
    return {a.kind: attention_rank(a, tolerance) for a in trace.attentions}


def patterns_to_json(trace: Trace, patterns: dict[str, HeadPatterns]) -> dict:
    result = {"model": trace.model_key, "tokens": list(trace.tokens), "labels": {k: LABEL_HELP[k] for k in LABELS}}
    for kind, p in patterns.items():
        result[kind] = {
            "shape": list(p.label.shape),
            "label": p.label.tolist(),
            "score": numeric.jsonable(p.score),
            "metrics": {name: numeric.jsonable(p.metric(name)) for name in METRICS},
            "vertical_key": p.vertical_key.tolist(),
        }
    return result


def rank_to_json(trace: Trace, reports: dict[str, RankReport], encoding: str = "json") -> dict:
    """The public form; `encoding` (numeric.ENCODINGS) for the singular values."""
    result = {"model": trace.model_key, "tokens": list(trace.tokens), "encoding": encoding}
    for kind, r in reports.items():
        result[kind] = {
            "shape": list(r.shape),
            "tolerance": r.tolerance,
            "rank": r.rank.tolist(),
            "effective_rank": numeric.jsonable(r.effective_rank),
            "singular_values": numeric.encoded(r.singular_values, encoding),
            "min_diagonal": numeric.jsonable(r.min_diagonal),
            "triangular": r.triangular.tolist(),
            "full_rank_exact": r.full_rank_exact.tolist(),
            "log_det": numeric.jsonable(r.log_det),
            "float_tolerance": r.float_tolerance,
            "float_rank": r.float_rank.tolist(),
        }
    return result


def importance_to_json(trace: Trace, result: Importance) -> dict:
    return {"model": trace.model_key, "kind": result.kind, "tokens": list(result.tokens), "position": result.position,
            "rollout": numeric.jsonable(result.rollout),
            "flow": None if result.flow is None else numeric.jsonable(result.flow),
            "flow_raw": None if result.flow_raw is None else numeric.jsonable(result.flow_raw),
            "notices": list(result.notices)}


def attention_pair(a: Trace, b: Trace, kind: str, layer: int, head: int) -> AttentionPair:
    """One head of one attention kind on two runs (two texts, or one text on two models), and their
    difference where it means something: the same tokens, so cell (i, j) is one query and key on both."""
    for side, trace in (("A", a), ("B", b)):
        if kind not in trace.kinds:
            raise ValueError(f"Side {side} ({trace.model_name}) has attention kinds {', '.join(trace.kinds)}; not {kind!r}.")
    first, second = a.attention(kind), b.attention(kind)
    layer, head = int(layer), int(head)
    for side, attn in (("A", first), ("B", second)):
        if not (0 <= layer < attn.layers and 0 <= head < attn.heads):
            raise ValueError(f"Side {side} has layers 0 to {attn.layers - 1} and heads 0 to {attn.heads - 1}; "
                             f"layer {layer}, head {head} does not exist there.")
    wa, wb = first.attn[layer, head], second.attn[layer, head]
    same = (first.query_tokens, first.key_tokens) == (second.query_tokens, second.key_tokens)
    why = "" if same else "The two sides have different tokens, so their cells are different pairs of tokens: shown side by side only."
    return AttentionPair(kind, layer, head, a.model_name, b.model_name, first.query_tokens, second.query_tokens,
                         wa, wb, (wa - wb).astype(np.float32) if same else None, why)


def pair_to_json(result) -> dict:
    return {"kind": result.kind, "layer": result.layer, "head": result.head, "a_model": result.a_model,
            "b_model": result.b_model, "a_tokens": list(result.a_tokens), "b_tokens": list(result.b_tokens),
            "a": numeric.jsonable(result.a), "b": numeric.jsonable(result.b),
            "difference": None if result.difference is None else numeric.jsonable(result.difference),
            "same_tokens": result.difference is not None, "why_no_difference": result.why_not}
