"""The nightly recipe in examples/cron works as documented, relying on the exit codes."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from batchavatars.ledger import Ledger
from batchavatars.sandbox import SandboxConfig, serve

CRON = Path(__file__).parent.parent / "examples" / "cron"

MANIFEST = """\
version: 1
avatars:
  - {key: ava, type: photo, name: Ava, file: "https://cdn.example.com/ava.jpg"}
  - {key: sam, type: digital_twin, name: Sam, file: "https://cdn.example.com/sam.mp4"}
looks:
  - {key: ava-office, avatar: ava, name: "Ava, office", prompt: Office}
"""


def nightly(tmp_path: Path, url: str, wait: str) -> subprocess.CompletedProcess:
    manifest = tmp_path / "team.yaml"
    manifest.write_text(MANIFEST)
    env = {
        **os.environ,
        "HEYGEN_API_KEY": "k",
        "HEYGEN_BASE_URL": url,
        "WAIT_TIMEOUT": wait,
        "BATCHAVATARS_STATE": str(tmp_path / "state"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    (tmp_path / "state").mkdir(exist_ok=True)
    return subprocess.run(
        [str(CRON / "nightly.sh"), str(manifest)], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_nightly_treats_work_left_waiting_as_fine_and_finishes_the_next_night(tmp_path):
    with serve(SandboxConfig(training_seconds=0.05, consent_approval_seconds=None, rate_limit=None)) as sb:
        first = nightly(tmp_path, sb.url, wait="0.5")
        assert first.returncode == 0, first.stderr[-2000:]
        assert "the next run continues" in first.stderr
        summary = json.loads((tmp_path / "state" / "last-run.json").read_text())
        assert summary["exit_code"] == 4 and summary["awaiting_consent"][0]["key"] == "sam"
        sb.configure(consent_approval_seconds=0.05)
        second = nightly(tmp_path, sb.url, wait="60")
        assert second.returncode == 0 and "every avatar ready" in second.stderr
        assert (tmp_path / "state" / "team.ledger.db").exists()  # the ledger lives in the state volume
        # off a terminal, every line on both streams is one JSON object, the script's own included
        for run in (first, second):
            lines = (run.stdout + run.stderr).strip().splitlines()
            events = [json.loads(line)["event"] for line in lines]
            assert "run_summary" in events and events.count("nightly") == 1


def test_nightly_passes_sigterm_to_the_run_and_leaves_nothing_behind(tmp_path):
    """A stopped pod or `timeout` signals the script: the run must stop with it (exit 130), not be
    orphaned holding the ledger's lock; and everything said on the way out is JSON."""
    manifest = tmp_path / "team.yaml"
    manifest.write_text(MANIFEST)
    state = tmp_path / "state"
    state.mkdir()
    env = {
        **os.environ,
        "HEYGEN_API_KEY": "k",
        "WAIT_TIMEOUT": "600",
        "BATCHAVATARS_STATE": str(state),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    with serve(SandboxConfig(training_seconds=0.05, consent_approval_seconds=None, rate_limit=None)) as sb:
        env["HEYGEN_BASE_URL"] = sb.url
        script = subprocess.Popen(
            [str(CRON / "nightly.sh"), str(manifest)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(ln) for ln in script.stdout], daemon=True)
        reader.start()
        seen = []
        while not any('"consent_requested"' in ln for ln in seen):  # the run is waiting on consent now
            seen.append(lines.get(timeout=60))
        holder = json.loads((state / "team.ledger.db.lock").read_text())
        script.send_signal(signal.SIGTERM)  # to the script only, as `timeout` or the kubelet does
        assert script.wait(timeout=60) == 130
        reader.join(timeout=10)
    while not lines.empty():
        seen.append(lines.get())
    with pytest.raises(ProcessLookupError):
        os.kill(holder["pid"], 0)  # the run itself is gone, not orphaned
    book = Ledger(state / "team.ledger.db")
    with book.exclusive():  # and its lock is free: the next run can take the ledger
        assert book.records()["sam"].status == "awaiting_consent"
    book.close()
    events = [json.loads(line)["event"] for line in seen]
    assert events[-1] == "nightly" and "run_summary" in events


@pytest.mark.slow
def test_nightly_reports_failures_with_exit_1(tmp_path):
    with serve(SandboxConfig(training_seconds=0.05, training_failure_rate=1.0, rate_limit=None)) as sb:
        result = nightly(tmp_path, sb.url, wait="30")
    assert result.returncode == 1 and "some items failed" in result.stderr


def test_cronjob_keeps_the_ledger_on_a_persistent_volume_and_runs_one_at_a_time():
    job = yaml.safe_load((CRON / "cronjob.yaml").read_text())
    spec = job["spec"]
    assert job["kind"] == "CronJob" and spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    state_mount = next(m for m in container["volumeMounts"] if m["mountPath"] == env["BATCHAVATARS_STATE"]["value"])
    volume = next(v for v in pod["volumes"] if v["name"] == state_mount["name"])
    assert "persistentVolumeClaim" in volume
    assert "secretKeyRef" in env["HEYGEN_API_KEY"]["valueFrom"]  # the key is never in the manifest or args
    assert container["command"][0].endswith("nightly.sh")
    # time for requests in flight to finish after SIGTERM: a creation may take 120 s to answer
    assert pod["terminationGracePeriodSeconds"] >= 120


def test_crontab_line_schedules_the_nightly_script():
    line = next(ln for ln in (CRON / "crontab").read_text().splitlines() if ln and not ln.startswith("#"))
    fields = line.split(None, 5)
    assert len(fields) == 6 and all(f.replace("*", "0").isdigit() for f in fields[:5])
    assert "nightly.sh" in fields[5] and "HEYGEN_API_KEY" in fields[5]


ROOT = CRON.parent.parent


def test_the_postgres_cronjob_keeps_no_volume_and_takes_the_ledger_url_from_a_secret():
    job = yaml.safe_load((CRON / "cronjob-postgres.yaml").read_text())
    spec = job["spec"]
    assert job["kind"] == "CronJob" and spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    for secret in ("HEYGEN_API_KEY", "BATCHAVATARS_LEDGER", "PGPASSWORD"):
        assert "secretKeyRef" in env[secret]["valueFrom"], secret  # never in the manifest or the args
    assert env["BATCHAVATARS_WORKSPACE"]["value"] == "team"
    assert not [v for v in pod.get("volumes", []) if "persistentVolumeClaim" in v]  # the state is the database
    assert pod["terminationGracePeriodSeconds"] >= 120


def test_the_ci_pipeline_runs_nightly_with_the_ledger_in_postgres():
    pipeline = yaml.safe_load((ROOT / "examples" / "ci" / "nightly.yml").read_text())
    triggers = pipeline[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"][0]["cron"].count(" ") == 4
    steps = pipeline["jobs"]["nightly"]["steps"]
    assert any("batchavatars[postgres]" in str(step.get("run", "")) for step in steps)
    run = next(step for step in steps if "nightly.sh" in str(step.get("run", "")))
    assert run["env"]["BATCHAVATARS_LEDGER"].startswith("${{ secrets.") and "PGPASSWORD" in run["env"]


def test_the_image_is_slim_with_the_postgres_extra_a_user_and_nightly_as_its_entry_point():
    lines = [
        ln.strip() for ln in (ROOT / "Dockerfile").read_text().splitlines() if ln.strip() and not ln.startswith("#")
    ]
    assert lines[0].startswith("FROM python:") and lines[0].endswith("-slim")
    assert any(ln.startswith("RUN pip install") and "'.[postgres]'" in ln for ln in lines)
    user = [ln for ln in lines if ln.startswith("USER ")]
    assert user and user[-1] not in ("USER root", "USER 0")
    assert lines[-1] == 'ENTRYPOINT ["/usr/local/bin/nightly.sh"]'
    assert "COPY examples/cron/nightly.sh /usr/local/bin/nightly.sh" in lines
