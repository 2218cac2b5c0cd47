"""Plain-text rendering of an Answer for the terminal."""

from __future__ import annotations

import textwrap

import click

from .answer import Answer, Passage, Results


def _source_line(p: Passage) -> str:
    s = p.source
    bits = [s.title or s.id, s.outlet or "outlet unknown", s.published or "date unknown"]
    return " | ".join(bits) + f"  [{p.id}, chars {p.start}-{p.end}]"


def _marked(p: Passage, color: bool, span: tuple[int, int] | None) -> str:
    h0, h1 = p.highlight["start"], p.highlight["end"]
    sentence = p.text[h0:h1]
    if span is not None:
        a, b = span[0] - h0, span[1] - h0
        sentence = sentence[:a] + click.style(sentence[a:b], bold=True) if color else sentence[:a] + "**" + sentence[a:b] + "**"
        sentence += p.text[h0 + b : h1]
    marked = click.style(sentence, fg="yellow") if color else f">>{sentence}<<"
    return p.text[:h0] + marked + p.text[h1:]


def render_text(answer: Answer | Results, color: bool = False) -> str:
    """The answer first (when the reader was asked), then each passage with its source and best sentence marked."""
    lines = []
    found = answer.answer if isinstance(answer, Answer) else None
    if found is not None:
        s = found.source
        if found.text:
            lines.append(f"Answer: {click.style(found.text, bold=True) if color else found.text}  (confidence {found.confidence:.2f})")
        else:
            lines.append(f"Answer sentence (confidence {found.confidence:.2f}):")
        lines.append(f"Sentence: {found.sentence}")
        lines.append(f"Source: {s.title or s.id} | {s.outlet or 'outlet unknown'} | {s.published or 'date unknown'}  [{found.passage_id}]")
    elif isinstance(answer, Answer):
        lines.append("No answer found in these articles; the closest passages are below.")
    for p in answer.passages:
        span = None
        if found and found.passage_id == p.id and found.start is not None:
            span = (found.start, found.end)
        lines.append("")
        lines.append(f"{p.rank}. {_source_line(p)}  score {p.score:.3f}")
        lines.extend(textwrap.wrap(_marked(p, color, span), width=100, initial_indent="   ", subsequent_indent="   "))
        for other in p.also_in:
            s = other.source
            lines.append(f"   also reported by {s.outlet or s.title or s.id} ({s.published or 'date unknown'}) [{other.passage_id}]")
    lines.append(f"\n({answer.took_ms:.1f} ms)")
    return "\n".join(lines)
