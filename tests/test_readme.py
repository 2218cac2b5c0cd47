"""The README's example JSON is a real answer: this test asks the question on the seeds and compares. When the
answer or the JSON contract changes, rewrite the block with `.venv/bin/python tests/test_readme.py`."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
README = HERE.parent / "README.md"
QUESTION = "When did Turkey shoot down the Russian jet?"
INTRO = "The JSON (HTTP `/ask` and `qa ask --json` print the same thing; long strings shortened):\n\n```json\n"
LONG = {"text": 80, "sentence": 240, "citation": 240}


def _short(value, key: str = ""):
    """Passage texts cut with "...", so the example stays readable; everything else as the service gave it."""
    if isinstance(value, str) and len(value) > LONG.get(key, 240):
        return value[: LONG.get(key, 240) - 10].rstrip() + " ..."
    if isinstance(value, dict):
        return {k: _short(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_short(v, key) for v in value]
    return value


def example(engine) -> str:
    """The README block: a real answer with one passage listed (k=1), long strings shortened."""
    answer = json.loads(engine.ask(QUESTION, k=1).to_json())
    return json.dumps(_short(answer), indent=2, ensure_ascii=False)


def _block(text: str) -> str:
    start = text.index(INTRO) + len(INTRO)
    return text[start : text.index("\n```", start)]


def _steady(block: str) -> str:
    return re.sub(r'"took_ms": [0-9.]+', '"took_ms": 0', block)  # the only value that changes run to run


def test_readme_example_is_a_real_answer(engine):
    assert _steady(_block(README.read_text())) == _steady(example(engine)), (
        "README's example JSON is stale: rewrite it with .venv/bin/python tests/test_readme.py")


if __name__ == "__main__":
    import tempfile

    sys.path.insert(0, str(HERE.parent))
    from index.build import build_index
    from qa.engine import Engine
    from qa.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        build_index([HERE.parent / "seeds"], Path(tmp) / "index")
        block = example(Engine.open(Settings.from_env(index=Path(tmp) / "index")))
    text = README.read_text()
    README.write_text(text.replace(_block(text), block))
    print(f"rewrote the example in {README}")
