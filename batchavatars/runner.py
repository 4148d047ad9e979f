"""`batchavatars run` as the CLI shows it: logs, the live display and the summary around the
Python API's `arun` (api.py), which does the work and prints nothing."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from rich.console import Console

from .api import SANDBOX_KEY, arun
from .credentials import api_key_from_env
from .events import Snapshot
from .exitcodes import ExitCode
from .logs import configure, log_reporter
from .scheduler import RunResult
from .summary import outcome, render_records

if TYPE_CHECKING:
    from .progress import ProgressView


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
    logger = configure(fmt=log_format, verbosity=-1 if quiet else verbose, secrets=[api_key])
    show = sys.stderr.isatty() if progress is None else progress
    previews: dict[str, str] = {}

    async def keep_previews(result: RunResult) -> None:
        # The sandbox's preview images go with it when the run ends: embed them while it is up.
        if sandbox and not no_report and result.ledger is not None:
            from .report import default_previews_dir
            from .report_previews import embed_previews_async

            previews.update((await embed_previews_async(result.records, default_previews_dir(result.ledger))).uris)

    result = anyio.run(
        lambda: arun(
            loaded,
            base_url=base_url,
            api_key=api_key,
            sandbox=sandbox,
            ledger=ledger,
            on_event=log_reporter(logger),
            display=_progress if show else None,
            handle_signals=True,
            on_finish=keep_previews,
            **settings,
        )
    )
    path = result.ledger or Path(ledger or "")
    console = Console(stderr=False)
    render_records(console, result.records, title=f"Run of {manifest}")
    credits = result.creations * credit_price
    console.print(
        f"{result.elapsed:.1f} s, {result.requests} requests ({result.rate_limited} answered 429), "
        f"{result.creations} creations ≈ {credits:g} credits, {result.uploads} uploads. Ledger: {path}"
    )
    if result.stopped and result.stop_message:
        console.print(f"stopped: {result.stop_message}")
    if result.left_alone:
        keys = ", ".join(result.left_alone)
        replace = " ".join(f"--replace {key}" for key in result.left_alone)
        console.print(f"changed and left alone: {keys}. To make them again: run {manifest} {replace}", soft_wrap=True)
    summary = summary_dict(result, path, credits)
    if not no_report:
        _write_report(console, path, result, manifest, summary, report_path, previews)
    if json_summary:
        Path(json_summary).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return result.exit_code


def _write_report(
    console: Console,
    ledger: Path,
    result: RunResult,
    manifest: str,
    summary: dict[str, Any],
    report_path: str | None,
    previews: dict[str, str],
) -> None:
    """After every run, whatever its exit code; a report that cannot be written is a warning only:
    the run is done and its ledger committed."""
    from .report import write_report

    try:
        written = write_report(ledger, result.records, manifest, summary, report_path=report_path, previews=previews)
    except OSError as exc:
        print(
            f"warning: cannot write the report ({exc.strerror or exc}). Fix: pass --report FILE somewhere writable",
            file=sys.stderr,
        )
        return
    summary["report"] = str(written)
    console.print(f"Report: {written}", soft_wrap=True, highlight=False)


def _progress(snapshot: Callable[[], Snapshot]) -> ProgressView:
    from .progress import ProgressView

    return ProgressView(snapshot)


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
        "ledger": str(ledger),
    }
