import pytest
from transformers import AutoTokenizer

from models.tokens import _render_bytes, display_tokens

LECTURE = ["我喜欢吃苹果", "我很喜欢吃苹果", "The cat chases a mouse", "I like eating apples"]


@pytest.fixture
def tokenizer(tiny_models, tiny_name):
    return AutoTokenizer.from_pretrained(tiny_models[tiny_name])


def test_render_bytes_keeps_whole_characters_and_shows_loose_bytes():
    assert _render_bytes("我".encode()) == "我"
    assert _render_bytes("我".encode()[:2]) == "<E6><88>"
    assert _render_bytes(b"a" + "我".encode() + b"\xe5") == "a我<E5>"


def test_every_token_gets_a_visible_label_without_replacement_characters(tokenizer):
    for text in LECTURE + ["🤖 مرحبا \x07 <b>"]:
        ids = tokenizer(text)["input_ids"]
        labels = display_tokens(tokenizer, ids)
        assert len(labels) == len(ids)
        assert all(labels) and not any("\ufffd" in t for t in labels)
        assert not any("\x07" in t for t in labels)


def test_byte_level_labels_spell_out_the_text(tiny_models):
    tok = AutoTokenizer.from_pretrained(tiny_models["mini-gpt"])
    labels = display_tokens(tok, tok("I like eating apples")["input_ids"])
    assert "".join(labels).replace("▁", " ") == "I like eating apples"


def test_special_tokens_keep_their_names(tiny_models):
    tok = AutoTokenizer.from_pretrained(tiny_models["mini-bert"])
    labels = display_tokens(tok, tok("the [MASK] cat")["input_ids"])
    assert labels[0] == "[CLS]" and "[MASK]" in labels and labels[-1] == "[SEP]"


def test_tokenizers_round_trip_through_save_pretrained(tiny_models, tiny_name, tmp_path):
    tok = AutoTokenizer.from_pretrained(tiny_models[tiny_name])
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    for text in LECTURE:
        assert again(text)["input_ids"] == tok(text)["input_ids"]
