"""What a run starts from: the ledger's records set against the plan, with no I/O.

For each selected item: the changes that reset a record the plan will create, retry or replace,
and the phase the item starts this run in. The rule that matters for exactly-once: a key that may
have reached HeyGen is sent again as it was, and a new key is taken only when a replay of the old
one would return a stale or failed answer.
"""

from __future__ import annotations

from typing import Any

from ..planner import Step
from ..records import DEFINITIVE, SENT, Record, Status
from ._phase import Phase


def reset_changes(step: Step, record: Record) -> dict[str, Any] | None:
    """The changes to a record the plan creates, retries or replaces (None: leave it as it is)."""
    if step.action not in ("create", "retry", "replace"):
        return None
    spec = step.spec
    fresh = record.spec_hash != spec.spec_hash or step.action == "replace"
    definitive = record.status == Status.FAILED and record.error_source in DEFINITIVE
    changes: dict[str, Any] = dict(
        kind=spec.kind,
        type=spec.type,
        name=spec.name,
        parent=spec.parent,
        spec_hash=spec.spec_hash,
        spec_fields=spec.spec_fields,
        error_code=None,
        error_message=None,
        error_source=None,
        error_param=None,
        error_doc_url=None,
    )
    if fresh or definitive:
        # A replay of the old key would return the old answer: move to a new one.
        changes.update(
            generation=record.generation + 1,
            idempotency_key=None,
            sent_at=None,
            look_id=None,
            group_id=None,
            consent_url=None,
            preview_image_url=None,
            status=Status.PENDING,
        )
    elif record.status not in SENT:
        changes.update(status=Status.PENDING)  # never reached HeyGen (or was blocked): start again
    return changes


def starting_phase(step: Step, record: Record) -> Phase:
    """WATCH: training or awaiting consent on HeyGen's side; DONE: nothing to do; LEFT: changed
    since made, not ours to touch (its dependents wait); WAITING: to be created."""
    if step.action in ("skip", "changed") and record.status == Status.SUCCEEDED:
        return Phase.DONE
    if step.action == "skip" and record.status == Status.FAILED:
        return Phase.DONE  # a definitive failure, not tried again: its dependents are blocked
    if record.status in (Status.TRAINING, Status.AWAITING_CONSENT) and record.look_id:
        return Phase.WATCH
    if step.action in ("changed", "move"):
        return Phase.LEFT
    return Phase.WAITING  # to create, retry, replace or rename
