"""Which models the app offers, and which names a request may load.

The embedded models live in assets/models/ and need no network. The curated Hub list holds
small, widely used checkpoints of each family. Anything else (another Hub id, a local folder)
loads only when TRIPTYCH_ALLOW_ANY_MODEL=1, so a public Space cannot be made to fetch or read
arbitrary things.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from models.limits import flag

FAMILIES = ("encoder", "decoder", "encoder-decoder")

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "models"

ALLOW_ANY_ENV = "TRIPTYCH_ALLOW_ANY_MODEL"

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}(/[A-Za-z0-9][\w.-]{0,95})?$")


@dataclass(frozen=True)
class ModelSpec:
    key: str
    name: str
    family: str  # one of FAMILIES; "" when not known until the config is read
    source: str  # a folder for embedded and local models, a Hub id otherwise
    embedded: bool = False

    @property
    def is_local(self) -> bool:
        return self.embedded or Path(self.source).is_dir()


def _embedded(key: str, name: str, family: str) -> ModelSpec:
    return ModelSpec(key, name, family, str(ASSETS / key), embedded=True)


EMBEDDED = (
    _embedded("mini-bert", "Mini BERT (embedded)", "encoder"),
    _embedded("mini-gpt", "Mini GPT-2 (embedded)", "decoder"),
    _embedded("mini-llama", "Mini LLaMA (embedded)", "decoder"),
    _embedded("mini-t5", "Mini T5 (embedded)", "encoder-decoder"),
    _embedded("mini-mixtral", "Mini Mixtral MoE (embedded)", "decoder"),
)

HUB = (
    ModelSpec("bert-base-uncased", "BERT base uncased", "encoder", "google-bert/bert-base-uncased"),
    ModelSpec("distilbert-base-uncased", "DistilBERT base uncased", "encoder",
              "distilbert/distilbert-base-uncased"),
    ModelSpec("bert-base-chinese", "BERT base Chinese", "encoder", "google-bert/bert-base-chinese"),
    ModelSpec("gpt2", "GPT-2 small", "decoder", "openai-community/gpt2"),
    ModelSpec("distilgpt2", "DistilGPT-2", "decoder", "distilbert/distilgpt2"),
    ModelSpec("smollm2-135m", "SmolLM2 135M (LLaMA-style)", "decoder", "HuggingFaceTB/SmolLM2-135M"),
    ModelSpec("qwen2.5-0.5b", "Qwen2.5 0.5B", "decoder", "Qwen/Qwen2.5-0.5B"),
    ModelSpec("t5-small", "T5 small", "encoder-decoder", "google-t5/t5-small"),
    ModelSpec("flan-t5-small", "FLAN-T5 small", "encoder-decoder", "google/flan-t5-small"),
)

REGISTRY: dict[str, ModelSpec] = {spec.key: spec for spec in EMBEDDED + HUB}

# The model each view starts with: one per family, and the embedded models of the two views that
# show one architecture (the LLaMA column, the experts' routing).
DEFAULTS = {"encoder": "mini-bert", "decoder": "mini-gpt", "encoder-decoder": "mini-t5", "llama": "mini-llama",
            "moe": "mini-mixtral"}


def any_model_allowed() -> bool:
    return flag(ALLOW_ANY_ENV)


def list_models(family: str | None = None) -> list[ModelSpec]:
    """Embedded models first, then the curated Hub checkpoints."""
    return [s for s in REGISTRY.values() if family is None or s.family == family]


def resolve(key: str) -> ModelSpec:
    """The spec for a model key, a curated Hub id, or (when allowed) any Hub id or folder."""
    if not isinstance(key, str) or not key.strip():
        raise ValueError("No model chosen: pick one of " + ", ".join(REGISTRY))
    key = key.strip()
    if key in REGISTRY:
        return REGISTRY[key]
    for spec in HUB:
        if spec.source == key:
            return spec
    if not any_model_allowed():
        raise ValueError(
            f"Unknown model {key[:100]!r}. Available: {', '.join(REGISTRY)}. "
            f"Other Hub ids and local folders load only when the server sets {ALLOW_ANY_ENV}=1."
        )
    if Path(key).is_dir():
        return ModelSpec(key, Path(key).name, "", str(Path(key).resolve()))
    if not _HUB_ID.match(key) or ".." in key:
        raise ValueError(f"{key[:100]!r} is neither a local folder nor a Hub id like 'owner/name'.")
    return ModelSpec(key, key, "", key)
