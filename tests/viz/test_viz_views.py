"""The analysis figures (overview, head patterns, rank, graphs) and the rank summary carry exactly
the data's numbers; a column's outputs show what the model said."""

import dataclasses
import json

import numpy as np
import pytest

from models import analysis
from models.data import AttentionSet
from models.data import Trace
from viz import graphs, overview, patterns
from viz.tables import rank_lesson_markdown, rank_summary_markdown
from viz.tokens import outputs_html


def _set(kind="decoder", tokens=("the", "cat", "the", "mouse", "."), layers=3, heads=4, seed=0):
    n = len(tokens)
    rng = np.random.default_rng(seed)
    mask = np.tril(np.ones((n, n), np.float32)) if kind == "decoder" else np.ones((n, n), np.float32)
    scores = np.where(mask > 0, rng.normal(scale=2, size=(layers, heads, n, n)), -np.inf)
    attn = np.exp(scores - scores.max(-1, keepdims=True))
    attn = (attn / attn.sum(-1, keepdims=True)).astype(np.float32)
    return AttentionSet(kind, attn, mask, tuple(tokens), tuple(tokens))


def test_overview_tiles_are_the_heads():
    a = _set()
    fig = overview.overview_figure(a, "m")
    z = np.asarray(fig.data[0].z)
    n = len(a.query_tokens)
    for layer in range(a.layers):
        for head in range(a.heads):
            tile = z[layer * (n + 1):layer * (n + 1) + n, head * (n + 1):head * (n + 1) + n]
            np.testing.assert_array_equal(tile[a.mask > 0], a.attn[layer, head][a.mask > 0])
            assert np.all(np.isnan(tile[a.mask == 0]))
    assert np.all(np.isnan(z[n, :])) and np.all(np.isnan(z[:, n]))  # gaps between tiles
    assert len(fig.data) == 1 and z.dtype == np.float32


def test_long_texts_are_shown_in_blocks_of_their_largest_weight():
    a = _set(kind="decoder", tokens=tuple(f"t{i}" for i in range(130)), layers=2, heads=3)
    assert overview.blocks(64) == [(i, i + 1) for i in range(64)]
    spans = overview.blocks(130)
    assert spans[0] == (0, 3) and spans[-1] == (129, 130) and len(spans) == 44
    fig = overview.overview_figure(a)
    z = np.asarray(fig.data[0].z)
    r = len(spans)
    assert z.shape == (2 * (r + 1) - 1, 3 * (r + 1) - 1)
    allowed = np.where(a.mask > 0, a.attn, -np.inf)
    for layer, head, (i, (qa, qb)), (j, (ka, kb)) in [(1, 2, (0, spans[0]), (0, spans[0])), (0, 1, (5, spans[5]), (2, spans[2])),
                                                     (1, 0, (43, spans[43]), (43, spans[43]))]:
        cell = z[layer * (r + 1) + i, head * (r + 1) + j]
        assert cell == allowed[layer, head, qa:qb, ka:kb].max()
    assert np.isnan(z[0, 5])  # layer 0, head 0, block (q0-2, k15-17): above the causal diagonal, all masked
    assert "blocks of 3 x 3 tokens" in fig.layout.title.text and "largest weight" in fig.data[0].hovertemplate
    x, y = list(fig.data[0].x), list(fig.data[0].y)
    assert y[0] == "L0 q0-2" and x[(r + 1) + 1] == "H1 k3-5"
    assert overview.parse_pick(x[(r + 1) + 1], y[(r + 1) + 5]) == (1, 1)


def test_overview_of_a_base_model_at_512_tokens_stays_small():
    n = 512
    attn = np.full((12, 12, n, n), 1 / n, np.float32)
    fig = overview.overview_figure(AttentionSet("encoder", attn, np.ones((n, n), np.float32), ("t",) * n, ("t",) * n))
    assert np.asarray(fig.data[0].z).size <= (12 * 65) ** 2
    assert len(fig.to_json()) < 5_000_000


def test_clicked_cell_names_its_head():
    a = _set()
    fig = overview.overview_figure(a)
    x, y = list(fig.data[0].x), list(fig.data[0].y)
    n = len(a.query_tokens)
    assert overview.parse_pick(x[3 * (n + 1) + 2], y[2 * (n + 1) + 1]) == (2, 3)
    with pytest.raises(ValueError, match="gap"):
        overview.parse_pick(x[n], y[0])
    assert len(set(x)) == len(x) and len(set(y)) == len(y)


def test_pattern_map_carries_labels_and_metrics():
    a = _set()
    p = analysis.head_patterns(a)
    fig = patterns.pattern_map(p, "m")
    heat = fig.data[0]
    custom = np.asarray(heat.customdata)
    assert custom[..., 0].tolist() == p.label.tolist()
    for i, name in enumerate(patterns.PATTERN_FIELDS):
        np.testing.assert_allclose(custom[..., 2 + i].astype(float), np.nan_to_num(getattr(p, name), nan=-1.0), rtol=1e-6)
    assert {t.name.split(":")[0] for t in fig.data[1:]} == set(p.label.ravel())


def test_rank_figures_carry_rank_and_singular_values():
    enc, dec = analysis.attention_rank(_set("encoder"), 1e-3), analysis.attention_rank(_set("decoder"), 1e-3)
    fig = patterns.rank_map(dec, "m")
    assert np.asarray(fig.data[0].text).astype(int).tolist() == dec.rank.tolist()
    np.testing.assert_allclose(np.asarray(fig.data[0].z), dec.rank / 5, rtol=1e-6)
    eff = patterns.effective_rank_map(enc)
    np.testing.assert_allclose(np.asarray(eff.data[0].z), enc.effective_rank, rtol=1e-6)
    spectrum = patterns.spectrum_figure([("enc", enc), ("dec", dec)], 1, 2)
    np.testing.assert_allclose(np.asarray(spectrum.data[0].y), enc.singular_values[1, 2])
    np.testing.assert_allclose(np.asarray(spectrum.data[2].y), dec.singular_values[1, 2])
    assert spectrum.data[1].y[0] == pytest.approx(1e-3 * enc.singular_values[1, 2, 0])



def test_rank_map_states_the_exact_argument_apart_from_the_numerical_rank():
    enc, dec = analysis.attention_rank(_set("encoder"), 1e-3), analysis.attention_rank(_set("decoder"), 1e-3)
    causal = patterns.rank_map(dec, "m")
    assert causal.layout.title.subtitle.text.startswith("exactly full rank in 12 of 12 heads")
    custom = np.asarray(causal.data[0].customdata)
    np.testing.assert_array_equal(custom[..., 4].astype(float), dec.float_rank)
    assert all(w.startswith("full rank exactly") for w in custom[..., 5].ravel())
    assert f"log det = {dec.log_det[1, 2]:.1f}" in custom[1, 2, 5]
    assert f"{dec.float_tolerance:.1e}" in causal.data[0].hovertemplate
    bidirectional = patterns.rank_map(enc, "m")
    assert bidirectional.layout.title.subtitle.text.startswith("not triangular")
    assert set(np.asarray(bidirectional.data[0].customdata)[..., 5].ravel()) == {"not triangular: no exact argument"}
    broken = _set("decoder")
    weights = broken.attn.copy()
    weights[0, 1, 3, 3] = 0.0  # a diagonal weight that underflowed: the argument says nothing there
    report = analysis.attention_rank(AttentionSet("decoder", weights, broken.mask, broken.query_tokens,
                                                  broken.key_tokens))
    assert report.full_rank_exact.sum() == 11 and report.log_det[0, 1] == -np.inf
    fig = patterns.rank_map(report)
    assert fig.layout.title.subtitle.text.startswith("exactly full rank in 11 of 12 heads; in 1 more")
    assert np.asarray(fig.data[0].customdata)[0, 1, 5].startswith("triangular, but a diagonal weight is 0")


def test_rank_summary_puts_the_exact_argument_before_the_numbers():
    enc, dec = analysis.attention_rank(_set("encoder"), 1e-3), analysis.attention_rank(_set("decoder"), 1e-3)
    reports = [("<E>", enc), ("D", dec)]
    text = rank_lesson_markdown(reports)
    exact, numbers = text.split("**Numerically**")
    assert "**D** (decoder, n = 5): exactly full rank in 12 of 12 heads" in exact
    assert f"smallest a[i, i] {dec.min_diagonal.min():.1e}" in exact
    assert f"log det from {dec.log_det.min():.1f} to {dec.log_det.max():.1f}" in exact
    assert "**&lt;E&gt;** (encoder, n = 5): not triangular" in exact and "<E>" not in text
    for name, r in (("&lt;E&gt;", enc), ("D", dec)):
        full = int((r.float_rank == 5).sum())
        smallest = (r.singular_values[..., -1] / r.singular_values[..., 0]).min()
        assert f"**{name}**: {full} of 12 heads full rank at float32 precision" in numbers
        assert f"= {r.float_tolerance:.1e} σ1" in numbers and f"smallest σmin / σ1 = {smallest:.1e}" in numbers
    assert numbers.endswith(rank_summary_markdown(reports))


def test_outputs_show_next_sentence_prediction_for_a_pair():
    pair = dict(model_key="m", model_name="M", family="encoder", tokens=("[CLS]", "a", "[SEP]", "b", "[SEP]"),
                token_ids=np.arange(5), special=np.array([True, False, True, False, True]), attentions=())
    shown = outputs_html(Trace(**pair, next_sentence=0.96027))
    assert "P(IsNext) = <b>0.960</b>" in shown and "as the next one" in shown
    assert "as a random one" in outputs_html(Trace(**pair, next_sentence=0.1))
    assert "P(IsNext)" not in outputs_html(Trace(**pair))  # no pair, no next-sentence prediction
    decoder = outputs_html(Trace(**{**pair, "family": "decoder"}, next_sentence=0.9))
    assert "P(IsNext)" not in decoder


def test_decoder_token_graph_points_backwards_only():
    a = _set("decoder")
    g = graphs.token_graph(a, 1, 2, 0.1)
    weights = a.attn[1, 2]
    expected = {(q, k) for q in range(5) for k in range(5) if q != k and weights[q, k] >= 0.1}
    assert set(g.edges) == expected and expected
    assert all(k < q for q, k in g.edges)
    assert all(g.edges[q, k]["weight"] == pytest.approx(float(weights[q, k])) for q, k in g.edges)
    fig = graphs.token_graph_figure(g)
    mids = [t for t in fig.data if t.name and t.name.startswith("edges")]
    assert [t.name for t in mids] == ["edges to an earlier token"]
    assert sorted(c[2] for c in mids[0].customdata) == sorted(g.edges[e]["weight"] for e in g.edges)


def test_encoder_token_graph_has_forward_edges_and_threshold_cuts():
    a = _set("encoder")
    g = graphs.token_graph(a, 0, 0, 0.0)
    assert g.number_of_edges() == 5 * 4 and any(k > q for q, k in g.edges)
    assert graphs.token_graph(a, 0, 0, 1.0).number_of_edges() == 0
    with pytest.raises(ValueError, match="threshold"):
        graphs.token_graph(a, 0, 0, 2.0)


def test_importance_figure_bars_equal_rollout_and_flow():
    a = _set("decoder")
    result = analysis.importance(a)
    fig = graphs.importance_figure(result)
    np.testing.assert_allclose(np.asarray(fig.data[0].y), result.rollout, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(fig.data[1].y), result.flow, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(fig.data[1].customdata), result.flow_raw, rtol=1e-6)
    skipped = dataclasses.replace(result, flow=None, flow_raw=None, notices=("too long",))
    only = graphs.importance_figure(skipped)
    assert len(only.data) == 1 and "rollout only" in only.layout.title.text
    np.testing.assert_allclose(np.asarray(only.data[0].y), result.rollout, rtol=1e-6)


def test_view_figures_serialise():
    a = _set("encoder")
    for fig in (overview.overview_figure(a), patterns.pattern_map(analysis.head_patterns(a)),
                patterns.rank_map(analysis.attention_rank(a)), graphs.token_graph_figure(graphs.token_graph(a, 0, 0, 0.2)),
                graphs.importance_figure(analysis.importance(a))):
        json.loads(fig.to_json())


def test_lens_figure_carries_the_lens_numbers():
    from models.lens import logit_lens
    from viz.lens import lens_figure

    result = logit_lens("mini-gpt", "I like eating apples")
    fig = lens_figure(result)
    (heat,) = fig.data
    np.testing.assert_allclose(np.asarray(heat.z, dtype=np.float32), result.final_prob)
    assert list(heat.y)[0] == "embeddings" and len(heat.y) == result.top_ids.shape[0]
    assert [row[0] for row in heat.text] == [layer[0][0] for layer in result.top_tokens]
    from viz.style import plotly_text

    assert list(heat.x) == [f"{p}: {plotly_text(result.tokens[p])}" for p in result.positions]
    assert [c[1] for c in heat.customdata[0]] == [plotly_text(tok) for tok in result.final_tokens]
    assert "%{customdata[1]}" in heat.hovertemplate


def test_ablation_figure_and_table_carry_the_ablation():
    from models.ablation import ablate
    from viz.lens import ablation_figure
    from viz.tables import ablation_markdown

    result = ablate("mini-gpt", "我喜欢吃苹果，他喜欢吃", "0:0, 1:1")
    fig = ablation_figure(result)
    np.testing.assert_array_equal(np.asarray(fig.data[0].z, dtype=np.float32), result.single_drop)
    assert [(s.y0 + 0.5, s.x0 + 0.5) for s in fig.layout.shapes] == [(0, 0), (1, 1)]
    table = ablation_markdown(result)
    assert "0:0, 1:1" in table and f"{result.prediction_prob[1]:.4f}" in table and f"{result.base_probs[0]:.3f}" in table
    assert result.base_text in table and result.ablated_text in table


def test_attribution_figure_carries_both_scores_and_the_check():
    from models.attribution import attribute
    from viz.lens import attribution_figure

    result = attribute("mini-gpt", "我喜欢吃苹果，他喜欢吃", steps=16)
    fig = attribution_figure(result)
    np.testing.assert_array_equal(np.asarray(fig.data[0].y, dtype=np.float32), result.gradient_x_input)
    np.testing.assert_array_equal(np.asarray(fig.data[1].y, dtype=np.float32), result.integrated_gradients)
    assert f"{result.value - result.baseline_value:.4f}" in fig.layout.title.text and "16" in fig.data[1].name
    from viz.tables import attribution_markdown

    summary = attribution_markdown(result)
    assert result.target in summary and f"{result.value:.4f}" in summary and "padding" in summary


def test_qk_figures_carry_the_products_and_scores():
    from models.qk import qk_vectors
    from viz.lens import qk_figures

    result = qk_vectors("mini-t5", "translate Chinese to English: 我喜欢机器学习", "encoder", 1, 2, 3)
    products, scores = qk_figures(result)
    np.testing.assert_array_equal(np.asarray(products.data[0].z, dtype=np.float32), result.products)
    shown = np.asarray(scores.data[0].y, dtype=np.float32)
    np.testing.assert_array_equal(shown[result.allowed], result.scores[result.allowed])
    np.testing.assert_allclose(np.asarray(scores.data[0].customdata)[:, 2], result.bias, atol=1e-7)
    assert "relative position bias" in scores.layout.title.text


def test_rope_figure_carries_the_angles_and_both_scores_and_only_for_rope():
    from models.qk import qk_vectors
    from viz.lens import rope_figure

    result = qk_vectors("mini-llama", "The cat chases a mouse", "decoder", 1, 0, 2)
    fig = rope_figure(result)
    angles, rotated, plain = fig.data
    np.testing.assert_array_equal(np.asarray(angles.z, dtype=np.float32), result.key_angles)
    for bars, values in ((rotated, result.scores), (plain, result.scores_unrotated)):
        y = np.asarray(bars.y, dtype=np.float32)
        np.testing.assert_array_equal(y[result.allowed], values[result.allowed])
        assert np.isnan(y[~result.allowed]).all() and (~result.allowed).sum() == len(y) - 3  # causal: keys 0-2
    assert rope_figure(qk_vectors("mini-gpt", "The cat chases a mouse")) is None


def test_a_pipe_in_a_token_stays_inside_its_table_cell():
    from viz.tables import cell_text

    assert cell_text("<|endoftext|>") == "&lt;&#124;endoftext&#124;&gt;"


def test_difference_heatmap_carries_a_minus_b_and_leaves_masked_cells_empty():
    from viz.heatmap import difference_heatmap

    a = _set("decoder")
    diff = np.random.default_rng(0).normal(size=a.attn.shape[-2:]).astype(np.float32)
    fig = difference_heatmap(a, diff, "A − B")
    z = np.asarray(fig.data[0].z, dtype=np.float32)
    allowed = a.mask > 0
    np.testing.assert_array_equal(z[allowed], diff[allowed])
    assert np.isnan(z[~allowed]).all() and fig.data[0].zmin == -fig.data[0].zmax
