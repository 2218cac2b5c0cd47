"""`qa ask | search | eval`, and the group every command hangs on: thin commands over the Engine; heavy libraries
load only when used."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from qa.checks import MAX_K, RULES, SORTS
from qa.errors import QAError

from . import common
from .common import INDEX_HELP, echo_err

FORMATS = ("text", "json", "markdown", "citation")


def _k(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise click.ClickException(RULES["k"]) from None


class QAGroup(click.Group):
    """Turns domain errors into one-line messages with a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except QAError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            raise click.Abort() from None


@click.group(cls=QAGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qa-news", prog_name="qa")
def main() -> None:
    """Question answering over news articles, with sources.

    \b
    Examples:
      qa ask "When did Turkey shoot down the Russian jet?"
      qa ask "Who is Turkey's defence minister?" --format citation
      qa search "Idlib ceasefire" -k 10 --outlet TASS --json
      qa build path/to/articles --index var/my-index
    """


def _question_options(command):
    """The arguments `qa ask` and `qa search` share: the same question, the same filters, the same passages."""
    options = [
        click.argument("question"),
        click.option("-k", "k", default="5", show_default=True, metavar="INTEGER", help=f"Number of passages, 1-{MAX_K}."),
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
                     help="text for people, json (the API's), markdown, or citation (the answer's ready citation)."),
        click.option("--json", "as_json", is_flag=True, help="Same as --format json."),
        click.option("--color/--no-color", default=None, help="Colour the text output (default: on a terminal, unless NO_COLOR is set)."),
        click.option("--index", "index", help=INDEX_HELP),
        click.option("--outlet", help="Only this outlet (case-insensitive)."),
        click.option("--since", help="Only articles published on or after this date (YYYY-MM-DD)."),
        click.option("--until", help="Only articles published on or before this date (YYYY-MM-DD)."),
        click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True,
                     help="Order of the passages: relevance, or date (newest first, undated last)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _colour(color: bool | None) -> bool:
    import os

    return color if color is not None else sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _run(method: str, question: str, k: str, fmt: str, as_json: bool, color: bool | None, index: str | None, **filters: str | None) -> None:
    from qa.checks import ask_request

    fmt = "json" if as_json else fmt
    if fmt == "citation" and method != "ask":
        raise click.ClickException("--format citation needs an answer: use qa ask")
    asked = ask_request(question=question, k=_k(k), **filters)  # before the models load: a typo fails at once
    engine = common.open_engine(index)
    result = getattr(engine, method)(**asked.model_dump())
    if result.filtered is not None and result.filtered.articles == 0:
        from qa.listing import unknown_outlet

        # Nothing to read is not an answer: say why, with the outlets there are, and fail so scripts notice.
        raise click.ClickException(unknown_outlet(filters["outlet"], engine.outlets())
                                   or "no articles match these filters")
    if fmt == "json":
        click.echo(result.to_json(indent=True))
    elif fmt == "citation":
        if result.answer is None:
            raise click.ClickException("no answer to cite: these articles do not answer the question")
        if result.answer.citation is None:
            raise click.ClickException(f"not sure enough to cite ({result.answer.confidence:.0%} likely right): "
                                       "check the passage with --format text")
        click.echo("\n".join(result.answer.citations))
    else:
        from qa.render import render_markdown, render_text

        colour = _colour(color) and fmt == "text"
        # click.echo strips styles when stdout is not a terminal unless told: --color must survive a pipe
        click.echo(render_markdown(result) if fmt == "markdown" else render_text(result, color=colour), color=colour)


@main.command()
@_question_options
def ask(
    question: str, k: str, fmt: str, as_json: bool, color: bool | None, index: str | None, outlet: str | None, since: str | None,
    until: str | None, sort: str,
) -> None:
    """Answer QUESTION from the indexed articles: the answer, what each source says, and the passages."""
    _run("ask", question, k, fmt, as_json, color, index, outlet=outlet, since=since, until=until, sort=sort)


@main.command()
@_question_options
def search(
    question: str, k: str, fmt: str, as_json: bool, color: bool | None, index: str | None, outlet: str | None, since: str | None,
    until: str | None, sort: str,
) -> None:
    """The passages for QUESTION only, without the reader (faster)."""
    _run("search", question, k, fmt, as_json, color, index, outlet=outlet, since=since, until=until, sort=sort)


@main.command(name="eval")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--squad", type=click.Path(path_type=Path), help="SQuAD v1.1 JSON: index its articles and score a sample.")
@click.option("--limit", type=click.IntRange(min=1), help="Score a seeded sample of this many SQuAD questions.")
@click.option("--split", type=click.Choice(["train", "tune", "eval"]), help="Only this split's SQuAD questions (qa/squad.py); the index holds all articles.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--index", "index", help=INDEX_HELP)
def evaluate(files: tuple[Path, ...], squad: Path | None, limit: int | None, split: str | None, as_json: bool, index: str | None) -> None:
    """Score retrieval and answers on FILES.jsonl ({"q", "answers", "docs"} per line; a set and its unanswerable
    questions are scored as one) or on SQuAD."""
    from qa.evaluate import evaluate as run, evaluate_squad, load_questions

    if bool(files) == (squad is not None):
        raise click.ClickException("give question files (FILE.jsonl ...) or --squad FILE, not both")
    settings = common.settings(index)
    if squad is not None:
        report = evaluate_squad(settings, squad, limit, split)
    else:
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise click.ClickException(f"question file {missing[0]} not found")
        questions = [q for f in files for q in load_questions(f)]
        report = run(common.open_engine(index), questions)
    data = report.as_dict()
    if as_json:
        click.echo(json.dumps(data))
    else:
        click.echo("  ".join(f"{key}={value}" for key, value in data.items()))


from .articles import articles  # noqa: E402  (the commands of other modules, on the one group)
from .serve import serve  # noqa: E402
from .writes import add, build, delete, merge  # noqa: E402

for command in (build, add, delete, merge, serve, articles):
    main.add_command(command)

if __name__ == "__main__":
    main()
