"""Pydantic models for the HTTP contract: the answers mirror qa.answer so OpenAPI documents the JSON; what a
request may hold is the core's own rules (qa/checks.py), so OpenAPI states what the code enforces."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from qa.checks import ArticleIn, ArticlesIn, AskRequest  # noqa: F401  (the request bodies, declared in the core)


class SourceOut(BaseModel):
    id: str
    title: str | None
    outlet: str | None
    published: str | None
    path: str | None
    url: str | None
    author: str | None = None


class CorroborationOut(BaseModel):
    passage_id: str
    text: str
    source: SourceOut
    start: int
    end: int


class Highlight(BaseModel):
    start: int
    end: int


class PassageOut(BaseModel):
    id: str
    rank: int
    score: float
    text: str
    start: int
    end: int
    highlight: Highlight
    source: SourceOut
    also_in: list[CorroborationOut]


class SourceReportOut(SourceOut):
    passage_id: str
    sentence: str = Field(description="the sentence stating this source's value")
    start: int = Field(description="offset of the sentence in the article's text")
    end: int
    paragraph: int = Field(description="the article paragraph the sentence is in, counted from 1")
    confidence: float = Field(ge=0, le=1, description="probability that this sentence states the answer")
    update_of: str | None = Field(description="the passage of this outlet's earlier report that this one revises")
    superseded: bool = Field(description="a later report of the same outlet revises this one")


class ReportGroupOut(BaseModel):
    value: str = Field(description="the value as the group's newest source words it")
    normalized: str = Field(description="how values are compared: a number, an ISO date (YYYY, YYYY-MM, YYYY-MM-DD, "
                                        "YYYY-Www) or folded text")
    sources: list[SourceReportOut] = Field(description="newest first")


class AnswerOut(BaseModel):
    status: Literal["answered", "uncertain"] = Field(description="answered: sure enough to cite (>= 0.90 precision on "
                                                      "tuning data); uncertain: a possible answer, check the passage")
    text: str | None = Field(description="the short answer, when its own calibrated probability clears its threshold")
    sentence: str
    passage_id: str
    confidence: float = Field(ge=0, le=1, description="calibrated probability that what is shown (span, else sentence) is right")
    source: SourceOut
    citation: str | None = Field(description="a ready citation; only for an answered question")
    start: int | None
    end: int | None
    reports: list[ReportGroupOut] = Field(description="what each source says, grouped by value; by support, then newest")
    sources_differ: bool = Field(description="two or more groups each hold a source confident enough to be answered")
    latest: int | None = Field(description="index in reports of the group with the newest dated report")
    citations: list[str] = Field(description="ready citations of every outlet in the answer's group; only when answered")


class FilteredOut(BaseModel):
    articles: int
    undated_excluded: int


class AskResponse(BaseModel):
    question: str
    answerable: bool
    answer: AnswerOut | None
    passages: list[PassageOut]
    filtered: FilteredOut | None
    took_ms: float


class SearchResponse(BaseModel):
    question: str
    passages: list[PassageOut]
    filtered: FilteredOut | None
    took_ms: float


class OutletOut(BaseModel):
    name: str
    articles: int


class OutletsOut(BaseModel):
    outlets: list[OutletOut]
    articles: int
    no_outlet: int
    dated: int
    undated: int
    earliest: str | None
    latest: str | None


class ArticleOut(SourceOut):
    pass


class ArticleText(SourceOut):
    text: str


class ErrorOut(BaseModel):
    error: str


class WriteOut(BaseModel):
    ids: list[str] | None = None
    deleted: list[str] | None = None
    generation: int
