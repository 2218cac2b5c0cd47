"""Cleaning, metadata extraction and passage splitting, on the seeds and on inputs written to vary the format."""

import pytest

from index.clean import clean
from index.documents import load_articles
from index.metadata import extract_metadata, normalise_date
from index.passages import PassageSpec, sentences, split_passages
from conftest import SEEDS

BOILERPLATE = [
    "Community Guidelines", "commenting name", "Delete Comment", "Read more:", "Welcome to Global Village Space",
    "Photo Credit", "Share your thoughts", "Independent Premium", "Newest first",
]


@pytest.fixture(scope="module")
def seeds():
    return {a.id: a for a in load_articles([SEEDS])}


def test_boilerplate_is_gone_from_articles(seeds):
    for article in seeds.values():
        for junk in BOILERPLATE:
            assert junk not in article.text, (article.id, junk)


def test_boilerplate_never_surfaces_as_a_passage(engine):
    for q in ["community guidelines comments", "Read more Turkey ignores US requests", "Welcome to Global Village Space",
              "Erdogan and Putin", "delete comment report comment"]:
        for p in engine.ask(q, k=20).passages:
            assert not any(junk in p.text for junk in BOILERPLATE), (q, p.id)


def test_repeated_captions_are_dropped(seeds):
    assert "Erdogan and Putin\n\nErdogan and Putin" not in seeds["000_57d2e1b9fe295f13"].text
    text = seeds["002_c2cd96ef16f533c8"].text
    assert "ties becoming strained in 2015 after the Turkish military" not in text
    assert "Ties became strained in 2015" in text  # the body sentence stays


@pytest.mark.parametrize(
    "article_id, outlet, published",
    [
        ("000_57d2e1b9fe295f13", "Arutz Sheva", None),  # outlet from the sidecar; the text gives no date
        ("001_ea2af11fa424174d", "Global Village Space", None),  # banner; "Friday, July 19, 2024" is page chrome
        ("002_c2cd96ef16f533c8", "The Independent", None),
        ("003_5c922709e45f6fd8", "TASS", None),  # "MOSCOW, February 4. /TASS/" has no year: no date
        ("004_ff300f254502d343", "TASS", "2020-02-28"),
    ],
)
def test_seed_metadata(seeds, article_id, outlet, published):
    assert (seeds[article_id].outlet, seeds[article_id].published) == (outlet, published)


def test_seed_titles(seeds):
    assert seeds["000_57d2e1b9fe295f13"].title == "Putin and Erdogan agree to coordinate actions in Syria"
    assert seeds["001_ea2af11fa424174d"].title == "Russia and Turkey hold successful talks on Syrian conflict"


@pytest.mark.parametrize(
    "raw, outlet, published",
    [
        ("Headline here\n\nBody text of the story.\n\nSource: Reuters, March 3, 2021", "Reuters", "2021-03-03"),
        ("Headline here\n\nBody text.\n\nSource:TASS, 28 February 2020", "TASS", "2020-02-28"),
        ("Headline here\n\nBody text.\n\nsource : Al Jazeera", "Al Jazeera", None),
        ("Headline\n\nLONDON (Reuters) - The pound fell on Tuesday.", "Reuters", None),
        ("Headline\n\nANKARA, Turkey (AP) — Officials said on Monday.", "AP", None),
        ("Headline\n\nMOSCOW, March 5, 2020. /TASS/: The Kremlin said.", "TASS", "2020-03-05"),
        ("Headline\n\nSome body text here.\n\nAFP with additional input by Desk", "AFP", None),
        ("| Welcome to Example News\n\nMonday, June 1, 2020\n\nHeadline\n\nBody text here.", "Example News", None),
        ("Headline\n\nMarch 9, 2019\n\nBody text here.", None, "2019-03-09"),
        ("Headline\n\nPublished: 2018-07-04\n\nBody text here.", None, "2018-07-04"),
        ("Headline\n\nBy Jane Smith\n\nBody text on Wednesday.", None, None),
    ],
)
def test_metadata_rules(raw, outlet, published):
    meta = extract_metadata(clean(raw))
    assert (meta["outlet"], meta["published"]) == (outlet, published)


def test_bylines_and_furniture_leave_the_text():
    cleaned = clean("Headline\n\nBy Jane Smith\n\nElad Benari ,\n\nAdvertisement\n\nThe body stays.")
    assert cleaned.text == "Headline\n\nThe body stays."


@pytest.mark.parametrize("value, iso", [("2020-02-28", "2020-02-28"), ("February 28, 2020", "2020-02-28"),
                                        ("February 4", None), ("2015", None), ("", None), ("next week", None)])
def test_dates_are_never_invented(value, iso):
    assert normalise_date(value) == iso


def test_hard_wrapped_wire_copy_is_unwrapped():
    raw = "\n".join(["The company said it expected earnings to rise sharply in the", "second quarter of the year.",
                     "    Analysts had expected a smaller increase in profits this", "year, traders said on Monday."] * 3)
    text = clean(raw).text
    assert "in the second quarter" in text and "\n\n" in text


def test_passages_are_sentence_aligned_within_limit(seeds):
    from index.encoder import TokenCounter, resolve_model

    count = TokenCounter(resolve_model("all-MiniLM-L6-v2"))
    spec = PassageSpec(max_tokens=60)
    for article in seeds.values():
        spans = split_passages(article.text, count, spec)
        starts = {a for a, _ in sentences(article.text)}
        ends = {b for _, b in sentences(article.text)}
        for (a, b), (next_a, _) in zip(spans, spans[1:] + [(None, None)]):
            assert a in starts and b in ends
            assert count([article.text[a:b]])[0] <= spec.max_tokens or len(sentences(article.text[a:b])) == 1
            if next_a is not None and len(sentences(article.text[a:b])) > 1:
                assert next_a < b  # consecutive passages overlap by a sentence


def test_same_file_name_in_two_folders_keeps_both(tmp_path):
    """The BBC corpus ships as business/001.txt, sport/001.txt, ...: ids follow the path inside the folder."""
    for topic in ("business", "sport"):
        (tmp_path / "bbc" / topic).mkdir(parents=True)
        (tmp_path / "bbc" / topic / "001.txt").write_text(f"A {topic} headline\n\nThe {topic} story has a body of text.")
    warnings = []
    found = {a.id: a for a in load_articles([tmp_path / "bbc"], warnings.append)}
    assert set(found) == {"business_001", "sport_001"} and warnings == []
    assert found["sport_001"].path == "bbc/sport/001.txt"  # never a machine path


def test_folder_metadata_gives_defaults_and_files_override(tmp_path):
    (tmp_path / "news" / "world").mkdir(parents=True)
    (tmp_path / "news" / "metadata.json").write_text('{"*": {"outlet": "BBC"}}')
    (tmp_path / "news" / "world" / "metadata.json").write_text('{"b": {"outlet": "Reuters"}}')
    for name in ("a", "b"):
        (tmp_path / "news" / "world" / f"{name}.txt").write_text(f"Headline {name}\n\nThe body of story {name} is here.")
    found = {a.id: a.outlet for a in load_articles([tmp_path / "news"])}
    assert found == {"world_a": "BBC", "world_b": "Reuters"}


def test_metadata_that_is_not_an_object_is_named(tmp_path):
    (tmp_path / "metadata.json").write_text('["not", "an", "object"]')
    (tmp_path / "a.txt").write_text("Headline\n\nThe body of the story is here.")
    warnings = []
    assert [a.id for a in load_articles([tmp_path], warnings.append)] == ["a"]
    assert any("metadata.json" in w and "list" in w for w in warnings)


def test_only_web_urls_are_kept_and_bad_jsonl_lines_are_skipped(tmp_path):
    lines = [
        '{"id": "x", "text": "An article body that is long enough.", "url": "javascript:alert(1)"}',
        '{"id": "y", "text": "Another body that is long enough.", "url": "https://example.org/y"}',
        '{"id": "z", "text": "who \\ud800 is this"}',
        "[" * 100000 + "]" * 100000,
    ]
    (tmp_path / "a.jsonl").write_text("\n".join(lines))
    warnings = []
    found = {a.id: a.url for a in load_articles([tmp_path / "a.jsonl"], warnings.append)}
    assert found == {"x": None, "y": "https://example.org/y"}
    assert any("javascript:alert(1)" in w and "only http(s)" in w for w in warnings)
    assert any("line 3" in w and "surrogate" in w for w in warnings)
    assert any("line 4" in w for w in warnings)


@pytest.mark.parametrize("paragraph, first", [
    ("MOSCOW, February 4. /TASS/: The situation in Syria was in focus. Talks went on.", "The situation in Syria was in focus."),
    ("LONDON (Reuters) - The pound fell on Tuesday. Traders said so.", "The pound fell on Tuesday."),
])
def test_a_dateline_is_never_part_of_a_sentence(paragraph, first):
    from index.passages import sentences

    text = f"Headline of the story\n\n{paragraph}"
    spans = [text[a:b] for a, b in sentences(text)]
    assert spans[0] == "Headline of the story" and spans[2] == first and paragraph.startswith(spans[1])
