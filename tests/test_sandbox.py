"""The HeyGen v3 sandbox, exercised over real loopback HTTP the way a client sees it."""

from __future__ import annotations

import base64
import email.utils
import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchavatars.sandbox import SandboxConfig, SandboxHandle, serve, serve_in_process
from batchavatars.sandbox._multipart import boundary_of, read_file_field
from batchavatars.sandbox._training import TrainingTracker

PNG = {"type": "url", "url": "https://example.com/ann.png"}
MP4 = {"type": "url", "url": "https://example.com/ann.mp4"}
PHOTO = {"type": "photo", "name": "Ann", "file": PNG}
TWIN = {"type": "digital_twin", "name": "Bob", "file": MP4}
PROMPT = {"type": "prompt", "name": "Cat", "prompt": "a friendly presenter in a blue suit"}
FAST = {"rate_limit": None, "training_seconds": 0.2}


@contextmanager
def sandbox(**config: Any) -> Iterator[tuple[SandboxHandle, httpx.Client]]:
    with serve(SandboxConfig(**{**FAST, **config})) as sb, api(sb) as client:
        yield sb, client


def api(sb: SandboxHandle, key: str | None = "test-key", timeout: float = 5.0) -> httpx.Client:
    headers = {"X-Api-Key": key} if key else {}
    return httpx.Client(base_url=sb.url, headers=headers, trust_env=False, timeout=timeout)


def create(client: httpx.Client, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    return client.post("/v3/avatars", json=body, headers={"Idempotency-Key": key} if key else {})


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"] and error["doc_url"].startswith("https://")
    return error


def wait_for(predicate: Any, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


# --- creation -------------------------------------------------------------------------------


def test_each_type_creates_a_look_and_a_group_with_the_documented_fields() -> None:
    with sandbox() as (sb, client):
        shapes = {}
        for body in (PHOTO, TWIN, PROMPT, {**TWIN, "type": "video", "name": "Vic"}):
            response = create(client, body)
            assert response.status_code == 200, response.text
            data = response.json()["data"]
            look, group = data["avatar_item"], data["avatar_group"]
            assert set(look) == {
                "id",
                "name",
                "avatar_type",
                "group_id",
                "status",
                "error",
                "preview_image_url",
                "supported_api_engines",
                "default_voice_id",
                "preferred_orientation",
                "tags",
            }
            assert set(group) == {"id", "name", "looks_count", "created_at", "consent_status", "status", "error"}
            assert look["id"].startswith("look_") and group["id"].startswith("group_")
            assert look["group_id"] == group["id"] and look["name"] == body["name"] == group["name"]
            assert look["preview_image_url"] == f"{sb.url}/_sandbox/previews/{look['id']}.svg" and look["tags"] == []
            assert look["supported_api_engines"] and look["error"] is None and group["error"] is None
            assert group["looks_count"] == 1 and isinstance(group["created_at"], int)
            assert abs(group["created_at"] - time.time()) < 60
            shapes[body["name"]] = (look["avatar_type"], look["status"], group["status"], group["consent_status"])
    assert shapes == {
        "Ann": ("photo_avatar", "processing", "processing", None),
        "Bob": ("digital_twin", "pending_consent", "pending_consent", None),
        "Cat": ("photo_avatar", "processing", "processing", None),
        "Vic": ("digital_twin", "pending_consent", "pending_consent", None),  # "video" is an alias
    }


def test_a_look_joins_an_existing_group_and_reads_return_the_same_shapes() -> None:
    with sandbox() as (sb, client):
        first = create(client, PHOTO).json()["data"]
        group_id = first["avatar_group"]["id"]
        second = create(client, {**PHOTO, "name": "Ann, office", "avatar_group_id": group_id}).json()["data"]
        assert second["avatar_group"]["id"] == group_id and second["avatar_group"]["looks_count"] == 2
        assert second["avatar_group"]["name"] == "Ann"
        look = client.get(f"/v3/avatars/looks/{second['avatar_item']['id']}").json()["data"]
        assert look == second["avatar_item"]
        group = client.get(f"/v3/avatars/{group_id}").json()["data"]
        assert group["looks_count"] == 2 and group["id"] == group_id
        assert sb.stats()["created"] == {"looks": 2, "groups": 1, "assets": 0}


BAD_BODIES = [
    ({"name": "x", "file": PNG}, 400, "validation_error", "type"),
    ({**PHOTO, "type": "selfie"}, 400, "invalid_parameter", "type"),
    ({"type": "photo", "file": PNG}, 400, "validation_error", "name"),
    ({**PHOTO, "name": "  "}, 400, "validation_error", "name"),
    ({"type": "photo", "name": "x"}, 400, "validation_error", "file"),
    ({"type": "prompt", "name": "x"}, 400, "validation_error", "prompt"),
    ({**PROMPT, "prompt": "x" * 1001}, 400, "invalid_parameter", "prompt"),
    ({**PHOTO, "file": {"type": "url", "url": "ftp://example.com/a.png"}}, 400, "invalid_parameter", "file.url"),
    ({**PHOTO, "file": {"type": "url"}}, 400, "validation_error", "file.url"),
    ({**PHOTO, "file": {"type": "s3", "key": "a"}}, 400, "invalid_parameter", "file.type"),
    ({**PHOTO, "file": "https://example.com/a.png"}, 400, "invalid_parameter", "file"),
    (
        {**PHOTO, "file": {"type": "base64", "media_type": "image/png", "data": "not base64!"}},
        400,
        "invalid_parameter",
        "file.data",
    ),
    (
        {**PHOTO, "file": {"type": "base64", "media_type": "video/mp4", "data": "AAAA"}},
        400,
        "invalid_parameter",
        "file.media_type",
    ),
    (
        {**TWIN, "file": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
        400,
        "invalid_parameter",
        "file.media_type",
    ),
    ({**PROMPT, "reference_images": [PNG] * 4}, 400, "invalid_parameter", "reference_images"),
    (
        {**PROMPT, "reference_images": [PNG, {"type": "url", "url": "nope"}]},
        400,
        "invalid_parameter",
        "reference_images[1].url",
    ),
    ({**PHOTO, "avatar_id": "look_123"}, 400, "invalid_parameter", "avatar_id"),
    ({**PHOTO, "name": "Ann [reject]"}, 400, "invalid_parameter", "name"),
    ({**PHOTO, "file": {"type": "asset_id", "asset_id": "asset_missing"}}, 404, "not_found", "file.asset_id"),
    ({**PHOTO, "avatar_group_id": "group_missing"}, 404, "not_found", "avatar_group_id"),
    ({**PROMPT, "avatar_id": "look_missing"}, 404, "not_found", "avatar_id"),
]


@pytest.mark.parametrize(("body", "status", "code", "param"), BAD_BODIES)
def test_invalid_bodies_are_refused_with_the_error_envelope(
    body: dict, status: int, code: str, param: str, shared: SandboxHandle
) -> None:
    with api(shared) as client:
        error = error_of(create(client, body), status, code)
    assert error["param"] == param


@pytest.fixture(scope="module")
def shared() -> Iterator[SandboxHandle]:
    """One sandbox for read-only checks that create nothing."""
    with serve(SandboxConfig(rate_limit=None)) as sb:
        yield sb


def test_malformed_json_and_base64_photo_are_handled(shared: SandboxHandle) -> None:
    with api(shared) as client:
        response = client.post("/v3/avatars", content=b"{nope", headers={"Content-Type": "application/json"})
        error_of(response, 400, "validation_error")
        error_of(client.post("/v3/avatars", json=[PHOTO]), 400, "validation_error")
        ok = create(
            client,
            {
                **PHOTO,
                "name": "b64",
                "file": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(b"png").decode()},
            },
        )
        assert ok.status_code == 200


def test_unknown_routes_are_404_in_the_envelope(shared: SandboxHandle) -> None:
    with api(shared) as client:
        error_of(client.get("/v3/nothing"), 404, "not_found")
        error_of(client.put("/v3/avatars"), 404, "not_found")
        error_of(client.get("/v3/avatars/looks/look_nope"), 404, "not_found")
        error_of(client.get("/v3/avatars/group_nope"), 404, "not_found")


# --- training, parents, consent -----------------------------------------------------------


def test_training_completes_after_training_seconds_and_fail_names_fail() -> None:
    with sandbox(training_seconds=0.3) as (sb, client):
        ok = create(client, PHOTO).json()["data"]["avatar_item"]
        bad = create(client, {**PHOTO, "name": "Ann [fail]"}).json()["data"]["avatar_item"]
        assert ok["status"] == bad["status"] == "processing"
        assert sb.stats()["training_now"] == 2
        time.sleep(0.35)
        ok = client.get(f"/v3/avatars/looks/{ok['id']}").json()["data"]
        bad = client.get(f"/v3/avatars/looks/{bad['id']}").json()["data"]
        group = client.get(f"/v3/avatars/{bad['group_id']}").json()["data"]
        stats = sb.stats()
    assert ok["status"] == "completed" and ok["error"] is None
    assert bad["status"] == "failed" and bad["error"]["code"] == "training_failed" and bad["error"]["message"]
    assert group["status"] == "failed" and group["error"]["code"] == "training_failed"
    assert stats["training_now"] == 0 and stats["training_peak"] == 2


def test_failure_rate_is_seeded_and_reproducible() -> None:
    def outcomes() -> list[str]:
        with sandbox(training_seconds=0.0, training_failure_rate=0.5, seed=42) as (sb, client):
            ids = [create(client, {**PHOTO, "name": f"n{i}"}).json()["data"]["avatar_item"]["id"] for i in range(12)]
            return [client.get(f"/v3/avatars/looks/{i}").json()["data"]["status"] for i in ids]

    first = outcomes()
    assert first == outcomes()
    assert {"completed", "failed"} == set(first)


def test_a_look_from_a_parent_needs_the_parent_completed_and_lands_in_its_group() -> None:
    with sandbox(training_seconds=0.3) as (sb, client):
        parent = create(client, PHOTO).json()["data"]["avatar_item"]
        child = {**PROMPT, "avatar_id": parent["id"]}
        error = error_of(create(client, child), 400, "invalid_parameter")
        assert error["param"] == "avatar_id" and "completed" in error["message"]
        time.sleep(0.35)
        made = create(client, child).json()["data"]
        assert made["avatar_item"]["group_id"] == parent["group_id"]
        assert made["avatar_group"]["looks_count"] == 2
        other = create(client, {**PHOTO, "name": "Other"}).json()["data"]["avatar_group"]["id"]
        wrong = create(client, {**child, "name": "Cat 2", "avatar_group_id": other})
        assert error_of(wrong, 400, "invalid_parameter")["param"] == "avatar_id"
        right = create(client, {**child, "name": "Cat 3", "avatar_group_id": parent["group_id"]})
        assert right.json()["data"]["avatar_item"]["group_id"] == parent["group_id"]


def test_a_failed_parent_is_never_usable() -> None:
    with sandbox(training_seconds=0.05) as (sb, client):
        parent = create(client, {**PHOTO, "name": "Ann [fail]"}).json()["data"]["avatar_item"]
        time.sleep(0.1)
        error = error_of(create(client, {**PROMPT, "avatar_id": parent["id"]}), 400, "invalid_parameter")
        assert "failed" in error["message"]


def test_digital_twin_consent_flow_then_training() -> None:
    with sandbox(training_seconds=0.5, consent_approval_seconds=0.2) as (sb, client):
        created = create(client, TWIN).json()["data"]
        look_id, group_id = created["avatar_item"]["id"], created["avatar_group"]["id"]
        assert created["avatar_group"]["consent_status"] is None
        time.sleep(0.1)
        assert client.get(f"/v3/avatars/looks/{look_id}").json()["data"]["status"] == "pending_consent"

        first = client.post(f"/v3/avatars/{group_id}/consent", json={"reroute_url": "https://example.com/done"})
        assert first.status_code == 200, first.text
        data = first.json()["data"]
        assert data["avatar_group"]["consent_status"] == "pending"
        assert data["avatar_group"]["status"] == "pending_consent"
        assert data["url"].startswith("https://sandbox.heygen.local/consent/")
        time.sleep(0.1)
        again = client.post(f"/v3/avatars/{group_id}/consent").json()["data"]
        assert again["url"] != data["url"]  # a new url, the same approval time
        time.sleep(0.15)  # 0.25 s after the first request: approved, training
        group = client.get(f"/v3/avatars/{group_id}").json()["data"]
        assert group["consent_status"] == "approved" and group["status"] == "processing"
        assert client.get(f"/v3/avatars/looks/{look_id}").json()["data"]["status"] == "processing"
        time.sleep(0.5)  # approval + training are over
        assert client.get(f"/v3/avatars/looks/{look_id}").json()["data"]["status"] == "completed"
        assert client.get(f"/v3/avatars/{group_id}").json()["data"]["status"] == "completed"
        stats = sb.stats()
    assert stats["consent_requests"] == {"total": 2, "by_group": {group_id: 2}}


def test_consent_is_only_for_digital_twins_and_validates_reroute_url() -> None:
    with sandbox() as (sb, client):
        photo_group = create(client, PHOTO).json()["data"]["avatar_group"]["id"]
        error_of(client.post(f"/v3/avatars/{photo_group}/consent"), 400, "invalid_parameter")
        twin_group = create(client, TWIN).json()["data"]["avatar_group"]["id"]
        bad = client.post(f"/v3/avatars/{twin_group}/consent", json={"reroute_url": "javascript:x"})
        assert error_of(bad, 400, "invalid_parameter")["param"] == "reroute_url"
        error_of(client.post("/v3/avatars/group_nope/consent"), 404, "not_found")
        error_of(create(client, {**TWIN, "avatar_group_id": photo_group}), 400, "invalid_parameter")


def test_an_enterprise_consent_video_needs_no_consent_page() -> None:
    with sandbox(consent_approval_seconds=None) as (sb, client):
        group_id = create(client, TWIN).json()["data"]["avatar_group"]["id"]
        data = client.post(f"/v3/avatars/{group_id}/consent", json={"consent_video": MP4}).json()["data"]
        assert "url" not in data
        assert data["avatar_group"]["consent_status"] == "approved"  # no human step to wait for
        bad = client.post(f"/v3/avatars/{group_id}/consent", json={"consent_video": {"type": "url"}})
        assert error_of(bad, 400, "validation_error")["param"] == "consent_video.url"


def test_consent_that_never_comes_until_the_setting_changes() -> None:
    with sandbox(training_seconds=0.1, consent_approval_seconds=None) as (sb, client):
        group_id = create(client, TWIN).json()["data"]["avatar_group"]["id"]
        client.post(f"/v3/avatars/{group_id}/consent")
        time.sleep(0.2)
        group = client.get(f"/v3/avatars/{group_id}").json()["data"]
        assert group["consent_status"] == "pending" and group["status"] == "pending_consent"
        sb.configure(consent_approval_seconds=0.05)  # counted from the first request: long past
        group = client.get(f"/v3/avatars/{group_id}").json()["data"]
        assert group["consent_status"] == "approved" and group["status"] == "completed"
        later = create(client, {**TWIN, "name": "Bob 2", "avatar_group_id": group_id}).json()["data"]
        assert later["avatar_item"]["status"] == "processing"  # an approved group trains at once


# --- rate limits --------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["seconds", "date"])
def test_rate_limit_answers_429_with_retry_after(style: str) -> None:
    with sandbox(rate_limit=0.5, rate_burst=2, retry_after_format=style) as (sb, client):
        assert client.get("/v3/avatars").status_code == 200
        assert client.get("/v3/avatars").status_code == 200
        limited = client.get("/v3/avatars")
        error_of(limited, 429, "rate_limit_exceeded")
        stats = sb.stats()
    value = limited.headers["Retry-After"]
    if style == "seconds":
        assert value == "2"  # one token at 0.5/s, rounded up
    else:
        wait = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        assert wait >= 1 and wait <= 3.5
    assert stats["rate_limited"] == {"rate": 1, "concurrency": 0, "burst": 0, "total": 1}


def test_control_routes_are_never_rate_limited() -> None:
    with serve(SandboxConfig(rate_limit=1)) as sb:
        for _ in range(5):
            sb.stats()


def test_the_concurrent_training_cap_answers_429_and_frees_up() -> None:
    with sandbox(training_seconds=0.5, max_concurrent_training=2) as (sb, client):
        assert create(client, PHOTO).status_code == 200
        assert create(client, {**PHOTO, "name": "two"}).status_code == 200
        capped = create(client, {**PHOTO, "name": "three"})
        error = error_of(capped, 429, "rate_limit_exceeded")
        assert "concurrent" in error["message"]
        assert capped.headers["Retry-After"] == "1"
        assert sb.stats()["created"]["looks"] == 2
        time.sleep(0.55)
        assert create(client, {**PHOTO, "name": "three"}).status_code == 200
        stats = sb.stats()
    assert stats["rate_limited"]["concurrency"] == 1 and stats["training_peak"] == 2


def test_burst_429_ignores_the_bucket() -> None:
    with sandbox(burst_429=1.0, retry_after_format="seconds") as (sb, client):
        response = client.get("/v3/avatars")
        error_of(response, 429, "rate_limit_exceeded")
        assert response.headers["Retry-After"] == "1"
        assert sb.stats()["rate_limited"]["burst"] == 1


# --- idempotency --------------------------------------------------------------------------


def test_a_repeated_key_replays_the_first_answer_exactly() -> None:
    with sandbox() as (sb, client):
        first = create(client, PHOTO, key="item-1")
        second = create(client, {**PHOTO, "name": "something else"}, key="item-1")
        assert second.status_code == first.status_code == 200
        assert second.content == first.content
        assert second.headers["Idempotent-Replayed"] == "true"
        # scope is per path: the same key elsewhere is independent
        group_id = first.json()["data"]["avatar_group"]["id"]
        look_id = first.json()["data"]["avatar_item"]["id"]
        renamed = client.patch(
            f"/v3/avatars/looks/{look_id}", json={"name": "Ann 2"}, headers={"Idempotency-Key": "item-1"}
        )
        assert renamed.status_code == 200 and renamed.json()["data"]["name"] == "Ann 2"
        error_of(
            client.post(f"/v3/avatars/{group_id}/consent", headers={"Idempotency-Key": "item-1"}),
            400,
            "invalid_parameter",
        )
        stats = sb.stats()
    assert stats["created"]["looks"] == 1 and stats["idempotent_replays"] == 1 and stats["duplicates"] == 0


def test_a_rejection_is_replayed_but_account_answers_are_not() -> None:
    with sandbox(credits=0) as (sb, client):
        error_of(create(client, PHOTO, key="k-402"), 402, "insufficient_credit")
        sb.configure(credits=1)
        assert create(client, PHOTO, key="k-402").status_code == 200  # 402 was not recorded
        rejected = create(client, {**PHOTO, "name": "x [reject]"}, key="k-400")
        assert create(client, PHOTO, key="k-400").content == rejected.content  # 400 was
        assert sb.stats()["credits_remaining"] == 0


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "é"])
def test_malformed_idempotency_keys_are_refused(key: str, shared: SandboxHandle) -> None:
    with api(shared) as client:
        response = client.post("/v3/avatars", json=PHOTO, headers={"Idempotency-Key": key.encode()})
    assert error_of(response, 400, "invalid_parameter")["param"] == "Idempotency-Key"


@pytest.mark.anyio
async def test_a_repeat_while_the_first_is_in_flight_gets_409() -> None:
    with serve(SandboxConfig(rate_limit=None, latency=0.5)) as sb:
        async with httpx.AsyncClient(base_url=sb.url, headers={"X-Api-Key": "k"}, trust_env=False) as client:
            results: dict[str, httpx.Response] = {}

            async def post(name: str, delay: float) -> None:
                await anyio.sleep(delay)
                results[name] = await client.post("/v3/avatars", json=PHOTO, headers={"Idempotency-Key": "same"})

            async with anyio.create_task_group() as tg:
                tg.start_soon(post, "first", 0.0)
                tg.start_soon(post, "second", 0.15)
            after = await client.post("/v3/avatars", json=PHOTO, headers={"Idempotency-Key": "same"})
        stats = sb.stats()
    assert results["first"].status_code == 200
    error_of(results["second"], 409, "request_in_progress")
    assert after.content == results["first"].content
    assert stats["conflicts_409"] == 1 and stats["idempotent_replays"] == 1 and stats["created"]["looks"] == 1


# --- faults -------------------------------------------------------------------------------


def test_a_lost_response_was_done_and_a_retry_with_the_key_replays_it() -> None:
    with sandbox(fault_lost_response=1.0, fault_routes=["POST /v3/avatars"]) as (sb, client):
        try:
            lost = create(client, PHOTO, key="lost-1")
            assert lost.status_code == 502
        except httpx.TransportError:
            pass
        assert sb.stats()["created"]["looks"] == 1  # the work happened
        sb.configure(fault_lost_response=0.0)
        retry = create(client, PHOTO, key="lost-1")
        assert retry.status_code == 200 and retry.headers["Idempotent-Replayed"] == "true"
        listed = client.get("/v3/avatars/looks").json()["data"]
        assert [look["id"] for look in listed] == [retry.json()["data"]["avatar_item"]["id"]]
        stats = sb.stats()
    assert stats["duplicates"] == 0 and stats["faults"]["lost_response"] == 1 and stats["idempotent_replays"] == 1


def test_a_retry_without_a_key_after_a_lost_response_is_a_duplicate() -> None:
    with sandbox(fault_lost_response=1.0, fault_routes=["POST /v3/avatars"]) as (sb, client):
        with suppress(httpx.TransportError):
            create(client, PHOTO)
        sb.configure(fault_lost_response=0.0)
        assert create(client, PHOTO).status_code == 200
        stats = sb.stats()
    assert stats["created"]["looks"] == 2 and stats["duplicates"] == 1


def test_every_kind_of_lost_response_happens_and_breaks_or_502s() -> None:
    seen = {"transport": 0, "502": 0}
    with sandbox(fault_lost_response=1.0, fault_routes=["GET /v3/avatars"], seed=1) as (sb, client):
        for _ in range(12):
            try:
                response = client.get("/v3/avatars")
                assert response.status_code == 502
                seen["502"] += 1
            except httpx.TransportError:
                seen["transport"] += 1
        assert client.get("/v3/avatars/looks").status_code == 200  # other routes are untouched
    assert seen["transport"] and seen["502"]


def test_5xx_and_drops_happen_before_the_work_and_are_not_recorded() -> None:
    with sandbox(fault_5xx=1.0, fault_routes=["POST /v3/avatars"]) as (sb, client):
        response = create(client, PHOTO, key="k1")
        assert response.status_code in (500, 502, 503) and response.json()["error"]["code"]
        sb.configure(fault_5xx=0.0, fault_drop=1.0)
        with pytest.raises(httpx.TransportError):
            create(client, PHOTO, key="k1")
        assert sb.stats()["created"]["looks"] == 0
        sb.configure(fault_drop=0.0)
        assert create(client, PHOTO, key="k1").headers.get("Idempotent-Replayed") is None
        stats = sb.stats()
    assert stats["created"]["looks"] == 1 and stats["faults"]["5xx"] == 1 and stats["faults"]["drop"] == 1


def test_a_slow_answer_times_out_a_short_client_but_the_work_is_done() -> None:
    with sandbox(fault_slow=1.0, slow_seconds=0.6, fault_routes=["POST /v3/avatars"]) as (sb, client):
        with api(sb, timeout=0.1) as impatient, pytest.raises(httpx.TimeoutException):
            create(impatient, PHOTO, key="slow")
        error_of(create(client, PHOTO, key="slow"), 409, "request_in_progress")  # still in flight
        sb.configure(fault_slow=0.0)
        wait_for(lambda: sb.stats()["created"]["looks"] == 1)
        assert create(client, PHOTO, key="slow").headers["Idempotent-Replayed"] == "true"
        assert sb.stats()["faults"]["slow"] == 1


def test_latency_is_added_to_every_v3_answer() -> None:
    with sandbox(latency=0.2) as (sb, client):
        start = time.monotonic()
        client.get("/v3/avatars")
        assert time.monotonic() - start >= 0.2
        start = time.monotonic()
        sb.stats()
        assert time.monotonic() - start < 0.2


# --- listing, renaming, deleting ----------------------------------------------------------


def test_paging_walks_120_looks_in_creation_order() -> None:
    with sandbox(max_concurrent_training=None) as (sb, client):
        made = [create(client, {**PHOTO, "name": f"n{i:03}"}).json()["data"]["avatar_item"]["id"] for i in range(120)]
        seen, token, pages = [], None, 0
        while True:
            params = {"limit": 50, "ownership": "private", **({"token": token} if token else {})}
            body = client.get("/v3/avatars/looks", params=params).json()
            seen += [look["id"] for look in body["data"]]
            pages += 1
            if not body["has_more"]:
                assert body["next_token"] is None
                break
            token = body["next_token"]
        assert seen == made and pages == 3
        groups = client.get("/v3/avatars", params={"limit": 50}).json()
        assert len(groups["data"]) == 50 and groups["has_more"]
        error_of(client.get("/v3/avatars/looks", params={"limit": 51}), 400, "invalid_parameter")
        error_of(client.get("/v3/avatars/looks", params={"limit": 0}), 400, "invalid_parameter")
        error_of(client.get("/v3/avatars/looks", params={"token": "garbage"}), 400, "invalid_parameter")
        other_filters = {"token": token, "avatar_type": "digital_twin"}
        error_of(client.get("/v3/avatars/looks", params=other_filters), 400, "invalid_parameter")
        assert client.get("/v3/avatars/looks", params={"ownership": "public"}).json() == {
            "data": [],
            "has_more": False,
            "next_token": None,
        }


def test_look_filters_by_group_and_type() -> None:
    with sandbox() as (sb, client):
        group_id = create(client, PHOTO).json()["data"]["avatar_group"]["id"]
        create(client, {**PROMPT, "avatar_group_id": group_id})
        twin = create(client, TWIN).json()["data"]["avatar_item"]["id"]
        in_group = client.get("/v3/avatars/looks", params={"group_id": group_id}).json()["data"]
        twins = client.get("/v3/avatars/looks", params={"avatar_type": "digital_twin"}).json()["data"]
        assert len(in_group) == 2 and [look["id"] for look in twins] == [twin]
        error_of(client.get("/v3/avatars/looks", params={"avatar_type": "cartoon"}), 400, "invalid_parameter")
        error_of(client.get("/v3/avatars/looks", params={"group_id": "group_nope"}), 404, "not_found")
        error_of(client.get("/v3/avatars", params={"ownership": "everyone"}), 400, "invalid_parameter")


def test_rename_and_delete_looks_and_groups() -> None:
    with sandbox() as (sb, client):
        first = create(client, PHOTO).json()["data"]
        group_id, look_id = first["avatar_group"]["id"], first["avatar_item"]["id"]
        second = create(client, {**PHOTO, "name": "two", "avatar_group_id": group_id}).json()["data"]["avatar_item"]
        renamed = client.patch(f"/v3/avatars/looks/{look_id}", json={"name": "Renamed"}).json()["data"]
        assert renamed["name"] == "Renamed"
        error_of(client.patch(f"/v3/avatars/looks/{look_id}", json={}), 400, "validation_error")
        deleted = client.delete(f"/v3/avatars/looks/{look_id}").json()["data"]
        assert deleted == {"id": look_id, "deleted": True, "group_deleted": False}
        error_of(client.get(f"/v3/avatars/looks/{look_id}"), 404, "not_found")
        assert client.get(f"/v3/avatars/{group_id}").json()["data"]["looks_count"] == 1
        assert client.delete(f"/v3/avatars/looks/{second['id']}").json()["data"]["group_deleted"] is True
        error_of(client.get(f"/v3/avatars/{group_id}"), 404, "not_found")
        assert client.get("/v3/avatars/looks").json()["data"] == []
        assert sb.stats()["training_now"] == 0  # deleted looks stop training

        other = create(client, {**PHOTO, "name": "three"}).json()["data"]["avatar_group"]["id"]
        assert client.delete(f"/v3/avatars/{other}").json()["data"] == {"id": other, "deleted": True}
        error_of(client.get(f"/v3/avatars/{other}"), 404, "not_found")
        assert client.get("/v3/avatars").json()["data"] == []


# --- assets -------------------------------------------------------------------------------


def multipart(client: httpx.Client, name: str, data: bytes, content_type: str) -> httpx.Response:
    return client.post("/v3/assets", files={"file": (name, data, content_type)})


def test_multipart_upload_records_its_digest_and_the_asset_is_usable() -> None:
    data = b"\x89PNG fake image bytes " * 1000
    with sandbox() as (sb, client):
        response = multipart(client, "ann.png", data, "image/png")
        assert response.status_code == 200, response.text
        asset = response.json()["data"]
        assert set(asset) == {"asset_id", "url", "mime_type", "size_bytes"}
        assert asset["mime_type"] == "image/png" and asset["size_bytes"] == len(data)
        srt = b"1\n00:00:01,000 --> 00:00:02,000\nhi\n"
        by_extension = multipart(client, "talk.srt", srt, "application/octet-stream")
        assert by_extension.json()["data"]["mime_type"] == "application/x-subrip"
        error_of(multipart(client, "notes.txt", b"hello", "text/plain"), 400, "invalid_parameter")
        error_of(client.post("/v3/assets", json={"file": "x"}), 400, "validation_error")
        error_of(client.post("/v3/assets", files={"other": ("a.png", b"x", "image/png")}), 400, "validation_error")
        photo = create(client, {**PHOTO, "file": {"type": "asset_id", "asset_id": asset["asset_id"]}})
        assert photo.status_code == 200
        wrong_media = create(client, {**TWIN, "file": {"type": "asset_id", "asset_id": asset["asset_id"]}})
        error_of(wrong_media, 400, "invalid_parameter")
        stats = sb.stats()
    assert stats["uploads"]["multipart"] == 2 and stats["created"]["assets"] == 2
    assert stats["uploads"]["by_sha256"][hashlib.sha256(data).hexdigest()] == 1


def test_multipart_takes_only_files_below_32_000_000_bytes() -> None:
    # "At most 32 MB" read the strict way: decimal megabytes, and 32,000,000 itself is refused.
    with sandbox() as (sb, client):
        error = error_of(multipart(client, "big.mp4", b"x" * 32_000_000, "video/mp4"), 400, "invalid_parameter")
        assert "32 MB" in error["message"] and error["param"] == "file"
        assert multipart(client, "ok.mp4", b"x" * 31_999_999, "video/mp4").status_code == 200


def test_direct_upload_flow_with_verbatim_headers_and_checksums() -> None:
    data = b"\x00\x01video" * 50_000
    digest = hashlib.sha256(data).hexdigest()
    with sandbox() as (sb, client):
        ticket = client.post(
            "/v3/assets/direct-uploads",
            json={
                "filename": "bob.mp4",
                "content_type": "video/mp4",
                "size_bytes": len(data),
                "checksum_sha256": digest,
            },
        ).json()["data"]
        assert ticket["status"] == "pending_upload" and ticket["upload_url"].startswith(sb.url + "/_sandbox/upload/")
        assert ticket["expires_in_seconds"] > 0 and ticket["max_bytes"] >= len(data)
        asset_id = ticket["asset_id"]
        unusable = create(client, {**TWIN, "file": {"type": "asset_id", "asset_id": asset_id}})
        assert error_of(unusable, 400, "asset_not_available")["param"] == "file.asset_id"
        error_of(client.post(f"/v3/assets/{asset_id}/complete", json={}), 400, "invalid_parameter")

        with httpx.Client(trust_env=False) as storage:  # no API key: the URL is pre-signed
            error_of(
                storage.put(ticket["upload_url"], content=data, headers={"Content-Type": "video/mp4"}), 403, "forbidden"
            )
            put = storage.put(
                ticket["upload_url"], content=iter([data[:100_000], data[100_000:]]), headers=ticket["upload_headers"]
            )
            assert put.status_code == 200, put.text

        wrong = client.post(f"/v3/assets/{asset_id}/complete", json={"checksum_sha256": "0" * 64})
        assert error_of(wrong, 400, "invalid_parameter")["param"] == "checksum_sha256"
        done = client.post(f"/v3/assets/{asset_id}/complete", json={"checksum_sha256": digest})
        assert done.status_code == 200 and done.json()["data"]["status"] == "completed"
        assert done.json()["data"]["size_bytes"] == len(data)
        again = client.post(f"/v3/assets/{asset_id}/complete")
        assert again.status_code == 200 and again.json()["data"] == done.json()["data"]
        twin = create(client, {**TWIN, "file": {"type": "asset_id", "asset_id": asset_id}})
        assert twin.status_code == 200
        stats = sb.stats()
    assert stats["uploads"]["direct"] == 1 and stats["uploads"]["by_sha256"] == {digest: 1}


def test_direct_upload_requests_are_validated(shared: SandboxHandle) -> None:
    good = {"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 10}
    with api(shared) as client:
        cases = [
            ({**good, "size_bytes": 0}, "size_bytes"),
            ({**good, "checksum_sha256": "abc"}, "checksum_sha256"),
            ({**good, "filename": "a.exe", "content_type": "application/x-msdownload"}, "content_type"),
        ]
        for body, param in cases:
            response = client.post("/v3/assets/direct-uploads", json=body)
            assert error_of(response, 400, "invalid_parameter")["param"] == param
        error_of(client.post("/v3/assets/direct-uploads", json={"filename": "a.mp4"}), 400, "validation_error")
        error_of(client.post("/v3/assets/asset_nope/complete"), 404, "not_found")


# --- account answers ----------------------------------------------------------------------


def test_keys_are_required_and_checked() -> None:
    with serve(SandboxConfig(api_key="secret", rate_limit=None)) as sb:
        with api(sb, key=None) as anonymous:
            error_of(anonymous.get("/v3/avatars"), 401, "unauthorized")
            bearer = anonymous.get("/v3/avatars", headers={"Authorization": "Bearer secret"})
            assert bearer.status_code == 200
        with api(sb, key="wrong") as wrong:
            error_of(wrong.get("/v3/avatars"), 401, "unauthorized")
        with api(sb, key="secret") as right:
            assert right.get("/v3/avatars").status_code == 200
    with serve(SandboxConfig(rate_limit=None)) as sb, api(sb, key=None) as anonymous:
        error_of(anonymous.get("/v3/avatars"), 401, "unauthorized")
        assert anonymous.get("/v3/avatars", headers={"X-Api-Key": "anything"}).status_code == 200


def test_credits_run_out_with_402() -> None:
    with sandbox(credits=2) as (sb, client):
        assert create(client, PHOTO).status_code == 200
        assert create(client, {**PHOTO, "name": "two"}).status_code == 200
        error_of(create(client, {**PHOTO, "name": "three"}), 402, "insufficient_credit")
        stats = sb.stats()
    assert stats["created"]["looks"] == 2 and stats["credits_remaining"] == 0


def test_a_tier_without_avatar_creation_gets_403() -> None:
    with sandbox(forbidden=True) as (sb, client):
        error_of(create(client, PHOTO), 403, "forbidden")
        assert client.get("/v3/avatars").status_code == 200


# --- running it ---------------------------------------------------------------------------


def test_config_is_validated() -> None:
    with pytest.raises(ValueError):
        SandboxConfig(host="0.0.0.0")
    with pytest.raises(ValueError):
        SandboxConfig(fault_5xx=1.5)
    with pytest.raises(ValueError):
        SandboxConfig(fault_routes=["POST /v3/nothing"])
    assert SandboxConfig().rate_limit == 20.0 and SandboxConfig().page_max == 50
    with serve(SandboxConfig()) as sb:
        with pytest.raises(ValueError):
            sb.configure(no_such_field=1)
        with pytest.raises(ValueError):
            sb.configure(port=1)
        assert sb.configure(latency=0.01)["latency"] == 0.01


def test_stats_has_every_documented_key_and_reset_clears() -> None:
    with sandbox() as (sb, client):
        create(client, PHOTO)
        stats = sb.stats()
        assert {
            "requests",
            "requests_total",
            "created",
            "duplicates",
            "rate_limited",
            "faults",
            "consent_requests",
            "uploads",
            "idempotent_replays",
            "conflicts_409",
            "complete_conflicts",
            "complete_with_idempotency_key",
            "creations_with_unready_asset",
            "training_now",
            "training_peak",
        } <= set(stats)
        assert stats["requests"] == {"POST /v3/avatars": 1} and stats["requests_total"] == 1
        assert {"multipart", "direct", "puts_without_content_type", "by_sha256"} <= set(stats["uploads"])
        sb.reset()
        assert sb.stats()["created"]["looks"] == 0
        assert client.get("/v3/avatars").json()["data"] == []


def test_servers_start_and_stop_quickly_without_leaking_threads() -> None:
    before = threading.active_count()
    start = time.monotonic()
    for _ in range(5):
        with serve(SandboxConfig()) as sb, api(sb) as client:
            assert client.get("/v3/avatars").status_code == 200
    assert time.monotonic() - start < 5 * 1.0
    # a stop with a request still in flight is quick too
    with serve(SandboxConfig(latency=5.0)) as sb:
        threading.Thread(target=lambda: _swallow(lambda: api(sb).get("/v3/avatars")), daemon=True).start()
        time.sleep(0.1)
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 1.0
    wait_for(lambda: threading.active_count() <= before, timeout=2.0)


def _swallow(call: Any) -> None:
    with suppress(httpx.HTTPError):
        call()


def test_serve_in_process_runs_the_same_sandbox_in_a_child_process() -> None:
    with serve_in_process(SandboxConfig(rate_limit=None, training_seconds=0.1)) as sb, api(sb) as client:
        assert create(client, PHOTO).status_code == 200
        sb.configure(forbidden=True)
        error_of(create(client, PHOTO), 403, "forbidden")
        assert sb.stats()["created"]["looks"] == 1


# --- internals worth checking on their own ------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 10), st.booleans()), max_size=40), st.data())
def test_the_training_count_matches_a_brute_force_count(windows: list, data: st.DataObject) -> None:
    tracker = TrainingTracker()
    made = [(start, start + length, cancel, tracker.add(start, start + length)) for start, length, cancel in windows]
    cancel_at = data.draw(st.integers(0, 30))
    cancelled: set[int] = set()
    peak = 0
    for now in range(0, 32):
        if now == cancel_at:
            for i, (_, _, cancel, window) in enumerate(made):
                if cancel:
                    tracker.cancel(window)
                    cancelled.add(i)
        expected = sum(1 for i, (s, e, _, _) in enumerate(made) if s <= now < e and i not in cancelled)
        assert tracker.count(now) == expected
        peak = max(peak, expected)
    assert tracker.peak == peak


@pytest.mark.anyio
@pytest.mark.parametrize("chunk", [1, 7, 64, 100_000])
async def test_the_multipart_reader_finds_the_file_whatever_the_chunking(chunk: int) -> None:
    payload = b"--not-the-boundary\r\n" * 30 + b"\r\n--almost"
    body = (
        b'preamble\r\n--XyZ\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a b.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + payload + b"\r\n--XyZ--\r\nepilogue"
    )

    async def chunks() -> Any:
        for i in range(0, len(body), chunk):
            yield body[i : i + chunk]

    part = await read_file_field(chunks(), boundary_of('multipart/form-data; boundary="XyZ"'), "file")
    assert part is not None
    assert (part.filename, part.content_type, part.size) == ("a b.png", "image/png", len(payload))
    assert part.sha256 == hashlib.sha256(payload).hexdigest()
