"""The trained reader: faithful to the torch model it came from, windows that fit, null answers and thresholds."""

from pathlib import Path

import numpy as np
import pytest

from conftest import JET

from qa.reader import Reader, best_span


@pytest.fixture(scope="module")
def reader(settings) -> Reader:
    return Reader(settings.reader, threads=1)


def test_float_reader_agrees_with_the_torch_model(reader, settings):
    """check.npz holds the torch model's logits on tuning-split windows, saved at export (training/export.py); the
    reader computes in float from the int8 weights, so it keeps closer to torch than the int8 graph did."""
    check = np.load(settings.reader / "check.npz")
    feed = {name: check[name] for name in ("input_ids", "attention_mask", "token_type_ids")}
    starts, ends = reader._session.run(None, feed)
    same = 0
    for r in range(len(starts)):
        context = (feed["token_type_ids"][r] == 1) & (feed["attention_mask"][r] == 1)
        torch_span = best_span(check["start_logits"][r], check["end_logits"][r], context, 30)[:2]
        same += best_span(starts[r], ends[r], context, 30)[:2] == torch_span
    mask = feed["attention_mask"] == 1
    assert np.abs(starts - check["start_logits"])[mask].mean() < 0.1
    assert np.abs(ends - check["end_logits"])[mask].mean() < 0.1
    assert same / len(starts) >= 0.85


def test_reader_graph_has_no_activation_quantization(settings):
    """DynamicQuantizeLinear set one scale per batch, and MatMulInteger ran u8s8 kernels that differ between AVX2 and
    AVX-512 VNNI: neither is left in the graph the reader runs."""
    import onnx

    from qa.reader_graph import float_reader

    ops = {node.op_type for node in onnx.load_from_string(float_reader(settings.reader / "reader-int8.onnx")).graph.node}
    assert "MatMul" in ops
    assert not ops & {"DynamicQuantizeLinear", "MatMulInteger", "QLinearMatMul", "MatMulIntegerToFloat"}


JET_SENTENCE = "Turkey and Russia were in a state of open tension, after Ankara shot down a Russian jet in November of 2015."
OTHERS = [
    "The recipe calls for flour, water, salt and a sourdough starter.",
    "Putin and Erdogan met in Sochi on October 22, and the talks lasted six hours, officials said. " * 3,
    "Ankara.",
]


@pytest.mark.parametrize("batch", [[], OTHERS[:1], OTHERS[1:2], OTHERS, OTHERS[::-1]])
def test_a_window_reads_the_same_alone_and_in_any_batch(reader, batch):
    """Its span and scores must not depend on the windows read beside it (padding, lengths, content)."""
    (alone,) = reader.read(JET, [JET_SENTENCE])
    mixed = reader.read(JET, [*batch, JET_SENTENCE, *batch])[len(batch)]
    assert (mixed.start, mixed.end) == (alone.start, alone.end)
    assert JET_SENTENCE[alone.start : alone.end] == "November of 2015"
    assert abs(mixed.score - alone.score) < 1e-3 and abs(mixed.null - alone.null) < 1e-3
    assert abs(mixed.prob - alone.prob) < 1e-4


def test_best_span_respects_order_length_and_context():
    start = np.array([5.0, 0.0, 1.0, 9.0, 0.0])
    end = np.array([5.0, 8.0, 0.0, 0.0, 2.0])
    context = np.array([False, True, True, True, True])
    # token 3 starts best but the only later end is 4; [CLS] (0) is never a span
    assert best_span(start, end, context, 30) == (3, 4, 11.0)
    assert best_span(start, end, context, 1) == (3, 3, 9.0)  # one token at most
    context[3] = False
    assert best_span(start, end, context, 30) == (1, 1, 8.0)


def test_window_fits_the_model_and_holds_the_sentence(reader):
    sentences = [f"Sentence number {i} talks about item {i} in some detail here." for i in range(60)]
    text = " ".join(sentences)
    target = sentences[30]
    start = text.index(target)
    q_tokens = reader.question_tokens(JET)
    a, b = reader.window(q_tokens, text, start, start + len(target))
    assert a <= start and start + len(target) <= b
    assert 3 + q_tokens + len(reader._tokenizer.encode(text[a:b], add_special_tokens=False).ids) <= reader.max_length
    assert a > 0 and b < len(text)  # a long passage is cut around the sentence, on both sides
    # at the edges the window slides inward instead of shrinking
    a0, b0 = reader.window(q_tokens, text, 0, len(sentences[0]))
    assert a0 == 0 and len(reader._tokenizer.encode(text[a0:b0], add_special_tokens=False).ids) >= reader.max_length - 3 - q_tokens - 2
    # a short passage is read whole
    assert reader.window(q_tokens, target, 0, len(target)) == (0, len(target))


def test_window_of_a_sentence_longer_than_the_room_keeps_its_start(reader):
    text = "Intro. " + "word " * 400 + "end."
    a, b = reader.window(reader.question_tokens("What?"), text, 7, len(text))
    assert a == 7 and b < len(text)


def test_reader_finds_the_span_and_scores_no_answer_higher_elsewhere(reader):
    found, unrelated = reader.read(JET, [JET_SENTENCE, OTHERS[0]])
    assert JET_SENTENCE[found.start : found.end] == "November of 2015"
    # measured: about +11 for the jet sentence and below -3 for the recipe
    assert found.margin > 5 and unrelated.margin < 0


def test_reading_nothing_is_empty(reader):
    assert reader.read(JET, []) == []


def test_missing_reader_is_a_clear_error(tmp_path: Path):
    from qa.errors import QAError

    with pytest.raises(QAError, match="make reader"):
        Reader(tmp_path)
