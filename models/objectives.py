"""Definitions shared by training and the views that show the objectives: T5's task prefixes
and its span corruption (Raffel et al. 2020, section 3.1.4)."""

from __future__ import annotations

import random

ZH_TO_EN = "translate Chinese to English: "
EN_TO_ZH = "translate English to Chinese: "


def span_corrupt(ids: list[int], sentinels: list[int], rng: random.Random, eos: int) -> tuple[list[int], list[int]]:
    """T5's span corruption: drop ~15 % of tokens in spans (mean length 3), mark each with a sentinel."""
    n = len(ids)
    n_noise = max(1, round(n * 0.15))
    n_spans = max(1, min(len(sentinels), round(n_noise / 3)))
    starts = sorted(rng.sample(range(n), min(n, n_spans)))
    inputs, targets, pos, k = [], [], 0, 0
    for start in starts:
        if start < pos:
            continue
        length = max(1, min(n - start, round(n_noise / n_spans)))
        inputs += ids[pos:start] + [sentinels[k]]
        targets += [sentinels[k]] + ids[start:start + length]
        pos, k = start + length, k + 1
    inputs += ids[pos:] + [eos]
    targets += [sentinels[k]] + [eos] if k < len(sentinels) else [eos]
    return inputs, targets
