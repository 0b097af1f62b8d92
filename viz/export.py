"""The numbers behind a view as files: JSON as the API returns it, CSV in long form (one row per
number, with the path of keys and list indices that leads to it) and NPZ (every regular
numeric array, e.g. an attention tensor, under its path). Pure: no torch, no gradio.

Arrays the view's answer carries packed (base64 bytes, as the API's `encoding` sends them) are
written to the NPZ only, in their own dtype; the JSON and the CSV name the NPZ key in their
place. That is how every layer of a base-sized model at 512 tokens fits an export: 75.5 MB of
float16 where JSON lists would be about 450 MB.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from models.numeric import unpacked

# What a JSON weight costs in an export (7 significant digits and a separator), for choosing
# between JSON lists and packed float16 before the numbers are written.
JSON_BYTES_PER_NUMBER = 12
_PACKED = {"dtype", "shape", "base64"}


def encoding_for(numbers: int, limit: int) -> str:
    """JSON lists while that many numbers fit `limit` bytes as JSON, packed float16 past it."""
    return "json" if numbers * JSON_BYTES_PER_NUMBER <= limit else "float16"


def _plain(value, packed: dict | None = None, path: tuple = ()):
    """numpy arrays and scalars as lists and Python numbers, NaN as None; packed arrays go to
    `packed` under their dotted path and leave a reference in their place."""
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, dict):
        if packed is not None and _PACKED <= set(value):
            key = ".".join(path) or "values"
            packed[key] = unpacked(value)
            return {"npz": key, "dtype": packed[key].dtype.name, "shape": list(packed[key].shape)}
        return {str(k): _plain(v, packed, path + (str(k),)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, packed, path + (str(i),)) for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def rows(data, path: tuple = ()) -> list[tuple[str, tuple[int, ...], object]]:
    """(dotted key path, list indices, value) for every leaf."""
    out = []
    if isinstance(data, dict):
        for key, value in data.items():
            out += rows(value, path + (str(key),))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += [(name, (i, *index), v) for name, index, v in rows(value, path)]
    else:
        out.append((".".join(path), (), data))
    return out


def arrays(data, path: tuple = ()) -> dict[str, np.ndarray]:
    """Every nested list of numbers with a regular shape, as an array under its dotted path."""
    found = {}
    if isinstance(data, dict):
        for key, value in data.items():
            found.update(arrays(value, path + (str(key),)))
    elif isinstance(data, list) and data:
        try:
            array = np.asarray(data, dtype=np.float64)
        except (TypeError, ValueError):
            array = None
        if array is not None and array.dtype.kind == "f" and array.size:
            found[".".join(path) or "values"] = array.astype(np.float32)
        else:
            for i, value in enumerate(data):
                found.update(arrays(value, path + (str(i),)))
    return found


def write_exports(data, folder: Path, stem: str, limit: int | None = None) -> list[Path]:
    """stem.json, stem.csv and stem.npz in `folder`; a ValueError, before anything is written,
    when the JSON and the packed arrays together would pass `limit` bytes."""
    packed: dict[str, np.ndarray] = {}
    data = _plain(data, packed)
    text = json.dumps(data, ensure_ascii=False)
    size = len(text.encode("utf-8")) + sum(a.nbytes for a in packed.values())
    if limit is not None and size > limit:
        raise ValueError(f"This view's numbers take {size / 2**20:.0f} MB, more than an export may hold "
                         f"({limit / 2**20:.0f} MB); use a shorter text, or the API for one layer at a time.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{stem}.json", folder / f"{stem}.csv", folder / f"{stem}.npz"]
    paths[0].write_text(text, encoding="utf-8")
    table = rows(data)
    depth = max((len(index) for _, index, _ in table), default=0)
    with paths[1].open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["field", *(f"i{k}" for k in range(depth)), "value"])
        for name, index, value in table:
            writer.writerow([name, *index, *([""] * (depth - len(index))), "" if value is None else value])
    found = {**arrays(data), **packed}
    np.savez_compressed(paths[2], **(found or {"empty": np.zeros(0, np.float32)}))
    return paths
