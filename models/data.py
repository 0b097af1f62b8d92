"""The plain data a model run produces: numpy arrays and strings, no torch.

viz/ draws these and the API serialises them; importing this module does not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class AttentionSet:
    kind: str  # "encoder", "decoder" or "cross"
    attn: np.ndarray  # (layers, heads, query, key) float32, each row sums to 1
    mask: np.ndarray  # (query, key) float32, 1 = may attend, 0 = masked
    query_tokens: tuple[str, ...]
    key_tokens: tuple[str, ...]

    @property
    def layers(self) -> int:
        return self.attn.shape[0]

    @property
    def heads(self) -> int:
        return self.attn.shape[1]


@dataclass(frozen=True)
class Candidate:
    token: str
    token_id: int
    prob: float


@dataclass(frozen=True)
class Prediction:
    position: int  # index into the trace's tokens (encoder) or the last position (decoder)
    candidates: tuple[Candidate, ...]  # most likely first


@dataclass(frozen=True)
class Familiarity:
    """Input tokens a model cannot really read (see models/familiarity.py)."""

    flags: np.ndarray  # (seq,) bool, True where the model cannot really read the token
    unknown: tuple[str, ...] = ()  # source text behind [UNK] tokens
    byte_pieces: tuple[str, ...] = ()  # characters spelled as loose bytes
    rare: tuple[str, ...] = ()  # tokens (as shown) rarely or never seen in training


@dataclass(frozen=True)
class Trace:
    model_key: str
    model_name: str
    family: str
    tokens: tuple[str, ...]  # input tokens as shown
    token_ids: np.ndarray  # (seq,) int64
    special: np.ndarray  # (seq,) bool, True for [CLS], </s>, <s>... added by the tokenizer
    attentions: tuple[AttentionSet, ...]
    predictions: tuple[Prediction, ...] = ()
    output_text: str = ""  # encoder-decoders: the greedy output
    decoder_tokens: tuple[str, ...] = ()  # encoder-decoders: the decoder's input tokens
    next_sentence: float | None = None  # encoders with an NSP head, on a "A [SEP] B" pair: P(IsNext)
    notices: tuple[str, ...] = field(default=())
    familiarity: Familiarity | None = None

    @property
    def unfamiliar(self) -> np.ndarray:  # (seq,) bool
        if self.familiarity is None:
            return np.zeros(len(self.tokens), dtype=bool)
        return self.familiarity.flags

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(a.kind for a in self.attentions)

    def attention(self, kind: str) -> AttentionSet:
        for a in self.attentions:
            if a.kind == kind:
                return a
        raise ValueError(f"{self.model_name} has no {kind!r} attention; it has {', '.join(self.kinds)}.")
