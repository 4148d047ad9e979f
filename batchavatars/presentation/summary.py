"""What a person reads at the end of a run and from `status`: counts, failures with their fix,
consent links to send, cost. Rendered with rich, which writes no control characters off a terminal."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

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
        groups = _grouped(listed)
        fixes = _numbered(g.fix for g in groups if g.fix)
        console.print(_troubled_table(_troubled_rows(groups, under, fixes), console.width))
        _print_fixes(console, fixes)
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


@dataclass(slots=True)
class _Group:
    """Troubled items that read the same: one status, one error, one fix; one row for all their keys."""

    status: str
    error: str
    fix: str
    keys: list[str] = field(default_factory=list)


def _grouped(listed: list[Record]) -> list[_Group]:
    groups: dict[tuple[str, str, str], _Group] = {}
    for rec in listed:
        error, fix = _error_text(rec), advice(rec)
        groups.setdefault((rec.status, error, fix), _Group(rec.status, error, fix)).keys.append(rec.key)
    return list(groups.values())


def _numbered(fixes: Iterable[str]) -> dict[str, int]:
    """Each fix once, numbered in the order the rows first need it."""
    numbers: dict[str, int] = {}
    for fix in fixes:
        numbers.setdefault(fix, len(numbers) + 1)
    return numbers


_Row = tuple[str, str, str, str]  # keys, status, error, fix number


def _troubled_rows(groups: list[_Group], under: dict[str, list[Record]], fixes: dict[str, int]) -> list[_Row]:
    rows: list[_Row] = []
    for group in groups:
        rows.append((", ".join(group.keys), group.status, group.error, str(fixes[group.fix]) if group.fix else ""))
        rows += [(_blocked_line(key, under[key]), "", "", "") for key in group.keys if key in under]
    return rows


MIN_ERROR = 16  # the error column's least width beside the keys; below it the error goes under the keys
_BORDERS = 13  # a four-column table's rules and padding


def _troubled_table(rows: list[_Row], width: int) -> Table:
    """Keys never break: the keys column is at least as wide as the longest key (as written in its
    cell: with its comma or backticks), wrapping only between keys; the error column folds in
    what is left. Where even that leaves too little, each error goes under its keys."""
    longest = max(cell_len(word) for keys, *_ in rows for word in keys.split())
    status_w = max(cell_len(status) for _, status, *_ in [*rows, ("", "status")])
    fix_w = max(cell_len(fix) for *_, fix in [*rows, ("", "", "", "fix")])
    room = width - _BORDERS - status_w - fix_w  # for keys and error together
    if room - longest < MIN_ERROR:
        return _stacked_table(rows)
    table = Table(show_header=True, header_style="bold")
    keys_max = max(cell_len(keys) for keys, *_ in [*rows, ("keys",)])
    error_max = max(cell_len(error) for _, _, error, _ in rows)
    if keys_max + error_max > room:  # the error takes up to half the room; the keys the rest, but all of the longest
        table.add_column("keys", width=max(longest, min(keys_max, room - min(error_max, room // 2))))
    else:
        table.add_column("keys")
    table.add_column("status", no_wrap=True)
    table.add_column("error", overflow="fold")
    table.add_column("fix", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


def _stacked_table(rows: list[_Row]) -> Table:
    """Keys too long to leave the error room beside them: status and error under the keys."""
    table = Table(show_header=True, header_style="bold")
    table.add_column("keys, then status: error")
    table.add_column("fix", no_wrap=True)
    for keys, status, error, fix in rows:
        table.add_row(f"{keys}\n{status}: {error}" if status else keys, fix)
    return table


def _print_fixes(console: Console, fixes: dict[str, int]) -> None:
    """The fixes the rows refer to by number, each once: wrapped to the console under a hanging
    indent (off a terminal, one line each)."""
    if not fixes:
        return
    console.print("Fixes (by the number in the fix column)", style="bold")
    indent = len(f" {len(fixes)}. ")
    for fix, number in fixes.items():
        lines = Text(fix).wrap(console, max(20, console.width - indent))
        for i, line in enumerate(lines):
            lead = f" {number}. ".rjust(indent) if i == 0 else " " * indent
            console.print(lead + line.plain.rstrip(), highlight=False, soft_wrap=True)


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
        f"{plural(result.uploads, 'upload')}.",
        highlight=False,
    )
    # the path on a line of its own, never folded (as the report's): it is copied whole from a terminal
    console.print(f"Ledger: {summary['ledger']}", soft_wrap=True, highlight=False)
    if result.stopped and result.stop_message:
        console.print(f"stopped: {result.stop_message}", highlight=False)
    if result.left_alone:
        keys = ", ".join(result.left_alone)
        replace = " ".join(result.left_alone_options)
        console.print(f"changed and left alone: {keys}. To make them again: run {manifest} {replace}", highlight=False)
    if summary.get("report"):
        console.print(f"Report: {summary['report']}", soft_wrap=True, highlight=False)
