"""A producer's roster: 50 presenters from a CSV and a 3-look template become 200 items, and run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from batchavatars.cli import main
from batchavatars.sandbox import SandboxConfig, serve

MANIFESTS = Path(__file__).parent.parent / "manifests"


@pytest.mark.slow
def test_roster_with_templates_plans_200_items_and_runs(tmp_path):
    for name in ("roster.yaml", "presenters.csv", "batchavatars.schema.json"):
        shutil.copy(MANIFESTS / name, tmp_path / name)
    plan = CliRunner().invoke(main, ["plan", str(tmp_path / "roster.yaml"), "--json"])
    assert plan.exit_code == 0, plan.output
    items = json.loads(plan.output)["items"]
    assert len(items) == 200 and len({i["key"] for i in items}) == 200
    assert sum(i["kind"] == "avatar" for i in items) == 50 and all(i["action"] == "create" for i in items)

    with serve(SandboxConfig(training_seconds=0.05, rate_limit=None)) as sb:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "batchavatars",
                "run",
                str(tmp_path / "roster.yaml"),
                "--rate",
                "0",
                "--concurrency",
                "16",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "HEYGEN_API_KEY": "k", "HEYGEN_BASE_URL": sb.url},
        )
        assert run.returncode == 0, run.stderr[-2000:]
        assert sb.stats()["created"]["looks"] == 200

    only = CliRunner().invoke(main, ["plan", str(tmp_path / "roster.yaml"), "--json", "--only", "*-office"])
    assert only.exit_code == 0
    assert {i["action"] for i in json.loads(only.output)["items"]} == {"skip"}
