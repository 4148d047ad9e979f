"""The whole lifecycle: local files uploaded once, consent for digital twins, training that outlasts
the run, and polling that costs a fraction of one GET per look."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from batchavatars.ledger import Ledger
from batchavatars.sandbox import SandboxConfig, serve

from .media import jpeg_bytes, png_bytes
from .runs import run_items
from .specs import avatar

BIG = 33 * 1024 * 1024  # over the 32 MB multipart limit: must take the direct-upload flow


def lifecycle_manifest(tmp_path: Path) -> Path:
    (tmp_path / "footage").mkdir()
    (tmp_path / "photos").mkdir()
    with open(tmp_path / "footage" / "sam.mp4", "wb") as fh:  # streamed on upload, never read whole
        fh.seek(BIG - 1)
        fh.write(b"\1")
    (tmp_path / "footage" / "lee.webm").write_bytes(b"webm" * 5000)
    (tmp_path / "photos" / "shared.png").write_bytes(png_bytes())  # the manifest reads its header
    (tmp_path / "photos" / "ref.jpg").write_bytes(jpeg_bytes())
    text = """\
version: 1
avatars:
  - {key: sam, type: digital_twin, name: Sam Ortiz, file: ./footage/sam.mp4,
     consent: {reroute_url: "https://example.com/thanks"}}
  - {key: lee, type: digital_twin, name: Lee Park, file: {path: ./footage/lee.webm}}
  - {key: ava, type: photo, name: Ava Reyes, file: ./photos/shared.png}
  - {key: ava-twin, type: photo, name: Ava Reyes again, file: {path: photos/shared.png}}
  - {key: nova, type: prompt, name: Captain Nova, prompt: A starship captain, reference_images: [./photos/ref.jpg]}
look_templates:
  - {for_each: all, key: "{avatar}-office", name: "{name}, office", prompt: "{name} in an office"}
"""
    path = tmp_path / "team.yaml"
    path.write_text(text)
    return path


def cli(*args: str, url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "batchavatars", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "HEYGEN_API_KEY": "k", "HEYGEN_BASE_URL": url},
    )


@pytest.mark.slow
def test_files_consent_and_training_across_two_runs(tmp_path):
    manifest = lifecycle_manifest(tmp_path)
    cfg = SandboxConfig(training_seconds=0.1, consent_approval_seconds=None, rate_limit=None)
    with serve(cfg) as sb:
        first = cli("run", str(manifest), "--wait-timeout", "1", "--rate", "0", url=sb.url)
        assert first.returncode == 4, first.stderr[-3000:]
        export = cli("export", str(manifest), "--format", "csv", url=sb.url)
        rows = {r["key"]: r for r in csv.DictReader(io.StringIO(export.stdout))}
        for twin in ("sam", "lee"):
            assert rows[twin]["status"] == "awaiting_consent"
            assert rows[twin]["consent_url"].startswith("https://")
            assert rows[f"{twin}-office"]["status"] == "pending"  # waits for its parent, not blocked
        assert rows["ava-office"]["status"] == "succeeded" and rows["ava-office"]["look_id"]
        assert "consent" in first.stdout.lower() and rows["sam"]["consent_url"] in first.stdout.replace("\n", "")

        sb.configure(consent_approval_seconds=0.1)  # the people recorded their consent
        second = cli("run", str(manifest), "--rate", "0", url=sb.url)
        assert second.returncode == 0, second.stderr[-3000:]
        stats = sb.stats()

    assert stats["uploads"]["direct"] == 1  # sam.mp4, over 32 MB
    assert stats["uploads"]["multipart"] == 3  # lee.webm, shared.png once for two avatars, ref.jpg
    assert all(n == 1 for n in stats["uploads"]["by_sha256"].values())
    assert stats["consent_requests"]["total"] == 2  # exactly one per twin, none on the second run
    assert stats["duplicates"] == 0
    records = Ledger(tmp_path / "team.ledger.db", create=False).records()
    assert len(records) == 10 and {r.status for r in records.values()} == {"succeeded"}


@pytest.mark.anyio
@pytest.mark.slow
async def test_polling_hundreds_of_training_items_costs_a_fraction_of_one_get_per_look(tmp_path):
    items = [avatar(f"a{i}", name=f"Presenter {i}") for i in range(300)]
    events: list = []
    with serve(SandboxConfig(training_seconds=1.5, rate_limit=None, max_concurrent_training=None)) as sb:
        result = await run_items(items, sb.url, tmp_path / "l.db", events=events, concurrency=32)
        stats = sb.stats()
    assert result.counts == {"succeeded": 300}
    cycles = [f for e, f in events if e == "polled"]
    polls = stats["requests"].get("GET /v3/avatars/looks", 0) + stats["requests"].get(
        "GET /v3/avatars/looks/{look_id}", 0
    )
    one_get_per_look = sum(c["watched"] for c in cycles)  # what the same cycles would cost one GET per look
    assert cycles and one_get_per_look >= 300
    assert polls <= 0.1 * one_get_per_look, (polls, one_get_per_look)


@pytest.mark.anyio
async def test_a_retried_direct_upload_after_a_lost_answer_finishes_instead_of_stopping_the_run(tmp_path):
    """The retry replays the ticket of an upload that already completed: its URL now says 403."""
    from batchavatars.client import HeyGenClient
    from batchavatars.events import silent
    from batchavatars.requester import Requester
    from batchavatars.retry import RetryPolicy
    from batchavatars.settings import DEFAULTS
    from batchavatars.uploads import AssetStore

    big = tmp_path / "big.mp4"
    with open(big, "wb") as fh:
        fh.seek(BIG - 1)
        fh.write(b"\1")
    with serve(SandboxConfig(rate_limit=None)) as sb:
        async with HeyGenClient(sb.url, "k") as client:
            requests = Requester.alone(RetryPolicy(DEFAULTS.max_attempts), silent)
            first = await AssetStore(Ledger(tmp_path / "a.db"), client, requests).asset_id(str(big))
            # the answer was lost: a ledger that never heard of it asks again, under the same key
            again = await AssetStore(Ledger(tmp_path / "b.db"), client, requests).asset_id(str(big))
        stats = sb.stats()
    assert again == first
    assert stats["uploads"]["direct"] == 1 and stats["created"]["assets"] == 1
