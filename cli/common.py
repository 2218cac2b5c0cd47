"""What the commands share: settings, the first-run rule, and plain output helpers."""

from __future__ import annotations

import os

import click

INDEX_HELP = "Index directory (default: $QA_INDEX or var/index)."


def settings(index: str | None, model: str | None = None):
    from qa.settings import Settings

    return Settings.from_env(index=index, model=model)


def builds_seeds(index: str | None) -> bool:
    """Only the default index is built from the seeds on first run: a path the user named that does not exist is
    a typo to report, not a place to put someone else's corpus."""
    return index is None and not os.environ.get("QA_INDEX")


def open_engine(index: str | None):
    """The Engine over the chosen index (building the seeds into the default one on first run)."""
    from qa.engine import Engine

    return Engine.open(settings(index), build_missing=builds_seeds(index), notify=echo_err)


def plural(count: int, noun: str) -> str:
    """'1 article', '2 articles'."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def echo_err(message: str) -> None:
    click.echo(message, err=True)
