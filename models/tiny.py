"""Tiny random-initialised checkpoints of each family, for tests and as first-run placeholders.

They use the same transformers classes and tokenizer types as the trained embedded models, and
go through save_pretrained / from_pretrained like any Hub checkpoint, so code tested on them is
the code that runs on real models. `python -m models.tiny DIR` writes all four into DIR.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch
from transformers import (
    BertConfig,
    BertForPreTraining,
    GenerationConfig,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    T5Config,
    T5ForConditionalGeneration,
)

from models import tokenization

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


def _texts():
    return list(SAMPLE_TEXT) * 4


def build_bert(folder: Path, seed: int = 0) -> None:
    tok = tokenization.build_wordpiece(_texts(), vocab_size=300)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tok), hidden_size=WIDTH, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
        intermediate_size=2 * WIDTH, max_position_embeddings=128, type_vocab_size=2,
        pad_token_id=tok.pad_token_id,
    )
    _save(BertForPreTraining(config), tok, folder)


def build_gpt2(folder: Path, seed: int = 0) -> None:
    tok = tokenization.build_byte_bpe(_texts(), vocab_size=320)
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(tok), n_positions=128, n_embd=WIDTH, n_layer=LAYERS, n_head=HEADS,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
    )
    _save(GPT2LMHeadModel(config), tok, folder)


def build_llama(folder: Path, seed: int = 0) -> None:
    tok = tokenization.build_byte_fallback_bpe(_texts(), vocab_size=320)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=WIDTH, intermediate_size=2 * WIDTH,
        num_hidden_layers=LAYERS, num_attention_heads=HEADS, num_key_value_heads=HEADS // 2,
        max_position_embeddings=128, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id, tie_word_embeddings=True,
    )
    _save(LlamaForCausalLM(config), tok, folder)


def build_t5(folder: Path, seed: int = 0) -> None:
    tok = tokenization.build_sentencepiece_unigram(_texts(), vocab_size=200)
    torch.manual_seed(seed)
    config = T5Config(
        vocab_size=len(tok), d_model=WIDTH, d_kv=WIDTH // HEADS, d_ff=2 * WIDTH,
        num_layers=LAYERS, num_decoder_layers=LAYERS, num_heads=HEADS,
        relative_attention_num_buckets=16, relative_attention_max_distance=32,
        pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
        decoder_start_token_id=tok.pad_token_id,
    )
    _save(T5ForConditionalGeneration(config), tok, folder)


BUILDERS = {"mini-bert": build_bert, "mini-gpt": build_gpt2, "mini-llama": build_llama, "mini-t5": build_t5}


def _save(model, tok, folder: Path) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.eval()
    if model.can_generate():
        model.generation_config = GenerationConfig(
            bos_token_id=getattr(model.config, "bos_token_id", None),
            eos_token_id=model.config.eos_token_id,
            pad_token_id=model.config.pad_token_id,
            decoder_start_token_id=getattr(model.config, "decoder_start_token_id", None),
        )
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    params = sum(p.numel() for p in model.parameters())
    (folder / "README.md").write_text(
        f"# {folder.name}\n\nUntrained placeholder: {type(model).__name__} with random weights "
        f"({params:,} parameters), built by `python -m models.tiny`. Its attention shows the "
        "mechanics (masks, shapes), not learned structure.\n",
        encoding="utf-8",
    )
    log.info("wrote %s (%d parameters)", folder, params)


def build_all(root: Path, seed: int = 0) -> dict[str, Path]:
    paths = {}
    for name, build in BUILDERS.items():
        paths[name] = Path(root) / name
        build(paths[name], seed=seed)
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
