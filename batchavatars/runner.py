"""`batchavatars run` as the CLI shows it: logs, the live display and the summary around the
Python API's `arun` (api.py), which does the work and prints nothing."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import click

from .api import SANDBOX_KEY, arun
from .commands.common import console, say
from .credentials import api_key_from_env
from .events import Event, Snapshot
from .exitcodes import ExitCode
from .presentation.logs import configure, log_reporter
from .presentation.summary import outcome, plural, render_records
from .scheduler import RunResult

if TYPE_CHECKING:
    from .presentation.progress import ProgressView


def run_command(
    manifest: str,
    *,
    base_url: str | None,
    ledger: str | None,
    sandbox: bool,
    json_summary: str | None,
    credit_price: float,
    log_format: str,
    verbose: int,
    quiet: bool,
    progress: bool | None,
    report_path: str | None = None,
    no_report: bool = False,
    **settings: Any,
) -> ExitCode:
    """`settings`: the run options the CLI passes through to api.RunSettings unchanged."""
    from .manifest import load_manifest

    loaded = load_manifest(manifest)
    api_key = SANDBOX_KEY if sandbox else api_key_from_env()
    as_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    show = sys.stderr.isatty() and not as_json if progress is None else progress
    # Above a live display only what needs a person (failures, consent links, warnings) unless -v.
    verbosity = -1 if quiet or (show and verbose == 0) else verbose
    logger = configure(fmt="json" if as_json else "console", verbosity=verbosity, secrets=[api_key])
    consent_links: list[tuple[str, str]] = []
    log = log_reporter(logger)

    def on_event(event: Event, /, **fields: Any) -> None:
        if event == "consent_requested" and fields.get("consent_url"):
            consent_links.append((str(fields.get("key")), str(fields["consent_url"])))
        log(event, **fields)

    def on_response(method: str, route: str, status: int, ms: float, request_id: str | None) -> None:
        logger.debug("request", method=method, route=route, status=status, ms=round(ms, 1), request_id=request_id)

    previews: dict[str, str] = {}

    async def keep_previews(result: RunResult) -> None:
        # The sandbox's preview images go with it when the run ends: embed them while it is up.
        if sandbox and not no_report and result.ledger is not None:
            from .presentation.report import default_previews_dir
            from .presentation.report_previews import embed_previews_async

            previews.update((await embed_previews_async(result.records, default_previews_dir(result.ledger))).uris)

    def display(snapshot: Callable[[], Snapshot]) -> ProgressView:
        from .presentation.progress import ProgressView

        return ProgressView(snapshot, consent_links=consent_links)

    result = anyio.run(
        lambda: arun(
            loaded,
            base_url=base_url,
            api_key=api_key,
            sandbox=sandbox,
            ledger=ledger,
            on_event=on_event,
            display=display if show else None,
            handle_signals=True,
            on_finish=keep_previews,
            on_response=on_response if verbose > 0 else None,
            **settings,
        )
    )
    path = result.ledger or Path(ledger or "")
    credits = result.creations * credit_price
    summary = summary_dict(result, path, credits)
    summary["manifest"] = manifest
    if not no_report:
        _write_report(path, result, manifest, summary, report_path, previews)
    if as_json:
        line = {"event": "run_summary", "level": "info", "timestamp": datetime.now(UTC).isoformat(), **summary}
        click.echo(json.dumps(line))
    else:
        _print_summary(result, manifest, summary)
    if json_summary:
        Path(json_summary).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return result.exit_code


def _print_summary(result: RunResult, manifest: str, summary: dict[str, Any]) -> None:
    out = console()
    render_records(out, result.records, title=f"Run of {manifest}")
    out.print(
        f"{result.elapsed:.1f} s, {plural(result.requests, 'request')} ({result.rate_limited} answered 429), "
        f"{plural(result.creations, 'creation')} ≈ {summary['credits']:g} credits, "
        f"{plural(result.uploads, 'upload')}. Ledger: {summary['ledger']}",
        highlight=False,
    )
    if result.stopped and result.stop_message:
        out.print(f"stopped: {result.stop_message}", highlight=False)
    if result.left_alone:
        keys = ", ".join(result.left_alone)
        replace = " ".join(f"--replace {key}" for key in result.left_alone)
        out.print(f"changed and left alone: {keys}. To make them again: run {manifest} {replace}", highlight=False)
    if summary.get("report"):
        out.print(f"Report: {summary['report']}", soft_wrap=True, highlight=False)


def _write_report(
    ledger: Path,
    result: RunResult,
    manifest: str,
    summary: dict[str, Any],
    report_path: str | None,
    previews: dict[str, str],
) -> None:
    """After every run, whatever its exit code; a report that cannot be written is a warning only:
    the run is done and its ledger committed."""
    from .presentation.report import write_report

    try:
        written = write_report(ledger, result.records, manifest, summary, report_path=report_path, previews=previews)
    except OSError as exc:
        say(
            f"warning: cannot write the report ({exc.strerror or exc}). Fix: pass --report FILE somewhere writable",
            event="report_failed",
            level="warning",
        )
        return
    summary["report"] = str(written)


def summary_dict(result: RunResult, ledger: Path, credits: float) -> dict[str, Any]:
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
        "left_alone_fix": ("run again with " + " ".join(f"--replace {k}" for k in result.left_alone))
        if result.left_alone
        else None,
        "stop_message": result.stop_message if result.stopped else None,
        "ledger": str(ledger),
    }
