"""What a person reads at the end of a run and from `status`: counts, failures with their fix,
consent links to send, cost. Rendered with rich, which writes no control characters off a terminal."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..records import STATUSES, ErrorSource, Record, RunResult, Status

FIXES = {
    "insufficient_credit": "out of credits: top up the HeyGen account, then run again (new work was stopped)",
    "forbidden": "the account's API tier lacks avatar creation: upgrade the plan or use another key",
    "resource_access_denied": "this key may not use the resource the item names (another account's avatar group?): "
    "fix {field} in the manifest",
    "http_404": "the API has no such route (a 404 without HeyGen's error body): check --base-url",
    "unreachable": "the API could not be reached: check --base-url and the network, then run again",
    "look_deleted": "the look was deleted on the account while it trained: run again to create it anew",
    "file_too_large": "the file is over HeyGen's upload limit: give a URL instead, or a smaller encode",
    "unauthorized": "the API key was rejected: set HEYGEN_API_KEY to a valid key",
    "not_found": "a referenced avatar_group_id or avatar_id no longer exists on the account: fix the manifest",
    "invalid_parameter": "HeyGen rejected the item as sent: fix it in the manifest per the message, then run again",
    "validation_error": "HeyGen rejected the item as sent: fix it in the manifest per the message, then run again",
    "training_failed": "HeyGen could not train from this input (photo: clear frontal face, 512x512 or more; "
    "footage: 2 min, 720p or better): replace the file, then run again",
    "parent_failed": "fix the parent item, then run again",
    "adopt_ambiguous": "several avatars on the account match: delete the extras on HeyGen and run --adopt again, "
    "or run without --adopt to create it anew",
    "rate_limit_exceeded": "HeyGen kept answering 429: run again, or lower --rate / --concurrency",
    "quota_exceeded": "HeyGen's usage quota for this account is used up (429 quota_exceeded); it may take hours "
    "to clear: run again later, or ask HeyGen to raise the quota",
    "timeout": "no answer in time: run again; the same Idempotency-Key guarantees no duplicate",
    "transport_error": "network trouble: run again; the same Idempotency-Key guarantees no duplicate",
}


NOT_FOUND_CODES = frozenset({"not_found", "avatar_not_found", "resource_not_found"})


def fix_for(code: str | None, param: str | None = None) -> str:
    if not code:
        return ""
    if code.startswith("http_5") or code in ("internal_error", "server_error"):
        return "HeyGen had trouble: run again later"
    if code in NOT_FOUND_CODES:
        code = "not_found"  # HeyGen uses several codes for a 404
    return FIXES.get(code, "").replace("{field}", f"`{param}`" if param else "the field it names")


UNANSWERED_FIX = "will retry the same request: the next run sends it again with the same Idempotency-Key (no duplicate)"
NOT_AGAIN = "not sent again unless the item changes or you run with --retry-failed"


def advice(record: Record) -> str:
    """The fix for a troubled record, with what the next run will do about it."""
    if record.status == Status.UNANSWERED:
        # a wait worth naming comes first: what the next run does is the same either way
        return (
            f"{FIXES['quota_exceeded']}; {UNANSWERED_FIX}" if record.error_code == "quota_exceeded" else UNANSWERED_FIX
        )
    if record.status == Status.FAILED:
        return advice_for(record.error_code, record.error_source, record.error_param)
    return fix_for(record.error_code, record.error_param)


def advice_for(code: str | None, source: str | None, param: str | None = None) -> str:
    """The fix for a failure, from its code and who said so (also for the `item_failed` log line)."""
    fix = fix_for(code, param)
    if source == ErrorSource.HEYGEN:
        return f"{fix}; {NOT_AGAIN}" if fix else NOT_AGAIN
    return fix


TROUBLED = (Status.FAILED, Status.BLOCKED, Status.UNANSWERED)


def counts_of(records: Iterable[Record]) -> dict[str, int]:
    out: dict[str, int] = {s: 0 for s in STATUSES}
    for rec in records:
        out[rec.status] = out.get(rec.status, 0) + 1
    return out


def outcome(records: list[Record]) -> dict[str, object]:
    """Counts, failures with their fix, consent links waiting: for `status --json` and `--json-summary`."""
    return {
        "counts": counts_of(records),
        "failed": [
            {
                "key": r.key,
                "status": r.status,
                "error_code": r.error_code,
                "error_message": r.error_message,
                "param": r.error_param,
                "doc_url": r.error_doc_url,
                "fix": advice(r),
            }
            for r in records
            if r.status in TROUBLED
        ],
        "awaiting_consent": [
            {"key": r.key, "name": r.name, "consent_url": r.consent_url}
            for r in records
            if r.status == "awaiting_consent"
        ],
    }


def _blocked_under_roots(records: list[Record]) -> tuple[list[Record], dict[str, list[Record]]]:
    """Troubled records to list, and the blocked ones gathered under the failed item they descend
    from: a failed avatar with 40 template looks is one row, not 41."""
    by_key = {r.key: r for r in records}
    listed: list[Record] = []
    under: dict[str, list[Record]] = {}
    for rec in records:
        if rec.status not in TROUBLED:
            continue
        root = rec
        seen = {rec.key}
        while root.status == Status.BLOCKED and root.parent in by_key and root.parent not in seen:
            root = by_key[root.parent]
            seen.add(root.key)
        if rec is not root and root.status in (Status.FAILED, Status.UNANSWERED):
            under.setdefault(root.key, []).append(rec)
        else:
            listed.append(rec)
    return listed, under


def _blocked_line(root: str, blocked: list[Record]) -> str:
    kinds = {r.kind for r in blocked}
    noun = "look" if kinds == {"look"} else "avatar" if kinds == {"avatar"} else "item"
    return f"…and {plural(len(blocked), noun)} blocked by `{root}`"


def plural(n: int, word: str) -> str:
    """`1 upload`, `2 uploads`."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def render_records(console: Console, records: list[Record], *, title: str) -> None:
    counts = counts_of(records)
    # Headings as lines, not table titles: a title wraps to the width of a narrow table.
    console.print(title, style="bold", highlight=False)
    table = Table(show_header=True, header_style="bold")
    table.add_column("status")
    table.add_column("items", justify="right")
    for status in STATUSES:
        if counts.get(status):
            table.add_row(status, f"{counts[status]:,}")
    table.add_row("total", f"{len(records):,}")
    console.print(table)
    listed, under = _blocked_under_roots(records)
    if listed:
        console.print("Failed, blocked and unanswered", style="bold")
        failed = Table(show_header=True, header_style="bold")
        for col in ("key", "status", "error", "fix"):
            failed.add_column(col, overflow="fold")
        for rec in listed:
            failed.add_row(rec.key, rec.status, _error_text(rec), advice(rec))
            if rec.key in under:
                failed.add_row("", "", _blocked_line(rec.key, under[rec.key]), "")
        console.print(failed)
    waiting = [r for r in records if r.status == "awaiting_consent"]
    if waiting:
        console.print("Waiting for consent: send each link to the person depicted", style="bold")
        for rec in waiting:
            # plain lines, never folded, so a link can be copied whole from any terminal or log
            console.print(
                f"  {rec.key} ({rec.name}): {rec.consent_url or '(not requested yet: run again)'}",
                soft_wrap=True,
                highlight=False,
            )


def _error_text(rec: Record) -> str:
    """HeyGen's code and message, with the field it names and its page about the error."""
    text = f"{rec.error_code}: {rec.error_message}"
    if rec.error_param:
        text += f" (field {rec.error_param})"
    if rec.error_doc_url:
        text += f" {rec.error_doc_url}"
    return text


def run_summary(result: RunResult, ledger: Path, credits: float) -> dict[str, Any]:
    """A run's summary as one object: `--json-summary`, the `run_summary` log line, the report's header."""
    return {
        "exit_code": int(result.exit_code),
        **outcome(result.records),
        "stopped": result.stopped,
        "elapsed_seconds": round(result.elapsed, 3),
        "requests": result.requests,
        "rate_limited": result.rate_limited,
        "creations": result.creations,
        "credits": credits,
        "uploads": result.uploads,
        "consent_requests": result.consent_requests,
        "left_alone": result.left_alone,
        "left_alone_fix": ("run again with " + " ".join(result.left_alone_options)) if result.left_alone else None,
        "stop_message": result.stop_message if result.stopped else None,
        "ledger": str(ledger),
    }


def print_run(console: Console, result: RunResult, manifest: str, summary: dict[str, Any]) -> None:
    """A run's end as a person reads it: the records' tables, then the run's figures."""
    render_records(console, result.records, title=f"Run of {manifest}")
    console.print(
        f"{result.elapsed:.1f} s, {plural(result.requests, 'request')} ({result.rate_limited} answered 429), "
        f"{plural(result.creations, 'creation')} ≈ {summary['credits']:g} credits, "
        f"{plural(result.uploads, 'upload')}. Ledger: {summary['ledger']}",
        highlight=False,
    )
    if result.stopped and result.stop_message:
        console.print(f"stopped: {result.stop_message}", highlight=False)
    if result.left_alone:
        keys = ", ".join(result.left_alone)
        replace = " ".join(result.left_alone_options)
        console.print(f"changed and left alone: {keys}. To make them again: run {manifest} {replace}", highlight=False)
    if summary.get("report"):
        console.print(f"Report: {summary['report']}", soft_wrap=True, highlight=False)
