"""What goes into a transformers model's forward() and what the views read from its output.

The tokenizers return more than forward() accepts, and BERT's pretraining head names its
vocabulary logits differently from every other head; these helpers hide both.
"""

from __future__ import annotations

import torch

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def model_inputs(encoding, device: torch.device) -> dict:
    """The tokenizer outputs that forward() takes, moved to `device`."""
    return {k: v.to(device) for k, v in encoding.items() if k in MODEL_INPUTS}


def vocab_logits(out) -> torch.Tensor:
    """The logits over the vocabulary: BertForPreTraining calls them prediction_logits."""
    return out.logits if getattr(out, "logits", None) is not None else out.prediction_logits


def next_sentence_prob(out) -> float | None:
    """P(IsNext) of the batch's first row from BERT's next-sentence head; None without that head."""
    logits = getattr(out, "seq_relationship_logits", None)
    if logits is None:
        return None
    return float(torch.softmax(logits[0].float(), -1)[0])  # label 0 = IsNext, 1 = IsRandom


def read_point(loaded, ids: torch.Tensor, refusal: str) -> tuple[int, dict]:
    """Where one prediction is read, and what forward() needs besides the input ids to read it
    there: decoders the next token after the text (the last position); BERT its first [MASK]
    (`refusal` when the text has none); T5 its first output token, after the decoder start.
    Attribution and head ablation explain the same prediction."""
    if loaded.family == "encoder":
        masks = (ids[0] == loaded.tokenizer.mask_token_id).nonzero()[:, 0].tolist()
        if not masks:
            raise ValueError(refusal)
        return masks[0], {}
    if loaded.family == "decoder":
        return ids.shape[1] - 1, {}
    start = loaded.model.generation_config.decoder_start_token_id
    return 0, {"decoder_input_ids": torch.full((1, 1), start, dtype=ids.dtype, device=ids.device)}
