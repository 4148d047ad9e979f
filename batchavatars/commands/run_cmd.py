"""The commands that talk to the API: run, and check (its pre-flight)."""

from __future__ import annotations

import sys
from typing import Any

import click

from .common import (
    OUT_FILE,
    base_url_option,
    check_base_url,
    check_output,
    exclude_option,
    json_lines,
    ledger_option,
    only_option,
    replace_option,
    user_errors,
)


@click.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@ledger_option
@click.option("--sandbox", is_flag=True, help="Run against the built-in HeyGen simulator (no account needed).")
@base_url_option
@click.option("--concurrency", type=click.IntRange(1, 256), default=8, show_default=True, help="Requests in flight.")
@click.option(
    "--rate",
    type=click.FloatRange(0),
    default=10.0,
    show_default=True,
    help="Requests per second at most (0: no limit); slows down by itself on 429s.",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(1, 50),
    default=6,
    show_default=True,
    help="Attempts per request on 5xx, timeouts and dropped connections.",
)
@click.option(
    "--max-training",
    type=click.IntRange(1),
    default=None,
    help="The account's cap on concurrent training jobs, if known (else learned from 429s).",
)
@click.option(
    "--wait-timeout",
    type=click.FloatRange(0),
    default=1800.0,
    show_default=True,
    help="Seconds to keep waiting on training and consent once nothing more can be sent; then exit 4.",
)
@click.option(
    "--no-wait", is_flag=True, help="Return as soon as everything that can be sent is sent (exit 4 if work is left)."
)
@replace_option(
    "Make these again although they exist (changed items are otherwise left alone), and what was made "
    "from them. Repeatable; globs."
)
@click.option(
    "--delete-replaced", is_flag=True, help="Delete the old looks of replaced items once their replacements succeeded."
)
@click.option("--include-adopted", is_flag=True, help="With --delete-replaced: also looks adopted from the account.")
@only_option
@exclude_option
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Send items that failed definitively again (each costs a credit); by default they are left failed.",
)
@click.option(
    "--replay-window",
    type=click.FloatRange(0),
    default=23 * 3600.0,
    show_default=True,
    metavar="SECONDS",
    help="HeyGen replays an Idempotency-Key for 24 h: a request older than this without a recorded answer "
    "is looked up on the account before it is sent again.",
)
@click.option(
    "--adopt",
    is_flag=True,
    help="Look the items up on the account first and adopt exact matches "
    "instead of creating them (after a lost ledger, or beyond the 24 h idempotency window).",
)
@click.option(
    "--json-summary",
    type=OUT_FILE,
    metavar="FILE",
    help="Also write the run's summary as JSON, for a job's own reporting.",
)
@click.option(
    "--credit-price",
    type=click.FloatRange(0),
    default=1.0,
    show_default=True,
    help="Credits one creation costs, for the summary.",
)
@click.option(
    "--log-format",
    type=click.Choice(["auto", "console", "json"]),
    default="auto",
    show_default=True,
    help="auto: readable on a terminal, JSON lines otherwise.",
)
@click.option("-v", "--verbose", count=True, help="More detail (each poll, each request).")
@click.option("-q", "--quiet", is_flag=True, help="Warnings and the summary only.")
@click.option("--progress/--no-progress", default=None, help="Live progress display (default: on a terminal).")
@click.option(
    "--report", "report_path", type=OUT_FILE, metavar="FILE", help="The HTML report (default: beside the ledger)."
)
@click.option("--no-report", is_flag=True, help="Write no HTML report.")
def run(manifest: str, **opts: Any) -> None:
    """Create what MANIFEST describes, resuming from its ledger; then write its HTML report.

    \b
    Example:
      batchavatars run manifests/example.yaml --sandbox
      HEYGEN_API_KEY=... batchavatars run team.yaml --rate 5 --wait-timeout 600
    """
    from ..runner import run_command

    json_lines(opts["log_format"] == "json" or (opts["log_format"] == "auto" and not sys.stderr.isatty()))
    from ..client import DEFAULT_BASE_URL  # loads httpx: only when the command runs

    with user_errors():
        check_output("--json-summary", opts["json_summary"])
        if not opts["no_report"]:
            check_output("--report", opts["report_path"], makes_folders=True)
        url = opts.pop("base_url") or DEFAULT_BASE_URL
        base_url = None if opts["sandbox"] else check_base_url(url)
        code = run_command(manifest, base_url=base_url, **opts)
    sys.exit(int(code))
