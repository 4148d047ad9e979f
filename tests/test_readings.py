"""The client against every documented reading of HeyGen's API (API notes, "What the first notes
left out"), each a sandbox setting: consent on the look, the group or both; list rows without
`status`; the 404 codes in use; another account's group; uploads at HeyGen's limits; a null
avatar_item. Over real loopback HTTP, asserting what the server saw."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import pytest

import batchavatars
from batchavatars.sandbox import SandboxConfig, serve

pytestmark = pytest.mark.anyio

FAST = dict(rate=0, api_key="test-key")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "team.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def sparse(path: Path, size: int) -> Path:
    with open(path, "wb") as fh:
        fh.seek(size - 1)
        fh.write(b"\1")
    return path


TWINS = """\
version: 1
avatars:
  - {key: ana, type: digital_twin, name: Ana, file: "https://cdn.example.com/ana.mp4"}
  - {key: ana-studio, type: digital_twin, name: Ana studio, file: "https://cdn.example.com/ana2.mp4", group: ana}
  - {key: ben, type: digital_twin, name: Ben, file: "https://cdn.example.com/ben.mp4"}
looks:
  - {key: ana-office, avatar: ana, name: Ana office, prompt: In an office}
"""


@pytest.mark.parametrize("signal", ["look", "group", "both"])
@pytest.mark.slow
async def test_twins_wait_for_consent_wherever_it_is_signalled_and_finish_the_next_run(tmp_path, signal):
    manifest = write(tmp_path, TWINS)
    cfg = SandboxConfig(training_seconds=0.05, rate_limit=None, consent_signal=signal, consent_approval_seconds=None)
    with serve(cfg) as sb:
        first = await batchavatars.arun(manifest, base_url=sb.url, wait_timeout=1.0, **FAST)
        states = {r.key: r for r in first.records}
        assert first.exit_code == 4, first.counts
        assert {states[k].status for k in ("ana", "ana-studio", "ben")} == {"awaiting_consent"}
        assert states["ana-office"].status == "pending"  # never made from a twin nobody consented to
        assert states["ana"].consent_url and states["ana-studio"].consent_url == states["ana"].consent_url
        assert sb.stats()["consent_requests"]["total"] == 2  # one per group, not per twin
        sb.configure(consent_approval_seconds=0.05)  # the people recorded their consent
        second = await batchavatars.arun(manifest, base_url=sb.url, **FAST)
        stats = sb.stats()
    assert second.exit_code == 0, second.counts
    assert stats["consent_requests"]["total"] == 2 and stats["created"]["looks"] == 4
    assert "400" not in stats["responses"]


def looks_roster(n: int) -> str:
    lines = ["version: 1", "avatars:"]
    lines += [f'  - {{key: p{i}, type: photo, name: P{i}, file: "https://cdn.example.com/{i}.jpg"}}' for i in range(n)]
    lines.append("looks:")
    for i in range(n):
        lines.append(f"  - {{key: p{i}-a, avatar: p{i}, name: P{i} a, prompt: Office}}")
        lines.append(f"  - {{key: p{i}-b, avatar: p{i}-a, name: P{i} b, prompt: Night}}")
    return "\n".join(lines) + "\n"


async def test_list_rows_without_status_are_confirmed_and_no_look_is_sent_early(tmp_path):
    manifest = write(tmp_path, looks_roster(6))
    cfg = SandboxConfig(training_seconds=0.3, rate_limit=None, list_status="omit")
    with serve(cfg) as sb:
        result = await batchavatars.arun(manifest, base_url=sb.url, **FAST)
        stats = sb.stats()
    assert result.exit_code == 0 and result.counts == {"succeeded": 18}
    assert "400" not in stats["responses"]  # no look was made from a parent still training
    assert stats["requests"].get("GET /v3/avatars/looks/{look_id}", 0) > 0  # unknown rows were confirmed


@pytest.mark.parametrize("code", ["not_found", "avatar_not_found", "resource_not_found"])
@pytest.mark.slow
async def test_a_deleted_look_and_a_foreign_group_fail_their_items_only(tmp_path, code):
    text = looks_roster(3).replace(
        "looks:",
        '  - {key: stranger, type: photo, name: S, file: "https://cdn.example.com/s.jpg", '
        "avatar_group_id: group_foreign}\nlooks:",
    )
    manifest = write(tmp_path, text)
    cfg = SandboxConfig(training_seconds=1.0, rate_limit=None, not_found_code=code, foreign_groups=["group_foreign"])
    created: list[str] = []

    def on_event(event: str, **fields: object) -> None:
        if event == "item_created" and fields.get("key") == "p2":
            created.append(str(fields["look_id"]))

    with serve(cfg) as sb:

        async def delete_p2_while_it_trains() -> None:
            while not created:
                await anyio.sleep(0.02)
            async with httpx.AsyncClient(base_url=sb.url, headers={"X-Api-Key": "k"}) as api:
                assert (await api.delete(f"/v3/avatars/looks/{created[0]}")).status_code == 200

        async with anyio.create_task_group() as tg:
            tg.start_soon(delete_p2_while_it_trains)
            result = await batchavatars.arun(manifest, base_url=sb.url, on_event=on_event, **FAST)
    states = {r.key: r for r in result.records}
    assert result.exit_code == 1, result.counts  # items failed: not 3 (the key is fine), not 4
    assert states["p2"].status == "failed" and states["p2"].error_code == "look_deleted"
    assert states["stranger"].status == "failed" and states["stranger"].error_code == "resource_access_denied"
    assert states["stranger"].error_param == "avatar_group_id"
    assert {states[k].status for k in ("p2-a", "p2-b")} == {"blocked"}
    assert all(states[k].status == "succeeded" for k in ("p0", "p0-a", "p0-b", "p1", "p1-a", "p1-b"))


@pytest.mark.slow
async def test_direct_uploads_at_heygens_limits(tmp_path):
    sparse(tmp_path / "ana.mp4", 40_000_000)  # direct upload, under the cap
    sparse(tmp_path / "long.mp4", 60_000_000)  # over the 50 MB cap of this account
    manifest = write(
        tmp_path,
        "version: 1\navatars:\n"
        "  - {key: ana, type: digital_twin, name: Ana, file: ./ana.mp4}\n"
        "  - {key: long, type: digital_twin, name: Long, file: ./long.mp4}\n",
    )
    cfg = SandboxConfig(
        training_seconds=0.05,
        rate_limit=None,
        consent_approval_seconds=0.05,
        complete_conflicts=2,
        asset_processing_seconds=0.5,
        direct_upload_max_bytes=50_000_000,
    )
    with serve(cfg) as sb:
        result = await batchavatars.arun(manifest, base_url=sb.url, **FAST)
        stats = sb.stats()
    states = {r.key: r for r in result.records}
    assert states["ana"].status == "succeeded", states["ana"].error_message
    assert states["long"].status == "failed" and states["long"].error_code == "file_too_large"
    assert "50,000,000" in states["long"].error_message and "long.mp4" in states["long"].error_message
    assert stats["uploads"]["direct"] == 1  # the long file's bytes were never sent
    # the only refusal is the oversized file's ticket: no create met an asset still processing
    assert stats["complete_conflicts"] == 2 and stats["responses"].get("400") == 1


async def test_a_null_avatar_item_is_found_by_name_in_its_group(tmp_path):
    manifest = write(tmp_path, looks_roster(2))
    with serve(SandboxConfig(training_seconds=0.05, rate_limit=None, null_avatar_item=1.0)) as sb:
        result = await batchavatars.arun(manifest, base_url=sb.url, **FAST)
        stats = sb.stats()
    assert result.exit_code == 0 and stats["created"]["looks"] == 6 and stats["duplicates"] == 0
    records = {r.key: r for r in result.records}
    assert records["p0-b"].group_id == records["p0"].group_id


async def test_a_ticket_whose_max_bytes_is_under_the_file_fails_it_before_a_byte_is_sent(tmp_path):
    """The other reading: the ticket is issued with its cap, and the client checks it (in-process)."""
    from batchavatars.client import HeyGenClient
    from batchavatars.events import silent
    from batchavatars.ledger import Ledger
    from batchavatars.requester import ItemFailed, Requester
    from batchavatars.retry import RetryPolicy
    from batchavatars.settings import DEFAULTS
    from batchavatars.uploads import AssetStore

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        ticket = {
            "asset_id": "a1",
            "upload_url": "https://storage.example/u",
            "upload_headers": {},
            "max_bytes": 200_000_000,
        }
        return httpx.Response(200, json={"data": ticket})

    footage = sparse(tmp_path / "long.mp4", 250_000_000)
    async with HeyGenClient("https://api.example", "k", transport=httpx.MockTransport(handler)) as client:
        store = AssetStore(
            Ledger(tmp_path / "l.db"), client, Requester.alone(RetryPolicy(DEFAULTS.max_attempts), silent)
        )
        with pytest.raises(ItemFailed, match="250,000,000 bytes is over HeyGen's upload limit of 200,000,000") as info:
            await store.asset_id(str(footage))
    assert info.value.code == "file_too_large"
    assert seen == ["POST /v3/assets/direct-uploads"]  # no PUT, no complete


async def test_a_used_up_quota_is_named_stops_new_work_and_the_next_run_makes_the_rest(tmp_path):
    """429 quota_exceeded is not a rate limit: named in the events and in `status`, no new work once
    its attempts are out (one here, not its half-hour of back-off), and nothing made twice after."""
    from batchavatars.presentation.summary import advice

    manifest = write(tmp_path, looks_roster(2))
    events: list[tuple[str, dict]] = []
    with serve(SandboxConfig(training_seconds=0.05, rate_limit=None, quota_exceeded=True)) as sb:
        first = await batchavatars.arun(
            manifest,
            base_url=sb.url,
            **{**FAST, "max_attempts": 1, "concurrency": 1},
            on_event=lambda event, **f: events.append((event, f)),
        )
        refused = sb.stats()["rate_limited"]["quota"]
        sb.configure(quota_exceeded=False)
        second = await batchavatars.arun(manifest, base_url=sb.url, **FAST)
        stats = sb.stats()
    assert first.stopped == "quota" and "usage quota is used up" in (first.stop_message or "")
    assert refused == 1  # one creation met the quota; the rest were never sent
    assert [f["key"] for e, f in events if e == "quota_exceeded"] == ["p0"]
    unanswered = [r for r in first.records if r.status == "unanswered"]
    assert [(r.key, r.error_code) for r in unanswered] == [("p0", "quota_exceeded")]
    assert "usage quota for this account is used up" in advice(unanswered[0])
    assert second.exit_code == 0 and stats["created"]["looks"] == 6 and stats["duplicates"] == 0
