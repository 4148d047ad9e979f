"""What a run would do, from the manifest's items and the ledger's records. Pure: no I/O.

The plan is the DAG (who waits on whom, and for what), the action for each item, and the
priority the scheduler gives ready items: the head of the longest chain first, then the item
that unblocks the most work.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from .records import SENT, ErrorSource, Record, Status
from .spec import ItemSpec

Action = Literal["create", "retry", "poll", "skip", "changed"]
# What a dependent needs of its parent: a `group:` child only the group id, a look the parent's
# look id AND its training completed (the API rejects a look made from an unfinished parent).
Need = Literal["group", "look"]


@dataclass(frozen=True, slots=True)
class Step:
    """One item's action against the ledger, with why and what it needs of its parent."""

    spec: ItemSpec
    action: Action
    reason: str
    status: str  # the ledger's status now ("new" when it has no record)
    need: Need | None  # what it needs of spec.parent (None: no parent in the manifest)


@dataclass(slots=True)
class Plan:
    """The DAG of a run: selected items in manifest order, their edges and priorities. Immutable
    once built; the scheduler reads it and never changes it."""

    steps: dict[str, Step]  # manifest order, selected items only
    children: dict[str, list[str]]  # parent key -> dependent keys (selected only)
    height: dict[str, int]  # longest chain of dependents below an item (0 for a leaf)
    descendants: dict[str, int]
    notes: list[str] = field(default_factory=list)

    def priority(self, key: str) -> tuple[int, int]:
        """Smaller sorts first: deepest chain head, then most work unblocked."""
        return (-self.height[key], -self.descendants[key])

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for step in self.steps.values():
            out[step.action] = out.get(step.action, 0) + 1
        return out


def need_of(spec: ItemSpec) -> Need | None:
    if spec.parent is None:
        return None
    return "look" if spec.kind == "look" else "group"


def action_for(spec: ItemSpec, record: Record | None, recreate: bool, retry_failed: bool = False) -> tuple[Action, str]:
    if record is None or record.status == Status.PENDING:
        return "create", "not made yet"
    changed = record.spec_hash != spec.spec_hash
    made = record.look_id is not None or record.status in SENT
    if changed and made:
        if recreate:
            return "create", "spec changed; --recreate asked for a new one"
        return "changed", f"spec changed since it was made ({record.status}); left alone without --recreate"
    if record.status == "succeeded":
        if recreate:
            return "create", "--recreate asked for a new one"
        return "skip", "already succeeded"
    if record.status in ("training", "awaiting_consent"):
        return "poll", f"{record.status.replace('_', ' ')} on HeyGen's side"
    if record.status in SENT:
        return "retry", "sent without a definitive answer; the same request again (same Idempotency-Key)"
    if record.status == Status.FAILED:
        return _after_failure(record, changed=changed, retry_failed=retry_failed or recreate)
    return "create", f"was {record.status}"


# Refusals about the account, not the item: once the account is put right, trying again is right.
ACCOUNT_REFUSALS = frozenset({"insufficient_credit", "unauthorized", "forbidden"})


def _after_failure(record: Record, *, changed: bool, retry_failed: bool) -> tuple[Action, str]:
    """A definitive failure costs a credit each time it is tried: tried again only when the item
    changed or the user asks. Failures that never reached HeyGen are simply retried."""
    code = record.error_code or "error"
    if record.error_source != ErrorSource.HEYGEN or changed or code in ACCOUNT_REFUSALS:
        return "retry", f"failed before ({code})" + ("; changed since" if changed else "")
    if retry_failed:
        return "retry", f"failed before ({code}); --retry-failed asked for one more try"
    return "skip", f"failed definitively ({code}); not sent again unless changed or --retry-failed"


def select(items: Iterable[ItemSpec], only: list[str], exclude: list[str]) -> tuple[list[ItemSpec], list[str]]:
    """--only/--exclude by key or glob; a parent a selected item needs is included and said so."""
    items = list(items)
    by_key = {s.key: s for s in items}
    chosen = {s.key for s in items if (not only or _matches(s.key, only)) and not _matches(s.key, exclude)}
    notes: list[str] = []
    for key in list(chosen):
        spec = by_key[key]
        while spec.parent is not None and spec.parent in by_key:
            parent = spec.parent
            if parent not in chosen:
                chosen.add(parent)
                notes.append(f"{parent} included: {spec.key} needs it")
            spec = by_key[parent]
    return [s for s in items if s.key in chosen], sorted(set(notes))


def _matches(key: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(key, p) for p in patterns)


def build_plan(
    items: Iterable[ItemSpec],
    records: Mapping[str, Record],
    *,
    recreate: Iterable[str] = (),
    only: list[str] | None = None,
    exclude: list[str] | None = None,
    retry_failed: bool = False,
) -> Plan:
    selected, notes = select(items, only or [], exclude or [])
    recreate_set = set(recreate)
    steps: dict[str, Step] = {}
    children: dict[str, list[str]] = {s.key: [] for s in selected}
    for spec in selected:
        record = records.get(spec.key)
        action, reason = action_for(spec, record, spec.key in recreate_set, retry_failed)
        steps[spec.key] = Step(spec, action, reason, record.status if record else "new", need_of(spec))
        if spec.parent is not None and spec.parent in children:
            children[spec.parent].append(spec.key)
    height, descendants = _weights(list(steps), children)
    unknown = recreate_set - set(steps)
    if unknown:
        notes.append(f"--recreate names keys not in the selection: {', '.join(sorted(unknown))}")
    return Plan(steps, children, height, descendants, notes)


def _weights(keys: list[str], children: dict[str, list[str]]) -> tuple[dict[str, int], dict[str, int]]:
    """Height and descendant count, iteratively (chains may be long; the manifest has no cycles)."""
    height: dict[str, int] = {}
    descendants: dict[str, int] = {}
    for root in keys:
        if root in height:
            continue
        stack = [(root, False)]
        while stack:
            key, expanded = stack.pop()
            if key in height:
                continue
            if not expanded:
                stack.append((key, True))
                stack.extend((c, False) for c in children[key] if c not in height)
                continue
            kids = children[key]
            height[key] = 1 + max((height[c] for c in kids), default=-1)
            descendants[key] = sum(1 + descendants[c] for c in kids)
    return height, descendants
