"""Smoke run of benchmarks/latency.py at tiny size: the code paths work and the report is complete; no timings judged."""

import json
import shutil
import sys

import pytest

from benchmarks import latency

HAS_WRK = shutil.which("wrk") is not None
ORIGINAL_COLD_COMMANDS = latency.cold_commands


@pytest.fixture(scope="module")
def tiny(seeds_index, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "latency.json"
    parts = "latency,load,cold" if HAS_WRK else "latency,cold"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(latency, "cold_commands", _cheap_cold_commands)
        # 4 connections: within what one worker admits (2 asking + 8 queued, api/gate.py), so none is refused with 503
        latency.main(["--tiny", "--index", str(seeds_index), "--parts", parts, "--workers", "1", "--connections", "4",
                      "--out", str(out)])
    return json.loads(out.read_text())


def _cheap_cold_commands(index):
    """The real fresh `qa ask`; a second cold sentence-transformers import would add 6-15 s to the suite for nothing."""
    commands = ORIGINAL_COLD_COMMANDS(index)
    commands["import_sentence_transformers"] = [sys.executable, "-c", "import json"]
    return commands


# What each ratio's name says it divides: a figure in BENCHMARKS.md means what its name says.
RATIO_PARTS = {"http_search_p50": "http_search", "http_p50": "http_ask", "engine_p50": "engine_ask",
               "st_encode_p50": "st_encode", "st_encode_flat_p50": "st_encode_flat"}


def test_latency_has_every_path_and_ratio(tiny):
    ms, ratios = tiny["latency"]["ms"], tiny["latency"]["ratios"]
    assert set(ms) == {"st_encode", "st_encode_flat", "engine_search", "engine_ask", "http_search", "http_ask"}
    assert len(ratios) == 5 and tiny["latency"]["samples"] > 0
    for name, value in ratios.items():
        over, under = (RATIO_PARTS[part] for part in name.split("_over_"))
        assert value == pytest.approx(ms[over]["p50"] / ms[under]["p50"]), name
    assert tiny["server"]["workers"] == 1  # as asked: the report names the configuration it measured


@pytest.mark.skipif(not HAS_WRK, reason="wrk is not installed (Debian: apt-get install -y wrk)")
def test_load_counts_requests_and_errors(tiny):
    load = tiny["load"]
    assert load["requests"] > 0 and load["errors"] == 0 and load["connections"] == 4
    assert load["req_per_s"] == pytest.approx(load["requests"] / load["seconds"])
    assert load["server_cpu_ms_per_request"] > 0


def test_cold_start_compares_both_commands(tiny):
    import statistics

    cold = tiny["cold_start"]
    assert set(cold["median_s"]) == {"qa_ask", "import_sentence_transformers"}
    assert all(cold["median_s"][name] == statistics.median(runs) for name, runs in cold["runs_s"].items())
    assert cold["ratio"] == pytest.approx(cold["median_s"]["qa_ask"] / cold["median_s"]["import_sentence_transformers"])


def test_missing_wrk_is_reported_not_crashed(monkeypatch, capsys):
    monkeypatch.setattr(latency.shutil, "which", lambda name: None)
    assert latency.measure_load(None, ["q"], 1, 1) == {"skipped": latency.WRK_MISSING}
    assert "apt-get install -y wrk" in capsys.readouterr().err


def test_markdown_names_the_machine_and_goals(tiny):
    text = latency.markdown(tiny)
    assert tiny["machine"] in text and "<= 0.7" in text and "<= 4" in text and "Cold start" in text
