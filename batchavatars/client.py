"""HeyGen v3 over httpx: one method per endpoint, typed exceptions, no retries.

Retrying is the scheduler's decision (retry.py); this module only says what happened. The
transport is injectable so tests can swap the network; the API key lives in the default headers
of the httpx client and nowhere else.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from .apierrors import (
    HttpError,
    NotFound,
    Rejected,
    RequestTimeout,
    ServerError,
    TransportError,
    Unreachable,
    classify,
    parse_retry_after,
)
from .events import ResponseHook

DEFAULT_BASE_URL = "https://api.heygen.com"

# Per-operation timeouts, after HeyGen's own figures (API notes, "Server latency").
CONNECT_TIMEOUT = 10.0  # a loopback or regional connect that takes longer is not coming
READ_TIMEOUT = 30.0  # reads answer under 2 s at p99; the official CLI also waits 30 s
WRITE_TIMEOUT = 120.0  # creations take up to ~30 s at p99; the official CLI waits 120 s
UPLOAD_TIMEOUT = 600.0  # hundreds of MB of training footage; the official CLI gives uploads 10 min

# POST /v3/assets takes "at most 32 MB", not defined as MiB: multipart only below 32,000,000 bytes,
# larger files through the direct-upload flow (API notes, "Direct uploads").
MULTIPART_LIMIT = 32_000_000
ASSET_IDS_MAX = 100  # GET /v3/assets/statuses takes up to this many ids a call
CHUNK = 1024 * 1024  # streamed uploads and hashing read files in blocks of this size


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = CONNECT_TIMEOUT
    read: float = READ_TIMEOUT
    write: float = WRITE_TIMEOUT
    upload: float = UPLOAD_TIMEOUT

    def for_read(self) -> httpx.Timeout:
        return httpx.Timeout(self.read, connect=self.connect)

    def for_write(self) -> httpx.Timeout:
        return httpx.Timeout(self.write, connect=self.connect)

    def for_upload(self) -> httpx.Timeout:
        return httpx.Timeout(self.upload, connect=self.connect)


@dataclass(frozen=True, slots=True)
class Created:
    look: dict[str, Any] | None  # None: a 2xx whose avatar_item was null (look it up by name and group)
    group: dict[str, Any]
    # The server says this answer is a replay of an earlier request (`Idempotent-Replayed: true`,
    # as the IETF draft and Stripe name it). HeyGen documents no such marker: absent, we count it made.
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    next_token: str | None


@dataclass(slots=True)
class CallStats:
    """What this client sent and what came back; read by progress display and benchmarks."""

    requests: int = 0
    rate_limited: int = 0


class HeyGenClient:
    """HeyGen v3 over one httpx client: one method per endpoint, no retries. Owns the connection
    pool and the API key (in its default headers, never elsewhere); counts requests and 429s."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeouts: Timeouts = Timeouts(),
        max_connections: int = 100,
        auth_header: str = "X-Api-Key",
        on_response: ResponseHook | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._on_response = on_response  # request logging (-v): see ResponseHook
        self.timeouts = timeouts
        self.stats = CallStats()
        self._transport = transport  # reused, without our headers, for pre-signed upload URLs
        headers = {"Accept": "application/json", "User-Agent": "batchavatars/0.1"}
        if auth_header.lower() == "authorization":
            headers["Authorization"] = f"Bearer {api_key}"
        else:
            headers[auth_header] = api_key
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            transport=transport,
            timeout=timeouts.for_read(),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> HeyGenClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- avatars -------------------------------------------------------------------------------

    async def create_avatar(self, body: dict[str, Any], idempotency_key: str) -> Created:
        answer, response = await self._send(
            "POST",
            "/v3/avatars",
            json=body,
            idempotency_key=idempotency_key,
            timeout=self.timeouts.for_write(),
            route="POST /v3/avatars",
        )
        data = answer.get("data")
        data = data if isinstance(data, dict) else {}
        look, group = data.get("avatar_item"), data.get("avatar_group") or {}
        if not isinstance(group, dict):
            group = {}
        if not isinstance(look, dict) or not look.get("id"):
            if look is not None or not group.get("id"):
                raise TransportError("POST /v3/avatars: answer lacks avatar_item.id")
            look = None  # HeyGen may answer a null avatar_item: the caller looks it up by name and group
        replayed = response.headers.get("idempotent-replayed", "").lower() == "true"
        return Created(look=look, group=group, replayed=replayed)

    async def get_look(self, look_id: str) -> dict[str, Any]:
        look = await self._call("GET", f"/v3/avatars/looks/{_seg(look_id)}", route="GET /v3/avatars/looks/{id}")
        if not isinstance(look, dict):
            raise TransportError("GET /v3/avatars/looks/{id}: answer is not a look")
        return look

    async def get_group(self, group_id: str) -> dict[str, Any]:
        group = await self._call("GET", f"/v3/avatars/{_seg(group_id)}", route="GET /v3/avatars/{id}")
        if not isinstance(group, dict):
            raise TransportError("GET /v3/avatars/{id}: answer is not a group")
        return group

    async def rename_look(self, look_id: str, name: str) -> None:
        """PATCH /v3/avatars/looks/{id}: photo and digital-twin looks only."""
        await self._call(
            "PATCH",
            f"/v3/avatars/looks/{_seg(look_id)}",
            json={"name": name},
            timeout=self.timeouts.for_write(),
            route="PATCH /v3/avatars/looks/{id}",
            envelope=False,
        )

    async def delete_look(self, look_id: str) -> bool:
        """DELETE /v3/avatars/looks/{id} (a group goes with its last look). False: it was gone already."""
        try:
            await self._call(
                "DELETE",
                f"/v3/avatars/looks/{_seg(look_id)}",
                timeout=self.timeouts.for_write(),
                route="DELETE /v3/avatars/looks/{id}",
                envelope=False,
            )
        except NotFound:
            return False
        return True

    async def get_me(self) -> dict[str, Any]:
        """The account the key belongs to (GET /v3/users/me)."""
        me = await self._call("GET", "/v3/users/me", route="GET /v3/users/me")
        if not isinstance(me, dict):
            raise TransportError("GET /v3/users/me: answer is not an object")
        return me

    async def list_looks(
        self, *, group_id: str | None = None, token: str | None = None, limit: int = 50, ownership: str = "private"
    ) -> Page:
        params: dict[str, Any] = {"ownership": ownership, "limit": limit}
        if group_id:
            params["group_id"] = group_id
        if token:
            params["token"] = token
        return await self._page("/v3/avatars/looks", params, route="GET /v3/avatars/looks")

    async def list_groups(self, *, token: str | None = None, limit: int = 50, ownership: str = "private") -> Page:
        params: dict[str, Any] = {"ownership": ownership, "limit": limit}
        if token:
            params["token"] = token
        return await self._page("/v3/avatars", params, route="GET /v3/avatars")

    async def request_consent(
        self, group_id: str, idempotency_key: str, reroute_url: str | None = None
    ) -> tuple[dict[str, Any], str | None]:
        body = {"reroute_url": reroute_url} if reroute_url else {}
        data = await self._call(
            "POST",
            f"/v3/avatars/{_seg(group_id)}/consent",
            json=body,
            idempotency_key=idempotency_key,
            timeout=self.timeouts.for_write(),
            route="POST /v3/avatars/{id}/consent",
        )
        if not isinstance(data, dict):
            raise TransportError("POST /v3/avatars/{id}/consent: answer is not an object")
        url = data.get("url")
        return data.get("avatar_group") or {}, str(url) if url else None

    # -- assets --------------------------------------------------------------------------------

    async def upload_multipart(self, path: Path, content_type: str, idempotency_key: str) -> str:
        """POST /v3/assets (files below MULTIPART_LIMIT); returns the asset id. Streams the file."""
        with path.open("rb") as fh:
            files = {"file": (path.name, fh, content_type)}
            data = await self._call(
                "POST",
                "/v3/assets",
                files=files,
                idempotency_key=idempotency_key,
                timeout=self.timeouts.for_upload(),
                route="POST /v3/assets",
            )
        return _asset_id(data, "POST /v3/assets")

    async def direct_upload_ticket(
        self, path: Path, content_type: str, size: int, sha256: str, idempotency_key: str
    ) -> dict[str, Any]:
        """POST /v3/assets/direct-uploads: asset_id, upload_url, upload_headers, max_bytes, ..."""
        ticket = await self._call(
            "POST",
            "/v3/assets/direct-uploads",
            json={"filename": path.name, "content_type": content_type, "size_bytes": size, "checksum_sha256": sha256},
            idempotency_key=idempotency_key,
            timeout=self.timeouts.for_write(),
            route="POST /v3/assets/direct-uploads",
        )
        _asset_id(ticket, "POST /v3/assets/direct-uploads")
        if not isinstance(ticket.get("upload_url"), str):
            raise TransportError("POST /v3/assets/direct-uploads: answer lacks upload_url")
        return dict(ticket)

    async def put_upload(self, ticket: dict[str, Any], path: Path, size: int, content_type: str) -> None:
        """PUT the bytes to the ticket's pre-signed URL, with its headers verbatim and no API key. Where
        they name no Content-Type, the ticket's `content_type` (else the one asked for) is sent, as
        HeyGen's own uploader does: the signature may cover it."""
        headers = {str(k): str(v) for k, v in (ticket.get("upload_headers") or {}).items()}
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = str(ticket.get("content_type") or content_type)
        await self._put_bytes(str(ticket["upload_url"]), headers, path, size)

    async def complete_upload(self, asset_id: str, sha256: str) -> dict[str, Any]:
        """POST /v3/assets/{id}/complete: idempotent by itself, so no Idempotency-Key (HeyGen documents
        none there). Returns the asset as answered, its `status` (processing, completed, ...) among it.
        A 409 means "uploaded object not found yet": raised as NotReady, which the retry policy waits out."""
        data = await self._call(
            "POST",
            f"/v3/assets/{_seg(asset_id)}/complete",
            json={"checksum_sha256": sha256},
            timeout=self.timeouts.for_write(),
            route="POST /v3/assets/{id}/complete",
            complete=True,
        )
        return data if isinstance(data, dict) else {}

    async def asset_statuses(self, asset_ids: list[str], *, token: str | None = None) -> Page:
        """GET /v3/assets/statuses: where HeyGen reports an asset's readiness, up to ASSET_IDS_MAX ids
        a call. Each row names its asset in `video_id` (the read model is shared with video batches);
        `status` is queued | processing | completed | failed | not_found. (GET /v3/assets/{id} is the
        asset's metadata and carries no status.)"""
        params: dict[str, Any] = {"asset_ids": ",".join(asset_ids)}
        if token:
            params["token"] = token
        return await self._page("/v3/assets/statuses", params, route="GET /v3/assets/statuses")

    async def _put_bytes(self, url: str, headers: dict[str, str], path: Path, size: int) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            with path.open("rb") as fh:
                while block := fh.read(CHUNK):
                    yield block

        headers.setdefault("Content-Length", str(size))
        # The upload URL is pre-signed and may live on another host: send no API key there.
        async with httpx.AsyncClient(transport=self._transport, timeout=self.timeouts.for_upload()) as raw:
            try:
                response = await raw.put(url, content=chunks(), headers=headers)
            except httpx.TimeoutException as exc:
                raise RequestTimeout(f"upload timed out: {type(exc).__name__}") from None
            except httpx.TransportError as exc:
                raise TransportError(f"upload failed: {type(exc).__name__}") from None
        self._count("PUT upload_url")
        if response.status_code >= 500:
            raise ServerError(
                status=response.status_code,
                code=f"http_{response.status_code}",
                message="the upload URL's server failed",
            )
        if response.status_code >= 300:
            # A pre-signed URL's refusal (expired, signature, finished) is about this upload,
            # never about the API key: it must not stop the run like a 403 from the API would.
            raise Rejected(
                status=response.status_code,
                code="upload_rejected",
                message=f"the upload URL refused the file (HTTP {response.status_code})",
            )

    # -- plumbing ------------------------------------------------------------------------------

    async def _page(self, path: str, params: dict[str, Any], route: str) -> Page:
        body = await self._call("GET", path, params=params, route=route, envelope=False)
        data = body.get("data")
        items = [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []
        token = body.get("next_token") if body.get("has_more") else None
        return Page(items=items, next_token=str(token) if token else None)

    def _count(self, route: str) -> None:
        self.stats.requests += 1

    async def _call(
        self,
        method: str,
        path: str,
        *,
        route: str,
        envelope: bool = True,
        **request: Any,
    ) -> Any:
        """`_send` (its keywords pass through), then the envelope's `data` (or the whole body
        with envelope=False)."""
        body, _ = await self._send(method, path, route=route, **request)
        if not envelope:
            return body
        data = body.get("data")
        if data is None:
            raise TransportError(f"{route}: answer has no 'data'")
        return data

    async def _send(
        self,
        method: str,
        path: str,
        *,
        route: str,
        json: Any = None,
        params: Any = None,
        files: Any = None,
        idempotency_key: str | None = None,
        timeout: httpx.Timeout | None = None,
        complete: bool = False,
    ) -> tuple[dict[str, Any], httpx.Response]:
        """One request; a 2xx answer's JSON object and the response, or the error it maps to."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        self._count(route)
        started = time.monotonic()
        try:
            response = await self._http.request(
                method,
                path,
                json=json,
                params=params,
                files=files,
                headers=headers,
                timeout=timeout or self.timeouts.for_read(),
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise Unreachable(f"{route}: cannot connect to {self.base_url} ({type(exc).__name__})") from None
        except httpx.TimeoutException as exc:
            raise RequestTimeout(f"{route} timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise TransportError(f"{route}: connection failed ({type(exc).__name__})") from None
        if self._on_response is not None:
            self._tell(route, response, started)
        if response.status_code >= 400:
            error = _http_error(response, complete=complete)
            if isinstance(error, HttpError) and error.status == 429:
                self.stats.rate_limited += 1
            raise error
        try:
            body = response.json()
        except ValueError:
            raise TransportError(f"{route}: answer is not JSON (HTTP {response.status_code})") from None
        if not isinstance(body, dict):
            raise TransportError(f"{route}: answer is not a JSON object")
        return body, response

    def _tell(self, route: str, response: httpx.Response, started: float) -> None:
        assert self._on_response is not None
        request_id = response.headers.get("x-request-id") or response.headers.get("x-heygen-request-id")
        method, _, path = route.partition(" ")
        ms = (time.monotonic() - started) * 1000
        self._on_response(method, path or route, response.status_code, ms, request_id)


def _http_error(response: httpx.Response, *, complete: bool = False) -> HttpError:
    """The error an answer maps to. `complete`: a /complete call, whose 409 means the uploaded
    object is not visible yet (API notes): retried, never a failure of the item."""
    envelope: dict[str, Any] = {}
    try:
        err = response.json().get("error")
        envelope = err if isinstance(err, dict) else {}
    except (ValueError, AttributeError):
        pass
    status = response.status_code
    code = str(envelope.get("code") or "") or f"http_{status}"
    cls = classify(status, code, conflict_means_not_ready=complete)
    return cls(
        status=status,
        code=code,
        message=str(envelope.get("message") or "") or response.reason_phrase or "no message",
        request_id=response.headers.get("x-request-id") or response.headers.get("x-heygen-request-id"),
        retry_after=parse_retry_after(response.headers.get("retry-after")),
        param=_text(envelope.get("param")),
        doc_url=_text(envelope.get("doc_url")),
    )


def _seg(resource_id: str) -> str:
    """An id as one path segment: escaped, so an id holding `/`, `?` or `#` cannot change the route."""
    return quote(resource_id, safe="")


def _text(value: object) -> str | None:
    return str(value) if isinstance(value, str | int) and str(value) else None


def _asset_id(data: Any, route: str) -> str:
    if not isinstance(data, dict) or not data.get("asset_id"):
        raise TransportError(f"{route}: answer lacks asset_id")
    return str(data["asset_id"])
