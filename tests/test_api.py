"""The Python API, as an Airflow task or a notebook uses it: over real loopback HTTP against the
sandbox, a typed result and events to a callback, nothing printed."""

from __future__ import annotations

import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import batchavatars
from batchavatars.sandbox import SandboxConfig, serve

ROOT = Path(__file__).parent.parent
MANIFEST = """\
version: 1
avatars:
  - {key: ava, type: photo, name: Ava, file: "https://cdn.example.com/ava.jpg"}
  - {key: nova, type: prompt, name: Nova, prompt: A starship captain}
looks:
  - {key: ava-office, avatar: ava, name: Ava office, prompt: In an office}
"""


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "team.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    return path


def test_run_from_python_returns_the_result_and_prints_nothing(manifest, capsys, monkeypatch):
    events: list[tuple[str, dict]] = []
    cfg = SandboxConfig(training_seconds=0.1, rate_limit=None)
    with serve(cfg) as sb:
        monkeypatch.setenv("HEYGEN_API_KEY", "test-key")  # the CLI's default source of the key
        monkeypatch.setenv("HEYGEN_BASE_URL", sb.url)
        result = batchavatars.run(manifest, rate=0, on_event=lambda event, **f: events.append((event, f)))
        assert sb.stats()["requests"]["POST /v3/avatars"] == 3
    assert result.exit_code == batchavatars.ExitCode.OK
    assert result.counts == {"succeeded": 3}
    assert {r.key: r.status for r in result.records} == dict.fromkeys(["ava", "nova", "ava-office"], "succeeded")
    assert result.ledger == manifest.with_name("team.ledger.db")
    assert ("item_succeeded", "ava-office") in {(e, f.get("key")) for e, f in events}
    assert capsys.readouterr() == ("", "")  # no summary, no log lines: the caller decides


def test_plan_from_python_needs_no_server(manifest):
    plan = batchavatars.plan(batchavatars.load_manifest(manifest))
    assert plan.counts() == {"create": 3}
    assert plan.steps["ava-office"].reason == "not made yet"


@pytest.mark.anyio
async def test_arun_runs_in_the_callers_event_loop(manifest, tmp_path):
    with serve(SandboxConfig(training_seconds=0.1, rate_limit=None)) as sb:
        result = await batchavatars.arun(manifest, base_url=sb.url, api_key="k", rate=0, ledger=tmp_path / "x.db")
    assert result.exit_code == 0 and result.ledger == tmp_path / "x.db"


def test_an_unknown_setting_is_named(manifest):
    with pytest.raises(TypeError, match="concurency"):
        batchavatars.run(manifest, concurency=4)


def test_run_names_every_setting_with_its_default_and_plan_its_own_options():
    from dataclasses import fields

    run = inspect.signature(batchavatars.run).parameters
    assert [*run] == ["manifest", *(f.name for f in fields(batchavatars.RunSettings))]
    assert run["concurrency"].default == batchavatars.RunSettings().concurrency
    assert [*inspect.signature(batchavatars.plan).parameters][:2] == ["manifest", "ledger"]


@pytest.mark.slow
def test_a_misspelt_setting_is_caught_by_mypy_before_it_runs(tmp_path):
    snippet = tmp_path / "job.py"
    snippet.write_text(
        'import batchavatars\n\nbatchavatars.run("team.yaml", concurency=4)\nbatchavatars.run("team.yaml", rate=5)\n'
    )
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), str(snippet)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert 'job.py:3: error: Unexpected keyword argument "concurency"' in checked.stdout, checked.stdout
    assert "job.py:4" not in checked.stdout


def test_the_public_names_all_resolve():
    assert all(getattr(batchavatars, name) is not None for name in batchavatars.__all__)
    with pytest.raises(AttributeError, match="nosuch"):
        _ = batchavatars.nosuch  # type: ignore[attr-defined]


@pytest.mark.slow
def test_the_demo_manifest_runs_through_the_api(tmp_path):
    shutil.copytree(ROOT / "manifests", tmp_path / "m", ignore=shutil.ignore_patterns("*.ledger.*"))
    result = batchavatars.run(tmp_path / "m" / "example.yaml", sandbox=True, rate=0)
    assert result.exit_code == 0 and len(result.records) == 20


class Boom(Exception):
    pass


def test_an_exception_in_the_callers_callback_stops_the_run_cleanly_and_is_theirs_to_see(manifest, monkeypatch):
    def on_event(event, **fields):
        if event == "item_created":
            raise Boom(f"the dashboard is down ({fields['key']})")

    cfg = SandboxConfig(training_seconds=0.1, rate_limit=None)
    with serve(cfg) as sb:
        monkeypatch.setenv("HEYGEN_API_KEY", "test-key")
        with pytest.raises(Boom, match="the dashboard is down"):  # their own exception, not an ExceptionGroup
            batchavatars.run(manifest, base_url=sb.url, rate=0, concurrency=1, on_event=on_event)
        left = {r.key: r.status for r in batchavatars.status(manifest).records}
        assert "creating" not in left.values()  # every request in flight finished and was recorded
        again = batchavatars.run(manifest, base_url=sb.url, rate=0)
        stats = sb.stats()
    assert again.exit_code == 0 and stats["duplicates"] == 0 and stats["created"]["looks"] == 3
