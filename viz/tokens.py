"""Tokens and model outputs as small HTML fragments. All token text is escaped."""

from __future__ import annotations

from html import escape

from models.data import Trace

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
    title = f"position {i}" + (": the model cannot really read this token" if unfamiliar else "")
    return f'<span class="{classes}" style="{style}" title="{title}">{escape(token)}</span>'


def tokens_html(tokens: tuple[str, ...], special=None, label: str = "", unfamiliar=None) -> str:
    """Token chips with their positions; special tokens added by the tokenizer in orange, tokens
    the model cannot really read (unknown, byte pieces, rarely trained) framed in dashed red."""
    special = [False] * len(tokens) if special is None else list(special)
    unfamiliar = [False] * len(tokens) if unfamiliar is None else list(unfamiliar)
    chips = "".join(_chip(i, t, bool(sp), bool(u)) for i, (t, sp, u) in enumerate(zip(tokens, special, unfamiliar)))
    head = f"<b>{escape(label)}</b> ({len(tokens)} tokens) " if label else ""
    return f'<div class="tokens">{head}{chips}</div>'


def outputs_html(trace: Trace) -> str:
    """What the model itself says about the text: mask fills, the next token, or its output."""
    parts = []
    if trace.family == "encoder":
        for p in trace.predictions:
            fills = ", ".join(f"{escape(c.token)} {c.prob:.1%}" for c in p.candidates)
            parts.append(f"<div>[MASK] at position {p.position}: {fills}</div>")
    elif trace.family == "decoder":
        for p in trace.predictions:
            fills = ", ".join(f"{escape(c.token)} {c.prob:.1%}" for c in p.candidates)
            parts.append(f"<div>Next token: {fills}</div>")
    else:
        parts.append(f"<div>Greedy output: <b>{escape(trace.output_text) or '∅ (empty)'}</b></div>")
        parts.append(tokens_html(trace.decoder_tokens, label="decoder input"))
    parts += [f'<div class="notice" style="color:#8a4b00">⚠ {escape(n)}</div>' for n in trace.notices]
    return '<div class="outputs">' + "".join(parts) + "</div>"
