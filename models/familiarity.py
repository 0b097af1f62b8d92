"""Which input tokens a model cannot really read, so that the page never shows silent nonsense.

Three cases, each named on the page and in the API:
- unknown: the tokenizer has no piece for it and writes [UNK] / <unk>;
- byte pieces: byte-level BPE and byte fallback spell a character outside the vocabulary as
  loose UTF-8 bytes (GPT-2 does this for most Chinese characters);
- rarely seen: the token exists but occurred fewer than RARE times in the model's training
  data, so its embedding is close to its random start. Known for checkpoints that ship
  token_counts.json (the embedded models write it when they are trained); not for Hub models.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from models.data import Familiarity
from models.tokens import display_tokens

COUNTS_FILE = "token_counts.json"
RARE = 5
_BYTES = re.compile(r"<[0-9A-F]{2}>")
SHOWN = 12  # words named in one notice; the rest are counted


def read_counts(folder: str | Path) -> np.ndarray | None:
    """(vocab,) int64 training occurrences per token id, if the checkpoint records them."""
    path = Path(folder) / COUNTS_FILE
    if not path.is_file():
        return None
    return np.asarray(json.loads(path.read_text(encoding="utf-8"))["counts"], dtype=np.int64)


def write_counts(folder: str | Path, counts: np.ndarray) -> None:
    payload = {"about": "occurrences of each token id in the training data, by id", "counts": counts.tolist()}
    (Path(folder) / COUNTS_FILE).write_text(json.dumps(payload, separators=(",", ":")) + "\n", encoding="utf-8")


def _spans(tokenizer, text: str, second: str | None, ids: list[int]) -> list[tuple[int, int, int]] | None:
    """(segment, start, end) of every token in the source text, when the tokenizer can say."""
    try:
        enc = tokenizer(text, second, return_offsets_mapping=True, truncation=True, max_length=len(ids))
    except (NotImplementedError, TypeError, ValueError):
        return None
    if enc["input_ids"] != ids:
        return None
    sequence = enc.sequence_ids() if hasattr(enc, "sequence_ids") else [0] * len(ids)
    return [(seq if seq is not None else -1, a, b) for seq, (a, b) in zip(sequence, enc["offset_mapping"])]


def _unique(items) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i))


def assess(tokenizer, ids: list[int], counts: np.ndarray | None, text: str, second: str | None = None) -> Familiarity:
    labels = display_tokens(tokenizer, ids)
    unk_id = tokenizer.unk_token_id
    if unk_id in {tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id}:
        unk_id = None  # GPT-2 names its end-of-text token as unknown too; byte-level BPE never needs one
    special = set(tokenizer.all_special_ids) - {unk_id}
    unk = [unk_id is not None and i == unk_id for i in ids]
    pieces = [bool(_BYTES.search(label)) for label in labels]
    rare = [counts is not None and not s and 0 <= i < len(counts) and counts[i] < RARE and not p and not u
            for i, s, p, u in zip(ids, [i in special for i in ids], pieces, unk)]
    spans = _spans(tokenizer, text, second, ids)
    sources = (text, second or "")

    def source(index: int) -> str:
        if spans is None or spans[index][0] < 0:
            return labels[index]
        seq, start, end = spans[index]
        return sources[seq][start:end].strip()

    # Consecutive byte pieces belong to one character: name the character, not its bytes.
    piece_words, run = [], []
    for index, is_piece in enumerate(pieces + [False]):
        if is_piece:
            run.append(index)
        elif run:
            word = tokenizer.decode([ids[i] for i in run], clean_up_tokenization_spaces=False).strip()
            if not word or "\ufffd" in word:
                word = source(run[0])
            # A run of pieces may spell several characters (Chinese has no spaces): name each.
            piece_words += list(word) if not word.isascii() and " " not in word else [word]
            run = []
    flags = np.array([u or p or r for u, p, r in zip(unk, pieces, rare)], dtype=bool)
    return Familiarity(flags, _unique(source(i) for i, u in enumerate(unk) if u), _unique(piece_words),
                       _unique(labels[i].strip("▁") for i, r in enumerate(rare) if r))


def _listing(words: tuple[str, ...]) -> str:
    shown = ", ".join(words[:SHOWN])
    return shown + (f" and {len(words) - SHOWN} more" if len(words) > SHOWN else "")


def notices(model_name: str, found: Familiarity) -> tuple[str, ...]:
    """One line per case, in the English the page translates (assets/i18n/messages.json)."""
    out = []
    if found.unknown:
        out.append(f"{model_name} has no token for {_listing(found.unknown)} (shown as unknown); "
                   "what it predicts there means little.")
    if found.byte_pieces:
        out.append(f"{model_name} spells {_listing(found.byte_pieces)} as byte pieces, not whole characters.")
    if found.rare:
        out.append(f"{model_name} rarely or never saw {_listing(found.rare)} in training; "
                   "what it predicts there means little.")
    return tuple(out)


def to_json(found: Familiarity) -> dict:
    return {"flags": found.flags.tolist(), "unknown": list(found.unknown), "byte_pieces": list(found.byte_pieces),
            "rare": list(found.rare)}
