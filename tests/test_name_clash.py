"""No article is lost to a name clash, and a build removes articles from other paths only when asked (--prune)."""

from __future__ import annotations

from click.testing import CliRunner

from index.store import IndexReader
from cli.main import main


def _story(folder, name: str, text: str):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder


def run(*args):
    return CliRunner().invoke(main, [*map(str, args)])


def test_the_same_file_name_in_two_adds_is_refused_naming_both(tmp_path):
    a = _story(tmp_path / "dirA", "funeral.txt", "Funeral held\n\nThe funeral of the harbour master was held on Monday.")
    b = _story(tmp_path / "dirB", "funeral.txt", "Funeral planned\n\nA funeral for the former mayor is planned for June.")
    root = tmp_path / "ix"
    assert run("add", a, "--index", root).exit_code == 0
    second = run("add", b, "--index", root)
    assert second.exit_code != 0
    assert "dirB/funeral.txt and dirA/funeral.txt would both be article 'funeral'" in second.output
    assert "nothing was added" in second.output and second.output.count("\n") == 1
    assert "harbour master" in IndexReader(root).article("funeral")["text"]  # the first story is still there
    assert run("add", a, "--index", root).exit_code == 0  # the same file again is an update, not a clash


def test_a_build_keeps_other_paths_unless_pruned(tmp_path):
    old = _story(tmp_path / "old", "one.txt", "Ferry fares\n\nFerry fares will rise in May, the operator said.")
    _story(old, "two.txt", "Library hours\n\nThe library will open on Sundays from next month.")
    new = _story(tmp_path / "new", "three.txt", "Bus routes\n\nTwo new bus routes start on Monday, the council said.")
    root = tmp_path / "ix"
    assert run("build", old, "--index", root).exit_code == 0
    kept = run("build", new, "--index", root)
    assert kept.exit_code == 0, kept.output
    assert "kept 2 article(s) from files outside the paths given (one, two)" in kept.output and "--prune" in kept.output
    assert "0 articles removed, 2 from other paths kept" in kept.output
    assert set(IndexReader(root).article_index) == {"one", "two", "three"}

    _story(new, "one.txt", "Another story\n\nA different story that happens to be called one.txt.")
    clash = run("build", new, "--index", root)
    assert clash.exit_code != 0 and "new/one.txt and old/one.txt would both be article 'one'" in clash.output

    pruned = run("build", new, "--index", root, "--prune")
    assert pruned.exit_code == 0 and "1 article removed" in pruned.output, pruned.output
    assert set(IndexReader(root).article_index) == {"one", "three"}
    assert "different story" in IndexReader(root).article("one")["text"]
