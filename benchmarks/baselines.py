"""The two baselines: what a competent user writes without batchavatars.

Both are asyncio + httpx and share everything but the pacing:
- phases: avatars first, then looks of avatars, then looks of those looks, ... (a barrier
  between levels: `asyncio.gather` over one level, then the next);
- at most SEMAPHORE requests in flight (the semaphore is held per request, not across a
  whole item's polling, so polling items do not hold back creations);
- after a POST, one GET of the look per second until it is `completed` (or `failed`);
- 429: sleep Retry-After, then send the same request again;
- 5xx and transport errors: retried a few times per request (429s do not spend that budget)
  with exponential backoff, POSTs included, with no Idempotency-Key (the user did not read
  that section; this is how a lost answer turns into a duplicate);
- an item that fails takes its descendants with it; the others go on.

`gather` sends as fast as the semaphore allows; `bucket` also passes every request through a
fixed-rate token bucket set to the account's documented limit.

The bodies follow the API notes (docs/heygen-v3-api-notes.md): an avatar is `type: photo` with its file URL (or
`type: prompt`); a look is `type: prompt` with `avatar_id` = the parent's look id and
`avatar_group_id` = its group. Nothing from batchavatars is used but the ItemSpec fields.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from typing import Any

import httpx

API_KEY = "bench-key"  # the sandbox accepts any key
SEMAPHORE = 16
TRANSIENT_RETRIES = 3  # after the first attempt
BACKOFF = 0.5  # seconds, doubled each retry
MAX_429 = 100  # a request answered 429 this many times in a row gives up
POLL_EVERY = 1.0
POLL_GIVE_UP = 1800.0


class ItemError(Exception):
    pass


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return 1.0


class TokenBucket:
    """Fixed rate, no burst: request n goes no earlier than n / rate after the first."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next = 0.0

    async def take(self) -> None:
        now = time.monotonic()
        slot = max(now, self.next)
        self.next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


class _Client:
    def __init__(self, http: httpx.AsyncClient, bucket: TokenBucket | None) -> None:
        self.http = http
        self.sem = asyncio.Semaphore(SEMAPHORE)
        self.bucket = bucket

    async def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        transient = 0
        limited = 0
        while True:
            try:
                async with self.sem:
                    if self.bucket is not None:
                        await self.bucket.take()
                    response = await self.http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                transient += 1
                if transient > TRANSIENT_RETRIES:
                    raise ItemError(f"{method} {path}: {type(exc).__name__}") from None
                await asyncio.sleep(BACKOFF * 2 ** (transient - 1))
                continue
            if response.status_code == 429:
                limited += 1
                if limited > MAX_429:
                    raise ItemError(f"{method} {path}: still 429 after {MAX_429} tries")
                await asyncio.sleep(_retry_after(response))
                continue
            if response.status_code >= 500:
                transient += 1
                if transient > TRANSIENT_RETRIES:
                    raise ItemError(f"{method} {path}: HTTP {response.status_code}")
                await asyncio.sleep(BACKOFF * 2 ** (transient - 1))
                continue
            if response.status_code >= 400:
                raise ItemError(f"{method} {path}: HTTP {response.status_code} {response.text[:200]}")
            try:
                return response.json()["data"]
            except (ValueError, KeyError, TypeError):
                # half an answer: treat like a dropped connection
                transient += 1
                if transient > TRANSIENT_RETRIES:
                    raise ItemError(f"{method} {path}: unreadable answer") from None
                await asyncio.sleep(BACKOFF * 2 ** (transient - 1))


def _body(spec: Any, parent: dict[str, str] | None) -> dict[str, Any]:
    if spec.kind == "look":
        return {
            "type": "prompt",
            "name": spec.name,
            "prompt": spec.prompt,
            "avatar_id": parent["look_id"],
            "avatar_group_id": parent["group_id"],
        }
    body: dict[str, Any] = {"type": spec.type, "name": spec.name}
    if parent is not None:
        body["avatar_group_id"] = parent["group_id"]
    if spec.type == "prompt":
        body["prompt"] = spec.prompt
    else:
        body["file"] = {"type": "url", "url": spec.file.value}
    return body


async def _create_and_wait(client: _Client, spec: Any, parent: dict[str, str] | None) -> dict[str, str]:
    data = await client.request("POST", "/v3/avatars", json=_body(spec, parent))
    look = data["avatar_item"]
    made = {"look_id": look["id"], "group_id": data["avatar_group"]["id"]}
    status = look.get("status")
    deadline = time.monotonic() + POLL_GIVE_UP
    while status not in ("completed", "failed", None):
        if time.monotonic() > deadline:
            raise ItemError(f"{spec.key}: still {status} after {POLL_GIVE_UP:g} s")
        await asyncio.sleep(POLL_EVERY)
        status = (await client.request("GET", f"/v3/avatars/looks/{made['look_id']}")).get("status")
    if status == "failed":
        raise ItemError(f"{spec.key}: training failed")
    return made


def _levels(items: list[Any]) -> list[list[Any]]:
    depth: dict[str, int] = {}
    by_key = {s.key: s for s in items}

    def level(spec: Any) -> int:
        if spec.key not in depth:
            parent = by_key.get(spec.parent) if spec.parent else None
            depth[spec.key] = 0 if parent is None else level(parent) + 1
        return depth[spec.key]

    levels: list[list[Any]] = []
    for spec in items:
        d = level(spec)
        while len(levels) <= d:
            levels.append([])
        levels[d].append(spec)
    return levels


async def _run(items: list[Any], url: str, bucket: TokenBucket | None) -> None:
    made: dict[str, dict[str, str]] = {}
    failed: set[str] = set()
    async with httpx.AsyncClient(
        base_url=url,
        headers={"X-Api-Key": API_KEY},
        timeout=30.0,
        trust_env=False,
        limits=httpx.Limits(max_connections=SEMAPHORE),
    ) as http:
        client = _Client(http, bucket)
        for level in _levels(items):
            todo = []
            for spec in level:
                if spec.parent is not None and spec.parent not in made:
                    failed.add(spec.key)  # its parent failed
                else:
                    todo.append(spec)
            results = await asyncio.gather(
                *(_create_and_wait(client, s, made.get(s.parent) if s.parent else None) for s in todo),
                return_exceptions=True,
            )
            for spec, result in zip(todo, results, strict=False):
                if isinstance(result, BaseException):
                    if not isinstance(result, ItemError):
                        raise result
                    failed.add(spec.key)
                else:
                    made[spec.key] = result


async def run_gather(items: list[Any], url: str, rate: float) -> None:
    """`rate` is ignored: this user does not pace requests."""
    await _run(items, url, None)


async def run_bucket(items: list[Any], url: str, rate: float) -> None:
    await _run(items, url, TokenBucket(rate) if rate > 0 else None)


BASELINES = {"gather": run_gather, "bucket": run_bucket}
