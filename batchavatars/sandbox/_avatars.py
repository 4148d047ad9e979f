"""The account's avatar groups and looks.

Status is never stored: it is derived on read from the state's clock (monotonic, or the wall
clock for a saved world) by timestamps of creation, consent approval and training window, so
100,000 looks cost no timers and no background work, and a saved world trains on while no
sandbox runs.

Rules where the doc is silent:
- A look is `processing` during its training window and then `completed`, or `failed` if it
  was fated to fail at creation. A digital-twin look created while the account's
  `consent_signal` is "look" or "both" is *gated*: `pending_consent` until its group's consent
  is approved, its window starting at max(creation, approval). Other looks train at once.
- A group is `pending_consent` while it is a digital-twin group whose consent is not yet
  approved; else `processing` while any of its looks trains; else `failed` if every look
  failed; else `completed` (at least one usable look).
- `consent_status`: null for photo/prompt groups; for twin groups "approved" once approved,
  else "pending" once requested (or from creation when `consent_signal` is "group"/"both"),
  else null.
- Consent is approved `consent_approval_seconds` after the group's FIRST consent request,
  read from the live config: a later request never moves it, but changing the setting at
  runtime re-times every approval not yet reached (None: never approved).
- `preferred_orientation` and a photo look's `default_voice_id` are picked from the look id's
  CRC-32, so they are stable for a look; a twin speaks with its group's cloned voice.
"""

from __future__ import annotations

import secrets
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from ._records import BadRecord, Cached, Record, compact, json_array
from ._training import TrainingTracker, Window
from ._validate import CreateSpec

PREVIEW_PATH = "/_sandbox/previews/{id}.svg"  # served by the sandbox itself, so it works offline
CONSENT_URL = "https://sandbox.heygen.local/consent/{token}"
ENGINES = ("avatar_iv",)
TRAINING_ERROR = {"code": "training_failed", "message": "training failed: the source media could not be used"}
GROUP_ERROR = {"code": "training_failed", "message": "every look in this group failed training"}
ORIENTATIONS = ("landscape", "portrait", "square")
STOCK_VOICES = ("voice_en_us_anna", "voice_en_us_ben", "voice_en_gb_clara", "voice_en_au_dev")


@dataclass(slots=True, eq=False)
class Group(Cached):
    id: str
    name: str
    created_unix: int
    is_twin: bool
    looks: list[Look] = field(default_factory=list)  # creation order, deleted ones included
    alive: int = 0
    doomed: int = 0  # alive looks fated to fail
    max_end: float = float("-inf")  # latest training end among scheduled looks
    consent_requested_at: float | None = None  # first request
    consent_video: bool = False  # consent came as a recorded video: no human step awaited
    approved_at: float | None = None  # None: not (yet) known
    deleted: bool = False
    saved_json: bytes | None = field(default=None, init=False, repr=False)  # see Cached

    def consent_status(self, now: float, signal: str) -> str | None:
        if not self.is_twin:
            return None
        if self.approved_at is not None and now >= self.approved_at:
            return "approved"
        return "pending" if self.consent_requested_at is not None or signal != "look" else None

    def status(self, now: float) -> str:
        if self.is_twin and (self.approved_at is None or now < self.approved_at):
            return "pending_consent"
        if now < self.max_end:
            return "processing"
        if self.alive and self.doomed == self.alive:
            return "failed"
        return "completed"

    def to_json(self, now: float, signal: str) -> dict[str, Any]:
        status = self.status(now)
        return {
            "id": self.id,
            "name": self.name,
            "looks_count": self.alive,
            "created_at": self.created_unix,
            "consent_status": self.consent_status(now, signal),
            "status": status,
            "error": GROUP_ERROR if status == "failed" else None,
        }


@dataclass(slots=True, eq=False)
class Look(Cached):
    id: str
    name: str
    kind: str
    avatar_type: str
    group: Group
    created_at: float
    duration: float
    doomed: bool
    gated: bool  # trains only once its group's consent is approved
    window: Window | None = None
    deleted: bool = False
    saved_json: bytes | None = field(default=None, init=False, repr=False)  # see Cached

    def status(self, now: float) -> str:
        window = self.window
        if window is None or now < window.start:  # only gated looks wait for their start
            return "pending_consent"
        if now < window.end:
            return "processing"
        return "failed" if self.doomed else "completed"

    def to_json(self, now: float, base_url: str) -> dict[str, Any]:
        """`base_url`: the sandbox's own, as the client reached it (for the preview image)."""
        status = self.status(now)
        pick = zlib.crc32(self.id.encode())
        voice = f"voice_clone_{self.group.id.removeprefix('group_')}" if self.kind == "digital_twin" else None
        return {
            "id": self.id,
            "name": self.name,
            "avatar_type": self.avatar_type,
            "group_id": self.group.id,
            "status": status,
            "error": TRAINING_ERROR if status == "failed" else None,
            "preview_image_url": base_url.rstrip("/") + PREVIEW_PATH.format(id=self.id),
            "supported_api_engines": list(ENGINES),
            "default_voice_id": voice or STOCK_VOICES[pick % len(STOCK_VOICES)],
            "preferred_orientation": ORIENTATIONS[pick % len(ORIENTATIONS)],
            "tags": [],
        }


class AvatarStore:
    def __init__(self) -> None:
        self.looks: list[Look] = []
        self.looks_by_type: dict[str, list[Look]] = {}
        self.groups: list[Group] = []
        self._looks: dict[str, Look] = {}
        self._groups: dict[str, Group] = {}
        self.training = TrainingTracker()
        self._fingerprints: set[bytes] = set()
        self.duplicates = 0
        self.created_looks = 0
        self.created_groups = 0
        self.consent_requests: dict[str, int] = {}
        self.renamed = 0
        self.deleted_looks = 0
        self.deleted_groups = 0
        self._awaiting_approval: set[Group] = set()
        self._saved_fingerprints = (0, b"[]")  # the set only grows: its size tells if it changed

    def look(self, look_id: str) -> Look | None:
        return self._looks.get(look_id)

    def group(self, group_id: str) -> Group | None:
        return self._groups.get(group_id)

    def create(
        self, spec: CreateSpec, group: Group | None, *, duration: float, doomed: bool, gate: bool, now: float
    ) -> Look:
        """`gate`: a digital-twin look waits for its group's consent before it trains."""
        if group is None:
            group = Group(
                id=f"group_{secrets.token_hex(8)}",
                name=spec.name,
                created_unix=int(time.time()),
                is_twin=spec.kind == "digital_twin",
            )
            self.groups.append(group)
            self._groups[group.id] = group
            self.created_groups += 1
        look = Look(
            id=f"look_{secrets.token_hex(8)}",
            name=spec.name,
            kind=spec.kind,
            avatar_type=spec.avatar_type,
            group=group,
            created_at=now,
            duration=duration,
            doomed=doomed,
            gated=gate and spec.kind == "digital_twin",
        )
        group.looks.append(look)
        group.alive += 1
        group.doomed += doomed
        self.looks.append(look)
        self.looks_by_type.setdefault(look.avatar_type, []).append(look)
        self._looks[look.id] = look
        self.created_looks += 1
        if not look.gated:
            self._schedule(look, now)
        elif group.approved_at is not None:
            self._schedule(look, max(now, group.approved_at))
        if spec.fingerprint in self._fingerprints:
            self.duplicates += 1
        else:
            self._fingerprints.add(spec.fingerprint)
        return look

    def _schedule(self, look: Look, start: float) -> None:
        look.window = self.training.add(start, start + look.duration)
        if look.window.end > look.group.max_end:
            look.group.max_end = look.window.end

    def request_consent(self, group: Group, now: float, approval_delay: float | None, *, video: bool = False) -> str:
        """Record a consent request and return a fresh consent-page URL."""
        self.consent_requests[group.id] = self.consent_requests.get(group.id, 0) + 1
        if group.consent_requested_at is None:
            group.consent_requested_at = now
        group.consent_video = group.consent_video or video
        if group.approved_at is None:
            self._time_approval(group, approval_delay, now)
        return CONSENT_URL.format(token=secrets.token_urlsafe(16))

    def retime_approvals(self, approval_delay: float | None, now: float) -> None:
        """Apply a changed consent_approval_seconds to every approval not yet reached."""
        for group in list(self._awaiting_approval):
            if group.deleted or (group.approved_at is not None and group.approved_at <= now):
                self._awaiting_approval.discard(group)
            else:
                self._time_approval(group, approval_delay, now)

    def _time_approval(self, group: Group, approval_delay: float | None, now: float) -> None:
        assert group.consent_requested_at is not None
        if approval_delay is None and group.consent_video:
            approval_delay = 0.0
        approved_at = None if approval_delay is None else group.consent_requested_at + approval_delay
        if approved_at is not None and approved_at <= now:
            self._awaiting_approval.discard(group)
        else:
            self._awaiting_approval.add(group)
        if approved_at == group.approved_at:
            return
        group.approved_at = approved_at
        for look in group.looks:  # O(looks in group), once per consent timing
            if look.deleted or not look.gated:
                continue
            if look.window is not None:
                self.training.cancel(look.window)
                look.window = None
            if approved_at is not None:
                self._schedule(look, max(look.created_at, approved_at))
        self._refresh_max_end(group)

    def _refresh_max_end(self, group: Group) -> None:
        group.max_end = max(
            (x.window.end for x in group.looks if not x.deleted and x.window is not None), default=float("-inf")
        )

    def fail_later(self, look: Look) -> None:
        """A test control: the look's training fails after all (from now on if it had completed,
        at the end of its window if it trains), as a look "failed later" on HeyGen's side."""
        if not look.doomed:
            look.doomed = True
            look.group.doomed += 1

    def revoke_consent(self, group: Group) -> None:
        """A test control: a twin group's consent is withdrawn. The group waits for consent again
        (`pending_consent`; `consent_status` as before a request) until consent is requested and
        approved anew; its looks that trained (or train) keep their clock."""
        for look in group.looks:
            if look.window is not None:
                look.gated = False  # the next approval must not start its training over
        group.consent_requested_at = None
        group.consent_video = False
        group.approved_at = None
        self._awaiting_approval.discard(group)

    def rename(self, look: Look, name: str) -> None:
        look.name = name
        self.renamed += 1

    def delete_look(self, look: Look) -> bool:
        """Delete a look; True if that also deleted its (now empty) group."""
        self._drop(look)
        group = look.group
        if group.alive == 0:
            self._drop_group(group)
            return True
        self._refresh_max_end(group)  # O(looks in group), but only on delete
        return False

    def delete_group(self, group: Group) -> None:
        for look in group.looks:
            if not look.deleted:
                self._drop(look)
        self._drop_group(group)

    def _drop(self, look: Look) -> None:
        self.deleted_looks += 1
        look.deleted = True
        del self._looks[look.id]
        if look.window is not None:
            self.training.cancel(look.window)
        look.group.alive -= 1
        look.group.doomed -= look.doomed

    def _drop_group(self, group: Group) -> None:
        self.deleted_groups += 1
        group.deleted = True
        del self._groups[group.id]
        self._awaiting_approval.discard(group)

    # --- the world file ----------------------------------------------------------------------

    def world_json(self) -> bytes:
        """What the account holds, for a world file. Deleted groups and looks stay, as list
        tokens are indexes into these lists; counters do not, as they are this run's stats."""
        count, saved = self._saved_fingerprints
        if count != len(self._fingerprints):
            saved = compact([fingerprint.hex() for fingerprint in self._fingerprints])
            self._saved_fingerprints = (len(self._fingerprints), saved)
        groups, looks = json_array(self.groups, group_record), json_array(self.looks, look_record)
        return b'{"groups":' + groups + b',"looks":' + looks + b',"fingerprints":' + saved + b"}"

    @classmethod
    def from_records(cls, saved: Record) -> AvatarStore:
        """The store `world_json` saved; BadRecord if it is not one. Training windows and
        approvals resume from their saved times (call `retime_approvals` with the live setting)."""
        store = cls()
        for record in saved.records("groups"):
            store._restore_group(record)
        by_id = {group.id: group for group in store.groups}
        for record in saved.records("looks"):
            group = by_id.get(record.text("group_id"))
            if group is None:
                raise BadRecord(f"look {record.text('id')!r} names a group the world does not hold")
            store._restore_look(record, group)
        try:
            store._fingerprints = {bytes.fromhex(x) for x in saved.texts("fingerprints")}
        except ValueError:
            raise BadRecord("a fingerprint is not hex") from None
        return store

    def _restore_group(self, record: Record) -> None:
        group = Group(
            id=record.text("id"),
            name=record.text("name"),
            created_unix=record.whole("created_unix"),
            is_twin=record.flag("is_twin"),
            consent_requested_at=record.maybe_number("consent_requested_at"),
            consent_video=record.flag("consent_video"),
            approved_at=record.maybe_number("approved_at"),
            deleted=record.flag("deleted"),
        )
        self.groups.append(group)
        if not group.deleted:
            self._groups[group.id] = group
            if group.consent_requested_at is not None:
                self._awaiting_approval.add(group)  # retime_approvals drops those already approved

    def _restore_look(self, record: Record, group: Group) -> None:
        look = Look(
            id=record.text("id"),
            name=record.text("name"),
            kind=record.text("kind"),
            avatar_type=record.text("avatar_type"),
            group=group,
            created_at=record.number("created_at"),
            duration=record.number("duration"),
            doomed=record.flag("doomed"),
            gated=record.flag("gated"),
            deleted=record.flag("deleted"),
        )
        group.looks.append(look)
        self.looks.append(look)
        self.looks_by_type.setdefault(look.avatar_type, []).append(look)
        if look.deleted:
            return
        self._looks[look.id] = look
        group.alive += 1
        group.doomed += look.doomed
        start = record.maybe_number("training_from")
        if start is not None:
            self._schedule(look, start)


def group_record(group: Group) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "created_unix": group.created_unix,
        "is_twin": group.is_twin,
        "consent_requested_at": group.consent_requested_at,
        "consent_video": group.consent_video,
        "approved_at": group.approved_at,
        "deleted": group.deleted,
    }


def look_record(look: Look) -> dict[str, Any]:
    window = look.window
    return {
        "id": look.id,
        "name": look.name,
        "kind": look.kind,
        "avatar_type": look.avatar_type,
        "group_id": look.group.id,
        "created_at": look.created_at,
        "duration": look.duration,
        "doomed": look.doomed,
        "gated": look.gated,
        # A window always ends `duration` after it starts (_schedule), so its start says it all.
        "training_from": None if window is None or look.deleted else window.start,
        "deleted": look.deleted,
    }
