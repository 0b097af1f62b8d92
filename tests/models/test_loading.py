import socket
import threading
from pathlib import Path

import pytest
import torch

from models import loading
from models.loading import ModelCache, ModelUnavailable

ROOT = Path(__file__).resolve().parents[2]


def test_models_load_eager_in_eval_mode(tiny_models, allow_any_model, tiny_name):
    cache = ModelCache(size=4)
    loaded = cache.get(tiny_models[tiny_name], "cpu")
    assert loaded.model.config._attn_implementation == "eager"
    assert not loaded.model.training
    assert loaded.family == loading.family_of(loaded.model.config)
    assert loaded.device == torch.device("cpu")


def test_cache_is_bounded_and_least_recently_used_goes_first(tiny_models, allow_any_model):
    cache = ModelCache(size=2)
    bert, gpt, t5 = tiny_models["mini-bert"], tiny_models["mini-gpt"], tiny_models["mini-t5"]
    cache.get(bert, "cpu")
    cache.get(gpt, "cpu")
    cache.get(bert, "cpu")  # bert is now the most recently used
    cache.get(t5, "cpu")
    assert cache.loads == 3
    cache.get(bert, "cpu")
    cache.get(t5, "cpu")
    assert cache.loads == 3  # both still loaded
    cache.get(gpt, "cpu")
    assert cache.loads == 4  # gpt was the one evicted


def test_concurrent_requests_load_a_model_once(tiny_models, allow_any_model):
    cache = ModelCache(size=4)
    results, errors = [], []
    barrier = threading.Barrier(6)

    def worker(path):
        barrier.wait()
        try:
            results.append((path, cache.get(path, "cpu")))
        except Exception as err:  # collected and asserted below
            errors.append(err)

    paths = [tiny_models["mini-t5"]] * 3 + [tiny_models["mini-llama"]] * 3
    threads = [threading.Thread(target=worker, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert cache.loads == 2
    for path in set(paths):
        assert len({id(m) for p, m in results if p == path}) == 1


def test_cache_size_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(loading.CACHE_ENV, "7")
    assert ModelCache().size == 7


def test_offline_hub_model_fails_without_touching_the_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the network was contacted in offline mode")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(ModelUnavailable) as err:
        ModelCache().get("gpt2", "cpu")
    message = str(err.value)
    assert "GPT-2 small" in message and "openai-community/gpt2" in message
    assert "embedded models work offline" in message


def test_unreachable_hub_falls_back_to_the_local_cache_and_says_so(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(loading, "_offline", lambda: False)
    monkeypatch.setattr(loading, "_hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(ModelUnavailable, match="cannot be reached and it is not cached"):
        ModelCache().get("t5-small", "cpu")


def test_folder_without_config_is_refused(allow_any_model, tmp_path):
    with pytest.raises(ModelUnavailable, match="no config.json"):
        ModelCache().get(str(tmp_path), "cpu")


@pytest.mark.parametrize("value", ["banana", "cuda:7", "mps"] if not torch.cuda.is_available() else ["banana", "cuda:99"])
def test_device_override_must_exist(monkeypatch, value):
    if value == "mps" and "mps" in loading.available_devices():
        pytest.skip("this machine has mps")
    monkeypatch.setenv(loading.DEVICE_ENV, value)
    with pytest.raises(ValueError, match=loading.DEVICE_ENV):
        loading.default_device()


def test_device_override_and_auto(monkeypatch):
    monkeypatch.setenv(loading.DEVICE_ENV, "cpu")
    assert loading.default_device() == torch.device("cpu")
    monkeypatch.setenv(loading.DEVICE_ENV, "auto")
    expected = "cuda" if torch.cuda.is_available() else ("mps" if "mps" in loading.available_devices() else "cpu")
    assert loading.default_device().type == expected


def test_no_code_enables_remote_code():
    import re

    # Any value other than a literal False given to the remote-code flag, as keyword or dict key.
    enabling = re.compile(r"""trust_remote_code["']?\]?\s*[:=](?!\s*False\b)""")
    offenders = []
    for path in ROOT.rglob("*.py"):
        if ".venv" in path.parts or "site-packages" in path.parts:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if enabling.search(line):
                offenders.append(f"{path}:{number}")
    assert offenders == []


def test_t5_messages_are_for_t5_only_and_a_folder_error_names_the_folder(tmp_path, allow_any_model):
    """BART is an encoder-decoder with learned positions that scales its scores: the T5-only
    refusals do not apply to it; an empty folder is told about config.json in both languages."""
    import pytest
    from transformers import AutoTokenizer, BartConfig, BartForConditionalGeneration

    from models import mechanisms
    from models.registry import ASSETS
    from ui.i18n import bilingual

    tok = AutoTokenizer.from_pretrained(ASSETS / "mini-t5")
    bart = BartForConditionalGeneration(BartConfig(
        vocab_size=len(tok), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
        pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=tok.pad_token_id,
        decoder_start_token_id=tok.pad_token_id))
    folder = tmp_path / "bart"
    bart.save_pretrained(folder)
    tok.save_pretrained(folder)
    result = mechanisms.scaling(str(folder), "I like eating apples", 0, 1)
    assert result.d_k == 16 and result.scaled.shape[0] == len(result.tokens)
    with pytest.raises(ValueError) as err:
        mechanisms.order_experiment(str(folder), "I like eating apples")
    assert "T5" not in str(err.value) and "position ids" in str(err.value)
    with pytest.raises(ValueError, match="T5 does not divide"):
        mechanisms.scaling("mini-t5", "I like eating apples")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError) as err:
        loading.get_model(str(tmp_path / "empty"))
    english, chinese = bilingual(str(err.value)).split("\n")
    assert "no config.json" in english and "internet" not in english
    assert "config.json" in chinese and "联网" not in chinese


@pytest.fixture
def hanging_hub(monkeypatch, tmp_path):
    """A Hub endpoint that accepts connections and never answers, and an empty Hub cache."""
    import threading

    from huggingface_hub import constants

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held = []

    def accept():
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    yield
    server.close()
    for conn in held:
        conn.close()


def test_a_hanging_hub_costs_a_bounded_wait_and_a_clear_message(hanging_hub, monkeypatch):
    monkeypatch.setenv(loading.HUB_SECONDS_ENV, "2")
    with pytest.raises(ModelUnavailable, match="did not finish sending it within 2 s"):
        ModelCache().get("gpt2", "cpu")


def test_a_hanging_hub_never_blocks_embedded_or_cached_models(hanging_hub, monkeypatch):
    import threading

    monkeypatch.setenv(loading.HUB_SECONDS_ENV, "600")
    cache = ModelCache()
    cached = cache.get("mini-gpt", "cpu")
    slow = threading.Thread(target=lambda: pytest.raises(ModelUnavailable, cache.get, "gpt2", "cpu"), daemon=True)
    slow.start()
    # While gpt2 waits on the Hub, a model not loaded yet loads and a cached one is served.
    assert cache.get("mini-bert", "cpu").family == "encoder"
    assert cache.get("mini-gpt", "cpu") is cached
    assert slow.is_alive()


def test_a_corrupt_weights_file_is_a_model_that_cannot_be_loaded(allow_any_model, tmp_path):
    import shutil

    from models.registry import ASSETS

    for item in (ASSETS / "mini-gpt").iterdir():
        shutil.copy(item, tmp_path / item.name)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:5000])
    with pytest.raises(ModelUnavailable, match=r"Could not load .*SafetensorError.*save_pretrained"):
        ModelCache().get(str(tmp_path), "cpu")
