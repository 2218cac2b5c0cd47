"""Bylines, outlets and dates read from the forms publishers use, on an invented corpus (tests/metadata_corpus/):
every field is compared to what a reader of the article would write down."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT

CORPUS = ROOT / "tests" / "metadata_corpus"
FIELDS = ("title", "outlet", "author", "published")


def _read() -> tuple[dict, dict]:
    from index.documents import load_articles

    expected = json.loads((CORPUS / "expected.json").read_text())
    found = {a.id: a for a in load_articles([CORPUS], warn=lambda m: None)}
    return expected, found


def fields_right() -> tuple[int, int, list[str]]:
    """How many (article, field) pairs come out as expected, of how many, and the wrong ones."""
    expected, found = _read()
    wrong = [f"{aid}.{name}: {getattr(found.get(aid), name, 'missing')!r} != {want[name]!r}"
             for aid, want in expected.items() for name in FIELDS if getattr(found.get(aid), name, None) != want[name]]
    total = len(expected) * len(FIELDS)
    return total - len(wrong), total, wrong


def test_every_field_of_the_corpus_comes_out_right():
    right, total, wrong = fields_right()
    print(f"\nmetadata corpus: {right}/{total} fields right")
    assert not wrong, wrong


@pytest.mark.parametrize("value", ["Greywater Times, 2025", "Greywater Times, March 2025", "By Ann Lee | Post | March 2025"])
def test_a_date_without_its_day_is_never_set(value):
    from index.clean import clean
    from index.metadata import extract_metadata

    assert extract_metadata(clean(f"Headline here\n\n{value}\n\nThe story begins here.")).get("published") is None


if __name__ == "__main__":
    right, total, wrong = fields_right()
    print(f"{right}/{total} fields right", *wrong, sep="\n")


# Paragraph 1 of each seed as a reader of the published article counts: the story's first paragraph, under the
# headline, standfirst, byline and photo caption (003 opens with a wire dateline; 004's file starts with a caption).
SEED_PARAGRAPH_1 = {
    "000_57d2e1b9fe295f13": "Russian President Vladimir Putin and his Turkish counterpart, Recep Tayyip Erdogan, met",
    "001_ea2af11fa424174d": "Russia and Turkey have historically had complex relations",
    "002_c2cd96ef16f533c8": "Vladimir Putin has hailed the \"efficient and close\" relationship",
    "003_5c922709e45f6fd8": "MOSCOW, February 4. /TASS/: The situation in Syria",
    "004_ff300f254502d343": "Russian President Vladimir Putin and his Turkish counterpart Recep Tayyip Erdogan do not",
}


@pytest.mark.parametrize("article_id, opening", SEED_PARAGRAPH_1.items())
def test_paragraphs_are_counted_from_the_story(article_id, opening):
    from conftest import SEEDS
    from index.clean import clean

    cleaned = clean((SEEDS / f"{article_id}.txt").read_text())
    assert cleaned.text.split("\n\n")[cleaned.lead].startswith(opening)
