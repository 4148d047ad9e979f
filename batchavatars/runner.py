"""`batchavatars run`, wired: manifest → plan (against the ledger) → scheduler → summary.
Kept apart from cli.py so tests and benchmarks can call it without a shell."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
from rich.console import Console

from .client import HeyGenClient
from .credentials import api_key_from_env
from .exitcodes import ExitCode
from .ledger import Ledger, default_ledger_path
from .logs import configure, log_reporter
from .plan import build_plan
from .scheduler import RunOptions, RunResult, Scheduler
from .summary import outcome, render_records

SANDBOX_KEY = "sandbox-key"  # the simulator accepts any key; never a real one


@contextlib.contextmanager
def _sandbox() -> Iterator[str]:
    from .sandbox import SandboxConfig, serve

    # Quick enough for a demo, slow enough to watch training and consent happen.
    with serve(SandboxConfig(training_seconds=1.5, consent_approval_seconds=3.0)) as handle:
        yield handle.url


def run_command(
    manifest: str,
    *,
    base_url: str | None,
    ledger: str | None,
    sandbox: bool,
    concurrency: int,
    rate: float,
    max_attempts: int,
    max_training: int | None,
    wait_timeout: float,
    no_wait: bool,
    recreate: tuple[str, ...],
    only: tuple[str, ...],
    exclude: tuple[str, ...],
    adopt: bool,
    json_summary: str | None,
    credit_price: float,
    log_format: str,
    verbose: int,
    quiet: bool,
    progress: bool | None,
) -> ExitCode:
    from .manifest import load_manifest

    loaded = load_manifest(manifest)
    path = Path(ledger or os.environ.get("BATCHAVATARS_LEDGER") or default_ledger_path(loaded.path))
    api_key = SANDBOX_KEY if sandbox else api_key_from_env()
    logger = configure(fmt=log_format, verbosity=-1 if quiet else verbose, secrets=[api_key])
    book = Ledger(path)
    try:
        with book.exclusive():
            for note in loaded.notes:
                logger.info("note", note=note)
            options = RunOptions(
                concurrency=concurrency,
                rate=rate,
                max_attempts=max_attempts,
                max_training=max_training,
                wait_timeout=wait_timeout,
                no_wait=no_wait,
            )
            with _sandbox() if sandbox else contextlib.nullcontext(base_url) as url:
                result = anyio.run(
                    _run,
                    loaded.items,
                    book,
                    url,
                    api_key,
                    options,
                    logger,
                    adopt,
                    dict(recreate=recreate, only=list(only), exclude=list(exclude)),
                    sys.stderr.isatty() if progress is None else progress,
                )
    finally:
        book.close()
    console = Console(stderr=False)
    render_records(console, result.records, title=f"Run of {manifest}")
    credits = result.creations * credit_price
    console.print(
        f"{result.elapsed:.1f} s, {result.requests} requests ({result.rate_limited} answered 429), "
        f"{result.creations} creations ≈ {credits:g} credits, {result.uploads} uploads. Ledger: {path}"
    )
    if result.stopped and result.stop_message:
        console.print(f"stopped: {result.stop_message}")
    if json_summary:
        Path(json_summary).write_text(
            json.dumps(summary_dict(result, path, credits), indent=2) + "\n", encoding="utf-8"
        )
    return result.exit_code


async def _run(
    items: Any,
    book: Ledger,
    url: Any,
    api_key: str,
    options: RunOptions,
    logger: Any,
    adopt: bool,
    selection: Any,
    show_progress: bool,
) -> RunResult:
    reporter = log_reporter(logger)
    async with HeyGenClient(url, api_key, max_connections=max(options.concurrency * 2, 16)) as client:
        if adopt:
            from .adopt import adopt_existing

            adopted, ambiguous = await adopt_existing(items, book, client, reporter)
            logger.info("adopt_done", adopted=len(adopted), ambiguous=sorted(ambiguous))
            held = {
                key: f"{len(ids)} looks match it on the account ({', '.join(ids)})" for key, ids in ambiguous.items()
            }
        else:
            held = {}
        plan = build_plan(items, book.records(), **selection)
        for note in plan.notes:
            logger.info("note", note=note)
        scheduler = Scheduler(
            plan, book, client, options, reporter=reporter, recreate=frozenset(selection["recreate"]), held=held
        )
        if not show_progress:
            return await scheduler.run(handle_signals=True)
        from .progress import ProgressView

        with ProgressView(scheduler.snapshot):
            return await scheduler.run(handle_signals=True)


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
        "ledger": str(ledger),
    }
