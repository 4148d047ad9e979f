"""The one place a run writes an item's state to the ledger, each write a named transition
checked against the table in _state.py. Every write commits before anything depends on it."""

from __future__ import annotations

from typing import Any

from ..ledger import Ledger, now_iso
from ..records import ErrorSource, Record, look_details
from ._state import Event, next_status

_NO_ERROR: dict[str, Any] = dict(
    error_code=None, error_message=None, error_source=None, error_param=None, error_doc_url=None
)


class ItemBook:
    """Writes item state: owns no state of its own, keeps the in-memory record and the ledger
    row equal after every call (Ledger.update sets both), refuses moves the table forbids."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def _move(self, record: Record, event: Event, **changes: Any) -> Record:
        return self.ledger.update(record, status=next_status(record.status, event), **changes)

    def submit(self, record: Record, key: str) -> Record:
        """The intent is durable before the request leaves: a run killed now sends this key again."""
        first = record.sent_at if record.idempotency_key == key and record.sent_at else now_iso()
        return self._move(record, Event.SUBMIT, idempotency_key=key, sent_at=first, attempts=record.attempts + 1)

    def unsend(self, record: Record) -> Record:
        return self._move(record, Event.UNSEND)

    def accept(self, record: Record, look: dict[str, Any], group: dict[str, Any], *, consent: bool) -> Record:
        event = Event.AWAIT_CONSENT if consent else Event.ACCEPT
        return self._move(
            record,
            event,
            look_id=look.get("id"),
            group_id=group.get("id") or look.get("group_id"),
            **look_details(look),
        )

    def await_consent(self, record: Record) -> Record:
        return self._move(record, Event.AWAIT_CONSENT)

    def consent_given(self, record: Record) -> Record:
        return self._move(record, Event.CONSENT_GIVEN)

    def consent_link(self, record: Record, url: str) -> Record:
        return self.ledger.update(record, consent_url=url)

    def consent_failed(self, record: Record, code: str, message: str, source: ErrorSource) -> Record:
        # The twin exists: it stays awaiting consent, so the next run asks again instead of recreating.
        return self.ledger.update(
            record, error_code=code, error_message=f"consent request failed: {message}", error_source=source
        )

    def succeed(self, record: Record, look: dict[str, Any]) -> Record:
        return self._move(record, Event.SUCCEED, **look_details(look), **_NO_ERROR)

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
            Event.FAIL,
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
            Event.NO_ANSWER,
            error_code=code,
            error_message=f"{message} (no definitive answer: the next run sends the same request again)",
            error_source=ErrorSource.TRANSPORT,
        )

    def expire_key(self, record: Record) -> Record:
        """The key is older than HeyGen's replay window and the account has no such item: a replay
        would now create again, so the next attempt takes a new key on purpose."""
        return self._move(
            record,
            Event.RESET,
            generation=record.generation + 1,
            idempotency_key=None,
            sent_at=None,
            **_NO_ERROR,
        )

    def renamed(self, record: Record, name: str, spec_hash: str) -> Record:
        """Renamed in place on HeyGen: same look, same status, the manifest's name and spec now."""
        return self.ledger.update(record, name=name, spec_hash=spec_hash, **_NO_ERROR)

    def block(self, record: Record, why: str) -> Record:
        return self._move(
            record, Event.BLOCK, error_code="parent_failed", error_message=why, error_source=ErrorSource.BLOCKED
        )
