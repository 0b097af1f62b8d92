"""The committed checkpoints in assets/models: format, tokenizers, and what they learned."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer, BertForPreTraining

from models import familiarity
from training import evaluate, recipes
from models.registry import EMBEDDED
from models.tokens import display_tokens
from models.trace import run_trace

CLASSES = {
    "mini-bert": (BertForPreTraining, "BertForPreTraining"),
    "mini-gpt": (AutoModelForCausalLM, "GPT2LMHeadModel"),
    "mini-llama": (AutoModelForCausalLM, "LlamaForCausalLM"),
    "mini-t5": (AutoModelForSeq2SeqLM, "T5ForConditionalGeneration"),
    "mini-mixtral": (AutoModelForCausalLM, "MixtralForCausalLM"),
}
TOKENIZER_MODELS = {"mini-bert": "WordPiece", "mini-gpt": "BPE", "mini-llama": "BPE", "mini-t5": "Unigram",
                    "mini-mixtral": "BPE"}
LECTURE = ["我喜欢吃苹果", "我很喜欢吃苹果", "我喜欢机器学习", "I love machine learning",
           "今天天气真好，我想去公园散步", "The cat chases a mouse", "I like eating apples"]
SPECS = {s.key: s for s in EMBEDDED}


@pytest.fixture(params=sorted(CLASSES))
def name(request):
    return request.param


def _folder(name) -> Path:
    return Path(SPECS[name].source)


def test_checkpoint_files_and_sizes(name):
    folder = _folder(name)
    for file in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md",
                 "training.json", "metrics.json"):
        assert (folder / file).is_file(), file
    if name != "mini-bert":
        assert (folder / "generation_config.json").is_file()
    assert all(f.stat().st_size <= 10_000_000 for f in folder.iterdir())
    assert sum(f.stat().st_size for f in folder.iterdir()) <= 10_000_000


def test_loads_with_eager_attention_as_its_own_class(name):
    auto, class_name = CLASSES[name]
    model = auto.from_pretrained(_folder(name), attn_implementation="eager")
    assert type(model).__name__ == class_name
    config = AutoConfig.from_pretrained(_folder(name))
    heads = getattr(config, "num_attention_heads", None) or config.num_heads
    assert heads >= 4


def test_architecture_details():
    llama = AutoConfig.from_pretrained(_folder("mini-llama"))
    assert llama.num_key_value_heads < llama.num_attention_heads  # grouped-query attention
    assert llama.hidden_act == "silu" and llama.rope_parameters["rope_type"] == "default"
    bert = AutoConfig.from_pretrained(_folder("mini-bert"))
    assert bert.type_vocab_size == 2 and bert.max_position_embeddings >= 64  # segments, learned positions
    t5 = AutoConfig.from_pretrained(_folder("mini-t5"))
    assert t5.relative_attention_num_buckets > 0
    moe = AutoConfig.from_pretrained(_folder("mini-mixtral"))
    assert (moe.num_local_experts, moe.num_experts_per_tok) == (8, 2) and not moe.output_router_logits


def test_tokenizer_types(name):
    tok = AutoTokenizer.from_pretrained(_folder(name))
    spec = json.loads(tok.backend_tokenizer.to_str())
    assert spec["model"]["type"] == TOKENIZER_MODELS[name]
    text = json.dumps(spec["pre_tokenizer"])
    if name == "mini-gpt":
        assert "ByteLevel" in text
    if name in ("mini-t5", "mini-llama", "mini-mixtral"):
        assert "Metaspace" in text
    if name in ("mini-llama", "mini-mixtral"):
        assert spec["model"]["byte_fallback"] is True
    if name == "mini-bert":
        assert spec["normalizer"]["handle_chinese_chars"] is True
        assert {"[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]"} <= set(tok.all_special_tokens)
    if name == "mini-t5":
        assert "<extra_id_0>" in tok.all_special_tokens


def test_lecture_examples_tokenize_without_unknown_tokens(name):
    tok = AutoTokenizer.from_pretrained(_folder(name))
    for text in LECTURE:
        ids = tok(text)["input_ids"]
        assert tok.unk_token_id not in ids, (text, tok.convert_ids_to_tokens(ids))
        assert not any(t.startswith("<0x") for t in tok.convert_ids_to_tokens(ids)), text


def test_arbitrary_unicode_is_tokenized_and_shown(name):
    tok = AutoTokenizer.from_pretrained(_folder(name))
    text = "🤖 مرحبا \x07\x1b Ωμέγα"
    ids = tok(text)["input_ids"]
    labels = display_tokens(tok, ids)
    assert len(labels) == len(ids) and all(labels)
    unrepresented = [t for t in labels if t in ("[UNK]", "<unk>") or t.startswith("<") and t.endswith(">")]
    assert unrepresented, labels  # what the vocabulary lacks is visible, not silently dropped


@pytest.mark.parametrize("key", sorted(SPECS))
def test_the_app_default_trace_runs_on_every_embedded_model(key):
    tr = run_trace(key, "The cat chases a mouse")
    for a in tr.attentions:
        np.testing.assert_allclose(a.attn.sum(-1), 1.0, atol=1e-5)


def test_t5_counted_its_task_prefixes_which_are_in_every_source():
    """The counts are of what the model read: every T5 source starts with a task prefix, so the
    page never calls its ':' rare (it did, on every translation, when only the sentences were counted)."""
    folder = _folder("mini-t5")
    tok = AutoTokenizer.from_pretrained(folder)
    counts = familiarity.read_counts(folder)
    assert counts[tok.convert_tokens_to_ids(":")] >= 2 * recipes.RECIPES["mini-t5"].pairs
    text = "translate English to Chinese: I love you"
    found = familiarity.assess(tok, tok(text)["input_ids"], counts, text)
    assert not found.flags.any(), found


# -- quality, on held-out generated data -------------------------------------------------------


@pytest.fixture(scope="module")
def metrics():
    return {name: evaluate.evaluate(name, n=300) for name in CLASSES}


def test_quality_meets_the_thresholds(metrics, name):
    """Every bar holds except the recorded shortfalls, and those are still short (when a retrained
    checkpoint reaches one, evaluate.SHORTFALLS must lose it)."""
    met = evaluate.meets_thresholds(name, metrics[name])
    missed = {key for key, ok in met.items() if not ok}
    recorded = {key for model, key in evaluate.SHORTFALLS if model == name}
    assert missed == recorded, (missed, recorded, metrics[name])


def test_t5_translates_the_lecture_example_exactly(metrics):
    assert metrics["mini-t5"]["lecture_example"] == "I love machine learning"


def test_bert_fills_the_agreement_mask():
    tr = run_trace("mini-bert", "the keys to the cabinet [MASK] on the table")
    assert tr.predictions[0].candidates[0].token == "are"


def test_gpt_continues_a_lecture_prompt():
    tr = run_trace("mini-gpt", "今天天气真好，我想")
    assert tr.predictions[0].candidates[0].token == "去"


def test_models_predict_with_float32_weights(name):
    from models.loading import get_model

    model = get_model(name).model
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_bert_tokenizer_gives_segment_ids_for_a_pair():
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained("assets/models/mini-bert")
    enc = tok("我喜欢吃苹果", "I like eating apples")
    first_sep = enc["input_ids"].index(tok.sep_token_id)
    assert enc["token_type_ids"][:first_sep + 1] == [0] * (first_sep + 1)
    assert set(enc["token_type_ids"][first_sep + 1:]) == {1}
