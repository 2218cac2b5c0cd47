"""What the learned decision adds over the reader's margin alone, on questions it was not fitted on.

    .venv/bin/python -m benchmarks.reuters_index        # var/bench/reuters-2000/index, once
    .venv/bin/python -m benchmarks.decision             # frozen news set v2 and its unanswerable questions
    .venv/bin/python -m benchmarks.decision --squad     # SQuAD's evaluation split over all 48 articles

For each question, both rules choose among the same options (the windows the engine reads): the decision takes the
option whose sentence is most probably right, the margin rule the one whose span beats "no answer" by the most.
Each rule's score is then swept over every threshold, and "coverage at 0.90 precision" is the largest share of all
questions (unanswerable ones included, where any answer is wrong) it can answer with >= 0.90 of its answer sentences
right. The sweep sees the labels, so this compares how well each rule ranks answers; the shipped thresholds were
chosen on training questions (training/decide.py). Also printed: the reliability table of the decision's
probability against whether the chosen sentence is right.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from qa.evaluate import _contains, load_questions, reliability
from training.decide import coverage

from .common import PROJECT, SQUAD, machine, table

SETS = ("tests/questions/reuters_frozen_v2.jsonl", "tests/questions/reuters_frozen_v2_unanswerable.jsonl")


def main() -> None:
    from qa.engine import Engine
    from qa.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=PROJECT / "var" / "bench" / "reuters-2000" / "index")
    parser.add_argument("--squad", action="store_true", help="SQuAD's evaluation split instead of question files")
    parser.add_argument("sets", nargs="*", default=SETS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qa-decision-") as tmp:
        if args.squad:
            from index.build import build_index
            from qa.evaluate import squad_questions

            questions = squad_questions(SQUAD, Path(tmp), None, "eval")
            build_index([Path(tmp) / "squad.jsonl"], Path(tmp) / "index")
            args.index, args.sets = Path(tmp) / "index", ["SQuAD v1.1 dev, evaluation split"]
        else:
            questions = [q for path in args.sets for q in load_questions(PROJECT / path)]
        report(Engine.open(Settings.from_env(index=args.index)), questions, args.sets)


def report(engine, questions: list, sets: list[str]) -> None:
    chosen = []
    for q in questions:
        picked, options, rows = engine.options(q.q)
        if not options:
            chosen.append((0.0, False, -99.0, False))
            continue
        p = engine.decision.probabilities(rows, "sentence")

        def right(i: int) -> bool:
            record = picked[options[i].pick].record
            a, b = options[i].sentence
            return bool(q.answers) and (not q.docs or record["source"]["id"] in q.docs) and _contains(record["text"][a:b], q.answers)

        best, by_margin = int(np.argmax(p)), int(np.argmax([o.reading.margin for o in options]))
        chosen.append((float(p[best]), right(best), options[by_margin].reading.margin, right(by_margin)))
    p, ok, margin, margin_ok = (np.array(column) for column in zip(*chosen))
    result = {
        "machine": machine(), "sets": list(sets), "questions": len(chosen),
        "coverage_at_0.90": {"decision": coverage(p, ok, 0.90), "margin_alone": coverage(margin, margin_ok, 0.90)},
        "chosen_sentence_right": {"decision": float(ok.mean()), "margin_alone": float(margin_ok.mean())},
    }
    rows, ece = reliability(p, ok)
    result["ece"] = ece
    print(json.dumps(result, indent=1))
    print(table(rows, ("probability", "answers", "mean probability", "right")))
    out = PROJECT / "var" / "bench" / ("decision-squad.json" if sets[0].startswith("SQuAD") else "decision.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**result, "reliability": rows}, indent=1))


if __name__ == "__main__":
    main()
