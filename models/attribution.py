"""Input attribution: how much each input token matters for one output token.

- Gradient x input (Shrikumar et al. 2016; Denil et al. 2014): x . df/dx per token, summed over
  the embedding dimensions.
- Integrated gradients (Sundararajan et al. 2017): (x - x') . mean df/dx along the straight path
  from a baseline x' to x, with the midpoint rule over `steps` points. The baseline is the
  padding token's embedding at every position (position embeddings, which the model adds itself,
  are kept); the zero vector is not used because RMSNorm (LLaMA, T5) is singular at 0, where the
  path's gradients blow up and the midpoint rule misses the integral. IG is complete: the scores
  sum to f(x) - f(x') up to the path integral's error, which is reported (and said in a notice
  when it is over 5 % of f(x) - f(x'): a model that jumps, such as MoE's top-k routing, keeps some).

f is the log-probability of the target token at the position read (decoders: the next token after
the text; BERT: the first [MASK]; T5: the first output token, scored over the source tokens), or
with a contrast token log p(target) - log p(contrast): "why this token and not that one".
"""

from __future__ import annotations

import numpy as np
import torch

from models.loading import get_model
from models.model_io import read_point, vocab_logits
from models.results import Attribution
from models.tokens import display_tokens
from models.trace import _encode, clean_text, position_limit

MAX_STEPS = 256


def _token(tok, text: str, what: str, notices: list[str]) -> int:
    """The id of a token given as text: its first piece when the tokenizer splits it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone UTF-16 surrogate, which no tokenizer reads
        raise ValueError(f"The {what} token holds a character that is not valid Unicode; remove it and try again.") from None
    ids = tok(text, add_special_tokens=False)["input_ids"]
    if not ids:
        raise ValueError(f"The {what} token {text!r} gives no token for this model.")
    if len(ids) > 1:
        notices.append(f"The {what} {text!r} is {len(ids)} tokens for this model; its first one is scored.")
    return int(ids[0])


def attribute(key: str, text: str, target: str = "", contrast: str = "", steps: int = 64) -> Attribution:
    text, cut = clean_text(text)
    if not 4 <= int(steps) <= MAX_STEPS:
        raise ValueError(f"steps must be between 4 and {MAX_STEPS}.")
    steps = int(steps)
    loaded = get_model(key)
    model, tok = loaded.model, loaded.tokenizer
    notices = list(cut)
    enc = _encode(loaded, text, position_limit(loaded), notices)
    if loaded.family != "encoder":
        enc.pop("token_type_ids", None)
    ids = enc.pop("input_ids")
    position, extra = read_point(loaded, ids, "Attribution on BERT explains a [MASK] fill: put [MASK] in the text.")
    extra = {**enc, **extra}
    vocab = len(tok)
    embed = model.get_input_embeddings()
    filler = next((i for i in (tok.pad_token_id, tok.unk_token_id, tok.eos_token_id) if i is not None), None)
    with torch.no_grad():
        x = embed(ids).detach()  # (1, tokens, width)
        baseline = embed(torch.full_like(ids, filler)).detach() if filler is not None else torch.zeros_like(x)
        logits = vocab_logits(model(inputs_embeds=x, **extra))[0, position, :vocab].float()
    target_id = _token(tok, target, "target", notices) if target.strip() else int(logits.argmax())
    contrast_id = _token(tok, contrast, "contrast", notices) if contrast.strip() else None

    def f(embeds: torch.Tensor) -> torch.Tensor:
        """(batch,) the attributed quantity for a batch of input embeddings."""
        batch = embeds.shape[0]
        more = {k: v.expand(batch, *v.shape[1:]) for k, v in extra.items()}
        logp = torch.log_softmax(vocab_logits(model(inputs_embeds=embeds, **more))[:, position, :vocab].float(), -1)
        return logp[:, target_id] - (logp[:, contrast_id] if contrast_id is not None else 0)

    with torch.enable_grad():
        point = x.clone().requires_grad_(True)
        value = f(point)
        (grad,) = torch.autograd.grad(value.sum(), point)
        gxi = (x * grad)[0].sum(-1)
        alphas = (torch.arange(steps, dtype=x.dtype, device=x.device) + 0.5) / steps  # midpoints
        total = torch.zeros_like(x[0])
        for chunk in alphas.split(32):  # 32 interpolated inputs per forward and backward pass
            path = (baseline + chunk[:, None, None] * (x - baseline)).requires_grad_(True)
            (g,) = torch.autograd.grad(f(path).sum(), path)
            total += g.sum(0)
        ig = ((x - baseline)[0] * total / steps).sum(-1)
        with torch.no_grad():
            base = f(baseline)
    value, base = float(value.detach()[0]), float(base[0])
    ig = ig.detach().cpu().numpy().astype(np.float32)
    gap = float(ig.astype(np.float64).sum() - (value - base))
    if abs(gap) > 0.05 * max(abs(value - base), 1e-6):
        notices.append(f"Integrated gradients sum to {ig.sum():.4f} where f(x) - f(baseline) is {value - base:.4f}: the "
                       f"path integral over {steps} steps is off by {gap:.4f}. More steps reduce the gap; a model that "
                       "jumps along the path (an MoE router's top-k choice) keeps some.")
    labels = display_tokens(tok, [target_id] + ([contrast_id] if contrast_id is not None else []))
    return Attribution(loaded.spec.key, loaded.spec.name, loaded.family, display_tokens(tok, ids[0].tolist()), position,
                       target_id, labels[0], contrast_id, labels[1] if contrast_id is not None else None, value, base,
                       gxi.detach().cpu().numpy().astype(np.float32), ig, steps, gap, tuple(notices))


def attribution_to_json(result: Attribution) -> dict:
    return {"model": result.model_key, "family": result.family, "tokens": list(result.tokens),
            "position": result.position, "target": result.target, "target_id": result.target_id,
            "contrast": result.contrast, "contrast_id": result.contrast_id,
            "f": "log p(target) - log p(contrast)" if result.contrast_id is not None else "log p(target)",
            "value": result.value, "baseline": "the padding token's embedding at every position (positions kept)",
            "baseline_value": result.baseline_value, "gradient_x_input": result.gradient_x_input.tolist(),
            "integrated_gradients": result.integrated_gradients.tolist(), "steps": result.steps,
            "completeness_gap": result.completeness_gap, "notices": list(result.notices)}
