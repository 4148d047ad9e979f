"""An item's life in the ledger as a table, and the one writer that follows it (in the spirit of
h11's `_state.py`).

An item's `Status` changes only through `TRANSITIONS`: named moves whose legal starting points
(and results) are written down here, so an impossible move (succeeding an item never sent,
blocking one in training) fails loudly in tests instead of writing a ledger that the next run
misreads. `ItemBook` is the only code that writes a status: the scheduler, adoption and the
replay-window look-up all go through it, and every write commits before anything depends on it.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from typing import Any

from .ledger import LedgerStore, now_iso
from .records import ErrorSource, Record, Status, look_details
from .spec import ItemSpec


class Transition(StrEnum):
    """What happened to an item, as the ledger records it."""

    SUBMIT = "submit"  # the intent (and its Idempotency-Key) is recorded; the POST is about to leave
    UNSEND = "unsend"  # the POST never left (the run stopped first): as if never tried
    ACCEPT = "accept"  # HeyGen answered 2xx: training on its side
    AWAIT_CONSENT = "await_consent"  # a twin's group waits for the person's consent
    CONSENT_GIVEN = "consent_given"  # the group no longer waits; training goes on
    SUCCEED = "succeed"  # the look is completed (and, for a twin, its group no longer waits)
    FAIL = "fail"  # a definitive answer: refused, or training failed
    NO_ANSWER = "no_answer"  # retries ran out without a definitive answer: same key next time
    BLOCK = "block"  # a parent failed: it can never be sent
    RESET = "reset"  # a new attempt from scratch (a fresh key), or back to pending to try again
    ADOPT = "adopt"  # found on the account: it takes the state the account reports
    # What the account says happened since (--refresh, drift.py):
    GONE = "gone"  # its look was deleted on the account: a new attempt from scratch, under a new key
    FAIL_LATER = "fail_later"  # a succeeded look reads failed on the account now
    CONSENT_REVOKED = "consent_revoked"  # a succeeded twin's group waits for consent again


_SENT = (Status.CREATING, Status.UNANSWERED)
_LIVE = (Status.TRAINING, Status.AWAITING_CONSENT)
_NOT_MADE = (Status.PENDING, *_SENT, Status.FAILED, Status.BLOCKED)

# transition -> (statuses it may start from, statuses it may lead to: the first unless said)
TRANSITIONS: dict[Transition, tuple[tuple[Status, ...], tuple[Status, ...]]] = {
    Transition.SUBMIT: ((Status.PENDING, *_SENT), (Status.CREATING,)),
    Transition.UNSEND: ((Status.CREATING,), (Status.PENDING,)),
    Transition.ACCEPT: (_SENT, (Status.TRAINING,)),
    Transition.AWAIT_CONSENT: ((*_SENT, *_LIVE), (Status.AWAITING_CONSENT,)),
    Transition.CONSENT_GIVEN: ((Status.AWAITING_CONSENT,), (Status.TRAINING,)),
    Transition.SUCCEED: ((*_SENT, *_LIVE), (Status.SUCCEEDED,)),
    Transition.FAIL: ((Status.PENDING, *_SENT, *_LIVE), (Status.FAILED,)),
    Transition.NO_ANSWER: (_SENT, (Status.UNANSWERED,)),
    Transition.BLOCK: ((Status.PENDING, *_SENT, Status.FAILED, Status.BLOCKED), (Status.BLOCKED,)),
    Transition.RESET: (tuple(Status), (Status.PENDING,)),
    Transition.ADOPT: (_NOT_MADE, (Status.SUCCEEDED, Status.TRAINING, Status.AWAITING_CONSENT)),
    Transition.GONE: ((Status.SUCCEEDED, *_LIVE), (Status.PENDING,)),
    Transition.FAIL_LATER: ((Status.SUCCEEDED,), (Status.FAILED,)),
    Transition.CONSENT_REVOKED: ((Status.SUCCEEDED,), (Status.AWAITING_CONSENT,)),
}


class IllegalTransition(RuntimeError):
    """A bug of ours: a move the table does not allow was asked for."""


def next_status(status: str, transition: Transition, to: Status | None = None) -> Status:
    """The status `transition` leads to from `status` (`to`: which of its results, where it has several)."""
    sources, targets = TRANSITIONS[transition]
    if status not in sources:
        raise IllegalTransition(f"{transition.value} from {status}: allowed from {', '.join(sources)}")
    target = targets[0] if to is None else to
    if target not in targets:
        raise IllegalTransition(f"{transition.value} to {target}: leads to {', '.join(targets)}")
    return target


def new_record(spec: ItemSpec) -> Record:
    """Where every item's life starts: pending, with what the manifest asks for."""
    return Record(
        key=spec.key,
        kind=spec.kind,
        type=spec.type,
        name=spec.name,
        parent=spec.parent,
        status=Status.PENDING,
        spec_hash=spec.spec_hash,
        spec_fields=spec.spec_fields,
    )


_NO_ERROR: dict[str, Any] = dict(
    error_code=None, error_message=None, error_source=None, error_param=None, error_doc_url=None
)


class ItemBook:
    """Writes item state: owns no state of its own, keeps the in-memory record and the ledger
    row equal after every call (the ledger's update sets both), refuses moves the table forbids."""

    def __init__(self, ledger: LedgerStore) -> None:
        self.ledger = ledger

    def _move(self, record: Record, transition: Transition, *, to: Status | None = None, **changes: Any) -> Record:
        return self.ledger.update(record, status=next_status(record.status, transition, to), **changes)

    def start(self, record: Record, changes: dict[str, Any]) -> Record:
        """A record the plan creates, retries or replaces: `changes` from the manifest, and a
        `status` there (pending) resets it for a new attempt."""
        changes = dict(changes)
        status = changes.pop("status", None)
        if status is None:
            return self.ledger.update(record, **changes)
        return self._move(record, Transition.RESET, to=Status(status), **changes)

    def submit(self, record: Record, key: str) -> Record:
        """The intent is durable before the request leaves: a run killed now sends this key again."""
        first = record.sent_at if record.idempotency_key == key and record.sent_at else now_iso()
        return self._move(record, Transition.SUBMIT, idempotency_key=key, sent_at=first, attempts=record.attempts + 1)

    def unsend(self, record: Record) -> Record:
        return self._move(record, Transition.UNSEND)

    def accept(
        self, record: Record, look: dict[str, Any], group: dict[str, Any], *, consent: bool, origin: str | None = None
    ) -> Record:
        """HeyGen answered the creation. `origin` "adopted": the answer replays a creation another
        ledger made (the same request under the same key): this ledger never deletes that look."""
        transition = Transition.AWAIT_CONSENT if consent else Transition.ACCEPT
        return self._move(
            record,
            transition,
            look_id=look.get("id"),
            group_id=group.get("id") or look.get("group_id"),
            origin=origin,
            **look_details(look),
        )

    def adopt(self, record: Record, look: dict[str, Any], status: Status, spec: ItemSpec, origin: str | None) -> Record:
        """Found on the account (--adopt, or a key of ours past the replay window): the look's ids and
        state. `origin` "adopted": not made by this ledger, never deleted by it without --include-adopted."""
        return self._move(
            record,
            Transition.ADOPT,
            to=status,
            look_id=look.get("id"),
            group_id=look.get("group_id"),
            preview_image_url=look.get("preview_image_url"),
            spec_hash=spec.spec_hash,
            spec_fields=spec.spec_fields,
            origin=origin,
            **_NO_ERROR,
        )

    def await_consent(self, record: Record) -> Record:
        return self._move(record, Transition.AWAIT_CONSENT)

    def consent_given(self, record: Record) -> Record:
        return self._move(record, Transition.CONSENT_GIVEN)

    def consent_link(self, record: Record, url: str) -> Record:
        return self.ledger.update(record, consent_url=url)

    def consent_failed(self, record: Record, code: str, message: str, source: ErrorSource) -> Record:
        # The twin exists: it stays awaiting consent, so the next run asks again instead of recreating.
        return self.ledger.update(
            record, error_code=code, error_message=f"consent request failed: {message}", error_source=source
        )

    def succeed(self, record: Record, look: dict[str, Any]) -> Record:
        return self._move(record, Transition.SUCCEED, **look_details(look), **_NO_ERROR)

    def fail(
        self,
        record: Record,
        code: str,
        message: str,
        source: ErrorSource,
        *,
        param: str | None = None,
        doc_url: str | None = None,
    ) -> Record:
        return self._move(
            record,
            Transition.FAIL,
            error_code=code,
            error_message=message,
            error_source=source,
            error_param=param,
            error_doc_url=doc_url,
        )

    def no_answer(self, record: Record, code: str, message: str) -> Record:
        """Retries ran out without a definitive answer: the key stays, the next run sends it again."""
        return self._move(
            record,
            Transition.NO_ANSWER,
            error_code=code,
            error_message=f"{message} (no definitive answer: the next run sends the same request again)",
            error_source=ErrorSource.TRANSPORT,
        )

    def expire_key(self, record: Record) -> Record:
        """The key is older than HeyGen's replay window and the account has no such item: a replay
        would now create again, so the next attempt takes a new key on purpose."""
        return self._move(
            record,
            Transition.RESET,
            generation=record.generation + 1,
            idempotency_key=None,
            sent_at=None,
            **_NO_ERROR,
        )

    def moved(self, before: dict[str, Record], after: dict[str, Record]) -> None:
        """Keys renamed in the manifest (--move), as moves.moved gave them: each record under its new
        key (its status, look and key untouched: nothing is sent), re-parented ones updated."""
        with self.ledger.batch():
            for key in before.keys() - after.keys():
                self.ledger.remove(key)
            self.ledger.put_many([r for key, r in after.items() if key not in before])
            for key, record in after.items():
                old = before.get(key)
                if old is not None and (old.parent, old.spec_hash) != (record.parent, record.spec_hash):
                    self.ledger.update(
                        old, parent=record.parent, spec_hash=record.spec_hash, spec_fields=record.spec_fields
                    )

    def renamed(self, record: Record, spec: ItemSpec) -> Record:
        """Renamed in place on HeyGen: same look, same status, the manifest's name and spec now."""
        return self.ledger.update(
            record, name=spec.name, spec_hash=spec.spec_hash, spec_fields=spec.spec_fields, **_NO_ERROR
        )

    # -- what the account says happened since (--refresh) -------------------------------------

    def gone(self, record: Record) -> Record:
        """Its look was deleted on the account: kept as a history row, then a new attempt from
        scratch under a new Idempotency-Key (a replay of the old key would give the deleted look)."""
        with self.ledger.batch():
            if record.look_id:
                self.ledger.add_history(record, why="deleted on the account")
                self.ledger.mark_deleted(record.look_id)
            return self._gone(record)

    def _gone(self, record: Record) -> Record:
        return self._move(
            record,
            Transition.GONE,
            generation=record.generation + 1,
            idempotency_key=None,
            sent_at=None,
            look_id=None,
            group_id=None,
            consent_url=None,
            preview_image_url=None,
            supported_api_engines=None,
            default_voice_id=None,
            preferred_orientation=None,
            origin=None,
            **_NO_ERROR,
        )

    def failed_later(self, record: Record, code: str | None, message: str | None) -> Record:
        """A succeeded look reads failed on the account now: a definitive failure of HeyGen's."""
        return self._move(
            record,
            Transition.FAIL_LATER,
            error_code=code or "training_failed",
            error_message=f"training failed later on the account: {message or 'the look reads failed'}",
            error_source=ErrorSource.HEYGEN,
            error_param=None,
            error_doc_url=None,
        )

    def consent_revoked(self, record: Record) -> Record:
        """A succeeded twin's group waits for consent again: no link kept, so the run asks for
        consent again, as for any twin awaiting it, under a new key (the generation moves on)."""
        return self._move(
            record, Transition.CONSENT_REVOKED, consent_url=None, generation=record.generation + 1, **_NO_ERROR
        )

    def renamed_on_account(self, record: Record, name: str, spec: ItemSpec) -> Record:
        """Renamed in HeyGen's dashboard: the record takes the account's name. Where it was made
        from the manifest's item but for its name, its spec becomes that item under the account's
        name, so the plan sees exactly a rename (as `renamed` keeps the spec of what the look is)."""
        if dataclasses.replace(spec, name=record.name).spec_hash != record.spec_hash:
            return self.ledger.update(record, name=name)
        now = dataclasses.replace(spec, name=name)
        return self.ledger.update(record, name=name, spec_hash=now.spec_hash, spec_fields=now.spec_fields)

    def block(self, record: Record, why: str) -> Record:
        return self._move(
            record, Transition.BLOCK, error_code="parent_failed", error_message=why, error_source=ErrorSource.BLOCKED
        )
