"""Tokens and model outputs as small HTML fragments. All token text is escaped."""

from __future__ import annotations

from html import escape

from models.data import Trace
from viz.words import t

_CHIP = (
    "display:inline-block;margin:2px;padding:2px 6px;border-radius:6px;"
    "font-family:ui-monospace,monospace;font-size:15px;border:1px solid #9aa;"
)
_SPECIAL = "background:#fde2b8;color:#6b3d00;"
_NORMAL = "background:#eef3fb;color:#0b2545;"
# Unknown, byte-piece or rarely-trained tokens: a dashed red frame, readable without colour too.
_UNFAMILIAR = "background:#fde8e8;color:#7a1010;border:2px dashed #c0392b;"


def _chip(i: int, token: str, special: bool, unfamiliar: bool) -> str:
    classes = "tok" + (" special" if special else "") + (" unfamiliar" if unfamiliar else "")
    # [UNK] is a special token too, but what matters to the reader is that it is unreadable.
    style = _CHIP + (_UNFAMILIAR if unfamiliar else _SPECIAL if special else _NORMAL)
    title = t("position {}", i) + (t(": the model cannot really read this token") if unfamiliar else "")
    # translate="no": a token is the model's text, never the page's (the 中文 test skips it too).
    return f'<span class="{classes}" style="{style}" title="{title}" translate="no">{escape(token)}</span>'


def tokens_html(tokens: tuple[str, ...], special=None, label: str = "", unfamiliar=None) -> str:
    """Token chips with their positions; special tokens added by the tokenizer in orange, tokens
    the model cannot really read (unknown, byte pieces, rarely trained) framed in dashed red."""
    special = [False] * len(tokens) if special is None else list(special)
    unfamiliar = [False] * len(tokens) if unfamiliar is None else list(unfamiliar)
    chips = "".join(_chip(i, token, bool(sp), bool(u)) for i, (token, sp, u) in enumerate(zip(tokens, special, unfamiliar)))
    head = f"<b translate=\"no\">{escape(label)}</b> " + t("({} tokens)", len(tokens)) + " " if label else ""
    return f'<div class="tokens">{head}{chips}</div>'


def outputs_html(trace: Trace) -> str:
    """What the model itself says about the text: next-sentence prediction for "A [SEP] B" and
    mask fills (encoders), the next token (decoders), or its output (encoder-decoders)."""
    parts = []
    if trace.family == "encoder":
        if trace.next_sentence is not None:
            verdict = (t("the model reads the second sentence as the next one") if trace.next_sentence > 0.5
                       else t("the model reads the second sentence as a random one"))
            value = f"<b>{trace.next_sentence:.3f}</b>"
            parts.append(f'<div class="nsp">{t("Next-sentence prediction: P(IsNext) = {}", value)} ({verdict})</div>')
        for p in trace.predictions:
            fills = ", ".join(f"{escape(c.token)} {c.prob:.1%}" for c in p.candidates)
            parts.append(f"<div>{t('[MASK] at position {}:', p.position)} <span translate=\"no\">{fills}</span></div>")
    elif trace.family == "decoder":
        for p in trace.predictions:
            fills = ", ".join(f"{escape(c.token)} {c.prob:.1%}" for c in p.candidates)
            parts.append(f"<div>{t('Next token:')} <span translate=\"no\">{fills}</span></div>")
    else:
        output = f'<b translate="no">{escape(trace.output_text)}</b>' if trace.output_text else f"<b>{t('∅ (empty)')}</b>"
        parts.append(f"<div>{t('Greedy output:')} {output}</div>")
        parts.append(f"<div>{t('decoder input')}</div>" + tokens_html(trace.decoder_tokens))
    parts += [f'<div class="notice" style="color:#8a4b00">⚠ {escape(n)}</div>' for n in trace.notices]
    return '<div class="outputs">' + "".join(parts) + "</div>"
