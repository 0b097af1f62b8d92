import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models.data import AttentionSet, Candidate, Prediction, Trace
from viz.heatmap import attention_heatmap, mask_heatmap
from viz.tokens import outputs_html, tokens_html

ROOT = Path(__file__).resolve().parents[2]


def _causal_set(tokens=("the", "cat", "the", "mouse"), layers=2, heads=3, seed=0):
    n = len(tokens)
    rng = np.random.default_rng(seed)
    mask = np.tril(np.ones((n, n), np.float32))
    scores = rng.normal(size=(layers, heads, n, n)).astype(np.float32)
    scores = np.where(mask > 0, scores, -np.inf)
    attn = np.exp(scores - scores.max(-1, keepdims=True))
    attn = (attn / attn.sum(-1, keepdims=True)).astype(np.float32)
    return AttentionSet("decoder", attn, mask, tuple(tokens), tuple(tokens))


def test_heatmap_carries_the_same_values_as_the_data():
    a = _causal_set()
    fig = attention_heatmap(a, layer=1, head=2)
    weights, masked = fig.data
    z = np.asarray(weights.z, dtype=np.float32)
    allowed = a.mask > 0
    assert np.array_equal(z[allowed], a.attn[1, 2][allowed])
    assert np.all(np.isnan(z[~allowed]))
    mz = np.asarray(masked.z)
    assert np.all(mz[~allowed] == 1) and np.all(np.isnan(mz[allowed]))
    assert "layer 1" in fig.layout.title.text and "head 2" in fig.layout.title.text


def test_repeated_tokens_keep_their_own_rows_and_columns():
    a = _causal_set(tokens=("the", "cat", "the", "mouse"))
    fig = attention_heatmap(a, 0, 0)
    assert list(fig.layout.xaxis.ticktext) == ["the", "cat", "the", "mouse"]
    assert list(fig.layout.xaxis.tickvals) == ["0: the", "1: cat", "2: the", "3: mouse"]
    assert list(fig.layout.yaxis.ticktext) == ["the", "cat", "the", "mouse"]
    assert fig.layout.xaxis.type == fig.layout.yaxis.type == "category"


def test_hover_names_query_and_key_tokens_without_a_string_per_cell():
    a = _causal_set()
    for fig in (attention_heatmap(a, 0, 0), mask_heatmap(a)):
        for trace in fig.data:
            assert list(trace.y)[3] == "3: mouse" and list(trace.x)[1] == "1: cat"
            assert "%{y}" in trace.hovertemplate and "%{x}" in trace.hovertemplate
            assert trace.customdata is None and trace.text is None


def test_mask_figure_equals_the_mask():
    a = _causal_set()
    fig = mask_heatmap(a)
    allowed, masked = (np.asarray(trace.z, dtype=np.float32) for trace in fig.data)
    assert np.array_equal(np.nan_to_num(allowed), a.mask) and np.array_equal(np.nan_to_num(masked), 1 - a.mask)
    assert [trace.name for trace in fig.data] == ["may attend", "masked"]
    assert "may attend" in fig.data[0].hovertemplate and "masked" in fig.data[1].hovertemplate
    assert "10 of 16 cells allowed" in fig.layout.title.text


def test_a_full_mask_sends_no_empty_masked_layer():
    n = 3
    a = AttentionSet("encoder", np.full((1, 1, n, n), 1 / n, np.float32), np.ones((n, n), np.float32),
                     ("a", "b", "c"), ("a", "b", "c"))
    assert [trace.name for trace in attention_heatmap(a, 0, 0).data] == ["attention"]
    assert [trace.name for trace in mask_heatmap(a).data] == ["may attend"]
    np.testing.assert_array_equal(np.asarray(mask_heatmap(a).data[0].z), np.ones((n, n)))


def test_cross_attention_is_not_square():
    attn = np.full((1, 2, 3, 5), 0.2, np.float32)
    a = AttentionSet("cross", attn, np.ones((3, 5), np.float32), ("a", "b", "c"), tuple("vwxyz"))
    fig = attention_heatmap(a, 0, 1)
    assert np.asarray(fig.data[0].z).shape == (3, 5)
    assert "cross-attention" in fig.layout.title.text


@pytest.mark.parametrize("layer,head", [(2, 0), (0, 3), (-1, 0)])
def test_out_of_range_head_is_refused(layer, head):
    with pytest.raises(ValueError, match="does not exist"):
        attention_heatmap(_causal_set(), layer, head)


def test_figures_serialise_to_json():
    fig = attention_heatmap(_causal_set(), 0, 0)
    assert json.loads(fig.to_json())["data"][0]["type"] == "heatmap"


def test_token_html_escapes_markup():
    html = tokens_html(("<script>alert(1)</script>", "a&b"), [False, True])
    assert "<script>" not in html and "&lt;script&gt;" in html and "a&amp;b" in html
    assert html.count('class="tok special"') == 1


def test_outputs_html_lists_predictions_and_notices():
    trace = Trace(
        model_key="m", model_name="M", family="decoder", tokens=("a",), token_ids=np.array([1]),
        special=np.array([False]), attentions=(),
        predictions=(Prediction(0, (Candidate("<b>", 5, 0.5), Candidate("x", 6, 0.25))),),
        notices=("Input cut <here>",),
    )
    html = outputs_html(trace)
    assert "&lt;b&gt; 50.0%" in html and "x 25.0%" in html and "Input cut &lt;here&gt;" in html


VIZ_MODULES = sorted(f"viz.{m.name}" for m in pkgutil.iter_modules([str(ROOT / "viz")]))


def test_every_viz_module_is_checked():
    assert {"viz.heatmap", "viz.decoding", "viz.concepts", "viz.architecture"} <= set(VIZ_MODULES)


@pytest.mark.parametrize("module", VIZ_MODULES)
def test_viz_does_not_import_torch(module):
    # A fresh interpreter per module: one that pulls in torch must not hide behind another.
    code = f"import sys, {module}; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False", f"importing {module} imports torch"


def test_markup_like_tokens_are_escaped_for_plotly():
    a = _causal_set(tokens=("<pad>", "I", "</s>", "&"))
    fig = attention_heatmap(a, 0, 0)
    assert list(fig.layout.xaxis.ticktext) == ["&lt;pad&gt;", "I", "&lt;/s&gt;", "&amp;"]
    assert list(fig.data[0].y)[2] == "2: &lt;/s&gt;"


def test_tables_show_names_and_tokens_as_text():
    from types import SimpleNamespace

    import numpy as np

    from viz.tables import order_table_markdown, rank_summary_markdown

    report = SimpleNamespace(shape=(3, 3), rank=np.full((1, 2), 3), kind="encoder", tolerance=1e-3,
                             effective_rank=np.full((1, 2), 2.5), min_diagonal=np.full((1, 2), 0.1))
    summary = rank_summary_markdown([("<img src=x>", report)])
    assert "<img" not in summary and "&lt;img src=x&gt;" in summary and "2 of 2 heads full rank" in summary
    order = SimpleNamespace(model_key="<b>m</b>", family="encoder", shuffled=("<i>", "a"),
                            max_without_positions=1e-7, max_with_positions=0.5)
    table = order_table_markdown([order])
    assert "<b>" not in table and "<i>" not in table and "1.00e-07" in table


def test_long_inputs_are_drawn_in_blocks_of_the_largest_allowed_weight():
    from viz import heatmap

    n = heatmap.PAGE_MAX_CELLS + 45  # 301 positions: blocks of 2, the last one single
    tokens = tuple(f"t{i}" for i in range(n))
    a = _causal_set(tokens=tokens, layers=1, heads=2, seed=4)
    spans = heatmap.blocks(n)
    assert len(spans) == 151 and spans[0] == (0, 2) and spans[-1] == (300, 301)
    fig = attention_heatmap(a, 0, 1)
    weights, masked = fig.data
    z = np.asarray(weights.z, dtype=np.float32)
    assert z.shape == (151, 151)
    for (r0, r1), i in ((spans[5], 5), (spans[-1], 150)):
        for (c0, c1), j in ((spans[0], 0), (spans[5], 5), (spans[-1], 150)):
            block, allowed = a.attn[0, 1, r0:r1, c0:c1], a.mask[r0:r1, c0:c1] > 0
            if allowed.any():
                assert z[i, j] == block[allowed].max() and np.isnan(np.asarray(masked.z)[i, j])
            else:
                assert np.isnan(z[i, j]) and np.asarray(masked.z)[i, j] == 1
    assert list(weights.x)[5] == "10-11: t10 t11" and list(weights.y)[-1] == "300: t300"
    assert "blocks of 2 x 2 tokens, largest weight" in fig.layout.title.text
    assert "largest weight in this block" in weights.hovertemplate and len(fig.layout.xaxis.ticktext) == 151
    # The mask in the same blocks: the causal diagonal's blocks are partly masked.
    mask = mask_heatmap(a)
    assert [trace.name for trace in mask.data] == ["may attend", "partly masked", "masked"]
    full, partly, none = (np.nan_to_num(np.asarray(trace.z, dtype=np.float32)) for trace in mask.data)
    assert full[5, 4] == 1 and partly[5, 5] == 1 and none[5, 6] == 1 and partly[150, 150] == 0 and full[150, 150] == 1
    assert np.array_equal(full + partly + none, np.ones((151, 151)))
    assert f"{int(a.mask.sum()):,} of {n * n:,} cells allowed".replace(",", "") in mask.layout.title.text.replace(",", "")


def test_up_to_the_page_limit_every_cell_is_one_weight():
    from viz import heatmap

    n = heatmap.PAGE_MAX_CELLS
    a = _causal_set(tokens=tuple(f"t{i}" for i in range(n)), layers=1, heads=1)
    z = np.asarray(attention_heatmap(a, 0, 0).data[0].z, dtype=np.float32)
    assert z.shape == (n, n) and np.array_equal(z[a.mask > 0], a.attn[0, 0][a.mask > 0])
    assert [trace.name for trace in mask_heatmap(a).data] == ["may attend", "masked"]
