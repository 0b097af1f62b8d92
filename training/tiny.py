"""Tiny random-initialised checkpoints of each family, built on demand for the tests; and
random base-sized ones (BERT-base, GPT-2 small, T5-base shapes) for the large-model tests and the
benchmarks.

They use the same transformers classes and tokenizer types as the trained embedded models, and
go through save_pretrained / from_pretrained like any Hub checkpoint, so code tested on them is
the code that runs on real models. `python -m training.tiny DIR` writes all four into DIR.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from models.registry import ASSETS
from training import build_tokenizers
from training.train import build_model, save

log = logging.getLogger(__name__)

SAMPLE_TEXT = (
    "The cat chases a mouse.",
    "I like eating apples.",
    "I love machine learning.",
    "The keys to the cabinet are on the table.",
    "She said that he would come tomorrow.",
    "我喜欢吃苹果",
    "我很喜欢吃苹果",
    "我喜欢机器学习",
    "今天天气真好，我想去公园散步",
    "猫在追一只老鼠。",
    "translate Chinese to English: 我喜欢机器学习",
    "translate English to Chinese: I love machine learning",
)

WIDTH, LAYERS, HEADS = 64, 2, 4

# name -> (tokenizer builder, vocabulary size): the common hanzi every vocabulary holds, plus a
# few hundred learned pieces.
_HANZI = len(build_tokenizers.COMMON_HANZI)
TOKENIZERS = {
    "mini-bert": (build_tokenizers.build_wordpiece, _HANZI + 300),
    "mini-gpt": (build_tokenizers.build_byte_bpe, 320),
    "mini-llama": (build_tokenizers.build_byte_fallback_bpe, _HANZI + 400),
    "mini-t5": (build_tokenizers.build_sentencepiece_unigram, _HANZI + 200),
}


def build(name: str, folder: Path, seed: int = 0) -> None:
    """One tiny checkpoint: the recipe's model class and tokenizer type, random weights."""
    make_tokenizer, vocab_size = TOKENIZERS[name]
    tok = make_tokenizer(list(SAMPLE_TEXT) * 4 + [build_tokenizers.ASCII], vocab_size)
    torch.manual_seed(seed)
    _save(build_model(name, tok, width=WIDTH, layers=LAYERS, heads=HEADS), tok, folder)


def _save(model, tok, folder: Path) -> None:
    folder = Path(folder)
    params = sum(p.numel() for p in model.parameters())
    save(model.eval(), tok, folder, {"name": folder.name, "parameters": params, "trained": False},
         dtype=torch.float32)
    (folder / "README.md").write_text(
        f"# {folder.name}\n\nUntrained test checkpoint: {type(model).__name__} with random weights "
        f"({params:,} parameters), built by `python -m training.tiny`.\n",
        encoding="utf-8",
    )
    log.info("wrote %s (%d parameters)", folder, params)


# Vocabulary sizes of the released checkpoints, so the output layers cost what they cost there;
# the embedded tokenizers use only the first rows.
BASE_VOCAB = {"bert": 30522, "gpt": 50257, "t5": 32128}


def build_base(name: str, folder: Path, dtype: torch.dtype = torch.float16) -> str:
    """A random model shaped like bert-base-uncased, gpt2 or t5-base (12 layers, 12 heads, 768
    wide; T5 with 12 + 12 layers), with the embedded model's tokenizer, saved to `folder`."""
    from transformers import (AutoTokenizer, BertConfig, BertForMaskedLM, GPT2Config, GPT2LMHeadModel, T5Config,
                              T5ForConditionalGeneration)

    tok = AutoTokenizer.from_pretrained(ASSETS / f"mini-{name}")
    vocab = max(BASE_VOCAB[name], len(tok))
    torch.manual_seed(0)
    if name == "bert":
        model = BertForMaskedLM(BertConfig(vocab_size=vocab, pad_token_id=tok.pad_token_id))
    elif name == "gpt":
        model = GPT2LMHeadModel(GPT2Config(vocab_size=vocab, bos_token_id=tok.bos_token_id,
                                           eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id))
    elif name == "t5":
        model = T5ForConditionalGeneration(T5Config(
            vocab_size=vocab, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12,
            pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, decoder_start_token_id=tok.pad_token_id))
    else:
        raise ValueError(f"No base-sized recipe for {name!r}; choose bert, gpt or t5.")
    model.to(dtype).eval().save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


def build_all(root: Path, seed: int = 0) -> dict[str, Path]:
    paths = {}
    for name in TOKENIZERS:
        paths[name] = Path(root) / name
        build(name, paths[name], seed=seed)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build_all(args.folder, seed=args.seed)


if __name__ == "__main__":
    main()
