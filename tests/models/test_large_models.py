"""Every attention view on base-sized models: random-initialised 12-layer, 12-head, 768-wide
BERT, GPT-2 and T5 saved to a local folder and loaded the way a user's checkpoint is."""

import numpy as np
import pytest

from models import analysis
from training.tiny import build_base
from models.trace import run_trace
from viz.graphs import importance_figure, token_graph, token_graph_figure
from viz.heatmap import attention_heatmap
from viz.overview import overview_figure
from viz.patterns import pattern_map, rank_map

TEXT = "The keys to the cabinet are on the table"


@pytest.fixture(scope="module", params=["bert", "gpt", "t5"])
def large(request, tmp_path_factory):
    return request.param, build_base(request.param, tmp_path_factory.mktemp(f"base-{request.param}"))


def test_every_view_on_a_base_sized_model(large, allow_any_model):
    name, folder = large
    trace = run_trace(folder, TEXT)
    for attn in trace.attentions:
        assert attn.attn.shape[:2] == (12, 12)
        np.testing.assert_allclose(attn.attn.sum(-1), 1.0, atol=1e-4)
        report = analysis.attention_rank(attn, 1e-3)
        a = attn.attn[11, 11].astype(np.float64)
        assert report.rank[11, 11] == np.linalg.matrix_rank(a, rtol=1e-3)
        np.testing.assert_allclose(np.asarray(rank_map(report).data[0].text).astype(int), report.rank)
        fig = attention_heatmap(attn, 11, 11)
        z = np.asarray(fig.data[0].z)
        np.testing.assert_array_equal(z[attn.mask > 0], attn.attn[11, 11][attn.mask > 0])
        over = np.asarray(overview_figure(attn).data[0].z)
        q, k = attn.attn.shape[2:]
        np.testing.assert_array_equal(over[11 * (q + 1):11 * (q + 1) + q, 5 * (k + 1):5 * (k + 1) + k][attn.mask > 0],
                                      attn.attn[11, 5][attn.mask > 0])
    patterns = analysis.trace_patterns(trace)
    for kind, p in patterns.items():
        assert p.label.shape == (12, 12)
        assert np.asarray(pattern_map(p).data[0].customdata)[..., 0].tolist() == p.label.tolist()
    kind = analysis.self_attention_kinds(trace)[0]
    result = analysis.importance(trace.attention(kind))
    assert result.rollout.sum() == pytest.approx(1.0, abs=1e-6) and 0 <= result.flow.min() <= result.flow.max() <= 1 + 1e-8
    np.testing.assert_allclose(np.asarray(importance_figure(result).data[1].y), result.flow, rtol=1e-6)
    graph = token_graph(trace.attention(kind), 6, 6, 0.05)
    if kind == "decoder":
        assert all(k < q for q, k in graph.edges)
    assert token_graph_figure(graph).data
