"""The decoding knobs: checking them, applying them with transformers' own warpers, and the two
distributions a step can be described by.

A step's token has a probability under the model's own distribution (softmax of its logits)
and, when sampling, under the distribution it was drawn from (after temperature, top-k and
top-p, renormalised). The two differ: with top_k=1 the drawn-from distribution is one-hot, so
the token has probability 1 there whatever the model thought. `StepNumbers` carries both, named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from models.numeric import entropy
from models.results import Settings

STRATEGIES = ("greedy", "sample", "beam")
MAX_NEW_TOKENS = 64
MAX_BEAMS = 8
# Logits divided by a smaller temperature overflow float32 (1e-300 becomes 0 in float32, and
# the scores infinity); 1e-6 keeps |logit| / T finite for any logit below 1e32.
MIN_TEMPERATURE = 1e-6


def check_settings(settings: Settings, family: str) -> Settings:
    """Refuse impossible knobs with a message that says what is allowed."""
    if family == "encoder":
        raise ValueError("An encoder (BERT) does not generate left to right; pick a decoder or an encoder-decoder.")
    if settings.strategy not in STRATEGIES:
        raise ValueError(f"Strategy must be one of {', '.join(STRATEGIES)}.")
    if settings.strategy == "beam" and not 2 <= int(settings.num_beams) <= MAX_BEAMS:
        raise ValueError(f"Beam search needs 2 to {MAX_BEAMS} beams (one beam is greedy decoding).")
    values = {"temperature": settings.temperature, "top_p": settings.top_p}
    for name, value in values.items():
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number.")
    if not 0 <= settings.temperature <= 10:
        raise ValueError("Temperature must be between 0 (greedy) and 10.")
    if 0 < settings.temperature < MIN_TEMPERATURE:
        raise ValueError(f"Temperature {settings.temperature:g} is too close to 0: the scores divided by it "
                         f"overflow. Use 0 for greedy decoding or at least {MIN_TEMPERATURE:g}.")
    if not 0 < settings.top_p <= 1:
        raise ValueError("top_p must be above 0 and at most 1 (1 = off).")
    if not 0 <= int(settings.top_k) <= 100_000:
        raise ValueError("top_k must be 0 (off) or a positive number of tokens.")
    if not 1 <= int(settings.max_new_tokens) <= MAX_NEW_TOKENS:
        raise ValueError(f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS}.")
    if not 0 <= int(settings.seed) < 2**63:
        raise ValueError("The seed must be a non-negative whole number.")
    return settings


def warp(scores: torch.Tensor, input_ids: torch.Tensor, settings: Settings) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(final scores, [probabilities after each stage]) for one row of logits, shape (1, vocab).

    The stages are raw, after temperature, after top-k, after top-p (the last two not
    renormalised); the final scores are what generate() samples from.
    """
    scores = scores.float()
    raw = torch.softmax(scores, -1)
    if not settings.sampling:
        return scores, [raw, raw, raw, raw]
    scores = TemperatureLogitsWarper(float(settings.temperature))(input_ids, scores)
    # check_settings keeps ordinary logits finite; a model with huge logits could still overflow
    # (to +inf, or every score to -inf), and softmax would then hand torch.multinomial NaNs.
    if bool(torch.isnan(scores).any()) or bool(torch.isposinf(scores).any()) or not bool(torch.isfinite(scores).any()):
        raise ValueError(f"The scores divided by temperature {settings.temperature:g} overflow; "
                         "use a larger temperature, or 0 for greedy decoding.")
    tempered = torch.softmax(scores, -1)
    if settings.top_k > 0:
        scores = TopKLogitsWarper(int(settings.top_k))(input_ids, scores)
    after_k = torch.where(torch.isfinite(scores), tempered, torch.zeros_like(tempered))
    if settings.top_p < 1.0:
        scores = TopPLogitsWarper(float(settings.top_p))(input_ids, scores)
    after_p = torch.where(torch.isfinite(scores), tempered, torch.zeros_like(tempered))
    return scores, [raw, tempered, after_k, after_p]


@dataclass(frozen=True)
class StepNumbers:
    """One chosen token under the model's distribution and under the one it was sampled from
    (None when nothing was sampled: greedy and beam search choose from the model's own)."""
    model_prob: float
    model_entropy: float
    sample_prob: float | None
    sample_entropy: float | None


def step_numbers(raw: torch.Tensor, final: torch.Tensor, chosen: int, sampled: bool) -> StepNumbers:
    """raw: softmax of the logits, final: the distribution drawn from; both one row (vocab,)."""
    model = StepNumbers(float(raw[chosen]), float(entropy(raw.cpu().numpy())), None, None)
    if not sampled:
        return model
    return StepNumbers(model.model_prob, model.model_entropy, float(final[chosen]),
                       float(entropy(final.cpu().numpy())))


def add_log(total: float | None, prob: float | None) -> float | None:
    """A running sum of log-probabilities; a token of probability 0 makes it -inf."""
    if total is None or prob is None:
        return None
    return total + (math.log(prob) if prob > 0 else float("-inf"))
