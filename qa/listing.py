"""Listing articles by outlet and date, a page at a time: `GET /articles` and `qa articles`."""

from __future__ import annotations

from datetime import date

from .checks import check_page, encodable, parse_date
from .errors import BadFilter


def select(articles: list[dict], outlet: str | None = None, since: str | date | None = None,
           until: str | date | None = None, limit: int | None = None, offset: int = 0) -> dict:
    """One page of the articles matching the filters, in index order: {"articles", "total", "offset", "limit"}. The
    outlet matches case-insensitively; a date filter keeps only dated articles, as questions' filters do."""
    # since after until is an empty range, not an error: a listing is a query over dates, and a schema cannot say
    # that since must come first (any two valid dates are valid input).
    since, until = parse_date("since", since), parse_date("until", until)
    check_page(limit, offset)
    outlet = outlet.strip().casefold() if isinstance(outlet, str) and outlet.strip() else None
    if outlet is not None and not encodable(outlet):
        raise BadFilter("outlet must be valid Unicode text (it holds a lone surrogate)")
    low, high = since.isoformat() if since else None, until.isoformat() if until else None
    matched = [
        a for a in articles
        if (outlet is None or (a.get("outlet") or "").casefold() == outlet)
        and (low is None or (a.get("published") or "") >= low)
        and (high is None or (a.get("published") is not None and a["published"] <= high))
    ]
    end = None if limit is None else offset + limit
    return {"articles": matched[offset:end], "total": len(matched), "offset": offset, "limit": limit}


def unknown_outlet(outlet: str | None, known: dict) -> str | None:
    """When no article has this outlet: a message naming the outlets the index knows, else None."""
    if not outlet or not outlet.strip():
        return None
    names = [o["name"] for o in known["outlets"]]
    if outlet.strip().casefold() in {n.casefold() for n in names}:
        return None
    listed = ", ".join(f"{o['name']} ({o['articles']})" for o in known["outlets"]) or "none (no article names one)"
    return f"no articles from outlet {outlet.strip()!r}; the outlets in this index: {listed}"
