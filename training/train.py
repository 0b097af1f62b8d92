"""Train the embedded models from scratch on the generated corpus: `python -m training.train`.

Each recipe regenerates the corpus from its seed, reads the embedded checkpoint's frozen
tokenizer (or, with --new-tokenizer, trains its family's tokenizer on the corpus), builds a
small model of a real transformers class, trains it for a fixed number of steps and saves it
with save_pretrained under assets/models/<name>/ together with a model card. Fixed seeds, fixed
step counts, a frozen vocabulary and deterministic kernels make a rerun reproduce the checkpoint.

Objectives, as in the papers of each family:
- mini-bert: masked language modelling (15 % of tokens; 80 % [MASK], 10 % random, 10 % kept)
  plus next-sentence prediction (Devlin et al. 2019);
- mini-gpt, mini-llama: next-token prediction (Radford et al. 2019; Touvron et al. 2023);
- mini-mixtral: next-token prediction through sparse mixture-of-experts feed-forward layers,
  each token routed to 2 of 8 experts (Jiang et al. 2024, Mixtral; Shazeer et al. 2017), with
  the Switch Transformer's load-balancing loss at weight 0.01 (Fedus et al. 2022);
- mini-t5: text-to-text translation with task prefixes, plus span corruption with sentinel
  tokens (Raffel et al. 2020).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm
from transformers import (
    AutoTokenizer,
    BertConfig,
    BertForPreTraining,
    GenerationConfig,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    MixtralConfig,
    MixtralForCausalLM,
    T5Config,
    T5ForConditionalGeneration,
)

from models import familiarity
from models.registry import ASSETS
from training import corpus
from training.batches import batches, read_texts, tokenizer_texts
from training.recipes import EXPERTS, EXPERTS_PER_TOKEN, HEADS, LAYERS, RECIPES, Recipe

log = logging.getLogger(__name__)

def build_model(name: str, tok, width: int | None = None, layers: int = LAYERS, heads: int = HEADS) -> torch.nn.Module:
    """A freshly initialised model of the recipe's class, sized to stay well under 10 MB.

    T5 splits `layers` between its encoder and decoder. `width` defaults to the recipe's.
    """
    width = width or RECIPES[name].width
    if name == "mini-bert":
        return BertForPreTraining(BertConfig(
            vocab_size=len(tok), hidden_size=width, num_hidden_layers=layers, num_attention_heads=heads,
            intermediate_size=4 * width, max_position_embeddings=128, type_vocab_size=2,
            pad_token_id=tok.pad_token_id, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        ))
    if name == "mini-gpt":
        return GPT2LMHeadModel(GPT2Config(
            vocab_size=len(tok), n_positions=128, n_embd=width, n_layer=layers, n_head=heads,
            bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        ))
    if name == "mini-llama":
        return LlamaForCausalLM(LlamaConfig(
            vocab_size=len(tok), hidden_size=width, intermediate_size=3 * width, num_hidden_layers=layers,
            num_attention_heads=heads, num_key_value_heads=heads // 2, max_position_embeddings=128,
            bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
            tie_word_embeddings=True,
        ))
    if name == "mini-mixtral":
        # Each expert is a SwiGLU block 1.5x the width: 8 of them hold most of the parameters, but
        # a token passes through 2, so the compute per token is close to mini-llama's.
        return MixtralForCausalLM(MixtralConfig(
            vocab_size=len(tok), hidden_size=width, intermediate_size=3 * width // 2, num_hidden_layers=layers,
            num_attention_heads=heads, num_key_value_heads=heads // 2, max_position_embeddings=128,
            num_local_experts=EXPERTS, num_experts_per_tok=EXPERTS_PER_TOKEN, output_router_logits=True,
            router_aux_loss_coef=0.01, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id, tie_word_embeddings=True,
        ))
    if name == "mini-t5":
        return T5ForConditionalGeneration(T5Config(
            vocab_size=len(tok), d_model=width, d_kv=width // heads, d_ff=3 * width,
            num_layers=max(1, layers // 2), num_decoder_layers=max(1, layers // 2), num_heads=heads,
            dropout_rate=0.0, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
            decoder_start_token_id=tok.pad_token_id,
        ))
    raise ValueError(f"No recipe named {name!r}; choose from {', '.join(RECIPES)}.")


def pretraining_loss(model: BertForPreTraining, batch: dict) -> torch.Tensor:
    """BertForPreTraining's loss (masked-LM cross-entropy plus NSP cross-entropy), with the
    prediction head run on the chosen positions only: the other 85 % have no target, and the
    head over the vocabulary is a fifth of the model's compute."""
    sequence, pooled = model.bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                  token_type_ids=batch["token_type_ids"])[:2]
    chosen = batch["labels"] != -100
    loss = torch.nn.functional.cross_entropy(model.cls.predictions(sequence[chosen]), batch["labels"][chosen])
    nsp = batch["next_sentence_label"]
    if (nsp != -100).any():
        loss = loss + torch.nn.functional.cross_entropy(model.cls.seq_relationship(pooled), nsp, ignore_index=-100)
    return loss


def seq2seq_loss(model: T5ForConditionalGeneration, batch: dict) -> torch.Tensor:
    """T5ForConditionalGeneration's loss (cross-entropy of the labels given the source), with the
    head over the vocabulary run on the real target positions only: it is more than half of
    the model's compute, and a third of a batch's target positions are padding."""
    labels = batch["labels"]
    encoded = model.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    decoded = model.decoder(input_ids=model._shift_right(labels), encoder_hidden_states=encoded,
                            encoder_attention_mask=batch["attention_mask"], use_cache=False).last_hidden_state
    if model.config.scale_decoder_outputs:
        decoded = decoded * model.model_dim ** -0.5
    chosen = labels != -100
    return torch.nn.functional.cross_entropy(model.lm_head(decoded[chosen]), labels[chosen])


def lr_factor(steps: int) -> Callable[[int], float]:
    """Linear warmup over 5 % of the steps, then a cosine down to 5 % of the peak (not to 0 as
    transformers' get_cosine_schedule_with_warmup does: the committed checkpoints were trained
    with this one, and `python -m training.train` must reproduce them; docs/decisions.md)."""
    warmup = max(1, steps // 20)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, steps - warmup)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def _model_loss(model, batch: dict) -> torch.Tensor:
    return model(**batch).loss


LOSSES = {"encoder": pretraining_loss, "encoder-decoder": seq2seq_loss}


def training_data(recipe: Recipe, seed: int):
    return corpus.pairs(recipe.pairs, seed, recipe.varied), corpus.stories(recipe.stories, seed)


def frozen_tokenizer(folder: Path | None):
    """The tokenizer saved in `folder` (a checkpoint's), or None when there is none.

    The `tokenizers` trainers are not reproducible: WordPiece breaks ties in its pair counts and
    Unigram sums its EM statistics in the order of a Rust hash map, which is seeded anew in every
    process (a different token set at the cutoff, scores that differ by up to 0.04; measured,
    docs/decisions.md). So a vocabulary is built once, saved with its checkpoint and frozen:
    retraining reads it back and is then deterministic; `--new-tokenizer` builds a fresh one."""
    if folder is None or not (Path(folder) / "tokenizer.json").is_file():
        return None
    return AutoTokenizer.from_pretrained(str(folder))


def train(name: str, out_dir: Path | None = None, seed: int = 0, steps: int | None = None,
          progress: bool = True, pairs: int | None = None, tokenizer_from: Path | None = None) -> dict:
    """Train one recipe and save it; returns the training summary written to the model card.

    `steps` and `pairs` shrink a run for smoke tests; the defaults reproduce the checkpoints.
    `tokenizer_from` names a folder whose saved tokenizer is used instead of building one.
    """
    recipe = RECIPES[name]
    if pairs:
        recipe = dataclasses.replace(recipe, pairs=pairs, stories=max(10, pairs // 8))
    steps = steps or recipe.steps
    out_dir = Path(out_dir or ASSETS / name)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    started = time.time()
    pairs, stories = training_data(recipe, seed)
    tok = frozen_tokenizer(tokenizer_from)
    built = tok is None
    if built:
        tok = recipe.tokenizer(tokenizer_texts(pairs, stories), recipe.vocab_size)
    model = build_model(name, tok)
    model.train()
    data = batches(recipe.family, tok, pairs, stories, recipe.batch_size, seed, recipe.tokens)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, betas=(0.9, 0.98), weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(steps))
    losses = []
    bar = tqdm(range(steps), desc=name, disable=not progress, mininterval=1.0)
    for _ in bar:
        batch = next(data)
        loss = LOSSES.get(recipe.family, _model_loss)(model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        bar.set_postfix(loss=f"{sum(losses[-50:]) / len(losses[-50:]):.3f}", refresh=False)
    model.eval()
    counts = token_counts(tok, read_texts(recipe.family, pairs, stories))
    if getattr(model.config, "output_router_logits", False):
        # Training needs the routers' load-balancing loss; inference asks for router logits when it wants them.
        model.config.output_router_logits = False
    summary = {
        "name": name,
        "class": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": steps,
        "batch_size": recipe.batch_size,
        "batch_tokens": recipe.tokens,
        "seed": seed,
        "train_pairs": recipe.pairs,
        "train_stories": recipe.stories,
        "final_loss": round(sum(losses[-100:]) / len(losses[-100:]), 4),
        "train_seconds": round(time.time() - started, 1),
        "torch_threads": torch.get_num_threads(),
        "tokenizer": "built" if built else "frozen",
    }
    save(model, tok, out_dir, summary)
    familiarity.write_counts(out_dir, counts)
    return summary


def token_counts(tok, texts: list[str]) -> np.ndarray:
    """(vocab,) int64: how often each token id occurs in the training texts, so the app can say
    which input tokens a model rarely or never saw (models/familiarity.py)."""
    ids = [i for row in tok(texts, add_special_tokens=False)["input_ids"] for i in row]
    return np.bincount(np.asarray(ids, dtype=np.int64), minlength=len(tok))


def save(model, tok, out_dir: Path, summary: dict, dtype: torch.dtype = torch.float16) -> None:
    """save_pretrained, by default in float16 (half the bytes; the app loads it back as float32)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if model.can_generate():
        config = model.config
        model.generation_config = GenerationConfig(
            bos_token_id=getattr(config, "bos_token_id", None), eos_token_id=config.eos_token_id,
            pad_token_id=config.pad_token_id, decoder_start_token_id=getattr(config, "decoder_start_token_id", None),
            max_new_tokens=32,
        )
    model.to(dtype).save_pretrained(out_dir)
    model.to(torch.float32)
    tok.save_pretrained(out_dir)
    (out_dir / "training.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description="Train the embedded models on the generated corpus.")
    parser.add_argument("--model", choices=[*RECIPES, "all"], default="all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="override the recipe's step count")
    parser.add_argument("--out", type=Path, default=None, help="folder for the checkpoints (default assets/models)")
    parser.add_argument("--new-tokenizer", action="store_true",
                        help="build a new vocabulary instead of reading the embedded checkpoint's frozen one")
    parser.add_argument("--no-eval", action="store_true", help="skip the evaluation and model card")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1),
                        help="torch threads (the bits of a checkpoint depend on it: BLAS sums in another order)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(max(1, args.threads))
    names = list(RECIPES) if args.model == "all" else [args.model]
    for name in names:
        out = (args.out / name) if args.out else ASSETS / name
        frozen = None if args.new_tokenizer else ASSETS / name
        summary = train(name, out, seed=args.seed, steps=args.steps, tokenizer_from=frozen)
        log.info("%s: %s", name, json.dumps(summary))
        if not args.no_eval:
            from training import evaluate

            evaluate.write_card(out, summary)


if __name__ == "__main__":
    main()
