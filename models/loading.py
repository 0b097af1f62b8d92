"""Loading models once, on the right device, with attention weights available.

Every model is loaded with eager attention (the sdpa kernels return no attention weights), in
eval mode, never with remote code. Loaded models sit in a bounded LRU cache shared by all
users; two requests for the same model at the same time load it once.

Environment:
- TRIPTYCH_DEVICE: cpu, cuda, cuda:1, mps or auto (default auto: cuda, then mps, then cpu).
- TRIPTYCH_CACHE_SIZE: how many models stay loaded (default 6: the five embedded ones and one more).
- HF_HUB_OFFLINE=1: never contact the Hub; models load only from the local cache.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urlparse

import numpy as np
import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM, AutoModelForSeq2SeqLM, AutoTokenizer

from models.familiarity import read_counts
from models.limits import flag, setting
from models.registry import FAMILIES, ModelSpec, resolve

log = logging.getLogger(__name__)

DEVICE_ENV = "TRIPTYCH_DEVICE"
CACHE_ENV = "TRIPTYCH_CACHE_SIZE"
THREADS_ENV = "TRIPTYCH_TORCH_THREADS"
# huggingface_hub waits without a limit for a Hub that accepts connections and never answers
# (its model_info call has no timeout): a download gets this many seconds, then is abandoned.
HUB_SECONDS_ENV = "TRIPTYCH_HUB_SECONDS"
# What a checkpoint needs to load: config, tokenizer files and safetensors weights (never .bin
# pickles, never the repo's other formats: ONNX, TF, Flax copies are often larger than the model).
HUB_FILES = ["*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken"]

_AUTO_CLASS = {
    "encoder": AutoModelForMaskedLM,
    "decoder": AutoModelForCausalLM,
    "encoder-decoder": AutoModelForSeq2SeqLM,
}

# Head classes whose outputs the trace knows how to read, by family.
_HEAD_SUFFIXES = {
    "encoder": ("ForMaskedLM", "ForPreTraining"),
    "decoder": ("ForCausalLM", "LMHeadModel"),
    "encoder-decoder": ("ForConditionalGeneration",),
}


class ModelUnavailable(ValueError):
    """A model that exists in principle but cannot be loaded here (offline, missing, broken)."""


@dataclass(frozen=True)
class LoadedModel:
    spec: ModelSpec
    family: str
    model: torch.nn.Module
    tokenizer: object
    device: torch.device
    token_counts: np.ndarray | None = None  # (vocab,) int64 training occurrences, where the checkpoint records them


def configure_threads(concurrent_requests: int) -> int:
    """Give each concurrently served request its share of the CPU cores for torch's intra-op threads.

    Two requests each spinning two OpenMP threads on two cores slow a small model down ~40x
    (measured: a T5 greedy decode went from 30 ms to 1.2 s); one thread each keeps it at 30 ms.
    TRIPTYCH_TORCH_THREADS overrides the share.
    """
    wanted = os.environ.get(THREADS_ENV, "").strip()
    threads = int(wanted) if wanted.isdigit() and int(wanted) > 0 else max(1, (os.cpu_count() or 1) // max(1, concurrent_requests))
    torch.set_num_threads(threads)
    return threads


def available_devices() -> list[str]:
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    return devices


_chosen_device: str | None = None


def set_device(name: str) -> torch.device:
    """Run every later model call on `name` (one of available_devices()): the page's device menu.
    It is process-wide, like TRIPTYCH_DEVICE, which it overrides."""
    global _chosen_device
    if name not in available_devices() and not (name == "cuda" and "cuda:0" in available_devices()):
        raise ValueError(f"Device {name!r} is not available here; choose one of {', '.join(available_devices())}.")
    _chosen_device = name
    return torch.device(name)


def default_device() -> torch.device:
    if _chosen_device is not None:
        return torch.device(_chosen_device)
    wanted = os.environ.get(DEVICE_ENV, "auto").strip().lower() or "auto"
    if wanted == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if "mps" in available_devices():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(wanted)
    except RuntimeError as err:
        raise ValueError(f"{DEVICE_ENV}={wanted!r} is not a device name ({err}).") from None
    name = "cuda:0" if wanted == "cuda" else wanted
    if name not in available_devices():
        raise ValueError(f"{DEVICE_ENV}={wanted!r}, but this machine has only {available_devices()}.")
    return device


def family_of(config) -> str:
    """The family a config belongs to, from its declared architecture."""
    if getattr(config, "is_encoder_decoder", False):
        return "encoder-decoder"
    for arch in getattr(config, "architectures", None) or ():
        for family, suffixes in _HEAD_SUFFIXES.items():
            if arch.endswith(suffixes):
                return family
    if getattr(config, "is_decoder", False):
        return "decoder"
    raise ModelUnavailable(
        f"Cannot tell whether {getattr(config, 'name_or_path', 'this model')!r} is an encoder, "
        "a decoder or an encoder-decoder: its config names no masked-LM, causal-LM or "
        "seq2seq architecture."
    )


def _model_class(config, family: str):
    """The checkpoint's own head class when it is one the trace reads, else the Auto class."""
    for arch in getattr(config, "architectures", None) or ():
        cls = getattr(transformers, arch, None)
        if cls is not None and arch.endswith(_HEAD_SUFFIXES[family]):
            return cls
    return _AUTO_CLASS[family]


def _offline() -> bool:
    from huggingface_hub import constants

    return flag("HF_HUB_OFFLINE") or bool(constants.HF_HUB_OFFLINE)


def _hub_reachable(timeout: float = 3.0) -> bool:
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def _unavailable(spec: ModelSpec, why: str) -> ModelUnavailable:
    if spec.is_local:
        advice = "Check that the folder holds a model saved with save_pretrained, or pick another model."
    else:
        advice = ("The embedded models work offline; to use this one, run once on a machine with internet "
                  "access so it is cached, or pick another model.")
    return ModelUnavailable(f"Could not load {spec.name} ({spec.source}): {why} {advice}")


def hub_seconds() -> float:
    return setting(HUB_SECONDS_ENV, 60, kind=float)


def _complete(folder: str) -> bool:
    """A snapshot someone else cached may hold the config only (AutoConfig alone fetches that)."""
    names = os.listdir(folder)
    return "config.json" in names and any(n.endswith(".safetensors") for n in names)


def fetch(spec: ModelSpec) -> str:
    """The local folder of a model: its own folder, the Hub cache's complete snapshot, or a fresh
    download that must finish within hub_seconds().

    The download runs in a daemon thread that is abandoned at the deadline, so a hanging Hub costs
    one request a bounded wait and holds no lock: other models' loads go on (ModelCache.get)."""
    if spec.is_local:
        if not os.path.isfile(os.path.join(spec.source, "config.json")):
            raise _unavailable(spec, "the folder holds no config.json.")
        return spec.source
    from huggingface_hub import snapshot_download

    try:
        cached = snapshot_download(spec.source, allow_patterns=HUB_FILES, local_files_only=True)
        if _complete(cached):
            return cached
    except Exception:  # not cached (huggingface_hub raises several kinds): download it below
        pass
    if _offline() or not _hub_reachable():
        raise _unavailable(spec, "the Hub cannot be reached and it is not cached here.")
    answer: dict = {}

    def download() -> None:
        try:
            answer["folder"] = snapshot_download(spec.source, allow_patterns=HUB_FILES)
        except Exception as err:  # reported to the request below, in words
            answer["error"] = err

    worker = threading.Thread(target=download, name=f"download {spec.key}", daemon=True)
    worker.start()
    worker.join(hub_seconds())
    if worker.is_alive():
        raise _unavailable(spec, f"the Hub did not finish sending it within {hub_seconds():g} s.")
    if "error" in answer:
        raise _unavailable(spec, f"{type(answer['error']).__name__}: {str(answer['error']).splitlines()[0][:300]}")
    return answer["folder"]


def load(spec: ModelSpec, device: torch.device | None = None, folder: str | None = None) -> LoadedModel:
    """Load a model and tokenizer from a local folder (fetch() gives a Hub model's), bypassing the cache."""
    device = device or default_device()
    folder = folder or fetch(spec)
    kwargs = {"local_files_only": True, "trust_remote_code": False}
    try:
        config = AutoConfig.from_pretrained(folder, **kwargs)
        family = spec.family or family_of(config)
        if family not in FAMILIES:
            raise ModelUnavailable(f"Unknown family {family!r} for {spec.key}.")
        tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
        # Loaded as normal tensors even when the first request to need the model runs under
        # inference_mode: inference-mode weights could never take part in autograd, which input
        # attribution needs (models/attribution.py).
        with torch.inference_mode(False):
            model = _model_class(config, family).from_pretrained(
                folder, attn_implementation="eager", dtype=torch.float32, **kwargs
            )
    except ModelUnavailable:
        raise
    except Exception as err:
        # Whatever a folder's files do wrong (no weights, a truncated safetensors file, a broken
        # tokenizer.json, a config transformers does not know) is a model that cannot be loaded.
        log.info("loading %s failed", spec.key, exc_info=True)
        raise _unavailable(spec, f"{type(err).__name__}: {str(err).splitlines()[0][:300] if str(err) else ''}") from None
    with torch.inference_mode(False):
        model.to(device).eval()
    log.info("loaded %s (%s) on %s", spec.key, type(model).__name__, device)
    counts = read_counts(spec.source) if spec.is_local else None
    return LoadedModel(spec, family, model, tokenizer, device, counts)


class ModelCache:
    """A bounded LRU cache of loaded models; each model is loaded once, one load at a time.

    Loads from disk are serialised: transformers' from_pretrained is not safe to run in several
    threads at once (weights initialised on the meta device leak between concurrent loads).
    Downloads are not: they happen before the lock.
    """

    def __init__(self, size: int | None = None):
        self.size = max(1, int(size or setting(CACHE_ENV, 6)))
        self._models: OrderedDict[tuple[str, str], LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self.loads = 0

    def _lookup(self, slot: tuple[str, str]) -> LoadedModel | None:
        with self._lock:
            if slot in self._models:
                self._models.move_to_end(slot)
                return self._models[slot]
        return None

    def get(self, key: str, device: str | torch.device | None = None) -> LoadedModel:
        spec = resolve(key)
        device = torch.device(device) if device is not None else default_device()
        slot = (spec.key, str(device))
        hit = self._lookup(slot)
        if hit is not None:
            return hit
        # The network part runs outside the load lock: a slow or hanging Hub never makes cached,
        # embedded or local models wait (issue 17, item 0c).
        folder = fetch(spec)
        with self._load_lock:
            hit = self._lookup(slot)
            if hit is not None:
                return hit
            loaded = load(spec, device, folder)
            with self._lock:
                self.loads += 1
                self._models[slot] = loaded
                while len(self._models) > self.size:
                    evicted, _ = self._models.popitem(last=False)
                    log.info("evicted %s from the model cache", evicted)
        return loaded


CACHE = ModelCache()


def get_model(key: str, device: str | None = None) -> LoadedModel:
    return CACHE.get(key, device)
