"""The logit lens (nostalgebraist 2020, "interpreting GPT: the logit lens"): the model's own
output head read at every layer, to see when its prediction forms.

At each layer's residual stream (layer 0: the embeddings) we apply what the model applies to its
last one before the head: the final norm (GPT-2's ln_f, LLaMA's RMSNorm, T5's decoder
final_layer_norm; BERT has none), the scale T5 multiplies by when its embeddings are tied
(d_model**-0.5), then the head itself (an LM head, or BERT's whole MLM head with its transform).
None of it is found by name:
- the blocks are the stacks architecture.py finds; their outputs are read with forward hooks
  that keep the tensors in a local list for this call only;
- the head is the top-level child of the model that holds get_output_embeddings();
- the final norm is the norm outside the blocks and the head that runs after the blocks
  (architecture.probe);
- the scale is measured: the head's real input, caught by a pre-hook, divided by the final norm
  of the last block's output, and checked to be one number.
So the last layer's distribution is the model's own output, which the tests check.
"""

from __future__ import annotations

import inspect
import threading

import numpy as np
import torch

from models import architecture
from models.loading import LoadedModel, get_model
from models.model_io import vocab_logits
from models.results import LogitLens
from models.tokens import display_tokens
from models.trace import MAX_NEW_TOKENS, _common, _encode, clean_text, position_limit


def _head(model: torch.nn.Module) -> torch.nn.Module:
    """The outermost module on the path to get_output_embeddings() that maps the stream alone to
    logits: lm_head itself, or BERT's MLM head with its transform (BertForPreTraining's `cls`
    also takes the pooled output for NSP, so its `predictions`)."""
    out = model.get_output_embeddings()
    if out is None:
        raise ValueError("This model has no output head over the vocabulary, so there is no logit lens to read.")
    path = next(name for name, module in model.named_modules() if module is out).split(".")
    for depth in range(1, len(path) + 1):
        module = model.get_submodule(".".join(path[:depth]))
        required = [p for p in inspect.signature(module.forward).parameters.values()
                    if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(required) == 1:
            return module
    return out


def _stack(loaded: LoadedModel) -> tuple[str, torch.nn.ModuleList]:
    """The block list whose stream feeds the head: the decoder's in an encoder-decoder."""
    lists = architecture._block_lists(loaded.model)
    if loaded.family == "encoder-decoder":
        lists = [(p, m) for p, m in lists if "decoder" in p.split(".")] or lists
    return lists[-1]


def _final_norm(loaded: LoadedModel, stack_path: str, head: torch.nn.Module) -> torch.nn.Module | None:
    """The norm between the blocks and the head: outside both, run after the blocks."""
    early = architecture.probe(loaded).early_norms
    inside = {id(m) for m in head.modules()}
    owner = stack_path.rsplit(".", 1)[0] if "." in stack_path else ""
    found = [path for path, before in early.items() if not before and id(loaded.model.get_submodule(path)) not in inside
             and (loaded.family != "encoder-decoder" or path.startswith(owner))]
    return loaded.model.get_submodule(found[-1]) if found else None


def _output(value) -> torch.Tensor:
    return value[0] if isinstance(value, (tuple, list)) else value


@torch.inference_mode()
def logit_lens(key: str, text: str, top_k: int = 5, *, device: str | None = None) -> LogitLens:
    """Top `top_k` tokens and the final prediction's rank and probability at every layer and
    position of the stack that feeds the output head."""
    text, cut = clean_text(text)
    if not 1 <= int(top_k) <= 20:
        raise ValueError("top_k must be between 1 and 20.")
    top_k = int(top_k)
    loaded = get_model(key, device)
    model, tok = loaded.model, loaded.tokenizer
    notices = list(cut)
    enc = _encode(loaded, text, position_limit(loaded), notices)
    common = _common(loaded, enc["input_ids"][0].tolist(), text, notices)
    head = _head(model)
    path, blocks = _stack(loaded)
    norm = _final_norm(loaded, path, head)
    streams: list[torch.Tensor | None] = [None] * (len(blocks) + 1)
    head_input: list[torch.Tensor] = []
    me = threading.get_ident()  # the model is shared: only this call's run is recorded

    def first_input(_m, args, kwargs):
        if threading.get_ident() == me:
            streams[0] = architecture._first_tensor(args, kwargs)

    def block_output(i):
        def hook(_m, _args, output):
            if threading.get_ident() == me:
                streams[i + 1] = _output(output)
        return hook

    def at_head(_m, args, kwargs):
        if threading.get_ident() == me:
            head_input.append(architecture._first_tensor(args, kwargs))

    handles = [blocks[0].register_forward_pre_hook(first_input, with_kwargs=True),
               head.register_forward_pre_hook(at_head, with_kwargs=True)]
    handles += [block.register_forward_hook(block_output(i)) for i, block in enumerate(blocks)]
    if loaded.family != "encoder":
        enc.pop("token_type_ids", None)
    try:
        if loaded.family == "encoder-decoder":
            generated = model.generate(**enc, do_sample=False, num_beams=1, max_new_tokens=MAX_NEW_TOKENS,
                                       min_new_tokens=0)
            streams[:] = [None] * len(streams)
            head_input.clear()
            out = model(**enc, decoder_input_ids=generated)
            ids = generated[0].tolist()
            stack = "decoder"
        else:
            out = model(**enc)
            ids = enc["input_ids"][0].tolist()
            stack = "encoder" if loaded.family == "encoder" else "decoder"
    finally:
        for handle in handles:
            handle.remove()
    if any(s is None for s in streams) or not head_input:
        raise RuntimeError(f"{loaded.spec.name}'s blocks did not all run; the logit lens cannot read them.")
    normed = [norm(s) if norm is not None else s for s in streams]
    last, fed = normed[-1][0].float(), head_input[-1][0].float()
    scale = float((fed * last).sum() / (last * last).sum().clamp_min(1e-30))
    if not torch.allclose(fed, scale * last, rtol=1e-3, atol=1e-4 * float(fed.abs().max())):
        raise RuntimeError(f"{loaded.spec.name} changes its stream between the last block and the output head in a way "
                           "the logit lens does not reproduce (more than a norm and a scale).")
    tokens = display_tokens(tok, ids)
    mask_id = tok.mask_token_id if loaded.family == "encoder" else None
    positions = [i for i, t in enumerate(ids) if mask_id is not None and t == mask_id] or list(range(len(ids)))
    vocab = len(tok)
    probs = torch.stack([torch.softmax(head(scale * s)[0, positions, :vocab].float(), -1) for s in normed])
    own = torch.softmax(vocab_logits(out)[0, positions, :vocab].float(), -1)
    top_p, top_i = probs.topk(min(top_k, vocab), -1)  # (layers + 1, positions, k)
    final = own.argmax(-1)  # (positions,)
    final_prob = probs.gather(-1, final.expand(probs.shape[0], -1)[..., None])[..., 0]
    final_rank = (probs > final_prob[..., None]).sum(-1)
    flat = top_i.reshape(-1).tolist()
    labels = iter(display_tokens(tok, flat))
    top_tokens = tuple(tuple(tuple(next(labels) for _ in range(top_i.shape[2])) for _ in range(top_i.shape[1]))
                       for _ in range(top_i.shape[0]))
    return LogitLens(common["model_key"], common["model_name"], loaded.family, stack, tokens, tuple(positions),
                     top_i.cpu().numpy().astype(np.int64), top_tokens, top_p.cpu().numpy().astype(np.float32),
                     final.cpu().numpy().astype(np.int64), display_tokens(tok, final.tolist()),
                     final_rank.cpu().numpy().astype(np.int64), final_prob.cpu().numpy().astype(np.float32),
                     scale, tuple(notices))


def lens_to_json(result: LogitLens) -> dict:
    return {"model": result.model_key, "family": result.family, "stack": result.stack, "tokens": list(result.tokens),
            "positions": list(result.positions), "layers": int(result.top_ids.shape[0]),
            "top_ids": result.top_ids.tolist(), "top_tokens": [list(map(list, layer)) for layer in result.top_tokens],
            "top_probs": result.top_probs.tolist(), "final_ids": result.final_ids.tolist(),
            "final_tokens": list(result.final_tokens), "final_rank": result.final_rank.tolist(),
            "final_prob": result.final_prob.tolist(), "head_scale": result.head_scale, "notices": list(result.notices)}
