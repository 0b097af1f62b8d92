"""The recipe of each embedded model: family, tokenizer type, vocabulary, size, steps, learning rate.

Shared by training (training/train.py) and evaluation (training/evaluate.py), which reads the
family and the corpus sizes to regenerate exactly what a model was trained on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from training import build_tokenizers


@dataclass(frozen=True)
class Recipe:
    name: str
    family: str
    tokenizer: Callable
    vocab_size: int
    steps: int
    batch_size: int
    lr: float
    width: int = 192
    pairs: int = 300_000
    stories: int = 40_000
    tokens: int | None = None  # a padded-token budget per batch instead of batch_size examples (T5)
    varied: bool = False  # corpus.pairs(varied=...): sentences that do not start with their subject


# Vocabulary sizes hold the 3,755 common hanzi (training/build_tokenizers.py) plus about as many
# learned pieces for English; byte-level BPE gets its forced character merges on top (about 8,000
# in all). Widths and steps fit 20 minutes per model on 2 idle CPU cores, except mini-t5's: its
# 7,000 steps take about 30, and the 4,400 that fit 20 translate far worse (docs/decisions.md).
RECIPES = {
    # Batches grouped by length within 1,700 padded tokens (about 100 examples, at the step time
    # of 64 random ones) taught BERT more than random batches (docs/decisions.md).
    "mini-bert": Recipe("mini-bert", "encoder", build_tokenizers.build_wordpiece, 8000, 5000, 64, 1e-3, tokens=1700),
    "mini-gpt": Recipe("mini-gpt", "decoder", build_tokenizers.build_byte_bpe, 6000, 3000, 64, 1e-3),
    "mini-llama": Recipe("mini-llama", "decoder", build_tokenizers.build_byte_fallback_bpe, 8000, 3500, 64, 1e-3),
    # T5 learns more from more steps of a narrower model than from fewer of a wider one (width
    # 192 at 3,000 steps translated almost nothing exactly), and more from batches grouped by
    # length within 3,200 padded tokens (about 100 examples) than from 64 random examples. Its loss
    # skips the padded targets, so 7,000 steps take the time 5,500 took (docs/decisions.md).
    "mini-t5": Recipe("mini-t5", "encoder-decoder", build_tokenizers.build_sentencepiece_unigram, 8000, 7000, 64, 3e-3,
                      width=128, tokens=3200, varied=True),
    # Eight experts of 1.5x the width hold most of the parameters: width 128 keeps the file under 10 MB.
    "mini-mixtral": Recipe("mini-mixtral", "decoder", build_tokenizers.build_byte_fallback_bpe, 8000, 2500, 64, 1e-3,
                           width=128),
}

EXPERTS, EXPERTS_PER_TOKEN = 8, 2

LAYERS, HEADS = 4, 4
