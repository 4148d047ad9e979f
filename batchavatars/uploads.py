"""Local files become asset ids: hashed once, uploaded once per content (the ledger remembers
asset ids by SHA-256, across items and across runs), streamed, never read whole into memory."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import anyio.to_thread

from .client import HeyGenClient, content_type_for, file_sha256
from .ledger import Ledger

Call = Callable[[str, Callable[[], Awaitable[str]]], Awaitable[str]]


class AssetStore:
    def __init__(self, ledger: Ledger, client: HeyGenClient, call: Call) -> None:
        """`call(label, fn)` runs fn under the scheduler's limits and retry policy."""
        self._ledger = ledger
        self._client = client
        self._call = call
        self._by_path: dict[str, str] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self.uploaded = 0

    async def asset_id(self, path: str) -> str:
        if path in self._by_path:
            return self._by_path[path]
        lock = self._locks.setdefault(path, anyio.Lock())
        async with lock:
            if path in self._by_path:
                return self._by_path[path]
            file = Path(path)
            sha = await anyio.to_thread.run_sync(file_sha256, file)
            sha_lock = self._locks.setdefault("sha:" + sha, anyio.Lock())
            async with sha_lock:  # two paths, same bytes: one upload
                asset = self._ledger.asset(sha)
                if asset is None:
                    asset = await self._call(
                        f"upload {file.name}",
                        lambda: self._client.upload_asset(
                            file, content_type_for(file), sha, idempotency_key=f"ba1.asset.{sha[:48]}"
                        ),
                    )
                    self._ledger.put_asset(sha, asset, file.stat().st_size)
                    self.uploaded += 1
            self._by_path[path] = asset
            return asset
