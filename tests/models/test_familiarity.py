"""Tokens a model cannot really read are marked and named: unknown, byte pieces, rarely trained."""

import numpy as np
import pytest

from models import familiarity
from training import build_tokenizers
from viz.tokens import tokens_html

TEXTS = ["我喜欢吃苹果", "I like eating apples", "The cat chases a mouse"] * 20


@pytest.fixture(scope="module")
def wordpiece():
    return build_tokenizers.build_wordpiece(TEXTS + [build_tokenizers.ASCII], 4500)


@pytest.fixture(scope="module")
def byte_bpe():
    return build_tokenizers.build_byte_bpe(TEXTS + [build_tokenizers.ASCII], 4500)


def test_unknown_tokens_are_named_by_their_source_text(wordpiece):
    text = "我喜欢吃😀和龘"
    ids = wordpiece(text)["input_ids"]
    found = familiarity.assess(wordpiece, ids, None, text)
    unk = [i == wordpiece.unk_token_id for i in ids]
    assert sum(unk) == 2 and found.flags.tolist() == unk
    assert found.unknown == ("😀", "龘") and found.byte_pieces == () and found.rare == ()
    (line,) = familiarity.notices("Mini BERT", found)
    assert "😀, 龘" in line and "Mini BERT" in line


def test_every_common_hanzi_is_one_token_so_only_rarer_ones_are_byte_pieces(byte_bpe):
    text = "人工智能龘"
    ids = byte_bpe(text)["input_ids"]
    found = familiarity.assess(byte_bpe, ids, None, text)
    assert found.flags[:4].tolist() == [False] * 4 and found.flags[4:].all() and len(ids) > 5
    assert found.byte_pieces == ("龘",) and found.unknown == ()


def test_rarely_seen_tokens_come_from_the_training_counts(wordpiece):
    text = "我喜欢吃苹果"
    ids = wordpiece(text)["input_ids"]
    counts = np.full(len(wordpiece), 100)
    counts[ids[2]] = familiarity.RARE - 1  # 喜
    counts[ids[0]] = 0  # [CLS] is special: never flagged
    found = familiarity.assess(wordpiece, ids, counts, text)
    assert found.flags.tolist() == [i == 2 for i in range(len(ids))]
    assert found.rare == ("喜",)


def test_counts_round_trip(tmp_path):
    counts = np.array([0, 3, 7], dtype=np.int64)
    familiarity.write_counts(tmp_path, counts)
    np.testing.assert_array_equal(familiarity.read_counts(tmp_path), counts)
    assert familiarity.read_counts(tmp_path / "missing") is None


def test_token_strip_frames_exactly_the_flagged_chips():
    html = tokens_html(("[CLS]", "我", "[UNK]", "[SEP]"), [True, False, False, True], unfamiliar=[False, False, True, False])
    assert html.count('class="tok unfamiliar"') == 1 and html.count("dashed") == 1
    assert "the model cannot really read" in html
    unknown = tokens_html(("[UNK]",), [True], unfamiliar=[True])  # special and unreadable: framed as unreadable
    assert 'class="tok special unfamiliar"' in unknown and "dashed" in unknown and "#fde2b8" not in unknown


def test_long_lists_are_counted_not_spelled_out():
    found = familiarity.Familiarity(np.ones(20, bool), unknown=tuple("abcdefghijklmnopqrst"))
    (line,) = familiarity.notices("M", found)
    assert "and 8 more" in line
