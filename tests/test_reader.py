"""The trained reader: faithful to the torch model it came from, windows that fit, null answers and thresholds."""

from pathlib import Path

import numpy as np
import pytest

from conftest import JET

from qa.reader import Reader, best_span


@pytest.fixture(scope="module")
def reader(settings) -> Reader:
    return Reader(settings.reader, threads=1)


def test_reader_agrees_with_the_torch_model(reader, settings):
    """check.npz holds the torch model's logits on tuning-split windows, saved at export (training/export.py). Read
    one window per run as the reader does, the int8 graph stays close to them: 59 of 64 spans and a mean logit error
    of 0.14 when this was written; the bounds leave room for another CPU's rounding, not for a broken graph (a
    float reader reading garbage, or int8 weights read as uint8 without the shift, lands far outside them)."""
    check = np.load(settings.reader / "check.npz")
    same, errors = 0, []
    for r in range(len(check["input_ids"])):
        n = int(check["attention_mask"][r].sum())
        feed = {name: check[name][r : r + 1, :n] for name in ("input_ids", "attention_mask", "token_type_ids")}
        starts, ends = (x[0] for x in reader._session.run(None, feed))
        context = check["token_type_ids"][r, :n] == 1
        torch_span = best_span(check["start_logits"][r, :n], check["end_logits"][r, :n], context, 30)[:2]
        same += best_span(starts, ends, context, 30)[:2] == torch_span
        errors.append(np.abs(starts - check["start_logits"][r, :n]).mean())
    assert np.mean(errors) < 0.4
    assert same / len(errors) >= 0.8


def test_reader_runs_no_saturating_integer_kernel(settings):
    """ONNX Runtime's u8s8 kernels saturate on AVX2 without VNNI, so an int8 weight made a window's scores depend on
    the CPU: every integer MatMul the reader runs takes uint8 weights (the u8u8 kernels widen to 16 bits first)."""
    import onnx
    from onnx import TensorProto

    from qa.reader_graph import unsigned_reader

    graph = onnx.load_from_string(unsigned_reader(settings.reader / "reader-int8.onnx")).graph
    types = {t.name: t.data_type for t in graph.initializer}
    weights = [node.input[1] for node in graph.node if node.op_type == "MatMulInteger"]
    assert len(weights) >= 36  # 6 layers x (4 attention + 2 feed-forward)
    assert {types[w] for w in weights} == {TensorProto.UINT8}


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
