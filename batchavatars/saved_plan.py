"""Plans that can be saved, reviewed and applied exactly (Terraform's `plan -out` / `apply PLANFILE`).
Pure: no I/O but the caller's.

`plan --json` and `plan -o FILE` give one document: every item the plan touches (prunes included)
with its action and reason; a saved plan adds what it was made from: the options, a fingerprint of
each manifest item's request and of each ledger record's state, and a digest of each. `run --plan
FILE` applies it only while both are as they were, and says what moved when they are not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import UsageError
from .planner import Plan
from .records import Record
from .spec import ItemSpec

FORMAT = 1  # bumped when the document's shape changes; a plan of another format is refused
OPTIONS = ("only", "exclude", "recreate", "retry_failed", "moves", "refresh")  # what a run takes from a saved plan


def plan_rows(plan: Plan) -> list[dict[str, object]]:
    """Every item the plan touches, in manifest order, then the prunes: `plan --json`'s `items`."""
    rows: list[dict[str, object]] = [
        {
            "key": s.spec.key,
            "kind": s.spec.kind,
            "type": s.spec.type,
            "name": s.spec.name,
            "parent": s.spec.parent,
            "action": s.action,
            "reason": s.reason,
            "status": s.status,
        }
        for s in plan.steps.values()
    ]
    rows += [
        {
            "key": r.key,
            "kind": r.kind,
            "type": r.type,
            "name": r.name,
            "parent": r.parent,
            "action": "prune",
            "reason": plan.why_prune(r),
            "status": r.status,
            "look_id": r.look_id,
        }
        for r in plan.prune
    ]
    return rows


def document(plan: Plan, ledger: str) -> dict[str, Any]:
    """`plan --json`."""
    return {"items": plan_rows(plan), "counts": plan.counts(), "notes": plan.notes, "ledger": ledger}


def _request_prints(items: Iterable[ItemSpec]) -> dict[str, str]:
    return {spec.key: spec.spec_hash for spec in items}


def _state_prints(records: Mapping[str, Record]) -> dict[str, str]:
    """What of a record a run decides by: a saved plan is stale once any of it moved."""
    return {
        key: ":".join(str(v) for v in (r.status, r.spec_hash, r.look_id, r.idempotency_key, r.generation, r.origin))
        for key, r in sorted(records.items())
    }


def _digest(prints: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(prints, sort_keys=True).encode()).hexdigest()


def saved(
    plan: Plan,
    ledger: str,
    manifest: str,
    items: Iterable[ItemSpec],
    records: Mapping[str, Record],
    options: Mapping[str, Any],
) -> dict[str, Any]:
    """`plan -o FILE`: the document, and what it was made from."""
    requests, states = _request_prints(items), _state_prints(records)
    return {
        **document(plan, ledger),
        "format": FORMAT,
        "manifest": manifest,
        "options": {name: options.get(name) for name in OPTIONS},
        "manifest_digest": _digest(requests),
        "ledger_digest": _digest(states),
        "made_from": {"manifest": requests, "ledger": states},
    }


@dataclass(frozen=True, slots=True)
class SavedPlan:
    """A saved plan as `run --plan` reads it."""

    where: str  # the file, for messages
    actions: dict[str, str]  # key -> action, prunes left out (a run does not prune)
    options: dict[str, Any]
    requests: dict[str, str]
    states: dict[str, str]

    @classmethod
    def read(cls, text: str, where: str) -> SavedPlan:
        try:
            doc = json.loads(text)
            if doc.get("format") != FORMAT:
                raise ValueError(f"format {doc.get('format')!r}, this batchavatars reads format {FORMAT}")
            actions = {str(i["key"]): str(i["action"]) for i in doc["items"] if i["action"] != "prune"}
            made_from = doc["made_from"]
            return cls(where, actions, dict(doc["options"]), dict(made_from["manifest"]), dict(made_from["ledger"]))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UsageError(
                f"{where}: not a saved plan of batchavatars ({exc}). Fix: make one with plan -o FILE"
            ) from None

    def settings(self) -> dict[str, Any]:
        """The run options the plan was made with, as RunSettings fields."""
        moves = self.options.get("moves") or []
        return {
            "only": tuple(self.options.get("only") or ()),
            "exclude": tuple(self.options.get("exclude") or ()),
            "recreate": tuple(self.options.get("recreate") or ()),
            "retry_failed": bool(self.options.get("retry_failed")),
            "moves": tuple((str(old), str(new)) for old, new in moves),
            "refresh": bool(self.options.get("refresh")),  # a plan made against the account is run against it
        }

    def moved(self, items: Iterable[ItemSpec], records: Mapping[str, Record]) -> list[str]:
        """What changed since the plan was made, a line each (empty: it still holds)."""
        return _differences("the manifest", self.requests, _request_prints(items)) + _differences(
            "the ledger", self.states, _state_prints(records)
        )

    def differs_from(self, plan: Plan) -> list[str]:
        """Where a plan made now would do other than this one (empty: exactly the same)."""
        now = {key: step.action for key, step in plan.steps.items()}
        return [
            f"{key}: {self.actions.get(key, 'nothing')} in {self.where}, {now.get(key, 'nothing')} now"
            for key in sorted(self.actions.keys() | now.keys())
            if self.actions.get(key) != now.get(key)
        ]


def _differences(what: str, then: Mapping[str, str], now: Mapping[str, str]) -> list[str]:
    added = sorted(now.keys() - then.keys())
    gone = sorted(then.keys() - now.keys())
    changed = sorted(k for k in then.keys() & now.keys() if then[k] != now[k])
    lines = []
    for verb, keys in (("added", added), ("gone", gone), ("changed", changed)):
        if keys:
            shown = ", ".join(keys[:10]) + (f" and {len(keys) - 10} more" if len(keys) > 10 else "")
            lines.append(f"{what}: {verb} {shown}")
    return lines
