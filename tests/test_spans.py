"""Answer spans on sentences written to vary the construction, one rule per row."""

import pytest

from qa.spans import best_span, question_type

CONTEXT = "Fighting goes on in Idlib. "


@pytest.mark.parametrize(
    "question, sentence, span",
    [
        # title before the name: the question's own words are cut off the run
        ("Who is Turkey's defence minister?", "On Tuesday, Turkish Defence Minister Hulusi Akar said Ankara hoped.", "Hulusi Akar"),
        # the wh-word mid-question, and "town of X" ties the name to the head noun
        ("Outside which northern Syrian town did the raids happen?", "Russian raids hit a camp outside the north Syria town of Afrin.", "Afrin"),
        # a first word counts as a name when the passage capitalises it elsewhere
        ("Which region is still controlled by armed groups?", "Idlib is the only region in Syria still controlled by armed groups.", "Idlib"),
        # or when the next word is a name too
        ("Who met Erdogan in Sochi?", "Vladimir Putin met Erdogan in Sochi on Monday.", "Vladimir Putin"),
        ("Agreements from which years were discussed?", "They discussed agreements made in 2018 and 2019.", "2018 and 2019"),
        ("How much was the combined wealth in 2008?", "Their combined wealth grew to nearly $41 trillion in 2008.", "nearly $41 trillion"),
        ("How many soldiers were killed?", "At least 33 Turkish soldiers were killed on Thursday.", "At least 33"),
        ("How long did the self-isolation last?", "He hosted the talks after two weeks in self-isolation.", "two weeks"),
        ("In what century was the seal made?", "The oldest seal was made in the 14th century in Warsaw.", "14th century"),
        # a quotation answers "how did X describe"
        ("How did Putin describe the contacts?", "He hailed what he called “efficient and close contact” between the militaries.", "efficient and close contact"),
        # lower-case noun phrases answer "what" questions without a named head
        ("What did Putin call a necessary condition for peace?", "He said preserving territorial integrity is a necessary condition for peace.", "preserving territorial integrity"),
        ("Where did the chiefs meet?", "The chiefs met in the Turkish city of Antalya to talk.", "Antalya"),
        # nothing of the asked kind: no span, the sentence still answers
        ("When did they meet?", "They met to discuss Syria and trade.", None),
        ("Why did the talks fail?", "The talks failed after a dispute over Idlib.", None),
    ],
)
def test_span(question, sentence, span):
    found = best_span(question, sentence, CONTEXT + sentence)
    assert (found.text if found else None) == span
    if found:
        assert sentence[found.start : found.end] == found.text


def test_span_is_never_the_question_itself():
    assert best_span("Who is Hulusi Akar?", "Hulusi Akar is a general.") is None


@pytest.mark.parametrize(
    "question, kind",
    [
        ("When did Turkey shoot down the jet?", "date"),
        ("In which year was the deal signed?", "date"),
        ("How long did the talks last?", "duration"),
        ("How many soldiers died?", "number"),
        ("What percentage of voters agreed?", "number"),
        ("Who hosted the talks?", "person"),
        ("Where did they meet?", "place"),
        ("The US separates the YPG from which other group?", "thing"),
        ("Over which breakaway region did they fight?", "place"),
        ("How did Putin describe the visit?", "thing"),
        ("Why did the talks fail?", None),
        ("Did Russia take part?", None),
    ],
)
def test_question_type(question, kind):
    assert question_type(question) == kind
