"""A sandbox's world in a file: a sandbox started again on the same file carries on where the
last one stopped, as a HeyGen account does. Over real loopback HTTP, the way a client sees it."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest

from batchavatars.sandbox import SandboxConfig, SandboxHandle, serve, serve_in_process, world_path
from batchavatars.sandbox._assets import Fates, asset_record
from batchavatars.sandbox._avatars import group_record, look_record
from batchavatars.sandbox._idempotency import InFlight
from batchavatars.sandbox._state import SandboxState
from batchavatars.sandbox._validate import parse_create
from batchavatars.sandbox._world import decode, encode

PNG = {"type": "url", "url": "https://example.com/ann.png"}
MP4 = {"type": "url", "url": "https://example.com/bob.mp4"}
PHOTO = {"type": "photo", "name": "Ann", "file": PNG}
TWIN = {"type": "digital_twin", "name": "Bob", "file": MP4}
FAST = {"rate_limit": None, "training_seconds": 0.05}


@contextmanager
def sandbox(world: Path | None, **config: Any) -> Iterator[tuple[SandboxHandle, httpx.Client]]:
    with serve(SandboxConfig(**{**FAST, **config}), world=world) as sb, api(sb) as client:
        yield sb, client


def api(sb: SandboxHandle) -> httpx.Client:
    return httpx.Client(base_url=sb.url, headers={"X-Api-Key": "test-key"}, trust_env=False, timeout=5.0)


def create(client: httpx.Client, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    response = client.post("/v3/avatars", json=body, headers={"Idempotency-Key": key} if key else {})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def look_of(client: httpx.Client, look_id: str) -> dict[str, Any]:
    response = client.get(f"/v3/avatars/looks/{look_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def wait_for_status(client: httpx.Client, look_id: str, status: str, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while look_of(client, look_id)["status"] != status:
        assert time.monotonic() < deadline, f"{look_id} never became {status}"
        time.sleep(0.02)


@pytest.fixture
def world(tmp_path: Path) -> Path:
    return world_path(tmp_path / "team.sandbox.ledger.db")


# --- carrying on ----------------------------------------------------------------------------


def test_the_world_file_is_the_ledgers_name_plus_world_beside_it(tmp_path: Path) -> None:
    assert world_path(tmp_path / "team.sandbox.ledger.db") == tmp_path / "team.sandbox.ledger.db.world"
    assert world_path("team.sandbox.ledger.db") == Path("team.sandbox.ledger.db.world")


def test_a_look_made_before_a_restart_is_there_after_it_and_can_be_built_on(world: Path) -> None:
    with sandbox(world) as (sb, client):
        first = sb.world()
        assert first["id"].startswith("world_") and len(first["id"]) == len("world_") + 16
        assert first == {"id": first["id"], "path": str(world), "loaded": False, "reason": "no world file yet"}
        made = create(client, PHOTO)
        look_id, group_id = made["avatar_item"]["id"], made["avatar_group"]["id"]
        wait_for_status(client, look_id, "completed")
    with sandbox(world) as (sb, client):
        assert sb.world() == {"id": first["id"], "path": str(world), "loaded": True, "reason": None}
        look = look_of(client, look_id)
        assert look["status"] == "completed" and look["group_id"] == group_id
        group = client.get(f"/v3/avatars/{group_id}").json()["data"]
        assert group["looks_count"] == 1 and group["name"] == "Ann"
        child = create(client, {"type": "prompt", "name": "Ann 2", "prompt": "in a blue suit", "avatar_id": look_id})
        assert child["avatar_item"]["group_id"] == group_id and child["avatar_group"]["looks_count"] == 2
        stats = sb.stats()  # this start's counters only
        assert stats["created"] == {"looks": 1, "groups": 0, "assets": 0} and stats["requests_total"] == 3


def test_training_under_way_when_the_sandbox_stopped_goes_on_by_the_wall_clock(world: Path) -> None:
    with sandbox(world, training_seconds=1.0) as (_, client):
        look = create(client, PHOTO)["avatar_item"]
        assert look["status"] == "processing"
    time.sleep(1.2)
    with sandbox(world) as (sb, client):
        assert look_of(client, look["id"])["status"] == "completed"
        assert sb.stats()["training_now"] == 0


def test_training_still_under_way_counts_against_the_cap_after_a_restart(world: Path) -> None:
    with sandbox(world, training_seconds=30.0) as (_, client):
        look = create(client, PHOTO)["avatar_item"]
    with sandbox(world, max_concurrent_training=1) as (sb, client):
        assert look_of(client, look["id"])["status"] == "processing"
        assert sb.stats()["training_now"] == 1
        refused = client.post("/v3/avatars", json={**PHOTO, "name": "Cy"})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 20


def test_consent_requested_before_a_restart_is_approved_on_time_after_it(world: Path) -> None:
    with sandbox(world, consent_approval_seconds=1.0) as (_, client):
        made = create(client, TWIN)
        group_id = made["avatar_group"]["id"]
        consent = client.post(f"/v3/avatars/{group_id}/consent", json={})
        assert consent.status_code == 200 and consent.json()["data"]["avatar_group"]["consent_status"] == "pending"
    time.sleep(1.2)
    with sandbox(world, consent_approval_seconds=1.0) as (_, client):
        assert client.get(f"/v3/avatars/{group_id}").json()["data"]["consent_status"] == "approved"
        wait_for_status(client, made["avatar_item"]["id"], "completed")


def test_an_answer_given_under_a_key_before_a_restart_is_replayed_after_it(world: Path) -> None:
    with sandbox(world) as (_, client):
        first = create(client, PHOTO, key="ba1.ann.g0")
    with sandbox(world) as (sb, client):
        again = client.post("/v3/avatars", json=PHOTO, headers={"Idempotency-Key": "ba1.ann.g0"})
        assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json()["data"]["avatar_item"]["id"] == first["avatar_item"]["id"]
        assert sb.stats()["created"]["looks"] == 0 and sb.stats()["idempotent_replays"] == 1
        assert len(client.get("/v3/avatars").json()["data"]) == 1  # no duplicate


def test_answers_past_the_replay_window_are_not_kept(world: Path) -> None:
    with sandbox(world, replay_window_seconds=0.2) as (_, client):
        first = create(client, PHOTO, key="k-old")
    time.sleep(0.3)
    with sandbox(world, replay_window_seconds=0.2) as (_, client):
        again = create(client, PHOTO, key="k-old")  # the key is new again: the work is done again
        assert again["avatar_item"]["id"] != first["avatar_item"]["id"]
    (replay,) = json.loads(world.read_bytes())["replays"]  # the old answer is gone, the new one kept
    assert replay["key"] == "k-old" and again["avatar_item"]["id"] in replay["body"]


def test_a_key_in_flight_when_the_sandbox_stopped_is_not_kept(world: Path) -> None:
    slow = {"fault_slow": 1.0, "slow_seconds": 30.0, "fault_routes": ["POST /v3/avatars"]}
    with sandbox(world, **slow) as (sb, client):

        def create_slowly() -> None:
            with api(sb) as own, suppress(httpx.HTTPError):  # cut off when the sandbox stops
                own.post("/v3/avatars", json=PHOTO, headers={"Idempotency-Key": "k-1"})

        made = threading.Thread(target=create_slowly)
        made.start()
        time.sleep(0.3)
        in_flight = client.post("/v3/avatars", json=PHOTO, headers={"Idempotency-Key": "k-1"})
        assert in_flight.status_code == 409  # the key is in flight: now something else changes the world
        upload = client.post("/v3/assets", files={"file": ("ann.png", b"\x89PNG-bytes", "image/png")})
        assert upload.status_code == 200
        assert b"k-1" not in world.read_bytes()
    made.join()
    with sandbox(world) as (_, client):
        retried = client.post("/v3/avatars", json=PHOTO, headers={"Idempotency-Key": "k-1"})
        assert retried.status_code == 200 and "Idempotent-Replayed" not in retried.headers


def test_renames_deletes_uploads_and_paging_tokens_survive_a_restart(world: Path) -> None:
    with sandbox(world) as (_, client):
        kept = create(client, PHOTO)["avatar_item"]
        gone = create(client, {**PHOTO, "name": "Gus"})["avatar_item"]
        third = create(client, {**PHOTO, "name": "Hal"})["avatar_item"]
        assert client.patch(f"/v3/avatars/looks/{kept['id']}", json={"name": "Ann Renamed"}).status_code == 200
        assert client.delete(f"/v3/avatars/looks/{gone['id']}").status_code == 200
        asset = client.post("/v3/assets", files={"file": ("ann.png", b"\x89PNG-bytes", "image/png")}).json()["data"]
        page = client.get("/v3/avatars/looks", params={"limit": 1}).json()
        assert page["data"][0]["id"] == kept["id"] and page["has_more"]
    with sandbox(world) as (_, client):
        assert look_of(client, kept["id"])["name"] == "Ann Renamed"
        assert client.get(f"/v3/avatars/looks/{gone['id']}").status_code == 404
        assert client.get(f"/v3/avatars/{gone['group_id']}").status_code == 404
        metadata = client.get(f"/v3/assets/{asset['asset_id']}").json()["data"]
        assert metadata["name"] == "ann.png" and metadata["size_bytes"] == len(b"\x89PNG-bytes")
        rest = client.get("/v3/avatars/looks", params={"limit": 1, "token": page["next_token"]}).json()
        assert [row["id"] for row in rest["data"]] == [third["id"]] and not rest["has_more"]
        body = {**PHOTO, "name": "Ida", "file": {"type": "asset_id", "asset_id": asset["asset_id"]}}
        assert create(client, body)["avatar_item"]["status"] == "processing"


def test_a_direct_upload_ticketed_and_put_before_a_restart_completes_after_it(world: Path) -> None:
    content = b"\x89PNG" + b"x" * 100
    with sandbox(world) as (_, client):
        ticket = client.post(
            "/v3/assets/direct-uploads",
            json={"filename": "ann.png", "content_type": "image/png", "size_bytes": len(content)},
            headers={"Idempotency-Key": "ticket-1"},
        ).json()["data"]
        put = httpx.put(ticket["upload_url"], content=content, headers=ticket["upload_headers"], timeout=5)
        assert put.status_code == 200
    with sandbox(world) as (_, client):
        done = client.post(
            f"/v3/assets/{ticket['asset_id']}/complete", json={"checksum_sha256": hashlib.sha256(content).hexdigest()}
        )
        assert done.status_code == 200, done.text
        statuses = client.get("/v3/assets/statuses", params={"asset_ids": ticket["asset_id"]}).json()["data"]
        assert statuses[0]["status"] == "completed"


def test_config_and_stats_come_from_each_start_not_the_world(world: Path) -> None:
    with sandbox(world, credits=1) as (_, client):
        create(client, PHOTO)
        assert client.post("/v3/avatars", json={**PHOTO, "name": "Cy"}).status_code == 402
    with sandbox(world, credits=1, training_seconds=7.0) as (sb, client):
        assert sb.config()["credits"] == 1 and sb.config()["training_seconds"] == 7.0
        assert sb.stats()["requests_total"] == 0 and sb.stats()["responses"] == {}
        assert create(client, {**PHOTO, "name": "Cy"})["avatar_item"]["status"] == "processing"


# --- the file is written before the answer ------------------------------------------------


def test_a_creation_answered_just_before_a_kill_9_is_in_the_next_world(world: Path) -> None:
    script = textwrap.dedent(f"""
        import time
        from batchavatars.sandbox import SandboxConfig, serve
        with serve(SandboxConfig(rate_limit=None), world={str(world)!r}) as sb:
            print(sb.url, flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=url, headers={"X-Api-Key": "k"}, trust_env=False, timeout=5) as client:
            made = create(client, PHOTO, key="ba1.ann.g0")
        proc.send_signal(signal.SIGKILL)  # at once: nothing gets to save on the way out
    finally:
        proc.kill()
        assert proc.wait(timeout=10) == -signal.SIGKILL
    with sandbox(world) as (sb, client):
        assert sb.world()["loaded"]
        assert look_of(client, made["avatar_item"]["id"])["name"] == "Ann"
        replay = client.post("/v3/avatars", json=PHOTO, headers={"Idempotency-Key": "ba1.ann.g0"})
        assert replay.headers["Idempotent-Replayed"] == "true"
    assert not list(world.parent.glob("*.tmp"))  # no temporary file left behind


def test_serve_in_process_keeps_a_world_too(world: Path) -> None:
    with serve_in_process(SandboxConfig(**FAST), world=world) as sb, api(sb) as client:
        look_id = create(client, PHOTO)["avatar_item"]["id"]
        world_id = sb.world()["id"]
    with sandbox(world) as (sb, client):
        assert sb.world()["id"] == world_id and look_of(client, look_id)["name"] == "Ann"


# --- new worlds -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x00\x01 not json at all", "the world file is corrupt (not JSON"),
        (b'{"kind": "batchavatars sandbox world", "format": 1, "id": "world_0"}', "the world file is corrupt ("),
        (b'["a", "list"]', "the world file is corrupt (not a sandbox world)"),
        (b'{"kind": "batchavatars sandbox world", "format": 999}', "the world file was written by another version"),
    ],
)
def test_an_unusable_world_file_starts_a_new_world_saying_why(world: Path, content: bytes, reason: str) -> None:
    world.write_bytes(content)
    with sandbox(world) as (sb, client):
        told = sb.world()
        assert not told["loaded"] and told["reason"].startswith(reason) and told["id"] != "world_0"
        look_id = create(client, PHOTO)["avatar_item"]["id"]
    with sandbox(world) as (sb, client):  # the new world was written over the old file
        assert sb.world()["id"] == told["id"] and sb.world()["loaded"]
        assert look_of(client, look_id)["name"] == "Ann"


def test_a_world_file_cut_short_is_corrupt_not_half_loaded(world: Path) -> None:
    with sandbox(world) as (_, client):
        create(client, PHOTO)
    whole = world.read_bytes()
    world.write_bytes(whole[: len(whole) // 2])
    with sandbox(world) as (sb, client):
        assert sb.world()["reason"].startswith("the world file is corrupt")
        assert client.get("/v3/avatars/looks").json()["data"] == []


def test_a_new_world_is_written_at_once(world: Path) -> None:
    with sandbox(world) as (sb, _):
        saved = json.loads(world.read_bytes())
        assert saved["id"] == sb.world()["id"] and saved["avatars"]["looks"] == []


def test_without_a_world_nothing_is_written_and_the_sandbox_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with sandbox(None) as (sb, client):
        create(client, PHOTO, key="k-1")
        sb.reset()
        assert sb.world() == {"id": None, "path": None, "loaded": False, "reason": None}
    assert list(tmp_path.iterdir()) == []


def test_reset_forgets_the_world_and_starts_a_new_one_under_a_new_id(world: Path) -> None:
    with sandbox(world) as (sb, client):
        old = sb.world()["id"]
        create(client, PHOTO, key="k-1")
        sb.reset()
        told = sb.world()
        assert told["id"] != old and not told["loaded"] and "reset" in told["reason"]
        assert json.loads(world.read_bytes())["id"] == told["id"]
    with sandbox(world) as (sb, client):
        assert sb.world()["id"] == told["id"]
        assert client.get("/v3/avatars/looks").json()["data"] == []
        assert (
            "Idempotent-Replayed"
            not in client.post("/v3/avatars", json=PHOTO, headers={"Idempotency-Key": "k-1"}).headers
        )


# --- the encoding ---------------------------------------------------------------------------


def test_each_object_saved_again_is_its_json_as_it_is_now_not_as_it_was() -> None:
    """Objects keep their JSON between saves; every change must still reach the file."""
    state = SandboxState(SandboxConfig(consent_approval_seconds=5.0), clock=time.time)
    avatars = state.avatars

    def saved_as_now() -> None:
        saved = json.loads(encode("world_x", state))
        assert saved["avatars"]["groups"] == [group_record(group) for group in avatars.groups]
        assert saved["avatars"]["looks"] == [look_record(look) for look in avatars.looks]
        assert saved["assets"]["assets"] == [asset_record(asset) for asset in state.assets._assets.values()]

    looks = []
    for i in range(4):
        spec = parse_create({**(TWIN if i % 2 else PHOTO), "name": f"P{i}"})
        looks.append(avatars.create(spec, None, duration=1.0, doomed=False, gate=True, now=state.clock()))
        saved_as_now()
    avatars.rename(looks[0], "P0 renamed")
    saved_as_now()
    avatars.request_consent(looks[1].group, state.clock(), 5.0)
    saved_as_now()
    state.configure({"consent_approval_seconds": 0.0})  # re-times the approval, and the look's training
    saved_as_now()
    avatars.delete_look(looks[2])
    saved_as_now()
    asset = state.assets.add_direct(
        "image/png", "a.png", "image/png", 3, None, Fates(), expires_at=state.clock() + 60, max_bytes=10
    )
    saved_as_now()
    asset.size_bytes, asset.sha256 = 3, "0" * 64  # as the storage PUT sets them
    saved_as_now()
    asset.start_processing(state.clock(), 0.0)  # as /complete does
    saved_as_now()

    now, scope = state.clock(), ("POST", "/v3/avatars", "k")
    state.idempotency.record(scope, 200, b'{"data":"\xff\xfe"}', "application/json", now)  # not UTF-8
    restored = decode(encode("world_x", state))
    replay = restored.idempotency.lookup(scope, now, 10.0)
    assert replay is not None and not isinstance(replay, InFlight) and replay.body == b'{"data":"\xff\xfe"}'
    assert [look.name for look in restored.avatars.looks] == ["P0 renamed", "P1", "P2", "P3"]
    back = restored.assets.get(asset.id, now)
    assert back is not None and asset_record(back) == asset_record(asset)
