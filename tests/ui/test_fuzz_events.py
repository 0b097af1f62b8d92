"""Bad input for every event of the page, public or private, run as the server runs it
(Blocks.process_api: each input component's preprocess, then the handler, then postprocess).

Each answer is a result or a clear error in both languages: never Gradio's wordless "Error"
(an exception that is not gr.Error), never "Internal error". The values are what a crafted
request can carry where the page would send a number, a text or a choice.
"""

import asyncio
import random
import re
from collections import Counter

import gradio as gr
import pytest
from gradio.state_holder import SessionState

from ui.page import build_demo

BAD = [None, [], [1, 2], {"a": 1}, "x", "3", "", "\ud800", "a\ud800b", 10**30, -5, 2**63, float("nan"),
       float("inf"), 1.5, True, "mini-gpt", "</s>", "x" * 300, "[MASK] " * 200]
TRIALS = 14
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def demo():
    return build_demo()


def _answer(demo, fn, inputs) -> str:
    try:
        asyncio.run(demo.process_api(fn, inputs, state=SessionState(demo)))
    except gr.Error as err:
        assert err.message, (fn.api_name, inputs)
        assert err.title != "Internal error · 内部错误", (fn.api_name, inputs, err.message)
        assert CJK.search(err.message), ("no Chinese", fn.api_name, err.message)
        return "clear error"
    return "result"


def test_every_event_answers_a_result_or_a_clear_error(demo):
    rng = random.Random(0)
    outcomes: Counter = Counter()
    # Script-only steps (text B's "run it?" check) run in the page and have nothing on the server.
    served = [fn for fn in demo.fns.values() if fn.fn is not None]
    for fn in served:
        for _ in range(TRIALS):
            # Half the inputs keep the page's own value, so most calls get past the first check.
            inputs = [rng.choice(BAD) if rng.random() < 0.4 else getattr(block, "value", None) for block in fn.inputs]
            outcomes[_answer(demo, fn, inputs)] += 1
    assert outcomes["result"] > 0 and outcomes["clear error"] > 0
    assert sum(outcomes.values()) == TRIALS * len(served)


@pytest.mark.parametrize("value", [None, "x", [1, 2], float("nan"), 10**30])
def test_a_slider_value_that_is_no_number_is_refused_in_words(demo, value):
    fn = next(f for f in demo.fns.values() if f.api_name == "compare_bert")
    with pytest.raises(gr.Error, match="Layer must be a (finite )?number.*必须是"):
        asyncio.run(demo.process_api(fn, ["mini-bert", "hello", "encoder", value, 0], state=SessionState(demo)))


def test_an_example_index_that_is_not_an_example_is_refused(demo):
    fn = next(f for f in demo.fns.values() if f.api_name == "load_example")
    got = asyncio.run(demo.process_api(fn, [2], state=SessionState(demo)))
    assert got["data"] == ["我喜欢吃苹果"]
    for bad in (None, "3", 99, -1, True):
        with pytest.raises(gr.Error, match="Pick one of the examples"):
            asyncio.run(demo.process_api(fn, [bad], state=SessionState(demo)))
