"""The tokenizers of the project's own checkpoints, built from the training corpus.

Each family gets the tokenizer type its real counterparts use, built with the `tokenizers`
library and wrapped in transformers' PreTrainedTokenizerFast so that it saves with
save_pretrained and loads back through AutoTokenizer like a Hub tokenizer:

- BERT: WordPiece, lower-cased, Chinese characters split one per token (Devlin et al. 2019).
- GPT-2: byte-level BPE, so every string is representable (Radford et al. 2019).
- T5: SentencePiece-style Unigram with the Metaspace "▁" word marker and sentinel tokens
  <extra_id_N> for span corruption (Raffel et al. 2020).
- LLaMA: BPE with byte fallback: unknown characters become <0xNN> byte tokens (Touvron et al. 2023).

Every vocabulary holds the 3,755 level-1 characters of GB 2312 (the most common hanzi) as single
tokens, whether the training text used them or not, so that what people type in Chinese is
read character by character (as bert-base-chinese does), not as [UNK] or loose UTF-8 bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast
from transformers.convert_slow_tokenizer import bytes_to_unicode

T5_SENTINELS = 16

# CJK characters and full-width punctuation, each its own pre-token. BERT does this for Chinese;
# doing it for the BPE and Unigram vocabularies too keeps one Chinese character per token (or
# a whole number of byte tokens), so merges never glue a character to its neighbour
# ("说她"), token boundaries match word boundaries, and attention maps read character by character.
_CJK = Regex(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


def _split_cjk(then):
    return pre_tokenizers.Sequence([pre_tokenizers.Split(_CJK, behavior="isolated"), then])

_BYTE_TOKENS = [f"<0x{b:02X}>" for b in range(256)]


def gb2312_level1() -> tuple[str, ...]:
    """The 3,755 level-1 hanzi of GB 2312: rows 16-55 (bytes 0xB0-0xD7), cells 0xA1-0xFE, row 55
    ending at 0xF9, decoded with Python's own codec, so no character list is shipped."""
    return tuple(bytes([row, cell]).decode("gb2312") for row in range(0xB0, 0xD8)
                 for cell in range(0xA1, 0xFF) if row < 0xD7 or cell <= 0xF9)


COMMON_HANZI = gb2312_level1()

# Every printable ASCII character, added to each tokenizer's training text so that any English
# letter, digit or punctuation mark has a token even if the corpus never used it.
ASCII = " ".join(chr(c) for c in range(33, 127))


def _with_common_hanzi(texts: Iterable[str]) -> list[str]:
    # BERT's pre-tokenizer isolates every CJK character, so one occurrence makes it a token.
    return [*texts, " ".join(COMMON_HANZI)]


def build_wordpiece(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.train_from_iterator(
        _with_common_hanzi(texts),
        trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False),
    )
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        mask_token="[MASK]",
        # Segment ids are part of BERT's input: without this name they are silently dropped
        # and a sentence pair reads as one segment.
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )


def build_byte_bpe(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    eos = "<|endoftext|>"
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = _split_cjk(pre_tokenizers.ByteLevel(add_prefix_space=False))
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=[eos],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    tok = _merge_whole_characters(tok, COMMON_HANZI)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=eos, eos_token=eos, unk_token=eos, pad_token=eos
    )


def _merge_whole_characters(tok: Tokenizer, chars: Sequence[str]) -> Tokenizer:
    """Append the byte-level merges that make each character one token.

    BPE learns merges by frequency, so characters the corpus uses rarely (or never) would stay
    two or three byte tokens. Each CJK character is its own pre-token, so merges appended after
    the learned ones (lowest priority) only ever join that character's own bytes. A merge the
    corpus learned may already have joined two of its bytes: the loop then merges what is left.
    """
    spec = json.loads(tok.to_str())
    vocab, merges = spec["model"]["vocab"], spec["model"]["merges"]
    ranks = {tuple(m): i for i, m in enumerate(merges)}
    to_unicode = bytes_to_unicode()
    for ch in chars:
        pieces = [to_unicode[b] for b in ch.encode("utf-8")]
        while len(pieces) > 1:
            # Apply known merges first, in rank order, exactly as the model will.
            known = [(ranks[(a, b)], i) for i, (a, b) in enumerate(zip(pieces, pieces[1:])) if (a, b) in ranks]
            if known:
                i = min(known)[1]
            else:
                i = 0
                ranks[(pieces[0], pieces[1])] = len(merges)
                merges.append([pieces[0], pieces[1]])
            joined = pieces[i] + pieces[i + 1]
            vocab.setdefault(joined, len(vocab))
            pieces[i:i + 2] = [joined]
    return Tokenizer.from_str(json.dumps(spec))


def build_sentencepiece_unigram(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    sentinels = [f"<extra_id_{i}>" for i in range(T5_SENTINELS)]
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = _split_cjk(pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first"))
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    tok.train_from_iterator(
        texts,
        trainers.UnigramTrainer(
            # Unigram refuses a vocabulary smaller than its alphabet (tiny test models ask for one).
            vocab_size=max(vocab_size, len(COMMON_HANZI) + 256),
            special_tokens=["<pad>", "</s>", "<unk>", *sentinels],
            unk_token="<unk>",
            initial_alphabet=list(COMMON_HANZI),
            show_progress=False,
        ),
    )
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        additional_special_tokens=sentinels,
    )


def build_byte_fallback_bpe(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    specials = ["<unk>", "<s>", "</s>"]
    trained = Tokenizer(models.BPE(unk_token="<unk>"))
    trained.pre_tokenizer = _split_cjk(pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first"))
    trained.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=vocab_size - len(_BYTE_TOKENS), special_tokens=specials,
            initial_alphabet=list(COMMON_HANZI), limit_alphabet=len(COMMON_HANZI) + 2000, show_progress=False,
        ),
    )
    # The 256 byte tokens belong to the vocabulary proper, right after the specials, as in
    # LLaMA's tokenizer: they are ordinary tokens a model reads and writes, not special ones.
    spec = json.loads(trained.to_str())
    learned = sorted(spec["model"]["vocab"].items(), key=lambda kv: kv[1])
    vocab = {t: i for i, t in enumerate(specials + _BYTE_TOKENS)}
    for token, _ in learned:
        vocab.setdefault(token, len(vocab))
    spec["model"].update(vocab=vocab, byte_fallback=True, fuse_unk=True)
    spec["added_tokens"] = [dict(t, id=vocab[t["content"]]) for t in spec["added_tokens"]]
    tok = Tokenizer.from_str(json.dumps(spec))
    tok.decoder = decoders.Sequence(
        [
            decoders.Replace("▁", " "),
            decoders.ByteFallback(),
            decoders.Fuse(),
            decoders.Strip(content=" ", left=1, right=0),
        ]
    )
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", vocab["<s>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="</s>"
    )
