"""The extractive reader: a small transformer trained on SQuAD (training/reader.py), run by ONNX Runtime.

It reads short windows of passage text with the question and returns, per window, the best answer span and the
"no answer" score. A window is cut around one sentence to fit the model's 128 tokens: shorter windows are what keep
`/ask` fast (each one costs a few milliseconds on 2 cores), and the model was trained on windows of that size.
"""

from __future__ import annotations

import json
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .reader_graph import unsigned_reader

MODELS = Path(__file__).resolve().parent / "models" / "reader"
MODEL_FILE = "reader-int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "reader.json"
MAX_QUESTION_TOKENS = 64


@dataclass(frozen=True)
class Reading:
    """The best span of one window: character offsets into the window's text, and the model's scores.

    `margin` is the span's logit sum minus the null ([CLS]) logit sum: one of the signals the decision weighs.
    `prob` is the span's probability within its window (start and end softmaxes, null included).
    """

    start: int
    end: int
    score: float
    null: float
    prob: float

    @property
    def margin(self) -> float:
        return self.score - self.null


def best_span(start: np.ndarray, end: np.ndarray, context: np.ndarray, max_tokens: int) -> tuple[int, int, float]:
    """The (first, last) context token maximising start + end logits, at most max_tokens long."""
    s = np.where(context, start, -np.inf)
    e = np.where(context, end, -np.inf)
    scores = s[:, None] + e[None, :]
    rows, cols = np.indices(scores.shape)
    scores[(cols < rows) | (cols - rows >= max_tokens)] = -np.inf
    i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return int(i), int(j), float(scores[i, j])


def _log_softmax(x: np.ndarray) -> np.ndarray:
    top = x.max()
    return x - top - math.log(float(np.exp(x - top).sum()))


class Reader:
    """The reader with its tokenizer, running the shipped int8 graph with unsigned weights one window at a time
    (qa/reader_graph.py), so a window reads the same in any batch and, to float rounding, on any x86 CPU; safe to
    share between threads.

    Windows are read side by side, one ONNX Runtime thread each, rather than one after another on all threads: a
    128-token window is too small to split well, and 4 windows took 47 ms this way against 52 ms on 2 cores
    (BENCHMARKS.md, issue 17). Each window is still its own run, so its scores do not depend on the others."""

    def __init__(self, folder: Path = MODELS, threads: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if not (folder / MODEL_FILE).is_file() or not (folder / CONFIG_FILE).is_file():
            from .errors import QAError

            raise QAError(f"no reader model in {folder}: `make reader` trains and exports one")
        self.config = json.loads((folder / CONFIG_FILE).read_text())
        self.max_length = int(self.config["max_length"])
        self.max_answer_tokens = int(self.config["max_answer_tokens"])
        self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self._cls, self._sep = self._tokenizer.token_to_id("[CLS]"), self._tokenizer.token_to_id("[SEP]")
        options = ort.SessionOptions()
        self._pool = ThreadPoolExecutor(threads or os.cpu_count() or 1, thread_name_prefix="reader")
        options.intra_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(unsigned_reader(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"])

    def question_tokens(self, question: str) -> int:
        return min(len(self._tokenizer.encode(question, add_special_tokens=False).ids), MAX_QUESTION_TOKENS)

    def window(self, question_tokens: int, text: str, start: int, end: int) -> tuple[int, int]:
        """Character range of text around [start, end) that fits the model with the question: the sentence first,
        then its neighbours on both sides; a sentence longer than the room keeps its beginning."""
        offsets = self._tokenizer.encode(text, add_special_tokens=False).offsets
        room = self.max_length - 3 - question_tokens
        if len(offsets) <= room:
            return 0, len(text)
        inside = [i for i, (a, b) in enumerate(offsets) if b > start and a < end] or [0]
        first, last = inside[0], min(inside[-1], inside[0] + room - 1)
        spare = room - (last - first + 1)
        before = min(first, spare // 2)
        after = min(len(offsets) - 1 - last, spare - before)
        before = min(first, spare - after)
        first, last = first - before, last + after
        return offsets[first][0], offsets[last][1]

    def windows(self, question_tokens: int, text: str, overlap: int = 32) -> list[tuple[int, int]]:
        """Character ranges that cover the whole text in windows that fit the model, overlapping by some tokens."""
        offsets = self._tokenizer.encode(text, add_special_tokens=False).offsets
        room = self.max_length - 3 - question_tokens
        if len(offsets) <= room:
            return [(0, len(text))]
        starts = range(0, max(1, len(offsets) - overlap), room - overlap)
        return [(offsets[i][0], offsets[min(i + room, len(offsets)) - 1][1]) for i in starts]

    def read(self, question: str, texts: Sequence[str]) -> list[Reading]:
        """The best span of each text (a window that fits the model). Each window is its own run: the int8 graph
        sets its activation scale from what it reads, so a window read beside others would be read differently."""
        q_ids = self._tokenizer.encode(question, add_special_tokens=False).ids[:MAX_QUESTION_TOKENS]
        room = self.max_length - 3 - len(q_ids)
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return list(self._pool.map(lambda enc: self._read_one(q_ids, enc, room), encodings))

    def _read_one(self, q_ids: list[int], enc, room: int) -> Reading:
        ids = [self._cls, *q_ids, self._sep, *enc.ids[:room], self._sep]
        first, n = len(q_ids) + 2, min(len(enc.ids), room)
        types = np.zeros((1, len(ids)), dtype=np.int64)
        types[0, first:] = 1
        feed = {"input_ids": np.array([ids], dtype=np.int64), "attention_mask": np.ones((1, len(ids)), dtype=np.int64),
                "token_type_ids": types}
        starts, ends = (x[0] for x in self._session.run(None, feed))
        null = float(starts[0] + ends[0])
        if n == 0:
            return Reading(0, 0, -math.inf, null, 0.0)
        context = np.zeros(len(ids), dtype=bool)
        context[first : first + n] = True
        i, j, score = best_span(starts, ends, context, self.max_answer_tokens)
        log_s, log_e = _log_softmax(starts), _log_softmax(ends)
        return Reading(start=enc.offsets[i - first][0], end=enc.offsets[j - first][1], score=score, null=null,
                       prob=float(math.exp(log_s[i] + log_e[j])))
