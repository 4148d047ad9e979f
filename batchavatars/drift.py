"""What the account says of the ledger's records (`plan --refresh`, `run --refresh`: Terraform's
`plan -refresh-only`, for avatars). Pure: no I/O; the API layer lists the account and hands the
lists here.

Given every private look (`GET /v3/avatars/looks`) and every group (`GET /v3/avatars`), each
record that holds a look is set against what the account reports, in the API notes' safer
reading: a missing look is gone (the lists are read whole); a row without `status` is unknown,
never drift (nothing is guessed from it); a twin's consent wait is read on its group
(`status: "pending_consent"` or `consent_status: "pending"`, as scheduler/_observe.py's
`group_waits` reads it) or on its look (`pending_consent`).

Only records whose look is worth something are checked: succeeded, training or awaiting consent.
A record that failed, or that was never made, has nothing on the account to drift from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .records import Record, Status

DriftKind = Literal["deleted", "failed_later", "consent_revoked", "renamed"]

# The records a look on the account stands behind.
_CHECKED = frozenset({Status.SUCCEEDED, Status.TRAINING, Status.AWAITING_CONSENT})


@dataclass(frozen=True, slots=True)
class Drift:
    """How one record's look differs on the account. `kind` is the one that decides what to do
    (deleted, then failed later, then consent revoked, then renamed); `renamed_to` is the look's
    name on the account wherever it differs from the record's, whatever the kind."""

    key: str
    look_id: str
    kind: DriftKind
    renamed_to: str | None = None
    error_code: str | None = None  # failed later: the look's error, as the account reports it
    error_message: str | None = None

    def describe(self) -> str:
        """What happened, as the plan's reason says it."""
        if self.kind == "deleted":
            return f"deleted on the account (look {self.look_id})"
        renamed = f", and renamed there to {self.renamed_to!r}" if self.renamed_to is not None else ""
        if self.kind == "failed_later":
            return f"training failed later on the account ({self.error_code or 'training_failed'}){renamed}"
        if self.kind == "consent_revoked":
            return f"consent revoked on the account (its group waits for consent again){renamed}"
        return f"renamed on the account to {self.renamed_to!r}"


@dataclass(frozen=True, slots=True)
class Refreshed:
    """What a refresh found: the drift by key, the keys whose state the list did not report (no
    `status`: unknown, not drift), and how much of the account was read."""

    drift: dict[str, Drift] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    looks: int = 0
    groups: int = 0

    def summary(self) -> str:
        """One line for the plan's notes and the run's log."""
        read = f"refreshed from the account ({self.looks} looks, {self.groups} groups read)"
        found = ", ".join(f"{key}: {d.describe()}" for key, d in self.drift.items()) or "no drift"
        line = f"{read}: {found}"
        if self.unknown:
            shown = ", ".join(self.unknown[:10]) + (", ..." if len(self.unknown) > 10 else "")
            line += f"; the list gave no status for {len(self.unknown)} looks, left as the ledger has them ({shown})"
        return line


def group_waits(group: Mapping[str, Any]) -> bool | None:
    """True while a group waits for the person's consent; None when it does not say. The same
    reading as scheduler/_observe.py's (tests/test_drift.py holds the two to it)."""
    status, consent = group.get("status"), group.get("consent_status")
    if status == "pending_consent" or consent == "pending":
        return True
    if status is None and consent is None and "consent_status" not in group:
        return None
    return False


def refresh(
    records: Mapping[str, Record], looks: Iterable[Mapping[str, Any]], groups: Iterable[Mapping[str, Any]]
) -> Refreshed:
    """Every record's drift, given the account's whole lists of looks and groups."""
    by_look = {str(look.get("id")): look for look in looks}
    by_group = {str(group.get("id")): group for group in groups}
    drift: dict[str, Drift] = {}
    unknown: list[str] = []
    for key, record in records.items():
        if record.look_id is None or record.status not in _CHECKED:
            continue
        look = by_look.get(record.look_id)
        if look is not None and "status" not in look:
            unknown.append(key)
        found = drift_of(record, look, by_group.get(record.group_id or ""))
        if found is not None:
            drift[key] = found
    return Refreshed(drift, unknown, len(by_look), len(by_group))


def drift_of(record: Record, look: Mapping[str, Any] | None, group: Mapping[str, Any] | None) -> Drift | None:
    """One record against its look (None: not on the account) and its group (None: not listed)."""
    key, look_id = record.key, record.look_id or ""
    if look is None:
        return Drift(key, look_id, "deleted")
    name = look.get("name")
    renamed_to = name if isinstance(name, str) and name != record.name else None
    if record.status == Status.SUCCEEDED and look.get("status") == "failed":
        raw = look.get("error")
        error: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        code, message = error.get("code"), error.get("message")
        return Drift(
            key,
            look_id,
            "failed_later",
            renamed_to,
            str(code) if code else None,
            str(message) if message else None,
        )
    if record.status == Status.SUCCEEDED and _waits_again(record, look, group):
        return Drift(key, look_id, "consent_revoked", renamed_to)
    if renamed_to is not None:
        return Drift(key, look_id, "renamed", renamed_to)
    return None


def _waits_again(record: Record, look: Mapping[str, Any], group: Mapping[str, Any] | None) -> bool:
    """A succeeded digital twin whose consent is awaited again, on its look or its group."""
    if record.kind != "avatar" or record.type != "digital_twin":
        return False
    return look.get("status") == "pending_consent" or (group is not None and group_waits(group) is True)
