"""Head ablation: switch off a set of attention heads and compare the prediction, its
distribution and the greedy decoding with the unablated run; and one ablation per head, ranked
by how much the current prediction loses (as in Michel et al. 2019, "Are Sixteen Heads Really
Better than One?", which masks heads the same way).

A head is switched off by zeroing its slice of the input to the attention's output projection:
its output, before it is mixed with the other heads' (W_O [h_1; ...; h_H]). The projection is
found by what it reads, not by its name: in each block, the first linear layer whose input is
not the tensor the query/key/value projections read (GPT-2's c_proj, LLaMA's o_proj, T5's o,
BERT's output.dense after its self-attention). Hooks do the zeroing for one call and are removed.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy as np
import torch

from models import architecture
from models.limits import check_time
from models.loading import LoadedModel, get_model
from models.model_io import read_point, vocab_logits
from models.results import Ablation
from models.tokens import display_tokens
from models.trace import _encode, clean_text, position_limit

CONTINUATION = 12  # greedy tokens compared, decoders


def _linear(module: torch.nn.Module) -> bool:
    weight = getattr(module, "weight", None)
    return (isinstance(weight, torch.nn.Parameter) and weight.dim() == 2 and not list(module.children())
            and not isinstance(module, torch.nn.Embedding))


def _stack_blocks(loaded: LoadedModel, kind: str) -> torch.nn.ModuleList:
    lists = architecture._block_lists(loaded.model)
    if loaded.family == "encoder-decoder":
        lists = [(p, m) for p, m in lists if (kind == "decoder") == ("decoder" in p.split("."))]
    if not lists:
        raise ValueError(f"{loaded.spec.name} has no {kind} self-attention to switch heads off in.")
    return lists[0][1]


def out_projections(loaded: LoadedModel, kind: str) -> list[torch.nn.Module]:
    """Per layer of the stack, the module that reads its self-attention heads' merged outputs."""
    blocks = _stack_blocks(loaded, kind)
    calls: list[list[tuple[torch.nn.Module, torch.Tensor | None]]] = [[] for _ in blocks]
    me = threading.get_ident()
    handles = []
    for i, block in enumerate(blocks):
        for module in block.modules():
            if _linear(module):
                def hook(m, args, kwargs, i=i):
                    if threading.get_ident() == me:
                        calls[i].append((m, architecture._first_tensor(args, kwargs)))
                handles.append(module.register_forward_pre_hook(hook, with_kwargs=True))
    try:
        with torch.inference_mode():
            loaded.model(**architecture._probe_inputs(loaded))
    finally:
        for handle in handles:
            handle.remove()
    found = []
    for seen in calls:
        first = seen[0][1] if seen else None
        found.append(next((m for m, x in seen[1:] if not architecture._same(x, first)), None))
    if any(m is None for m in found):
        raise RuntimeError(f"{loaded.spec.name}: the attention's output projection could not be found in every block.")
    return found


@contextmanager
def heads_off(loaded: LoadedModel, kind: str, heads: set[tuple[int, int]], projections=None):
    """Within the block, this thread's runs of the model have `heads` ((layer, head)) switched off."""
    projections = projections or out_projections(loaded, kind)
    count = architecture.dims(loaded.model.config).heads
    me = threading.get_ident()
    handles = []
    for layer, module in enumerate(projections):
        chosen = sorted(h for l, h in heads if l == layer)
        if not chosen:
            continue

        def zero(_m, args, kwargs, chosen=chosen):
            if threading.get_ident() != me:
                return None
            x = args[0] if args else next(iter(kwargs.values()))
            width = x.shape[-1] // count
            x = x.clone()
            for h in chosen:
                x[..., h * width:(h + 1) * width] = 0
            return ((x, *args[1:]), kwargs) if args else ((), {**kwargs, next(iter(kwargs)): x})
        handles.append(module.register_forward_pre_hook(zero, with_kwargs=True))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _parse(heads, layers: int, count: int) -> tuple[tuple[int, int], ...]:
    """[(layer, head), ...] or "0:1, 2:3" -> checked, sorted, unique pairs."""
    if isinstance(heads, str):
        pairs = []
        for part in filter(None, (p.strip() for p in heads.replace(";", ",").split(","))):
            layer, sep, head = part.partition(":")
            if not sep:
                raise ValueError(f"Write each head as layer:head (for example 0:1, 2:3), not {part!r}.")
            pairs.append((layer.strip(), head.strip()))
    else:
        pairs = list(heads or [])
    out = set()
    for pair in pairs:
        try:
            layer, head = (int(v) for v in pair)
        except (TypeError, ValueError):
            raise ValueError(f"Write each head as layer:head (for example 0:1, 2:3), not {pair!r}.") from None
        if not (0 <= layer < layers and 0 <= head < count):
            raise ValueError(f"Head {layer}:{head} does not exist: layers 0 to {layers - 1}, heads 0 to {count - 1}.")
        out.add((layer, head))
    return tuple(sorted(out))


@torch.inference_mode()
def ablate(key: str, text: str, heads="", kind: str = "", top_k: int = 5, rank_heads: bool = True) -> Ablation:
    text, cut = clean_text(text)
    loaded = get_model(key)
    model, tok = loaded.model, loaded.tokenizer
    kinds = ("encoder", "decoder") if loaded.family == "encoder-decoder" else (loaded.family,)
    kind = kind or kinds[0]
    if kind not in kinds:
        raise ValueError(f"{loaded.spec.name} has self-attention kinds {', '.join(kinds)}; not {kind!r}.")
    projections = out_projections(loaded, kind)
    count = architecture.dims(model.config).heads
    chosen = _parse(heads, len(projections), count)
    notices = list(cut)
    enc = _encode(loaded, text, position_limit(loaded), notices)
    if loaded.family != "encoder":
        enc.pop("token_type_ids", None)
    ids = enc["input_ids"][0].tolist()
    position, extra = read_point(loaded, enc["input_ids"],
                                 "Head ablation on BERT compares a [MASK] fill: put [MASK] in the text.")
    shown = extra["decoder_input_ids"][0].tolist() if extra else ids
    vocab = len(tok)

    def distribution(off: set) -> torch.Tensor:
        with heads_off(loaded, kind, off, projections):
            return torch.softmax(vocab_logits(model(**enc, **extra))[0, position, :vocab].float(), -1)

    # A decoder continues only as far as its position table reaches (GPT-2's 128 here).
    cfg = model.config
    table = next((v for v in (getattr(cfg, "max_position_embeddings", None), getattr(cfg, "n_positions", None))
                  if isinstance(v, int) and v > 0), None)
    room = CONTINUATION if table is None else max(0, min(CONTINUATION, table - len(ids)))
    if loaded.family == "decoder" and room == 0:
        notices.append(f"The text fills all {table} positions of {loaded.spec.name}: no greedy continuation to compare.")

    def continuation(off: set) -> str:
        if loaded.family == "encoder" or (loaded.family == "decoder" and room == 0):
            return ""
        with heads_off(loaded, kind, off, projections):
            new = model.generate(**enc, do_sample=False, min_new_tokens=0,
                                 max_new_tokens=room if loaded.family == "decoder" else 32)
        return tok.decode(new[0, len(ids):] if loaded.family == "decoder" else new[0], skip_special_tokens=True)

    base, base_text = distribution(set()), continuation(set())
    off, off_text = (distribution(set(chosen)), continuation(set(chosen))) if chosen else (base, base_text)
    prediction = int(base.argmax())
    single = np.zeros((len(projections), count), np.float32)
    if rank_heads:
        for layer in range(len(projections)):
            for head in range(count):
                check_time()  # one forward pass per head: 144 on a base-sized model
                single[layer, head] = float(base[prediction] - distribution({(layer, head)})[prediction])
    k = min(int(top_k), vocab)
    bp, bi = base.topk(k)
    ap, ai = off.topk(k)
    kl = float((base * (base.clamp_min(1e-30).log() - off.clamp_min(1e-30).log())).sum())
    return Ablation(loaded.spec.key, loaded.spec.name, loaded.family, kind, chosen, position,
                    display_tokens(tok, [shown[position]])[0], bi.numpy().astype(np.int64), display_tokens(tok, bi.tolist()),
                    bp.numpy().astype(np.float32), ai.numpy().astype(np.int64), display_tokens(tok, ai.tolist()),
                    ap.numpy().astype(np.float32), (float(base[prediction]), float(off[prediction])), max(kl, 0.0),
                    base_text, off_text, single, tuple(notices))


def ablation_to_json(result: Ablation) -> dict:
    return {"model": result.model_key, "family": result.family, "kind": result.kind,
            "heads_off": [list(p) for p in result.heads_off], "position": result.position,
            "position_token": result.position_token,
            "unablated": [{"token": t, "id": int(i), "prob": float(p)}
                          for t, i, p in zip(result.base_tokens, result.base_ids, result.base_probs)],
            "ablated": [{"token": t, "id": int(i), "prob": float(p)}
                        for t, i, p in zip(result.ablated_tokens, result.ablated_ids, result.ablated_probs)],
            "prediction_prob": list(result.prediction_prob), "kl": result.kl,
            "unablated_text": result.base_text, "ablated_text": result.ablated_text,
            "single_head_drop": result.single_drop.tolist(), "notices": list(result.notices)}
