"""What the sources say, scored on the frozen multi-source set (tests/multisource/frozen: invented events, several
fictional outlets, same-outlet updates, distractors), which nothing was tuned on.

    .venv/bin/python -m benchmarks.sources [--set tests/multisource/frozen]
    .venv/bin/python -m benchmarks.sources --latency    # Engine.ask with and without the reports, same run

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
    parser.add_argument("--latency", action="store_true", help="time Engine.ask with and without the reports instead")
    args = parser.parse_args()
    if args.latency:
        return latency(args.set)
    questions = [json.loads(line) for line in (args.set / "questions.jsonl").read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory(prefix="qa-sources-") as tmp:
        build_index([args.set / "articles"], Path(tmp) / "index")
        engine = Engine.open(replace(Settings.from_env(), index=Path(tmp) / "index"))
        result = {"machine": machine(), "set": str(args.set), **score(engine, questions)}
    print(json.dumps(result, indent=1))
    out = PROJECT / "var" / "bench" / "sources.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))


def latency(folder: Path, rounds: int = 5) -> None:
    """Engine.ask p50 over the set's questions with the reports (up to SOURCES articles read) and without them
    (the answer's article only), in alternating blocks so the machine's load falls on both alike."""
    from dataclasses import replace

    import qa.reports
    from index.build import build_index
    from qa.engine import Engine
    from qa.settings import Settings

    from .common import percentiles

    questions = [json.loads(line)["q"] for line in (folder / "questions.jsonl").read_text().splitlines() if line.strip()]
    full = qa.reports.SOURCES
    with tempfile.TemporaryDirectory(prefix="qa-sources-") as tmp:
        build_index([folder / "articles"], Path(tmp) / "index")
        engine = Engine.open(replace(Settings.from_env(), index=Path(tmp) / "index"))
        samples: dict[str, list[float]] = {"with_reports": [], "without_reports": []}
        for q in questions[:5]:
            engine.ask(q)
        for _ in range(rounds):
            for name, sources in (("with_reports", full), ("without_reports", 1)):
                qa.reports.SOURCES = sources
                samples[name] += [engine.ask(q).took_ms for q in questions]
        qa.reports.SOURCES = full
    result = {"machine": machine(), "set": str(folder), "questions": len(questions), "rounds": rounds,
              **{name: percentiles(v) for name, v in samples.items()}}
    result["p50_ratio"] = result["with_reports"]["p50"] / result["without_reports"]["p50"]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
