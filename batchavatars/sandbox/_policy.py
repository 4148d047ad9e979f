"""What happens around every /v3 request, in this order:

1. infrastructure faults decided before any work: drop, 5xx, burst 429 (none are recorded
   under an Idempotency-Key, so a retry does the work);
2. authentication (401), then the account's token bucket (429);
3. Idempotency-Key (mutations HeyGen documents it for: not /complete): replay a recorded
   answer, 409 while the first request is in flight, else reserve the key;
4. a slow fault (sleep before handling), the handler, then the configured latency, all
   while the key stays in flight;
5. record the answer under the key, unless it is transient (409, 429, 5xx) or about the
   account rather than the request (401, 402, 403), so that a retry with the same key can
   still succeed once the cause is gone;
6. a lost-response fault: the work is done and recorded, the client never gets the answer.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import anyio
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ._envelope import ApiFailure, dumps
from ._idempotency import IN_FLIGHT, KEY_PATTERN, Recorded
from ._state import SandboxState
from ._stats import Stats

Handler = Callable[[Request], Awaitable[Response]]
JSON = "application/json"
RECEIVE_KEY = "batchavatars.sandbox.receive"  # the server's own receive, put in the scope by SandboxApp
_NOT_RECORDED = frozenset({401, 402, 403, 409, 429})
_SERVER_ERRORS = {500: "internal_error", 502: "bad_gateway", 503: "service_unavailable"}


class ConnectionDropped(Exception):
    """Raised to break a connection when the server gives no transport to close (not uvicorn)."""


def json_response(status: int, payload: object, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(payload), status, headers, JSON)


def failure_response(failure: ApiFailure, not_found_code: str = "not_found") -> Response:
    """The error envelope; every 404 carries the account's `not_found_code`."""
    if failure.status == 404:
        failure.code = not_found_code
    return Response(failure.body(), failure.status, failure.headers or None, JSON)


def retry_after(seconds: float, style: str) -> str:
    """Whole seconds rounded up (at least 1), or the HTTP date that many seconds ahead."""
    whole = max(1, math.ceil(seconds - 1e-9))
    if style == "date":
        when = datetime.fromtimestamp(math.ceil(time.time()) + whole, tz=UTC)
        return email.utils.format_datetime(when, usegmt=True)
    return str(whole)


class Drop(Response):
    """Ends the exchange without a complete HTTP answer.

    With `partial`, its status line, headers (a Content-Length for the whole body) and half
    its body go out first; else nothing does. Then the connection is closed.
    """

    def __init__(self, partial: Response | None = None) -> None:
        self.partial = partial
        self.status_code = 0  # never reaches the client
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.partial is not None:
            body = self.partial.body
            start = {"type": "http.response.start", "status": self.partial.status_code}
            await send({**start, "headers": self.partial.raw_headers})
            await send({"type": "http.response.body", "body": bytes(body[: len(body) // 2]), "more_body": True})
        raw_receive = scope.get(RECEIVE_KEY, receive)
        transport = getattr(getattr(raw_receive, "__self__", None), "transport", None)
        if transport is None:
            raise ConnectionDropped("sandbox fault: connection dropped")
        transport.close()
        # Wait until the server has seen the connection go, so it treats the missing answer as a
        # client that left rather than an application error.
        while (await raw_receive())["type"] != "http.disconnect":
            pass


class V3Policy:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    async def run(self, request: Request, template: str, handler: Handler, keyed: bool) -> Response:
        state = self.state
        stats, rng = state.stats, state.rng  # this request's, even if the sandbox is reset while it runs
        stats.requests[template] += 1
        faulty = state.fault_routes is None or template in state.fault_routes

        if faulty:
            fault = await self._infrastructure_fault()
            if fault is not None:
                return fault

        early = self._authenticate(request) or self._throttle()
        if early is not None:
            return await self._answer(early)

        key = request.headers.get("idempotency-key") if keyed else None
        if key is None:
            response = await self._work(request, handler, faulty)
            await self._delay()
        else:
            scope = (request.method, request.scope["path"], key)
            early = self._answer_without_work(scope)
            if early is not None:
                return await self._answer(early)
            response = await self._work_under_key(scope, request, handler, faulty)
        return self._deliver(response, faulty, stats, rng)

    async def _infrastructure_fault(self) -> Response | None:
        """Step 1: a dropped connection, a 5xx or a burst 429, decided before any work; else None."""
        state = self.state
        cfg = state.config
        rng = state.rng
        if cfg.fault_drop and rng.random() < cfg.fault_drop:
            state.stats.faults["drop"] += 1
            return Drop()
        if cfg.fault_5xx and rng.random() < cfg.fault_5xx:
            state.stats.faults["5xx"] += 1
            status = rng.choice(tuple(_SERVER_ERRORS))
            return await self._answer(_server_error(status, "injected fault"))
        if cfg.burst_429 and rng.random() < cfg.burst_429:
            state.stats.rate_limited["burst"] += 1
            return await self._answer(self._too_many("rate limit exceeded: too many requests in a burst", 1.0))
        return None

    def _answer_without_work(self, scope: tuple[str, str, str]) -> Response | None:
        """Step 3 for the Idempotency-Key in `scope`: 400 if malformed, the recorded answer again, or
        409 while the first request with it is in flight; None if this request is to be done."""
        state = self.state
        if not KEY_PATTERN.fullmatch(scope[2]):
            failure = ApiFailure(
                400,
                "invalid_parameter",
                "Idempotency-Key must be 1 to 255 characters of A-Z a-z 0-9 _ : . -",
                "Idempotency-Key",
            )
            return failure_response(failure)
        entry = state.idempotency.lookup(scope, state.clock(), state.config.replay_window_seconds)
        if isinstance(entry, Recorded):
            state.stats.idempotent_replays += 1
            return Response(entry.body, entry.status, {"Idempotent-Replayed": "true"}, entry.media_type)
        if entry is IN_FLIGHT:
            state.stats.conflicts_409 += 1
            failure = ApiFailure(
                409,
                "request_in_progress",
                "a request with this Idempotency-Key is still being processed; retry later with the same key",
            )
            return failure_response(failure)
        return None

    async def _work_under_key(
        self, scope: tuple[str, str, str], request: Request, handler: Handler, faulty: bool
    ) -> Response:
        """Steps 4 and 5 with the key reserved: the work, then its answer recorded under the key."""
        state = self.state
        # Reserved before anything awaits: since the lookup, no request with this key got in.
        state.idempotency.reserve(scope)
        try:
            response = await self._work(request, handler, faulty)
            await self._delay()
            status = response.status_code
            if 200 <= status < 500 and status not in _NOT_RECORDED:
                media_type = response.media_type or JSON
                state.idempotency.record(scope, status, bytes(response.body), media_type, state.clock())
        finally:
            state.idempotency.release(scope)  # only if nothing was recorded
        return response

    def _deliver(self, response: Response, faulty: bool, stats: Stats, rng: random.Random) -> Response:
        """Step 6: the handler's answer, unless a lost-response fault takes it."""
        if isinstance(response, Drop):  # the client already left
            return response
        cfg = self.state.config  # as it is now: it may have changed while the handler ran
        if faulty and cfg.fault_lost_response and rng.random() < cfg.fault_lost_response:
            stats.faults["lost_response"] += 1
            how = rng.randrange(3)
            if how == 0:
                return Drop()
            if how == 1:
                return Drop(partial=response)
            return _server_error(502, "injected fault: the upstream answer was lost")
        stats.responses[response.status_code] += 1
        return response

    async def _work(self, request: Request, handler: Handler, faulty: bool) -> Response:
        state = self.state
        cfg = state.config
        try:
            if faulty and cfg.fault_slow and state.rng.random() < cfg.fault_slow:
                state.stats.faults["slow"] += 1
                if not _streamed(request):
                    await request.body()  # a slow server still has the body, even if the client gives up
                await anyio.sleep(cfg.slow_seconds)
            return await handler(request)
        except ApiFailure as failure:
            return failure_response(failure, cfg.not_found_code)
        except ClientDisconnect:
            return Drop()

    async def _answer(self, response: Response) -> Response:
        await self._delay()
        self.state.stats.responses[response.status_code] += 1
        return response

    async def _delay(self) -> None:
        latency = self.state.config.latency
        if latency:
            await anyio.sleep(latency)

    def _authenticate(self, request: Request) -> Response | None:
        headers = request.headers
        key = headers.get("x-api-key")
        if not key:
            auth = headers.get("authorization", "")
            if auth[:7].lower() == "bearer ":
                key = auth[7:].strip()
        if not key:
            failure = ApiFailure(401, "unauthorized", "missing API key: send X-Api-Key (or Authorization: Bearer)")
            return failure_response(failure)
        expected = self.state.config.api_key
        if expected is not None and key != expected:
            return failure_response(ApiFailure(401, "unauthorized", "invalid API key"))
        return None

    def _throttle(self) -> Response | None:
        state = self.state
        wait = state.bucket.take(state.clock())
        if wait <= 0:
            return None
        state.stats.rate_limited["rate"] += 1
        rate = state.config.rate_limit
        return self._too_many(f"rate limit exceeded: at most {rate:g} requests per second", wait)

    def _too_many(self, message: str, wait: float) -> Response:
        header = retry_after(wait, self.state.config.retry_after_format)
        return failure_response(ApiFailure(429, "rate_limit_exceeded", message, headers={"Retry-After": header}))


def _streamed(request: Request) -> bool:
    """Uploads are read as a stream by their handler, never buffered whole."""
    return request.headers.get("content-type", "").startswith("multipart/")


def _server_error(status: int, message: str) -> Response:
    return failure_response(ApiFailure(status, _SERVER_ERRORS[status], message))
