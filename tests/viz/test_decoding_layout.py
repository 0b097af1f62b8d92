"""T5's per-step heatmaps in the Decoding tab give every (layer, head) row room to read."""

import pytest

from models.decoding import Settings, decode
from viz import decoding as dviz

T5_PROMPT = "translate Chinese to English: 我喜欢机器学习"


@pytest.fixture(scope="module")
def t5():
    return decode("mini-t5", T5_PROMPT, Settings("greedy", max_new_tokens=8))


def _plot_height(fig) -> float:
    return fig.layout.height - fig.layout.margin.t - fig.layout.margin.b


@pytest.mark.parametrize("cross", [False, True])
def test_attention_rows_get_24_px_each(t5, cross):
    for index in range(len(t5.steps)):
        fig = dviz.attention_row_figure(t5, index, cross=cross)
        rows = len(fig.data[0].y)
        assert rows == 8  # mini-t5: 2 decoder layers x 4 heads
        assert _plot_height(fig) >= max(24 * rows, 200)
        assert fig.layout.height <= 900


def test_alignment_rows_get_24_px_each(t5):
    for index in range(len(t5.steps)):
        fig = dviz.alignment_figure(t5, index)
        assert _plot_height(fig) >= max(24 * (index + 1), 200) and fig.layout.height <= 900


def test_many_rows_stop_at_the_cap():
    margin = dict(t=48, b=110)
    assert dviz.heatmap_height(336, margin) == 900  # e.g. 24 layers x 14 heads
    assert dviz.heatmap_height(1, margin) == 48 + 110 + 200
