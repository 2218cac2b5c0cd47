"""Plain-text rendering of an Answer for the terminal."""

from __future__ import annotations

import textwrap

import click

from .answer import Answer, AnswerSpan, Passage, Results, Source


def source_bits(s: Source) -> list[str]:
    """Title, outlet, author (when known) and date of a source, as a reader cites them."""
    author = [f"by {s.author}"] if s.author else []
    return [s.title or s.id, s.outlet or "outlet unknown", *author, s.published or "date unknown"]


def _source_line(p: Passage) -> str:
    # Offsets are for machines: the JSON has them, the reader gets the passage id to look it up.
    return " | ".join(source_bits(p.source)) + f"  [{p.id}]"


def segments(text: str, highlight: dict, span: tuple[int, int] | None) -> list[tuple[str, str]]:
    """Split a passage into (kind, text) pieces: plain, the marked sentence, and the bold answer span inside it."""
    h0, h1 = highlight["start"], highlight["end"]
    if span is None or not (h0 <= span[0] < span[1] <= h1):
        return [("plain", text[:h0]), ("mark", text[h0:h1]), ("plain", text[h1:])]
    return [
        ("plain", text[:h0]), ("mark", text[h0 : span[0]]), ("span", text[span[0] : span[1]]),
        ("mark", text[span[1] : h1]), ("plain", text[h1:]),
    ]


def mark_parts(text: str, highlight: dict, span: tuple[int, int] | None) -> tuple[str, list[tuple[str, str]], str]:
    """A passage as (text before, the marked sentence's pieces, text after): one mark per passage on the page, with
    the short answer's piece ("span") inside it."""
    pieces = segments(text, highlight, span)  # plain, the sentence's pieces, plain
    return pieces[0][1], [piece for piece in pieces[1:-1] if piece[1]], pieces[-1][1]


def _marked(p: Passage, color: bool, span: tuple[int, int] | None, strong: bool) -> str:
    """The passage with its sentence marked and the short answer in it bold (or **...**). The answer's sentence
    gets the strong mark (yellow, or >>...<<); another passage's best sentence a light one (underlined, or
    >...<), so the answer stands out. Each piece is styled on its own: a reset after the bold span would otherwise
    end the yellow too."""
    pieces = segments(p.text, p.highlight, span)
    if color:
        style = {"fg": "yellow"} if strong else {"underline": True}
        return "".join(piece if kind == "plain" else click.style(piece, bold=kind == "span", **style) for kind, piece in pieces)
    inner = "".join(f"**{piece}**" if kind == "span" else piece for kind, piece in pieces[1:-1])
    left, right = (">>", "<<") if strong else (">", "<")
    return f"{pieces[0][1]}{left}{inner}{right}{pieces[-1][1]}"


def _wrapped(text: str) -> list[str]:
    """The passage indented and wrapped, paragraph by paragraph: a headline or byline keeps its own line."""
    lines: list[str] = []
    for i, paragraph in enumerate(text.split("\n\n")):
        lines += [""] if i else []
        lines += textwrap.wrap(paragraph, width=100, initial_indent="   ", subsequent_indent="   ")
    return lines


NOT_STATED = "Not stated in these articles."


def state_line(found: AnswerSpan) -> str:
    """The answer's state and confidence, read at a glance."""
    what = "" if found.text else " (the sentence; no short answer is sure enough)"
    if found.status == "answered":
        return f"Answered, {found.confidence:.0%} likely right{what}"
    return f"Possible answer, check the passage: {found.confidence:.0%} likely right{what}"


def _report_heading(found: AnswerSpan) -> str:
    return "What the sources say" + (": the sources differ" if found.sources_differ else "")


def _report_notes(found: AnswerSpan, n: int, s) -> str:
    notes = ["latest"] if n == found.latest and s.published == max((x.published or "" for x in found.reports[n].sources)) else []
    if s.update_of:
        notes.append("update of its earlier report")
    if s.superseded:
        notes.append("revised by a later report")
    return ", ".join(notes)


def report_lines(found: AnswerSpan) -> list[str]:
    """Each value the sources state, with who states it and when; the latest report and updates marked."""
    if len(found.reports) < 2 and all(len(g.sources) < 2 for g in found.reports):
        return []  # one source saying one thing: the answer line already says it
    lines = [f"{_report_heading(found)}:"]
    for n, g in enumerate(found.reports):
        lines.append(f"  {g.value}")
        for s in g.sources:
            note = _report_notes(found, n, s)
            lines.append(f"    - {s.outlet or s.title or s.id}, {s.published or 'date unknown'}, {where_in_story(s.paragraph)}"
                         f"{f' ({note})' if note else ''} [{s.passage_id}]")
    return lines


def _report_table(found: AnswerSpan) -> list[str]:
    if not found.reports:
        return []
    lines = [f"**{_report_heading(found)}**", "", "| value | outlet | date | note |", "|---|---|---|---|"]
    for n, g in enumerate(found.reports):
        for s in g.sources:
            cells = [g.value, s.outlet or s.title or s.id, s.published or "date unknown", _report_notes(found, n, s)]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return [*lines, ""]


def filter_notes(answer: Answer | Results) -> list[str]:
    """What the filters did, so an empty or thin result is not read as "the articles do not say"."""
    f = answer.filtered
    if f is None:
        return []
    notes = ["No articles match these filters."] if f.articles == 0 else []
    if f.undated_excluded:
        notes.append(f"The date filter left out {f.undated_excluded} undated article{'s' if f.undated_excluded != 1 else ''}.")
    return notes


def render_text(answer: Answer | Results, color: bool = False) -> str:
    """The answer first (when the reader was asked), then each passage with its source and best sentence marked."""
    lines = filter_notes(answer)
    found = answer.answer if isinstance(answer, Answer) else None
    if answer.filtered is not None and answer.filtered.articles == 0:
        return "\n".join(lines)
    if found is not None:
        s = found.source
        lines.append(state_line(found))
        if found.text:
            lines.append(f"Answer: {click.style(found.text, bold=True) if color else found.text}")
        lines.append(f"Sentence: {found.sentence}")
        lines += report_lines(found)
        rank = next((p.rank for p in answer.passages if p.id == found.passage_id), 1)
        # "passage 1" alone read as "paragraph 1": say it is the first of the passages listed.
        lines.append(f"Source: {' | '.join(source_bits(s))} | passage {rank} of {len(answer.passages)} below  [{found.passage_id}]")
        if s.url:
            lines.append(f"Original: {s.url}")
    elif isinstance(answer, Answer):
        lines.append(NOT_STATED + " The closest passages are below.")
    for p in answer.passages:
        span = None
        if found and found.passage_id == p.id and found.start is not None:
            span = (found.start, found.end)
        lines.append("")
        lines.append(f"{p.rank}. {_source_line(p)}  score {p.score:.3f}")
        strong = found is None or found.passage_id == p.id  # without an answer every passage's best sentence counts
        lines.extend(_wrapped(_marked(p, color, span, strong)))
        for other in p.also_in:
            s = other.source
            lines.append(f"   also reported by {s.outlet or s.title or s.id} ({s.published or 'date unknown'}) [{other.passage_id}]")
    lines.append(f"\n({answer.took_ms:.1f} ms)")
    return "\n".join(lines)


def render_markdown(answer: Answer | Results) -> str:
    """Markdown for notes and tickets: the answer with its citation, then the passages as a numbered list."""
    lines = [f"**Q:** {answer.question}", "", *(f"*{note}*" for note in filter_notes(answer))]
    found = answer.answer if isinstance(answer, Answer) else None
    if found is not None:
        lines += [f"*{state_line(found)}*", "", f"**A:** {_one_line(found.text or found.sentence)}"]
        lines += ["", *(f"> {_one_line(c)}" for c in found.citations), ""] if found.citations else [""]
        lines += _report_table(found)
    elif isinstance(answer, Answer):
        lines += [f"*{NOT_STATED}*", ""]
    for p in answer.passages:
        s = p.source
        sentence = _one_line(p.text[p.highlight["start"] : p.highlight["end"]])
        title = f"[{_md_text(s.title or s.id)}]({s.url})" if s.url else f"*{_md_text(s.title or s.id)}*"
        lines.append(f"{p.rank}. {title}, {', '.join(source_bits(s)[1:])}: {sentence}")
    return "\n".join(lines)


def _one_line(text: str) -> str:
    """Runs of spaces and line breaks as one space: Markdown reads two spaces before a break as a hard break."""
    return " ".join(text.split())


def _md_text(text: str) -> str:
    """Link text that cannot close the link early."""
    return text.replace("[", "\\[").replace("]", "\\]")


def where_in_story(paragraph: int) -> str:
    """A report's place in its article: paragraphs count from the story's first, so one before it is the headline
    or standfirst."""
    return f"paragraph {paragraph}" if paragraph >= 1 else "headline"
