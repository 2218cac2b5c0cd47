"""Consistency check for the multi-source corpora (frozen/ and fixture/).

Run from the repository root:  python tests/multisource/check_corpus.py
Not a pytest module (no test_ prefix): it checks the data, it does not exercise the service.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE_RE = re.compile(r"^Source: (?P<outlet>.+), (?P<date>[A-Z][a-z]+ \d{1,2}, \d{4})$")
NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?$")
DATE_RE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")
NAME_RE = re.compile(r"^[a-z][a-z' .-]+$")
KINDS = {"differ", "agree", "unanswerable"}


def parse_article(path: Path) -> tuple[dict, list[str]]:
    errors = []
    lines = path.read_text(encoding="utf-8").rstrip("\n").split("\n")
    headline = lines[0].strip()
    if not headline or (len(lines) > 1 and lines[1].strip()):
        errors.append("first line must be a headline followed by a blank line")
    m = SOURCE_RE.match(lines[-1])
    if not m:
        errors.append(f"last line is not 'Source: Outlet, Month D, YYYY': {lines[-1]!r}")
        return {"headline": headline, "body": "", "outlet": None, "published": None}, errors
    published = datetime.strptime(m["date"], "%B %d, %Y").date().isoformat()
    body = "\n".join(lines[1:-1]).strip()
    paragraphs = [p for p in body.split("\n\n") if p.strip()]
    words = len(body.split())
    if not 3 <= len(paragraphs) <= 6:
        errors.append(f"{len(paragraphs)} paragraphs (want 3-6)")
    if not 150 <= words <= 350:
        errors.append(f"{words} words (want about 150-350)")
    return {"headline": headline, "body": body, "outlet": m["outlet"], "published": published,
            "paragraphs": len(paragraphs), "words": words}, errors


def check(folder: Path) -> int:
    errors: list[str] = []
    articles = {}
    for path in sorted((folder / "articles").glob("*.txt")):
        info, errs = parse_article(path)
        articles[path.name] = info
        errors += [f"{path.name}: {e}" for e in errs]

    # Cross-check with the project's own loader when it is importable (headline/outlet/date as the indexer sees them).
    loaded = {}
    try:
        sys.path.insert(0, str(HERE.parent.parent))
        from index.documents import load_articles
        loaded = {Path(a.path).name: a for a in load_articles([folder / "articles"])}
    except Exception as exc:  # pragma: no cover - optional check
        print(f"  (project loader not used: {exc})")
    for name, a in loaded.items():
        info = articles[name]
        if (a.outlet, a.published, a.title) != (info["outlet"], info["published"], info["headline"]):
            errors.append(f"{name}: indexer reads {(a.outlet, a.published, a.title)}, file says "
                          f"{(info['outlet'], info['published'], info['headline'])}")

    counts = Counter()
    used = set()
    questions = [json.loads(line) for line in (folder / "questions.jsonl").read_text().splitlines() if line.strip()]
    for i, q in enumerate(questions, 1):
        tag = f"q{i} {q.get('q', '')[:50]!r}"
        kind = q.get("kind")
        counts[kind] += 1
        if kind not in KINDS:
            errors.append(f"{tag}: bad kind {kind!r}")
        sources = q.get("sources", [])
        if kind == "unanswerable":
            if sources or q.get("latest") is not None:
                errors.append(f"{tag}: unanswerable must have sources [] and latest null")
            continue
        if not sources:
            errors.append(f"{tag}: no sources")
            continue
        files = [s["file"] for s in sources]
        if len(set(files)) != len(files):
            errors.append(f"{tag}: duplicate files in sources")
        for s in sources:
            name = s["file"]
            if name not in articles:
                errors.append(f"{tag}: missing file {name}")
                continue
            used.add(name)
            info = articles[name]
            if s["outlet"] != info["outlet"]:
                errors.append(f"{tag}: {name} outlet {s['outlet']!r} != Source line {info['outlet']!r}")
            if s["published"] != info["published"]:
                errors.append(f"{tag}: {name} published {s['published']} != Source line {info['published']}")
            if s["value"] not in info["body"]:
                errors.append(f"{tag}: value {s['value']!r} not verbatim in {name}")
            if name in loaded and s["value"] not in loaded[name].text:
                errors.append(f"{tag}: value {s['value']!r} not in the indexer's cleaned text of {name}")
            norm = s["normalized"]
            if not (NUMBER_RE.match(norm) or DATE_RE.match(norm) or NAME_RE.match(norm)):
                errors.append(f"{tag}: normalized {norm!r} is not a number, ISO date or lowercase name")
        distinct = {s["normalized"] for s in sources}
        if kind == "agree" and len(distinct) != 1:
            errors.append(f"{tag}: agree but normalized values differ: {sorted(distinct)}")
        if kind == "differ" and len(distinct) < 2:
            errors.append(f"{tag}: differ but all normalized values equal")
        newest = max(s["published"] for s in sources)
        newest_files = [s["file"] for s in sources if s["published"] == newest]
        if len(newest_files) != 1:
            errors.append(f"{tag}: latest is ambiguous, several sources dated {newest}: {newest_files}")
        elif q.get("latest") != newest_files[0]:
            errors.append(f"{tag}: latest {q.get('latest')!r} != newest source {newest_files[0]!r}")

    outlets = Counter(a["outlet"] for a in articles.values())
    words = [a.get("words", 0) for a in articles.values()]
    print(f"{folder.name}: {len(articles)} articles ({len(used)} cited, {len(articles) - len(used)} uncited), "
          f"{len(outlets)} outlets, words {min(words)}-{max(words)}; {len(questions)} questions: "
          + ", ".join(f"{k} {counts[k]}" for k in ("differ", "agree", "unanswerable"))
          + (f"; indexer cross-check on {len(loaded)} articles" if loaded else ""))
    for e in errors:
        print("  ERROR", e)
    return len(errors)


if __name__ == "__main__":
    total = sum(check(HERE / name) for name in ("frozen", "fixture"))
    print("OK" if not total else f"{total} problem(s)")
    sys.exit(1 if total else 0)
