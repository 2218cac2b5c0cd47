"""The input rules, declared once as pydantic models: the Engine, the writer, the HTTP API and the CLI check with
them, and the OpenAPI document is made from the same models, so it states what the code enforces.

Each field's description is its rule in words; `explain` turns any broken rule into that one line, naming the
field, whichever check caught it (pydantic in a route, or the Engine called from Python or the CLI).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr, TypeAdapter
from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from .errors import BadFilter, BadQuestion, QAError

MAX_QUESTION = 1000
MAX_K = 50
MAX_LIMIT = 1000
MAX_ARTICLES = 1000
MAX_TEXT = 2_000_000
MAX_FIELD = 1000
SORTS = ("relevance", "date")
# "." and ".." are refused: clients and proxies resolve them as path segments, so /articles/.. is never asked for.
# Spelt without look-ahead: the same pattern checks path parameters in pydantic, whose regex engine has none.
_CHAR, _LEAD = r"[A-Za-z0-9_.\-]", r"[A-Za-z0-9_\-]"
ARTICLE_ID = re.compile(rf"^(?:{_LEAD}{_CHAR}{{0,199}}|\.{_LEAD}{_CHAR}{{0,198}}|\.\.{_CHAR}{{1,198}})$")
ARTICLE_ID_RULE = "article id must be 1-200 letters, digits, '_', '-' or '.', and not '.' or '..'"
SURROGATE = "must be valid Unicode text (it holds a lone surrogate)"


def encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unicode(value: str) -> str:
    # pydantic takes a lone surrogate ("\ud800", which JSON can escape) as text; no encoder downstream does.
    if not encodable(value):
        raise PydanticCustomError("string_unicode", "lone surrogate")
    return value


def _stripped(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "blank")
    return value.strip()


def _whole(value: object) -> object:
    """JSON Schema counts 2.0 as an integer, so the API takes it; 2.5, "2" and true are still refused."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _iso_date(value: object) -> object:
    # date.fromisoformat, not pydantic's own date parsing, which also takes "1582848000" as a timestamp.
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise PydanticCustomError("date_format", "not an ISO date") from None
    return value


def _web_url(value: str) -> str:
    from index.documents import is_web_url

    if not is_web_url(value):
        raise PydanticCustomError("url_scheme", "not http(s)")
    return value


Text = Annotated[StrictStr, AfterValidator(_unicode)]
Question = Annotated[StrictStr, AfterValidator(_unicode), Field(min_length=1, max_length=MAX_QUESTION),
                     AfterValidator(_stripped)]
K = Annotated[StrictInt, Field(ge=1, le=MAX_K), BeforeValidator(_whole)]
IsoDate = Annotated[date, BeforeValidator(_iso_date), Field(json_schema_extra={"format": "date"})]
ArticleId = Annotated[StrictStr, Field(pattern=ARTICLE_ID.pattern)]
Short = Annotated[Text, Field(max_length=MAX_FIELD)]


def rule(words: str, default: Any = ..., **constraints: Any) -> Any:
    """A field whose description is its rule: the OpenAPI document and the error message say the same thing."""
    return Field(default, description=words, **constraints)


class Rules(BaseModel):
    """A model whose fields each carry their rule, refusing fields it does not declare."""

    model_config = ConfigDict(extra="forbid")
    shape: ClassVar[str] = "an object"  # what the whole body must look like, for a body of the wrong kind


class AskRequest(Rules):
    """A question with its filters: POST /ask and /search, GET's query, `qa ask` and Engine.ask all take these."""

    shape: ClassVar[str] = 'body must be a JSON object like {"question": "...", "k": 5}'
    question: Question = rule(f"question must be 1-{MAX_QUESTION} characters of text")
    k: K = rule(f"k must be an integer from 1 to {MAX_K}", 5)
    outlet: Text | None = rule("outlet must be a string", None)
    since: IsoDate | None = rule("since must be a date in ISO format YYYY-MM-DD", None)
    until: IsoDate | None = rule("until must be a date in ISO format YYYY-MM-DD", None)
    sort: Literal["relevance", "date"] = rule(f"sort must be one of {', '.join(SORTS)}", "relevance")


class Page(Rules):
    """Which page of a listing: GET /articles and `qa articles`."""

    limit: StrictInt | None = rule(f"limit must be an integer from 1 to {MAX_LIMIT}", None, ge=1, le=MAX_LIMIT)
    offset: StrictInt = rule("offset must be an integer of 0 or more", 0, ge=0)


class ArticleIn(Rules):
    """One article to add; `id` defaults to one made from the text, so posting the same text again replaces it."""

    shape: ClassVar[str] = 'must be an object like {"text": "...", "title": "..."}'
    id: ArticleId | None = rule(ARTICLE_ID_RULE, None)
    title: Short | None = rule(f"title must be a string of at most {MAX_FIELD} characters", None)
    text: Annotated[Text, Field(max_length=MAX_TEXT), AfterValidator(_stripped)] = rule(
        f"text must be 1-{MAX_TEXT} characters of text", min_length=1)
    outlet: Short | None = rule(f"outlet must be a string of at most {MAX_FIELD} characters", None)
    author: Short | None = rule(f"author must be a string of at most {MAX_FIELD} characters", None)
    published: IsoDate | None = rule("published must be a date YYYY-MM-DD", None)
    url: Annotated[Short, AfterValidator(_web_url)] | None = rule("url must be an http or https URL", None)


class ArticlesIn(Rules):
    """Many articles in one commit."""

    shape: ClassVar[str] = 'body must be an object like {"articles": [{"text": "..."}]}'
    articles: list[ArticleIn] = rule(f"articles must be a list of 1-{MAX_ARTICLES} article objects",
                                     min_length=1, max_length=MAX_ARTICLES)


def _rules(*models: type[Rules]) -> dict[str, str]:
    return {name: f.description or "" for m in models for name, f in m.model_fields.items()}


# The rule of every parameter a shell can be given, by the name it is given as (GET /ask's question is `q`).
RULES = {**_rules(Page, AskRequest), "q": AskRequest.model_fields["question"].description, "article_id": ARTICLE_ID_RULE}


def explain(error: dict, model: type[Rules] = AskRequest, where: str = "") -> str:
    """One pydantic (or FastAPI) error as the rule it broke, the field named; `where` prefixes an article's fields
    ("articles[2].title must be ...")."""
    loc = [part for part in error.get("loc", ()) if part not in ("body", "query", "path")]
    kind = error.get("type", "")
    if not loc or kind in ("json_invalid", "model_type", "model_attributes_type", "dict_type"):
        return f"{where} {model.shape}".strip() if where else model.shape
    name = str(loc[-1])
    shown = f"{where}.{name}" if where else name
    if kind == "string_unicode":
        return f"{shown} {SURROGATE}"
    if kind == "extra_forbidden":
        return f"{shown} is not a field; allowed: {', '.join(model.model_fields)}"
    words = (model.model_fields[name].description if name in model.model_fields else RULES.get(name)) or ""
    said = (f"{where}.{words}" if words.startswith(f"{name} ") else f"{shown}: {words}") if where else words
    if kind == "missing":
        return f"{shown} is required: {words}"
    if kind == "date_format" and isinstance(error.get("input"), str):
        said += f", got {error['input']!r}"
    return said


def _adapter(annotation: Any) -> TypeAdapter:
    return TypeAdapter(annotation)


_CHECKS = {name: _adapter(AskRequest.model_fields[name].rebuild_annotation()) for name in ("question", "k", "sort")}
_DATE = _adapter(IsoDate | None)


def check(name: str, value: object, error: type[QAError] = BadQuestion, adapter: TypeAdapter | None = None) -> Any:
    """`value` checked by the rule of AskRequest's field `name`, or `error` naming the rule."""
    try:
        return (adapter or _CHECKS[name]).validate_python(value)
    except ValidationError as exc:
        raise error(explain({**exc.errors()[0], "loc": (name,)})) from None


def check_question(question: object) -> str:
    """The question, stripped, or BadQuestion naming the rule."""
    return check("question", question)


def check_k(k: object) -> int:
    return check("k", k)


def check_sort(sort: object) -> str:
    return check("sort", sort, BadFilter)


def parse_date(name: str, value: str | date | None) -> date | None:
    """An ISO date filter, or BadFilter that names the format."""
    return check(name, value, BadFilter, _DATE)


def ask_request(**fields: object) -> AskRequest:
    """A question and its filters checked together (the CLI, before any model loads), or BadQuestion naming the rule."""
    try:
        return AskRequest(**fields)
    except ValidationError as exc:
        raise BadQuestion(explain(exc.errors()[0])) from None


def check_page(limit: int | None, offset: int) -> None:
    """BadFilter unless limit is 1-MAX_LIMIT (or None: all) and offset is 0 or more."""
    try:
        Page(limit=limit, offset=offset)
    except ValidationError as exc:
        raise BadFilter(explain(exc.errors()[0], Page)) from None


def check_article_id(article_id: object) -> str:
    if not isinstance(article_id, str) or not ARTICLE_ID.match(article_id):
        raise BadQuestion(ARTICLE_ID_RULE)
    return article_id
