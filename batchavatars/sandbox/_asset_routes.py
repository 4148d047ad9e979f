"""The /v3/assets routes, and the pre-signed "storage" URL a direct upload PUTs to."""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import Response

from ._assets import MULTIPART_LIMIT_BYTES, Asset, resolve_mime
from ._envelope import ApiFailure, invalid, missing, not_found
from ._http import Routes, checksum, json_object
from ._multipart import MultipartError, boundary_of, read_file_field
from ._policy import json_response

_UNSUPPORTED = "unsupported file type; allowed: png, jpeg, mp4, webm, mp3, wav, pdf, srt"


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
        ready_at = state.clock() + state.config.asset_processing_seconds
        asset = state.assets.add_uploaded(mime_type, part.filename or "upload", part.size, part.sha256, ready_at)
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
            mime_type, filename, content_type, size, sha256, expires_at=expires_at, max_bytes=max_bytes
        )
        base = str(request.base_url).rstrip("/")
        data = {
            "asset_id": asset.id,
            "upload_url": f"{base}/_sandbox/upload/{asset.id}?sig={asset.signature}",
            "upload_headers": {"Content-Type": content_type, "x-sandbox-signature": asset.signature},
            "expires_in_seconds": int(ttl) if ttl == int(ttl) else ttl,
            "max_bytes": max_bytes,
            "status": "pending_upload",
        }
        return json_response(200, {"data": data})

    async def put_upload(self, request: Request) -> Response:
        """The storage side of a direct upload: not a /v3 route, so no auth, limits or faults."""
        state = self.state
        state.stats.requests["PUT /_sandbox/upload/{asset_id}"] += 1
        asset = state.assets.get(request.path_params["asset_id"])
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
        asset = self._asset(request.path_params["asset_id"])
        body = await json_object(request, optional=True)
        expected = checksum(body.get("checksum_sha256"))
        if not asset.finished:
            asset.complete_calls += 1
            if asset.complete_calls <= state.config.complete_conflicts:
                state.stats.complete_conflicts += 1  # storage has not caught up with the PUT yet
                raise ApiFailure(409, "upload_not_found", "uploaded object not found yet; retry shortly")
            _check_upload(asset, expected)
            asset.ready_at = state.clock() + state.config.asset_processing_seconds
        elif expected is not None and expected != asset.sha256:
            _check_upload(asset, expected)
        return json_response(200, {"data": {**asset.to_json(), "status": asset.status(state.clock())}})

    async def get_asset(self, request: Request) -> Response:
        asset = self._asset(request.path_params["asset_id"])
        return json_response(200, {"data": asset.status_json(self.state.clock())})

    async def asset_statuses(self, request: Request) -> Response:
        """Many assets at once; ids the account does not have are left out (GET one to confirm)."""
        raw = request.query_params.get("asset_ids") or ""
        ids = [i.strip() for i in raw.split(",") if i.strip()]
        if not ids:
            raise missing("asset_ids")
        page_max = self.state.config.page_max
        if len(ids) > page_max:
            raise invalid(f"at most {page_max} asset_ids per request, got {len(ids)}", "asset_ids")
        now = self.state.clock()
        assets = [a for a in map(self.state.assets.get, dict.fromkeys(ids)) if a is not None]
        return json_response(200, {"data": [asset.status_json(now) for asset in assets]})

    def _asset(self, asset_id: str) -> Asset:
        asset = self.state.assets.get(asset_id)
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
