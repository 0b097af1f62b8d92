"""The results of the decoding, concept and architecture views: numpy arrays and strings, no torch.

models/data.py holds what one traced run produces; this module holds what the other
computations in models/ return (decoding.py, objectives.py, positions.py, mechanisms.py,
architecture.py). viz/ draws these and the API serialises them; importing this module does
not import torch, so viz/ stays free of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.data import Familiarity

# ---------------------------------------------------------------------------------------------
# Decoding

STAGES = ("raw", "after_temperature", "after_top_k", "after_top_p", "final")


@dataclass(frozen=True)
class Settings:
    strategy: str = "greedy"
    temperature: float = 1.0
    top_k: int = 0  # 0 = off
    top_p: float = 1.0  # 1 = off
    seed: int = 0
    max_new_tokens: int = 20
    num_beams: int = 1
    use_cache: bool = True

    @property
    def sampling(self) -> bool:
        return self.strategy == "sample" and self.temperature > 0


@dataclass(frozen=True)
class Step:
    token: str
    token_id: int
    # prob, logprob_sum and entropy describe the model's own distribution (softmax of its logits)
    # under every strategy; the sample_* fields the distribution a sampled token was drawn from.
    prob: float  # probability the model gave the chosen token
    logprob_sum: float  # the model's cumulative log-probability of the generated tokens so far
    entropy: float  # entropy (nats) of the model's distribution
    candidate_ids: np.ndarray  # (candidates,) int64, most probable under the raw distribution first
    candidate_tokens: tuple[str, ...]
    stages: np.ndarray  # (len(STAGES), candidates) float32
    kept: int  # how many tokens survive every filter
    attention: np.ndarray  # (layers, heads, keys) float32: the new token's self-attention row
    cross: np.ndarray | None  # (layers, heads, source) float32: its cross-attention row (encoder-decoders)
    seconds: float  # wall time of this step's forward pass
    cache_bytes: int  # size of the KV cache after this step (0 with the cache off): self + cross
    # Under sampling: the token's probability, the running log-probability and the entropy of the
    # distribution sampled from (after temperature, top-k, top-p); None for greedy and beam search.
    sample_prob: float | None = None
    sample_logprob_sum: float | None = None
    sample_entropy: float | None = None
    self_cache_bytes: int = 0  # keys and values of the decoder's self-attention (grow each step)
    cross_cache_bytes: int = 0  # encoder-decoders: keys and values of the encoder output, fixed

    @property
    def model_prob(self) -> float:
        return self.prob

    @property
    def model_logprob_sum(self) -> float:
        return self.logprob_sum

    @property
    def model_entropy(self) -> float:
        return self.entropy


@dataclass(frozen=True)
class BeamNode:
    """One continuation beam search considered: a beam plus one token."""
    node: int  # index in BeamTree.nodes; 0 is the root (the prompt)
    parent: int  # -1 for the root
    step: int  # 0-based step that proposed it (-1 for the root)
    token: str
    token_id: int
    logprob: float  # log-probability of this token after its parent
    score: float  # cumulative log-probability of the hypothesis
    status: str  # "root", "running" (kept as a beam), "finished" (ended and entered the best list) or "pruned"
    final_score: float  # score / length ** length_penalty for finished hypotheses, else nan
    final_rank: int  # place in the final list of finished hypotheses (0 = the winner), -1 if none


@dataclass(frozen=True)
class BeamTree:
    num_beams: int
    kept_per_step: int  # continuations considered per step, generate()'s max(2, 1 + #eos) x beams
    length_penalty: float
    nodes: tuple[BeamNode, ...]
    winner: int  # node ending the returned hypothesis
    steps: int  # search steps run (the winner may have ended earlier)

    def path(self, node: int) -> list[int]:
        """Node ids from the first generated token down to `node`."""
        out = []
        while node > 0:
            out.append(node)
            node = self.nodes[node].parent
        return out[::-1]


@dataclass(frozen=True)
class Decoding:
    model_key: str
    family: str
    settings: Settings
    prompt_tokens: tuple[str, ...]
    token_ids: tuple[int, ...]  # the generated ids, end-of-sequence included when reached
    text: str
    steps: tuple[Step, ...]  # for beam search: along the winning hypothesis
    stopped: str  # "eos" or "length"
    beams: BeamTree | None = None
    familiarity: Familiarity | None = None  # which prompt tokens the model cannot really read
    notices: tuple[str, ...] = ()
    # The text as the tokenizer writes it: token labels (models.tokens) write spaces as "▁" and
    # loose bytes as "<XX>", which suits axes and chips but not text a person reads.
    prompt_text: tuple[str, ...] = ()  # (prompt tokens,) what each prompt token adds to the decoded prompt
    step_text: tuple[str, ...] = ()  # (steps,) what each step adds to the decoded output; "" for special tokens
    runs: int = 1  # decodes whose per-step times each step's `seconds` summarises (their median)
    run_seconds: tuple[tuple[float, ...], ...] = ()  # (runs, steps) every run's step times, when runs > 1


@dataclass(frozen=True)
class MaskFill:
    token: str
    token_id: int
    prob: float
    candidates: tuple[tuple[str, float], ...]  # top 5 fills of the trailing [MASK]


# ---------------------------------------------------------------------------------------------
# Training objectives


@dataclass(frozen=True)
class MaskedLM:
    tokens: tuple[str, ...]  # the input as typed
    inputs: tuple[str, ...]  # after corruption: what the model reads
    action: tuple[str, ...]  # per token: "" (not chosen), "mask", "random" or "keep"
    predicted: tuple[str, ...]  # the model's top-1 at each chosen position, "" elsewhere
    prob_original: np.ndarray  # (tokens,) float32: probability given to the original token; nan if not chosen
    loss: np.ndarray  # (tokens,) float32: cross-entropy at chosen positions; nan elsewhere
    mean_loss: float  # mean over the chosen positions: BERT's masked-LM loss
    next_sentence: float | None  # P(IsNext) for the pair, when a second sentence was given
    seed: int


@dataclass(frozen=True)
class NextToken:
    tokens: tuple[str, ...]  # the whole input
    targets: tuple[str, ...]  # tokens[1:]: the target at position i is the token at i + 1
    predicted: tuple[str, ...]  # the model's top-1 at positions 0 .. n-2
    prob: np.ndarray  # (n - 1,) float32: probability of each target
    loss: np.ndarray  # (n - 1,) float32: -log prob
    mean_loss: float  # equals the model's own loss with labels = input_ids


@dataclass(frozen=True)
class SpanCorruption:
    tokens: tuple[str, ...]  # the sentence's tokens (no end token)
    dropped: np.ndarray  # (tokens,) bool: removed into a span
    inputs: tuple[str, ...]  # encoder input: kept tokens, a sentinel per span, the end token
    targets: tuple[str, ...]  # decoder target: each sentinel followed by its span, then the end
    predicted: tuple[str, ...]  # teacher-forced top-1 per target position
    loss: np.ndarray  # (targets,) float32 cross-entropy per target token
    mean_loss: float  # equals the model's own loss with these labels


# ---------------------------------------------------------------------------------------------
# Positions


@dataclass(frozen=True)
class Rope:
    base: float
    head_dim: int
    angles: np.ndarray  # (positions, head_dim // 2) float32: rotation angle of each pair at each position
    scores: np.ndarray  # (positions, positions) float32: <R_m q, R_n k> for one fixed q and k


@dataclass(frozen=True)
class RelativeBuckets:
    buckets: np.ndarray  # (positions, positions) int: bucket of key - query, bidirectional (encoder)
    causal_buckets: np.ndarray  # (positions, positions) int: the decoder's one-sided buckets
    bias: np.ndarray  # (heads, positions, positions) float32: the encoder's learned bias per head
    num_buckets: int
    max_distance: int


# ---------------------------------------------------------------------------------------------
# Order without positions, scaling, mixture of experts


@dataclass(frozen=True)
class OrderResult:
    model_key: str
    family: str
    tokens: tuple[str, ...]
    permutation: np.ndarray  # (tokens,) int: shuffled position i holds original token permutation[i]
    shuffled: tuple[str, ...]
    diff_without_positions: np.ndarray  # (tokens,) float32: max |h_shuffled - h| per original token, positions all 0
    diff_with_positions: np.ndarray  # (tokens,) float32: the same with the model's positions
    max_without_positions: float
    max_with_positions: float


@dataclass(frozen=True)
class Scaling:
    tokens: tuple[str, ...]
    layer: int
    head: int
    d_k: int
    scores: np.ndarray  # (q, k) float32: QK^T with each row shifted to max 0; -inf where masked
    scaled: np.ndarray  # (q, k) float32: softmax(QK^T / sqrt(d_k)), the model's own attention
    unscaled: np.ndarray  # (q, k) float32: softmax(QK^T)
    entropy_scaled: np.ndarray  # (q,) float32, nats
    entropy_unscaled: np.ndarray  # (q,) float32
    max_scaled: np.ndarray  # (q,) float32: largest weight per row
    max_unscaled: np.ndarray  # (q,) float32


@dataclass(frozen=True)
class Routing:
    model_key: str
    tokens: tuple[str, ...]
    experts: int
    top_k: int
    probs: np.ndarray  # (layers, tokens, experts) float32: softmax of the router's logits
    chosen: np.ndarray  # (layers, tokens, top_k) int64: experts used, most probable first
    weights: np.ndarray  # (layers, tokens, top_k) float32: their mixing weights (chosen probs renormalised)
    load: np.ndarray  # (layers, experts) int64: how many tokens each expert processed
    attention: np.ndarray  # (layers, heads, query, key) float32: the same run's self-attention


# ---------------------------------------------------------------------------------------------
# Architecture

GROUPS = ("embeddings", "attention", "cross-attention", "router", "feed-forward", "norm", "head")


@dataclass(frozen=True)
class Part:
    name: str  # e.g. "token embeddings", "attention", "LM head"
    group: str  # one of GROUPS
    stack: str  # "encoder" or "decoder" for parts inside blocks, "" outside
    block: int  # block index inside its stack, -1 outside the blocks
    parameters: int


@dataclass(frozen=True)
class Stack:
    name: str  # "encoder" or "decoder"
    path: str  # module path of the list of blocks, e.g. "bert.encoder.layer"
    blocks: int
    flow: tuple[str, ...]  # sublayer kinds in the order block 0 runs them: "norm", "attention", ...
    per_block: tuple[tuple[str, int], ...]  # (group, parameters of block 0)
    # True when the feed-forward reads the block's input, not the attention's output, and both join
    # one residual add (GPT-J, GPT-NeoX's use_parallel_residual): x + attn(norm(x)) + ffn(norm(x)).
    parallel: bool = False


@dataclass(frozen=True)
class Architecture:
    model_key: str
    model_name: str
    family: str
    model_class: str
    parameters: int  # sum(p.numel()) over the model's (deduplicated) parameters
    parts: tuple[Part, ...]
    stacks: tuple[Stack, ...]
    features: tuple[tuple[str, str], ...]  # (feature, value), the rows the comparison lines up
    tree: str  # the printed module tree

    def feature(self, name: str) -> str:
        return dict(self.features)[name]


# ---------------------------------------------------------------------------------------------
# Logit lens (models/lens.py)


@dataclass(frozen=True)
class LogitLens:
    model_key: str
    model_name: str
    family: str
    stack: str  # the stack whose residual stream is read: "decoder", or "encoder" for BERT
    tokens: tuple[str, ...]  # that stack's input tokens (T5: the decoder's, the greedy output shifted)
    positions: tuple[int, ...]  # the positions read: every one, or BERT's [MASK]s when the text has some
    top_ids: np.ndarray  # (layers + 1, positions, k) int64; layer 0 is the embeddings
    top_tokens: tuple[tuple[tuple[str, ...], ...], ...]  # (layers + 1, positions, k)
    top_probs: np.ndarray  # (layers + 1, positions, k) float32
    final_ids: np.ndarray  # (positions,) int64: the model's own top prediction (the last layer's top 1)
    final_tokens: tuple[str, ...]  # (positions,)
    final_rank: np.ndarray  # (layers + 1, positions) int64: the final prediction's rank, 0 = top
    final_prob: np.ndarray  # (layers + 1, positions) float32: its probability at each layer
    head_scale: float  # what the model multiplies the normed stream by before its head (T5 tied: d_model**-0.5)
    notices: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------
# Head ablation (models/ablation.py)


@dataclass(frozen=True)
class Ablation:
    model_key: str
    model_name: str
    family: str
    kind: str  # the self-attention stack whose heads are switched off
    heads_off: tuple[tuple[int, int], ...]  # (layer, head) pairs
    position: int  # the position whose prediction is compared (decoders: the last; BERT: the first [MASK])
    position_token: str
    base_ids: np.ndarray  # (k,) int64: the unablated run's top tokens there
    base_tokens: tuple[str, ...]
    base_probs: np.ndarray  # (k,) float32
    ablated_ids: np.ndarray  # (k,) int64: the same with heads_off switched off
    ablated_tokens: tuple[str, ...]
    ablated_probs: np.ndarray  # (k,) float32
    prediction_prob: tuple[float, float]  # P(the unablated prediction): unablated, ablated
    kl: float  # KL(unablated || ablated) of the next-token distributions there, in nats
    base_text: str  # greedy continuation (decoders) or output (T5), unablated; "" for BERT
    ablated_text: str
    single_drop: np.ndarray  # (layers, heads) float32: P(prediction) unablated minus with that head alone off
    notices: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------
# Input attribution (models/attribution.py)


@dataclass(frozen=True)
class Attribution:
    model_key: str
    model_name: str
    family: str
    tokens: tuple[str, ...]  # the input tokens scored (T5: the source)
    position: int  # where the target is read: decoders the last position, BERT the first [MASK], T5 output step 0
    target_id: int
    target: str
    contrast_id: int | None  # "why target and not contrast": f = log p(target) - log p(contrast)
    contrast: str | None
    value: float  # f at the input
    baseline_value: float  # f at the baseline (the padding token's embedding at every position)
    gradient_x_input: np.ndarray  # (tokens,) float32: sum over the embedding of x * df/dx
    integrated_gradients: np.ndarray  # (tokens,) float32: sum over the embedding of (x - x') * mean df/dx on the path
    steps: int  # points on the straight path from baseline to input (midpoint rule)
    completeness_gap: float  # sum(integrated_gradients) - (value - baseline_value)
    notices: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------
# Query and key vectors (models/qk.py)


@dataclass(frozen=True)
class QKVectors:
    model_key: str
    model_name: str
    kind: str  # encoder, decoder or cross
    layer: int
    head: int
    query: int  # the query position
    query_tokens: tuple[str, ...]
    key_tokens: tuple[str, ...]
    q: np.ndarray  # (head_dim,) float32: the query vector as the attention reads it (after RoPE where there is one)
    keys: np.ndarray  # (keys, head_dim) float32: the key vectors (GQA: of the key/value head this head shares)
    products: np.ndarray  # (keys, head_dim) float32: q * k elementwise; a row sums to q . k
    scaling: float  # what q . k is multiplied by (1/sqrt(head_dim); T5: 1)
    bias: np.ndarray | None  # (keys,) float32: T5's relative position bias added to the score, None elsewhere
    allowed: np.ndarray  # (keys,) bool: the mask lets this query attend the key
    scores: np.ndarray  # (keys,) float32: q . k * scaling + bias, before the mask and softmax
    weights: np.ndarray  # (keys,) float32: the attention weights: softmax over the allowed keys
    kinds: tuple[str, ...] = ()  # the model's attention kinds
    layers: int = 0  # layers and heads of this kind
    heads: int = 0
    # RoPE (None for a model that does not rotate its queries and keys):
    q_before: np.ndarray | None = None  # (head_dim,) float32: the query before its rotation
    keys_before: np.ndarray | None = None  # (keys, head_dim) float32: the keys before theirs
    query_angles: np.ndarray | None = None  # (rotated dims,) float32: radians each dimension of the query is turned by
    key_angles: np.ndarray | None = None  # (keys, rotated dims) float32: the same for each key's position
    scores_unrotated: np.ndarray | None = None  # (keys,) float32: q . k * scaling with no rotation at all


# ---------------------------------------------------------------------------------------------
# Two texts (or two models) side by side (models/analysis.py, attention_pair)


@dataclass(frozen=True)
class AttentionPair:
    kind: str
    layer: int
    head: int
    a_model: str  # display names
    b_model: str
    a_tokens: tuple[str, ...]  # the query tokens of each side (cross-attention: its key tokens below)
    b_tokens: tuple[str, ...]
    a: np.ndarray  # (query, key) float32: side A's weights of that head
    b: np.ndarray  # (query, key) float32: side B's
    difference: np.ndarray | None  # (query, key) float32: a - b, when both sides have the same tokens and shape
    why_not: str  # why there is no difference ("" when there is one)
