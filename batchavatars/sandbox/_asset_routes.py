"""The /v3/assets routes, and the pre-signed "storage" URL a direct upload PUTs to."""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ._assets import MULTIPART_LIMIT_BYTES, Asset, Fates, resolve_mime
from ._envelope import ApiFailure, invalid, missing, not_found
from ._http import Routes, checksum, json_object, page_response
from ._multipart import MultipartError, boundary_of, read_file_field
from ._paging import decode_token, page
from ._policy import json_response

_UNSUPPORTED = "unsupported file type; allowed: png, jpeg, mp4, webm, mp3, wav, pdf, srt"
STATUSES_MAX_IDS = 100  # asset_ids one GET /v3/assets/statuses call may name


class AssetRoutes(Routes):
    async def upload_asset(self, request: Request) -> Response:
        state = self.state
        try:
            boundary = boundary_of(request.headers.get("content-type"))
            part = await read_file_field(request.stream(), boundary, "file")
        except MultipartError as exc:
            raise ApiFailure(400, "validation_error", str(exc), "file") from None
        if part is None:
            raise missing("file")
        if part.size >= MULTIPART_LIMIT_BYTES:
            # The doc's error table has no 413: an oversized file is "the item is wrong", so 400.
            message = f"file is {part.size} bytes; the limit is 32 MB (below {MULTIPART_LIMIT_BYTES} bytes): use a direct upload"
            raise invalid(message, "file")
        mime_type = resolve_mime(part.content_type, part.filename)
        if mime_type is None:
            raise invalid(_UNSUPPORTED, "file")
        name, seconds = part.filename or "upload", state.config.asset_processing_seconds
        fates = self._fates()
        asset = state.assets.add_uploaded(
            mime_type, name, part.size, part.sha256, fates, now=state.clock(), seconds=seconds
        )
        state.stats.upload("multipart", part.sha256)
        return json_response(200, {"data": asset.to_json()})

    async def create_direct_upload(self, request: Request) -> Response:
        state = self.state
        cfg = state.config
        body = await json_object(request)
        filename, content_type, size = body.get("filename"), body.get("content_type"), body.get("size_bytes")
        if not isinstance(filename, str) or not filename:
            raise missing("filename")
        if not isinstance(content_type, str) or not content_type:
            raise missing("content_type")
        if size is None:
            raise missing("size_bytes")
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise invalid("size_bytes must be a positive integer", "size_bytes")
        max_bytes = cfg.direct_upload_max_bytes
        if size > max_bytes:
            raise invalid(f"size_bytes {size} exceeds the limit of {max_bytes} bytes for one upload", "size_bytes")
        sha256 = checksum(body.get("checksum_sha256"))
        mime_type = resolve_mime(content_type, filename)
        if mime_type is None:
            raise invalid(_UNSUPPORTED, "content_type")
        ttl = cfg.upload_url_ttl_seconds
        expires_at = state.clock() + ttl
        asset = state.assets.add_direct(
            mime_type, filename, content_type, size, sha256, self._fates(), expires_at=expires_at, max_bytes=max_bytes
        )
        assert asset.signature is not None
        headers = {"x-sandbox-signature": asset.signature}
        if cfg.upload_headers_content_type:  # else the client sends `content_type` itself: the signature covers it
            headers = {"Content-Type": content_type, **headers}
        base = str(request.base_url).rstrip("/")
        data = {
            "asset_id": asset.id,
            "upload_url": f"{base}/_sandbox/upload/{asset.id}?sig={asset.signature}",
            "upload_headers": headers,
            "content_type": content_type,
            "expires_in_seconds": int(ttl) if ttl == int(ttl) else ttl,
            "max_bytes": max_bytes,
            "status": "pending_upload",
        }
        return json_response(200, {"data": data})

    def _fates(self) -> Fates:
        cfg = self.state.config
        return Fates(frozenset(cfg.failed_assets), frozenset(cfg.lost_assets))

    async def put_upload(self, request: Request) -> Response:
        """The storage side of a direct upload: not a /v3 route, so no auth, limits or faults."""
        state = self.state
        state.stats.requests["PUT /_sandbox/upload/{asset_id}"] += 1
        if "content-type" not in request.headers:
            state.stats.uploads["puts_without_content_type"] += 1  # counted before it is refused below
        asset = state.assets.get(request.path_params["asset_id"], state.clock())
        problem = self._refusal(request, asset)
        limit = asset.max_bytes if asset is not None and asset.max_bytes is not None else 0
        hasher = hashlib.sha256()
        size = 0
        async for chunk in request.stream():  # read even a refused body, so the connection stays usable
            if problem is None and size <= limit:
                hasher.update(chunk)
            size += len(chunk)
        if problem is not None:
            raise problem
        assert asset is not None
        if size > limit:
            raise invalid(f"{size} bytes exceed this upload's max_bytes {limit}")
        asset.size_bytes, asset.sha256 = size, hasher.hexdigest()
        state.stats.upload("direct", asset.sha256)
        return Response(b"", 200, {"ETag": f'"{asset.sha256}"'})

    def _refusal(self, request: Request, asset: Asset | None) -> ApiFailure | None:
        headers = request.headers
        if asset is None or asset.signature is None:
            return ApiFailure(404, "not_found", "no pending direct upload at this URL")
        if "content-type" not in headers:
            message = f"signature mismatch: the signature covers Content-Type; send {asset.content_type!r}"
            return ApiFailure(403, "forbidden", message)
        if (
            request.query_params.get("sig") != asset.signature
            or headers.get("x-sandbox-signature") != asset.signature
            or headers.get("content-type") != asset.content_type
        ):
            return ApiFailure(403, "forbidden", "signature mismatch: send upload_headers verbatim to upload_url")
        if asset.finished:
            return ApiFailure(403, "forbidden", "this upload was already completed")
        if self.state.clock() > (asset.expires_at or 0):
            return ApiFailure(
                403, "forbidden", "this upload URL has expired: ask for a new one (a new Idempotency-Key)"
            )
        return None

    async def complete_asset(self, request: Request) -> Response:
        state = self.state
        if "idempotency-key" in request.headers:
            state.stats.complete_with_idempotency_key += 1  # documented for uploads and tickets, not here
        asset = self._asset(request.path_params["asset_id"])
        body = await json_object(request, optional=True)
        expected = checksum(body.get("checksum_sha256"))
        if not asset.finished:
            asset.complete_calls += 1
            if asset.complete_calls <= state.config.complete_conflicts:
                state.stats.complete_conflicts += 1  # storage has not caught up with the PUT yet
                raise ApiFailure(409, "upload_not_found", "uploaded object not found yet; retry shortly")
            _check_upload(asset, expected)
            asset.start_processing(state.clock(), state.config.asset_processing_seconds)
        elif expected is not None and expected != asset.sha256:
            _check_upload(asset, expected)
        return json_response(200, {"data": {**asset.to_json(), "status": asset.status(state.clock())}})

    async def get_asset(self, request: Request) -> Response:
        asset = self._asset(request.path_params["asset_id"])
        return json_response(200, {"data": asset.metadata_json()})

    async def asset_statuses(self, request: Request) -> Response:
        """Readiness of many assets: one entry per id asked for, in order, unknown ones `not_found`."""
        query = request.query_params
        ids = [i.strip() for i in (query.get("asset_ids") or "").split(",") if i.strip()]
        if not ids:
            raise missing("asset_ids")
        if len(ids) > STATUSES_MAX_IDS:
            raise invalid(f"at most {STATUSES_MAX_IDS} asset_ids per request, got {len(ids)}", "asset_ids")
        unique = list(dict.fromkeys(ids))
        filters = "asset-statuses|" + ",".join(unique)  # a token only pages the id list it was made for
        start = decode_token(query.get("token"), filters)
        rows, next_index = page(unique, start, self.state.config.page_max, lambda _: True)
        now = self.state.clock()
        return page_response([self._status_entry(asset_id, now) for asset_id in rows], next_index, filters)

    def _status_entry(self, asset_id: str, now: float) -> dict[str, Any]:
        # `video_id`: HeyGen's read model is shared with video batches.
        asset = self.state.assets.get(asset_id, now)
        if asset is None:
            return {"video_id": asset_id, "status": "not_found", "error": None}
        return {"video_id": asset_id, "status": asset.status(now), "error": asset.error_json(now)}

    def _asset(self, asset_id: str) -> Asset:
        asset = self.state.assets.get(asset_id, self.state.clock())
        if asset is None:
            raise not_found("asset", asset_id)
        return asset


def _check_upload(asset: Asset, expected: str | None) -> None:
    """The bytes that arrived are the ones announced."""
    if asset.sha256 is None:
        raise invalid(f"nothing was uploaded to asset {asset.id!r}'s upload_url yet")
    for want in (expected, asset.declared_sha256):
        if want is not None and want != asset.sha256:
            raise invalid(
                f"checksum mismatch: expected {want}, the uploaded bytes hash to {asset.sha256}", "checksum_sha256"
            )
    if asset.declared_size is not None and asset.size_bytes != asset.declared_size:
        message = f"size mismatch: declared {asset.declared_size} bytes, received {asset.size_bytes}"
        raise invalid(message, "size_bytes")
