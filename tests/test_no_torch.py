"""The query path never imports torch: `qa ask` and the HTTP app answer in fresh processes, then list what loaded."""

import json
import subprocess
import sys

from conftest import JET, ROOT

HEAVY = ("torch", "sentence_transformers", "transformers")
# Printed at exit, after click's SystemExit, so it sees everything the whole command imported.
REPORT = f"""
import atexit, json, sys
atexit.register(lambda: print("LOADED=" + json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr))
"""
ASK = REPORT + """
sys.argv = ["qa", "ask", sys.argv[1], "--index", sys.argv[2], "-k", "3"]
from cli.main import main
main()
"""
HTTP = REPORT + """
from fastapi.testclient import TestClient
from api.app import create_app
from qa.settings import Settings
response = TestClient(create_app(Settings.from_env(index=sys.argv[2]))).get("/ask", params={"q": sys.argv[1]})
assert response.status_code == 200, response.text
print(response.json()["answer"]["sentence"])
"""


def _run(script: str, index) -> tuple[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", script, JET, str(index)], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    loaded = next(line for line in done.stderr.splitlines() if line.startswith("LOADED="))
    return done.stdout, json.loads(loaded.removeprefix("LOADED="))


def test_qa_ask_imports_no_torch(seeds_index):
    output, loaded = _run(ASK, seeds_index)
    assert "November of 2015" in output
    assert loaded == []


def test_http_ask_imports_no_torch(seeds_index):
    output, loaded = _run(HTTP, seeds_index)
    assert "November of 2015" in output
    assert loaded == []
