"""What the sources say, scored on the frozen multi-source set (tests/multisource/frozen: invented events, several
fictional outlets, same-outlet updates, distractors), which nothing was tuned on.

    .venv/bin/python -m benchmarks.sources [--set tests/multisource/frozen]

- pairs: of every (question, outlet report) the set lists, the share found in `answer.reports` in a group whose
  value agrees with the report's own (qa.values.same on the normalised values);
- differ / agree: the share of questions that differ with `sources_differ` true, and of those that agree with it
  false (questions with no answer count as wrong);
- latest: the share of answerable questions whose `answer.latest` group holds the newest report;
- self-corroboration: passages listing their own outlet, or one outlet twice, under "also reported by" (must be 0);
- unanswerable: the share with no reports at all.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from .common import PROJECT, machine


def score(engine, questions: list[dict]) -> dict:
    from qa.decide import question_type
    from qa.values import normalize, same

    pairs = found = differ_n = differ_ok = agree_n = agree_ok = latest_n = latest_ok = self_cited = 0
    unanswerable = quiet = 0
    for q in questions:
        result = engine.ask(q["q"])
        answer = result.answer
        groups = answer.reports if answer else []
        for passage in result.passages:
            outlets = [c.source.outlet for c in passage.also_in]
            self_cited += passage.source.outlet in outlets or len(outlets) != len(set(outlets))
        if q["kind"] == "unanswerable":
            unanswerable += 1
            quiet += not groups
            continue
        qtype = question_type(q["q"])
        for gold in q["sources"]:
            pairs += 1
            article = Path(gold["file"]).stem
            want = normalize(gold["value"], qtype, gold["published"])
            found += any(s.id == article and same(normalize(g.value, qtype, s.published), want)
                         for g in groups for s in g.sources)
        if q["kind"] == "differ":
            differ_n += 1
            differ_ok += bool(answer and answer.sources_differ)
        else:
            agree_n += 1
            agree_ok += bool(answer) and not answer.sources_differ
        latest_n += 1
        latest_ok += bool(answer and answer.latest is not None
                          and any(s.id == Path(q["latest"]).stem for s in groups[answer.latest].sources))
    return {
        "pairs": pairs, "pairs_found_and_grouped": round(found / (pairs or 1), 3),
        "differ": differ_n, "differ_marked": round(differ_ok / (differ_n or 1), 3),
        "agree": agree_n, "agree_not_marked": round(agree_ok / (agree_n or 1), 3),
        "latest_named": round(latest_ok / (latest_n or 1), 3),
        "self_corroboration": self_cited,
        "unanswerable": unanswerable, "unanswerable_without_reports": round(quiet / (unanswerable or 1), 3),
    }


def main() -> None:
    from dataclasses import replace

    from index.build import build_index
    from qa.engine import Engine
    from qa.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=PROJECT / "tests" / "multisource" / "frozen")
    args = parser.parse_args()
    questions = [json.loads(line) for line in (args.set / "questions.jsonl").read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory(prefix="qa-sources-") as tmp:
        build_index([args.set / "articles"], Path(tmp) / "index")
        engine = Engine.open(replace(Settings.from_env(), index=Path(tmp) / "index"))
        result = {"machine": machine(), "set": str(args.set), **score(engine, questions)}
    print(json.dumps(result, indent=1))
    out = PROJECT / "var" / "bench" / "sources.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
