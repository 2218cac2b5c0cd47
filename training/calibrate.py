"""Choose the reader's thresholds and fit its confidence on SQuAD's tuning split, end to end through the engine.

    .venv/bin/python -m training.calibrate          # `make reader` runs it after training and export

The four tuning articles (qa/squad.py) were held out of training. Their questions are asked twice, through the real
engine and the shipped int8 reader:
- over an index of all 36 non-evaluation articles, where the corpus holds the answer;
- over an index of the 32 training articles only, where it does not: every answer shown there is a bluff.
From those readings it writes into qa/models/reader/reader.json:
- null_threshold: the "span minus no-answer" margin that answers; the highest that still answers >= 90% of the
  answerable questions, so as many unanswerable ones as possible are declined;
- calibration: two logistic regressions, from a reading's margin, span probability and retrieval score to the
  probability that the short answer is right (holds a gold answer in <= 10 words, as `qa eval` counts) and that the sentence holds it;
- span_threshold: the lowest calibrated probability at which shown short answers are right >= 90% of the time.
The evaluation split is never read here.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from index.build import build_index
from qa.engine import Engine
from qa.evaluate import reliability, span_right
from qa.reader import CONFIG_FILE, Calibration, Reader
from qa.settings import Settings
from qa.squad import squad_articles, write_corpus

from .export import TARGET
from .reader import SQUAD

ANSWERED = 0.90  # share of answerable tuning questions that must still be answered
PRECISION = 0.90  # share of shown short answers that must be right
FEATURES = ("margin", "log_prob", "retrieval")


def readings(engine: Engine, articles: list[dict]) -> list[dict]:
    """One row per question: the best reading's features, and whether its span and sentence are right."""
    rows = []
    for article in articles:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                golds = [a["text"] for a in qa["answers"]]
                evidence = engine.evidence(qa["question"])
                if evidence is None:
                    continue
                found, span, sentence, retrieval = evidence
                rows.append({
                    "margin": found.reading.margin, "log_prob": math.log(max(found.reading.prob, 1e-9)), "retrieval": retrieval,
                    "span_ok": span_right(span, golds),
                    "sentence_ok": any(g.casefold() in sentence.casefold() for g in golds),
                })
    return rows


def fit(rows: list[dict], label: str, l2: float = 0.01) -> dict[str, float]:
    x = np.array([[1.0] + [row[f] for f in FEATURES] for row in rows])
    y = np.array([float(row[label]) for row in rows])

    def loss(w: np.ndarray) -> float:
        z = x @ w
        return float(np.sum(np.logaddexp(0, z) - y * z) + l2 * np.sum(w[1:] ** 2))

    w = minimize(loss, np.zeros(x.shape[1]), method="BFGS").x
    return {"bias": float(w[0]), **{f: float(v) for f, v in zip(FEATURES, w[1:])}}


def probabilities(rows: list[dict], weights: dict[str, float]) -> np.ndarray:
    z = np.array([weights["bias"] + sum(weights[f] * row[f] for f in FEATURES) for row in rows])
    return 1 / (1 + np.exp(-z))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=Path, default=TARGET, help="the exported reader's folder")
    target = parser.parse_args().target
    config_file = target / CONFIG_FILE
    config = json.loads(config_file.read_text())
    train, tune = squad_articles(SQUAD, "train"), squad_articles(SQUAD, "tune")
    with tempfile.TemporaryDirectory(prefix="qa-calibrate-") as tmp:
        tmp = Path(tmp)
        sets = {}
        for name, articles in (("answerable", train + tune), ("unanswerable", train)):
            write_corpus(articles, tmp / f"{name}.jsonl")
            build_index([tmp / f"{name}.jsonl"], tmp / name)
            engine = Engine.open(Settings.from_env(index=tmp / name, reader=target))
            sets[name] = readings(engine, tune)
            print(f"{name}: {len(sets[name])} tuning questions read", flush=True)
    pos, neg = sets["answerable"], sets["unanswerable"]
    margins = np.array([r["margin"] for r in pos])
    null_threshold = float(np.quantile(margins, 1 - ANSWERED))
    declined = np.mean([r["margin"] <= null_threshold for r in neg])
    print(f"null_threshold {null_threshold:.3f}: answers {np.mean(margins > null_threshold):.3f} of answerable, "
          f"declines {declined:.3f} of unanswerable", flush=True)

    shown = [r for r in pos + neg if r["margin"] > null_threshold]
    for r in neg:
        r["span_ok"] = r["sentence_ok"] = False  # any answer over a corpus without it is wrong
    span_w, sentence_w = fit(shown, "span_ok"), fit(shown, "sentence_ok")
    p = probabilities(shown, span_w)
    y = np.array([r["span_ok"] for r in shown])
    span_threshold = 1.0  # no short answers at all, unless some threshold makes them right often enough
    for t in np.linspace(0.3, 0.99, 70):
        if (p >= t).any() and y[p >= t].mean() >= PRECISION:
            span_threshold = float(t)
            break
    table, ece = reliability(p, y.astype(float))
    print(f"span_threshold {span_threshold:.2f}: shows {np.mean(p >= span_threshold):.3f} of answers, "
          f"right {y[p >= span_threshold].mean():.3f}; tuning-split ECE {ece:.3f}")
    for row in table:
        print("  ", row)
    Calibration(**span_w), Calibration(**sentence_w)  # fails here, not at serving time, if the fields drift
    config.update({
        "null_threshold": round(null_threshold, 4), "span_threshold": round(span_threshold, 3),
        "calibration": {"span": {k: round(v, 4) for k, v in span_w.items()}, "sentence": {k: round(v, 4) for k, v in sentence_w.items()}},
        "tuning": {"answerable": len(pos), "unanswerable": len(neg), "declined": round(float(declined), 3), "ece": round(ece, 4)},
    })
    config_file.write_text(json.dumps(config, indent=2) + "\n")
    Reader(target)  # the written config loads
    print(f"wrote {config_file}")


if __name__ == "__main__":
    main()
