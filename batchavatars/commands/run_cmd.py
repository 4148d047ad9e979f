"""`batchavatars run`: the options, and what a person or a cron job sees around the Python API's
`arun` (which does the work and prints nothing): the log lines, the live display, the summary and
the HTML report."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..exitcodes import ExitCode
from ..settings import CREDIT_PRICE, DEFAULTS
from .common import (
    OUT_FILE,
    base_url_option,
    check_output,
    console,
    exclude_option,
    json_lines,
    ledger_option,
    load,
    lock_timeout_option,
    move_option,
    only_option,
    replace_option,
    say,
    user_errors,
)

if TYPE_CHECKING:
    import structlog

    from ..events import Event, Snapshot
    from ..presentation.progress import ProgressView
    from ..records import RunResult


@click.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@ledger_option
@click.option("--sandbox", is_flag=True, help="Run against the built-in HeyGen simulator (no account needed).")
@base_url_option
@lock_timeout_option
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=DEFAULTS.concurrency,
    show_default=True,
    help="Requests in flight.",
)
@click.option(
    "--rate",
    type=click.FloatRange(0),
    default=DEFAULTS.rate,
    show_default=True,
    help="Requests per second at most (0: no limit); slows down by itself on 429s.",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(1, 50),
    default=DEFAULTS.max_attempts,
    show_default=True,
    help="Attempts per request on 5xx, timeouts and dropped connections.",
)
@click.option(
    "--max-training",
    type=click.IntRange(1),
    default=DEFAULTS.max_training,
    help="The account's cap on concurrent training jobs, if known (else learned from 429s).",
)
@click.option(
    "--wait-timeout",
    type=click.FloatRange(0),
    default=DEFAULTS.wait_timeout,
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
@move_option
@click.option(
    "--plan",
    "saved_plan",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Apply exactly a plan saved with `plan -o FILE` (its options too); exit 2, nothing sent, "
    "when the manifest or the ledger changed since it was made.",
)
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
    default=DEFAULTS.replay_window,
    show_default=True,
    metavar="SECONDS",
    help="HeyGen replays an Idempotency-Key for 24 h: a request older than this without a recorded answer "
    "is looked up on the account before it is sent again.",
)
@click.option(
    "--refresh",
    is_flag=True,
    help="Read the account first (list calls) and write into the ledger what it says: a look deleted there is "
    "made again (and what was made from it), one renamed there renamed back, one failed later sent again, a twin "
    "whose consent was revoked asked for consent again.",
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
    default=CREDIT_PRICE,
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
    shown = Shown(**{name: opts.pop(name) for name in _SHOWN})
    json_lines(shown.as_json)  # from here on, this run's last words are JSON lines too
    # SIGTERM (a stopped pod, `timeout`) is Ctrl-C here, before and after the run as during it: 130, never 143
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with user_errors():
        check_output("--json-summary", shown.json_summary)
        if not shown.no_report:
            check_output("--report", shown.report_path, makes_folders=True)
        code = _run(manifest, shown, opts)
    sys.exit(int(code))


@dataclass(slots=True)
class Shown:
    """How `run` shows itself: the options that are not RunSettings, and what they come to."""

    log_format: str
    verbose: int
    quiet: bool
    progress: bool | None
    json_summary: str | None
    credit_price: float
    report_path: str | None
    no_report: bool
    consent_links: list[tuple[str, str]] = field(init=False, default_factory=list)  # (key, url), as links arrive
    previews: dict[str, str] = field(init=False, default_factory=dict)  # look id -> data URI, for the report

    @property
    def as_json(self) -> bool:
        return self.log_format == "json" or (self.log_format == "auto" and not sys.stderr.isatty())

    @property
    def live(self) -> bool:
        """The live progress display: on a terminal unless asked otherwise, never with JSON logs."""
        return sys.stderr.isatty() and not self.as_json if self.progress is None else self.progress

    @property
    def verbosity(self) -> int:
        # Above a live display only what needs a person (failures, consent links, warnings) unless -v.
        return -1 if self.quiet or (self.live and self.verbose == 0) else self.verbose


_SHOWN = tuple(f.name for f in fields(Shown) if f.init)  # the rest of run's options are RunSettings' fields


def _run(manifest: str, shown: Shown, settings: dict[str, Any]) -> ExitCode:
    # The API (httpx, anyio) loads only when a command runs: `batchavatars --help` stays quick.
    import anyio

    from ..api import api_url, arun, resolve_key
    from ..presentation.logs import configure, log_reporter

    settings["base_url"] = api_url(
        settings["sandbox"], settings["base_url"]
    )  # a typo is found before the manifest is read
    loaded = load(manifest)
    key = resolve_key(sandbox=settings["sandbox"])
    logger = configure(fmt="json" if shown.as_json else "console", verbosity=shown.verbosity, secrets=[key])
    hooks = _Hooks(shown, log_reporter(logger), logger, sandbox=settings["sandbox"])
    result = anyio.run(
        lambda: arun(
            loaded,
            api_key=key,
            on_event=hooks.on_event,
            display=hooks.display if shown.live else None,
            handle_signals=True,
            on_finish=hooks.keep_previews,
            on_response=hooks.on_response if shown.verbose > 0 else None,
            **settings,
        )
    )
    _finish(result, manifest, shown)
    return result.exit_code


class _Hooks:
    """What the CLI hangs on a run: log lines, the consent links for the live display (and its
    stopping line), request logs (-v), and the sandbox's preview images fetched while it is still up."""

    def __init__(self, shown: Shown, log: Callable[..., None], logger: structlog.BoundLogger, *, sandbox: bool) -> None:
        self._shown, self._log, self._logger, self._sandbox = shown, log, logger, sandbox
        self._view: ProgressView | None = None

    def on_event(self, event: Event, /, **fields: Any) -> None:
        links = self._shown.consent_links
        if event == "consent_requested" and fields.get("consent_url"):
            links.append((str(fields.get("key")), str(fields["consent_url"])))
        elif event == "consent_approved":  # the person approved: that twin's link is no longer to send
            links[:] = [link for link in links if link[0] != fields.get("key")]
        elif event == "run_stopping" and self._view is not None:
            self._view.stopping(fields)
        self._log(event, **fields)

    def on_response(self, method: str, route: str, status: int, ms: float, request_id: str | None) -> None:
        self._logger.debug("request", method=method, route=route, status=status, ms=round(ms, 1), request_id=request_id)

    def display(self, snapshot: Callable[[], Snapshot]) -> ProgressView:
        from ..presentation.progress import ProgressView

        self._view = ProgressView(snapshot, consent_links=self._shown.consent_links)
        return self._view

    async def keep_previews(self, result: RunResult) -> None:
        # The sandbox's preview images go with it when the run ends: embed them while it is up.
        if self._sandbox and not self._shown.no_report and result.ledger is not None:
            from ..presentation.report import default_previews_dir
            from ..presentation.report_previews import embed_previews_async

            found = await embed_previews_async(result.records, default_previews_dir(result.ledger))
            self._shown.previews.update(found.uris)


def _finish(result: RunResult, manifest: str, shown: Shown) -> None:
    """The report, then the summary: a JSON line or the tables, and the --json-summary file."""
    from ..presentation.summary import print_run, run_summary

    path = result.ledger or Path()  # set by arun, always
    summary = run_summary(result, path, result.creations * shown.credit_price)
    summary["manifest"] = manifest
    if not shown.no_report:
        _write_report(path, result, manifest, summary, shown)
    if shown.as_json:
        line = {"event": "run_summary", "level": "info", "timestamp": datetime.now(UTC).isoformat(), **summary}
        click.echo(json.dumps(line))
    else:
        print_run(console(), result, manifest, summary)
    if shown.json_summary:
        Path(shown.json_summary).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def _write_report(ledger: Path, result: RunResult, manifest: str, summary: dict[str, Any], shown: Shown) -> None:
    """After every run, whatever its exit code; a report that cannot be written is a warning only:
    the run is done and its ledger committed."""
    from ..presentation.report import write_report

    try:
        written = write_report(
            ledger, result.records, manifest, summary, report_path=shown.report_path, previews=shown.previews
        )
    except OSError as exc:
        say(
            f"warning: cannot write the report ({exc.strerror or exc}). Fix: pass --report FILE somewhere writable",
            event="report_failed",
            level="warning",
        )
        return
    summary["report"] = str(written)
