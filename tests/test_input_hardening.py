"""Build input that once hung, crashed or was misread: huge texts, deep JSON, legacy encodings, binaries, symlink
loops, unreadable files and pages that give only a year."""

from __future__ import annotations

import os
import random
import struct
import zlib
from pathlib import Path

import pytest
from syntok import segmenter

from index.clean import clean
from index.decoding import decode
from index.documents import load_articles
from index.files import within
from index.metadata import extract_metadata, normalise_date, states_date
from index.passages import sentences, split_units
from conftest import SEEDS

# A Windows-1252 wire story: curly quotes (0x93/0x94), an em dash (0x97), a euro sign (0x80), a pound sign (0xA3).
STORY_1252 = (
    "Treasury vows to act if sterling slides\n\n"
    "LONDON \u2014 The Treasury said on Tuesday it would \u201cnot hesitate\u201d to act if the pound fell further. "
    "The chancellor\u2019s statement came after sterling dropped to \u20ac1.12 in early trading \u2014 its lowest "
    "level since March. \u201cWe are watching markets closely,\u201d a spokesman said.\n\n"
    "Analysts said the move was \u201clargely expected\u201d and that a \u00a35bn package was still possible."
)


def _png() -> bytes:
    """A real (tiny) PNG image."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + bytes((x * 7 + y * 3) % 256 for x in range(48)) for y in range(16))
    header = struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _syntok_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans straight from syntok on the whole text, as sentences() did before it went paragraph-wise."""
    spans = []
    for paragraph in segmenter.analyze(text):
        for sentence in paragraph:
            tokens = [t for t in sentence if t.value]
            if tokens:
                spans.append((tokens[0].offset, tokens[-1].offset + len(tokens[-1].value)))
    return spans


def _news(size: int, seed: int = 0, paragraphs: float = 0.2) -> str:
    """Made-up news text: sentences with abbreviations and numbers, a paragraph break after the given share."""
    rng = random.Random(seed)
    words = "the minister said on Monday that Mr. Smith and U.S. officials expect 3.5 percent growth in 2020".split()
    out: list[str] = []
    while sum(map(len, out)) < size:
        sentence = " ".join(rng.choice(words) for _ in range(rng.randint(5, 25))).capitalize() + ". "
        out.append(sentence + ("\n\n" if rng.random() < paragraphs else "\n" if rng.random() < 0.1 else ""))
    return "".join(out)


# --- 1. sentence splitting is linear ---------------------------------------------------------------------------


@pytest.mark.timeout(60)  # quadratic splitting took minutes for 2 MB of short paragraphs; linear takes seconds
def test_two_megabyte_text_splits_into_exact_sentence_spans():
    unit = _news(20_000, paragraphs=0.8).rstrip() + "\n\n"
    text = unit * (2_000_000 // len(unit) + 1)
    spans = sentences(text)
    per_unit = sentences(unit)
    assert len(spans) == len(per_unit) * (len(text) // len(unit))
    assert spans[: len(per_unit)] == per_unit
    assert spans[-len(per_unit) :] == [(a + len(text) - len(unit), b + len(text) - len(unit)) for a, b in per_unit]
    end = 0
    for a, b in spans:
        assert 0 <= end <= a < b <= len(text)
        assert not text[end:a].strip()  # only whitespace between sentences: nothing is lost
        assert text[a:b] == text[a:b].strip()
        end = b
    assert not text[end:].strip()


def test_sentences_match_syntok_on_whole_articles():
    from index.metadata import DATELINE

    texts = [clean(path.read_text()).text for path in sorted(SEEDS.glob("*.txt"))]
    # A wire dateline is cut off as a unit of its own on purpose (test_documents.py): syntok splits it mid-way.
    texts = [t for t in texts if not any(DATELINE.match(p) for p in t.split("\n\n"))]
    texts += [_news(30_000, seed=3), "One.\r\n\r\nTwo.\n \nThree!  Four?\n\n\n(Five.) \"Six.\""]
    for text in texts:
        assert sentences(text) == _syntok_spans(text)


@pytest.mark.timeout(60)
def test_a_sentence_without_spaces_is_cut_hard_within_the_limit():
    blob = "A pasted blob follows: " + "x" * 400_000 + ". The story ends here."
    units, sizes = split_units(blob, lambda texts: [max(1, len(t) // 4) for t in texts], max_tokens=200)
    assert len(units) > 400 and max(sizes) <= 200
    assert all(a < b and blob[a:b].strip() for a, b in units)
    assert all(b1 <= a2 for (_, b1), (a2, _) in zip(units, units[1:]))
    assert "".join(blob[a:b] for a, b in units).replace(" ", "") == blob.replace(" ", "")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("raw", [
    "A" + " " * 200_000 + "x",  # the dateline pattern backtracked cubically through the spaces
    "MOSCOW, Russia" + " " * 200_000 + "(",
    "By Jane" + " " * 200_000 + "x",  # the byline pattern, quadratically
    "Headline\n\nMarch 5, 2020" + " " * 200_000 + "x",
    "Headline\n\nBody text.\n" + "(photo " * 50_000,  # every "(photo" searched to the end of the line
])
def test_pathological_lines_clean_in_linear_time(raw):
    cleaned = clean(raw)
    extract_metadata(cleaned)
    assert cleaned.text


def test_furniture_rules_still_hold():
    cleaned = clean("Headline\n\nA man waves (Photo: Reuters)\n\nPhoto credit: AFP\n\nBy Jane Smith\n\nThe body stays.")
    assert cleaned.text == "Headline\n\nThe body stays."
    assert [kind for kind, _, _ in cleaned.removed] == ["caption", "caption", "byline"]
    dateline = clean("Headline\n\nMOSCOW, March 5, 2020. /TASS/: The Kremlin said.")
    assert extract_metadata(dateline)["published"] == "2020-03-05"


# --- 2. nested or malformed JSON ---------------------------------------------------------------------------------


def test_deeply_nested_jsonl_lines_are_skipped_by_line(tmp_path):
    lines = [
        '{"id": "ok", "text": "A body that is long enough to keep."}',
        '{"a": ' * 50_000 + "1" + "}" * 50_000,
        '{"id": "deep", "text": "Nested extra.", "extra": ' + "[" * 50_000 + "]" * 50_000 + "}",
        "{not json",
        '{"id": "last", "text": "The last body is long enough too."}',
    ]
    (tmp_path / "feed.jsonl").write_text("\n".join(lines))
    warnings: list[str] = []
    assert [a.id for a in load_articles([tmp_path / "feed.jsonl"], warnings.append)] == ["ok", "last"]
    for line in (2, 3, 4):
        assert any("feed.jsonl" in w and f"line {line}:" in w for w in warnings), warnings
    assert any("line 2:" in w and "nested too deeply" in w for w in warnings)


def test_sidecars_that_are_not_objects_or_too_deep_are_named(tmp_path):
    sidecars = {"deep": "[" * 100_000 + "]" * 100_000, "list": "[1, 2]", "entry": '{"a": "BBC", "*": 3}'}
    for name, sidecar in sidecars.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "metadata.json").write_text(sidecar)
        (tmp_path / name / "a.txt").write_text("Headline\n\nThe body of the story is here.")
    warnings: list[str] = []
    assert len(list(load_articles([tmp_path], warnings.append))) == 3
    text = "\n".join(warnings)
    assert f"{tmp_path / 'deep' / 'metadata.json'}: JSON nested too deeply" in text
    assert f"{tmp_path / 'list' / 'metadata.json'}: expected an object" in text
    assert "entry 'a'" in text and "entry '*'" in text


# --- 3. encodings ------------------------------------------------------------------------------------------------


def test_windows_1252_story_decodes_to_the_right_characters(tmp_path):
    data = STORY_1252.encode("cp1252")
    assert {0x80, 0x93, 0x94, 0x97, 0xA3} <= set(data)
    assert decode(data) == STORY_1252
    (tmp_path / "story.txt").write_bytes(data)
    warnings: list[str] = []
    [article] = load_articles([tmp_path], warnings.append)
    assert "\u201cnot hesitate\u201d" in article.text and "\u20ac1.12" in article.text and "\u00a35bn" in article.text
    assert warnings == []


@pytest.mark.parametrize("text, encoding", [
    ("The company reported profits of £5.2m, up from £4.1m, its chief executive René Müller said.", "latin-1"),
    ("Le président de la République a annoncé mercredi une réforme très attendue.", "cp1252"),
    ("Министр заявил, что переговоры продолжатся во вторник.", "cp1251"),
    ("Vláda ve středu schválila návrh zákona o dani z nemovitostí. Ministr financí řekl, že změny jsou nezbytné "
     "pro vyrovnaný rozpočet. Opozice rozhodnutí kritizovala a tvrdí, že nejvíce dopadne na chudší obyvatele měst.",
     "cp1250"),
    ("Hello — “quoted” text in UTF-16 with its byte order mark.", "utf-16"),
    ("Plain UTF-8 with a byte order mark: café — naïve.", "utf-8-sig"),
])
def test_encodings_are_detected(text, encoding):
    assert decode(text.encode(encoding)) == text


def test_mostly_utf8_with_a_stray_byte_stays_utf8():
    data = ("Caf\u00e9 culture \u2014 the story continues. " * 20).encode() + b"A stray \x97 dash."
    assert decode(data).endswith("A stray \u2014 dash.") and decode(data).startswith("Caf\u00e9 culture \u2014")


def test_binaries_are_skipped_and_named(tmp_path):
    rng = random.Random(5)
    (tmp_path / "image.txt").write_bytes(_png())
    (tmp_path / "noise.txt").write_bytes(bytes(rng.randrange(256) for _ in range(4096)) + b"\x00")
    (tmp_path / "noise2.md").write_bytes(bytes(rng.randrange(1, 256) for _ in range(4096)))
    (tmp_path / "ok.txt").write_text("Headline\n\nThe body of the story is here.")
    warnings: list[str] = []
    gone: list[str] = []
    assert [a.id for a in load_articles([tmp_path], warnings.append, gone.append)] == ["ok"]
    for name in ("image.txt", "noise.txt", "noise2.md"):
        assert any(str(tmp_path / name) in w and "binary" in w for w in warnings), (name, warnings)
    assert sorted(gone) == [f"{tmp_path.name}/{name}" for name in ("image.txt", "noise.txt", "noise2.md")]


# --- 4. every skipped file is named ---------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_symlink_loops_are_named_and_not_followed(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "world").mkdir(parents=True)
    (corpus / "world" / "a.txt").write_text("Headline A\n\nThe body of story A is here.")
    (corpus / "self").symlink_to(".")
    (corpus / "world" / "up").symlink_to("..")
    (corpus / "world" / "top").symlink_to(tmp_path)  # the corpus's own parent
    (corpus / "knot").symlink_to(corpus / "knot")  # a link to itself
    (corpus / "dangling.txt").symlink_to(tmp_path / "missing.txt")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "b.txt").write_text("Headline B\n\nThe body of story B is here.")
    (corpus / "more").symlink_to(tmp_path / "elsewhere")
    warnings: list[str] = []
    found = {a.id: a.path for a in load_articles([corpus], warnings.append)}
    assert found == {"world_a": "corpus/world/a.txt", "more_b": "corpus/more/b.txt"}
    text = "\n".join(warnings)
    for link in ("self", "world/up", "world/top", "knot"):
        assert any(str(corpus / link) in w and "loop" in w for w in warnings), (link, text)
    assert f"{corpus / 'dangling.txt'}: broken symbolic link" in text


def test_other_files_are_named_but_sidecars_and_hidden_files_are_not(tmp_path):
    (tmp_path / "a.txt").write_text("Headline\n\nThe body of the story is here.")
    (tmp_path / "photo.png").write_bytes(_png())
    (tmp_path / "metadata.json").write_text("{}")
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x01")
    warnings: list[str] = []
    assert [a.id for a in load_articles([tmp_path], warnings.append)] == ["a"]
    assert len(warnings) == 1 and str(tmp_path / "photo.png") in warnings[0]


def test_missing_input_is_named(tmp_path):
    warnings: list[str] = []
    assert list(load_articles([tmp_path / "nope"], warnings.append)) == []
    assert warnings == [f"skipped {tmp_path / 'nope'}: no such file or directory"]


# --- 5. dates only when day, month and year are stated ------------------------------------------------------------


BODY = "<p>" + "The council met on Tuesday to discuss the new budget for the town and its schools. " * 5 + "</p>"


def _page(head: str = "", before: str = "", after: str = "") -> str:
    return (f"<html><head><title>Budget row</title>{head}</head><body><article><h1>Budget row</h1>{before}{BODY}"
            f"</article>{after}</body></html>")


@pytest.mark.parametrize("page, published", [
    (_page(head='<meta name="date" content="2010">'), None),
    (_page(before="<p>Published 2010</p>"), None),
    (_page(after="<footer>&copy; 2010 Example News</footer>"), None),
    (_page(head='<meta property="article:published_time" content="2010-03">'), None),
    (_page(before='<p class="date">March 2010</p>'), None),
    (_page(head='<link rel="canonical" href="https://example.org/2010/03/budget-row">'), None),
    (_page(head='<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": "2010"}</script>'), None),
    (_page(head='<meta property="article:published_time" content="2010-03-05T10:00:00Z">'), "2010-03-05"),
    (_page(before='<p class="date">5 March 2010</p>'), "2010-03-05"),
    (_page(head='<link rel="canonical" href="https://example.org/2010/03/05/budget-row">'), "2010-03-05"),
    (_page(), None),
])
def test_html_dates_need_day_month_and_year(tmp_path, page, published):
    (tmp_path / "page.html").write_text(page)
    [article] = load_articles([tmp_path / "page.html"])
    assert article.title == "Budget row" and article.published == published


def test_states_date_reads_the_common_forms():
    source = ('<meta content="2010-03-05T10:00Z"> March 7th, 2011 /2012/04/09/ 05.06.2013 20150102 '
              "3 of September 2016 12&nbsp;Sept. 2017")
    for iso in ("2010-03-05", "2011-03-07", "2012-04-09", "2013-06-05", "2015-01-02", "2016-09-03", "2017-09-12"):
        assert states_date(source, iso), iso
    for iso in ("2010-01-01", "2010-03-01", "2011-03-01", "2013-01-01", "not a date"):
        assert not states_date(source, iso), iso


@pytest.mark.parametrize("value", ["2010", "2010-03", "2010-W01", "2010W011", "March 2010"])
def test_partial_dates_are_not_normalised(value):
    assert normalise_date(value) is None


# --- 6. unreadable files are reported so the build can keep their indexed copies -----------------------------------


def test_unreadable_files_are_reported_with_their_article_path(tmp_path, monkeypatch):
    corpus = tmp_path / "news"
    (corpus / "world").mkdir(parents=True)
    (corpus / "world" / "locked.txt").write_text("Headline\n\nThe body of the locked story is here.")
    (corpus / "world" / "open.txt").write_text("Headline\n\nThe body of the open story is here.")
    (corpus / "feed.jsonl").write_text('{"id": "j1", "text": "A body that is long enough to keep."}\n')
    (corpus / "empty.txt").write_text("  \n")
    paths = {a.id: a.path for a in load_articles([corpus])}
    assert paths == {
        "j1": "news/feed.jsonl#L1", "world_locked": "news/world/locked.txt", "world_open": "news/world/open.txt"
    }

    real = Path.read_bytes
    blocked = {corpus / "world" / "locked.txt", corpus / "feed.jsonl"}

    def read_bytes(self: Path) -> bytes:
        if self in blocked:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    warnings: list[str] = []
    gone: list[str] = []
    assert [a.id for a in load_articles([corpus], warnings.append, unreadable=gone.append)] == ["world_open"]
    assert sorted(gone) == ["news/feed.jsonl", "news/world/locked.txt"]
    assert gone.count(paths["world_locked"]) == 1  # exactly the path the article had when it could be read
    assert within(paths["j1"], "news/feed.jsonl") and not within(paths["world_open"], "news/feed.jsonl")
    assert any(str(corpus / "world" / "locked.txt") in w and "permission denied" in w for w in warnings)
    assert any("empty.txt" in w for w in warnings)  # empty: warned, not reported as unreadable


def test_a_folder_that_cannot_be_listed_is_reported(tmp_path, monkeypatch):
    corpus = tmp_path / "news"
    (corpus / "sealed").mkdir(parents=True)
    (corpus / "sealed" / "a.txt").write_text("Headline\n\nThe body of the story is here.")
    (corpus / "b.txt").write_text("Headline\n\nAnother body of a story is here.")
    real = os.scandir

    def scandir(path):
        if Path(path) == corpus / "sealed":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    warnings: list[str] = []
    gone: list[str] = []
    assert [a.id for a in load_articles([corpus], warnings.append, unreadable=gone.append)] == ["b"]
    assert gone == ["news/sealed"] and within("news/sealed/a.txt", gone[0])
    assert any(str(corpus / "sealed") in w and "cannot list" in w for w in warnings)
