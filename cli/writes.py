"""`qa build | add | delete | merge`: the index's writes, through the core's one Writer (qa/writes.py)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from . import common
from .common import INDEX_HELP, echo_err, plural


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--index", "index", help=INDEX_HELP)
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
    settings = common.settings(index, model)
    warn, quantize = (lambda m: echo_err(f"warning: {m}")), "int8" if int8 else None
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
        f"indexed {plural(report.articles, 'article')}, {plural(report.passages, 'passage')} "
        f"({report.embedded} new or changed, {report.reused} reused, {plural(report.removed, 'article')} removed"
        f"{f', {len(report.kept)} from other paths kept' if report.kept else ''}"
        f"{f', {len(report.skipped)} deleted earlier skipped' if report.skipped else ''}) "
        f"into {report.path} in {report.seconds:.1f}s"
    )


def _writer(index: str | None):
    from qa.writes import Writer

    settings = common.settings(index)
    return settings, Writer(settings.index, settings.model, note=lambda m: echo_err(f"note: {m}"))


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--index", "index", help=INDEX_HELP)
@click.option("--force", is_flag=True, help="Re-admit articles that were deleted earlier (qa delete); builds skip them.")
def add(paths: tuple[Path, ...], index: str | None, force: bool) -> None:
    """Add or update the articles in PATHS, keeping every other article (one new segment, one commit)."""
    from index.documents import load_articles

    settings, writer = _writer(index)
    articles = list(load_articles(paths, lambda m: echo_err(f"warning: {m}")))
    if not articles:
        raise click.ClickException(f"no articles found in {', '.join(map(str, paths))}")
    ids, generation = writer.add(articles, force=force)
    click.echo(f"added {plural(len(ids), 'article')} to {settings.index} (generation {generation})")


@click.command()
@click.argument("ids", nargs=-1, required=True)
@click.option("--index", "index", help=INDEX_HELP)
def delete(ids: tuple[str, ...], index: str | None) -> None:
    """Delete the articles with these IDS (as GET /articles lists them)."""
    settings, writer = _writer(index)
    missing, generation = writer.delete(ids)
    deleted = len(ids) - len(missing)
    if missing:
        also = f"; deleted the other {deleted} (generation {generation})" if deleted else ""
        raise click.ClickException(f"not in {settings.index}: {', '.join(missing)}{also}")
    click.echo(f"deleted {plural(deleted, 'article')} from {settings.index} (generation {generation})")


@click.command(name="merge")
@click.option("--index", "index", help=INDEX_HELP)
def merge(index: str | None) -> None:
    """Merge every segment into one, dropping deleted articles; stored vectors are reused, nothing is re-embedded."""
    settings, writer = _writer(index)
    started = time.perf_counter()
    generation = writer.merge(force=True)
    if generation is None:
        click.echo(f"{settings.index} is already one segment with nothing deleted")
    else:
        click.echo(f"merged {settings.index} into one segment (generation {generation}) in {time.perf_counter() - started:.1f}s")
