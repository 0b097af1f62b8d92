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


def tokens_html(tokens: tuple[str, ...], special=None, label: str = "") -> str:
    """Token chips with their positions; special tokens added by the tokenizer in orange."""
    special = [False] * len(tokens) if special is None else list(special)
    chips = "".join(
        f'<span class="tok{" special" if sp else ""}" style="{_CHIP}{_SPECIAL if sp else _NORMAL}" '
        f'title="position {i}">{escape(t)}</span>'
        for i, (t, sp) in enumerate(zip(tokens, special))
    )
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
