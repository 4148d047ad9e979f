"""Local files against HeyGen's asset shapes as published (API notes, "Direct uploads"): readiness
only from `/complete`'s answer and `GET /v3/assets/statuses` (never `GET /v3/assets/{id}`, which has
no status), the PUT signed as HeyGen's uploader signs it, no Idempotency-Key on `/complete`, a failed
asset failing the items that use it, a lost one uploaded again. Over real loopback HTTP, asserting
what the server saw."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import pytest

import batchavatars
from batchavatars.sandbox import SandboxConfig, serve

from .media import png_bytes

pytestmark = pytest.mark.anyio

FAST = dict(rate=0, api_key="test-key")


def footage(path: Path, size: int, mark: int) -> str:
    """A sparse video file of `size` bytes (direct upload above 32,000,000), its content set by `mark`."""
    with open(path, "wb") as fh:
        fh.seek(size - 1)
        fh.write(bytes([mark]))
    return f"./{path.name}"


def photo(path: Path, shade: int) -> str:
    path.write_bytes(png_bytes(shade=shade))
    return f"./{path.name}"


def team(tmp_path: Path) -> Path:
    """Two twins from footage (direct uploads), two photos and a prompt avatar's reference (multipart)."""
    lines = [
        "version: 1",
        "avatars:",
        f"  - {{key: ana, type: digital_twin, name: Ana, file: {footage(tmp_path / 'ana.mp4', 33_000_000, 1)}}}",
        f"  - {{key: ben, type: digital_twin, name: Ben, file: {footage(tmp_path / 'ben.mp4', 34_000_000, 2)}}}",
        f"  - {{key: cat, type: photo, name: Cat, file: {photo(tmp_path / 'cat.png', 1)}}}",
        f"  - {{key: dan, type: photo, name: Dan, file: {photo(tmp_path / 'dan.png', 2)}}}",
        f"  - {{key: eve, type: prompt, name: Eve, prompt: A host, reference_images: [{photo(tmp_path / 'eve.png', 3)}]}}",
        "looks:",
        "  - {key: cat-office, avatar: cat, name: Cat office, prompt: In an office}",
    ]
    path = tmp_path / "team.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("content_type_in_headers", [True, False], ids=["headers-name-it", "headers-omit-it"])
async def test_every_upload_waits_until_heygen_reports_it_completed(tmp_path, content_type_in_headers):
    cfg = SandboxConfig(
        training_seconds=0.05,
        rate_limit=None,
        consent_approval_seconds=0.05,
        asset_processing_seconds=2.5,
        complete_conflicts=1,
        upload_headers_content_type=content_type_in_headers,
    )
    with serve(cfg) as sb:
        result = await batchavatars.arun(team(tmp_path), base_url=sb.url, **FAST)
        stats = sb.stats()
    assert result.exit_code == 0, [(r.key, r.status, r.error_message) for r in result.records]
    assert stats["creations_with_unready_asset"] == 0  # no create met an asset still processing
    assert stats["uploads"]["puts_without_content_type"] == 0
    assert stats["complete_with_idempotency_key"] == 0
    assert (stats["uploads"]["direct"], stats["uploads"]["multipart"]) == (2, 3)
    assert "GET /v3/assets/{asset_id}" not in stats["requests"]  # metadata: never asked for a status
    # one statuses call looks at every upload in flight: a poll per asset would take 5 a round
    assert stats["requests"]["GET /v3/assets/statuses"] <= 8


async def test_an_asset_heygen_could_not_process_fails_the_items_that_use_it_naming_the_file(tmp_path):
    bad, good = photo(tmp_path / "bad.png", 1), photo(tmp_path / "good.png", 2)
    manifest = tmp_path / "team.yaml"
    manifest.write_text(
        "version: 1\navatars:\n"
        f"  - {{key: bad, type: photo, name: Bad, file: {bad}}}\n"
        f"  - {{key: good, type: photo, name: Good, file: {good}}}\n"
        "looks:\n  - {key: bad-office, avatar: bad, name: Bad office, prompt: In an office}\n",
        encoding="utf-8",
    )
    cfg = SandboxConfig(training_seconds=0.05, rate_limit=None, asset_processing_seconds=0.2, failed_assets=["bad.png"])
    with serve(cfg) as sb:
        result = await batchavatars.arun(manifest, base_url=sb.url, **FAST)
        stats = sb.stats()
    records = {r.key: r for r in result.records}
    assert result.exit_code == 1
    assert (records["bad"].status, records["bad"].error_code) == ("failed", "asset_failed")
    assert "bad.png" in (records["bad"].error_message or "") and records["bad"].error_param == "file"
    assert records["bad-office"].status == "blocked" and records["good"].status == "succeeded"
    assert stats["requests"]["POST /v3/avatars"] == 1  # nothing was sent with the failed asset


async def test_an_asset_heygen_lost_is_uploaded_again_under_a_new_key(tmp_path):
    manifest = tmp_path / "team.yaml"
    manifest.write_text(
        f"version: 1\navatars:\n  - {{key: ana, type: photo, name: Ana, file: {photo(tmp_path / 'lost.png', 1)}}}\n",
        encoding="utf-8",
    )
    cfg = SandboxConfig(training_seconds=0.05, rate_limit=None, asset_processing_seconds=0.2, lost_assets=["lost.png"])
    with serve(cfg) as sb:
        result = await batchavatars.arun(manifest, base_url=sb.url, **FAST)
        stats = sb.stats()
    assert result.exit_code == 0 and result.uploads == 2
    assert stats["uploads"]["multipart"] == 2 and stats["idempotent_replays"] == 0  # a new key, not a replay
    assert stats["created"]["looks"] == 1 and stats["responses"].get("404") is None


async def test_an_interrupted_wait_resumes_on_the_upload_the_ledger_kept(tmp_path):
    """Footage still processing when a run stops is waited on by the next run, not uploaded again."""
    from batchavatars.client import HeyGenClient
    from batchavatars.events import silent
    from batchavatars.ledger import Ledger
    from batchavatars.requester import Requester
    from batchavatars.retry import RetryPolicy
    from batchavatars.settings import DEFAULTS
    from batchavatars.uploads import AssetStore

    file = tmp_path / footage(tmp_path / "ana.mp4", 33_000_000, 1)
    ledger = Ledger(tmp_path / "l.db")
    with serve(SandboxConfig(rate_limit=None, asset_processing_seconds=1.5)) as sb:
        async with HeyGenClient(sb.url, "k") as client:
            first = AssetStore(ledger, client, Requester.alone(RetryPolicy(DEFAULTS.max_attempts), silent))
            with anyio.move_on_after(0.8):  # the run stops while the footage processes
                await first.asset_id(str(file))
            second = AssetStore(ledger, client, Requester.alone(RetryPolicy(DEFAULTS.max_attempts), silent))
            asset = await second.asset_id(str(file))
        stats = sb.stats()
    assert first.uploaded == 1 and second.uploaded == 0 and stats["uploads"]["direct"] == 1
    assert asset.startswith("asset_")


async def test_ids_in_url_paths_are_escaped():
    from batchavatars.client import HeyGenClient

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(200, json={"data": {"id": "x", "status": "completed"}})

    async with HeyGenClient("https://api.example", "k", transport=httpx.MockTransport(handler)) as client:
        await client.get_look("look/../../v3/users/me?x=1")
        await client.get_group("group#1")
    assert seen == ["/v3/avatars/looks/look%2F..%2F..%2Fv3%2Fusers%2Fme%3Fx%3D1", "/v3/avatars/group%231"]
