"""Assets as HeyGen plays them (docs/heygen-v3-api-notes.md, "Direct uploads"): `GET /v3/assets/{id}`
is metadata without a status, readiness comes from the paged `GET /v3/assets/statuses`, and
`/complete` is idempotent by itself. Over real loopback HTTP, on the sandbox's real clock."""

from __future__ import annotations

import time
from typing import Any

import httpx

from .test_sandbox import PHOTO, PROMPT, TWIN, create, error_of, sandbox, wait_for

METADATA = {"id", "name", "type", "url", "uploaded_at", "mime_type", "size_bytes"}
VIDEO = b"video bytes" * 100


def multipart_id(client: httpx.Client, name: str, data: bytes = b"png" * 10, content_type: str = "image/png") -> str:
    """A multipart upload; its asset id."""
    response = client.post("/v3/assets", files={"file": (name, data, content_type)})
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["asset_id"])


def ticket(client: httpx.Client, name: str = "bob.mp4", data: bytes = VIDEO, key: str | None = None) -> dict[str, Any]:
    body = {"filename": name, "content_type": "video/mp4", "size_bytes": len(data)}
    response = client.post("/v3/assets/direct-uploads", json=body, headers={"Idempotency-Key": key} if key else {})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()["data"]
    return answer


def put(upload: dict[str, Any], data: bytes = VIDEO, headers: dict[str, str] | None = None) -> httpx.Response:
    with httpx.Client(trust_env=False) as storage:
        return storage.put(
            upload["upload_url"], content=data, headers=upload["upload_headers"] if headers is None else headers
        )


def direct(client: httpx.Client, name: str = "bob.mp4") -> tuple[str, dict[str, Any]]:
    """Ticket, PUT and /complete; the asset id and the /complete answer."""
    upload = ticket(client, name)
    assert put(upload).status_code == 200
    done = client.post(f"/v3/assets/{upload['asset_id']}/complete")
    assert done.status_code == 200, done.text
    return upload["asset_id"], done.json()["data"]


def statuses_page(client: httpx.Client, ids: list[str], token: str | None = None) -> dict[str, Any]:
    params = {"asset_ids": ",".join(ids), **({"token": token} if token else {})}
    response = client.get("/v3/assets/statuses", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def status_of(client: httpx.Client, asset_id: str) -> str:
    return str(statuses_page(client, [asset_id])["data"][0]["status"])


def with_asset(body: dict[str, Any], asset_id: str) -> dict[str, Any]:
    return {**body, "file": {"type": "asset_id", "asset_id": asset_id}}


# --- GET /v3/assets/{id}: metadata, never readiness ---------------------------------------


def test_get_asset_is_metadata_without_status() -> None:
    with sandbox(asset_processing_seconds=60, failed_assets=["bad.png"]) as (sb, client):
        before = int(time.time())
        image = multipart_id(client, "ann.png")
        one = client.get(f"/v3/assets/{image}").json()["data"]
        assert set(one) == METADATA  # no status, no error: readiness is the statuses call's
        assert (one["id"], one["name"], one["type"], one["mime_type"]) == (image, "ann.png", "image", "image/png")
        assert isinstance(one["uploaded_at"], int) and before <= one["uploaded_at"] <= int(time.time())
        assert one["size_bytes"] == 30 and one["url"].startswith("https://")

        upload = ticket(client)
        queued = client.get(f"/v3/assets/{upload['asset_id']}").json()["data"]
        assert set(queued) == METADATA and queued["uploaded_at"] is None  # not completed yet
        assert (queued["name"], queued["type"], queued["size_bytes"]) == ("bob.mp4", "video", len(VIDEO))
        put(upload)
        client.post(f"/v3/assets/{upload['asset_id']}/complete")
        assert isinstance(client.get(f"/v3/assets/{upload['asset_id']}").json()["data"]["uploaded_at"], int)

        sb.configure(asset_processing_seconds=0)
        failed = multipart_id(client, "bad.png")
        assert status_of(client, failed) == "failed"
        assert set(client.get(f"/v3/assets/{failed}").json()["data"]) == METADATA


# --- GET /v3/assets/statuses --------------------------------------------------------------


def test_statuses_answer_one_entry_per_id_in_the_order_asked_unknown_ids_not_found() -> None:
    with sandbox(asset_processing_seconds=60) as (sb, client):
        a, b = multipart_id(client, "a.png"), multipart_id(client, "b.png")
        page = statuses_page(client, [b, "asset_nope", a, b])
        assert page["has_more"] is False and page["next_token"] is None
        assert page["data"] == [
            {"video_id": b, "status": "processing", "error": None},
            {"video_id": "asset_nope", "status": "not_found", "error": None},
            {"video_id": a, "status": "processing", "error": None},
        ]  # the duplicate b once, where it first came
        spaced = client.get("/v3/assets/statuses", params={"asset_ids": f" {a} ,, {b} "}).json()["data"]
        assert [row["video_id"] for row in spaced] == [a, b]


def test_statuses_take_at_most_100_ids_and_need_one() -> None:
    with sandbox() as (sb, client):
        hundred = [f"asset_{i}" for i in range(100)]
        first = statuses_page(client, hundred)
        assert len(first["data"]) == 50 and first["has_more"] is True  # page_max entries a page
        too_many = client.get("/v3/assets/statuses", params={"asset_ids": ",".join([*hundred, "asset_x"])})
        error = error_of(too_many, 400, "invalid_parameter")
        assert error["param"] == "asset_ids" and "100" in error["message"]
        for params in ({}, {"asset_ids": ""}, {"asset_ids": " , ,"}):
            assert error_of(client.get("/v3/assets/statuses", params=params), 400, "validation_error")["param"] == (
                "asset_ids"
            )


def test_statuses_page_by_page_max_with_next_token_passed_back_as_token() -> None:
    with sandbox(page_max=3, asset_processing_seconds=60) as (sb, client):
        real = [multipart_id(client, f"{i}.png") for i in range(2)]
        ids = [f"asset_{i}" for i in range(5)] + real  # 7 ids: pages of 3, 3, 1
        seen: list[tuple[str, str]] = []
        token: str | None = None
        pages = 0
        while True:
            page = statuses_page(client, ids, token)
            pages += 1
            seen += [(row["video_id"], row["status"]) for row in page["data"]]
            assert page["has_more"] is (page["next_token"] is not None)
            if not page["has_more"]:
                break
            token = page["next_token"]
        assert pages == 3 and [vid for vid, _ in seen] == ids
        assert [status for _, status in seen] == ["not_found"] * 5 + ["processing"] * 2
        first = statuses_page(client, ids)["next_token"]
        other = client.get("/v3/assets/statuses", params={"asset_ids": ",".join(real), "token": first})
        assert error_of(other, 400, "invalid_parameter")["param"] == "token"  # made for another id list
        garbled = client.get("/v3/assets/statuses", params={"asset_ids": ",".join(ids), "token": "!!"})
        assert error_of(garbled, 400, "invalid_parameter")["param"] == "token"


def test_a_direct_upload_is_queued_then_processing_from_complete_then_completed() -> None:
    with sandbox(asset_processing_seconds=0.4) as (sb, client):
        upload = ticket(client)
        asset_id = upload["asset_id"]
        assert status_of(client, asset_id) == "queued"
        put(upload)
        assert status_of(client, asset_id) == "queued"  # bytes alone do not start processing
        time.sleep(0.4)  # processing counts from /complete, not from the ticket or the PUT
        done = client.post(f"/v3/assets/{asset_id}/complete").json()["data"]
        assert done["status"] == "processing"
        assert status_of(client, asset_id) == "processing"
        wait_for(lambda: status_of(client, asset_id) == "completed")
        assert client.post(f"/v3/assets/{asset_id}/complete").json()["data"]["status"] == "completed"
        image = multipart_id(client, "ann.png")  # multipart: processing from the upload
        assert status_of(client, image) == "processing"
        wait_for(lambda: status_of(client, image) == "completed")


# --- what the account does with an asset: failed, lost ------------------------------------


def test_failed_assets_end_failed_with_an_error_and_a_create_naming_one_is_invalid() -> None:
    with sandbox(asset_processing_seconds=0.3, failed_assets=["bad.mp4", "bad.png"]) as (sb, client):
        bad, done = direct(client, "bad.mp4")  # the ticket's filename
        good, _ = direct(client, "good.mp4")
        assert done["status"] == "processing"
        assert statuses_page(client, [bad])["data"][0]["error"] is None  # failed only once processing is over
        wait_for(lambda: status_of(client, good) == "completed")  # completed after bad's
        entry = statuses_page(client, [bad, good])["data"]
        assert entry[0]["status"] == "failed"
        assert entry[0]["error"]["code"] == "asset_processing_failed" and entry[0]["error"]["message"]
        assert (entry[1]["status"], entry[1]["error"]) == ("completed", None)

        refused = create(client, with_asset(TWIN, bad))
        error = error_of(refused, 400, "invalid_parameter")
        assert error["param"] == "file" and "failed processing" in error["message"]
        bad_image = multipart_id(client, "bad.png")  # the multipart part's filename
        wait_for(lambda: status_of(client, bad_image) == "failed")
        reference = {**PROMPT, "reference_images": [{"type": "asset_id", "asset_id": bad_image}]}
        assert error_of(create(client, reference), 400, "invalid_parameter")["param"] == "reference_images[0]"
        assert create(client, with_asset(TWIN, good)).status_code == 200
        assert client.post(f"/v3/assets/{bad}/complete").json()["data"]["status"] == "failed"
        assert sb.stats()["created"]["looks"] == 1


def test_a_lost_asset_is_not_found_once_processed_and_uploading_it_again_works() -> None:
    with sandbox(asset_processing_seconds=0.3, lost_assets=["gone.png"]) as (sb, client):
        first = multipart_id(client, "gone.png")
        assert status_of(client, first) == "processing"  # not lost yet
        assert client.get(f"/v3/assets/{first}").status_code == 200
        wait_for(lambda: status_of(client, first) == "not_found")
        error_of(client.get(f"/v3/assets/{first}"), 404, "not_found")
        refused = create(client, with_asset(PHOTO, first))
        assert error_of(refused, 404, "not_found")["param"] == "file.asset_id"  # an id the account lacks

        second = multipart_id(client, "gone.png")  # the same file again: a new asset, kept
        assert second != first
        wait_for(lambda: status_of(client, second) == "completed")
        assert [row["status"] for row in statuses_page(client, [first, second])["data"]] == ["not_found", "completed"]
        assert create(client, with_asset(PHOTO, second)).status_code == 200


def test_a_lost_direct_upload_completes_then_goes() -> None:
    with sandbox(lost_assets=["gone.mp4"]) as (sb, client):
        asset_id, done = direct(client, "gone.mp4")
        assert done["status"] == "completed"  # no processing time: lost right after
        assert status_of(client, asset_id) == "not_found"
        error_of(client.post(f"/v3/assets/{asset_id}/complete"), 404, "not_found")


# --- the direct upload's ticket and PUT ---------------------------------------------------


def test_a_ticket_may_leave_content_type_out_of_upload_headers_and_the_put_must_still_send_it() -> None:
    with sandbox() as (sb, client):
        with_header = ticket(client)
        assert with_header["upload_headers"]["Content-Type"] == "video/mp4"
        assert with_header["content_type"] == "video/mp4"
        sb.configure(upload_headers_content_type=False)
        bare = ticket(client)
        assert set(bare["upload_headers"]) == {"x-sandbox-signature"} and bare["content_type"] == "video/mp4"

        verbatim = put(bare)  # upload_headers alone carry no Content-Type
        assert "Content-Type" in error_of(verbatim, 403, "forbidden")["message"]
        error_of(put(bare, headers={**bare["upload_headers"], "Content-Type": "video/webm"}), 403, "forbidden")
        assert sb.stats()["uploads"]["puts_without_content_type"] == 1  # the wrong type was sent, so not counted
        stripped = {k: v for k, v in with_header["upload_headers"].items() if k != "Content-Type"}
        error_of(put(with_header, headers=stripped), 403, "forbidden")
        with httpx.Client(trust_env=False) as storage:
            error_of(storage.put(f"{sb.url}/_sandbox/upload/asset_nope", content=b"x"), 404, "not_found")
        assert sb.stats()["uploads"]["puts_without_content_type"] == 3  # counted before being refused

        sent = put(bare, headers={**bare["upload_headers"], "Content-Type": bare["content_type"]})
        assert sent.status_code == 200, sent.text
        assert client.post(f"/v3/assets/{bare['asset_id']}/complete").json()["data"]["status"] == "completed"
        assert put(with_header).status_code == 200
        stats = sb.stats()
    assert stats["uploads"]["direct"] == 2 and stats["uploads"]["puts_without_content_type"] == 3


# --- creations and /complete, as counted --------------------------------------------------


def test_creations_with_an_unready_asset_are_refused_and_counted_queued_or_processing() -> None:
    with sandbox(asset_processing_seconds=60, consent_approval_seconds=None) as (sb, client):
        upload = ticket(client)
        asset_id = upload["asset_id"]
        queued = create(client, with_asset(TWIN, asset_id))
        assert "queued" in error_of(queued, 400, "asset_not_available")["message"]
        put(upload)
        client.post(f"/v3/assets/{asset_id}/complete")
        processing = create(client, with_asset(TWIN, asset_id))
        assert "processing" in error_of(processing, 400, "asset_not_available")["message"]
        image = multipart_id(client, "ann.png")
        reference = {**PROMPT, "reference_images": [{"type": "asset_id", "asset_id": image}]}
        assert (
            error_of(create(client, reference), 400, "asset_not_available")["param"] == "reference_images[0].asset_id"
        )
        error_of(create(client, with_asset(TWIN, "asset_nope")), 404, "not_found")  # unknown, not unready
        group_id = create(client, TWIN).json()["data"]["avatar_group"]["id"]
        consent = {"consent_video": {"type": "asset_id", "asset_id": asset_id}}
        error_of(client.post(f"/v3/avatars/{group_id}/consent", json=consent), 400, "asset_not_available")
        stats = sb.stats()
    assert stats["creations_with_unready_asset"] == 3  # the consent request is no creation
    assert stats["created"]["looks"] == 1


def test_complete_is_never_replayed_and_its_idempotency_keys_are_counted() -> None:
    with sandbox(asset_processing_seconds=0.3) as (sb, client):
        upload = ticket(client, key="ticket-1")
        assert ticket(client, key="ticket-1")["asset_id"] == upload["asset_id"]  # the ticket is keyed
        put(upload)
        path, key = f"/v3/assets/{upload['asset_id']}/complete", {"Idempotency-Key": "complete-1"}
        first = client.post(path, headers=key)
        assert first.json()["data"]["status"] == "processing"
        wait_for(lambda: status_of(client, upload["asset_id"]) == "completed")
        again = client.post(path, headers=key)  # the same key: the current state, not the first answer
        assert again.status_code == 200 and "Idempotent-Replayed" not in again.headers
        assert again.json()["data"]["status"] == "completed"
        assert client.post(path, headers={"Idempotency-Key": "not a valid key!"}).status_code == 200  # no key rules
        assert client.post(path).status_code == 200
        stats = sb.stats()
    assert stats["complete_with_idempotency_key"] == 3
    assert stats["idempotent_replays"] == 1  # the ticket's only
