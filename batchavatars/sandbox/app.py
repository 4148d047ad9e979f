"""The sandbox's ASGI app: HeyGen's v3 avatar and asset routes, plus /_sandbox control routes.

All state lives in one SandboxState and is touched only from the event loop, between awaits,
so no locks are needed. Every operation is O(1) or O(log n) in the number of looks, except
deletes (O(looks in the group)) and list pages (O(page), plus any deleted rows skipped).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import re
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ._assets import (
    DIRECT_EXPIRES_SECONDS,
    DIRECT_MAX_BYTES,
    MULTIPART_MAX_BYTES,
    AssetStore,
    media_class,
    resolve_mime,
)
from ._avatars import AvatarStore, Group
from ._errors import ApiFailure, invalid, missing, not_found
from ._idempotency import IdempotencyStore
from ._multipart import MultipartError, boundary_of, read_file_field
from ._paging import decode_token, encode_token, page, parse_limit
from ._policy import RECEIVE_KEY, Handler, V3Policy, failure_response, json_response, retry_after
from ._ratelimit import TokenBucket
from ._stats import Stats
from ._validate import REJECT_MARK, AssetRef, CreateSpec, check_url, parse_create, parse_file
from .config import V3_ROUTES, SandboxConfig

_SHA256 = re.compile(r"[0-9a-f]{64}")
_LOOK_TYPES = frozenset({"digital_twin", "photo_avatar", "studio_avatar"})
_OWNERSHIPS = frozenset({"private", "public"})
FAIL_MARK = "[fail]"  # a look whose name holds this always fails training


class SandboxState:
    """The simulated account: its config, avatars, assets, limits and counters."""

    def __init__(self, config: SandboxConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = dataclasses.replace(config)  # a copy: creations spend its credits
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        cfg = self.config
        self.rng = random.Random(cfg.seed)
        self.avatars = AvatarStore()
        self.assets = AssetStore()
        self.stats = Stats()
        self.idempotency = IdempotencyStore()
        self.bucket = TokenBucket(cfg.rate_limit, cfg.bucket_size, self.clock())
        self.fault_routes = None if cfg.fault_routes is None else frozenset(cfg.fault_routes)

    def configure(self, changes: dict[str, Any]) -> SandboxConfig:
        cfg = self.config.updated(changes)
        self.config = cfg
        if "seed" in changes:
            self.rng = random.Random(cfg.seed)
        if "rate_limit" in changes or "rate_burst" in changes:
            self.bucket.reconfigure(cfg.rate_limit, cfg.bucket_size, self.clock())
        if "consent_approval_seconds" in changes:
            self.avatars.retime_approvals(cfg.consent_approval_seconds, self.clock())
        self.fault_routes = None if cfg.fault_routes is None else frozenset(cfg.fault_routes)
        return cfg

    def snapshot(self) -> dict[str, Any]:
        stats, avatars = self.stats, self.avatars
        now = self.clock()
        return {
            "requests": dict(stats.requests),
            "requests_total": sum(stats.requests.values()),
            "responses": {str(status): n for status, n in sorted(stats.responses.items())},
            "created": {
                "looks": avatars.created_looks,
                "groups": avatars.created_groups,
                "assets": self.assets.created,
            },
            "duplicates": avatars.duplicates,
            "rate_limited": {**stats.rate_limited, "total": sum(stats.rate_limited.values())},
            "faults": dict(stats.faults),
            "consent_requests": {
                "total": sum(avatars.consent_requests.values()),
                "by_group": dict(avatars.consent_requests),
            },
            "uploads": {**stats.uploads, "by_sha256": dict(stats.uploads_by_sha256)},
            "idempotent_replays": stats.idempotent_replays,
            "conflicts_409": stats.conflicts_409,
            "training_now": avatars.training.count(now),
            "training_peak": avatars.training.peak,
            "credits_remaining": self.config.credits,
        }


class SandboxApp:
    """ASGI entry point. Keeps the server's own `receive` in the scope, which is how a
    dropped-connection fault finds the transport to close, then hands over to Starlette."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.state = SandboxState(config or SandboxConfig())
        self._policy = V3Policy(self.state)
        self._handlers = _Handlers(self.state)
        self.starlette = Starlette(routes=self._routes(), exception_handlers={Exception: _internal_error})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[RECEIVE_KEY] = receive
        await self.starlette(scope, receive, send)

    def _routes(self) -> list[Route]:
        h = self._handlers
        v3: list[tuple[str, Handler]] = [
            ("POST /v3/avatars", h.create_avatar),
            ("GET /v3/avatars", h.list_groups),
            ("GET /v3/avatars/looks", h.list_looks),
            ("GET /v3/avatars/looks/{look_id}", h.get_look),
            ("PATCH /v3/avatars/looks/{look_id}", h.rename_look),
            ("DELETE /v3/avatars/looks/{look_id}", h.delete_look),
            ("GET /v3/avatars/{group_id}", h.get_group),
            ("DELETE /v3/avatars/{group_id}", h.delete_group),
            ("POST /v3/avatars/{group_id}/consent", h.request_consent),
            ("POST /v3/assets", h.upload_asset),
            ("POST /v3/assets/direct-uploads", h.create_direct_upload),
            ("POST /v3/assets/{asset_id}/complete", h.complete_asset),
        ]
        assert tuple(template for template, _ in v3) == V3_ROUTES, "keep config.V3_ROUTES in step"
        routes = [self._v3_route(template, handler) for template, handler in v3]
        control: list[tuple[str, Handler]] = [
            ("PUT /_sandbox/upload/{asset_id}", h.put_upload),
            ("GET /_sandbox/stats", h.get_stats),
            ("GET /_sandbox/config", h.get_config),
            ("POST /_sandbox/config", h.set_config),
            ("POST /_sandbox/reset", h.reset),
        ]
        for template, handler in control:
            method, path = template.split(" ", 1)
            routes.append(Route(path, _control(handler), methods=[method]))
        every_method = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        routes.append(Route("/{path:path}", self._unknown_route, methods=every_method))
        return routes

    def _v3_route(self, template: str, handler: Handler) -> Route:
        method, path = template.split(" ", 1)
        run = self._policy.run
        mutation = method != "GET"

        async def endpoint(request: Request) -> Response:
            return await run(request, template, handler, mutation)

        return Route(path, endpoint, methods=[method])

    async def _unknown_route(self, request: Request) -> Response:
        self.state.stats.requests[f"{request.method} (unknown route)"] += 1
        failure = ApiFailure(404, "not_found", f"no route {request.method} {request.url.path}")
        return failure_response(failure)


def _control(handler: Handler) -> Handler:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiFailure as failure:
            return failure_response(failure)

    return endpoint


async def _internal_error(request: Request, exc: Exception) -> Response:
    return failure_response(ApiFailure(500, "internal_error", f"sandbox bug: {type(exc).__name__}: {exc}"))


async def _json_object(request: Request, *, optional: bool = False) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        if optional:
            return {}
        raise ApiFailure(400, "validation_error", "a JSON object body is required")
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiFailure(400, "validation_error", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiFailure(400, "validation_error", "the body must be a JSON object")
    return body


def _checksum(value: Any, param: str = "checksum_sha256") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _SHA256.fullmatch(value.lower()):
        raise invalid(f"{param} must be 64 hex digits (SHA-256)", param)
    return value.lower()


class _Handlers:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    # --- avatars -------------------------------------------------------------------------

    async def create_avatar(self, request: Request) -> Response:
        state = self.state
        if state.config.forbidden:
            raise ApiFailure(403, "forbidden", "this account's API tier does not include avatar creation")
        spec = parse_create(await _json_object(request))
        now = state.clock()
        self._check_assets(spec.assets)
        group = self._target_group(spec, now)

        cfg = state.config
        if cfg.credits is not None and cfg.credits <= 0:
            raise ApiFailure(402, "insufficient_credit", "not enough credits to create an avatar")
        cap = cfg.max_concurrent_training
        training = state.avatars.training
        if cap is not None and training.count(now) >= cap:
            state.stats.rate_limited["concurrency"] += 1
            next_end = training.next_end(now)
            wait = next_end - now if next_end is not None else 1.0
            raise ApiFailure(
                429,
                "rate_limit_exceeded",
                f"concurrent job limit reached: {cap} avatars are already training; retry when one finishes",
                headers={"Retry-After": retry_after(wait, cfg.retry_after_format)},
            )

        rng = state.rng
        duration = cfg.training_seconds
        if cfg.training_jitter:
            duration = max(0.0, duration * (1.0 + cfg.training_jitter * rng.uniform(-1.0, 1.0)))
        doomed = FAIL_MARK in spec.name or bool(cfg.training_failure_rate and rng.random() < cfg.training_failure_rate)
        look = state.avatars.create(spec, group, duration=duration, doomed=doomed, now=now)
        if cfg.credits is not None:
            cfg.credits -= 1
        data = {"avatar_item": look.to_json(now), "avatar_group": look.group.to_json(now)}
        return json_response(200, {"data": data})

    def _check_assets(self, refs: list[AssetRef]) -> None:
        for ref in refs:
            asset = self.state.assets.get(ref.asset_id)
            param = f"{ref.param}.asset_id"
            if asset is None:
                raise not_found("asset", ref.asset_id, param)
            if asset.status != "completed":
                raise invalid(f"asset {ref.asset_id!r} is not usable: its upload was never completed", param)
            if media_class(asset.mime_type) != ref.media:
                raise invalid(f"asset {ref.asset_id!r} is {asset.mime_type}; {ref.param} needs an {ref.media}", param)

    def _target_group(self, spec: CreateSpec, now: float) -> Group | None:
        """The group the new look joins; None for a new group."""
        avatars = self.state.avatars
        group = None
        if spec.avatar_group_id is not None:
            group = avatars.group(spec.avatar_group_id)
            if group is None:
                raise not_found("avatar group", spec.avatar_group_id, "avatar_group_id")
            if spec.kind == "digital_twin" and not group.is_twin:
                raise invalid("a digital twin can only join a digital-twin avatar group", "avatar_group_id")
        if spec.avatar_id is not None:
            parent = avatars.look(spec.avatar_id)
            if parent is None:
                raise not_found("look", spec.avatar_id, "avatar_id")
            status = parent.status(now)
            if status != "completed":
                raise invalid(
                    f"look {spec.avatar_id!r} has no usable image (status {status}): "
                    "a new look can only be made from a look whose training has completed",
                    "avatar_id",
                )
            if group is not None and parent.group is not group:
                raise invalid(f"look {spec.avatar_id!r} does not belong to avatar group {group.id!r}", "avatar_id")
            group = parent.group
        return group

    async def get_look(self, request: Request) -> Response:
        look_id = request.path_params["look_id"]
        look = self.state.avatars.look(look_id)
        if look is None:
            raise not_found("look", look_id)
        return json_response(200, {"data": look.to_json(self.state.clock())})

    async def get_group(self, request: Request) -> Response:
        group = self._group(request.path_params["group_id"])
        return json_response(200, {"data": group.to_json(self.state.clock())})

    async def list_looks(self, request: Request) -> Response:
        state = self.state
        query = request.query_params
        ownership = _ownership(query.get("ownership"))
        avatar_type = query.get("avatar_type") or None
        if avatar_type is not None and avatar_type not in _LOOK_TYPES:
            raise invalid(f"avatar_type must be one of {', '.join(sorted(_LOOK_TYPES))}", "avatar_type")
        group_id = query.get("group_id") or None
        limit = parse_limit(query.get("limit"), state.config.page_max)
        filters = f"looks|{group_id}|{avatar_type}|{ownership}"
        start = decode_token(query.get("token"), filters)
        avatars = state.avatars
        items: list[Any]
        if group_id is not None:
            items = self._group(group_id, param="group_id").looks
        elif avatar_type is not None:
            items = avatars.looks_by_type.get(avatar_type, [])
        else:
            items = avatars.looks
        if ownership == "public":
            items = []  # the sandbox has no catalogue of public (stock) avatars

        def keep(look: Any) -> bool:
            return not look.deleted and (avatar_type is None or look.avatar_type == avatar_type)

        rows, next_index = page(items, start, limit, keep)
        now = state.clock()
        return _page_response([look.to_json(now) for look in rows], next_index, filters)

    async def list_groups(self, request: Request) -> Response:
        state = self.state
        query = request.query_params
        ownership = _ownership(query.get("ownership"))
        limit = parse_limit(query.get("limit"), state.config.page_max)
        filters = f"groups|{ownership}"
        start = decode_token(query.get("token"), filters)
        items = [] if ownership == "public" else state.avatars.groups
        rows, next_index = page(items, start, limit, lambda group: not group.deleted)
        now = state.clock()
        return _page_response([group.to_json(now) for group in rows], next_index, filters)

    async def rename_look(self, request: Request) -> Response:
        look_id = request.path_params["look_id"]
        look = self.state.avatars.look(look_id)
        if look is None:
            raise not_found("look", look_id)
        body = await _json_object(request)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise missing("name")
        if REJECT_MARK in name:
            raise invalid(f"name contains {REJECT_MARK}, which the sandbox always rejects", "name")
        look.name = name
        return json_response(200, {"data": look.to_json(self.state.clock())})

    async def delete_look(self, request: Request) -> Response:
        look_id = request.path_params["look_id"]
        look = self.state.avatars.look(look_id)
        if look is None:
            raise not_found("look", look_id)
        group_deleted = self.state.avatars.delete_look(look)
        return json_response(200, {"data": {"id": look_id, "deleted": True, "group_deleted": group_deleted}})

    async def delete_group(self, request: Request) -> Response:
        group = self._group(request.path_params["group_id"])
        self.state.avatars.delete_group(group)
        return json_response(200, {"data": {"id": group.id, "deleted": True}})

    async def request_consent(self, request: Request) -> Response:
        state = self.state
        group = self._group(request.path_params["group_id"])
        if not group.is_twin:
            raise invalid(f"avatar group {group.id!r} is not a digital twin; only digital twins need consent")
        body = await _json_object(request, optional=True)
        if body.get("reroute_url") is not None:
            check_url(body["reroute_url"], "reroute_url")
        consent_video = body.get("consent_video")
        now = state.clock()
        delay = state.config.consent_approval_seconds
        if consent_video is not None:
            # Enterprise: the recorded consent comes with the request, so no human step is awaited.
            self._check_assets(parse_file(consent_video, "video", "consent_video"))
            url = None
            state.avatars.request_consent(group, now, delay, video=True)
        else:
            url = state.avatars.request_consent(group, now, delay)
        data: dict[str, Any] = {"avatar_group": group.to_json(now)}
        if url is not None:
            data["url"] = url
        return json_response(200, {"data": data})

    def _group(self, group_id: str, param: str | None = None) -> Group:
        group = self.state.avatars.group(group_id)
        if group is None:
            raise not_found("avatar group", group_id, param)
        return group

    # --- assets --------------------------------------------------------------------------

    async def upload_asset(self, request: Request) -> Response:
        state = self.state
        try:
            boundary = boundary_of(request.headers.get("content-type"))
            part = await read_file_field(request.stream(), boundary, "file")
        except MultipartError as exc:
            raise ApiFailure(400, "validation_error", str(exc), "file") from None
        if part is None:
            raise missing("file")
        if part.size > MULTIPART_MAX_BYTES:
            # The doc's error table has no 413: an oversized file is "the item is wrong", so 400.
            raise invalid(f"file is {part.size} bytes; the limit is 32 MB (use a direct upload)", "file")
        mime_type = resolve_mime(part.content_type, part.filename)
        if mime_type is None:
            raise invalid("unsupported file type; allowed: png, jpeg, mp4, webm, mp3, wav, pdf, srt", "file")
        asset = state.assets.add_uploaded(mime_type, part.filename or "upload", part.size, part.sha256)
        state.stats.upload("multipart", part.sha256)
        return json_response(200, {"data": asset.to_json()})

    async def create_direct_upload(self, request: Request) -> Response:
        state = self.state
        body = await _json_object(request)
        filename, content_type, size = body.get("filename"), body.get("content_type"), body.get("size_bytes")
        if not isinstance(filename, str) or not filename:
            raise missing("filename")
        if not isinstance(content_type, str) or not content_type:
            raise missing("content_type")
        if size is None:
            raise missing("size_bytes")
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise invalid("size_bytes must be a positive integer", "size_bytes")
        if size > DIRECT_MAX_BYTES:
            raise invalid(f"size_bytes {size} exceeds the limit of {DIRECT_MAX_BYTES}", "size_bytes")
        checksum = _checksum(body.get("checksum_sha256"))
        mime_type = resolve_mime(content_type, filename)
        if mime_type is None:
            raise invalid("unsupported file type; allowed: png, jpeg, mp4, webm, mp3, wav, pdf, srt", "content_type")
        asset = state.assets.add_direct(mime_type, filename, content_type, size, checksum, state.clock())
        base = str(request.base_url).rstrip("/")
        data = {
            "asset_id": asset.id,
            "upload_url": f"{base}/_sandbox/upload/{asset.id}?sig={asset.signature}",
            "upload_headers": {"Content-Type": content_type, "x-sandbox-signature": asset.signature},
            "expires_in_seconds": DIRECT_EXPIRES_SECONDS,
            "max_bytes": DIRECT_MAX_BYTES,
            "status": "pending_upload",
        }
        return json_response(200, {"data": data})

    async def put_upload(self, request: Request) -> Response:
        """The storage side of a direct upload: not a /v3 route, so no auth, limits or faults."""
        state = self.state
        state.stats.requests["PUT /_sandbox/upload/{asset_id}"] += 1
        asset = state.assets.get(request.path_params["asset_id"])
        headers = request.headers
        problem = None
        if asset is None or asset.signature is None:
            problem = ApiFailure(404, "not_found", "no pending direct upload at this URL")
        elif (
            request.query_params.get("sig") != asset.signature
            or headers.get("x-sandbox-signature") != asset.signature
            or headers.get("content-type") != asset.content_type
        ):
            problem = ApiFailure(403, "forbidden", "signature mismatch: send upload_headers verbatim to upload_url")
        elif asset.status == "completed":
            problem = ApiFailure(403, "forbidden", "this upload was already completed")
        elif state.clock() > (asset.expires_at or 0):
            problem = ApiFailure(403, "forbidden", "this upload URL has expired")
        hasher = hashlib.sha256()
        size = 0
        async for chunk in request.stream():  # read even a refused body, so the connection stays usable
            if problem is None and size <= DIRECT_MAX_BYTES:
                hasher.update(chunk)
            size += len(chunk)
        if problem is not None:
            raise problem
        assert asset is not None
        if size > DIRECT_MAX_BYTES:
            raise invalid(f"{size} bytes exceed max_bytes {DIRECT_MAX_BYTES}")
        asset.size_bytes, asset.sha256 = size, hasher.hexdigest()
        state.stats.upload("direct", asset.sha256)
        return Response(b"", 200, {"ETag": f'"{asset.sha256}"'})

    async def complete_asset(self, request: Request) -> Response:
        asset_id = request.path_params["asset_id"]
        asset = self.state.assets.get(asset_id)
        if asset is None:
            raise not_found("asset", asset_id)
        body = await _json_object(request, optional=True)
        checksum = _checksum(body.get("checksum_sha256"))
        if asset.sha256 is None:
            raise invalid(f"nothing was uploaded to asset {asset_id!r}'s upload_url yet")
        for expected in (checksum, asset.declared_sha256):
            if expected is not None and expected != asset.sha256:
                raise invalid(
                    f"checksum mismatch: expected {expected}, the uploaded bytes hash to {asset.sha256}",
                    "checksum_sha256",
                )
        if asset.declared_size is not None and asset.size_bytes != asset.declared_size:
            message = f"size mismatch: declared {asset.declared_size} bytes, received {asset.size_bytes}"
            raise invalid(message, "size_bytes")
        asset.status = "completed"
        return json_response(200, {"data": {**asset.to_json(), "status": "completed"}})

    # --- control -------------------------------------------------------------------------

    async def get_stats(self, request: Request) -> Response:
        return json_response(200, self.state.snapshot())

    async def get_config(self, request: Request) -> Response:
        return json_response(200, self.state.config.to_dict())

    async def set_config(self, request: Request) -> Response:
        changes = await _json_object(request)
        try:
            cfg = self.state.configure(changes)
        except (ValueError, TypeError) as exc:
            raise invalid(str(exc)) from None
        return json_response(200, cfg.to_dict())

    async def reset(self, request: Request) -> Response:
        self.state.reset()
        return json_response(200, {"reset": True})


def _ownership(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if raw not in _OWNERSHIPS:
        raise invalid("ownership must be private or public", "ownership")
    return raw


def _page_response(rows: list[dict[str, Any]], next_index: int | None, filters: str) -> Response:
    token = encode_token(next_index, filters) if next_index is not None else None
    return json_response(200, {"data": rows, "has_more": token is not None, "next_token": token})
