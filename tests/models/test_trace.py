import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer, BertForPreTraining

from models import trace as trace_mod
from models.trace import run_trace, trace_to_json

TEXT = "The cat chases a mouse. 我喜欢吃苹果"


@pytest.fixture
def traced(tiny_models, allow_any_model, tiny_name):
    return tiny_name, tiny_models[tiny_name], run_trace(tiny_models[tiny_name], TEXT)


def _reference(name, folder, tr):
    """transformers' own attentions for the same checkpoint and input ids."""
    tok = AutoTokenizer.from_pretrained(folder)
    ids = torch.tensor([tr.token_ids.tolist()])
    with torch.no_grad():
        if name == "mini-bert":
            model = BertForPreTraining.from_pretrained(folder, attn_implementation="eager").eval()
            out = model(input_ids=ids, output_attentions=True)
            return tok, model, {"encoder": out.attentions}, out
        if name == "mini-t5":
            model = AutoModelForSeq2SeqLM.from_pretrained(folder, attn_implementation="eager").eval()
            dec = torch.tensor([tok.convert_tokens_to_ids(tok.convert_ids_to_tokens(
                model.generate(ids, do_sample=False, num_beams=1, max_new_tokens=trace_mod.MAX_NEW_TOKENS)[0].tolist()))])
            out = model(input_ids=ids, decoder_input_ids=dec, output_attentions=True)
            return tok, model, {"encoder": out.encoder_attentions, "decoder": out.decoder_attentions,
                                "cross": out.cross_attentions}, out
        model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager").eval()
        out = model(input_ids=ids, output_attentions=True)
        return tok, model, {"decoder": out.attentions}, out


def test_rows_sum_to_one(traced):
    _, _, tr = traced
    for a in tr.attentions:
        assert a.attn.dtype == np.float32
        np.testing.assert_allclose(a.attn.sum(-1), 1.0, atol=1e-5)


def test_masked_cells_are_exactly_zero_and_allowed_cells_are_not(traced):
    _, _, tr = traced
    for a in tr.attentions:
        assert a.mask.shape == a.attn.shape[2:]
        masked = a.attn[:, :, a.mask == 0]
        assert np.all(masked == 0.0), a.kind
        assert np.all(a.attn[:, :, a.mask == 1] > 0.0), a.kind


def test_causal_upper_triangles_are_exactly_zero(traced):
    name, _, tr = traced
    causal = [a for a in tr.attentions if a.kind == "decoder"]
    assert bool(causal) == (name != "mini-bert")
    for a in causal:
        n = a.attn.shape[-1]
        upper = np.triu_indices(n, k=1)
        assert np.all(a.attn[:, :, upper[0], upper[1]] == 0.0)
        assert np.all(np.diagonal(a.attn, axis1=2, axis2=3) > 0)


@pytest.mark.parametrize("name", ["mini-bert", "mini-t5"])
def test_encoder_attention_is_bidirectional(tiny_models, allow_any_model, name):
    a = run_trace(tiny_models[name], TEXT).attention("encoder")
    assert np.all(a.mask == 1)
    n = a.attn.shape[-1]
    assert np.all(a.attn[:, :, np.triu_indices(n, 1)[0], np.triu_indices(n, 1)[1]] > 0)


def test_cross_attention_is_decoder_by_encoder(tiny_models, allow_any_model):
    tr = run_trace(tiny_models["mini-t5"], TEXT)
    cross = tr.attention("cross")
    assert cross.attn.shape[2:] == (len(tr.decoder_tokens), len(tr.tokens))
    assert cross.query_tokens == tr.decoder_tokens and cross.key_tokens == tr.tokens
    assert tr.kinds == ("encoder", "decoder", "cross")


def test_trace_equals_transformers_output_attentions(traced):
    name, folder, tr = traced
    _, _, reference, _ = _reference(name, folder, tr)
    assert set(reference) == set(tr.kinds)
    for kind, layers in reference.items():
        expected = torch.stack([layer[0] for layer in layers]).numpy()
        got = tr.attention(kind).attn
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_model_outputs_equal_transformers(traced):
    name, folder, tr = traced
    tok, model, _, out = _reference(name, folder, tr)
    if name == "mini-bert":
        assert tr.predictions == ()  # no [MASK] in the text
        assert any("[MASK]" in n for n in tr.notices)
    elif name == "mini-t5":
        ids = torch.tensor([tr.token_ids.tolist()])
        expected = model.generate(ids, do_sample=False, num_beams=1, max_new_tokens=trace_mod.MAX_NEW_TOKENS)
        assert tr.output_text == tok.decode(expected[0], skip_special_tokens=True)
        assert len(tr.decoder_tokens) == expected.shape[1]
    else:
        probs = torch.softmax(out.logits[0, -1], -1)
        top = probs.topk(5)
        assert [c.token_id for c in tr.predictions[0].candidates] == top.indices.tolist()
        np.testing.assert_allclose([c.prob for c in tr.predictions[0].candidates], top.values.numpy(), atol=1e-6)


def test_mask_fill_predictions(tiny_models, allow_any_model):
    folder = tiny_models["mini-bert"]
    tr = run_trace(folder, "I like eating [MASK] apples", top_k=3)
    mask_pos = tr.tokens.index("[MASK]")
    assert [p.position for p in tr.predictions] == [mask_pos]
    model = BertForPreTraining.from_pretrained(folder, attn_implementation="eager").eval()
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([tr.token_ids.tolist()])).prediction_logits[0, mask_pos]
    top = torch.softmax(logits, -1).topk(3)
    cands = tr.predictions[0].candidates
    assert [c.token_id for c in cands] == top.indices.tolist()
    assert [c.prob for c in cands] == sorted([c.prob for c in cands], reverse=True)


def test_special_tokens_are_flagged(tiny_models, allow_any_model):
    bert = run_trace(tiny_models["mini-bert"], "the cat")
    assert bert.tokens[0] == "[CLS]" and bert.tokens[-1] == "[SEP]"
    assert bert.special.tolist() == [True, False, False, True]
    t5 = run_trace(tiny_models["mini-t5"], "the cat")
    assert t5.tokens[-1] == "</s>" and t5.special[-1] and not t5.special[0]


def test_json_form_carries_the_same_numbers(traced):
    _, _, tr = traced
    data = trace_to_json(tr)
    assert data["tokens"] == list(tr.tokens)
    for a in tr.attentions:
        block = data[a.kind]
        assert block["shape"] == list(a.attn.shape)
        assert block["layers"] == list(range(a.layers))
        np.testing.assert_allclose(np.asarray(block["attentions"]), a.attn, rtol=5e-7, atol=0)
        assert np.array_equal(np.asarray(block["attentions"]) == 0, a.attn == 0)  # masked stays exactly 0
        assert np.array_equal(np.asarray(block["mask"]), a.mask.astype(int))
    assert data["outputs"]["kind"] == {"encoder": "masked", "decoder": "next_token"}.get(tr.family, "generation")


def test_json_form_keeps_one_layer_when_asked(traced):
    _, _, tr = traced
    last = tr.attentions[0].layers - 1
    data = trace_to_json(tr, last)
    for a in tr.attentions:
        assert data[a.kind]["layers"] == [last] and data[a.kind]["shape"] == [1, *a.attn.shape[1:]]
        np.testing.assert_allclose(np.asarray(data[a.kind]["attentions"])[0], a.attn[last], rtol=5e-7, atol=0)
    with pytest.raises(ValueError, match=f"layers 0 to {last}; layer {last + 1} does not exist"):
        trace_to_json(tr, last + 1)


def test_json_answers_over_the_size_limit_are_refused(traced, monkeypatch):
    _, _, tr = traced
    total = sum(a.attn.size for a in tr.attentions)
    one_layer = sum(a.attn[0].size for a in tr.attentions)
    monkeypatch.setenv(trace_mod.MAX_NUMBERS_ENV, str(total - 1))
    with pytest.raises(ValueError, match=f"would hold {total:,} attention weights, more than the limit of {total - 1:,}"):
        trace_to_json(tr)
    monkeypatch.setenv(trace_mod.MAX_NUMBERS_ENV, str(one_layer))
    assert trace_to_json(tr, 0)["tokens"] == list(tr.tokens)  # one layer fits
    monkeypatch.setenv(trace_mod.MAX_NUMBERS_ENV, str(total))
    assert trace_to_json(tr)["tokens"] == list(tr.tokens)


def _unpack(block: dict) -> np.ndarray:
    """Read a packed array back with nothing but base64 and numpy, as a client would."""
    import base64

    assert block["byteorder"] == "little" and block["order"] == "C"
    return np.frombuffer(base64.b64decode(block["base64"]), np.dtype(block["dtype"]).newbyteorder("<")).reshape(
        block["shape"])


@pytest.mark.parametrize("encoding", ["float32", "float16"])
def test_packed_form_carries_the_same_numbers(traced, encoding):
    _, _, tr = traced
    data = trace_to_json(tr, encoding=encoding)
    assert data["encoding"] == encoding and data["tokens"] == list(tr.tokens)
    for a in tr.attentions:
        weights = _unpack(data[a.kind]["attentions"])
        assert weights.dtype == np.dtype(encoding) and weights.shape == a.attn.shape
        np.testing.assert_array_equal(weights, a.attn.astype(encoding))  # exactly the weights, in that precision
        np.testing.assert_array_equal(_unpack(data[a.kind]["mask"]), a.mask.astype(np.uint8))
    one = trace_to_json(tr, 0, "float16")
    np.testing.assert_array_equal(_unpack(one[tr.attentions[0].kind]["attentions"])[0], tr.attentions[0].attn[0].astype(np.float16))


def test_packed_answers_have_their_own_limit_and_unknown_encodings_are_refused(traced, monkeypatch):
    _, _, tr = traced
    total = sum(a.attn.size for a in tr.attentions)
    monkeypatch.setenv(trace_mod.MAX_NUMBERS_ENV, "1")  # the JSON limit does not apply to packed answers
    assert trace_to_json(tr, encoding="float16")["encoding"] == "float16"
    monkeypatch.setattr(trace_mod, "max_binary_bytes", lambda: 2 * total)
    assert trace_to_json(tr, encoding="float16")["encoding"] == "float16"
    with pytest.raises(ValueError, match=f"would hold {4 * total:,} bytes of float32 weights.*ask for float16"):
        trace_to_json(tr, encoding="float32")
    with pytest.raises(ValueError, match="Unknown encoding 'npz': choose json, float16 or float32"):
        trace_to_json(tr, encoding="npz")


def test_significant_digits_are_short_and_close():
    values = np.array([0.1, 1 / 3, 2 / 3, 1e-9 / 3, 0.0, 1.0, 123456789.0, -0.000123456789], np.float32)
    rounded = trace_mod.significant(values)
    assert [repr(v) for v in rounded.tolist()] == [
        "0.1", "0.3333333", "0.6666667", "3.333333e-10", "0.0", "1.0", "123456800.0", "-0.0001234568"]
    np.testing.assert_allclose(rounded, values, rtol=5e-7, atol=0)


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_text_is_refused(tiny_models, allow_any_model, text):
    with pytest.raises(ValueError, match="empty"):
        run_trace(tiny_models["mini-gpt"], text)


def test_unknown_model_is_refused(monkeypatch):
    monkeypatch.delenv("TRIPTYCH_ALLOW_ANY_MODEL", raising=False)
    with pytest.raises(ValueError, match="Unknown model 'no-such-model'"):
        run_trace("no-such-model", "hello")


def test_huge_text_is_truncated_with_a_notice(tiny_models, allow_any_model, tiny_name):
    tr = run_trace(tiny_models[tiny_name], "apples and cats " * 6250)  # 100 000 characters
    assert len(tr.tokens) <= trace_mod.max_tokens()
    assert any("100,000 characters" in n for n in tr.notices)
    assert any("tokens" in n for n in tr.notices)


def test_limits_come_from_the_environment(tiny_models, allow_any_model, monkeypatch):
    monkeypatch.setenv(trace_mod.MAX_TOKENS_ENV, "8")
    tr = run_trace(tiny_models["mini-gpt"], "the cat chases a mouse " * 4)
    assert len(tr.tokens) == 8
    assert tr.attention("decoder").attn.shape[-1] == 8


@pytest.mark.parametrize(
    "text",
    ["🤖🐱 cats 😀", "a\x00b\x07c\x1bd", "مرحبا بالعالم", "שלום עולם", "<script>alert(1)</script>", "\u202eevil\u202c"],
)
def test_unusual_text_gives_a_result(tiny_models, allow_any_model, tiny_name, text):
    tr = run_trace(tiny_models[tiny_name], text)
    assert len(tr.tokens) >= 1 and all(tr.tokens)
    for a in tr.attentions:
        np.testing.assert_allclose(a.attn.sum(-1), 1.0, atol=1e-5)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=60))
def test_any_text_gives_a_result_or_a_clear_error(tiny_models, allow_any_model, text):
    for name in ("mini-bert", "mini-gpt"):
        try:
            tr = run_trace(tiny_models[name], text)
        except ValueError as err:
            assert str(err)
            continue
        assert len(tr.tokens) == tr.attentions[0].attn.shape[-1]


def test_sentence_pair_gets_segments_and_next_sentence_probability():
    # The embedded BERT: "A [SEP] B" is read as a pair, as its NSP head was trained.
    first, second = "小明买了一个杯子", "他把杯子放在桌子上"
    tr = run_trace("mini-bert", f"{first} [SEP] {second}")
    assert tr.tokens.count("[SEP]") == 2 and tr.tokens[0] == "[CLS]"
    folder = "assets/models/mini-bert"
    tok = AutoTokenizer.from_pretrained(folder)
    model = BertForPreTraining.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        logits = model(**tok(first, second, return_tensors="pt")).seq_relationship_logits
    assert tr.next_sentence == pytest.approx(float(torch.softmax(logits[0], -1)[0]), abs=1e-5)
    assert trace_to_json(tr)["outputs"]["next_sentence"] == tr.next_sentence
    assert run_trace("mini-bert", first).next_sentence is None


def test_padded_batch_masks_the_padding_keys_only():
    long, short = "The keys to the cabinet are on the table", "I like eating apples"
    rows = trace_mod.run_padded_batch("mini-bert", [long, short])
    assert len(rows[0].tokens) == len(rows[1].tokens)
    pads = np.array([t == "[PAD]" for t in rows[1].tokens])
    assert pads.sum() > 0 and not any(t == "[PAD]" for t in rows[0].tokens)
    a = rows[1].attentions[0]
    assert np.all(a.mask[:, pads] == 0) and np.all(a.mask[:, ~pads] == 1)
    assert np.all(a.attn[..., pads] == 0.0)
    np.testing.assert_allclose(a.attn.sum(-1), 1.0, atol=1e-5)
    # The real tokens attend exactly as they do alone, padding or not.
    alone = run_trace("mini-bert", short).attentions[0].attn
    np.testing.assert_allclose(a.attn[:, :, ~pads][:, :, :, ~pads], alone, atol=1e-5)
    with pytest.raises(ValueError, match="encoders"):
        trace_mod.run_padded_batch("mini-gpt", [long, short])


@pytest.mark.parametrize("model", ["mini-gpt", "mini-llama"])
def test_prefix_lm_mask_is_what_the_model_applies(model):
    text = "The cat chases a mouse"
    causal = run_trace(model, text).attentions[0]
    n = len(causal.query_tokens)
    prefix = 3
    tr = trace_mod.run_prefix_lm(model, text, prefix)
    a = tr.attentions[0]
    assert np.array_equal(a.mask, trace_mod.prefix_lm_mask(n, prefix))
    assert np.all(a.attn[:, :, a.mask == 0] == 0.0)
    assert np.all(a.attn[:, :, a.mask == 1] > 0.0)  # the prefix looks ahead inside itself
    np.testing.assert_allclose(a.attn.sum(-1), 1.0, atol=1e-5)
    # Prefix 1 is the causal mask: the same attention as a plain run.
    np.testing.assert_allclose(trace_mod.run_prefix_lm(model, text, 1).attentions[0].attn, causal.attn, atol=1e-6)
    with pytest.raises(ValueError, match="prefix"):
        trace_mod.run_prefix_lm(model, text, n + 1)


def test_a_second_sentence_is_cut_and_checked_like_the_first(monkeypatch):
    from types import SimpleNamespace

    import torch

    seen = []

    def tokenizer(text, second, **kwargs):
        seen.append((len(text), len(second)))
        return {"input_ids": torch.ones(1, 3, dtype=torch.long), "attention_mask": torch.ones(1, 3, dtype=torch.long)}

    monkeypatch.setenv(trace_mod.MAX_CHARS_ENV, "100")
    loaded = SimpleNamespace(tokenizer=tokenizer, device=torch.device("cpu"))
    enc = trace_mod.encode_text(loaded, "a" * 500, "b" * 20_000)
    assert seen == [(100, 100)] and set(enc) == {"input_ids", "attention_mask"}
    with pytest.raises(ValueError, match="must be a string"):
        trace_mod.encode_text(loaded, "a", 5)
    with pytest.raises(ValueError, match="empty"):
        trace_mod.encode_text(loaded, "a", "  ")


def test_limits_from_the_environment_fall_back_when_unreadable(monkeypatch):
    """Every number the server reads from its environment goes through models.limits.setting: a
    value that is not a number, or below the minimum, never stops a request."""
    from models import limits, registry

    monkeypatch.setenv(trace_mod.MAX_CHARS_ENV, "lots")
    monkeypatch.setenv(trace_mod.MAX_TOKENS_ENV, "1")
    monkeypatch.setenv(trace_mod.MAX_NUMBERS_ENV, "250")
    assert (trace_mod.max_chars(), trace_mod.max_tokens(), trace_mod.max_numbers()) == (2000, 2, 250)
    for value, on in (("1", True), (" Yes", True), ("on", True), ("0", False), ("", False), ("nope", False)):
        monkeypatch.setenv(registry.ALLOW_ANY_ENV, value)
        assert registry.any_model_allowed() is on and limits.flag(registry.ALLOW_ANY_ENV) is on
