"""A sandbox's world on disk: what the simulated account holds, kept in one file so that a
sandbox started again carries on where the last one stopped, as a HeyGen account does.

The world is the account's avatars (groups, looks, their training windows, consent requests
and approvals), its assets and the Idempotency-Key answers still within their replay window,
under a world id fixed when the world was made. Not the config, stats, rate-limit bucket or
fault settings: those come from each start's config, and stats count from zero.

- Time: a saved world's timestamps are wall-clock (`time.time`), so training and consent under
  way when one sandbox stopped have moved on by the next start. Approvals not yet reached
  follow the new start's `consent_approval_seconds`, as a change of the setting would.
- Format: JSON, not pickle. Loading a pickle runs whatever the file says, and this file sits
  beside the user's ledger where anything may write it; JSON read back field by field also
  tells a truncated or hand-edited file from a good one, and a person can read it. Encoding
  stays cheap as each object keeps its JSON from the save before until it changes
  (_records.Cached): a save encodes what changed and joins the rest as bytes.
- Saving: the whole world, after every request that changed it and before its answer goes
  out, through a temporary file in the same folder, fsync, `os.replace` and an fsync of the
  folder, so a reader sees the old world or the new one, never half of one, and every id a
  client was told survives a kill -9 (or a power cut) right after.
- A world file that is missing, unreadable, corrupt or of another format starts a new world,
  saved at once; `reason` says which.
- One sandbox per world file at a time: two would each save their own world over the other's.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._assets import AssetStore
from ._avatars import AvatarStore
from ._idempotency import IdempotencyStore
from ._records import Record, compact

if TYPE_CHECKING:
    from ._state import SandboxState

# Bumped whenever what a world holds or how it is written changes: a file of another format
# starts a new world rather than being misread.
WORLD_FORMAT = 1
_KIND = "batchavatars sandbox world"
WORLD_SUFFIX = ".world"


def world_path(ledger: str | os.PathLike[str]) -> Path:
    """The world file of a sandbox ledger: its name plus `.world`, in the same folder, so
    whatever deletes `<ledger>*` deletes the world with it."""
    ledger = Path(ledger)
    return ledger.with_name(ledger.name + WORLD_SUFFIX)


def new_world_id() -> str:
    return f"world_{secrets.token_hex(8)}"


class WorldRefused(Exception):
    """The file holds no world this sandbox can load; the message says why."""


@dataclass(frozen=True, slots=True)
class SavedWorld:
    id: str
    avatars: AvatarStore
    assets: AssetStore
    idempotency: IdempotencyStore


class WorldFile:
    """Where a sandbox keeps its world, the world's id, and how this start came by it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(os.path.abspath(path))
        self.id = new_world_id()
        self.loaded = False  # the state came from the file
        self.reason: str | None = None  # why a new world was started, if it was

    def open(self, state: SandboxState) -> None:
        """Load the file's world into `state`, or start a new one (saved at once) saying why."""
        try:
            saved = decode(self.path.read_bytes())
        except FileNotFoundError:
            self.restart("no world file yet")
        except OSError as exc:
            self.restart(f"the world file is unreadable ({exc.strerror or exc})")
        except WorldRefused as exc:
            self.restart(str(exc))
        else:
            self.id, self.loaded, self.reason = saved.id, True, None
            state.restore(saved.avatars, saved.assets, saved.idempotency)
            return
        self.save(state)

    def restart(self, reason: str) -> None:
        """A new world from here on (the caller empties the state and saves)."""
        self.id, self.loaded, self.reason = new_world_id(), False, reason

    def save(self, state: SandboxState) -> None:
        write_atomically(self.path, encode(self.id, state))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "path": str(self.path), "loaded": self.loaded, "reason": self.reason}


def world_json(world: WorldFile | None) -> dict[str, Any]:
    """GET /_sandbox/world's answer; a sandbox without a world file keeps none."""
    if world is None:
        return {"id": None, "path": None, "loaded": False, "reason": None}
    return world.to_json()


def encode(world_id: str, state: SandboxState) -> bytes:
    """The world file's bytes: one JSON object, each store writing its own part."""
    now = state.clock()
    head = compact({"kind": _KIND, "format": WORLD_FORMAT, "id": world_id, "saved_at": now})
    return b"".join(
        [
            head[:-1],  # its closing brace comes last
            b',"avatars":',
            state.avatars.world_json(),
            b',"assets":',
            state.assets.world_json(),
            b',"replays":',
            state.idempotency.world_json(now, state.config.replay_window_seconds),
            b"}",
        ]
    )


def decode(raw: bytes) -> SavedWorld:
    """The world `encode` wrote; WorldRefused saying why if `raw` is not one of this format."""
    try:
        data = json.loads(raw)
    except ValueError as exc:  # UnicodeDecodeError is one too
        raise WorldRefused(f"the world file is corrupt (not JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("kind") != _KIND:
        raise WorldRefused("the world file is corrupt (not a sandbox world)")
    if data.get("format") != WORLD_FORMAT:
        raise WorldRefused(
            f"the world file was written by another version (format {data.get('format')!r}; "
            f"this sandbox reads format {WORLD_FORMAT})"
        )
    try:
        world = Record(data, "world")
        return SavedWorld(
            id=world.text("id"),
            avatars=AvatarStore.from_records(world.record("avatars")),
            assets=AssetStore.from_records(world.record("assets")),
            idempotency=IdempotencyStore.from_records(world.records("replays")),
        )
    except ValueError as exc:  # BadRecord, or a body that is no longer bytes
        raise WorldRefused(f"the world file is corrupt ({exc})") from None


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` by `data` whole: readers, and a crash at any point, see old or new."""
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; folders cannot be opened for this on Windows."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
