"""Fit answerability: logistic regression of "the corpus answers this" on the engine's evidence features.

    .venv/bin/python -m benchmarks.calibrate

Fits on tests/questions/seeds.jsonl (answerable) against tests/questions/unanswerable.jsonl, then scores the
held-out pair (seeds_heldout.jsonl, unanswerable_heldout.jsonl) that the fit never sees. Prints the weights to
copy into qa/answer.py WEIGHTS and the accuracy of the current and the fitted weights on both splits.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from qa.answer import WEIGHTS, confidence
from qa.engine import Engine
from qa.evaluate import load_questions
from qa.settings import Settings

from .common import PROJECT, table

QUESTIONS = PROJECT / "tests" / "questions"
SPLITS = {
    "fit": ["seeds.jsonl", "unanswerable.jsonl"],
    "held-out": ["seeds_heldout.jsonl", "unanswerable_heldout.jsonl"],
}
L2 = 0.1  # a little shrinkage: ~50 questions fit five weights


def features(engine: Engine, split: str) -> tuple[list[dict], np.ndarray]:
    """Evidence per question, and 1 where the question has gold answers (0: the corpus cannot answer it)."""
    questions = [q for name in SPLITS[split] for q in load_questions(QUESTIONS / name)]
    return [engine.evidence(q.q) for q in questions], np.array([int(bool(q.answers)) for q in questions])


def fit(rows: list[dict], labels: np.ndarray) -> dict[str, float]:
    names = sorted(rows[0])
    x = np.array([[row[n] for n in names] for row in rows])
    x = np.hstack([np.ones((len(x), 1)), x])

    def loss(w: np.ndarray) -> float:
        z = x @ w
        return float(np.sum(np.logaddexp(0, z) - labels * z) + L2 * np.sum(w[1:] ** 2))

    w = minimize(loss, np.zeros(x.shape[1]), method="BFGS").x
    return {"bias": float(w[0]), **{n: float(v) for n, v in zip(names, w[1:])}}


def accuracy(rows: list[dict], labels: np.ndarray, weights: dict[str, float]) -> tuple[float, float]:
    """Share of answerable questions answered, share of unanswerable ones declined."""
    said = np.array([confidence(row, weights) >= 0.5 for row in rows])
    return float(said[labels == 1].mean()), float((~said[labels == 0]).mean())


def main() -> None:
    engine = Engine.open(Settings.from_env(), build_missing=True)
    data = {split: features(engine, split) for split in SPLITS}
    fitted = fit(*data["fit"])
    print("fitted WEIGHTS =", {k: round(v, 2) for k, v in fitted.items()})
    rounded = {k: round(v, 2) for k, v in fitted.items()}
    rows = [
        (label, split, *accuracy(*data[split], weights))
        for label, weights in [("current", WEIGHTS), ("fitted", rounded)]
        for split in SPLITS
    ]
    print(table(rows, ("weights", "split", "answerable answered", "unanswerable declined")))


if __name__ == "__main__":
    main()
