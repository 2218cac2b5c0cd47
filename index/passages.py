"""Sentence-aligned passages with exact character offsets into the article text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from syntok import segmenter

from .metadata import DATELINE

CountTokens = Callable[[Sequence[str]], list[int]]
Span = tuple[int, int]


@dataclass(frozen=True)
class PassageSpec:
    """How articles are cut; stored in the manifest so a change forces re-embedding."""

    max_tokens: int = 200
    overlap: int = 1

    def as_dict(self) -> dict:
        return {"max_tokens": self.max_tokens, "overlap": self.overlap}


def sentences(text: str) -> list[Span]:
    """Sentence spans (start, end) in text, using syntok; paragraph breaks always end a sentence, and a wire
    dateline opening a paragraph ("MOSCOW, February 4. /TASS/:") is a unit of its own, never part of a sentence."""
    spans: list[Span] = []
    # syntok's analyze() pads each paragraph with as many spaces as its offset before tokenizing it, so one long
    # text costs time quadratic in its size (a 2 MB file took minutes). It segments paragraphs independently anyway:
    # handing it one paragraph at a time gives the same spans in linear time.
    for base, block in segmenter.preprocess_with_offsets(text):
        # syntok cut "MOSCOW, February 4." off as a sentence and began the next with "/TASS/:": an answer sentence
        # must be the story's words, so the dateline is its own unit and the story's first sentence starts after it.
        if dateline := DATELINE.match(block):
            spans.append((base, base + len(dateline.group(0).rstrip())))
            base, block = base + dateline.end(), block[dateline.end():]
        for paragraph in segmenter.analyze(block):
            for sentence in paragraph:
                tokens = [t for t in sentence if t.value]
                if tokens:
                    spans.append((base + tokens[0].offset, base + tokens[-1].offset + len(tokens[-1].value)))
    return spans


def _cut_long(text: str, span: Span, n_tokens: int, max_tokens: int) -> list[Span]:
    """Split a sentence that alone exceeds the limit at whitespace, in roughly equal token shares."""
    start, end = span
    pieces = -(-n_tokens // max_tokens)
    out: list[Span] = []
    for i in range(pieces):
        cut = end if i == pieces - 1 else start + (end - start) * (i + 1) // pieces
        # Look for whitespace only up to the next share's cut: a run without any (a pasted blob) is cut hard there,
        # so each piece stays within the limit and the scan stays linear in the sentence's length.
        limit = min(end, start + (end - start) * (i + 2) // pieces)
        space = cut
        while space < limit and not text[space].isspace():
            space += 1
        cut = space if space < limit else cut
        piece_start = out[-1][1] if out else start
        while piece_start < cut and text[piece_start].isspace():
            piece_start += 1
        if piece_start < cut:
            out.append((piece_start, cut))
    return out


def split_units(text: str, count_tokens: CountTokens, max_tokens: int) -> tuple[list[Span], list[int]]:
    """Sentences, with any sentence over max_tokens cut into pieces; returns spans and token counts."""
    sents = sentences(text)
    counts = count_tokens([text[a:b] for a, b in sents]) if sents else []
    return fit_units(text, sents, counts, max_tokens)


def fit_units(text: str, sents: Sequence[Span], counts: Sequence[int], max_tokens: int) -> tuple[list[Span], list[int]]:
    """split_units for sentences already counted, so a build can count many articles in one tokenizer call."""
    units: list[Span] = []
    sizes: list[int] = []
    for span, n in zip(sents, counts):
        if n > max_tokens:
            parts = _cut_long(text, span, n, max_tokens)
            units.extend(parts)
            sizes.extend([-(-n // len(parts))] * len(parts))
        else:
            units.append(span)
            sizes.append(n)
    return units, sizes


def group_units(sizes: Sequence[int], spec: PassageSpec) -> list[tuple[int, int]]:
    """Greedy windows of whole units up to spec.max_tokens, overlapping by spec.overlap units: (first, count)."""
    windows: list[tuple[int, int]] = []
    i = 0
    while i < len(sizes):
        j, total = i, 0
        while j < len(sizes) and (j == i or total + sizes[j] <= spec.max_tokens):
            total += sizes[j]
            j += 1
        windows.append((i, j - i))
        if j >= len(sizes):
            break
        # Step back for overlap, but always advance at least one unit.
        i = max(i + 1, j - spec.overlap)
    return windows


def split_passages(text: str, count_tokens: CountTokens, spec: PassageSpec = PassageSpec()) -> list[Span]:
    """Passage spans (start, end) in text: sentence-aligned windows within the token limit."""
    units, sizes = split_units(text, count_tokens, spec.max_tokens)
    return [(units[first][0], units[first + n - 1][1]) for first, n in group_units(sizes, spec)]
