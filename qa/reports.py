"""What each source says: the answer of every distinct article among the top candidates, grouped by value.

A fact-checker needs what each outlet reported, whether they agree, and which report is the latest. For an answered
or uncertain question, one window of each of the first SOURCES distinct articles among the candidates is read (the
windows the answer was chosen from are reused), the learned decision scores each article's option on its own, and
a source that does not state the answer (below the `uncertain` threshold) is left out. The others' spans are normalised (qa/values.py) and
grouped. A later article of the same outlet with another value is an update of its earlier report, not a second
opinion: the earlier one is marked superseded and does not make the sources differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from index.store import paragraph_number

from .answer import Corroboration, Source, choose_sentence, citation
from .decide import Decision, Evidence, Option, Verdict, alone, features, kind_fits, question_type
from .picks import covering
from .values import Value, group, normalize

# Distinct articles whose own answer is read, the answer's included: each window past the answer stage's costs a few
# ms (BENCHMARKS.md), and an event is rarely covered by more than eight articles among the top candidates.
SOURCES = 8
POOL = 30  # candidates looked through for those articles' passages
PER_ARTICLE = 3  # passages of one article whose sentences compete for its window
# Share of the question's IDF mass a source's best sentence must hold to be read at all: on the dev multi-source set
# 0.25 skipped only windows that found nothing, 0.4 began to lose reports.
MIN_OVERLAP = 0.25


@dataclass(kw_only=True)
class SourceReport(Source):
    """One article's answer: its source's fields, the sentence that states it (start/end: offsets into the article),
    and the probability that the sentence holds the answer. `update_of` names the same outlet's earlier report it
    revises."""

    passage_id: str
    sentence: str
    start: int
    end: int
    paragraph: int
    confidence: float
    update_of: str | None = None
    superseded: bool = False


@dataclass
class ReportGroup:
    """Sources that state the same value; `value` is the first source's wording."""

    value: str
    normalized: str
    sources: list[SourceReport] = field(default_factory=list)


@dataclass(frozen=True)
class Read:
    """One option with the passage record it was read from, its probability, and the thresholds that probability is
    held to: the answer's own are the decision's, other sources' the source model's."""

    option: Option
    record: dict
    p: float
    kept: float
    confident: float


def gather(reader, decision: Decision, view, question: str, overlap, candidates: list, picked: list,
           options: list[Option], verdict: Verdict) -> list[Read]:
    """The answer, then the best option of each of the next SOURCES - 1 distinct articles among the candidates.

    The answer keeps the probability it was chosen with. Every other source is scored on its own by the decision's
    source model, as if its window were the only one read: whether it states the answer must not depend on how
    strongly another article does."""
    answer = options[verdict.option]
    pick = picked[answer.pick]
    own = pick.record["source"]["id"]
    articles: dict[str, list] = {}  # article -> its candidate passages, best first
    for candidate in candidates[:POOL]:
        record = view.passage(candidate.row)
        article = record["source"]["id"]
        if article != own and (article in articles or len(articles) < SOURCES - 1):
            articles.setdefault(article, []).append((candidate, record))
    done = {(picked[o.pick].record["id"], picked[o.pick].choice.start): o for o in options}
    reads = [Read(answer, pick.record, verdict.sentence_p, decision.uncertain, decision.answered)]
    for option, record, evidence in _read_sources(reader, question, overlap, articles, done):
        row = alone(features(question, overlap, [replace(option, pick=0)], [evidence]))
        reads.append(Read(option, record, float(decision.probabilities(row, "source")[0]), decision.source_kept,
                          decision.source_answered))
    return reads


def _read_sources(reader, question: str, overlap, articles: dict[str, list], done: dict) -> list[tuple[Option, dict, Evidence]]:
    """One option per article, from a window around the best sentence of its first PER_ARTICLE candidate passages
    (its best-ranked passage need not hold the sentence that answers). Windows the answer stage read already are
    reused; the others are read in one batch."""
    q_tokens = reader.question_tokens(question)
    out, todo = [], []
    for passages in articles.values():
        scored = []
        for candidate, record in passages[:PER_ARTICLE]:
            spans, _, cosines = candidate.sentences()
            scored.append((choose_sentence(record["text"], spans, cosines, overlap), candidate, record))
        choice, candidate, record = max(scored, key=lambda x: x[0].score)
        if choice.lexical < MIN_OVERLAP:
            continue  # its best sentence holds too little of the question: a window read there finds nothing
        evidence = Evidence.of(record, candidate, choice)
        if (record["id"], choice.start) in done:
            out.append((done[(record["id"], choice.start)], record, evidence))
        else:
            todo.append((record, evidence, reader.window(q_tokens, record["text"], choice.start, choice.end)))
    readings = reader.read(question, [record["text"][a:b] for record, _, (a, b) in todo])
    for (record, evidence, (offset, _)), r in zip(todo, readings):
        if r.end > r.start:
            start, end = offset + r.start, offset + r.end
            sentence = covering(evidence.spans, start, end, len(record["text"]))
            out.append((Option(0, start, end, sentence, r), record, evidence))
    return out


def report(question: str, reads: list[Read], decision: Decision) -> tuple[list[ReportGroup], bool, int | None]:
    """The groups (by support, then newest report), whether confident sources differ, and the latest group's index.
    Sources below their kept threshold are left out: they do not state the answer; so are those whose span is not
    the kind of value the question asks for."""
    qtype = question_type(question)
    values: list[Value] = []
    sources: list[SourceReport] = []
    kept = []
    for r in reads:
        text, o = r.record["text"], r.option
        span = text[o.start : o.end]
        if r.p < r.kept or not kind_fits(span, qtype):
            continue  # it does not state the answer, or not a value of the kind asked ("83" for "when")
        kept.append(r)
        values.append(normalize(span, qtype, r.record["source"]["published"]))
        at, paragraph = r.record["start"], paragraph_of(r.record, o.sentence[0])
        sources.append(SourceReport(**r.record["source"], passage_id=r.record["id"], sentence=text[o.sentence[0] : o.sentence[1]],
                                    start=at + o.sentence[0], end=at + o.sentence[1], paragraph=paragraph, confidence=round(r.p, 4)))
    confident = {s.passage_id for s, r in zip(sources, kept) if r.p >= r.confident}
    _mark_updates(sources, values)
    groups = []
    for members in group(values):
        members.sort(key=lambda i: (sources[i].published is None, _negated(sources[i].published)))
        groups.append(ReportGroup(values[members[0]].text, values[members[0]].normalized, [sources[i] for i in members]))
    groups.sort(key=lambda g: (-len({s.outlet or s.id for s in g.sources}), -len(g.sources), _negated(_newest(g))))
    differ = sum(any(s.passage_id in confident for s in g.sources) for g in groups) >= 2
    dated = [(i, _newest(g)) for i, g in enumerate(groups) if _newest(g)]
    latest = max(dated, key=lambda x: (x[1], -x[0]))[0] if dated else None
    return groups, differ, latest


def paragraph_of(record: dict, offset: int) -> int:
    """The article paragraph (as a reader counts them) holding an offset into a passage's text."""
    return record["paragraph"] - 1 + paragraph_number(record["text"], offset)


def peers(groups: list[ReportGroup], passage_id: str) -> list[SourceReport]:
    """Other outlets in the answer's own group, each once and none superseded: who else states the answer."""
    own = next((g for g in groups if any(s.passage_id == passage_id for s in g.sources)), None)
    if own is None:
        return []
    first = next(s for s in own.sources if s.passage_id == passage_id)
    outlets, out = {first.outlet or first.id}, []
    for s in own.sources:
        if (s.outlet or s.id) not in outlets and not s.superseded:
            outlets.add(s.outlet or s.id)
            out.append(s)
    return out


def corroboration(groups: list[ReportGroup], passage_id: str) -> list[Corroboration]:
    """What "also reported by" lists: the answer's peers."""
    return [Corroboration(s.passage_id, s.sentence, _source(s), s.start, s.end) for s in peers(groups, passage_id)]


def citations(groups: list[ReportGroup], passage_id: str) -> list[str]:
    """Ready citations of the answer's peers, to cite every outlet that states the answer."""
    return [citation(_source(s), s.paragraph, s.sentence) for s in peers(groups, passage_id)]


def _source(s: SourceReport) -> Source:
    return Source(**{f.name: getattr(s, f.name) for f in fields(Source)})


def _mark_updates(sources: list[SourceReport], values: list[Value]) -> None:
    """A later dated report of the same outlet with a different value revises its earlier one."""
    by_outlet: dict[str, list[int]] = {}
    for i, s in enumerate(sources):
        if s.outlet and s.published:
            by_outlet.setdefault(s.outlet, []).append(i)
    for members in by_outlet.values():
        members.sort(key=lambda i: sources[i].published)
        for earlier, later in zip(members, members[1:]):
            if values[earlier].normalized != values[later].normalized and sources[earlier].published < sources[later].published:
                sources[later].update_of = sources[earlier].passage_id
                sources[earlier].superseded = True


def _newest(g: ReportGroup) -> str | None:
    return max((s.published for s in g.sources if s.published), default=None)


def _negated(published: str | None) -> tuple:
    """Sorts ISO dates newest first (undated handled by the caller)."""
    return tuple(-ord(c) for c in published) if published else ()
