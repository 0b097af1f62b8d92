"""The overview outlines the chosen head's tile exactly; heatmap key labels turn upright only when
they would overlap in a narrow figure, and the left margin shrinks to the row labels."""

import numpy as np
import pytest

from models.data import AttentionSet
from viz import overview
from viz.heatmap import attention_heatmap, mask_heatmap

T5_TOKENS = ("<pad>", "▁The", "▁cat", "▁chase", "s", "▁", "a", "▁mouse", "</s>")
T5_SOURCE = ("▁", "猫", "追", "一", "只", "老", "鼠", "</s>")


def _set(query, key=None, layers=3, heads=4, kind="encoder", seed=0):
    key = query if key is None else key
    rng = np.random.default_rng(seed)
    attn = rng.dirichlet(np.ones(len(key)), size=(layers, heads, len(query))).astype(np.float32)
    return AttentionSet(kind, attn, np.ones((len(query), len(key)), np.float32), tuple(query), tuple(key))


def _cells_inside(shape, n_rows, n_cols):
    """Row and column indices of the grid cells whose centres the shape encloses."""
    rows = [i for i in range(n_rows) if min(shape.y0, shape.y1) < i < max(shape.y0, shape.y1)]
    cols = [j for j in range(n_cols) if min(shape.x0, shape.x1) < j < max(shape.x0, shape.x1)]
    return rows, cols


@pytest.mark.parametrize("query,key,layer,head", [
    (("the", "cat", "sat", "."), None, 2, 3),
    (T5_TOKENS, T5_SOURCE, 1, 0),  # cross-attention: tiles are 9 x 8
    (tuple(f"t{i}" for i in range(130)), None, 0, 2),  # pooled into 44 x 44 blocks
])
def test_outline_surrounds_exactly_the_chosen_tile(query, key, layer, head):
    a = _set(query, key)
    fig = overview.overview_figure(a, "m", layer=layer, head=head)
    z = np.asarray(fig.data[0].z, dtype=np.float64)
    r, c = len(overview.blocks(len(a.query_tokens))), len(overview.blocks(len(a.key_tokens)))
    (shape,) = fig.layout.shapes
    assert shape.type == "rect" and shape.xref == "x" and shape.yref == "y" and shape.visible is True
    rows, cols = _cells_inside(shape, *z.shape)
    # The rows and columns tile_grid fills for this head, and nothing else.
    assert rows == list(range(layer * (r + 1), layer * (r + 1) + r))
    assert cols == list(range(head * (c + 1), head * (c + 1) + c))
    np.testing.assert_array_equal(z[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1],
                                  overview.tile_grid(a)[layer * (r + 1):layer * (r + 1) + r,
                                                        head * (c + 1):head * (c + 1) + c])
    # Its edges lie on cell borders: half a cell beyond the tile's first and last cells.
    assert (shape.x0, shape.x1) == (cols[0] - 0.5, cols[-1] + 0.5)
    assert (shape.y0, shape.y1) == (rows[0] - 0.5, rows[-1] + 0.5)
    # The clicked labels inside it name the same head.
    x, y = list(fig.data[0].x), list(fig.data[0].y)
    assert overview.parse_pick(x[cols[0]], y[rows[-1]]) == (layer, head)
    assert fig.layout.meta["tiles"] == dict(rows=r, cols=c, layers=a.layers, heads=a.heads)


def test_the_page_can_place_the_outline_from_the_tile_geometry():
    a = _set(("the", "cat", "sat", "."))
    tiles = overview.overview_figure(a).layout.meta["tiles"]
    for layer in range(a.layers):
        for head in range(a.heads):
            drawn = overview.overview_figure(a, layer=layer, head=head).layout.shapes[0]
            # assets/app.js computes the box from layout.meta["tiles"] the same way.
            box = overview.tile_box(layer, head, tiles["rows"], tiles["cols"])
            assert (drawn.x0, drawn.x1, drawn.y0, drawn.y1) == (box["x0"], box["x1"], box["y0"], box["y1"])


def test_without_a_head_the_outline_waits_hidden():
    fig = overview.overview_figure(_set(("the", "cat", "sat")))
    (shape,) = fig.layout.shapes
    assert shape.visible is False


def test_an_outline_for_a_missing_head_is_refused():
    with pytest.raises(ValueError, match="Head 4 does not exist"):
        overview.overview_figure(_set(("the", "cat")), layer=0, head=4)


def test_the_heatmap_names_its_head_for_the_outline():
    assert attention_heatmap(_set(("the", "cat")), 2, 1).layout.meta == dict(layer=2, head=1)


@pytest.mark.parametrize("query,key", [
    (T5_TOKENS, None),  # T5's decoder self-attention
    (T5_TOKENS, T5_SOURCE),  # T5's cross-attention of an English output on a Chinese input
    (T5_TOKENS[1:], None),  # "▁The ▁cat ▁chase s ▁ a ▁mouse </s>": the encoder
])
def test_crowded_key_labels_turn_upright(query, key):
    a = _set(query, key, kind="cross" if key else "encoder")
    assert attention_heatmap(a, 0, 0).layout.xaxis.tickangle != 0


def test_the_mask_without_a_colour_bar_has_more_room():
    english = _set(T5_TOKENS[1:])
    assert mask_heatmap(english).layout.xaxis.tickangle != 0
    # Eight one-character-wide keys fit across a column-wide mask, not beside a colour bar.
    cross = _set(T5_TOKENS, T5_SOURCE, kind="cross")
    assert mask_heatmap(cross).layout.xaxis.tickangle == 0
    assert attention_heatmap(cross, 0, 0).layout.xaxis.tickangle != 0


def test_a_few_short_labels_stay_level_and_a_wide_figure_keeps_level_labels():
    a = _set(("[CLS]", "hi", "[SEP]"))
    for fig in (attention_heatmap(a, 0, 0), mask_heatmap(a)):
        assert fig.layout.xaxis.tickangle == 0
    wide = _set(T5_TOKENS[1:])
    assert attention_heatmap(wide, 0, 0, width=1200).layout.xaxis.tickangle == 0


def test_left_margin_follows_the_row_labels():
    short = attention_heatmap(_set(("a", "b", "c")), 0, 0).layout.margin.l
    cross = attention_heatmap(_set(("<pad>", "<extra_id_0>", "▁男"), T5_SOURCE, kind="cross"), 0, 0).layout.margin.l
    long = attention_heatmap(_set(("a", "▁extraordinarily_long_token")), 0, 0).layout.margin.l
    assert short < cross < long == 120


def test_ticks_keep_the_figure_values():
    a = _set(T5_TOKENS, T5_SOURCE, kind="cross")
    fig = attention_heatmap(a, 1, 2)
    np.testing.assert_array_equal(np.asarray(fig.data[0].z, dtype=np.float32), a.attn[1, 2])
    assert list(fig.layout.xaxis.ticktext) == ["▁", "猫", "追", "一", "只", "老", "鼠", "&lt;/s&gt;"]
    assert "layer 1" in fig.layout.title.text and "head 2" in fig.layout.title.text
