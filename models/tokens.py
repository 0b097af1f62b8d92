"""Readable token labels for any tokenizer: one visible label per token id.

Byte-level BPE (GPT-2) and byte-fallback BPE (LLaMA) split characters into bytes that cannot be
decoded alone; their labels show the loose bytes as <E6><88> instead of a replacement character.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from transformers.convert_slow_tokenizer import bytes_to_unicode

_BYTE_FALLBACK = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")
# GPT-2's byte-to-printable-character table, inverted: printable character -> byte.
_BYTE_LEVEL = {char: byte for byte, char in bytes_to_unicode().items()}


def _visible(text: str) -> str:
    """Spaces as ▁ and control characters as escapes, so every token has a visible label."""
    out = []
    for ch in text:
        if ch == " ":
            out.append("▁")
        elif ch == "\n":
            out.append("↵")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            out.append(f"\\u{ord(ch):04x}" if ord(ch) > 0xFF else f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def _token_bytes(token: str, byte_level: bool) -> bytes | None:
    """The raw bytes behind a byte-level BPE token or a <0xNN> byte-fallback token."""
    fallback = _BYTE_FALLBACK.match(token)
    if fallback:
        return bytes([int(fallback.group(1), 16)])
    if byte_level and token and all(ch in _BYTE_LEVEL for ch in token):
        return bytes(_BYTE_LEVEL[ch] for ch in token)
    return None


def _render_bytes(data: bytes) -> str:
    """UTF-8 text where the bytes form whole characters, <XX> for the loose bytes."""
    out, rest = [], data
    while rest:
        try:
            out.append(rest.decode("utf-8"))
            break
        except UnicodeDecodeError as err:
            out.append(rest[: err.start].decode("utf-8"))
            out.append("".join(f"<{b:02X}>" for b in rest[err.start : err.end]))
            rest = rest[err.end :]
    return "".join(out)


def display_tokens(tokenizer, ids: Sequence[int]) -> tuple[str, ...]:
    """One readable label per token id.

    A token is shown as the text it decodes to, spaces as ▁. A token that is only part of a
    UTF-8 character (byte-level BPE splits most Chinese characters into two or three tokens;
    LLaMA's byte fallback spells rare characters byte by byte) cannot be decoded alone: its
    loose bytes are shown as <E6><88> instead of a replacement character.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    byte_level = backend is not None and type(backend.decoder).__name__ == "ByteLevel"
    special = set(tokenizer.all_special_ids)
    labels = []
    for token_id, token in zip(ids, tokenizer.convert_ids_to_tokens(list(ids))):
        token = token or ""
        if token_id in special or token.startswith("##"):
            labels.append(token)
            continue
        data = _token_bytes(token, byte_level)
        if data is not None:
            text = _render_bytes(data)
        else:
            text = tokenizer.decode([token_id], clean_up_tokenization_spaces=False)
            if token.startswith("▁") and not text.startswith(" "):
                text = " " + text
        labels.append(_visible(text) if text else "∅")
    return tuple(labels)
