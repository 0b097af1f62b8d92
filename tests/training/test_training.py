"""A few training steps of every recipe: the code path of `python -m training.train`, kept tiny."""

import hashlib
import random

import numpy as np
import pytest
import torch

from models.objectives import span_corrupt
from training import batches, train
from models.registry import ModelSpec
from models.loading import load
from models.trace import run_trace


def _digest(folder) -> str:
    return hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()


@pytest.mark.parametrize("name", sorted(train.RECIPES))
def test_a_few_steps_train_save_and_load(name, tmp_path, allow_any_model):
    summary = train.train(name, tmp_path / name, steps=3, pairs=400, progress=False)
    assert summary["steps"] == 3 and np.isfinite(summary["final_loss"])
    loaded = load(ModelSpec(name, name, train.RECIPES[name].family, str(tmp_path / name)), torch.device("cpu"))
    assert loaded.family == train.RECIPES[name].family
    tr = run_trace(str(tmp_path / name), "I like eating apples")
    assert tr.attentions[0].attn.shape[1] == train.HEADS


def test_training_is_reproducible_bit_for_bit(tmp_path):
    first = train.train("mini-gpt", tmp_path / "a", steps=4, pairs=400, progress=False)
    second = train.train("mini-gpt", tmp_path / "b", steps=4, pairs=400, progress=False)
    assert first["final_loss"] == second["final_loss"]
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    other_seed = train.train("mini-gpt", tmp_path / "c", steps=4, pairs=400, progress=False, seed=1)
    assert other_seed["seed"] == 1
    assert _digest(tmp_path / "c") != _digest(tmp_path / "a")


@pytest.mark.parametrize("name", ["mini-bert", "mini-t5"])
def test_a_frozen_vocabulary_makes_every_family_reproducible(name, tmp_path):
    # WordPiece and Unigram trainers differ from process to process; with the vocabulary read
    # back from a checkpoint folder (as `python -m training.train` does) the weights do not.
    train.train(name, tmp_path / "vocab", steps=1, pairs=400, progress=False)
    runs = [train.train(name, tmp_path / run, steps=4, pairs=400, progress=False, tokenizer_from=tmp_path / "vocab")
            for run in ("a", "b")]
    assert runs[0]["tokenizer"] == "frozen" and runs[0]["final_loss"] == runs[1]["final_loss"]
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == (tmp_path / "vocab" / "tokenizer.json").read_bytes()


def test_the_command_line_reads_the_embedded_vocabulary_unless_told_otherwise(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr(train, "train", lambda name, out, **kw: seen.append(kw["tokenizer_from"]) or {})
    for extra in ([], ["--new-tokenizer"]):
        monkeypatch.setattr("sys.argv", ["train", "--model", "mini-bert", "--no-eval", "--out", str(tmp_path), *extra])
        train.main()
    assert seen == [train.ASSETS / "mini-bert", None]
    assert train.frozen_tokenizer(tmp_path) is None
    assert len(train.frozen_tokenizer(train.ASSETS / "mini-bert")) == 8000


def test_span_corruption_marks_each_dropped_span_with_a_sentinel():
    import random

    ids = list(range(100, 120))
    sentinels = [1, 2, 3, 4, 5, 6]
    source, target = span_corrupt(ids, sentinels, random.Random(0), eos=0)
    assert source[-1] == 0 and target[-1] == 0
    used = [t for t in source if t in sentinels]
    assert used == sentinels[: len(used)] and used
    # Putting the spans back where their sentinels stand restores the sentence.
    spans, current = {}, None
    for t in target[:-1]:
        if t in sentinels:
            current = t
            spans[t] = []
        else:
            spans[current].append(t)
    restored = [x for t in source[:-1] for x in (spans.get(t, []) if t in sentinels else [t])]
    assert restored == ids


def test_bert_batches_follow_the_80_10_10_rule():
    import random

    from training import build_tokenizers, corpus

    pairs, stories = corpus.pairs(2000, 0), corpus.stories(300, 0)
    tok = build_tokenizers.build_wordpiece(batches.tokenizer_texts(pairs, stories), 800)
    data = batches.bert_batches(tok, pairs, stories, 256, random.Random(0), torch.Generator().manual_seed(0))
    chosen = masked = kept = total = 0
    nsp = []
    for _ in range(16):
        batch = next(data)
        labels, inputs = batch["labels"], batch["input_ids"]
        real = (batch["attention_mask"] == 1) & ~torch.isin(inputs, torch.tensor(tok.all_special_ids)) | (labels != -100)
        sel = labels != -100
        chosen += int(sel.sum())
        total += int(real.sum())
        masked += int((inputs[sel] == tok.mask_token_id).sum())
        kept += int((inputs[sel] == labels[sel]).sum())
        nsp += batch["next_sentence_label"].tolist()
    assert 0.13 < chosen / total < 0.17
    assert 0.77 < masked / chosen < 0.83
    assert 0.08 < kept / chosen < 0.13  # 10 % kept, plus random draws that hit the same token
    assert {-100, 0, 1} == set(nsp)


def test_pretraining_loss_equals_bert_for_pretraining_loss():
    import random

    from training import build_tokenizers, corpus

    pairs, stories = corpus.pairs(400, 0), corpus.stories(60, 0)
    tok = build_tokenizers.build_wordpiece(batches.tokenizer_texts(pairs, stories), 600)
    torch.manual_seed(0)
    model = train.build_model("mini-bert", tok, width=32, layers=2, heads=2).eval()
    data = batches.bert_batches(tok, pairs, stories, 16, random.Random(0), torch.Generator().manual_seed(0))
    with_nsp = set()
    for _ in range(6):
        batch = next(data)
        has_pairs = bool((batch["next_sentence_label"] != -100).any())
        with_nsp.add(has_pairs)
        if has_pairs:
            reference = model(**batch).loss
        else:
            # With no NSP label at all transformers' sum is NaN; the MLM term is the whole loss.
            logits = model(**{k: v for k, v in batch.items() if k != "next_sentence_label"}).prediction_logits
            reference = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten())
        assert torch.allclose(train.pretraining_loss(model, batch), reference, atol=1e-5)
    assert with_nsp == {True, False}



def test_token_budget_batches_hold_every_example_once_within_the_budget():
    rng = random.Random(0)
    # Sources and targets of similar lengths, as a sentence and its translation are.
    lengths = [rng.randint(1, 40) for _ in range(600)]
    examples = [([1] * n, [2] * max(1, n + rng.randint(-3, 3))) for n in lengths]
    groups = batches.grouped(examples, 400, random.Random(1))

    def padded(group):
        return len(group) * (max(len(s) for s, _ in group) + max(len(t) for _, t in group))

    assert sorted(map(str, sum(groups, []))) == sorted(map(str, examples))
    assert all(padded(g) <= 400 for g in groups)
    # Grouped by length, padding falls far below a random batch's (about half its tokens here).
    real = sum(len(s) + len(t) for s, t in examples)
    assert real / sum(padded(g) for g in groups) > 0.8
    firsts = [len(g[0][0]) for g in groups]
    assert firsts != sorted(firsts)  # the batches come in random order, not short to long


def test_t5_batches_with_a_token_budget_fill_it_with_more_examples():
    import random

    from training import build_tokenizers, corpus

    pairs, stories = corpus.pairs(2000, 0), corpus.stories(10, 0)
    tok = build_tokenizers.build_sentencepiece_unigram(batches.tokenizer_texts(pairs, stories), 800)
    fixed = batches.t5_batches(tok, pairs, stories, 64, random.Random(0))
    budget = batches.t5_batches(tok, pairs, stories, 64, random.Random(0), tokens=1500)
    sizes, real = [], []
    for _ in range(40):
        batch = next(budget)
        sources, labels = batch["input_ids"], batch["labels"]
        assert sources.numel() + labels.numel() <= 1500
        assert (sources[batch["attention_mask"] == 0] == tok.pad_token_id).all()
        # Every target ends in </s> at its last real position.
        last = (labels != -100).sum(1) - 1
        assert (labels[torch.arange(len(labels)), last] == tok.eos_token_id).all()
        sizes.append(len(sources))
        real.append((int(batch["attention_mask"].sum()) + int((labels != -100).sum())) / (sources.numel() + labels.numel()))
    plain = next(fixed)
    assert len(plain["input_ids"]) == 64
    assert min(sizes) < max(sizes) and np.mean(real) > 0.7


def test_the_t5_loss_on_real_targets_equals_the_models_own():
    from training import build_tokenizers, corpus

    pairs, stories = corpus.pairs(600, 0), corpus.stories(10, 0)
    tok = build_tokenizers.build_sentencepiece_unigram(batches.tokenizer_texts(pairs, stories), 600)
    torch.manual_seed(0)
    model = train.build_model("mini-t5", tok, width=32)
    data = batches.t5_batches(tok, pairs, stories, 64, random.Random(0), tokens=1200)
    for _ in range(3):
        batch = next(data)
        assert (batch["labels"] == -100).any()  # padded targets, which the head now skips
        ours = train.seq2seq_loss(model, batch)
        assert torch.allclose(ours, model(**batch).loss, atol=1e-5)
        ours.backward()
    assert model.lm_head.weight.grad is not None and model.lm_head.weight.grad.abs().sum() > 0


def test_t5_batches_sorted_on_coarse_sources_pad_fewer_targets():
    rng = random.Random(0)
    # Two tasks whose targets differ in length at the same source length, as zh->en and en->zh do.
    examples = [([1] * n, [2] * (n * 2 if rng.random() < 0.5 else max(1, n // 2))) for n in
                (rng.randint(2, 30) for _ in range(2000))]

    def target_padding(groups):
        return sum(len(g) * max(len(t) for _, t in g) - sum(len(t) for _, t in g) for g in groups)

    exact = batches.grouped(examples, 600, random.Random(1))
    coarse = batches.grouped(examples, 600, random.Random(1), order=batches._coarse_source)
    assert sorted(map(str, sum(coarse, []))) == sorted(map(str, examples))
    assert target_padding(coarse) < 0.8 * target_padding(exact)
