from pathlib import Path

import pytest

from models import registry


def test_embedded_models_are_listed_first_and_exist():
    specs = registry.list_models()
    embedded = [s for s in specs if s.embedded]
    assert specs[: len(embedded)] == embedded
    assert {s.family for s in embedded} == set(registry.FAMILIES)
    for spec in embedded:
        assert (Path(spec.source) / "config.json").is_file(), spec.key


def test_every_family_offers_hub_checkpoints():
    for family in registry.FAMILIES:
        hub = [s for s in registry.list_models(family) if not s.embedded]
        assert len(hub) >= 2, family
    keys = [s.key for s in registry.list_models()]
    assert len(keys) == len(set(keys))


def test_defaults_are_embedded_models_of_their_family():
    assert set(registry.FAMILIES) <= set(registry.DEFAULTS)
    # Besides one per family, DEFAULTS may name the start model of a view that shows one architecture.
    for view, key in registry.DEFAULTS.items():
        spec = registry.REGISTRY[key]
        assert spec.embedded, view
        assert spec.family == view or view not in registry.FAMILIES


def test_curated_hub_id_resolves_to_its_spec():
    assert registry.resolve("openai-community/gpt2").key == "gpt2"


@pytest.mark.parametrize("key", ["someone/some-model", "/etc", "../../etc/passwd"])
def test_unlisted_models_are_refused_by_default(monkeypatch, key):
    monkeypatch.delenv(registry.ALLOW_ANY_ENV, raising=False)
    with pytest.raises(ValueError, match=registry.ALLOW_ANY_ENV):
        registry.resolve(key)


def test_unlisted_models_resolve_when_allowed(allow_any_model, tmp_path):
    assert registry.resolve("someone/some-model").source == "someone/some-model"
    assert registry.resolve(str(tmp_path)).source == str(tmp_path.resolve())
    with pytest.raises(ValueError, match="neither a local folder nor a Hub id"):
        registry.resolve("../../etc/passwd")


@pytest.mark.parametrize("key", ["", "   ", None, 3])
def test_empty_or_non_string_key_is_refused(key):
    with pytest.raises(ValueError, match="No model chosen"):
        registry.resolve(key)
