"""What the sources say: value normalisation, grouping, and the reports on a small invented multi-outlet corpus."""

import json

import pytest

from conftest import ROOT

from qa.values import Value, group, normalize, number, same, when

FIXTURE = ROOT / "tests" / "multisource" / "fixture"
FLIGHTS = "how many Skyfarer Air flights got cancelled at Penhallow?"
MINERS = "How many miners were trapped in the Cold Tarn mine?"
HOUSEHOLDS = "How many households in Ashcombe lost their water supply?"


@pytest.mark.parametrize("text, value", [
    ("about 1,500", 1500), ("1.5 thousand", 1500), ("some 2,000", 2000), ("two thousand", 2000),
    ("fifteen hundred", 1500), ("nearly 300 people", 300), ("3 mln dlrs", 3_000_000), ("1.2 billion", 1.2e9),
    ("A dozen miners", 12), ("half a dozen shelters", 6), ("12.5 pct", 12.5), ("Four", 4),
])
def test_numbers_with_approximations_words_and_scales(text, value):
    assert number(text) == pytest.approx(value)


def test_a_span_without_a_number_is_not_one():
    assert number("the Kremlin") is None
    assert normalize("the Kremlin", "number") == Value("the Kremlin", "kremlin", "text")


@pytest.mark.parametrize("text, published, expected", [
    ("November of 2015", None, "2015-11"),
    ("2015", None, "2015"),
    ("6 March 2025", None, "2025-03-06"),
    ("March 4", "2025-03-06", "2025-03-04"),  # the year from the article's own date
    ("on Tuesday", "2025-03-06", "2025-03-04"),  # the Tuesday before a Thursday report
    ("last week", "2025-03-06", "2025-W09"),  # a week, not an invented day
    ("on Tuesday", None, None),  # an undated article: which Tuesday is unknowable
    ("October 22", "2020-02-28", "2019-10-22"),  # a report tells the past
    ("October 22", None, None),  # no year stated and no date to take it from: never guessed
])
def test_dates_keep_the_precision_they_state(text, published, expected):
    assert when(text, published) == expected


def test_grouping_agrees_at_the_coarser_precision_and_on_surnames():
    dates = [normalize(t, "when") for t in ("November of 2015", "2015", "2016")]
    assert group(dates) == [[0, 1], [2]]
    names = [normalize(t, "who") for t in ("Tom Brannigan", "Brannigan", "the Kremlin", "Kremlin", "Ann Lee")]
    assert sorted(map(sorted, group(names))) == [[0, 1], [2, 3], [4]]
    numbers = [normalize(t, "number") for t in ("about 1,500", "1.5 thousand", "1,200", "fifteen hundred")]
    assert sorted(map(sorted, group(numbers))) == [[0, 1, 3], [2]]
    assert not same(normalize("2015", "when"), normalize("2016-01", "when"))


def test_a_coarse_value_matching_two_finer_groups_joins_neither():
    values = [normalize(t, "when") for t in ("November of 2015", "March 2015", "2015")]
    assert sorted(map(sorted, group(values))) == [[0], [1], [2]]


@pytest.fixture(scope="module")
def fixture_engine(tmp_path_factory, settings):
    from dataclasses import replace

    from index.build import build_index
    from qa.engine import Engine

    index = tmp_path_factory.mktemp("multisource") / "index"
    build_index([FIXTURE / "articles"], index)
    return Engine.open(replace(settings, index=index))


def _outlets(group) -> list[str]:
    return [s.outlet for s in group.sources]


def _sure(engine):
    """Thresholds far below these sources' probabilities (0.54 to 0.92 here), so no assertion sits on an edge."""
    from conftest import with_thresholds

    return with_thresholds(engine, answered=0.3, uncertain=0.1, source_answered=0.3, source_kept=0.1)


def test_outlets_that_differ_are_found_grouped_apart_and_marked(fixture_engine):
    from conftest import with_thresholds

    answer = _sure(fixture_engine).ask(FLIGHTS).answer
    assert answer is not None and answer.sources_differ
    values = {g.normalized: _outlets(g) for g in answer.reports}
    assert values == {"170": ["Northern Wire"], "160": ["The Ridgeway Post"], "140": ["Tidewater Bulletin"]}
    latest = answer.reports[answer.latest]
    assert latest.normalized == "170" and latest.sources[0].published == "2025-03-15"
    for g in answer.reports:
        s = g.sources[0]
        text = fixture_engine.article(s.id)["text"]
        assert text[s.start : s.end] == s.sentence and g.value in s.sentence
    # no source confident enough: nothing is said to differ, the values are still listed
    strict = with_thresholds(fixture_engine, answered=0.3, uncertain=0.1, source_answered=1.01, source_kept=0.1)
    doubtful = strict.ask(FLIGHTS).answer
    assert not doubtful.sources_differ and len(doubtful.reports) == 3


def test_an_agreement_in_different_words_is_one_group(fixture_engine):
    answer = _sure(fixture_engine).ask(MINERS).answer
    assert answer is not None and not answer.sources_differ
    (only,) = answer.reports
    assert only.normalized == "12"
    assert sorted(_outlets(only)) == ["Coastline News", "Elspeth Herald", "Valemont Courier"]
    assert [s.published for s in only.sources] == sorted((s.published for s in only.sources), reverse=True)


def test_a_same_outlet_update_is_an_update_not_corroboration(fixture_engine):
    result = _sure(fixture_engine).ask(HOUSEHOLDS)
    answer = result.answer
    by_id = {s.id: s for g in answer.reports for s in g.sources}
    later, earlier = by_id["watermain_ledger_2"], by_id["watermain_ledger_1"]
    assert later.update_of == earlier.passage_id and earlier.superseded and not later.superseded
    assert answer.sources_differ
    assert {g.normalized for g in answer.reports} >= {"4500", "3500", "3200", "3000"}
    for passage in result.passages:  # no outlet ever corroborates itself, and none twice
        outlets = [c.source.outlet for c in passage.also_in]
        assert passage.source.outlet not in outlets and len(outlets) == len(set(outlets))


def test_corroboration_is_the_answers_own_group_and_only_when_answered(fixture_engine):
    from conftest import with_thresholds

    sure = with_thresholds(fixture_engine, answered=0.0, uncertain=0.0, source_kept=0.1).ask(MINERS)
    top = sure.passages[0]
    assert top.id == sure.answer.passage_id
    assert sorted(c.source.outlet for c in top.also_in) == sorted(set(_outlets(sure.answer.reports[0])) - {top.source.outlet})
    assert len(sure.answer.citations) == 3 and sure.answer.citations[0] == sure.answer.citation
    unsure = with_thresholds(fixture_engine, answered=1.01, uncertain=0.0, source_kept=0.1).ask(MINERS)
    assert all(p.also_in == [] for p in unsure.passages) and unsure.answer.citations == []
    assert unsure.answer.reports  # the reports are shown for an uncertain answer too, to check


def test_an_unanswerable_question_gets_no_reports(fixture_engine):
    for line in (FIXTURE / "questions.jsonl").read_text().splitlines():
        q = json.loads(line)
        if q["kind"] == "unanswerable":
            result = fixture_engine.ask(q["q"])
            assert result.answer is None or result.answer.status == "uncertain"
            if result.answer is None:
                assert all(p.also_in == [] for p in result.passages)


def test_sort_by_date_lists_newest_first_and_undated_last(fixture_engine, engine):
    by_date = fixture_engine.ask(HOUSEHOLDS, k=8, sort="date")
    dates = [p.source.published for p in by_date.passages]
    assert dates == sorted(dates, reverse=True) and [p.rank for p in by_date.passages] == list(range(1, len(dates) + 1))
    by_relevance = fixture_engine.ask(HOUSEHOLDS, k=8)
    assert {p.id for p in by_date.passages} == {p.id for p in by_relevance.passages}
    assert by_date.answer.sentence == by_relevance.answer.sentence  # sorting lists passages, never changes the answer
    seeds = [p.source.published for p in engine.search("Idlib", k=8, sort="date").passages]
    assert seeds[0] == "2020-02-28" and None in seeds and seeds[seeds.index(None):] == [None] * seeds.count(None)
    from qa.errors import BadFilter

    with pytest.raises(BadFilter, match="sort must be one of relevance, date"):
        engine.search("Idlib", sort="newest")


def test_the_page_and_the_cli_show_what_the_sources_say(fixture_engine, tmp_path):
    from click.testing import CliRunner
    from fastapi.testclient import TestClient

    from api.app import create_app
    from cli.main import main

    page = TestClient(create_app(fixture_engine.settings, _sure(fixture_engine))).get("/", params={"q": FLIGHTS})
    assert "What the sources say" in page.text and "Sources differ" in page.text
    assert "Tidewater Bulletin" in page.text and 'class="latest"' in page.text
    text = CliRunner().invoke(main, ["ask", FLIGHTS, "--index", str(fixture_engine.settings.index), "--no-color"])
    assert text.exit_code == 0 and "What the sources say" in text.output
    assert "The Ridgeway Post, 2025-03-14" in text.output and "(latest)" in text.output
    markdown = CliRunner().invoke(main, ["ask", FLIGHTS, "--index", str(fixture_engine.settings.index), "--format", "markdown"])
    assert "| value | outlet | date | note |" in markdown.output and "| 160 | The Ridgeway Post | 2025-03-14 |" in markdown.output


def test_a_report_before_the_story_is_placed_in_the_headline():
    """Paragraphs count from the story's first: the headline's sentence is not "paragraph -1"."""
    from qa.render import where_in_story

    assert [where_in_story(n) for n in (-1, 0, 1, 7)] == ["headline", "headline", "paragraph 1", "paragraph 7"]


def _read(article: str, text: str, span: str, p: float = 0.9):
    from qa.decide import Option
    from qa.reader import Reading
    from qa.reports import Read

    start = text.index(span)
    record = {"id": f"{article}#0", "text": text, "start": 0, "paragraph": 1,
              "source": {"id": article, "title": article, "outlet": article.title(), "published": "2025-03-12",
                         "path": None, "url": None}}
    option = Option(0, start, start + len(span), (0, len(text)), Reading(start, start + len(span), 9.0, 1.0, p))
    return Read(option, record, p, 0.1, 0.8)


def test_a_report_must_state_the_kind_of_value_asked():
    """A "when" question's report states a date, a "how many" question's a number; sure or not, "83" or "the
    rescue team" is no report of them."""
    from qa.decide import Decision
    from qa.reports import report

    decision = Decision.untrained()
    dated = _read("ledger", "The mine flooded on Tuesday.", "Tuesday")
    numbered = _read("wire", "Rescuers brought 83 people out.", "83")
    named = _read("herald", "The rescue team went down at dawn.", "The rescue team")
    groups, _, _ = report("When did the mine flood?", [dated, numbered, named], decision)
    assert [g.normalized for g in groups] == ["2025-03-11"]
    groups, _, _ = report("How many people were rescued?", [dated, numbered, named], decision)
    assert [g.normalized for g in groups] == ["83"]
    groups, _, _ = report("Who went down the mine?", [named], decision)
    assert [g.value for g in groups] == ["The rescue team"]
