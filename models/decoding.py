"""Autoregressive decoding one token at a time, keeping what each step did to the distribution.

Every sampling knob is applied by transformers' own warpers, in generate()'s order
(`models.sampling.warp`): TemperatureLogitsWarper, then TopKLogitsWarper, then TopPLogitsWarper,
each recording the distribution it leaves behind. Greedy decoding (or temperature 0) ignores the
knobs, as generate() does. Each step reports the chosen token under the model's own distribution
(prob, logprob_sum, entropy) and, when sampling, under the one it was drawn from (sample_*).
With the KV cache on, each step feeds only the new token; with it off, each step recomputes the
whole sequence: same tokens, different cost (Pope et al. 2022 discuss the cache's memory; the
formula is in `models.kv_cache.kv_cache_bytes`).

Stages recorded for the top candidates of each step (all as probabilities):
- raw: softmax of the model's logits;
- after_temperature: softmax of logits / T;
- after_top_k, after_top_p: the temperature distribution with the tokens each filter removed
  set to 0, NOT renormalised, so the removed mass is visible;
- final: the renormalised distribution actually sampled from (softmax of the warped scores).
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
import torch
from transformers import DynamicCache, EncoderDecoderCache

from models import familiarity
from models.limits import check_time
from models.loading import LoadedModel, get_model
from models.model_io import vocab_logits
from models.numeric import entropy, jsonable
from models.results import BeamNode, BeamTree, Decoding, MaskFill, Settings, Step
# The knobs live in models.sampling; they stay importable from here, where callers found them.
from models.sampling import MAX_BEAMS, MAX_NEW_TOKENS, STRATEGIES, add_log, check_settings, step_numbers, warp  # noqa: F401
from models.tokens import display_tokens
from models.trace import clean_text, position_limit

CANDIDATES = 20


def text_pieces(tok, ids: list[int], start: int = 0) -> tuple[str, ...]:
    """What each of ids[start:] adds to the tokenizer's decode of ids (special tokens skipped).

    Piece i is decode(ids[:i+1]) minus decode(ids[:i]), so the pieces add up to the decoded text
    and a token gets the space before it as the tokenizer writes it. While a character's bytes
    are incomplete the decode ends in U+FFFD; those tokens add "" and the one that completes the
    character adds all of it, so a character split over byte tokens appears once, whole."""
    pieces, done = [], tok.decode(ids[:start], skip_special_tokens=True)
    for end in range(start + 1, len(ids) + 1):
        full = tok.decode(ids[:end], skip_special_tokens=True)
        # The last token takes what is left even mid-character, so the pieces still add up.
        if full.endswith("\ufffd") and end < len(ids):
            pieces.append("")
            continue
        # A tokenizer that tidies spaces may rewrite the end of the text it had; keep what still agrees.
        same = len(done) if full.startswith(done) else len(os.path.commonprefix([done, full]))
        pieces.append(full[same:])
        done = full
    return tuple(pieces)


def _clock(device: torch.device) -> float:
    """perf_counter once the device is done: CUDA runs asynchronously, so without waiting a step's
    time would be only the time to launch its kernels."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def _tensor_bytes(cache) -> int:
    total = 0
    for layer in cache.layers:
        for t in (getattr(layer, "keys", None), getattr(layer, "values", None)):
            if isinstance(t, torch.Tensor):
                total += t.numel() * t.element_size()
    return total


def _cache_bytes(cache) -> tuple[int, int]:
    """(self-attention bytes, cross-attention bytes) the cache holds; a decoder's has no cross part."""
    if cache is None:
        return 0, 0
    if isinstance(cache, EncoderDecoderCache):
        return _tensor_bytes(cache.self_attention_cache), _tensor_bytes(cache.cross_attention_cache)
    return _tensor_bytes(cache), 0


def _rows(attentions) -> np.ndarray:
    """Per-layer (batch, heads, q, k) -> (batch, layers, heads, k): each row's last query."""
    return torch.stack([a[:, :, -1, :] for a in attentions], dim=1).float().cpu().numpy()


@torch.inference_mode()
def decode(key: str, prompt: str, settings: Settings, device: str | None = None) -> Decoding:
    """Generate up to max_new_tokens, one forward pass per step, recording every step."""
    prompt, _ = clean_text(prompt)
    loaded = get_model(key, device)
    settings = check_settings(settings, loaded.family)
    tok = loaded.tokenizer
    prompt_ids = tok(prompt, return_tensors="pt")["input_ids"].to(loaded.device)
    if prompt_ids.shape[1] == 0:
        raise ValueError("The prompt gave no tokens for this model; type some words.")
    # A decoder's new tokens take positions too; past its last position embedding it would fail.
    needed = prompt_ids.shape[1] + (0 if loaded.family == "encoder-decoder" else int(settings.max_new_tokens))
    if needed > position_limit(loaded):
        raise ValueError(f"The prompt is {prompt_ids.shape[1]} tokens; with the new tokens that is more than the "
                         f"{position_limit(loaded)} positions allowed here. Shorten the prompt or ask for fewer tokens.")
    eos = loaded.model.generation_config.eos_token_id
    eos_ids = [] if eos is None else list(eos) if isinstance(eos, list) else [eos]
    rows = int(settings.num_beams) if settings.strategy == "beam" else 1
    runner = (_Seq2SeqRunner if loaded.family == "encoder-decoder" else _DecoderRunner)(
        loaded, prompt_ids, settings.use_cache, rows)
    if settings.strategy == "beam":
        generated, steps, stopped, tree = _beam_search(runner, loaded, settings, eos_ids)
    else:
        generated, steps, stopped = _one_path(runner, tok, settings, set(eos_ids))
        tree = None
    ids = prompt_ids[0].tolist()
    found = familiarity.assess(tok, ids, loaded.token_counts, prompt)
    # A decoder's output continues the prompt, so it is decoded after it: its first word keeps the
    # space before it, which decoding the new ids alone would strip. T5's output is a text of its own.
    if loaded.family == "encoder-decoder":
        step_text = text_pieces(tok, generated)
    else:
        step_text = text_pieces(tok, ids + generated, len(ids))
    return Decoding(loaded.spec.key, loaded.family, settings, display_tokens(tok, ids),
                    tuple(generated), tok.decode(generated, skip_special_tokens=True), tuple(steps), stopped, tree,
                    found, familiarity.notices(loaded.spec.name, found), prompt_text=text_pieces(tok, ids),
                    step_text=step_text)


def _candidates(stages: list[torch.Tensor], final: torch.Tensor, row: int) -> tuple[list[int], np.ndarray]:
    """The top CANDIDATES ids of one row under the raw distribution, and every stage's probabilities."""
    top = torch.topk(stages[0][row], min(CANDIDATES, stages[0].shape[-1])).indices
    table = np.stack([s[row, top].cpu().numpy() for s in stages] + [final[row, top].cpu().numpy()])
    return top.tolist(), table.astype(np.float32)


def _one_path(runner, tok, settings: Settings, eos_ids: set[int]):
    """Greedy or sampled decoding: one hypothesis, the knobs applied by transformers' warpers."""
    generator = torch.Generator(device="cpu").manual_seed(int(settings.seed))
    steps, generated, stopped = [], [], "length"
    logprob_sum, sample_sum = 0.0, 0.0 if settings.sampling else None
    for _ in range(int(settings.max_new_tokens)):
        check_time()
        started = _clock(runner.sequence.device)
        logits, attention, cross = runner.forward()
        seconds = _clock(runner.sequence.device) - started
        scores, stages = warp(logits, runner.sequence, settings)
        final = torch.softmax(scores, -1)
        if settings.sampling:
            chosen = int(torch.multinomial(final[0].cpu(), 1, generator=generator))
        else:
            chosen = int(torch.argmax(scores[0]))
        numbers = step_numbers(stages[0][0], final[0], chosen, settings.sampling)
        logprob_sum = add_log(logprob_sum, numbers.model_prob)
        sample_sum = add_log(sample_sum, numbers.sample_prob)
        ids, table = _candidates(stages, final, 0)
        runner.append([chosen])
        self_bytes, cross_bytes = _cache_bytes(runner.cache)
        steps.append(Step(
            token=display_tokens(tok, [chosen])[0], token_id=chosen, prob=numbers.model_prob, logprob_sum=logprob_sum,
            entropy=numbers.model_entropy, candidate_ids=np.asarray(ids, np.int64),
            candidate_tokens=display_tokens(tok, ids), stages=table, kept=int(torch.isfinite(scores).sum()),
            attention=attention[0], cross=None if cross is None else cross[0], seconds=seconds,
            cache_bytes=self_bytes + cross_bytes, sample_prob=numbers.sample_prob, sample_logprob_sum=sample_sum,
            sample_entropy=numbers.sample_entropy, self_cache_bytes=self_bytes, cross_cache_bytes=cross_bytes,
        ))
        generated.append(chosen)
        if chosen in eos_ids:
            stopped = "eos"
            break
    return generated, steps, stopped


# The constant generate() adds to scores it wants out of every top-k.
_EXCLUDED = -1.0e9


def _beam_search(runner, loaded: LoadedModel, settings: Settings, eos_ids: list[int]):
    """Beam search with generate()'s rules (transformers 5, GenerationMixin._beam_search).

    Each step keeps the K = max(2, 1 + #eos) x beams best continuations over all beams by
    cumulative log-probability. Of those, the best `beams` that do not end become the next
    beams; those among the first `beams` that end (end-of-sequence or the length limit) enter
    the list of finished hypotheses, scored as log-probability / length ** length_penalty,
    which keeps the best `beams`. The search stops when every continuation ends or when no
    running beam can beat the worst finished one (generate()'s early-stopping heuristic).
    """
    tok, gen = loaded.tokenizer, loaded.model.generation_config
    beams = int(settings.num_beams)
    length_penalty = 1.0 if gen.length_penalty is None else float(gen.length_penalty)
    early_stopping = False if gen.early_stopping is None else gen.early_stopping
    kept = max(2, 1 + len(eos_ids)) * beams
    max_new = int(settings.max_new_tokens)
    # Only the first beam is live at the start, so that the beams do not all pick the same tokens.
    running_scores = torch.full((beams,), _EXCLUDED)
    running_scores[0] = 0.0
    running_nodes = [0] * beams
    finished_scores = torch.full((beams,), _EXCLUDED)
    finished_nodes = [-1] * beams
    nodes = [dict(node=0, parent=-1, step=-1, token="", token_id=-1, logprob=0.0, score=0.0, status="root")]
    per_step = []  # per step: (rows' candidate ids, stage tables, entropies, attention, cross, seconds, cache bytes)
    improvable = True
    for step in range(max_new):
        check_time()
        started = _clock(runner.sequence.device)
        logits, attention, cross = runner.forward()
        seconds = _clock(runner.sequence.device) - started
        log_probs = torch.log_softmax(logits.float(), -1)  # (beams, vocab)
        probs = log_probs.exp()
        tables = [_candidates([probs] * 4, probs, b) for b in range(beams)]
        vocab = log_probs.shape[-1]
        top_scores, top_index = torch.topk((log_probs + running_scores[:, None]).reshape(-1), kept)
        parents, tokens = (top_index // vocab).tolist(), (top_index % vocab).tolist()
        ends = torch.tensor([t in eos_ids or step + 1 >= max_new for t in tokens])
        first = len(nodes)
        for j, (b, t) in enumerate(zip(parents, tokens)):
            nodes.append(dict(node=first + j, parent=running_nodes[b], step=step, token=display_tokens(tok, [t])[0],
                              token_id=t, logprob=float(log_probs[b, t]), score=float(top_scores[j]), status="pruned",
                              row=b))
        # The next beams: the best continuations that did not end.
        continuing = top_scores + ends.float() * _EXCLUDED
        chosen = torch.topk(continuing, beams).indices.tolist()
        # Finished hypotheses: only the first `beams` continuations may enter, length-normalised.
        normalised = top_scores / ((step + 1) ** length_penalty)
        full = bool(torch.all(finished_scores > _EXCLUDED / 2)) and early_stopping is True
        entering = ends & (torch.arange(kept) < beams) & (not full) & improvable
        normalised = normalised + (~entering).float() * _EXCLUDED
        merged = torch.cat([finished_scores, normalised])
        best = torch.topk(merged, beams).indices.tolist()
        merged_nodes = finished_nodes + list(range(first, first + kept))
        finished_scores, finished_nodes = merged[best], [merged_nodes[i] for i in best]
        for i in best:
            if i >= beams and entering[i - beams]:
                nodes[merged_nodes[i]].update(status="finished", final_score=float(merged[i]))
        for j in chosen:
            nodes[first + j]["status"] = "running"
        running_scores = continuing[chosen]
        running_nodes = [first + j for j in chosen]
        runner.select([parents[j] for j in chosen])
        runner.append([tokens[j] for j in chosen])
        per_step.append((tables, entropy(probs.cpu().numpy()).tolist(), attention, cross, seconds, _cache_bytes(runner.cache)))
        # generate()'s heuristic: can the best running beam still beat the worst finished one?
        done_len = (max_new if early_stopping == "never" and length_penalty > 0 else step + 1)
        best_possible = float(running_scores[0]) / (done_len ** length_penalty)
        all_finished = bool(torch.all(finished_scores > _EXCLUDED / 2))
        worst = float(finished_scores.min()) if all_finished else _EXCLUDED
        improvable = improvable and best_possible > worst
        if not improvable or (all_finished and early_stopping is True) or bool(ends.all()):
            break
    ranks = {node: rank for rank, (node, score) in enumerate(zip(finished_nodes, finished_scores.tolist()))
             if node >= 0 and score > _EXCLUDED / 2}
    winner = next(node for node, rank in ranks.items() if rank == 0)
    tree_nodes = tuple(BeamNode(**{k: v for k, v in n.items() if k not in ("row", "final_score")},
                                final_score=n.get("final_score", float("nan")), final_rank=ranks.get(n["node"], -1))
                       for n in nodes)
    tree = BeamTree(beams, kept, length_penalty, tree_nodes, winner, len(per_step))
    generated, steps = [], []
    for node_id in tree.path(winner):
        node, raw = tree_nodes[node_id], nodes[node_id]
        tables, entropies, attention, cross, seconds, (self_bytes, cross_bytes) = per_step[node.step]
        ids, table = tables[raw["row"]]
        generated.append(node.token_id)
        steps.append(Step(
            token=node.token, token_id=node.token_id, prob=math.exp(node.logprob), logprob_sum=node.score,
            entropy=entropies[raw["row"]], candidate_ids=np.asarray(ids, np.int64),
            candidate_tokens=display_tokens(tok, ids), stages=table, kept=kept,
            attention=attention[raw["row"]], cross=None if cross is None else cross[raw["row"]], seconds=seconds,
            cache_bytes=self_bytes + cross_bytes, self_cache_bytes=self_bytes, cross_cache_bytes=cross_bytes,
        ))
    stopped = "eos" if generated and generated[-1] in eos_ids else "length"
    return generated, steps, stopped, tree


class _DecoderRunner:
    """Feeds a decoder its sequences: the new tokens only (cache on) or everything (cache off).

    `rows` sequences run as one batch (the beams); each starts as the prompt."""

    def __init__(self, loaded: LoadedModel, prompt_ids: torch.Tensor, use_cache: bool, rows: int = 1):
        self.model = loaded.model
        self.sequence = prompt_ids.repeat(rows, 1)
        self.cache = DynamicCache() if use_cache else None
        self._fed = 0

    def forward(self):
        if self.cache is not None:
            ids = self.sequence[:, self._fed:]
            out = self.model(input_ids=ids, past_key_values=self.cache, use_cache=True, output_attentions=True)
            self._fed = self.sequence.shape[1]
        else:
            out = self.model(input_ids=self.sequence, use_cache=False, output_attentions=True)
        return out.logits[:, -1, :], _rows(out.attentions), None

    def select(self, rows: list[int]) -> None:
        """Keep these rows, in this order (beam search's reordering; the cache follows)."""
        index = torch.tensor(rows, device=self.sequence.device)
        self.sequence = self.sequence[index]
        if self.cache is not None:
            self.cache.reorder_cache(index)

    def append(self, tokens: list[int]) -> None:
        self.sequence = torch.cat([self.sequence, self.sequence.new_tensor(tokens)[:, None]], dim=1)


class _Seq2SeqRunner(_DecoderRunner):
    """Encodes the input once; every row's decoder starts from decoder_start_token_id."""

    def __init__(self, loaded: LoadedModel, prompt_ids: torch.Tensor, use_cache: bool, rows: int = 1):
        model = loaded.model
        self.model = model
        encoded = model.get_encoder()(input_ids=prompt_ids)
        encoded.last_hidden_state = encoded.last_hidden_state.repeat(rows, 1, 1)
        self.encoder_out = encoded
        start = model.generation_config.decoder_start_token_id
        start = model.config.decoder_start_token_id if start is None else start
        self.sequence = prompt_ids.new_full((rows, 1), start)
        self.cache = EncoderDecoderCache(DynamicCache(), DynamicCache()) if use_cache else None
        self._fed = 0

    def forward(self):
        ids = self.sequence[:, self._fed:] if self.cache is not None else self.sequence
        out = self.model(encoder_outputs=self.encoder_out, decoder_input_ids=ids, past_key_values=self.cache,
                         use_cache=self.cache is not None, output_attentions=True)
        if self.cache is not None:
            self._fed = self.sequence.shape[1]
        return out.logits[:, -1, :], _rows(out.decoder_attentions), _rows(out.cross_attentions)


def decoding_to_json(result: Decoding) -> dict:
    """The public JSON of a decoding run (the `/decode` endpoint); per step `text` is what the step
    added to the decoded text, `token` its label."""
    steps = []
    for s, text in zip(result.steps, result.step_text):
        candidates = [
            dict({"token": t, "token_id": int(i)}, **{stage: float(s.stages[k, c]) for k, stage in enumerate(
                ("raw_prob", "after_temperature", "after_top_k", "after_top_p", "final_prob"))})
            for c, (t, i) in enumerate(zip(s.candidate_tokens, s.candidate_ids))
        ]
        # prob, logprob_sum and entropy are kept for older clients: the same as the model_* fields.
        model = {"prob": s.prob, "logprob_sum": jsonable(s.logprob_sum), "entropy": s.entropy}
        steps.append({
            "token": s.token, "token_id": s.token_id, "text": text, **model, **{f"model_{k}": v for k, v in model.items()},
            "sample_prob": s.sample_prob, "sample_logprob_sum": jsonable(s.sample_logprob_sum),
            "sample_entropy": s.sample_entropy,
            "kept": s.kept, "candidates": candidates, "step_ms": round(s.seconds * 1000, 3),
            "cache_bytes": s.cache_bytes, "self_cache_bytes": s.self_cache_bytes,
            "cross_cache_bytes": s.cross_cache_bytes,
        })
    out = {"model": result.model_key, "text": result.text, "token_ids": list(result.token_ids),
           "prompt_tokens": list(result.prompt_tokens), "stopped": result.stopped, "steps": steps,
           "notices": list(result.notices)}
    if result.familiarity is not None:
        out["unfamiliar"] = familiarity.to_json(result.familiarity)
    if result.beams is not None:
        tree = result.beams
        out["beams"] = {
            "num_beams": tree.num_beams, "kept_per_step": tree.kept_per_step, "length_penalty": tree.length_penalty,
            "winner": tree.winner, "steps": tree.steps,
            "nodes": [{"node": n.node, "parent": n.parent, "step": n.step, "token": n.token, "token_id": n.token_id,
                       "logprob": n.logprob, "score": n.score, "status": n.status, "final_rank": n.final_rank,
                       "final_score": jsonable(n.final_score)} for n in tree.nodes],
        }
    return out


@torch.inference_mode()
def fill_left_to_right(key: str, prompt: str, max_new_tokens: int = 10, device: str | None = None) -> tuple[MaskFill, ...]:
    """Make an encoder "generate": append [MASK] before the final [SEP], take its most likely
    fill, append that, repeat. The encoder was trained to fill gaps with context on both sides;
    here the right side is only [SEP], which is why this goes badly."""
    prompt, _ = clean_text(prompt)
    loaded = get_model(key, device)
    tok = loaded.tokenizer
    if loaded.family != "encoder" or tok.mask_token_id is None:
        raise ValueError("Filling a trailing [MASK] needs an encoder with a mask token (a BERT).")
    if not 1 <= int(max_new_tokens) <= MAX_NEW_TOKENS:
        raise ValueError(f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS}.")
    ids = tok(prompt)["input_ids"][:-1]  # without the final [SEP]
    room = position_limit(loaded) - 2 - int(max_new_tokens)
    if len(ids) > room:
        raise ValueError(f"The prompt has {len(ids) - 1} tokens; with {int(max_new_tokens)} fills it would pass "
                         f"this model's {position_limit(loaded)} positions. Shorten it to {max(room - 1, 0)} tokens.")
    fills = []
    for _ in range(int(max_new_tokens)):
        check_time()
        row = torch.tensor([ids + [tok.mask_token_id, tok.sep_token_id]], device=loaded.device)
        out = loaded.model(input_ids=row)
        probs = torch.softmax(vocab_logits(out)[0, -2].float(), -1)
        top = torch.topk(probs, 5)
        labels = display_tokens(tok, top.indices.tolist())
        chosen = int(top.indices[0])
        fills.append(MaskFill(labels[0], chosen, float(top.values[0]),
                              tuple(zip(labels, (float(v) for v in top.values)))))
        ids.append(chosen)
    return tuple(fills)
