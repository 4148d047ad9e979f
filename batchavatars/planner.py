"""What a run would do, from the manifest's items and the ledger's records. Pure: no I/O.

The plan is the DAG (who waits on whom, and for what), the action for each item, and the
priority the scheduler gives ready items: the head of the longest chain first, then the item
that unblocks the most work.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from .drift import Drift
from .moves import moved, suggest
from .records import SENT, ErrorSource, Record, Status
from .selection import check_patterns, matches, select
from .spec import ItemSpec

Action = Literal["create", "retry", "poll", "skip", "rename", "changed", "replace", "blocked", "move"]
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


@dataclass(frozen=True, slots=True)
class Plan:
    """The DAG of a run: selected items in manifest order, their edges and priorities. Frozen once
    built (its dicts are only read): the scheduler keeps each item's state in its own nodes."""

    steps: dict[str, Step]  # manifest order, selected items only
    children: dict[str, list[str]]  # parent key -> dependent keys (selected only)
    height: dict[str, int]  # longest chain of dependents below an item (0 for a leaf)
    descendants: dict[str, int]
    notes: list[str] = field(default_factory=list)
    prune: list[Record] = field(default_factory=list)  # ledger records of items no longer in the manifest
    moves: dict[str, str] = field(default_factory=dict)  # old key -> new key, confirmed (--move): for run to make
    offered: dict[str, str] = field(default_factory=dict)  # new key -> old key: looks like a move, not confirmed
    follows: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> the offered move it waits on

    def priority(self, key: str) -> tuple[int, int]:
        """Smaller sorts first: deepest chain head, then most work unblocked."""
        return (-self.height[key], -self.descendants[key])

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for step in self.steps.values():
            out[step.action] = out.get(step.action, 0) + 1
        if self.prune:
            out["prune"] = len(self.prune)
        return out

    def left_alone_options(self, keys: list[str]) -> list[str]:
        """What applies each of `keys` left alone: `--replace KEY`, or `--move OLD=KEY` for a move."""
        options: list[str] = []
        for key in keys:
            if key in self.offered or key in self.follows:
                old, new = (self.offered[key], key) if key in self.offered else self.follows[key]
                option = f"--move {old}={new}"
            else:
                option = f"--replace {key}"
            if option not in options:
                options.append(option)
        return options

    def why_prune(self, record: Record) -> str:
        moved_to = next((new for new, old in self.offered.items() if old == record.key), None)
        return prune_reason(record, moved_to)

    def left_alone(self) -> list[str]:
        """Keys of items that changed, or look moved, and that this run will not touch (see
        --replace, --move)."""
        return [key for key, step in self.steps.items() if step.action in ("changed", "move")]


def prune_reason(record: Record, moved_to: str | None = None) -> str:
    """Why a record of an item no longer in the manifest is a `prune`, and what `prune --yes` does
    to it (`moved_to`: the new item that looks like it under another key; prune leaves it then)."""
    look = f"look {record.look_id}" if record.look_id else "no look on HeyGen"
    if moved_to is not None:
        return (
            f"no longer in the manifest, but {moved_to} asks for the same: --move {record.key}={moved_to} keeps {look}"
        )
    if record.origin == "adopted" and record.look_id:
        return (
            f"no longer in the manifest; {look} was adopted from the account: prune keeps it unless --include-adopted"
        )
    if record.look_id:
        return f"no longer in the manifest; prune --yes deletes {look} and forgets the record"
    return f"no longer in the manifest ({look}); prune --yes forgets the record"


def need_of(spec: ItemSpec) -> Need | None:
    if spec.parent is None:
        return None
    return "look" if spec.kind == "look" else "group"


# HeyGen renames photo and digital-twin looks (PATCH /v3/avatars/looks/{id}); prompt looks it does not.
RENAMEABLE = frozenset({"photo", "digital_twin"})


def only_name_changed(spec: ItemSpec, record: Record) -> bool:
    return record.name != spec.name and dataclasses.replace(spec, name=record.name).spec_hash == record.spec_hash


def _renameable(spec: ItemSpec, record: Record) -> bool:
    """Only the name changed, on a finished photo or twin look: HeyGen renames it in place."""
    kind_ok = spec.kind == "avatar" and spec.type in RENAMEABLE
    done = record.status == Status.SUCCEEDED and record.look_id is not None
    return kind_ok and done and only_name_changed(spec, record)


def action_for(spec: ItemSpec, record: Record | None, recreate: bool, retry_failed: bool = False) -> tuple[Action, str]:
    if record is None or record.status == Status.PENDING:
        return "create", "not made yet"
    changed = changed_fields(spec, record) if record.spec_hash != spec.spec_hash else None
    if record.status == Status.FAILED:
        return _after_failure(record, changed=changed, retry_failed=retry_failed or recreate)
    if changed is not None and (record.look_id is not None or record.status in SENT):
        return _changed(spec, record, changed, recreate)
    if record.status == Status.SUCCEEDED:
        if recreate:
            return "replace", "--replace asked for a new one"
        return "skip", "already succeeded"
    if record.status in ("training", "awaiting_consent"):
        return "poll", f"{record.status.replace('_', ' ')} on HeyGen's side"
    if record.status in SENT:
        return "retry", "sent without a definitive answer; the same request again (same Idempotency-Key)"
    return "create", f"was {record.status}"


def _changed(spec: ItemSpec, record: Record, changed: list[str], recreate: bool) -> tuple[Action, str]:
    """An item made (or sent) before, whose request is not the manifest's any more."""
    what = f": {', '.join(changed)}" if changed else ""
    if recreate:
        return "replace", f"changed{what}; --replace asked for a new one"
    if _renameable(spec, record):
        return "rename", f"name changed from {record.name!r}: renamed in place (no credit, same id)"
    return "changed", f"changed since it was made ({record.status}){what}; left alone without --replace"


def drifted(
    spec: ItemSpec, record: Record, drift: Drift, base: tuple[Action, str], recreate: bool
) -> tuple[Action, str]:
    """The action of an item whose look drifted on the account (--refresh), given the one the
    ledger alone gives (`base`). The same whether the record still says what it said (plan
    --refresh) or already says what the account does (run --refresh writes that first)."""
    what = drift.describe()
    if drift.kind == "deleted":
        return "create", f"{what}: made again, under a new key"
    if drift.kind == "failed_later":
        return "retry", f"{what}: sent again, under a new key"
    if recreate:
        return "replace", f"{what}; --replace asked for a new one"
    if drift.kind == "consent_revoked":
        return "poll", f"{what}: awaiting consent again; the run asks for it"
    return _renamed_on_account(spec, record, drift, base)


def _renamed_on_account(spec: ItemSpec, record: Record, drift: Drift, base: tuple[Action, str]) -> tuple[Action, str]:
    """Renamed in HeyGen's dashboard: renamed to the manifest's name where HeyGen allows it."""
    what = drift.describe()
    name_only = dataclasses.replace(spec, name=record.name).spec_hash == record.spec_hash
    if record.status != Status.SUCCEEDED or not name_only:
        return base[0], f"{base[1]}; {what}"
    if drift.renamed_to == spec.name:
        return "skip", f"{what}, as the manifest names it: nothing to do"
    if spec.kind == "avatar" and spec.type in RENAMEABLE:
        return "rename", f"{what}: renamed to the manifest's {spec.name!r} in place (no credit, same id)"
    return "changed", f"{what}; HeyGen renames only photo and digital-twin looks: left alone without --replace"


# What a field of the request is called where a person reads which of them changed.
_FIELD_NAMES = {
    "kind": "kind",
    "prompt": "prompt",
    "file": "file",
    "reference_images": "reference images",
    "avatar_group_id": "avatar_group_id",
    "avatar_id": "avatar_id",
}


def changed_fields(spec: ItemSpec, record: Record) -> list[str]:
    """The fields of the request that differ from what the record was made from: `name`, `type`,
    `parent`, `prompt`, `file` (another file) or `file content` (the same file, new bytes), ...
    Empty where the ledger cannot tell (a record written before it kept a digest per field)."""
    names = [n for n in ("name", "type", "parent") if getattr(record, n) != getattr(spec, n)]
    old, new = record.spec_fields or {}, spec.spec_fields
    for name, label in _FIELD_NAMES.items():
        if name in old and old[name] != new[name]:
            content = name == "file" and old[name].startswith("path:") and new[name].startswith("path:")
            names.append("file content" if content else label)
    return names


def _after_failure(record: Record, *, changed: list[str] | None, retry_failed: bool) -> tuple[Action, str]:
    """A definitive failure costs a credit each time it is tried: tried again only when the item
    changed (the user fixed it) or the user asks. Failures that never reached HeyGen, and refusals
    of the account (once it is put right, trying again is right), are simply retried."""
    code = record.error_code or "error"
    if changed is not None:
        what = f": {', '.join(changed)}" if changed else ""
        return "retry", f"failed before ({code}); changed since{what}"
    if record.error_source != ErrorSource.HEYGEN:
        return "retry", f"failed before ({code})"
    if retry_failed:
        return "retry", f"failed before ({code}); --retry-failed asked for one more try"
    return "skip", f"failed definitively ({code}); not sent again unless changed or --retry-failed"


def build_plan(
    items: Iterable[ItemSpec],
    records: Mapping[str, Record],
    *,
    recreate: Iterable[str] = (),
    only: list[str] | None = None,
    exclude: list[str] | None = None,
    retry_failed: bool = False,
    moves: Mapping[str, str] | None = None,
    drift: Mapping[str, Drift] | None = None,
) -> Plan:
    """`moves`: old key -> new key, confirmed by the user (--move): the plan is made against the
    records as they are once those are made (moves.py). `drift`: what the account says of the
    records (--refresh, drift.py), read by the caller: the plan is made against the ledger as the
    account says it is."""
    items = list(items)
    replace = list(recreate)
    check_patterns("--replace", replace, [s.key for s in items])
    selected, notes = select(items, only or [], exclude or [])
    keys = _Keys.of(items, records, dict(moves or {}), replace)
    records = keys.records
    drifts = keys.drift(drift)
    steps: dict[str, Step] = {}
    children: dict[str, list[str]] = {s.key: [] for s in selected}
    for spec in selected:
        record = records.get(spec.key)
        recreate_it = matches(spec.key, replace)
        action, reason = action_for(spec, record, recreate_it, retry_failed)
        if record is not None and spec.key in drifts:
            action, reason = drifted(spec, record, drifts[spec.key], (action, reason), recreate_it)
        action, reason = keys.action(spec.key, action, reason)
        steps[spec.key] = Step(spec, action, reason, record.status if record else "new", need_of(spec))
        if spec.parent is not None and spec.parent in children:
            children[spec.parent].append(spec.key)
    _replace_descendants(steps, children, records, deleted_on_account(drifts))
    _block_under_failures(steps, children, records)
    height, weight = _weights(list(steps), children)
    in_manifest = {s.key for s in items}
    prune = [r for key, r in records.items() if key not in in_manifest]
    return Plan(
        steps, children, height, weight, notes, prune, moves=keys.confirmed, offered=keys.offered, follows=keys.follows
    )


@dataclass(frozen=True, slots=True)
class _Keys:
    """Keys renamed in the manifest: the moves confirmed (old -> new), the records once they are
    made, the moves offered (new -> old) and what would follow them (key -> (old, new))."""

    confirmed: dict[str, str]
    records: Mapping[str, Record]
    offered: dict[str, str]
    follows: dict[str, tuple[str, str]]

    @classmethod
    def of(
        cls, items: list[ItemSpec], records: Mapping[str, Record], confirmed: dict[str, str], replace: list[str]
    ) -> _Keys:
        records = moved(items, records, confirmed) if confirmed else records
        offered = {new: old for new, old in suggest(items, records).items() if not matches(new, replace)}
        return cls(confirmed, records, offered, _following(items, records, offered))

    def drift(self, drift: Mapping[str, Drift] | None) -> dict[str, Drift]:
        """The account's drift (keyed as the ledger has it) under the keys confirmed moves give."""
        return {self.confirmed.get(key, key): d for key, d in (drift or {}).items()}

    def action(self, key: str, action: Action, reason: str) -> tuple[Action, str]:
        """The action of `key` as its move makes it: offered (left alone until confirmed), following
        an offered one, or confirmed (said in the reason)."""
        if key in self.offered:
            return "move", _offer(self.offered[key], key)
        if key in self.follows:
            old, new = self.follows[key]
            return "move", f"made from {old}, which looks moved to {new}: follows it with --move {old}={new}"
        came_from = next((old for old, new in self.confirmed.items() if new == key), None)
        if came_from is not None:
            return action, f"moved from {came_from} (the same request, the same look): {reason}"
        return action, reason


def _following(
    items: list[ItemSpec], records: Mapping[str, Record], offered: Mapping[str, str]
) -> dict[str, tuple[str, str]]:
    """Records that keep their key but are made from an offered move's old key: what the move would
    re-parent (key -> (old, new)), for plan to say they follow it."""
    if not offered:
        return {}
    moves = {old: new for new, old in offered.items()}
    after = moved(items, records, moves)
    return {
        key: (records[key].parent or "", after[key].parent or "")
        for key in records.keys() & after.keys()
        if key not in offered and records[key].parent in moves and after[key].parent != records[key].parent
    }


def _offer(old: str, new: str) -> str:
    return (
        f"the same request as {old}, which left the manifest: a new key for it? Left alone: confirm with "
        f"--move {old}={new} (keeps {old}'s look: no credit, no second consent), or --replace {new} to make "
        "a new one"
    )


def deleted_on_account(drift: Mapping[str, Drift]) -> set[str]:
    return {key for key, d in drift.items() if d.kind == "deleted"}


def _replace_descendants(
    steps: dict[str, Step], children: dict[str, list[str]], records: Mapping[str, Record], deleted: set[str]
) -> None:
    """What was made from a replaced item, or from one deleted on the account (`deleted`, made
    again), is made again from the new one (its old looks stay in the old character otherwise)."""
    remade = [key for key, step in steps.items() if step.action == "replace" or key in deleted]
    stack = [(key, child) for key in remade for child in children[key]]
    while stack:
        parent, child = stack.pop()
        step, record = steps[child], records.get(child)
        made = record is not None and (record.look_id is not None or record.status in SENT)
        if made and step.action != "replace" and child not in deleted:
            why = "deleted on the account" if parent in deleted else "replaced"
            steps[child] = dataclasses.replace(step, action="replace", reason=f"replace: parent {parent} {why}")
            stack.extend((child, c) for c in children[child])


def _block_under_failures(
    steps: dict[str, Step], children: dict[str, list[str]], records: Mapping[str, Record]
) -> None:
    """What is made from an item that failed and is not sent again cannot be made either: `blocked`,
    naming the failure, instead of `create`. When the failed item is fixed (or retried), its
    descendants follow it."""
    stack = [
        (key, key, child)
        for key, step in steps.items()
        if step.action == "skip" and step.status == Status.FAILED
        for child in children[key]
    ]
    while stack:
        root, parent, key = stack.pop()
        step, made_from = steps[key], records.get(parent)
        if step.action != "create":
            continue  # made already (or on its way): nothing to block
        if step.need == "group" and made_from is not None and made_from.group_id:
            continue  # a `group:` child needs only the group, which exists
        code = (records[root].error_code if root in records else None) or "error"
        via = "" if parent == root else f"its parent {parent} is blocked: "
        reason = f"{via}{root} failed ({code}) and is not sent again; fix {root} in the manifest (or --retry-failed)"
        steps[key] = dataclasses.replace(step, action="blocked", reason=reason)
        stack.extend((root, key, child) for child in children[key])


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
