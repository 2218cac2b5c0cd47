"""Retrieval and answer quality on a question set: R@1/3/5, MRR, sentence and span accuracy, SQuAD EM/F1."""

from __future__ import annotations

import json
import random
import re
import string
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from index.build import build_index
from index.documents import safe_id

from .engine import Engine
from .errors import QAError
from .settings import Settings
from .squad import split_of, squad_articles, write_corpus


@dataclass
class Question:
    q: str
    answers: list[str]
    docs: list[str]


@dataclass
class Report:
    questions: int
    r1: float
    r3: float
    r5: float
    mrr: float
    sentence_accuracy: float
    span_accuracy: float
    exact_match: float
    f1: float
    answerable_rate: float
    shown_rate: float = 0.0
    shown_right: float = 0.0
    ece: float = 0.0
    unanswerable: int = 0
    declined_rate: float = 0.0
    answered_rate: float = 0.0  # answerable questions marked answered
    uncertain_rate: float = 0.0  # ... and marked uncertain
    answered_right: float = 0.0  # share of answered ones whose sentence holds the answer
    unanswerable_not_answered: float = 0.0  # unanswerable questions declined or only uncertain
    answer_ece: float = 0.0  # confidence against rightness of what is shown, every answer given
    shown: list = field(default_factory=list, repr=False)  # (confidence, right) of every short answer shown

    def as_dict(self) -> dict:
        return {key: round(value, 4) if isinstance(value, float) else value for key, value in asdict(self).items() if key != "shown"}


def load_questions(path: Path) -> list[Question]:
    """Questions from a jsonl file of {"q", "answers", "docs"}; a bad line is an error naming it.

    A question without "answers" is one the corpus cannot answer: the engine should decline it.
    """
    out = []
    for lineno, line in enumerate(Path(path).read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            out.append(Question(str(obj["q"]), [str(a) for a in obj.get("answers", [])], [str(d) for d in obj.get("docs", [])]))
        except (ValueError, KeyError, TypeError) as exc:
            raise QAError(f"{path} line {lineno}: expected {{\"q\", \"answers\", \"docs\"}} ({exc})") from None
    if not out:
        raise QAError(f"{path} holds no questions")
    return out


def _normalise(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, articles or extra spaces."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    return float(_normalise(prediction) == _normalise(gold))


def f1_score(prediction: str, gold: str) -> float:
    pred, ref = _normalise(prediction).split(), _normalise(gold).split()
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def _contains(text: str | None, answers: list[str]) -> bool:
    return bool(text) and any(a.casefold() in text.casefold() for a in answers)


def span_right(span: str | None, answers: list[str]) -> bool:
    """A short answer is right when it holds a gold answer in at most 10 words."""
    return bool(span) and len(span.split()) <= 10 and _contains(span, answers)


def reliability(confidences: list[float], right: list[bool], bins: int = 10) -> tuple[list[tuple], float]:
    """Rows of (confidence bin, count, mean confidence, share right) and the expected calibration error: the gap
    between stated confidence and accuracy, weighted by how many answers fall in each of 10 equal bins."""
    if not len(confidences):
        return [], 0.0
    p, y = np.asarray(confidences, dtype=float), np.asarray(right, dtype=float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    rows, ece = [], 0.0
    for b in sorted(set(which.tolist())):
        inside = which == b
        rows.append((f"{b / bins:.1f}-{(b + 1) / bins:.1f}", int(inside.sum()), float(p[inside].mean()), float(y[inside].mean())))
        ece += inside.sum() / len(p) * abs(p[inside].mean() - y[inside].mean())
    return rows, float(ece)


def evaluate(engine: Engine, questions: Iterable[Question], k: int = 5, progress: Callable | None = None) -> Report:
    """Score the engine on questions; a passage is a hit when it holds an answer and comes from a gold doc.

    `shown_right` is the share of shown short answers that are right (span_right), and `ece` compares their
    confidence with that, counting a short answer to an unanswerable question as wrong. Otherwise questions without
    answers only count towards `declined_rate`, the share the engine marks unanswerable.
    """
    questions = list(questions)
    ranks, sentence_ok, span_ok, em, f1, answerable, declined = [], 0, 0, 0.0, 0.0, 0, 0
    confidences: list[float] = []
    right: list[bool] = []
    given: list[tuple[float, bool]] = []  # (confidence, what is shown is right) of every answer
    states = Counter()
    answered_ok = unanswerable_answered = 0
    shown = 0
    unanswerable = [q for q in questions if not q.answers]
    for question in progress(questions) if progress else questions:
        result = engine.ask(question.q, k=k)
        if not question.answers:
            declined += not result.answerable
            if result.answer is not None:
                unanswerable_answered += result.answer.status == "answered"
                given.append((result.answer.confidence, False))
                if result.answer.text:
                    confidences.append(result.answer.confidence)  # a short answer where there is none: wrong
                    right.append(False)
            continue
        rank = next(
            (
                p.rank
                for p in result.passages
                if _contains(p.text, question.answers)
                and (not question.docs or p.source.id in question.docs)
            ),
            None,
        )
        ranks.append(rank)
        answerable += result.answerable
        if result.answer is not None:
            in_sentence = _contains(result.answer.sentence, question.answers)
            sentence_ok += in_sentence
            states[result.answer.status] += 1
            answered_ok += result.answer.status == "answered" and in_sentence
            span = result.answer.text
            ok = span_right(span, question.answers)
            span_ok += ok
            given.append((result.answer.confidence, ok if span else in_sentence))
            if span:
                shown += 1
                confidences.append(result.answer.confidence)
                right.append(ok)
                em += max(exact_match(span, a) for a in question.answers)
                f1 += max(f1_score(span, a) for a in question.answers)
    n = len(ranks) or 1
    return Report(
        questions=len(ranks),
        r1=sum(r == 1 for r in ranks) / n,
        r3=sum(r is not None and r <= 3 for r in ranks) / n,
        r5=sum(r is not None and r <= 5 for r in ranks) / n,
        mrr=sum(1 / r for r in ranks if r) / n,
        sentence_accuracy=sentence_ok / n,
        span_accuracy=span_ok / n,
        exact_match=em / n,
        f1=f1 / n,
        answerable_rate=answerable / n,
        shown_rate=shown / n,
        shown_right=sum(right) / (len(right) or 1),
        ece=reliability(confidences, right)[1],
        shown=list(zip(confidences, right)),
        unanswerable=len(unanswerable),
        declined_rate=declined / (len(unanswerable) or 1),
        answered_rate=states["answered"] / n,
        uncertain_rate=states["uncertain"] / n,
        answered_right=answered_ok / (states["answered"] or 1),
        unanswerable_not_answered=1 - unanswerable_answered / (len(unanswerable) or 1),
        answer_ece=reliability([c for c, _ in given], [r for _, r in given])[1],
    )


def squad_questions(squad_file: Path, folder: Path, limit: int | None, split: str | None = None, seed: int = 13) -> list[Question]:
    """Write all of SQuAD's articles as one jsonl document each into folder; return a seeded sample of the
    questions of one split (qa/squad.py), or of all of them."""
    data = squad_articles(squad_file)
    write_corpus(data, folder / "squad.jsonl")
    questions = []
    for position, article in enumerate(data):
        if split is not None and split_of(position) != split:
            continue
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                answers = list(dict.fromkeys(a["text"] for a in qa["answers"]))
                questions.append(Question(qa["question"], answers, [safe_id(article["title"])]))
    if limit and limit < len(questions):
        questions = random.Random(seed).sample(questions, limit)
    return questions


def evaluate_squad(
    settings: Settings, squad_file: Path, limit: int | None, split: str | None = None, progress: Callable | None = None
) -> Report:
    """Build a temporary index of all SQuAD's articles with our own pipeline and score a sample of one split's
    questions (the evaluation split is the one the reader never saw)."""
    if not Path(squad_file).is_file():
        raise QAError(f"SQuAD file {squad_file} not found: pass the path to dev-v1.1.json")
    with tempfile.TemporaryDirectory(prefix="qa-squad-") as tmp:
        folder = Path(tmp)
        (folder / "docs").mkdir()
        questions = squad_questions(squad_file, folder / "docs", limit, split)
        build_index([folder / "docs"], folder / "index", model=settings.model)
        engine = Engine.open(replace(settings, index=folder / "index"))
        return evaluate(engine, questions, progress=progress)
