"""The one learned decision: which span and sentence answer, and whether to answer at all.

Every window the reader reads gives one option: its best span and the sentence holding it. Each option is described
by the signals below, and gradient-boosted trees (fitted by training/decide.py on SQuAD's tuning split, on-topic
perturbed questions and news questions, none of them evaluation data) give the probability that its sentence holds
the answer and that its short span is the answer. The option with the most probable sentence is chosen; retrieval's
rank is one of the signals, so the reader leaves the top passage only when the data says a weaker rank pays.
The probability then sets the state: answered, uncertain ("possible answer, check the passage"), or not stated.
This is selective question answering after Kamath, Jia and Liang (2020).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .reader import Reading

DECISION_FILE = "decision.json"
STATES = ("answered", "uncertain", "declined")

FEATURES = (
    "margin", "score", "null", "log_prob", "margin_gap", "rank1", "log_rank", "retrieval", "retrieval_gap",
    "sentence_overlap", "passage_overlap", "sentence_cosine", "best_sentence", "keys_in_sentence", "keys_in_passage",
    "span_words", "span_echo", "span_digit", "span_date", "span_name", "type_fit", "agree",
    "q_when", "q_number", "q_who", "q_where",
)

_NUMBER_WORDS = r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|hundred|thousand|million|billion|half"
_MONTHS = r"jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(t|tember)?|oct(ober)?|nov(ember)?|dec(ember)?"
_DATE = re.compile(rf"\b({_MONTHS}|monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|tomorrow|"
                   rf"week|month|year|(1[5-9]|20)\d\d|\d{{1,2}}/\d{{1,2}})\b", re.IGNORECASE)
_DIGIT = re.compile(rf"\d|\b({_NUMBER_WORDS})\b", re.IGNORECASE)
_QUESTION_WORDS = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "did", "does", "do", "is",
                   "was", "were", "are", "the", "a", "an", "in", "of", "on", "to", "for", "and"}


def question_type(question: str) -> str:
    """What kind of answer the question asks for: when, number, who, where, or other."""
    q = question.casefold()
    # Users also type keywords: "cable car breakdown date", "death toll", "prison governor name".
    if re.search(r"\bhow (many|much|long|far|big|large|old|high|low)\b|\bwhat (percentage|percent|share|amount|price|"
                 r"rate|number|level|value|total)\b|\bby how\b|\b(number|count|total) of\b|\b(death|casualty) toll\b", q):
        return "number"
    if re.search(r"\bwhen\b|\b(what|which) (year|date|day|month|time|week)\b|\bdate\b", q):
        return "when"
    if re.search(r"\bwho(m|se)?\b|\bname\b", q):
        return "who"
    if re.search(r"\bwhere\b|\b(what|which) (city|country|state|place|town)\b", q):
        return "where"
    return "other"


def question_keys(question: str) -> set[str]:
    """The names and numbers of a question, folded: what a passage must mention to be about the same thing."""
    words = re.findall(r"[\w'.,-]*\w", question)
    keys = {w for i, w in enumerate(words) if any(c.isdigit() for c in w) or (w[0].isupper() and (i or w.casefold() not in _QUESTION_WORDS))}
    return {k.casefold() for k in keys if k.casefold() not in _QUESTION_WORDS}


def _share_present(keys: set[str], text: str) -> float:
    if not keys:
        return 1.0
    folded = text.casefold()
    return sum(1 for k in keys if re.search(rf"(?<!\w){re.escape(k)}(?!\w)", folded)) / len(keys)


def kind_fits(span: str, qtype: str) -> bool:
    """Whether a span states the kind of value its question asks for, where the question fixes one: a date (or a
    day, month or year, resolvable or not) for "when", a number in digits or words for "how many"."""
    pattern = {"when": _DATE, "number": _DIGIT}.get(qtype)
    return pattern is None or bool(pattern.search(span))


def _fold(span: str) -> str:
    return " ".join(re.findall(r"\w+", span.casefold()))


@dataclass(frozen=True)
class Option:
    """One candidate answer: the best span of the window read in pick `pick` (offsets into that passage's text),
    the sentence(s) holding it, and the reading behind it."""

    pick: int
    start: int
    end: int
    sentence: tuple[int, int]
    reading: Reading


@dataclass(frozen=True)
class Evidence:
    """What the features of an option need to know of its passage: text, retrieval score, the sentence cosines and
    the best sentence's offsets (all offsets into the passage text)."""

    text: str
    retrieval: float
    spans: np.ndarray
    cosines: np.ndarray
    best: tuple[int, int]

    @classmethod
    def of(cls, record: dict, candidate, choice) -> "Evidence":
        """A retrieved passage's evidence: `candidate` is its qa.search.Candidate, `choice` its chosen sentence."""
        spans, _, cosines = candidate.sentences()
        return cls(record["text"], candidate.score, spans, cosines, (choice.start, choice.end))


def features(question: str, overlap, options: list[Option], evidence: list[Evidence]) -> np.ndarray:
    """One row of FEATURES per option. `overlap` gives the share of the question's IDF mass a text holds."""
    if not options:
        return np.zeros((0, len(FEATURES)))
    qtype, keys = question_type(question), question_keys(question)
    q_words = {w.casefold() for w in re.findall(r"\w+", question)}
    top_margin = max(o.reading.margin for o in options)
    top_retrieval = max(e.retrieval for e in evidence)
    folded = [_fold(evidence[o.pick].text[o.start : o.end]) for o in options]
    rows = []
    for option, span_key in zip(options, folded):
        ev, r = evidence[option.pick], option.reading
        span = ev.text[option.start : option.end]
        sentence = ev.text[option.sentence[0] : option.sentence[1]]
        words = re.findall(r"\w+", span)
        at = next((i for i, (a, b) in enumerate(ev.spans.tolist()) if a <= option.start < b), None)
        digit, date = bool(_DIGIT.search(span)), bool(_DATE.search(span))
        name = any(w[0].isupper() for w in words)
        fit = {"when": date, "number": digit, "who": name, "where": name}.get(qtype, False)
        rows.append([
            r.margin, r.score, r.null, math.log(max(r.prob, 1e-9)), r.margin - top_margin,
            float(option.pick == 0), math.log1p(option.pick), ev.retrieval, ev.retrieval - top_retrieval,
            overlap(sentence), overlap(ev.text), float(ev.cosines[at]) if at is not None and len(ev.cosines) else 0.0,
            float(option.sentence[0] < ev.best[1] and ev.best[0] < option.sentence[1]),
            _share_present(keys, sentence), _share_present(keys, ev.text),
            math.log1p(len(words)), sum(w.casefold() in q_words for w in words) / (len(words) or 1),
            float(digit), float(date), float(name), float(fit),
            float(sum(1 for other in folded if other and other == span_key) - 1),
            float(qtype == "when"), float(qtype == "number"), float(qtype == "who"), float(qtype == "where"),
        ])
    return np.asarray(rows, dtype=np.float64)


@dataclass(frozen=True)
class Verdict:
    """The decision on one question: the chosen option (None when declined), its state, and the calibrated
    probabilities that its sentence and its span are right; `show_span` when the span is sure enough to show."""

    option: int | None
    status: str
    sentence_p: float
    span_p: float
    show_span: bool

    @property
    def confidence(self) -> float:
        """The probability that what is shown is right: the span when it is shown, else the sentence."""
        return self.span_p if self.show_span else self.sentence_p


Model = Callable[[np.ndarray], np.ndarray]  # rows of FEATURES -> probabilities


class Decision:
    """Two gradient-boosted tree models (LightGBM, saved as text beside decision.json) over FEATURES, and the
    thresholds chosen on tuning data. Trees only compare features with split points, so the same features give the
    same probabilities on any CPU."""

    def __init__(self, config: dict, models: dict[str, Model]):
        if tuple(config["features"]) != FEATURES:
            raise ValueError("the decision was fitted on other features: run `python -m training.decide`")
        thresholds = config["thresholds"]
        self.answered, self.uncertain, self.span = (float(thresholds[t]) for t in ("answered", "uncertain", "span"))
        # Other sources' own probabilities come from the source model, with thresholds of their own.
        self.source_kept = float(thresholds.get("source_kept", self.uncertain))
        self.source_answered = float(thresholds.get("source_answered", self.answered))
        self.config = config
        self.models = models

    @classmethod
    def untrained(cls) -> "Decision":
        """A decision that declines everything: what training/decide.py reads options with before fitting one."""
        never = lambda rows: np.zeros(len(rows))  # noqa: E731
        return cls({"features": FEATURES, "thresholds": {"answered": 1.0, "uncertain": 1.0, "span": 1.0}},
                   {name: never for name in MODELS})

    @classmethod
    def load(cls, folder: Path) -> "Decision":
        from .errors import QAError

        path = Path(folder) / DECISION_FILE
        try:
            config = json.loads(path.read_text())
            return cls(config, {name: booster(Path(folder) / config["models"][name]) for name in MODELS})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise QAError(f"cannot read the answer decision {path} ({exc}): `python -m training.decide` fits it") from None

    def probabilities(self, rows: np.ndarray, model: str) -> np.ndarray:
        return np.asarray(self.models[model](rows), dtype=np.float64) if len(rows) else np.zeros(0)

    def decide(self, rows: np.ndarray) -> Verdict:
        """The option whose sentence is most likely right (the earlier pick on a tie), and its state."""
        if not len(rows):
            return Verdict(None, "declined", 0.0, 0.0, False)
        sentence, span = self.probabilities(rows, "sentence"), self.probabilities(rows, "span")
        best = int(np.argmax(sentence))
        p, q = float(sentence[best]), float(span[best])
        status = "answered" if p >= self.answered else "uncertain" if p >= self.uncertain else "declined"
        if status == "declined":
            return Verdict(None, status, p, q, False)
        return Verdict(best, status, p, q, q >= self.span)


MODELS = ("sentence", "span", "source")
# What an option's features are when it is the only one read: the answer stage's context (how it compares with the
# other windows, and its rank among them) set as for the top and only option.
_ALONE = {"margin_gap": 0.0, "retrieval_gap": 0.0, "rank1": 1.0, "log_rank": 0.0, "agree": 0.0}


def alone(rows: np.ndarray) -> np.ndarray:
    """The rows as if each option had been read on its own."""
    rows = np.array(rows, dtype=np.float64)
    for name, value in _ALONE.items():
        rows[:, FEATURES.index(name)] = value
    return rows


def booster(path: Path) -> Model:
    """A LightGBM model file as a function of feature rows; one thread, since a question has only a few rows."""
    import lightgbm

    model = lightgbm.Booster(model_str=path.read_text())
    return lambda rows: model.predict(np.asarray(rows, dtype=np.float64), num_threads=1)
