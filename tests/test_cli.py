"""The `qa` command through CliRunner: text and JSON output, one-line errors, build."""

import json

import pytest
from click.testing import CliRunner

from conftest import JET
from cli.main import main


@pytest.fixture()
def run(seeds_index):
    def invoke(*args):
        return CliRunner().invoke(main, [*args], env={"QA_INDEX": str(seeds_index)})

    invoke.index = str(seeds_index)
    return invoke


def test_ask_text(run):
    result = run("ask", JET, "-k", "3")
    assert result.exit_code == 0, result.output
    assert "November of 2015" in result.output and "Arutz Sheva" in result.output
    assert ">>" in result.output  # the answer sentence is marked


def test_ask_json_is_the_api_contract(run, client):
    result = run("ask", JET, "--json")
    assert result.exit_code == 0
    cli = json.loads(result.output)
    api = client.get("/ask", params={"q": JET}).json()
    cli.pop("took_ms"), api.pop("took_ms")
    assert cli == api


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", ""], "question must be 1-1000 characters of text"),
        (["ask", "x" * 1001], "question must be 1-1000 characters of text"),
        (["ask", "jet", "-k", "0"], "k must be an integer from 1 to 50"),
        (["ask", "jet", "-k", "many"], "k must be an integer from 1 to 50"),
        (["ask", "jet", "--since", "yesterday"], "since must be a date in ISO format YYYY-MM-DD, got 'yesterday'"),
        (["eval"], "give question files (FILE.jsonl ...) or --squad FILE, not both"),
    ],
)
def test_bad_input_is_one_line(run, args, message):
    result = run(*args)
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [f"Error: {message}"]


def test_missing_default_index_is_built_from_seeds(tmp_path, monkeypatch):
    import cli.common
    from qa.settings import Settings

    # the default location, as if never built
    monkeypatch.setattr(cli.common, "settings", lambda index, model=None: Settings.from_env(index=index or tmp_path / "default"))
    result = CliRunner().invoke(main, ["ask", JET, "-k", "1"], env={"QA_INDEX": ""})
    assert result.exit_code == 0, result.output
    assert "building one from" in result.output and "November of 2015" in result.output


@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_named_index_that_does_not_exist_is_an_error(tmp_path, how):
    typo = tmp_path / "typo"
    args, env = (["--index", str(typo)], {}) if how == "option" else ([], {"QA_INDEX": str(typo)})
    result = CliRunner().invoke(main, ["ask", JET, *args], env=env)
    assert result.exit_code != 0 and not typo.exists()
    assert result.output.strip() == f"Error: no index at {typo}: build one with `qa build [PATH ...] --index {typo}`"


def test_build_warns_and_completes(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.txt").write_text("Ankara hosted the summit.\n\nThe leaders met for three hours on Monday.")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02 binary")
    result = CliRunner().invoke(main, ["build", str(folder), "--index", str(tmp_path / "ix")])
    assert result.exit_code == 0, result.output
    assert "binary.txt" in result.output and "indexed 1 article," in result.output


def test_eval_reports_recall(run):
    result = run("eval", "tests/questions/seeds.jsonl", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["questions"] >= 30 and report["r3"] >= 0.95


def test_eval_scores_declining_unanswerable_questions(run, tmp_path):
    """A set and its unanswerable questions, in two files as the frozen sets keep them, are scored as one."""
    answerable, unanswerable = tmp_path / "set.jsonl", tmp_path / "set_unanswerable.jsonl"
    answerable.write_text('{"q": "When did Turkey shoot down the Russian jet?", "answers": ["2015"]}\n')
    unanswerable.write_text('{"q": "How do I bake sourdough bread?"}\n')
    report = json.loads(run("eval", str(answerable), str(unanswerable), "--json").output)
    assert report["questions"] == 1 and report["r1"] == 1.0
    assert report["unanswerable"] == 1 and report["declined_rate"] == 1.0


def test_search_gives_the_passages_without_the_reader(run, client):
    result = run("search", JET, "--json", "-k", "3")
    assert result.exit_code == 0, result.output
    cli = json.loads(result.output)
    assert set(cli) == {"question", "passages", "filtered", "took_ms"}
    api = client.get("/search", params={"q": JET, "k": 3}).json()
    assert [p["id"] for p in cli["passages"]] == [p["id"] for p in api["passages"]]
    text = run("search", JET, "-k", "2")
    assert text.exit_code == 0 and "Answer" not in text.output and "Arutz Sheva" in text.output


def test_search_bad_input_is_one_line(run):
    result = run("search", "jet", "-k", "0")
    assert result.exit_code != 0 and result.output.strip() == "Error: k must be an integer from 1 to 50"


def test_ask_formats(run):
    citation = run("ask", JET, "--format", "citation")
    assert citation.exit_code == 0, citation.output
    assert citation.output.startswith("Arutz Sheva, n.d., 'Putin and Erdogan agree to coordinate actions in Syria' by Elad "
                                      "Benari, paragraph 9: ")
    assert "November of 2015" in citation.output
    markdown = run("ask", JET, "--format", "markdown", "-k", "2")
    assert markdown.exit_code == 0 and markdown.output.startswith(f"**Q:** {JET}") and "> Arutz Sheva" in markdown.output
    declined = run("ask", "Who won the 2018 FIFA World Cup?", "--format", "citation")
    assert declined.exit_code != 0 and declined.output.strip() == "Error: no answer to cite: these articles do not answer the question"


def test_text_answer_names_its_source_and_colour_follows_no_color(run):
    plain = run("ask", JET, "--color")
    assert "\x1b[" in plain.output
    result = CliRunner().invoke(main, ["ask", JET], env={"QA_INDEX": run.index, "NO_COLOR": "1"})
    assert "\x1b[" not in result.output
    assert "Source: Putin and Erdogan agree to coordinate actions in Syria | Arutz Sheva | by Elad Benari | date unknown | passage 1 of 5 below" in result.output


def test_version_and_typed_help(run):
    assert run("--version").output.startswith("qa, version ")
    assert "-k INTEGER" in run("ask", "--help").output
