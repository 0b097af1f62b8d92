"""Train the embedded models from scratch on the generated corpus: `python -m models.train`.

Each recipe regenerates the corpus from its seed, trains its family's tokenizer on it, builds
a small model of a real transformers class, trains it for a fixed number of steps and saves it
with save_pretrained under assets/models/<name>/ together with a model card. Fixed seeds,
fixed step counts and deterministic kernels make a rerun reproduce the checkpoint.

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
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm
from transformers import (
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

from models import corpus, familiarity, tokenization
from models.registry import ASSETS

log = logging.getLogger(__name__)

ZH_TO_EN = "translate Chinese to English: "
EN_TO_ZH = "translate English to Chinese: "
MAX_LEN = 64


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


# Vocabulary sizes hold the 3,755 common hanzi (models/tokenization.py) plus about as many
# learned pieces for English; byte-level BPE gets its forced character merges on top (about 8,000
# in all). Widths and steps fit 20 minutes per model on 2 idle CPU cores (docs/decisions.md).
RECIPES = {
    "mini-bert": Recipe("mini-bert", "encoder", tokenization.build_wordpiece, 8000, 5000, 64, 1e-3),
    "mini-gpt": Recipe("mini-gpt", "decoder", tokenization.build_byte_bpe, 6000, 3000, 64, 1e-3),
    "mini-llama": Recipe("mini-llama", "decoder", tokenization.build_byte_fallback_bpe, 8000, 3500, 64, 1e-3),
    # T5 learns more from more steps of a narrower model than from fewer of a wider one (width
    # 192 at 3,000 steps translated almost nothing exactly; docs/decisions.md).
    "mini-t5": Recipe("mini-t5", "encoder-decoder", tokenization.build_sentencepiece_unigram, 8000, 4500, 64, 3e-3,
                      width=128),
    # Eight experts of 1.5x the width hold most of the parameters: width 128 keeps the file under 10 MB.
    "mini-mixtral": Recipe("mini-mixtral", "decoder", tokenization.build_byte_fallback_bpe, 8000, 2500, 64, 1e-3,
                           width=128),
}

EXPERTS, EXPERTS_PER_TOKEN = 8, 2

LAYERS, HEADS = 4, 4


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


# ---------------------------------------------------------------------------------------------
# Data


def training_data(recipe: Recipe, seed: int):
    return corpus.pairs(recipe.pairs, seed), corpus.stories(recipe.stories, seed)


def tokenizer_texts(pairs, stories) -> list[str]:
    texts = [tokenization.ASCII, ZH_TO_EN, EN_TO_ZH]
    for p in pairs:
        texts += [p.zh.text, p.en.text]
    for first, second in stories:
        texts += [first.zh.text, first.en.text, second.zh.text, second.en.text]
    return texts


def _encode(tok, texts: list[str]) -> list[list[int]]:
    return tok(texts, add_special_tokens=False, truncation=True, max_length=MAX_LEN)["input_ids"]


def _pad(rows: list[list[int]], value: int) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [value] * (width - len(r)) for r in rows])


def causal_batches(tok, pairs, stories, batch_size: int, rng: random.Random) -> Iterator[dict]:
    texts = [s.text for p in pairs for s in (p.zh, p.en)]
    texts += [s.text for f, n in stories for s in (f.zh, f.en, n.zh, n.en)]
    bos = [tok.bos_token_id] if tok("a")["input_ids"][0] == tok.bos_token_id else []
    rows = [bos + ids + [tok.eos_token_id] for ids in _encode(tok, texts)]
    while True:
        batch = [rows[rng.randrange(len(rows))] for _ in range(batch_size)]
        ids = _pad(batch, tok.pad_token_id)
        mask = _pad([[1] * len(r) for r in batch], 0)
        yield {"input_ids": ids, "attention_mask": mask, "labels": ids.masked_fill(mask == 0, -100)}


def bert_batches(tok, pairs, stories, batch_size: int, rng: random.Random, gen: torch.Generator) -> Iterator[dict]:
    """Batches of single sentences (no NSP label, 40 %) or of sentence pairs (60 %).

    A batch holds one kind only, so short single sentences are not padded to pair length. Pairs
    are half IsNext (a story's two sentences), half NotNext: the first sentence followed by
    another story's second (mostly, as the held-out NSP test does) or by any other sentence.
    """
    singles = _encode(tok, [s.text for p in pairs for s in (p.zh, p.en)])
    firsts = {lang: _encode(tok, [getattr(f, lang).text for f, _ in stories]) for lang in ("zh", "en")}
    seconds = {lang: _encode(tok, [getattr(n, lang).text for _, n in stories]) for lang in ("zh", "en")}
    cls, sep = tok.cls_token_id, tok.sep_token_id
    while True:
        rows, types, nsp = [], [], []
        with_pairs = rng.random() < 0.6
        for _ in range(batch_size):
            if not with_pairs:
                rows.append([cls, *singles[rng.randrange(len(singles))], sep])
                types.append([0] * len(rows[-1]))
                nsp.append(-100)
                continue
            lang = rng.choice(("zh", "en"))
            i = rng.randrange(len(stories))
            a = firsts[lang][i]
            kind = rng.random()
            if kind < 0.5:
                b, label = seconds[lang][i], 0
            elif kind < 0.85:
                j = (i + 1 + rng.randrange(len(stories) - 1)) % len(stories)
                b, label = seconds[lang][j], 1
            else:
                b, label = singles[rng.randrange(len(singles))], 1
            rows.append([cls, *a, sep, *b, sep])
            types.append([0] * (len(a) + 2) + [1] * (len(b) + 1))
            nsp.append(label)
        ids = _pad(rows, tok.pad_token_id)
        attention = _pad([[1] * len(r) for r in rows], 0)
        inputs, labels = mask_tokens(tok, ids, attention, gen)
        yield {"input_ids": inputs, "attention_mask": attention, "token_type_ids": _pad(types, 0),
               "labels": labels, "next_sentence_label": torch.tensor(nsp)}


def mask_tokens(tok, ids: torch.Tensor, attention: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking: 15 % of the non-special tokens are chosen as targets; of those 80 % become
    [MASK], 10 % a random token and 10 % stay. Returns (inputs, labels with -100 elsewhere)."""
    specials = torch.tensor(sorted(tok.all_special_ids))
    candidates = attention.bool() & ~torch.isin(ids, specials)
    chosen = (torch.rand(ids.shape, generator=gen) < 0.15) & candidates
    labels = ids.masked_fill(~chosen, -100)
    roll = torch.rand(ids.shape, generator=gen)
    inputs = ids.clone()
    inputs[chosen & (roll < 0.8)] = tok.mask_token_id
    random_tokens = torch.randint(len(specials), len(tok), ids.shape, generator=gen)
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    inputs[swap] = random_tokens[swap]
    return inputs, labels


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


def t5_batches(tok, pairs, stories, batch_size: int, rng: random.Random) -> Iterator[dict]:
    """Translation both ways (with task prefixes) and span corruption on single sentences."""
    zh = _encode(tok, [p.zh.text for p in pairs])
    en = _encode(tok, [p.en.text for p in pairs])
    # Prefix and sentence are tokenized together, exactly as a user's input will be.
    zh_source = _encode(tok, [ZH_TO_EN + p.zh.text for p in pairs])
    en_source = _encode(tok, [EN_TO_ZH + p.en.text for p in pairs])
    eos = tok.eos_token_id
    sentinels = tok.convert_tokens_to_ids([f"<extra_id_{i}>" for i in range(tokenization.T5_SENTINELS)])
    while True:
        sources, targets = [], []
        for _ in range(batch_size):
            i = rng.randrange(len(pairs))
            kind = rng.random()
            if kind < 0.45:
                sources.append(zh_source[i] + [eos])
                targets.append(en[i] + [eos])
            elif kind < 0.9:
                sources.append(en_source[i] + [eos])
                targets.append(zh[i] + [eos])
            else:
                source, target = span_corrupt((zh if rng.random() < 0.5 else en)[i], sentinels, rng, eos)
                sources.append(source)
                targets.append(target)
        yield {"input_ids": _pad(sources, tok.pad_token_id),
               "attention_mask": _pad([[1] * len(s) for s in sources], 0),
               "labels": _pad(targets, -100)}


def batches(recipe: Recipe, tok, pairs, stories, seed: int) -> Iterator[dict]:
    rng = random.Random(seed)
    if recipe.family == "encoder":
        gen = torch.Generator().manual_seed(seed)
        return bert_batches(tok, pairs, stories, recipe.batch_size, rng, gen)
    if recipe.family == "decoder":
        return causal_batches(tok, pairs, stories, recipe.batch_size, rng)
    return t5_batches(tok, pairs, stories, recipe.batch_size, rng)


# ---------------------------------------------------------------------------------------------
# Training


def _lr_lambda(steps: int) -> Callable[[int], float]:
    warmup = max(1, steps // 20)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, steps - warmup)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def train(name: str, out_dir: Path | None = None, seed: int = 0, steps: int | None = None,
          progress: bool = True, pairs: int | None = None) -> dict:
    """Train one recipe and save it; returns the training summary written to the model card.

    `steps` and `pairs` shrink a run for smoke tests; the defaults reproduce the checkpoints.
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
    tok = recipe.tokenizer(tokenizer_texts(pairs, stories), recipe.vocab_size)
    model = build_model(name, tok)
    model.train()
    data = batches(recipe, tok, pairs, stories, seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, betas=(0.9, 0.98), weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(steps))
    losses = []
    bar = tqdm(range(steps), desc=name, disable=not progress, mininterval=1.0)
    for _ in bar:
        batch = next(data)
        loss = pretraining_loss(model, batch) if recipe.family == "encoder" else model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        bar.set_postfix(loss=f"{sum(losses[-50:]) / len(losses[-50:]):.3f}", refresh=False)
    model.eval()
    counts = token_counts(tok, tokenizer_texts(pairs, stories))
    if getattr(model.config, "output_router_logits", False):
        # Training needs the routers' load-balancing loss; inference asks for router logits when it wants them.
        model.config.output_router_logits = False
    summary = {
        "name": name,
        "class": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": steps,
        "batch_size": recipe.batch_size,
        "seed": seed,
        "train_pairs": recipe.pairs,
        "train_stories": recipe.stories,
        "final_loss": round(sum(losses[-100:]) / len(losses[-100:]), 4),
        "train_seconds": round(time.time() - started, 1),
        "torch_threads": torch.get_num_threads(),
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
    parser.add_argument("--no-eval", action="store_true", help="skip the evaluation and model card")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1),
                        help="torch threads (the bits of a checkpoint depend on it: BLAS sums in another order)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(max(1, args.threads))
    names = list(RECIPES) if args.model == "all" else [args.model]
    for name in names:
        out = (args.out / name) if args.out else ASSETS / name
        summary = train(name, out, seed=args.seed, steps=args.steps)
        log.info("%s: %s", name, json.dumps(summary))
        if not args.no_eval:
            from models import evaluate

            evaluate.write_card(out, summary)


if __name__ == "__main__":
    main()
