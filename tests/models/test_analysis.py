"""Head patterns, rank, rollout and flow on hand-made attention, where the answer is known."""

import networkx as nx
import numpy as np
import pytest

from models import analysis, spectra
from models.data import AttentionSet


def _set(heads: list[np.ndarray], kind: str = "encoder", tokens=None) -> AttentionSet:
    n = heads[0].shape[0]
    tokens = tuple(tokens or (f"t{i}" for i in range(n)))
    mask = np.tril(np.ones((n, n), np.float32)) if kind == "decoder" else np.ones((n, n), np.float32)
    return AttentionSet(kind, np.stack(heads)[None].astype(np.float32), mask, tokens, tokens)


def _rows(matrix: np.ndarray) -> np.ndarray:
    return matrix / matrix.sum(1, keepdims=True)


def _previous(n: int, strength: float = 0.9) -> np.ndarray:
    a = np.tril(np.full((n, n), 1e-3))
    for i in range(n):
        a[i, max(i - 1, 0)] += strength
    return _rows(a)


def _sink(n: int) -> np.ndarray:
    a = np.tril(np.full((n, n), 0.02))
    a[:, 0] = 1.0
    return _rows(a)


def test_built_heads_get_their_labels():
    n = 10
    uniform_causal = _rows(np.tril(np.ones((n, n))))
    patterns = analysis.head_patterns(_set([_previous(n), _sink(n), _rows(np.eye(n) + 0.01), uniform_causal], "decoder"))
    assert list(patterns.label[0]) == ["previous-token", "sink", "diagonal", "broad"]
    assert patterns.previous[0, 0] == pytest.approx(np.mean([_previous(n)[i, i - 1] for i in range(1, n)]), rel=1e-6)
    assert patterns.score[0, 0] == patterns.previous[0, 0]
    assert patterns.vertical_key[0, 1] == 0
    assert patterns.entropy[0, 3] == pytest.approx(1.0, abs=1e-6)


def test_next_token_and_block_heads_in_an_encoder():
    n = 8
    nxt = np.full((n, n), 1e-3)
    for i in range(n):
        nxt[i, min(i + 1, n - 1)] += 1.0
    tokens = ["a", "b", "c", ".", "d", "e", "f", "g"]
    block = np.full((n, n), 1e-3)
    for i in range(n):
        for j in range(n):
            if i != j and (i < 3) == (j < 3) and 3 not in (i, j):
                block[i, j] = 1.0 / (3 if i < 3 else 4)  # spread inside the own segment
    block[3, 3] = 1.0
    patterns = analysis.head_patterns(_set([_rows(nxt), _rows(block)], "encoder", tokens))
    assert list(patterns.label[0]) == ["next-token", "block"]
    assert patterns.block[0, 1] > 0.9


def test_distance_is_the_weighted_mean_offset():
    n = 6
    patterns = analysis.head_patterns(_set([_previous(n, strength=1e6)], "decoder"))
    assert patterns.distance[0, 0] == pytest.approx(1.0, abs=1e-4)  # rows 1.. look one back


def test_head_patterns_refuse_cross_attention():
    cross = AttentionSet("cross", np.full((1, 1, 2, 3), 1 / 3, np.float32), np.ones((2, 3), np.float32),
                         ("x", "y"), ("a", "b", "c"))
    with pytest.raises(ValueError, match="self-attention"):
        analysis.head_patterns(cross)


@pytest.mark.parametrize("tolerance", [1e-2, 1e-4, 1e-7])
def test_rank_equals_numpy_matrix_rank(tolerance):
    rng = np.random.default_rng(1)
    heads = [_rows(np.exp(rng.normal(scale=s, size=(12, 12))) * np.tril(np.ones((12, 12)))) for s in (1, 6, 12)]
    heads.append(_rows(np.ones((12, 12))) + 0 * heads[0])  # rank one
    report = analysis.attention_rank(_set(heads, "decoder"), tolerance)
    for h, a in enumerate(heads):
        expected = np.linalg.matrix_rank(a.astype(np.float32).astype(np.float64), rtol=tolerance)
        assert report.rank[0, h] == expected
        assert np.allclose(report.singular_values[0, h], np.linalg.svd(a.astype(np.float32).astype(np.float64), compute_uv=False))
    assert report.rank[0, 3] == 1
    assert report.effective_rank[0, 3] == pytest.approx(1.0, abs=1e-6)


def test_rank_reads_only_real_tokens_when_the_text_is_padded():
    """A padded position (no query row allowed, no key allowed) is left out: the spectrum is the
    real tokens' block, and a causal block is still found triangular."""
    n, real = 7, 5
    rng = np.random.default_rng(3)
    mask = np.tril(np.ones((n, n), np.float32))
    mask[real:, :] = 0
    mask[:, real:] = 0
    block = _rows(np.tril(rng.random((real, real)) + 0.1))
    weights = np.zeros((1, 1, n, n), np.float32)
    weights[0, 0, :real, :real] = block
    report = analysis.attention_rank(AttentionSet("decoder", weights, mask, tuple("abcdefg"), tuple("abcdefg")), 1e-6)
    stored = block.astype(np.float32).astype(np.float64)
    assert report.shape == (real, real) and report.triangular[0, 0] and report.full_rank_exact[0, 0]
    np.testing.assert_allclose(report.singular_values[0, 0], np.linalg.svd(stored, compute_uv=False), rtol=1e-12)
    assert report.rank[0, 0] == np.linalg.matrix_rank(stored, rtol=1e-6)


def test_causal_matrix_is_full_rank_until_its_diagonal_is_tiny():
    n = 8
    a = _rows(np.tril(np.ones((n, n))) + 2 * np.eye(n))  # lower triangular, diagonal well above 0
    report = analysis.attention_rank(_set([a], "decoder"), 1e-6)
    assert report.rank[0, 0] == n and report.min_diagonal[0, 0] > 0.1
    assert np.prod(np.diag(a)) > 0  # det of a triangular matrix: the diagonal's product
    # A previous-token head is triangular with a positive diagonal too, but its diagonal is
    # ~1e-3: the smallest singular value falls like 1e-3^n, so numerically it loses rank.
    shifted = analysis.attention_rank(_set([_previous(n)], "decoder"), 1e-6)
    assert shifted.rank[0, 0] < n and shifted.min_diagonal[0, 0] > 0
    tiny = np.tril(np.full((n, n), 1e-12))
    tiny[:, 0] = 1.0
    tiny = _rows(tiny)  # still triangular with a positive diagonal, but ~1e-12 there
    report = analysis.attention_rank(_set([tiny], "decoder"), 1e-6)
    assert report.rank[0, 0] < n and report.min_diagonal[0, 0] < 1e-10


def test_effective_rank_of_the_identity_is_n():
    report = analysis.attention_rank(_set([np.eye(5)]), 1e-3)
    assert report.effective_rank[0, 0] == pytest.approx(5.0)
    assert report.rank[0, 0] == 5


@pytest.mark.parametrize("tolerance", [0, 1, -1, float("nan")])
def test_rank_refuses_bad_tolerance(tolerance):
    with pytest.raises(ValueError, match="tolerance"):
        analysis.attention_rank(_set([np.eye(3)]), tolerance)


def _two_layers() -> np.ndarray:
    first = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    second = np.array([[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.6, 0.1, 0.3]])
    return np.stack([first[None], second[None]]).astype(np.float32)  # (layers, heads=1, 3, 3)


def test_rollout_by_hand():
    attn = _two_layers()
    r1 = 0.5 * attn[0, 0] + 0.5 * np.eye(3)
    r2 = 0.5 * attn[1, 0] + 0.5 * np.eye(3)
    assert np.allclose(analysis.rollout(attn), r2 @ r1)
    assert np.allclose(analysis.rollout(attn).sum(1), 1.0)
    assert np.allclose(analysis.rollout(attn[:1]), r1)


def test_flow_by_hand():
    attn = _two_layers()
    r1 = 0.5 * attn[0, 0].astype(np.float64) + 0.5 * np.eye(3)
    r2 = 0.5 * attn[1, 0].astype(np.float64) + 0.5 * np.eye(3)
    # One layer: the flow to j is the single edge's capacity.
    assert np.allclose(analysis.flow(attn[:1], 2), r1[2], atol=1e-8)
    # Two layers, one sink at a time: every path q -> k -> j is disjoint except at q, so the
    # flow is sum over k of min(capacity q->k, capacity k->j).
    expected = [sum(min(r2[2, k], r1[k, j]) for k in range(3)) for j in range(3)]
    assert np.allclose(analysis.flow(attn, 2), expected, atol=1e-8)


def _layered_graph(attn: np.ndarray) -> nx.DiGraph:
    """Abnar and Zuidema's layered graph, built here so that the reference owes nothing to
    analysis: node (l, i) is token i after layer l, and the edge (l, i) -> (l - 1, j) has the
    capacity R[i, j] of R = 0.5 A + 0.5 I (A averaged over heads, rows renormalised)."""
    layers, n = attn.shape[0], attn.shape[-1]
    graph = nx.DiGraph()
    for l in range(1, layers + 1):
        residual = 0.5 * attn[l - 1].astype(np.float64).mean(axis=0) + 0.5 * np.eye(n)
        residual /= residual.sum(axis=1, keepdims=True)
        for i in range(n):
            for j in range(n):
                graph.add_edge((l, i), (l - 1, j), capacity=float(residual[i, j]))
    return graph


def _random_attention(shape: tuple[int, ...], seed: int) -> np.ndarray:
    attn = np.random.default_rng(seed).random(shape).astype(np.float32)
    return attn / attn.sum(-1, keepdims=True)


def test_flow_equals_networkx_maximum_flow():
    attn = _random_attention((3, 2, 5, 5), seed=3)
    graph = _layered_graph(attn)
    expected = [nx.maximum_flow(graph, (3, 1), (0, j))[0] for j in range(5)]
    assert np.allclose(analysis.flow(attn, 1), expected, atol=1e-7)


def test_importance_defaults_and_bounds():
    attn = _set([_previous(5)], "decoder")
    result = analysis.importance(attn)
    assert result.position == 4 and result.rollout.sum() == pytest.approx(1.0)
    assert result.flow.max() <= 1.0 + 1e-9
    assert result.rollout[4:].sum() > 0 and np.all(result.flow >= 0)
    # Flow on rollout's scale: the raw max flow divided by its sum.
    np.testing.assert_allclose(result.flow_raw, analysis.flow(attn.attn, 4), atol=1e-12)
    np.testing.assert_allclose(result.flow, result.flow_raw / result.flow_raw.sum(), atol=1e-12)
    assert result.flow.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="Position 9"):
        analysis.importance(attn, 9)


def test_flow_past_its_work_limit_is_skipped_with_a_notice_and_rollout_kept(monkeypatch):
    attn = _set([_previous(6)] * 2, "decoder")  # 1 layer x 2 heads; flow_work(1, 6) = 6 x 6
    assert analysis.flow_work(3, 6) == 6 * (2 * 36 + 6)
    full = analysis.importance(attn)
    monkeypatch.setenv(analysis.FLOW_WORK_ENV, str(analysis.flow_work(attn.layers, 6) - 1))
    monkeypatch.setattr(analysis, "flow", lambda *args: pytest.fail("flow ran past its limit"))
    skipped = analysis.importance(attn)
    assert skipped.flow is None and skipped.flow_raw is None
    np.testing.assert_array_equal(skipped.rollout, full.rollout)  # rollout is cheap: always there
    (notice,) = skipped.notices
    assert "here 6 problems" in notice and analysis.FLOW_WORK_ENV in notice and "at most 5 tokens" in notice
    assert analysis.flow_work(attn.layers, 5) <= analysis.flow_max_work() < analysis.flow_work(attn.layers, 6)
    from ui.i18n import in_language

    assert in_language(notice, "zh").startswith("没有计算注意力流") and "至多 5 个词元" in in_language(notice, "zh")


def test_a_causal_head_is_full_rank_exactly_by_its_diagonal_whatever_its_numerical_rank():
    n = 8
    eps32 = np.finfo(np.float32).eps
    tiny = np.tril(np.full((n, n), 1e-12))
    tiny[:, 0] = 1.0
    heads = [_previous(n), _rows(tiny), _rows(np.tril(np.ones((n, n))) + 2 * np.eye(n))]
    report = analysis.attention_rank(_set(heads, "decoder"), 1e-6)
    assert report.triangular[0].tolist() == [True, True, True]
    assert report.full_rank_exact[0].tolist() == [True, True, True]  # every diagonal weight is > 0
    for h, a in enumerate(heads):
        stored = a.astype(np.float32).astype(np.float64)
        sign, log_abs = np.linalg.slogdet(stored)
        assert report.log_det[0, h] == pytest.approx(np.log(np.diag(stored)).sum(), rel=1e-12)
        assert sign == 1 and report.log_det[0, h] == pytest.approx(log_abs, rel=1e-6)
    # Numerically the first two are close to singular: their smallest singular value sits below
    # what float32 weights can resolve, though neither matrix is singular.
    assert report.float_tolerance == pytest.approx(n * eps32)
    for h, a in enumerate(heads):
        stored = a.astype(np.float32).astype(np.float64)
        assert report.float_rank[0, h] == np.linalg.matrix_rank(stored, rtol=n * eps32)
    assert report.float_rank[0, :2].tolist() == [n - 1, 1] and report.rank[0, :2].tolist() == [n - 1, 1]
    assert report.float_rank[0, 2] == n and report.rank[0, 2] == n


def test_the_exact_argument_needs_a_triangle_and_a_positive_diagonal():
    n = 5
    first_column = np.zeros((n, n))
    first_column[:, 0] = 1.0  # causal, but every row after the first puts nothing on itself
    dense = _rows(np.random.default_rng(2).random((n, n)) + 0.1)
    causal = analysis.attention_rank(_set([first_column], "decoder"))
    assert causal.triangular[0, 0] and not causal.full_rank_exact[0, 0]
    assert causal.log_det[0, 0] == -np.inf and causal.rank[0, 0] == 1
    encoder = analysis.attention_rank(_set([dense], "encoder"))
    assert not encoder.triangular[0, 0] and not encoder.full_rank_exact[0, 0]
    assert np.isnan(encoder.log_det[0, 0]) and encoder.float_rank[0, 0] == n
    cross = AttentionSet("cross", np.full((1, 1, 2, 3), 1 / 3, np.float32), np.ones((2, 3), np.float32),
                         ("x", "y"), ("a", "b", "c"))
    report = analysis.attention_rank(cross)
    assert not report.triangular.any() and report.float_tolerance == pytest.approx(3 * np.finfo(np.float32).eps)


def test_rank_json_carries_the_exact_argument():
    import json
    from types import SimpleNamespace

    n = 4
    decoder = analysis.attention_rank(_set([_previous(n)], "decoder"), 1e-4)
    encoder = analysis.attention_rank(_set([_rows(np.ones((n, n)) + np.eye(n))], "encoder"), 1e-4)
    trace = SimpleNamespace(model_key="m", tokens=tuple("abcd"))
    data = json.loads(json.dumps(analysis.rank_to_json(trace, {"decoder": decoder, "encoder": encoder})))
    assert data["decoder"]["triangular"] == [[True]] and data["decoder"]["full_rank_exact"] == [[True]]
    assert data["decoder"]["log_det"][0][0] == pytest.approx(decoder.log_det[0, 0])
    assert data["encoder"]["log_det"] == [[None]] and data["encoder"]["full_rank_exact"] == [[False]]
    assert data["encoder"]["float_rank"] == [[n]] and data["decoder"]["float_tolerance"] == decoder.float_tolerance
    assert data["decoder"]["rank"] == decoder.rank.tolist()  # the fields the API had stay


def test_flow_capacities_are_the_layered_graph_below_the_query():
    attn = _random_attention((3, 2, 4, 4), seed=5)
    graph, position = _layered_graph(attn), 2
    layers, n = 3, 4
    built = analysis.flow_capacities(attn, position).toarray()
    expected = np.zeros_like(built)
    for (l, i), (_, j), data in graph.edges(data=True):
        if l < layers or i == position:  # the last layer keeps only the query's node
            expected[l * n + i, (l - 1) * n + j] = np.floor(data["capacity"] * analysis.FLOW_SCALE)
    np.testing.assert_array_equal(built, expected)
    assert built[layers * n + position].sum() > 0 and not built[layers * n + (position + 1) % n].any()


def test_the_split_svd_gives_numpys_bits_and_leaves_blas_as_it_was(monkeypatch):
    from threadpoolctl import threadpool_info

    before = [info["num_threads"] for info in threadpool_info()]
    monkeypatch.setattr(spectra, "_blas_threads", lambda: 3)  # split even where the machine has one core
    rng = np.random.default_rng(4)
    stack = rng.random((2, 6, 300, 300))  # 1.08 M weights: past the size where the stack is split
    assert stack.size >= spectra._SPLIT_SVD
    np.testing.assert_array_equal(spectra.singular_values(stack), np.linalg.svd(stack, compute_uv=False))
    small = stack[:1, :2, :40, :30]
    np.testing.assert_array_equal(spectra.singular_values(small), np.linalg.svd(small, compute_uv=False))
    assert [info["num_threads"] for info in threadpool_info()] == before
