"""Step-by-step decoding: the same tokens as generate(), the same distributions as its warpers."""

import numpy as np
import pytest
import torch
from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from models import decoding, kv_cache
from models.decoding import Settings, decode
from models.loading import get_model

GPT_PROMPT = "今天天气真好，"
T5_PROMPT = "translate Chinese to English: 我喜欢机器学习"


@pytest.mark.parametrize("temperature, top_k, top_p", [(1.0, 0, 1.0), (0.7, 50, 1.0), (1.3, 0, 0.8),
                                                       (0.5, 10, 0.6), (2.0, 3, 0.95)])
def test_stages_equal_transformers_warpers_on_random_logits(temperature, top_k, top_p):
    gen = torch.Generator().manual_seed(int(temperature * 100 + top_k))
    logits = torch.randn(1, 500, generator=gen) * 3
    ids = torch.zeros(1, 1, dtype=torch.long)
    settings = Settings("sample", temperature, top_k, top_p)
    final, stages = decoding.warp(logits, ids, settings)
    expected = TemperatureLogitsWarper(temperature)(ids, logits.clone())
    torch.testing.assert_close(stages[1], torch.softmax(expected, -1))
    if top_k:
        expected = TopKLogitsWarper(top_k)(ids, expected)
    kept_k = torch.isfinite(expected)
    if top_p < 1:
        expected = TopPLogitsWarper(top_p)(ids, expected)
    kept = torch.isfinite(expected)
    assert torch.equal(torch.isfinite(final), kept)
    torch.testing.assert_close(torch.softmax(final, -1), torch.softmax(expected, -1))
    # Filtered stages keep the tempered probabilities of the survivors, unrenormalised.
    assert torch.equal(stages[2] > 0, kept_k) and torch.equal(stages[3] > 0, kept)
    torch.testing.assert_close(stages[3][kept], stages[1][kept])
    assert kept.sum() >= 1


def test_greedy_ignores_the_knobs():
    logits = torch.randn(1, 50)
    final, stages = decoding.warp(logits, torch.zeros(1, 1, dtype=torch.long), Settings("greedy", 0.3, 2, 0.1))
    assert torch.equal(final, logits) and all(torch.equal(s, torch.softmax(logits, -1)) for s in stages)
    zero = decoding.warp(logits, torch.zeros(1, 1, dtype=torch.long), Settings("sample", 0.0, 2, 0.1))[0]
    assert torch.equal(zero, logits)  # temperature 0 means greedy


def _generate(key, prompt, **kwargs):
    loaded = get_model(key)
    enc = loaded.tokenizer(prompt, return_tensors="pt")
    with torch.inference_mode():
        out = loaded.model.generate(**enc, max_new_tokens=12, **kwargs)
    start = 1 if loaded.family == "encoder-decoder" else enc["input_ids"].shape[1]
    return out[0, start:].tolist()


@pytest.mark.parametrize("key, prompt", [("mini-gpt", GPT_PROMPT), ("mini-llama", GPT_PROMPT), ("mini-t5", T5_PROMPT)])
@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_steps_equal_generate(key, prompt, use_cache):
    result = decode(key, prompt, Settings("greedy", max_new_tokens=12, use_cache=use_cache))
    assert list(result.token_ids) == _generate(key, prompt, do_sample=False)
    assert all(s.prob == pytest.approx(float(s.stages[0][s.candidate_ids.tolist().index(s.token_id)])) for s in result.steps)
    assert (result.steps[-1].cache_bytes > 0) == use_cache


def test_t5_lecture_example_step_by_step():
    result = decode("mini-t5", T5_PROMPT, Settings("greedy", max_new_tokens=20))
    assert result.text == "I love machine learning" and result.stopped == "eos"
    assert result.steps[0].cross is not None and result.steps[0].cross.shape[-1] == len(result.prompt_tokens)
    np.testing.assert_allclose(result.steps[2].cross.sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("key, prompt", [("mini-gpt", GPT_PROMPT), ("mini-t5", T5_PROMPT)])
def test_sampling_equals_generate_with_the_same_seed(key, prompt):
    settings = Settings("sample", 1.5, 20, 0.9, seed=7, max_new_tokens=12)
    result = decode(key, prompt, settings)
    torch.manual_seed(7)
    expected = _generate(key, prompt, do_sample=True, temperature=1.5, top_k=20, top_p=0.9)
    assert list(result.token_ids) == expected
    assert decode(key, prompt, settings).token_ids == result.token_ids  # a fixed seed reproduces the run


def test_other_seeds_draw_other_runs():
    runs = {decode("mini-gpt", GPT_PROMPT, Settings("sample", 1.5, 0, 1.0, seed=s, max_new_tokens=12)).token_ids
            for s in range(6)}
    assert len(runs) > 1


def test_cache_on_and_off_sample_the_same_tokens():
    on = decode("mini-llama", GPT_PROMPT, Settings("sample", 1.2, 0, 0.95, seed=3, max_new_tokens=10))
    off = decode("mini-llama", GPT_PROMPT, Settings("sample", 1.2, 0, 0.95, seed=3, max_new_tokens=10, use_cache=False))
    assert on.token_ids == off.token_ids
    np.testing.assert_allclose(on.steps[-1].stages, off.steps[-1].stages, atol=1e-5)
    assert [s.cache_bytes for s in on.steps] == sorted(s.cache_bytes for s in on.steps) and off.steps[-1].cache_bytes == 0


def test_step_records_are_consistent():
    result = decode("mini-gpt", GPT_PROMPT, Settings("sample", 1.0, 5, 1.0, seed=1, max_new_tokens=6))
    total = 0.0
    for s in result.steps:
        total += np.log(s.prob)
        assert s.logprob_sum == pytest.approx(total)
        assert s.kept <= 5 and s.stages.shape == (5, decoding.CANDIDATES)
        np.testing.assert_allclose(s.attention.sum(-1), 1.0, atol=1e-5)
    json = decoding.decoding_to_json(result)
    assert set(json["steps"][0]["candidates"][0]) == {"token", "token_id", "raw_prob", "after_temperature",
                                                      "after_top_k", "after_top_p", "final_prob"}


@pytest.mark.parametrize("settings, message", [
    (Settings("sample", -1.0), "Temperature"), (Settings("sample", float("nan")), "finite"),
    (Settings("sample", 1.0, -3), "top_k"), (Settings("sample", 1.0, 0, 0.0), "top_p"),
    (Settings("greedy", max_new_tokens=10_000), "max_new_tokens"), (Settings("nucleus"), "Strategy"),
])
def test_bad_knobs_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        decode("mini-gpt", GPT_PROMPT, settings)
    with pytest.raises(ValueError, match="encoder"):
        decode("mini-bert", GPT_PROMPT, Settings())


def test_kv_cache_formula_for_real_configurations():
    # Llama-3.1-8B: 32 layers, 8 KV heads, head dim 128, fp16, 8k tokens = 1 GiB.
    assert kv_cache.kv_cache_bytes(32, 8, 128, 8192, 16) == 2**30
    # Qwen2.5-7B at 100k tokens in int4: 28 layers, 4 KV heads.
    assert kv_cache.kv_cache_bytes(28, 4, 128, 100_000, 4) == 2 * 28 * 4 * 128 * 100_000 // 2


def test_live_cache_size_matches_the_formula():
    result = decode("mini-llama", GPT_PROMPT, Settings("greedy", max_new_tokens=5))
    layers, kv_heads, head_dim = kv_cache.kv_config(get_model("mini-llama"))
    # mini-llama: 4 layers, 4 query heads of 48 dimensions, grouped-query attention with 2 key/value heads.
    assert (layers, kv_heads, head_dim) == (4, 2, 48)
    prompt = len(result.prompt_tokens)
    for i, step in enumerate(result.steps):
        # After step i the cache holds the prompt and the i tokens fed back before it, in float32.
        assert step.cache_bytes == kv_cache.kv_cache_bytes(layers, kv_heads, head_dim, prompt + i, bits=32)


def test_an_encoder_fills_a_trailing_mask_left_to_right():
    fills = decoding.fill_left_to_right("mini-bert", GPT_PROMPT, 4)
    assert len(fills) == 4 and all(0 < f.prob <= 1 and len(f.candidates) == 5 for f in fills)
    assert all(f.candidates[0] == (f.token, f.prob) for f in fills)
    with pytest.raises(ValueError, match="encoder"):
        decoding.fill_left_to_right("mini-gpt", GPT_PROMPT, 4)


def test_decoding_figures_carry_the_run():
    from viz import decoding as dviz

    on = decode("mini-t5", T5_PROMPT, Settings("sample", 0.9, 10, 0.8, seed=2, max_new_tokens=6))
    off = decode("mini-t5", T5_PROMPT, Settings("sample", 0.9, 10, 0.8, seed=2, max_new_tokens=6, use_cache=False))
    fig = dviz.stages_figure(on, 1)
    for k in range(5):
        np.testing.assert_array_equal(np.asarray(fig.data[k].y), on.steps[1].stages[k])
    cache = dviz.cache_figure(on, off)
    # T5's cache bars: self-attention, then cross-attention stacked on it, adding up to the whole cache.
    assert [a + b for a, b in zip(cache.data[2].y, cache.data[3].y)] == [s.cache_bytes / 1024 for s in on.steps]
    cross = dviz.attention_row_figure(on, 2, cross=True)
    np.testing.assert_array_equal(np.asarray(cross.data[0].z), on.steps[2].cross.reshape(-1, on.steps[2].cross.shape[-1]))
    html = dviz.text_html(on, 3)
    assert html.count('class="gen"') == 3
    table = dviz.kv_table_markdown(kv_cache.kv_table({"Llama-3.1-8B": kv_cache.KV_CONFIGS["Llama-3.1-8B"]}))
    assert "| Llama-3.1-8B (32, 8, 128) | 8,192 | 1.00 GiB | 512.00 MiB | 256.00 MiB |" in table
    with pytest.raises(ValueError, match="Step 99"):
        dviz.stages_figure(on, 99)


def test_t5_alignment_stacks_the_cross_attention_rows():
    from viz import decoding as dviz

    result = decode("mini-t5", T5_PROMPT, Settings("greedy", max_new_tokens=20))
    fig = dviz.alignment_figure(result, 3)
    z = np.asarray(fig.data[0].z)
    assert z.shape == (4, len(result.prompt_tokens))
    for i in range(4):
        np.testing.assert_allclose(z[i], result.steps[i].cross.mean(axis=(0, 1)), rtol=1e-6)
    np.testing.assert_allclose(z.sum(1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="cross-attention"):
        dviz.alignment_figure(decode("mini-gpt", GPT_PROMPT, Settings(max_new_tokens=3)), 0)


def _generate_beams(loaded, prompt, beams, n):
    enc = loaded.tokenizer(prompt, return_tensors="pt")
    with torch.inference_mode():
        out = loaded.model.generate(**enc, num_beams=beams, max_new_tokens=n, do_sample=False,
                                    output_scores=True, return_dict_in_generate=True)
    start = 1 if loaded.family == "encoder-decoder" else enc["input_ids"].shape[1]
    return out.sequences[0, start:].tolist(), float(out.sequences_scores[0])


@pytest.mark.parametrize("key, prompt", [("mini-gpt", GPT_PROMPT), ("mini-llama", "I like eating"), ("mini-t5", T5_PROMPT)])
@pytest.mark.parametrize("use_cache", [True, False])
def test_beam_search_equals_generate(key, prompt, use_cache):
    result = decode(key, prompt, Settings("beam", num_beams=3, max_new_tokens=16, use_cache=use_cache))
    tokens, score = _generate_beams(get_model(key), prompt, 3, 16)
    assert list(result.token_ids) == tokens
    tree = result.beams
    assert tree.nodes[tree.winner].final_score == pytest.approx(score, abs=1e-5)
    assert [tree.nodes[n].token_id for n in tree.path(tree.winner)] == tokens
    assert [s.logprob_sum for s in result.steps] == [tree.nodes[n].score for n in tree.path(tree.winner)]


def test_t5_beam_search_translates_the_lecture_example():
    result = decode("mini-t5", T5_PROMPT, Settings("beam", num_beams=4, max_new_tokens=20))
    assert result.text == "I love machine learning" and result.stopped == "eos"


@pytest.mark.parametrize("name", ["mini-gpt", "mini-t5"])
def test_beam_search_equals_generate_when_hypotheses_end_early(name, tiny_models, allow_any_model, monkeypatch):
    """Random weights rarely end a sequence, so make frequent tokens end-of-sequence: hypotheses
    then finish at many depths, and length penalties and early-stopping modes matter."""
    key = tiny_models[name]
    loaded = get_model(key)
    config = loaded.model.generation_config
    tried = ended_early = 0
    # Greedy runs first, under the model's own end-of-sequence token (the loop changes it).
    prompts = ("I like", "The cat chases a", "我喜欢")
    greedies = {p: decode(key, p, Settings("greedy", max_new_tokens=12)).token_ids for p in prompts}
    for prompt, greedy in greedies.items():
        for eos in ([greedy[2]], [greedy[1], greedy[4]]):
            for penalty, early in ((1.0, False), (2.0, False), (-1.0, False), (1.0, True), (1.5, "never")):
                monkeypatch.setattr(config, "eos_token_id", eos)
                monkeypatch.setattr(config, "pad_token_id", eos[0])
                monkeypatch.setattr(config, "length_penalty", penalty)
                monkeypatch.setattr(config, "early_stopping", early)
                result = decode(key, prompt, Settings("beam", num_beams=3, max_new_tokens=12))
                expected, score = _generate_beams(loaded, prompt, 3, 12)
                mine = list(result.token_ids)
                assert mine == expected[:len(mine)] and set(expected[len(mine):]) <= {eos[0]}
                assert result.beams.nodes[result.beams.winner].final_score == pytest.approx(score, abs=1e-5)
                tried += 1
                ended_early += sum(n.status == "finished" and n.step < result.beams.steps - 1 for n in result.beams.nodes)
    assert tried == 30 and ended_early > 10


def test_beam_tree_is_consistent():
    result = decode("mini-gpt", "I like", Settings("beam", num_beams=4, max_new_tokens=10))
    tree = result.beams
    assert tree.kept_per_step == 8 and tree.nodes[0].status == "root"
    for node in tree.nodes[1:]:
        parent = tree.nodes[node.parent]
        assert node.score == pytest.approx(parent.score + node.logprob, abs=1e-4)
        assert parent.status in ("root", "running") and parent.step == node.step - 1
    for step in range(tree.steps):
        here = [n for n in tree.nodes if n.step == step]
        assert len(here) == 8 and [n.score for n in here] == sorted((n.score for n in here), reverse=True)
        assert sum(n.status == "running" for n in here) == (4 if step < tree.steps - 1 else
                                                            sum(n.status == "running" for n in here))
    finished = sorted((n for n in tree.nodes if n.final_rank >= 0), key=lambda n: n.final_rank)
    assert finished[0].node == tree.winner and len(finished) == 4
    for n in finished:
        assert n.status == "finished"
        assert n.final_score == pytest.approx(n.score / len(tree.path(n.node)) ** tree.length_penalty, rel=1e-6)
    assert [n.final_score for n in finished] == sorted((n.final_score for n in finished), reverse=True)
    json = decoding.decoding_to_json(result)
    assert json["beams"]["winner"] == tree.winner and len(json["beams"]["nodes"]) == len(tree.nodes)


def test_beam_needs_two_beams():
    with pytest.raises(ValueError, match="2 to 8 beams"):
        decode("mini-gpt", GPT_PROMPT, Settings("beam", num_beams=1))
    with pytest.raises(ValueError, match="2 to 8 beams"):
        decode("mini-gpt", GPT_PROMPT, Settings("beam", num_beams=99))


def test_beam_tree_figure_carries_the_tree():
    import networkx as nx

    from viz import decoding as dviz

    result = decode("mini-gpt", "I like", Settings("beam", num_beams=3, max_new_tokens=8))
    tree = result.beams
    graph = dviz.beam_graph(tree)
    assert nx.is_tree(graph) and graph.number_of_nodes() == len(tree.nodes)
    assert nx.shortest_path(graph, 0, tree.winner) == [0] + tree.path(tree.winner)
    fig = dviz.beam_tree_figure(result)
    markers = {t.name: t for t in fig.data if t.mode == "markers+text"}
    assert sum(len(t.x) for t in markers.values()) == len(tree.nodes)
    pruned = [n for n in tree.nodes if n.status == "pruned"]
    assert len(markers["pruned"].x) == len(pruned) and markers["pruned"].marker.symbol == "x"
    winner_edges = [t for t in fig.data if t.mode == "lines" and t.line.color == dviz.WINNER_COLOR][0]
    assert len(winner_edges.x) == 3 * len(tree.path(tree.winner))
    partial = dviz.beam_tree_figure(result, 1)
    assert sum(len(t.x) for t in partial.data if t.mode == "markers+text") == 1 + 2 * tree.kept_per_step
    assert not [t for t in partial.data if t.mode == "lines" and t.line.color == dviz.WINNER_COLOR][0].x
    with pytest.raises(ValueError, match="beam strategy"):
        dviz.beam_tree_figure(decode("mini-gpt", GPT_PROMPT, Settings(max_new_tokens=3)))
    assert "beam search: knobs ignored" in dviz.stages_figure(result, 0).layout.title.text


def test_a_prompt_that_would_run_past_the_positions_is_refused():
    # Found by random fuzzing: 129 zeros and one new token ran mini-gpt past its position table.
    from models.trace import position_limit

    limit = position_limit(get_model("mini-gpt"))
    with pytest.raises(ValueError, match=f"more than the {limit} positions allowed here"):
        decode("mini-gpt", "0" * 129, Settings("greedy", max_new_tokens=1))
    assert decode("mini-gpt", "0" * 20, Settings("greedy", max_new_tokens=1)).token_ids
    assert decode("mini-t5", "translate English to Chinese: " + "cat " * 40, Settings("greedy", max_new_tokens=2))
