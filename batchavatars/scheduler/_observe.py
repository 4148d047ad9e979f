"""What HeyGen's answers mean for a watched item, with no I/O.

Read as the API notes' safer reading: a look's own state comes from the look (a list row or its
single GET), never from its group; a missing `status` is unknown, not done; a digital twin is ready
only when its look is completed AND its group no longer waits for consent (consent may be signalled
on the look, on the group, or both).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from ..lifecycle import Transition
from ..records import Status

LookState = Literal["completed", "failed", "processing", "pending_consent", "unknown"]


def look_state(look: Mapping[str, Any]) -> LookState:
    status = look.get("status")
    if status is None:
        return "unknown"  # "only present for private avatars": confirm with a single GET
    if status in ("completed", "failed", "pending_consent"):
        return status  # type: ignore[no-any-return]
    return "processing"  # processing, pending, or a state this client does not know: not done


def group_waits(group: Mapping[str, Any]) -> bool | None:
    """True while the group waits for the person's consent; None when the group does not say."""
    status, consent = group.get("status"), group.get("consent_status")
    if status == "pending_consent" or consent == "pending":
        return True
    if status is None and consent is None and "consent_status" not in group:
        return None
    return False


def event_for(status: str, *, twin: bool, look: LookState, waits: bool | None) -> Transition | None:
    """The transition a watched item takes now (None: it stays as it is)."""
    if look == "failed":
        return Transition.FAIL
    if look == "unknown":
        return None
    consent_wait = look == "pending_consent" or (twin and waits is True)
    if consent_wait:
        return None if status == Status.AWAITING_CONSENT else Transition.AWAIT_CONSENT
    if look == "completed":
        return Transition.SUCCEED
    if status == Status.AWAITING_CONSENT:
        return Transition.CONSENT_GIVEN  # the wait is over; the look still trains
    return None
