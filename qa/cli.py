"""`qa build | ask | search | serve | eval`: thin commands over the Engine; heavy libraries load only when used."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import click

from index.errors import QAError

from .checks import SORTS


def _settings(index: str | None, model: str | None = None):
    from .settings import Settings

    return Settings.from_env(index=index, model=model)


def _builds_seeds(index: str | None) -> bool:
    """Only the default index is built from the seeds on first run: a path the user named that does not exist is
    a typo to report, not a place to put someone else's corpus."""
    import os

    return index is None and not os.environ.get("QA_INDEX")


def _k(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise click.ClickException("k must be an integer from 1 to 50") from None


FORMATS = ("text", "json", "markdown", "citation")


def _n(count: int, noun: str) -> str:
    """'1 article', '2 articles'."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _echo_err(message: str) -> None:
    click.echo(message, err=True)


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


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--index", "index", help="Index directory (default: $QA_INDEX or var/index).")
@click.option("--model", help="Sentence-transformers model name or local folder.")
@click.option("--int8", is_flag=True, help="Store int8 (SQ8) codes in FAISS at every size: 4x smaller, see BENCHMARKS.md.")
@click.option("--ray", "ray_address", metavar="ADDRESS",
              help="Run the build on Ray: `local` starts a cluster for this run, `auto` joins a running one, or host:port.")
@click.option("--actors", type=click.IntRange(min=1), default=1, show_default=True, help="Encoder actors (with --ray).")
@click.option("--prune", is_flag=True, help="Also remove indexed articles whose files are outside PATHS (kept otherwise).")
def build(paths: tuple[Path, ...], index: str | None, model: str | None, int8: bool, ray_address: str | None, actors: int,
          prune: bool) -> None:
    """Build or update the index from PATHS (files or folders; default: the seeds). Articles from other paths stay
    unless --prune."""
    settings = _settings(index, model)
    warn, quantize = (lambda m: _echo_err(f"warning: {m}")), "int8" if int8 else None
    if ray_address:
        try:
            from index.ray_build import build_on_ray
        except ImportError:
            raise click.ClickException("--ray needs Ray: pip install '.[ray]' (make install-ray)") from None
        report = build_on_ray(paths or [settings.seeds], settings.index, ray_address, actors, model=settings.model,
                              warn=warn, quantize=quantize, prune=prune)
    else:
        from index.build import build_index

        report = build_index(paths or [settings.seeds], settings.index, model=settings.model, warn=warn,
                             progress=sys.stderr.isatty(), quantize=quantize, prune=prune)
    click.echo(
        f"indexed {_n(report.articles, 'article')}, {_n(report.passages, 'passage')} "
        f"({report.embedded} new or changed, {report.reused} reused, {_n(report.removed, 'article')} removed"
        f"{f', {len(report.kept)} from other paths kept' if report.kept else ''}"
        f"{f', {len(report.skipped)} deleted earlier skipped' if report.skipped else ''}) "
        f"into {report.path} in {report.seconds:.1f}s"
    )


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--index", "index", help="Index directory (default: $QA_INDEX or var/index).")
@click.option("--force", is_flag=True, help="Re-admit articles that were deleted earlier (qa delete); builds skip them.")
def add(paths: tuple[Path, ...], index: str | None, force: bool) -> None:
    """Add or update the articles in PATHS, keeping every other article (one new segment, one commit)."""
    from index.commit import IndexBusy
    from index.documents import load_articles
    from index.build import add_articles
    from index.merge import merge

    settings = _settings(index)
    articles = list(load_articles(paths, lambda m: _echo_err(f"warning: {m}")))
    if not articles:
        raise click.ClickException(f"no articles found in {', '.join(map(str, paths))}")
    ids, generation = add_articles(settings.index, articles, model=settings.model, force=force)
    click.echo(f"added {_n(len(ids), 'article')} to {settings.index} (generation {generation})")
    try:
        merge(settings.index)  # the tiered policy; usually there is nothing to merge
    except IndexBusy:
        # The add is committed; a merge is only tidying, and the next write or `qa merge` runs the policy again.
        _echo_err("note: another writer holds the index, so the merge is deferred to the next write (or run qa merge)")


@main.command()
@click.argument("ids", nargs=-1, required=True)
@click.option("--index", "index", help="Index directory (default: $QA_INDEX or var/index).")
def delete(ids: tuple[str, ...], index: str | None) -> None:
    """Delete the articles with these IDS (as GET /articles lists them)."""
    from index.build import delete_articles

    settings = _settings(index)
    _existing(settings.index)
    missing, generation = delete_articles(settings.index, ids)
    deleted = len(ids) - len(missing)
    if missing:
        also = f"; deleted the other {deleted} (generation {generation})" if deleted else ""
        raise click.ClickException(f"not in {settings.index}: {', '.join(missing)}{also}")
    click.echo(f"deleted {_n(deleted, 'article')} from {settings.index} (generation {generation})")


@main.command(name="merge")
@click.option("--index", "index", help="Index directory (default: $QA_INDEX or var/index).")
def merge_command(index: str | None) -> None:
    """Merge every segment into one, dropping deleted articles; stored vectors are reused, nothing is re-embedded."""
    import time

    from index.merge import merge

    settings = _settings(index)
    _existing(settings.index)
    started = time.perf_counter()
    generation = merge(settings.index, force=True)
    if generation is None:
        click.echo(f"{settings.index} is already one segment with nothing deleted")
    else:
        click.echo(f"merged {settings.index} into one segment (generation {generation}) in {time.perf_counter() - started:.1f}s")


def _existing(root: Path) -> None:
    from index.store import IndexReader

    IndexReader(root).close()  # a missing or damaged index says so, in one line


def _question_options(command):
    """The arguments `qa ask` and `qa search` share: the same question, the same filters, the same passages."""
    options = [
        click.argument("question"),
        click.option("-k", "k", default="5", show_default=True, metavar="INTEGER", help="Number of passages, 1-50."),
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
                     help="text for people, json (the API's), markdown, or citation (the answer's ready citation)."),
        click.option("--json", "as_json", is_flag=True, help="Same as --format json."),
        click.option("--color/--no-color", default=None, help="Colour the text output (default: on a terminal, unless NO_COLOR is set)."),
        click.option("--index", "index", help="Index directory (default: $QA_INDEX or var/index)."),
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
    from .checks import check_k, check_question, parse_date
    from .engine import Engine

    fmt = "json" if as_json else fmt
    if fmt == "citation" and method != "ask":
        raise click.ClickException("--format citation needs an answer: use qa ask")
    check_question(question), check_k(_k(k)), parse_date("since", filters["since"]), parse_date("until", filters["until"])
    engine = Engine.open(_settings(index), build_missing=_builds_seeds(index), notify=_echo_err)
    result = getattr(engine, method)(question, k=_k(k), **filters)
    if result.filtered is not None and result.filtered.articles == 0:
        from .listing import unknown_outlet

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
        from .render import render_markdown, render_text

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


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--index", "index", help="Index directory (default: $QA_INDEX or var/index).")
@click.option("--workers", type=click.IntRange(min=1), help="Server processes (default: one per core).")
@click.option("--threads", type=click.IntRange(min=1), help="ONNX Runtime threads per process (default: $QA_THREADS or 2 x cores / workers).")
@click.option("--ray", "ray_address", metavar="ADDRESS", help="Serve on Ray Serve: `local`, `auto` or host:port.")
@click.option("--shards", type=click.IntRange(min=1), default=1, show_default=True, help="Shard deployments (with --ray).")
@click.option("--replicas", type=click.IntRange(min=1), default=1, show_default=True, help="Replicas per shard (with --ray).")
def serve(host: str, port: int, index: str | None, workers: int | None, threads: int | None, ray_address: str | None,
          shards: int, replicas: int) -> None:
    """Serve the HTTP API and the web form."""
    import os

    import uvicorn

    from api.protocol import SERVER_OPTIONS

    from .engine import Engine
    from .settings import serving_plan

    settings = _settings(index)
    _port_free(host, port)
    if ray_address:
        try:
            from api.ray_serve import run
        except ImportError:
            raise click.ClickException("--ray needs Ray: pip install '.[ray]' (make install-ray)") from None
        Engine.open(settings, build_missing=_builds_seeds(index), notify=_echo_err)  # builds or checks the index
        click.echo(f"serving {settings.index} on Ray Serve at http://{host}:{port} ({shards} shards x {replicas} replicas)", err=True)
        run(replace(settings, threads=threads or settings.threads), ray_address, host, port, shards, replicas)
        return
    workers, threads = serving_plan(workers, threads or settings.threads)
    settings = replace(settings, threads=threads)
    engine = Engine.open(settings, build_missing=_builds_seeds(index), notify=_echo_err)
    click.echo(
        f"serving {engine.view().counts()['passages']} passages from {settings.index} on http://{host}:{port} "
        f"({workers} workers x {settings.threads} ONNX threads)",
        err=True,
    )
    if workers == 1:
        from api.app import create_app

        uvicorn.run(create_app(settings, engine), host=host, port=port, log_level="warning", **SERVER_OPTIONS)
        return
    del engine  # opened only to build or check the index; each worker loads its own from the environment
    os.environ.update(
        QA_INDEX=str(settings.index), QA_MODEL=settings.model, QA_THREADS=str(settings.threads),
        QA_QUERY_INT8="1" if settings.query_int8 else "",
    )
    _serve_workers(uvicorn.Config("api.app:create_app", factory=True, host=host, port=port, workers=workers,
                                  log_level="warning", **SERVER_OPTIONS))


def _port_free(host: str, port: int) -> None:
    """Fail before loading anything or saying "serving" when the address is taken (uvicorn says so only after)."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise click.ClickException(f"cannot serve on http://{host}:{port}: {exc.strerror or exc}; "
                                   "stop what uses it or pick another --port") from None


def _serve_workers(config) -> None:
    """uvicorn's multi-process server, on a listener that keeps TCP_NODELAY on the connections it accepts.

    uvicorn binds that listener with proto 0; accepted sockets inherit it and asyncio then leaves Nagle on, so every
    keep-alive answer after the first waited ~40 ms for the client's delayed ACK (uvicorn issue #3149).
    """
    import socket

    from uvicorn.supervisors import Multiprocess

    bound = config.bind_socket()
    listener = socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, fileno=bound.detach())
    listener.set_inheritable(True)
    Multiprocess(config, sockets=[listener]).run()


@main.command(name="eval")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.option("--squad", type=click.Path(path_type=Path), help="SQuAD v1.1 JSON: index its articles and score a sample.")
@click.option("--limit", type=click.IntRange(min=1), help="Score a seeded sample of this many SQuAD questions.")
@click.option("--split", type=click.Choice(["train", "tune", "eval"]), help="Only this split's SQuAD questions (qa/squad.py); the index holds all articles.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--index", "index", help="Index directory for FILE (default: $QA_INDEX or var/index).")
def evaluate(file: Path | None, squad: Path | None, limit: int | None, split: str | None, as_json: bool, index: str | None) -> None:
    """Score retrieval and answers on FILE.jsonl ({"q", "answers", "docs"} per line) or on SQuAD."""
    from .engine import Engine
    from .evaluate import evaluate as run, evaluate_squad, load_questions

    if (file is None) == (squad is None):
        raise click.ClickException("give exactly one of FILE.jsonl or --squad FILE")
    settings = _settings(index)
    if squad is not None:
        report = evaluate_squad(settings, squad, limit, split)
    else:
        if not file.is_file():
            raise click.ClickException(f"question file {file} not found")
        questions = load_questions(file)
        report = run(Engine.open(settings, build_missing=_builds_seeds(index), notify=_echo_err), questions)
    data = report.as_dict()
    if as_json:
        click.echo(json.dumps(data))
    else:
        click.echo("  ".join(f"{key}={value}" for key, value in data.items()))


from .cli_articles import articles  # noqa: E402  (its own module: this one holds the question commands)

main.add_command(articles)

if __name__ == "__main__":
    main()
