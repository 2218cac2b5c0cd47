"""Smoke run of the build benchmark on a handful of Reuters stories."""

import json

import pytest

from benchmarks.common import REUTERS


@pytest.mark.skipif(not REUTERS.is_dir(), reason=f"Reuters-21578 is absent ({REUTERS})")
def test_build_benchmark_smoke(tmp_path, capsys):
    pytest.importorskip("sentence_transformers", reason="the baseline needs the build extra (torch)")
    from benchmarks.build import main

    out = tmp_path / "build.json"
    result = main(["--stories", "5", "--out", str(out)])
    assert result["compare"]["stories"] == 5 and result["compare"]["articles"] == 5
    assert result["compare"]["passages"] >= 5 and result["compare"]["ratio"] > 0
    assert json.loads(out.read_text())["compare"]["windows"] >= 5
    assert "| ratio (goal <= 0.7) |" in capsys.readouterr().out
