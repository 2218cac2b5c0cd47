"""The answer decision: its features, its three states, and answers that do not change with k."""

import json
import random
import numpy as np
import pytest

from conftest import JET, with_thresholds

from qa.decide import FEATURES, Decision, Evidence, Option, features, question_keys, question_type
from qa.reader import Reading
from training.perturb import Pools, kind, perturb

OLYMPICS = "What did Putin say about the Olympics?"


def test_the_jet_question_is_answered_with_its_source(engine):
    result = engine.ask(JET)
    answer = result.answer
    assert result.answerable and answer.status == "answered"
    assert "November of 2015" in answer.sentence
    assert answer.source.id == result.passages[0].source.id == "000_57d2e1b9fe295f13"
    assert answer.citation.startswith("Arutz Sheva, n.d., ")
    top = result.passages[0]
    assert top.id == answer.passage_id and answer.sentence == top.text[top.highlight["start"] : top.highlight["end"]]
    assert answer.confidence >= engine.decision.answered


@pytest.mark.parametrize("k", [1, 2, 3, 5, 10])
def test_a_question_the_articles_do_not_answer_is_never_answered_or_cited(engine, k):
    result = engine.ask(OLYMPICS, k=k)
    assert result.answer is None or (result.answer.status == "uncertain" and result.answer.citation is None)
    assert 1 <= len(result.passages) <= k
    assert all(p.also_in == [] for p in result.passages) or result.answer is not None


@pytest.mark.parametrize("question", [JET, OLYMPICS, "Where did Putin and Erdogan meet on October 22?",
                                      "How many people were killed?", "Who is Turkey's president?"])
def test_the_answer_does_not_depend_on_k(engine, question):
    answers = [engine.ask(question, k=k) for k in (1, 2, 3, 4, 5, 8, 10)]
    first = answers[0].answer
    for result in answers[1:]:
        a = result.answer
        assert (a is None) == (first is None)
        if a is not None:
            assert (a.status, a.text, a.sentence, a.passage_id, a.confidence) == (
                first.status, first.text, first.sentence, first.passage_id, first.confidence)
            assert result.passages[0].id == a.passage_id


def test_thresholds_set_the_three_states(engine):
    answered = with_thresholds(engine, answered=0.0, uncertain=0.0).ask(JET)
    assert answered.answer.status == "answered" and answered.answer.citation

    uncertain = with_thresholds(engine, answered=1.01, uncertain=0.0).ask(JET)
    assert uncertain.answerable and uncertain.answer.status == "uncertain"
    assert uncertain.answer.citation is None and "November of 2015" in uncertain.answer.sentence
    assert all(p.also_in == [] for p in uncertain.passages)  # only an answered question is corroborated

    declined = with_thresholds(engine, answered=1.01, uncertain=1.01).ask(JET)
    assert declined.answerable is False and declined.answer is None and declined.passages


def test_the_span_threshold_decides_whether_the_short_answer_shows(engine):
    shown = with_thresholds(engine, answered=0.0, uncertain=0.0, span=0.0).ask(JET)
    top = shown.passages[0]
    assert shown.answer.text == "November of 2015" == top.text[shown.answer.start : shown.answer.end]
    hidden = with_thresholds(engine, answered=0.0, uncertain=0.0, span=1.01).ask(JET)
    assert hidden.answer.text is None and hidden.answer.start is None
    assert "November of 2015" in hidden.answer.sentence
    # the confidence is of what is shown: the span's own probability, or the sentence's
    assert shown.answer.confidence != hidden.answer.confidence


def test_question_types_and_keys():
    assert question_type("When did Turkey shoot down the Russian jet?") == "when"
    assert question_type("how many residents were evacuated") == "number"
    assert question_type("What percentage of the vote did he get?") == "number"
    assert question_type("Who is Turkey's defence minister?") == "who"
    assert question_type("where did they meet") == "where"
    assert question_type("What did Putin say about the Olympics?") == "other"
    # as users type keywords
    assert question_type("cable car breakdown date") == "when"
    assert question_type("calder fire death toll") == "number"
    assert question_type("ketterby prison governor name") == "who"
    assert question_keys("When did Turkey shoot down the Russian jet in 2015?") == {"turkey", "russian", "2015"}
    assert question_keys("what did putin say") == set()


def _option(pick, start, end, margin, sentence=None):
    return Option(pick, start, end, sentence or (0, end), Reading(start, end, margin, 0.0, 0.5))


def test_features_describe_type_fit_agreement_rank_and_missing_names():
    overlap = lambda text: 1.0 if "jet" in text else 0.0  # noqa: E731 - the share of question terms a text holds
    a = "Ankara shot down a Russian jet in November of 2015."
    b = "It happened in November of 2015, officials in Moscow said."
    evidence = [Evidence(a, 0.8, np.array([[0, len(a)]]), np.array([0.6]), (0, len(a))),
                Evidence(b, 0.5, np.array([[0, len(b)]]), np.array([0.3]), (0, len(b)))]
    options = [_option(0, a.index("November"), len(a) - 1, 9.0, (0, len(a))),
               _option(1, b.index("November"), b.index(","), 4.0, (0, len(b)))]
    rows = features("When did Turkey shoot down the Russian jet?", overlap, options, evidence)
    assert rows.shape == (2, len(FEATURES))
    f = [dict(zip(FEATURES, row)) for row in rows]
    assert f[0]["type_fit"] == f[1]["type_fit"] == 1.0 and f[0]["span_date"] == 1.0
    assert f[0]["agree"] == f[1]["agree"] == 1.0  # both read "November of 2015"
    assert f[0]["rank1"] == 1.0 and f[1]["rank1"] == 0.0
    assert f[0]["margin_gap"] == 0.0 and f[1]["margin_gap"] == -5.0
    assert f[0]["retrieval_gap"] == 0.0 and f[1]["retrieval_gap"] == pytest.approx(-0.3)
    assert f[0]["sentence_overlap"] == 1.0 and f[1]["sentence_overlap"] == 0.0
    # "Turkey" is in neither; "Russian" only in the first
    assert f[0]["keys_in_sentence"] == 0.5 and f[1]["keys_in_sentence"] == 0.0
    assert f[0]["q_when"] == 1.0 and f[0]["q_who"] == 0.0


def test_a_decision_picks_the_most_likely_sentence_and_its_state():
    n = len(FEATURES)
    margin = lambda rows: 1 / (1 + np.exp(-rows[:, 0]))  # noqa: E731 - the margin alone
    config = {"features": FEATURES, "thresholds": {"answered": 0.9, "uncertain": 0.5, "span": 0.95}}
    decision = Decision(config, {"sentence": margin, "span": margin, "source": margin})
    rows = np.zeros((3, n))
    rows[:, 0] = [0.5, 2.5, 1.0]  # sigmoid: 0.62, 0.92, 0.73
    verdict = decision.decide(rows)
    assert verdict.option == 1 and verdict.status == "answered" and not verdict.show_span
    assert verdict.confidence == pytest.approx(verdict.sentence_p)
    rows[1, 0] = 0.0
    assert decision.decide(rows).status == "uncertain" and decision.decide(rows).option == 2
    assert decision.decide(rows - 5).status == "declined" and decision.decide(rows - 5).option is None
    assert decision.decide(np.zeros((0, n))).status == "declined"
    with pytest.raises(ValueError, match="training.decide"):
        Decision({**config, "features": FEATURES[:-1]}, decision.models)


def test_perturbation_swaps_one_name_number_or_date_for_another_of_its_kind():
    corpus = ["Turkey shot down a Russian jet in November 2015, killing 2 pilots.",
              "Officials said Greece and Bulgaria signed a deal in March 2014 worth 40 mln dlrs."]
    pools = Pools.of(corpus)
    assert {"Greece", "Bulgaria", "Russian"} <= set(pools.by_kind["name"])
    assert "Officials" not in pools.by_kind["name"]  # a capital that only starts a sentence
    assert set(pools.by_kind["year"]) == {"2015", "2014"} and "March" in pools.by_kind["month"]
    assert kind("2015") == "year" and kind("1,500") == "number" and kind("Ankara") == "name" and kind("jet") is None
    rng = random.Random(1)
    question = "When did Turkey shoot down the Russian jet?"
    seen = set()
    for _ in range(30):
        swapped = perturb(question, pools, rng, avoid=corpus[0])
        assert swapped and swapped != question
        before, after = question.split(), swapped.split()
        changed = [(x, y) for x, y in zip(before, after) if x != y]
        assert len(before) == len(after) and len(changed) == 1
        old, new = changed[0]
        assert kind(new.rstrip("?")) == kind(old.rstrip("?")) and new not in corpus[0]
        seen.add(new)
    assert seen <= {"Greece", "Bulgaria"}
    assert perturb("what did they say about it?", pools, rng) is None  # nothing to swap


def test_candidates_are_read_from_the_same_passages_whatever_k(engine):
    picked, options, rows = engine.options(JET)
    assert options and rows.shape == (len(options), len(FEATURES))
    assert {o.pick for o in options} <= set(range(4))
    again = engine.options(JET)[2]
    np.testing.assert_array_equal(rows, again)
    # the chosen option is the one the answer shows
    verdict = engine.decision.decide(rows)
    chosen = options[verdict.option]
    text = picked[chosen.pick].record["text"]
    assert "November of 2015" in text[chosen.sentence[0] : chosen.sentence[1]]


def test_the_page_shows_an_uncertain_answer_without_a_citation_button(settings, engine):
    from fastapi.testclient import TestClient

    from api.app import create_app

    sure = TestClient(create_app(settings, with_thresholds(engine, answered=0.0, uncertain=0.0))).get("/", params={"q": JET})
    assert "Answered" in sure.text and 'id="copy-citation"' in sure.text
    unsure = TestClient(create_app(settings, with_thresholds(engine, answered=1.01, uncertain=0.0))).get("/", params={"q": JET})
    assert unsure.status_code == 200
    assert "Possible answer: check the passage" in unsure.text and 'class="answer uncertain"' in unsure.text
    assert "copy-citation" not in unsure.text and "likely right" in unsure.text
    declined = TestClient(create_app(settings, with_thresholds(engine, answered=1.01, uncertain=1.01))).get("/", params={"q": JET})
    assert "Not stated in these articles." in declined.text


def test_cli_shows_the_state_and_refuses_to_cite_an_uncertain_answer(settings, engine, tmp_path, monkeypatch):
    import os

    from click.testing import CliRunner

    from cli.main import main

    folder = tmp_path / "reader"
    folder.mkdir()
    for f in settings.reader.iterdir():
        os.link(f, folder / f.name) if f.name != "decision.json" else None
    config = json.loads(json.dumps(engine.decision.config))
    config["thresholds"].update(answered=1.01, uncertain=0.0)
    (folder / "decision.json").write_text(json.dumps(config))
    monkeypatch.setenv("QA_READER", str(folder))
    runner = CliRunner()
    index = ["--index", str(settings.index)]
    cite = runner.invoke(main, ["ask", JET, "--format", "citation", *index])
    assert cite.exit_code != 0 and len(cite.output.strip().splitlines()) == 1
    assert "not sure enough to cite" in cite.output
    text = runner.invoke(main, ["ask", JET, *index])
    assert text.exit_code == 0 and "Possible answer, check the passage" in text.output
    markdown = runner.invoke(main, ["ask", JET, "--format", "markdown", *index])
    assert "Possible answer" in markdown.output and "\n> " not in markdown.output
    as_json = json.loads(runner.invoke(main, ["ask", JET, "--json", *index]).output)
    assert as_json["answer"]["status"] == "uncertain" and as_json["answer"]["citation"] is None
