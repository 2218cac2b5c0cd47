"""`qa articles`: the indexed articles by outlet and date, a page at a time (GET /articles in the terminal)."""

from __future__ import annotations

import json

import click

from .common import INDEX_HELP


@click.command()
@click.option("--outlet", help="Only this outlet (case-insensitive).")
@click.option("--since", help="Only articles published on or after this date (YYYY-MM-DD).")
@click.option("--until", help="Only articles published on or before this date (YYYY-MM-DD).")
@click.option("--limit", type=int, default=50, show_default=True, help="At most this many, 1-1000.")
@click.option("--offset", type=int, default=0, show_default=True, help="Skip this many matching articles first.")
@click.option("--json", "as_json", is_flag=True, help="The JSON GET /articles gives, with the total.")
@click.option("--index", "index", help=INDEX_HELP)
def articles(outlet: str | None, since: str | None, until: str | None, limit: int, offset: int, as_json: bool,
             index: str | None) -> None:
    """List the indexed articles: id, title, outlet, author and date."""
    from qa.checks import check_page
    from qa.listing import select, unknown_outlet

    from .common import open_engine

    check_page(limit, offset)
    engine = open_engine(index)
    page = select(engine.articles(), outlet, since, until, limit, offset)
    if not page["total"]:
        problem = unknown_outlet(outlet, engine.outlets())
        raise click.ClickException(problem or "no articles match these filters")
    if as_json:
        click.echo(json.dumps(page, indent=2))
        return
    for a in page["articles"]:
        by = f" | by {a['author']}" if a.get("author") else ""
        click.echo(f"{a['id']}  {a['title'] or '(untitled)'} | {a['outlet'] or 'outlet unknown'}{by} | "
                   f"{a['published'] or 'date unknown'}")
    shown = len(page["articles"])
    more = f"; --offset {offset + shown} for more" if offset + shown < page["total"] else ""
    click.echo(f"({f'{offset + 1}-{offset + shown}' if shown else 'none'} of {page['total']}{more})")
