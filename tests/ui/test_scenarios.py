"""Every scenario shows what its name claims.

Each scenario is restored as the page restores it (links.restore_scenario: its parameters coerced
like a link's, every other control at its default), then its tab's own handler and the numbers
behind it (the tab's `numbers`, which the exports and the API share, or the models/ function the
handler wraps) are checked against the claim of its name.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from models import analysis, mechanisms, objectives as objective_fns
from models import trace as traces
from models.architecture import describe, differences
from models.decoding import decode
from models.loading import get_model
from models.masks import taxonomy
from models.results import STAGES
from ui import links
from ui.page import build_demo
from ui.tabs import IDS, architecture, attention, compare, graph, masks, moe, objectives, order, patterns, positions, rank
from ui.validation import settings
from viz.decoding import stages_figure
from viz.patterns import SHORT

SCENARIOS = {s["name"]: s["params"] for s in links.SCENARIOS}
CLAIMS = {}


def claim(name: str):
    """Register the check of one scenario's claim, by the scenario's exact name."""
    def register(check):
        CLAIMS[name] = check
        return check
    return register


@pytest.fixture(scope="module")
def linked():
    return links.linked_components(build_demo())


def restored(linked, name: str) -> dict:
    """elem_id -> value as the page holds it after the scenario is picked, and "tab"."""
    marker, *updates = links.restore_scenario(name, linked, IDS)
    values = {c.elem_id: u["value"] if "value" in u else c.value for c, u in zip(linked, updates)}
    values["tab"] = json.loads(marker)["tab"]
    return values


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() or "scenario"


def test_every_claim_names_a_scenario():
    assert set(CLAIMS) <= set(SCENARIOS), sorted(set(CLAIMS) - set(SCENARIOS))


@pytest.mark.parametrize("name", list(SCENARIOS), ids=[_slug(n) for n in SCENARIOS])
def test_the_scenario_shows_its_claim(linked, name):
    assert name in CLAIMS, f"no check of the claim of scenario {name!r}"
    values = restored(linked, name)
    assert values["tab"] == SCENARIOS[name]["tab"]
    CLAIMS[name](values)


def _column(values: dict, slug: str) -> tuple:
    """What the page shows in one Compare column: (ref, tokens html, outputs html, kind, layer,
    head, mask figure, attention figure), from the column's own handler."""
    return compare.run_column(values[f"model-{slug}"], values["text"], values[f"kind-{slug}"],
                              values[f"layer-{slug}"], values[f"head-{slug}"])


# ---------------------------------------------------------------------------------------------
# Compare and Attention


@claim("Masks: encoder vs decoder · 掩码：编码器与解码器")
def _masks_encoder_vs_decoder(values):
    data = compare.numbers(values, values["text"])
    gpt, bert = data["gpt"]["decoder"], data["bert"]["encoder"]
    n_gpt, n_bert = len(data["gpt"]["tokens"]), len(data["bert"]["tokens"])
    causal = np.tril(np.ones((n_gpt, n_gpt), int))
    assert np.array_equal(gpt["mask"], causal)
    weights = np.asarray(gpt["attentions"])  # (layers, heads, n, n)
    assert np.all(weights[..., causal == 0] == 0.0)  # exactly 0 above the diagonal, every head
    assert np.all(weights[..., causal == 1] > 0)
    assert np.array_equal(bert["mask"], np.ones((n_bert, n_bert), int))
    assert np.all(np.asarray(bert["attentions"]) > 0)  # every key is allowed and gets some weight
    for slug, mask in (("gpt", causal), ("bert", np.ones((n_bert, n_bert), int))):
        _, _, _, _, layer, _, mask_fig, attn_fig = _column(values, slug)
        assert layer["value"] == 1  # the scenario's layer is the one drawn
        drawn = {trace.name: np.nan_to_num(np.asarray(trace.z, dtype=float)) for trace in mask_fig.data}
        assert np.array_equal(drawn["may attend"], mask)  # the mask figure's allowed layer is the mask
        assert np.array_equal(drawn.get("masked", np.zeros_like(drawn["may attend"])), 1 - mask)
        shown = np.asarray(attn_fig.data[0].z, dtype=float)
        assert np.array_equal(np.isnan(shown), mask == 0)


@claim("BERT fills [MASK] · BERT 填空")
def _bert_fills_mask(values):
    trace = traces.run_trace(values["model-bert"], values["text"])
    (prediction,) = trace.predictions
    best = prediction.candidates[0]
    assert trace.tokens[prediction.position] == "[MASK]"
    assert best.token == "eating" and best.prob > 0.9  # "I like eating apples"
    html = _column(values, "bert")[2]
    assert f"[MASK] at position {prediction.position}:" in html and f"eating {best.prob:.1%}" in html


@claim("中文：我喜欢吃苹果 · four models")
def _chinese_in_four_models(values):
    assert values["text"] == "我喜欢吃苹果"
    for slug in compare.SLUGS:
        trace = traces.run_trace(values[f"model-{slug}"], values["text"])
        unk = get_model(values[f"model-{slug}"]).tokenizer.unk_token_id
        assert unk not in trace.token_ids.tolist(), slug
        assert trace.familiarity.unknown == () and trace.familiarity.byte_pieces == (), slug
        assert not trace.unfamiliar.any(), slug
        for char in "我喜欢吃苹果":
            assert any(char in token for token in trace.tokens), (slug, char)
        assert "unfamiliar" not in _column(values, slug)[1]


@claim("Next-sentence prediction · 下一句预测")
def _next_sentence(values):
    shown = compare.numbers(values, values["text"])["bert"]["outputs"]["next_sentence"]
    assert shown is not None and shown > 0.9  # read as a pair, and the second sentence does follow the first
    html = _column(values, "bert")[2]
    assert f"P(IsNext) = <b>{shown:.3f}</b>" in html and "as the next one" in html
    assert "[MASK] at position" not in html  # no [MASK] in this text: only the pair is judged


@claim("T5 translates: cross-attention · T5 翻译：交叉注意力")
def _t5_cross_attention(values):
    assert values["att-model"] == "mini-t5" and values["att-kind"] == "cross"
    data = attention.numbers(values, values["text"])
    assert data["outputs"]["text"] == "I love machine learning"
    cross = np.asarray(data["cross"]["attentions"], dtype=np.float64)  # (layers, heads, target, source)
    assert cross.shape[-2:] == (len(data["decoder_tokens"]), len(data["tokens"]))
    np.testing.assert_allclose(cross.sum(-1), 1.0, atol=1e-5)  # each output token spreads 1 over the input
    _, _, layer, head, _, heat = attention.run_attention(values["att-model"], values["text"], values["att-kind"],
                                                         values["att-layer"], values["att-head"])
    assert (layer["value"], head["value"]) == (1, 0)
    np.testing.assert_allclose(np.asarray(heat.data[0].z, dtype=np.float64), cross[1, 0], atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Masks, head patterns, rank, graph & flow


@claim("Three masks side by side · 三种掩码")
def _three_masks(values):
    p = values["mask-prefix"]
    assert p == 3
    result = taxonomy(values["text"], values["mask-second"], p)
    by_title = {s.title: s.attention for s in result.schemes}
    causal = by_title["causal decoder"]
    prefix = by_title[f"prefix decoder, prefix of {p} tokens"]
    n = len(causal.query_tokens)
    tril = np.tril(np.ones((n, n)))
    assert np.array_equal(causal.mask, tril)
    expected = tril.copy()
    expected[:p, :p] = 1  # the prefix sees itself in full, the rest stays causal
    assert np.array_equal(prefix.mask, expected) and not np.array_equal(prefix.mask, tril)
    upper_prefix = np.triu(np.ones((p, p)), 1) > 0
    assert np.all(prefix.attn[..., :p, :p][..., upper_prefix] > 0)  # prefix tokens attend forward
    assert np.all(causal.attn[..., :p, :p][..., upper_prefix] == 0)
    first, second = by_title["bidirectional, batch row 1"], by_title["bidirectional, batch row 2 ([PAD] keys masked)"]
    assert np.all(first.mask == 1)
    padded = second.mask[0] == 0
    assert padded.any() and np.all(second.mask[:, padded] == 0)
    assert np.all(second.attn[..., padded] == 0)
    figures = masks.run_masks(values["text"], values["mask-second"], p, values["mask-layer"], values["mask-head"])
    assert figures[0]["value"] == p and len(figures) == 1 + 2 * len(masks.ROWS) + 2
    # The sliders reach the largest model's last layer and head (4 x 4 here), not 0..127.
    assert (figures[-2]["maximum"], figures[-1]["maximum"]) == (3, 3)


@claim("Previous-token and sink heads (GPT) · GPT 的注意力头模式")
def _gpt_head_patterns(values):
    assert values["pat-model"] == "mini-gpt"
    found = analysis.trace_patterns(traces.run_trace(values["pat-model"], values["text"]))["decoder"]
    labels = found.label.ravel().tolist()
    assert "previous-token" in labels and "sink" in labels
    assert found.previous.max() >= analysis.PATTERN_THRESHOLD + 0.1  # not a borderline label
    drawn, _ = patterns.run_patterns(values["pat-model"], values["text"])
    cells = np.asarray(drawn.data[0].text)
    assert np.array_equal(cells, np.vectorize(SHORT.get)(found.label))
    assert {"prev", "sink"} <= set(cells.ravel())


@claim("Why decoder-only: causal attention is full rank · 因果注意力满秩")
def _causal_full_rank(values):
    tolerance = 10.0 ** values["rank-tol"]
    data = rank.numbers(values, values["text"])
    causal, bidirectional = data["causal"]["decoder"], data["bidirectional"]["encoder"]
    n = causal["shape"][0]
    heads = np.asarray(causal["rank"]).size
    # Exactly: every causal head is lower triangular with a positive diagonal, so det > 0.
    assert np.all(causal["triangular"]) and np.all(causal["full_rank_exact"])
    assert np.min(causal["min_diagonal"]) > 0
    log_det = np.asarray(causal["log_det"], dtype=np.float64)
    assert np.all(np.isfinite(log_det))
    weights = _self_attention(values["rank-dec"], values["text"])
    np.testing.assert_allclose(log_det, np.log(np.diagonal(weights, axis1=-2, axis2=-1)).sum(-1), rtol=1e-5)
    # Numerically, at the tolerance shown (about float32 precision for n tokens), they are full rank too.
    assert 0.5 < tolerance / causal["float_tolerance"] < 2
    assert np.all(np.asarray(causal["rank"]) == n) and np.all(np.asarray(causal["float_rank"]) == n)
    # BERT has no such argument: not triangular, so whatever rank it has is only a measurement.
    assert not np.any(bidirectional["triangular"]) and not np.any(bidirectional["full_rank_exact"])
    n_bert = bidirectional["shape"][0]
    bert_full = int((np.asarray(bidirectional["rank"]) == n_bert).sum())
    bert_float = int((np.asarray(bidirectional["float_rank"]) == n_bert).sum())
    outputs = rank.run_rank(values["rank-enc"], values["rank-dec"], values["text"], values["rank-tol"],
                            values["rank-layer"], values["rank-head"])
    summary = outputs[5]
    gpt, bert = (f"**{traces.run_trace(values[k], values['text']).model_name}**" for k in ("rank-dec", "rank-enc"))
    assert f"{gpt} (decoder, n = {n}): exactly full rank in {heads} of {heads} heads" in summary
    assert f"{bert} (encoder, n = {n_bert}): not triangular" in summary
    assert f"{gpt}: {heads} of {heads} heads full rank at float32 precision" in summary
    assert f"{bert}: {bert_float} of {heads} heads full rank at float32 precision" in summary
    assert f"{gpt} (decoder, n = {n}): {heads} of {heads} heads full rank at tolerance {tolerance:.0e}" in summary
    assert f"{bert} (encoder, n = {n_bert}): {bert_full} of {heads} heads full rank at tolerance" in summary
    assert "exactly full rank" in outputs[1].layout.title.subtitle.text
    assert "not triangular" in outputs[0].layout.title.subtitle.text


def _self_attention(model: str, text: str) -> np.ndarray:
    """(layers, heads, n, n) float64: the weights the rank view reads."""
    trace = traces.run_trace(model, text)
    return trace.attention(analysis.self_attention_kinds(trace)[0]).attn.astype(np.float64)


@claim("Rollout and flow · 注意力 rollout 与 flow")
def _rollout_and_flow(values):
    assert values["graph-model"] == "mini-bert"
    shown = graph.run_graph(values["graph-model"], values["text"], values["graph-kind"], values["graph-layer"],
                            values["graph-head"], values["graph-threshold"], values["graph-position"])
    assert shown[0]["value"] == values["graph-kind"] == "encoder"  # the view keeps the scenario's kind
    data = graph.numbers(values, values["text"])
    assert data["position"] == 0 and data["tokens"][0] == "[CLS]"
    rollout, flow, raw = (np.asarray(data[k], dtype=np.float64) for k in ("rollout", "flow", "flow_raw"))
    assert rollout.sum() == pytest.approx(1.0, abs=1e-6) and np.all(rollout > 0)
    assert flow.sum() == pytest.approx(1.0, abs=1e-6)  # normalised per query
    np.testing.assert_allclose(flow, raw / raw.sum(), atol=1e-9)
    assert np.all(raw > 0) and raw.max() <= 1 + 1e-9
    token_graph, importance = shown[3], shown[4]
    np.testing.assert_allclose(np.asarray(importance.data[0].y), rollout, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(importance.data[1].y), flow, rtol=1e-5)
    edges = [t for t in token_graph.data if t.name and t.name.startswith("edges")]
    weights = [c[2] for t in edges for c in t.customdata]
    assert weights and min(weights) >= values["graph-threshold"]


# ---------------------------------------------------------------------------------------------
# Decoding


def _decoding(values: dict):
    v = values
    beams = int(v["dec-beams"]) if v["dec-strategy"] == "beam" else 1
    knobs = settings(v["dec-strategy"], v["dec-temperature"], v["dec-topk"], v["dec-topp"], v["dec-seed"],
                     v["dec-max"], beams, v["dec-cache"])
    return decode(v["dec-model"], v["dec-prompt"], knobs)


@claim("Sampling knobs on 今天天气真好，· 采样参数")
def _sampling_knobs(values):
    assert values["dec-prompt"] == "今天天气真好，"
    result = _decoding(values)
    raw, tempered, top_k, top_p, final = (STAGES.index(s) for s in
                                          ("raw", "after_temperature", "after_top_k", "after_top_p", "final"))
    shown = min(int(values["dec-index"]), len(result.steps) - 1)
    for index in (0, shown):
        step = result.steps[index]
        stages = step.stages  # (stages, 20 candidates)
        assert step.prob < 0.9 and stages[raw].max() < 0.9, index  # the model itself is unsure
        assert np.abs(stages[tempered] - stages[raw]).max() > 0.1, index  # temperature reshapes it
        alive = [(s > 0).sum() for s in stages]
        assert alive[top_k] == values["dec-topk"] < alive[tempered], index  # top-k cuts visible candidates
        assert alive[top_p] < alive[top_k], index  # and top-p cuts more
        assert step.kept == alive[top_p]
        assert stages[final].sum() == pytest.approx(1.0, abs=1e-5)  # renormalised over the survivors
        chosen = list(step.candidate_ids).index(step.token_id)
        assert stages[final][chosen] > 0 and step.sample_prob == pytest.approx(float(stages[final][chosen]), rel=1e-5)
    figure = stages_figure(result, 0)
    assert any(f"filters keep {result.steps[0].kept} token(s)" in a.text for a in figure.layout.annotations)


@claim("Greedy translation, step by step · 逐步贪心翻译")
def _greedy_translation(values):
    result = _decoding(values)
    assert result.settings.strategy == "greedy" and result.text == "I love machine learning"
    shown = int(values["dec-index"])
    assert shown < len(result.steps)  # the step the scenario opens exists
    step = result.steps[shown]
    assert step.token_id == int(step.candidate_ids[np.argmax(step.stages[0])]) == int(step.candidate_ids[0])
    np.testing.assert_allclose(step.cross.sum(-1), 1.0, atol=1e-5)


@claim("Beam search tree · 束搜索树")
def _beam_tree(values):
    result = _decoding(values)
    tree = result.beams
    assert tree.num_beams == 4 and tree.kept_per_step == 8
    for step in range(tree.steps):
        running = [n for n in tree.nodes if n.step == step and n.status == "running"]
        assert len(running) == 4, step
    path = tree.path(tree.winner)
    assert tuple(tree.nodes[n].token_id for n in path) == result.token_ids
    assert tree.nodes[tree.winner].final_rank == 0
    assert sum(n.status == "pruned" for n in tree.nodes) > 0


# ---------------------------------------------------------------------------------------------
# Architecture, objectives, positions, order, experts


@claim("GPT-2 vs LLaMA blocks · GPT-2 与 LLaMA 的块")
def _gpt2_vs_llama(values):
    rows = {name: (a, b, differs) for name, a, b, differs in
            differences(describe(values["arch-left"]), describe(values["arch-right"]))}
    norm_a, norm_b, norm_differs = rows["norm"]
    act_a, act_b, act_differs = rows["activation"]
    assert norm_differs and norm_a.startswith("LayerNorm") and "RMSNorm" in norm_b
    assert act_differs and act_a.startswith("GELU") and act_b == "SwiGLU"
    assert rows["positions"][2] and "RoPE" in rows["positions"][1]
    table = architecture.run_architecture(values["arch-left"], values["arch-right"])[0]
    assert "RMSNorm" in table and "SwiGLU" in table


@claim("Training objectives · 训练目标")
def _training_objectives(values):
    text, second, seed = values["text"], values["obj-second"], int(values["obj-seed"])
    masked = objective_fns.masked_lm(values["obj-bert"], text, second, seed)
    chosen = [i for i, a in enumerate(masked.action) if a]
    assert chosen and all(masked.inputs[i] == "[MASK]" for i, a in enumerate(masked.action) if a == "mask")
    assert np.all(np.isfinite(masked.loss[chosen])) and np.isnan(np.delete(masked.loss, chosen)).all()
    assert masked.mean_loss == pytest.approx(float(masked.loss[chosen].mean()), rel=1e-5)
    assert 0 <= masked.next_sentence <= 1  # the second sentence makes a pair for NSP
    shifted = objective_fns.next_token(values["obj-gpt"], text)
    assert shifted.targets == shifted.tokens[1:]
    np.testing.assert_allclose(shifted.loss, -np.log(shifted.prob), rtol=1e-4)
    span = objective_fns.span_corruption(values["obj-t5"], text, seed)
    assert span.dropped.any() and span.targets[0] == "<extra_id_0>" and "<extra_id_0>" in span.inputs
    dropped = [tok for tok, gone in zip(span.tokens, span.dropped) if gone]
    assert [tok for tok in span.targets if not tok.startswith("<")] == dropped
    html = objectives.run_objectives(text, second, seed, values["obj-bert"], values["obj-gpt"], values["obj-t5"])[0]
    assert f"{masked.next_sentence:.3f}" in html


@claim("Position encodings · 位置编码")
def _position_encodings(values):
    data = positions.numbers(values, "")
    pe = np.asarray(data["sinusoidal"], dtype=np.float64)
    count, dim = pe.shape
    p, i = np.arange(count)[:, None], np.arange(dim // 2)[None, :]
    np.testing.assert_allclose(pe[:, 0::2], np.sin(p / 10000 ** (2 * i / dim)), atol=1e-6)
    np.testing.assert_allclose(pe[:, 1::2], np.cos(p / 10000 ** (2 * i / dim)), atol=1e-6)
    assert data["learned_bert"].shape[0] == data["learned_gpt"].shape[0] == count
    scores = np.asarray(data["rope_scores"], dtype=np.float64)
    # RoPE: the score of a query at m and a key at n depends only on m - n.
    np.testing.assert_allclose(scores[1:, 1:], scores[:-1, :-1], atol=1e-4 * np.abs(scores).max())
    buckets = np.asarray(data["t5_buckets"])
    assert np.array_equal(buckets[1:, 1:], buckets[:-1, :-1]) and len(np.unique(buckets)) > 4
    assert buckets[0, 1] != buckets[1, 0]  # the encoder's buckets tell left from right
    assert len(positions.run_positions(values["pos-dim"], values["pos-count"], values["pos-head"])) == 5


@claim("Order without positions · 没有位置时的顺序")
def _order_without_positions(values):
    seed = int(values["order-seed"])
    enc = mechanisms.order_experiment(values["order-enc"], values["text"], seed)
    dec = mechanisms.order_experiment(values["order-dec"], values["text"], seed)
    assert enc.family == "encoder" and dec.family == "decoder"
    assert enc.shuffled != enc.tokens
    assert enc.max_without_positions < 1e-5  # permutation-equivariant: shuffling only moves the outputs
    assert enc.max_with_positions > 1e-2 and dec.max_without_positions > 1e-2
    table = order.run_order(values["text"], seed, values["order-enc"], values["order-dec"])[0]
    assert f"**{enc.max_without_positions:.2e}**" in table and f"**{dec.max_without_positions:.2e}**" in table


@claim("Mixture of experts · 混合专家")
def _mixture_of_experts(values):
    result = mechanisms.moe_routing(values["moe-model"], values["text"])
    layers, tokens, experts = result.probs.shape
    assert values["moe-layer"] < layers and experts > result.top_k >= 1
    np.testing.assert_allclose(result.probs.sum(-1), 1.0, atol=1e-5)  # a distribution over the experts
    np.testing.assert_allclose(result.weights.sum(-1), 1.0, atol=1e-5)
    best = np.argsort(-result.probs, axis=-1)[..., :result.top_k]
    assert np.array_equal(np.sort(best, -1), np.sort(result.chosen, -1))
    assert np.all(result.load.sum(-1) == tokens * result.top_k)
    _, layer = moe.run_moe(values["moe-model"], values["text"], values["moe-layer"])
    assert layer["value"] == values["moe-layer"]


@claim("When does GPT know the next word? · GPT 何时知道下一个词")
def _logit_lens(values):
    from models.lens import logit_lens
    from ui.tabs import lens as lens_tab

    result = logit_lens(values["lens-model"], values["text"])
    assert values["lens-model"] == "mini-gpt" and (result.final_rank[-1] == 0).all()
    # The prediction forms inside the stack: at the embeddings most positions do not have it yet.
    assert (result.final_rank[0] > 0).mean() >= 0.5 and (result.final_prob[-1] > result.final_prob[0]).mean() >= 0.5
    drawn = lens_tab.run_lens(values["lens-model"], values["text"])
    np.testing.assert_allclose(np.asarray(drawn.data[0].z, dtype=np.float32), result.final_prob)


@claim("Why 'apples' and not 'bananas'? · 为什么是苹果而不是香蕉")
def _apples_not_bananas(values):
    from models.attribution import attribute
    from ui.tabs import attribution as attribution_tab

    assert (values["attr-target"], values["attr-contrast"]) == ("apples", "bananas")
    result = attribute(values["attr-model"], values["text"], values["attr-target"], values["attr-contrast"],
                       int(values["attr-steps"]))
    assert result.value > 0  # the model does prefer apples
    assert abs(result.completeness_gap) <= 0.02 * abs(result.value - result.baseline_value)
    summary, drawn = attribution_tab.run_attribution(values["attr-model"], values["text"], values["attr-target"],
                                                     values["attr-contrast"], values["attr-steps"])
    assert "apples" in summary and "bananas" in summary
    np.testing.assert_allclose(np.asarray(drawn.data[1].y, dtype=np.float32), result.integrated_gradients, atol=1e-5)


@claim("Which heads does GPT need? · GPT 需要哪些头")
def _heads_gpt_needs(values):
    from models.ablation import ablate
    from ui.tabs import ablation as ablation_tab

    result = ablate(values["abl-model"], values["text"], values["abl-heads"], values["abl-kind"])
    assert result.heads_off == ((0, 0), (1, 1)) and result.kl > 0
    assert result.single_drop.max() > 1e-3  # some head matters to the prediction
    table, drawn = ablation_tab.run_ablation(values["abl-model"], values["text"], values["abl-heads"],
                                             values["abl-kind"])
    np.testing.assert_allclose(np.asarray(drawn.data[0].z, dtype=np.float32), result.single_drop, atol=1e-6)
    assert "0:0, 1:1" in table and len(drawn.layout.shapes) == 2


@claim("Query meets key, after RoPE · 查询遇见键（RoPE 之后）")
def _query_meets_key(values):
    from models.qk import qk_vectors
    from ui.tabs import qk as qk_tab

    result = qk_vectors(values["qk-model"], values["text"], values["qk-kind"], values["qk-layer"], values["qk-head"],
                        values["qk-query"])
    row = traces.run_trace(values["qk-model"], values["text"]).attention("decoder").attn[1, 2, result.query]
    np.testing.assert_allclose(result.weights, row, atol=1e-6)
    *_, products, scores, _rope = qk_tab.run_qk(values["qk-model"], values["text"], values["qk-kind"], values["qk-layer"],
                                          values["qk-head"], values["qk-query"])
    np.testing.assert_allclose(np.asarray(products.data[0].z, dtype=np.float32), result.products, atol=1e-6)


@claim("Two texts, one lens: English beside Chinese · 两段文字，一个透镜：英文和中文并排")
def _two_texts_one_lens(values):
    from models.lens import logit_lens

    a, b = (logit_lens(values["lens-model"], values[key]) for key in ("text", "text-b"))
    # Each text's own language comes out at the last layer: English after A, Chinese after B.
    chinese = re.compile("[\u4e00-\u9fff]")
    assert not chinese.search(a.final_tokens[-1]) and a.final_tokens[-1].strip("▁").isalpha()
    assert chinese.search(b.final_tokens[-1])
    page = build_demo()
    beside = next(f for f in page.fns.values() if getattr(f.fn, "__name__", "") == "run_b"
                  and f.outputs[-1].elem_id == "lens-b")
    note, figure = beside.fn(None, values["text-b"], values["lens-model"], values["text"])  # no request: English
    assert figure["visible"] and "side by side" in note["value"]
    np.testing.assert_allclose(np.asarray(figure["value"].data[0].z, dtype=np.float32)[-1], b.final_prob[-1], atol=1e-6)


@claim("One text, two models: LLaMA − Mixtral · 同一段文字，两个模型")
def _two_models_one_text(values):
    from ui.tabs import pair as pair_tab

    a, b = (traces.run_trace(values[k], values["text"]) for k in ("pair-model", "pair-model-b"))
    result = analysis.attention_pair(a, b, "decoder", values["pair-layer"], values["pair-head"])
    assert result.difference is not None  # the two models share a tokenizer: the same tokens
    np.testing.assert_array_equal(result.difference, a.attention("decoder").attn[1, 0] - b.attention("decoder").attn[1, 0])
    *_, left, right, diff, note = pair_tab.run_pair(values["pair-model"], values["text"], values["text-b"],
                                                    values["pair-model-b"], "decoder", values["pair-layer"],
                                                    values["pair-head"])
    assert diff["visible"] and "Same tokens" in note
    z = np.asarray(diff["value"].data[0].z, dtype=np.float32)
    mask = a.attention("decoder").mask > 0
    np.testing.assert_allclose(z[mask], result.difference[mask], atol=1e-7)
