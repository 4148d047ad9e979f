"""The sandbox plays each documented reading of HeyGen's v3 API as a setting, over real loopback HTTP."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest

from batchavatars.sandbox import V3_ROUTES, SandboxConfig

from .test_sandbox import MP4, PHOTO, PROMPT, TWIN, api, create, error_of, sandbox, wait_for


def look_of(client: httpx.Client, look_id: str) -> dict[str, Any]:
    response = client.get(f"/v3/avatars/looks/{look_id}")
    assert response.status_code == 200, response.text
    return response.json()["data"]


def group_of(client: httpx.Client, group_id: str) -> dict[str, Any]:
    response = client.get(f"/v3/avatars/{group_id}")
    assert response.status_code == 200, response.text
    return response.json()["data"]


def listed_group(client: httpx.Client, group_id: str) -> dict[str, Any]:
    return next(g for g in client.get("/v3/avatars").json()["data"] if g["id"] == group_id)


# --- where consent shows ------------------------------------------------------------------


def test_consent_on_the_group_the_look_trains_while_the_group_waits() -> None:
    with sandbox(consent_signal="group", training_seconds=0.2, consent_approval_seconds=None) as (sb, client):
        created = create(client, TWIN).json()["data"]
        look_id, group_id = created["avatar_item"]["id"], created["avatar_group"]["id"]
        assert created["avatar_item"]["status"] == "processing"
        waiting = {"status": "pending_consent", "consent_status": "pending"}
        assert {k: created["avatar_group"][k] for k in waiting} == waiting
        assert {k: group_of(client, group_id)[k] for k in waiting} == waiting
        assert {k: listed_group(client, group_id)[k] for k in waiting} == waiting

        wait_for(lambda: look_of(client, look_id)["status"] == "completed")
        assert group_of(client, group_id)["status"] == "pending_consent"  # trained, still not usable

        consent = client.post(f"/v3/avatars/{group_id}/consent").json()["data"]
        assert consent["avatar_group"]["consent_status"] == "pending" and consent["url"]
        sb.configure(consent_approval_seconds=0)  # the person records consent now
        group = group_of(client, group_id)
        assert (group["consent_status"], group["status"]) == ("approved", "completed")
        assert listed_group(client, group_id)["consent_status"] == "approved"
        statuses = [look["status"] for look in client.get("/v3/avatars/looks").json()["data"]]
    assert statuses == ["completed"]


def test_consent_on_both_the_look_waits_and_the_group_waits_from_creation() -> None:
    with sandbox(consent_signal="both", training_seconds=0.2, consent_approval_seconds=None) as (sb, client):
        created = create(client, TWIN).json()["data"]
        look_id, group_id = created["avatar_item"]["id"], created["avatar_group"]["id"]
        assert created["avatar_item"]["status"] == "pending_consent"
        assert created["avatar_group"]["consent_status"] == "pending"
        assert created["avatar_group"]["status"] == "pending_consent"
        client.post(f"/v3/avatars/{group_id}/consent")
        assert look_of(client, look_id)["status"] == "pending_consent"
        sb.configure(consent_approval_seconds=0)
        assert look_of(client, look_id)["status"] == "processing"  # training starts at approval
        assert group_of(client, group_id)["consent_status"] == "approved"
        wait_for(lambda: look_of(client, look_id)["status"] == "completed")
        assert group_of(client, group_id)["status"] == "completed"


@pytest.mark.parametrize("signal", ["look", "group", "both"])
def test_photo_and_prompt_groups_never_need_consent(signal: str) -> None:
    with sandbox(consent_signal=signal) as (sb, client):
        for body in (PHOTO, PROMPT):
            group = create(client, body).json()["data"]["avatar_group"]
            assert group["consent_status"] is None and group["status"] == "processing"
            assert group_of(client, group["id"])["consent_status"] is None


def test_the_default_reading_shows_consent_on_the_look_and_nothing_on_the_group_until_asked() -> None:
    with sandbox(consent_approval_seconds=None) as (sb, client):
        created = create(client, TWIN).json()["data"]
        assert created["avatar_item"]["status"] == "pending_consent"
        assert created["avatar_group"]["consent_status"] is None
        sb.configure(consent_signal="group")  # groups re-render at once
        assert group_of(client, created["avatar_group"]["id"])["consent_status"] == "pending"
        assert look_of(client, created["avatar_item"]["id"])["status"] == "pending_consent"  # its clock stays


def test_a_look_from_a_trained_twin_is_made_while_its_group_still_waits_for_consent() -> None:
    with sandbox(consent_signal="group", training_seconds=0.1, consent_approval_seconds=None) as (sb, client):
        twin = create(client, TWIN).json()["data"]["avatar_item"]
        wait_for(lambda: look_of(client, twin["id"])["status"] == "completed")
        made = create(client, {**PROMPT, "avatar_id": twin["id"]})
        assert made.status_code == 200, made.text
        data = made.json()["data"]
        assert data["avatar_item"]["group_id"] == twin["group_id"] and data["avatar_item"]["status"] == "processing"
        assert data["avatar_group"]["status"] == "pending_consent"  # consent still gates the group's use


# --- list rows, 404 codes, other accounts, the error envelope ------------------------------


def test_list_rows_can_omit_status_while_the_single_get_keeps_it() -> None:
    with sandbox(list_status="omit") as (sb, client):
        look_id = create(client, PHOTO).json()["data"]["avatar_item"]["id"]
        row = client.get("/v3/avatars/looks").json()["data"][0]
        assert row["id"] == look_id and "status" not in row and "error" not in row
        assert look_of(client, look_id)["status"] == "processing"
        sb.configure(list_status="always")
        assert client.get("/v3/avatars/looks").json()["data"][0]["status"] == "processing"


@pytest.mark.parametrize("code", ["not_found", "avatar_not_found", "resource_not_found"])
def test_every_404_carries_the_configured_code(code: str) -> None:
    with sandbox(not_found_code=code) as (sb, client):
        first = create(client, PHOTO).json()["data"]
        client.delete(f"/v3/avatars/looks/{first['avatar_item']['id']}")  # its group goes with it
        answers = [
            client.get(f"/v3/avatars/looks/{first['avatar_item']['id']}"),
            client.get(f"/v3/avatars/{first['avatar_group']['id']}"),
            client.delete(f"/v3/avatars/{first['avatar_group']['id']}"),
            client.post(f"/v3/avatars/{first['avatar_group']['id']}/consent"),
            create(client, {**PHOTO, "avatar_group_id": first["avatar_group"]["id"]}),
            client.get("/v3/assets/asset_nope"),
            client.post("/v3/assets/asset_nope/complete"),
            client.get("/v3/no/such/route"),
            client.get(f"/_sandbox/previews/{first['avatar_item']['id']}.svg"),
        ]
        for response in answers:
            error_of(response, 404, code)


def test_a_group_of_another_account_is_403_resource_access_denied() -> None:
    with sandbox(foreign_groups=["group_theirs"]) as (sb, client):
        error = error_of(create(client, {**PHOTO, "avatar_group_id": "group_theirs"}), 403, "resource_access_denied")
        assert error["param"] == "avatar_group_id"
        for response in (
            client.get("/v3/avatars/group_theirs"),
            client.post("/v3/avatars/group_theirs/consent"),
            client.delete("/v3/avatars/group_theirs"),
        ):
            assert error_of(response, 403, "resource_access_denied")["param"] == "avatar_group_id"
        listed = client.get("/v3/avatars/looks", params={"group_id": "group_theirs"})
        assert error_of(listed, 403, "resource_access_denied")["param"] == "group_id"
        assert create(client, PHOTO).status_code == 200  # the key itself is fine
        assert sb.stats()["created"]["looks"] == 1


def test_every_error_envelope_carries_doc_url_and_param_where_a_field_is_at_fault() -> None:
    with sandbox(credits=0, foreign_groups=["group_x"], api_key="k") as (sb, client):
        client.headers["X-Api-Key"] = "k"
        with api(sb, key="wrong") as wrong:
            error_of(wrong.get("/v3/avatars"), 401, "unauthorized")
        assert error_of(create(client, {**PHOTO, "name": ""}), 400, "validation_error")["param"] == "name"
        assert error_of(create(client, PHOTO), 402, "insufficient_credit")
        assert error_of(create(client, {**PHOTO, "avatar_group_id": "group_x"}), 403, "resource_access_denied")["param"]
        sb.configure(forbidden=True)
        error_of(create(client, PHOTO), 403, "forbidden")
        error_of(client.get("/v3/avatars/looks/look_nope"), 404, "not_found")
        sb.configure(burst_429=1.0)
        error_of(client.get("/v3/avatars"), 429, "rate_limit_exceeded")


# --- assets ---------------------------------------------------------------------------------


def ticket(client: httpx.Client, data: bytes, key: str | None = None, **extra: Any) -> httpx.Response:
    body = {"filename": "bob.mp4", "content_type": "video/mp4", "size_bytes": len(data), **extra}
    return client.post("/v3/assets/direct-uploads", json=body, headers={"Idempotency-Key": key} if key else {})


def put(upload: dict[str, Any], data: bytes) -> httpx.Response:
    with httpx.Client(trust_env=False) as storage:
        return storage.put(upload["upload_url"], content=data, headers=upload["upload_headers"])


def test_complete_answers_409_until_storage_catches_up_and_a_plain_retry_then_succeeds() -> None:
    data = b"video bytes" * 100
    with sandbox(complete_conflicts=2) as (sb, client):
        upload = ticket(client, data).json()["data"]
        assert put(upload, data).status_code == 200
        path = f"/v3/assets/{upload['asset_id']}/complete"
        for _ in range(2):
            error = error_of(client.post(path), 409, "upload_not_found")
            assert "not found yet" in error["message"]
        done = client.post(path)
        assert done.status_code == 200 and done.json()["data"]["status"] == "completed"
        assert client.post(path).status_code == 200  # completed: no more conflicts
        assert sb.stats()["complete_conflicts"] == 2


def statuses(client: httpx.Client, *ids: str) -> list[tuple[str, str]]:
    rows = client.get("/v3/assets/statuses", params={"asset_ids": ",".join(ids)}).json()["data"]
    return [(row["video_id"], row["status"]) for row in rows]


def test_an_asset_processes_before_it_can_be_used() -> None:
    data = b"video bytes" * 100
    with sandbox(asset_processing_seconds=0.3) as (sb, client):
        upload = ticket(client, data).json()["data"]
        asset_id = upload["asset_id"]
        assert statuses(client, asset_id) == [(asset_id, "queued")]
        put(upload, data)
        done = client.post(f"/v3/assets/{asset_id}/complete").json()["data"]
        assert done["status"] == "processing"
        image = client.post("/v3/assets", files={"file": ("ann.png", b"png" * 10, "image/png")}).json()["data"]
        early = create(client, {**TWIN, "file": {"type": "asset_id", "asset_id": asset_id}})
        assert error_of(early, 400, "asset_not_available")["param"] == "file.asset_id"
        assert statuses(client, asset_id, "asset_unknown", image["asset_id"]) == [
            (asset_id, "processing"),
            ("asset_unknown", "not_found"),
            (image["asset_id"], "processing"),
        ]

        wait_for(lambda: statuses(client, asset_id) == [(asset_id, "completed")])
        one = client.get(f"/v3/assets/{asset_id}").json()["data"]
        assert "status" not in one and one["id"] == asset_id
        assert (one["mime_type"], one["size_bytes"]) == ("video/mp4", len(data))
        assert create(client, {**TWIN, "file": {"type": "asset_id", "asset_id": asset_id}}).status_code == 200
        wait_for(lambda: statuses(client, image["asset_id"]) == [(image["asset_id"], "completed")])
        assert create(client, {**PHOTO, "file": {"type": "asset_id", "asset_id": image["asset_id"]}}).status_code == 200
        error_of(client.get("/v3/assets/statuses"), 400, "validation_error")


def test_a_ticket_carries_the_size_cap_and_bytes_over_it_are_refused() -> None:
    assert SandboxConfig().direct_upload_max_bytes == 200_000_000
    with sandbox(direct_upload_max_bytes=1000) as (sb, client):
        big = ticket(client, b"x" * 1001)
        assert error_of(big, 400, "invalid_parameter")["param"] == "size_bytes"
        upload = ticket(client, b"x" * 10).json()["data"]
        assert upload["max_bytes"] == 1000
        assert put(upload, b"x" * 1001).status_code == 400  # more bytes than the ticket allows
        assert sb.stats()["uploads"]["direct"] == 0


def test_an_expired_upload_url_is_refused_and_replaying_its_key_returns_the_same_url() -> None:
    data = b"video bytes" * 10
    with sandbox(upload_url_ttl_seconds=0) as (sb, client):
        first = ticket(client, data, key="ticket-1").json()["data"]
        assert first["expires_in_seconds"] == 0
        error_of(put(first, data), 403, "forbidden")
        replayed = ticket(client, data, key="ticket-1")
        assert replayed.headers["Idempotent-Replayed"] == "true"
        assert replayed.json()["data"]["upload_url"] == first["upload_url"]
        sb.configure(upload_url_ttl_seconds=60)
        fresh = ticket(client, data, key="ticket-2").json()["data"]
        assert fresh["upload_url"] != first["upload_url"] and fresh["expires_in_seconds"] == 60
        assert put(fresh, data).status_code == 200


def test_after_the_replay_window_the_same_key_creates_again() -> None:
    with sandbox() as (sb, client):
        first = create(client, PHOTO, key="intent-1")
        assert create(client, PHOTO, key="intent-1").headers["Idempotent-Replayed"] == "true"
        sb.configure(replay_window_seconds=0)  # as if 24 hours had passed
        again = create(client, PHOTO, key="intent-1")
        assert again.status_code == 200 and "Idempotent-Replayed" not in again.headers
        assert again.json()["data"]["avatar_item"]["id"] != first.json()["data"]["avatar_item"]["id"]
        assert sb.stats()["created"]["looks"] == 2


# --- creation answers, the account, what the video step needs -------------------------------


def test_a_create_can_answer_a_null_avatar_item_while_the_look_is_made() -> None:
    with sandbox(null_avatar_item=1.0) as (sb, client):
        first = create(client, PHOTO, key="null-1")
        data = first.json()["data"]
        assert first.status_code == 200 and data["avatar_item"] is None
        group_id = data["avatar_group"]["id"]
        looks = client.get("/v3/avatars/looks", params={"group_id": group_id}).json()["data"]
        assert [(look["name"], look["group_id"]) for look in looks] == [("Ann", group_id)]
        assert create(client, PHOTO, key="null-1").content == first.content  # the replay is the same answer
        assert sb.stats()["null_avatar_items"] == 1


@pytest.mark.parametrize(
    ("billing", "credits", "field", "expected"),
    [
        ("wallet", 7, ("wallet", "remaining_balance"), 7),
        ("wallet", None, ("wallet", "remaining_balance"), 1_000_000),
        ("subscription", 5, ("subscription", "credits", "premium_credits", "remaining"), 5),
        ("usage_based", 3, ("usage_based", "remaining_credits"), 3),
    ],
)
def test_users_me_reports_the_account_and_its_balance(
    billing: str, credits: int | None, field: tuple[str, ...], expected: int
) -> None:
    with sandbox(billing_type=billing, credits=credits, account_name="Ava Reyes", api_key="k") as (sb, client):
        with api(sb, key="wrong") as wrong:
            error_of(wrong.get("/v3/users/me"), 401, "unauthorized")
        client.headers["X-Api-Key"] = "k"
        me = client.get("/v3/users/me").json()["data"]
    assert (me["first_name"], me["last_name"], me["username"]) == ("Ava", "Reyes", "ava.reyes")
    assert "@" in me["email"] and me["billing_type"] == billing
    value: Any = me
    for part in field:
        value = value[part]
    assert value == expected
    if billing == "wallet":
        assert me["wallet"]["currency"] == "credits" and me["wallet"]["auto_reload"] is False


def test_looks_carry_what_the_video_step_needs_and_keep_it() -> None:
    with sandbox() as (sb, client):
        twin = create(client, TWIN).json()["data"]
        second = create(client, {**TWIN, "name": "Bob 2", "avatar_group_id": twin["avatar_group"]["id"]})
        # ids are random: with 36 looks all three orientations show, but for odds of about 1 in 10^6
        photos = [create(client, {**PHOTO, "name": f"p{i}"}).json()["data"]["avatar_item"] for i in range(36)]
        for look in photos:
            assert look["supported_api_engines"] == ["avatar_iv"] and look["default_voice_id"]
            assert look_of(client, look["id"]) == look  # the same on every read
        assert {look["preferred_orientation"] for look in photos} == {"landscape", "portrait", "square"}
        assert second.json()["data"]["avatar_item"]["default_voice_id"] == twin["avatar_item"]["default_voice_id"]


def test_previews_are_served_by_the_sandbox_as_cards_with_initials() -> None:
    with sandbox() as (sb, client):
        look = create(client, {**PHOTO, "name": "Ava Reyes, office"}).json()["data"]["avatar_item"]
        with httpx.Client(trust_env=False) as browser:  # an <img> sends no API key
            image = browser.get(look["preview_image_url"])
            assert image.status_code == 200 and image.headers["content-type"] == "image/svg+xml"
            svg = ET.fromstring(image.content)
            assert svg.tag == "{http://www.w3.org/2000/svg}svg"
            assert "".join(svg.itertext()) == "AR"
            client.patch(f"/v3/avatars/looks/{look['id']}", json={"name": "<Zoe> & co"})
            assert "".join(ET.fromstring(browser.get(look["preview_image_url"]).content).itertext()) == "ZC"
            error_of(browser.get(f"{sb.url}/_sandbox/previews/{look['id']}.png"), 404, "not_found")


def test_renames_and_deletes_are_counted_and_prompt_looks_keep_their_name() -> None:
    with sandbox() as (sb, client):
        photo = create(client, PHOTO).json()["data"]
        prompt = create(client, {**PROMPT, "avatar_group_id": photo["avatar_group"]["id"]}).json()["data"]
        twin = create(client, TWIN).json()["data"]["avatar_item"]
        for look in (photo["avatar_item"], twin):
            assert client.patch(f"/v3/avatars/looks/{look['id']}", json={"name": "New"}).json()["data"]["name"] == "New"
        refused = client.patch(f"/v3/avatars/looks/{prompt['avatar_item']['id']}", json={"name": "New"})
        assert error_of(refused, 400, "invalid_parameter")["param"] == "look_id"
        client.delete(f"/v3/avatars/looks/{twin['id']}")  # its group goes with it
        client.delete(f"/v3/avatars/{photo['avatar_group']['id']}")  # two looks
        stats = sb.stats()
    assert stats["renamed"] == 2 and stats["deleted"] == {"looks": 3, "groups": 2}


# --- the settings themselves ------------------------------------------------------------------


def test_every_setting_is_validated_in_code_and_over_http() -> None:
    for bad in (
        {"consent_signal": "person"},
        {"list_status": "never"},
        {"not_found_code": "gone"},
        {"foreign_groups": "group_x"},
        {"complete_conflicts": -1},
        {"asset_processing_seconds": -0.5},
        {"failed_assets": "bad.mp4"},
        {"lost_assets": [1]},
        {"upload_headers_content_type": "no"},
        {"direct_upload_max_bytes": 0},
        {"upload_url_ttl_seconds": -1},
        {"replay_window_seconds": -1},
        {"null_avatar_item": 2},
        {"billing_type": "barter"},
        {"training_seconds": -1},
    ):
        with pytest.raises(ValueError):
            SandboxConfig(**bad)
    with sandbox() as (sb, client):
        for bad_value in ({"consent_signal": "person"}, {"fault_routes": ["GET /v3/nothing"]}):
            response = httpx.post(f"{sb.url}/_sandbox/config", json=bad_value, timeout=5)
            message = error_of(response, 400, "invalid_parameter")["message"]
            assert next(iter(bad_value)) in message and "\n" not in message
        assert sb.config()["consent_signal"] == "look"
        # the route table that routes requests is the one fault_routes checks against
        sb.configure(fault_5xx=1.0, fault_routes=["GET /v3/users/me"])
        assert client.get("/v3/users/me").status_code >= 500
        assert client.get("/v3/assets/statuses", params={"asset_ids": "a"}).status_code == 200
    assert {"GET /v3/users/me", "GET /v3/assets/{asset_id}", "GET /v3/assets/statuses"} <= set(V3_ROUTES)


def test_consent_video_assets_must_be_ready_too() -> None:
    with sandbox(asset_processing_seconds=60, consent_approval_seconds=None) as (sb, client):
        group_id = create(client, TWIN).json()["data"]["avatar_group"]["id"]
        asset = client.post("/v3/assets", files={"file": ("c.mp4", b"mp4" * 10, "video/mp4")}).json()["data"]
        body = {"consent_video": {"type": "asset_id", "asset_id": asset["asset_id"]}}
        refused = client.post(f"/v3/avatars/{group_id}/consent", json=body)
        assert error_of(refused, 400, "asset_not_available")["param"] == "consent_video.asset_id"
        assert client.post(f"/v3/avatars/{group_id}/consent", json={"consent_video": MP4}).status_code == 200
