"""On-topic unanswerable questions, made by perturbing real ones.

A real question has one of its names, numbers, dates or places swapped for another of the same kind taken from the
same corpus, so the passage that answered it no longer does: "When did Turkey shoot down the Russian jet?" becomes
"When did Greece shoot down the Russian jet?". These teach the decision what an answer to a near-miss looks like,
which SQuAD's own questions never show it.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

_TOKEN = re.compile(r"\b[\w][\w.,'-]*\w\b|\b\w\b")
_YEAR = re.compile(r"^(1[5-9]|20)\d\d$")
_NUMBER = re.compile(r"^\d[\d.,]*$")
_MONTHS = {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"}
# Words that start questions and sentences with a capital without being names.
_NOT_NAMES = {"What", "Which", "Who", "Whom", "Whose", "When", "Where", "Why", "How", "The", "A", "An", "In", "On",
              "Of", "For", "And", "But", "Is", "Was", "Were", "Are", "Did", "Does", "Do", "It", "He", "She", "They",
              "This", "That", "These", "Those", "I", "We", "You", "His", "Her", "Its", "Their", "At", "By", "To"}


def kind(token: str) -> str | None:
    """The kind of a token that can be swapped: year, month, number or name; None for any other word."""
    if _YEAR.match(token):
        return "year"
    if token in _MONTHS:
        return "month"
    if _NUMBER.match(token):
        return "number"
    if token[0].isupper() and len(token) > 1 and token not in _NOT_NAMES:
        return "name"
    return None


@dataclass
class Pools:
    """The swappable tokens of a corpus by kind, each kind in first-seen order (so a seeded draw is repeatable)."""

    by_kind: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, texts) -> "Pools":
        seen: dict[str, dict[str, None]] = {}
        for text in texts:
            for match in _TOKEN.finditer(text):
                token = match.group()
                k = kind(token)
                # A capitalised word right after a full stop may just start a sentence.
                if k == "name" and (match.start() == 0 or text[max(0, match.start() - 2) : match.start()].strip() in {".", "!", "?"}):
                    continue
                if k:
                    seen.setdefault(k, {})[token] = None
        return cls({k: list(v) for k, v in seen.items()})


def perturb(question: str, pools: Pools, rng: random.Random, avoid: str = "") -> str | None:
    """The question with one swappable token replaced by another of its kind that neither the question nor `avoid`
    (the passage that answered it) contains; None when the question has nothing to swap."""
    slots = [(m, kind(m.group())) for i, m in enumerate(_TOKEN.finditer(question)) if i > 0 or kind(m.group()) != "name"]
    slots = [(m, k) for m, k in slots if k and pools.by_kind.get(k)]
    if not slots:
        return None
    match, k = rng.choice(slots)
    for _ in range(20):
        other = rng.choice(pools.by_kind[k])
        if other != match.group() and other not in question and not re.search(rf"\b{re.escape(other)}\b", avoid):
            return question[: match.start()] + other + question[match.end() :]
    return None
