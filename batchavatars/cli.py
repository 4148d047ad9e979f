"""The command line. Parses options, wires manifest → plan → scheduler → ledger, and turns every
error a user can act on into one clear message and a documented exit code (exitcodes.py)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlparse

import click
from rich.console import Console

from . import __version__
from .client import DEFAULT_BASE_URL
from .errors import BatchAvatarsError, UsageError
from .exitcodes import ExitCode
from .ledger import Ledger, default_ledger_path
from .records import Record

if TYPE_CHECKING:
    from .manifest.load import Manifest

EPILOG_EXIT = (
    "Exit codes: 0 all succeeded, 1 some failed or blocked, 2 usage/manifest/ledger error, "
    "3 key rejected or not permitted, 4 work left waiting, 130 interrupted."
)


def _fail(error: BatchAvatarsError) -> None:
    click.echo(f"error: {error}", err=True)
    sys.exit(int(error.exit_code))


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except BatchAvatarsError as error:
        _fail(error)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    except Exception as exc:  # a bug of ours: one line, not a traceback; the ledger is committed as it stands
        if os.environ.get("BATCHAVATARS_DEBUG"):
            raise
        click.echo(
            f"internal error: {type(exc).__name__}: {exc}. The ledger is consistent; please report this "
            "(BATCHAVATARS_DEBUG=1 shows the traceback)",
            err=True,
        )
        sys.exit(int(ExitCode.ITEMS_FAILED))


def _ledger_path(manifest: Path | None, ledger: str | None, sandbox: bool = False) -> Path:
    chosen = ledger or os.environ.get("BATCHAVATARS_LEDGER")
    if chosen:
        return Path(chosen)
    if manifest is None:
        raise UsageError("which ledger? Fix: name the MANIFEST, or pass --ledger PATH (or set BATCHAVATARS_LEDGER)")
    return default_ledger_path(manifest.resolve(), sandbox=sandbox)


def _read_ledger(manifest: str | None, ledger: str | None, sandbox: bool = False) -> tuple[Path, list[Record]]:
    """The records of an existing ledger, for the commands that only read it."""
    path = _ledger_path(Path(manifest) if manifest else None, ledger, sandbox)
    if not sandbox and not path.exists() and manifest and not ledger:
        trial = _ledger_path(Path(manifest), None, sandbox=True)
        if trial.exists():
            raise UsageError(
                f"{path}: no ledger here yet, only the sandbox trial's. Fix: add --sandbox to read {trial}"
            )
    book = Ledger(path, create=False)
    try:
        return path, list(book.records().values())
    finally:
        book.close()


def _check_base_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise UsageError(
            f"base URL {url!r} is not an http(s) URL. Fix: pass --base-url https://api.heygen.com "
            "(or set HEYGEN_BASE_URL)"
        )
    return url


def _load(manifest: str) -> Manifest:
    from .manifest import load_manifest

    return load_manifest(manifest)


ledger_option = click.option(
    "--ledger",
    metavar="PATH",
    help="Ledger file (default: <manifest>.ledger.db beside the manifest; env BATCHAVATARS_LEDGER).",
)
only_option = click.option(
    "--only", multiple=True, metavar="KEY_OR_GLOB", help="Only these items (and the parents they need). Repeatable."
)
sandbox_ledger_option = click.option(
    "--sandbox", is_flag=True, help="The ledger of `run --sandbox` trials (<manifest>.sandbox.ledger.db)."
)
OUT_FILE = click.Path(dir_okay=False, writable=True)
exclude_option = click.option("--exclude", multiple=True, metavar="KEY_OR_GLOB", help="Leave these out. Repeatable.")


@click.group(epilog=EPILOG_EXIT, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="batchavatars")
def main() -> None:
    """Turn a YAML manifest of HeyGen avatars and looks into real avatars, resumably.

    \b
    Example:
      batchavatars validate manifests/example.yaml
      batchavatars plan manifests/example.yaml
      batchavatars run manifests/example.yaml --sandbox
    """


@main.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
def validate(manifest: str) -> None:
    """Check MANIFEST offline; exit 0 if it is usable, 2 with every problem named if not.

    \b
    Example:  batchavatars validate manifests/example.yaml
    """
    with _user_errors():
        loaded = _load(manifest)
        for note in loaded.notes:
            click.echo(f"note: {note}", err=True)
        kinds = {"avatar": 0, "look": 0}
        for item in loaded.items:
            kinds[item.kind] += 1
        click.echo(f"{manifest}: ok ({kinds['avatar']} avatars, {kinds['look']} looks)")


@main.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@ledger_option
@only_option
@exclude_option
@click.option(
    "--replace",
    "--recreate",
    "recreate",
    multiple=True,
    metavar="KEY_OR_GLOB",
    help="Plan these (and what was made from them) to be made again.",
)
@click.option("--retry-failed", is_flag=True, help="Plan definitive failures to be sent again.")
@sandbox_ledger_option
@click.option("--json", "as_json", is_flag=True, help="Every item with its key, action and reason, as JSON.")
def plan(
    manifest: str,
    ledger: str | None,
    only: tuple[str, ...],
    exclude: tuple[str, ...],
    recreate: tuple[str, ...],
    retry_failed: bool,
    sandbox: bool,
    as_json: bool,
) -> None:
    """What `run` would do against the ledger (create / skip / poll / retry / changed). No API calls.

    \b
    Example:  batchavatars plan manifests/example.yaml --json
    """
    from .plan import build_plan

    with _user_errors():
        loaded = _load(manifest)
        path = _ledger_path(loaded.path, ledger, sandbox)
        records = {r.key: r for r in _read_ledger(None, str(path))[1]} if path.exists() else {}
        the_plan = build_plan(
            loaded.items, records, recreate=recreate, only=list(only), exclude=list(exclude), retry_failed=retry_failed
        )
        if as_json:
            rows = [
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
                for s in the_plan.steps.values()
            ]
            click.echo(
                json.dumps(
                    {"items": rows, "counts": the_plan.counts(), "notes": the_plan.notes, "ledger": str(path)}, indent=2
                )
            )
            return
        from rich.table import Table

        console = Console()
        table = Table(title=f"Plan for {manifest} (ledger {path})", header_style="bold")
        for col in ("key", "kind", "parent", "action", "reason"):
            table.add_column(col, overflow="fold")
        for step in the_plan.steps.values():
            table.add_row(
                step.spec.key, step.spec.kind, step.spec.parent or step.spec.avatar_id or "", step.action, step.reason
            )
        console.print(table)
        console.print(", ".join(f"{n} {a}" for a, n in sorted(the_plan.counts().items())))
        for note in [*loaded.notes, *the_plan.notes]:
            console.print(f"note: {note}")


@main.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@ledger_option
@click.option("--sandbox", is_flag=True, help="Run against the built-in HeyGen simulator (no account needed).")
@click.option(
    "--base-url",
    envvar="HEYGEN_BASE_URL",
    metavar="URL",
    help="API base URL (env HEYGEN_BASE_URL; default https://api.heygen.com).",
)
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
@click.option(
    "--replace",
    "--recreate",
    "recreate",
    multiple=True,
    metavar="KEY_OR_GLOB",
    help="Make these again although they exist (changed items are otherwise left alone), and what was made "
    "from them. Repeatable; globs.",
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
    type=click.Path(dir_okay=False, writable=True),
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
    from .runner import run_command

    with _user_errors():
        url = opts.pop("base_url") or DEFAULT_BASE_URL
        base_url = None if opts["sandbox"] else _check_base_url(url)
        code = run_command(manifest, base_url=base_url, **opts)
    sys.exit(int(code))


@main.command()
@click.argument("manifest", required=False, type=click.Path(dir_okay=False))
@ledger_option
@sandbox_ledger_option
@click.option("--json", "as_json", is_flag=True, help="Counts and failed items as JSON.")
def status(manifest: str | None, ledger: str | None, sandbox: bool, as_json: bool) -> None:
    """Counts by status, failed items with their error and fix, consent links waiting.

    \b
    Example:  batchavatars status manifests/example.yaml
    """
    from .summary import outcome, render_records

    with _user_errors():
        path, records = _read_ledger(manifest, ledger, sandbox)
        if as_json:
            click.echo(json.dumps({"ledger": str(path), **outcome(records)}, indent=2))
            return
        render_records(Console(), records, title=f"Ledger {path}")


@main.command()
@click.argument("manifest", required=False, type=click.Path(dir_okay=False))
@ledger_option
@click.option("--format", "fmt", type=click.Choice(["json", "jsonl", "csv"]), default="json", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="File to write (default stdout).")
@sandbox_ledger_option
@click.option("--history", is_flag=True, help="What existed: the looks of replaced and pruned items, when, why.")
def export(
    manifest: str | None, ledger: str | None, fmt: str, output: str | None, sandbox: bool, history: bool
) -> None:
    """The ledger's records (look_id, group_id, status, consent_url, ...) for the tools downstream.

    \b
    Example:  batchavatars export manifests/example.yaml --format csv -o avatars.csv
    """
    from . import export as exporter

    with _user_errors():
        path, records = _read_ledger(manifest, ledger, sandbox)
        rows: list[dict[str, object]] = []
        if history:
            book = Ledger(path, create=False)
            try:
                rows = book.history()
            finally:
                book.close()

        def write(out: TextIO) -> int:
            return exporter.write_history(rows, fmt, out) if history else exporter.write(records, fmt, out)

        if output:
            with open(output, "w", encoding="utf-8", newline="") as out:
                n = write(out)
            click.echo(f"wrote {n} records to {output}", err=True)
        else:
            write(sys.stdout)


@main.command()
@click.argument("manifest", required=False, type=click.Path(dir_okay=False))
@ledger_option
@click.option(
    "-o", "--output", type=OUT_FILE, metavar="FILE", help="Default: <manifest>.report.html beside the ledger."
)
@click.option(
    "--embed-previews",
    is_flag=True,
    help="Fetch each preview once (cached in <manifest>.previews/ beside the ledger) and put it in the file, "
    "so the report shows the pictures offline.",
)
@sandbox_ledger_option
def report(manifest: str | None, ledger: str | None, output: str | None, embed_previews: bool, sandbox: bool) -> None:
    """An HTML report of the ledger: consent links and failures first, then every character with its looks.
    Prints the path of the file written.

    \b
    Example:  batchavatars report manifests/example.yaml --embed-previews
    """
    from .report import report_from_ledger

    with _user_errors():
        path = _ledger_path(Path(manifest) if manifest else None, ledger, sandbox)
        written, found = report_from_ledger(path, manifest or str(path), output, embed_previews=embed_previews)
        if found is not None:
            click.echo(found.describe(), err=True)
        click.echo(str(written))


@main.command()
@click.option("--port", default="8765", show_default=True, metavar="PORT", help="0: any free port.")
@click.option("--training-seconds", default="5", show_default=True, metavar="SECONDS")
@click.option(
    "--consent-seconds",
    default="10",
    show_default=True,
    metavar="SECONDS",
    help="Seconds from a consent request to its approval (null: never).",
)
@click.option("--rate-limit", default="20", show_default=True, metavar="N", help="Requests per second (0: none).")
@click.option(
    "--consent-signal",
    default="look",
    show_default=True,
    metavar="look|group|both",
    help="Where a digital twin's consent wait shows: its look, its group, or both.",
)
@click.option(
    "--list-status",
    default="always",
    show_default=True,
    metavar="always|omit",
    help="omit: rows of GET /v3/avatars/looks carry no status.",
)
@click.option(
    "--not-found-code",
    default="not_found",
    show_default=True,
    metavar="CODE",
    help="The code of every 404: not_found, avatar_not_found or resource_not_found.",
)
@click.option(
    "--asset-processing-seconds",
    default="0",
    show_default=True,
    metavar="SECONDS",
    help="How long an uploaded asset is processing before it can be used.",
)
@click.option(
    "--complete-conflicts",
    default="0",
    show_default=True,
    metavar="N",
    help="The first N /complete calls per asset answer 409 (uploaded object not found yet).",
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Any other sandbox setting, VALUE as JSON (e.g. foreign_groups='[\"group_x\"]'). Repeatable.",
)
def sandbox(settings: tuple[str, ...], **options: str) -> None:
    """Serve the HeyGen v3 simulator on loopback for other tools; prints its URL. Ctrl-C stops it.

    Settings can also change while it runs: POST {url}/_sandbox/config with a JSON object.

    \b
    Example:
      batchavatars sandbox --port 8765 --consent-signal group &
      HEYGEN_API_KEY=test batchavatars run manifests/example.yaml --base-url http://127.0.0.1:8765
    """
    import time

    from .sandbox import SandboxConfig, serve
    from .sandbox.config import describe_error, parse_setting

    fields = {"consent_seconds": "consent_approval_seconds"}  # option -> config field, where they differ
    names = {fields.get(opt, opt): "--" + opt.replace("_", "-") for opt in options}
    try:
        values = dict(parse_setting(f"{fields.get(opt, opt)}={raw}") for opt, raw in options.items())
        values.update(parse_setting(text) for text in settings)
        values["rate_limit"] = values["rate_limit"] or None
        config = SandboxConfig(**values)
    except ValueError as exc:
        _fail(UsageError(f"bad sandbox setting: {describe_error(exc, names)}. Fix: see batchavatars sandbox --help"))
        return
    try:
        with serve(config) as handle:
            click.echo(handle.url, nl=True)
            sys.stdout.flush()
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        sys.exit(0)
    except OSError as exc:
        _fail(UsageError(f"cannot serve on port {config.port} ({exc.strerror}). Fix: pick another --port"))


@main.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@ledger_option
@click.option("--sandbox", is_flag=True, help="Prune the sandbox trial's ledger against the built-in simulator.")
@click.option("--base-url", envvar="HEYGEN_BASE_URL", metavar="URL", help="API base URL (env HEYGEN_BASE_URL).")
@click.option("--yes", is_flag=True, help="Delete them (without it, only list what would be deleted).")
@click.option("--include-adopted", is_flag=True, help="Also delete looks adopted from the account.")
def prune(
    manifest: str, ledger: str | None, sandbox: bool, base_url: str | None, yes: bool, include_adopted: bool
) -> None:
    """Delete the looks of items no longer in MANIFEST (only those this ledger made), and forget them.

    \b
    Example:
      batchavatars prune team.yaml          # lists what it would delete
      batchavatars prune team.yaml --yes    # deletes it
    """
    import anyio

    from .prune import aprune

    with _user_errors():
        url = None if sandbox else _check_base_url(base_url or DEFAULT_BASE_URL)
        found = anyio.run(
            lambda: aprune(
                manifest, yes=yes, include_adopted=include_adopted, ledger=ledger, sandbox=sandbox, base_url=url
            )
        )
        for rec in found.kept:
            click.echo(f"kept {rec.key} ({rec.look_id}): adopted from the account; --include-adopted to delete it")
        if not found.candidates:
            click.echo("nothing to prune")
            return
        for rec in found.candidates:
            verb = "deleted" if rec.key in found.deleted else ("failed" if rec.key in found.failed else "would delete")
            why = f": {found.failed[rec.key]}" if rec.key in found.failed else ""
            click.echo(f"{verb} {rec.key} ({rec.name}, look {rec.look_id or '-'}){why}")
        if not yes:
            click.echo(f"{len(found.candidates)} to prune. Run again with --yes to delete them")
        elif found.failed:
            sys.exit(int(ExitCode.ITEMS_FAILED))


@main.command()
def schema() -> None:
    """Print the manifest's JSON Schema (for editors and CI).

    \b
    Example:  batchavatars schema > batchavatars.schema.json
    """
    from .manifest import manifest_json_schema

    click.echo(json.dumps(manifest_json_schema(), indent=2))


@main.command()
@click.argument("path", default="avatars.yaml", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: str, force: bool) -> None:
    """Write a commented starter manifest to PATH (default avatars.yaml).

    \b
    Example:  batchavatars init team.yaml && batchavatars validate team.yaml
    """
    from .manifest import starter_manifest

    target = Path(path)
    if target.exists() and not force:
        _fail(UsageError(f"{path} exists. Fix: choose another path or pass --force"))
    try:
        created = not target.parent.exists()
        target.parent.mkdir(parents=True, exist_ok=True)  # `init team/q3/avatars.yaml` makes team/q3
        target.write_text(starter_manifest(), encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        _fail(UsageError(f"cannot write {path} ({reason}). Fix: choose a path in a folder you can write to"))
    made = f" (and its folder {target.parent})" if created else ""
    click.echo(f"wrote {path}{made}; edit it, then: batchavatars validate {path}")
