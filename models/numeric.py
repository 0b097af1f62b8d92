"""The numpy helpers several computations in models/ share: softmax, entropy, JSON-safe numbers,
and the one way an answer carries a large array (JSON lists or packed bytes).

No torch here: models/analysis.py, which viz/ imports, uses these too.
"""

from __future__ import annotations

import base64

import numpy as np
from scipy import special


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, as float32; -inf entries (masked scores) get probability 0."""
    top = np.max(np.where(np.isfinite(x), x, -np.inf), axis=-1, keepdims=True)
    e = np.exp(x - top)
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


def entropy(p: np.ndarray) -> np.ndarray:
    """Entropy in nats over the last axis, in p's dtype; 0 log 0 counts as 0.

    Never negative: a one-hot row would otherwise give -0.0 (shown as "-0.000"), and rounding
    in a row summing to just over 1 a tiny negative value."""
    h = special.entr(p).sum(-1)
    # Adding 0.0 turns the -0.0 that maximum may keep into 0.0.
    return np.maximum(h, 0.0) + 0.0


def jsonable(values):
    """Nested lists (or one number) with NaN and infinities as None, which JSON can carry."""
    values = np.asarray(values)
    if values.dtype.kind != "f":
        return values.tolist()
    return np.where(np.isfinite(values), values.astype(object), None).tolist()


# How an answer may carry its large arrays: nested JSON lists, or base64 of float16 / float32 bytes.
ENCODINGS = ("json", "float16", "float32")


def check_encoding(encoding: object) -> str:
    if encoding not in ENCODINGS:
        raise ValueError(f"Unknown encoding {encoding!r}: choose json, float16 or float32.")
    return encoding


def packed(values: np.ndarray, dtype: str) -> dict:
    """An array as base64 of its little-endian bytes in C order, with its dtype and shape:
    `np.frombuffer(base64.b64decode(x["base64"]), x["dtype"]).reshape(x["shape"])` reads it back.
    A float16 weight costs 2.7 bytes, a JSON number about 12."""
    data = np.ascontiguousarray(values, dtype=np.dtype(dtype).newbyteorder("<"))
    return {"dtype": np.dtype(dtype).name, "shape": list(data.shape), "byteorder": "little", "order": "C",
            "base64": base64.b64encode(data.tobytes()).decode("ascii")}


def unpacked(value: dict) -> np.ndarray:
    """A `packed` array read back (the byte order it names)."""
    order = "<" if value.get("byteorder", "little") == "little" else ">"
    return np.frombuffer(base64.b64decode(value["base64"]), np.dtype(value["dtype"]).newbyteorder(order)).reshape(
        value["shape"])


def encoded(values: np.ndarray, encoding: str):
    """`values` in the answer's encoding: jsonable lists, or packed bytes (NaN and infinities kept)."""
    return jsonable(values) if check_encoding(encoding) == "json" else packed(values, encoding)
