"""The reader on SQuAD's evaluation split (never trained or tuned on): with the gold paragraph, then end to end.

    .venv/bin/python -m benchmarks.reader [--limit N]

1. Gold paragraph: the shipped int8 reader reads the question's own paragraph (in overlapping windows when it is
   longer than the model) and answers with its best span. This is the reader alone, as the SQuAD papers report it.
2. End to end: an index of all 48 articles, `Engine.ask` for every evaluation question, as `qa eval --squad
   --split eval` does; EM/F1 count `answer.text`, so a hidden short answer scores 0. Then the reliability table of
   the confidence of the short answers shown.
"""

from __future__ import annotations

import argparse

from qa.evaluate import evaluate_squad, exact_match, f1_score, reliability
from qa.reader import MODELS, Reader
from qa.settings import Settings
from qa.squad import squad_articles

from .common import SQUAD, machine, table


def gold_paragraph(reader: Reader, split: str, limit: int | None) -> dict[str, float]:
    em = f1 = n = 0
    for article in squad_articles(SQUAD, split):
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                if limit and n >= limit:
                    break
                context = paragraph["context"]
                windows = reader.windows(reader.question_tokens(qa["question"]), context)
                readings = reader.read(qa["question"], [context[a:b] for a, b in windows])
                best = max(range(len(readings)), key=lambda i: readings[i].score)
                a = windows[best][0]
                text = context[a + readings[best].start : a + readings[best].end]
                golds = [g["text"] for g in qa["answers"]]
                em += max(exact_match(text, g) for g in golds)
                f1 += max(f1_score(text, g) for g in golds)
                n += 1
    return {"questions": n, "em": em / n, "f1": f1 / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="only this many questions (a quick look; the record uses all)")
    args = parser.parse_args()
    print(machine())
    reader = Reader(MODELS)
    gold = gold_paragraph(reader, "eval", args.limit)
    print(f"gold paragraph, evaluation split: {gold['questions']} questions, EM {gold['em']:.3f}, F1 {gold['f1']:.3f}", flush=True)
    report = evaluate_squad(Settings.from_env(), SQUAD, args.limit, "eval")
    print("end to end, evaluation split:", "  ".join(f"{k}={v}" for k, v in report.as_dict().items()))
    rows, ece = reliability([c for c, _ in report.shown], [r for _, r in report.shown])
    print(f"\nshort answers shown: {len(report.shown)}, ECE {ece:.3f}")
    print(table(rows, ("confidence", "answers", "mean confidence", "right")))


if __name__ == "__main__":
    main()
