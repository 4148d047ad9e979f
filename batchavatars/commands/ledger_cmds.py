"""The commands that only read the ledger: plan, status, export, report, each over its function of
the Python API (api.py), which opens the ledger read-only: they work on a ledger in a read-only
folder and can never change one."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, TextIO

import click

from ..exitcodes import ExitCode
from .common import (
    OUT_FILE,
    base_url_option,
    check_output,
    console,
    exclude_option,
    ledger_option,
    load,
    move_option,
    only_option,
    replace_option,
    sandbox_ledger_option,
    say,
    user_errors,
)

if TYPE_CHECKING:
    from ..planner import Plan

# Above this many items, or off a terminal, the plan is plain lines: a rich table of 100,000 rows
# takes over a minute and half a gigabyte to lay out.
TABLE_LIMIT = 1000


def _plan_entries(the_plan: Plan) -> Iterator[tuple[str, str, str, str, str]]:
    """(key, kind, parent, action, reason) for every item the plan touches, the prunes last."""
    for step in the_plan.steps.values():
        spec = step.spec
        yield spec.key, spec.kind, spec.parent or spec.avatar_id or "", step.action, step.reason
    for record in the_plan.prune:
        yield record.key, record.kind, record.parent or "", "prune", the_plan.why_prune(record)


def _plan_lines(the_plan: Plan, heading: str) -> None:
    out = sys.stdout
    out.write(heading + "\n")
    block: list[str] = []
    for key, kind, parent, action, reason in _plan_entries(the_plan):
        of = f" of {parent}" if parent else ""
        block.append(f"{action:<7} {key} ({kind}{of}): {reason}\n")
        if len(block) >= 4096:
            out.write("".join(block))
            block.clear()
    out.write("".join(block))


def _plan_table(the_plan: Plan, heading: str) -> None:
    from rich.table import Table

    table = Table(header_style="bold")
    for col in ("key", "kind", "parent", "action", "reason"):
        table.add_column(col, overflow="fold")
    for entry in _plan_entries(the_plan):
        table.add_row(*entry)
    shown = console()
    shown.print(heading, highlight=False)
    shown.print(table)


@click.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@ledger_option
@only_option
@exclude_option
@replace_option("Plan these (and what was made from them) to be made again.")
@click.option("--retry-failed", is_flag=True, help="Plan definitive failures to be sent again.")
@move_option
@sandbox_ledger_option
@click.option(
    "--refresh",
    is_flag=True,
    help="First read the account (list calls; with --sandbox the trial's simulator) and plan against the ledger "
    "as it says it is: looks deleted, renamed, failed later, consent revoked. Changes nothing.",
)
@base_url_option
@click.option(
    "--exit-code", "exit_code", is_flag=True, help="Exit 5 when the plan has work (anything but skip), 0 when not."
)
@click.option("--json", "as_json", is_flag=True, help="Every item with its key, action and reason, as JSON.")
@click.option(
    "-o",
    "--output",
    type=OUT_FILE,
    metavar="FILE",
    help="Also save the plan (the --json document and what it was made from) for `run --plan FILE`.",
)
def plan(
    manifest: str,
    ledger: str | None,
    workspace: str | None,
    only: tuple[str, ...],
    exclude: tuple[str, ...],
    recreate: tuple[str, ...],
    retry_failed: bool,
    moves: tuple[tuple[str, str], ...],
    sandbox: bool,
    refresh: bool,
    base_url: str | None,
    exit_code: bool,
    as_json: bool,
    output: str | None,
) -> None:
    """What `run` would do against the ledger: each item's action (create / skip / poll / retry /
    rename / changed / replace) and why, and a `prune` line for each record whose item left the
    manifest. No API calls, unless --refresh: then the account is read first (never changed).
    Counts by action first, then one line per item (a table on a terminal for up to 1,000 items).
    With --exit-code: exit 5 when there is work, 0 when there is none (a nightly drift alert).

    \b
    Example:  batchavatars plan manifests/example.yaml --json
              batchavatars plan team.yaml --refresh --exit-code
    """
    from .. import api, saved_plan

    with user_errors():
        check_output("-o/--output", output, makes_folders=True)
        loaded = load(manifest)
        path = api.ledger_target(loaded, ledger, sandbox=sandbox, workspace=workspace)
        the_plan = api.plan(
            loaded,
            ledger=ledger,
            workspace=workspace,
            sandbox=sandbox,
            only=only,
            exclude=exclude,
            recreate=recreate,
            retry_failed=retry_failed,
            moves=moves,
            refresh=refresh,
            base_url=base_url,
            save_to=output,
        )
        counts = the_plan.counts()
        if output:
            say(f"saved the plan to {output}: apply exactly it with run {manifest} --plan {output}")
        if as_json:
            click.echo(json.dumps(saved_plan.document(the_plan, str(path)), indent=2))
            _exit_for_work(the_plan, exit_code)
            return
        summary = ", ".join(f"{n:,} {action}" for action, n in sorted(counts.items())) or "nothing to do"
        heading = f"Plan for {manifest} (ledger {path}): {summary}"
        if len(the_plan.steps) + len(the_plan.prune) <= TABLE_LIMIT and sys.stdout.isatty():
            _plan_table(the_plan, heading)
        else:
            _plan_lines(the_plan, heading)
        for note in [*loaded.notes, *the_plan.notes]:
            click.echo(f"note: {note}")
        _exit_for_work(the_plan, exit_code)


def _exit_for_work(the_plan: Plan, asked: bool) -> None:
    """--exit-code: 5 when the plan has work (an action other than skip, or a prune), else 0 as without it."""
    if asked and any(action != "skip" for action in the_plan.counts()):
        sys.stdout.flush()  # a closed pipe shows here, where user_errors takes it, not at shutdown
        sys.exit(int(ExitCode.PLAN_HAS_WORK))


@click.command()
@click.argument("manifest", required=False, type=click.Path(dir_okay=False))
@ledger_option
@sandbox_ledger_option
@click.option("--json", "as_json", is_flag=True, help="Counts and failed items as JSON.")
def status(manifest: str | None, ledger: str | None, workspace: str | None, sandbox: bool, as_json: bool) -> None:
    """Counts by status, failed items with their error and fix, consent links waiting.

    \b
    Example:  batchavatars status manifests/example.yaml
    """
    from .. import api
    from ..presentation.summary import outcome, render_records

    with user_errors():
        found = api.status(manifest, ledger=ledger, workspace=workspace, sandbox=sandbox)
        if as_json:
            click.echo(json.dumps({"ledger": str(found.path), **outcome(found.records)}, indent=2))
            return
        render_records(console(), found.records, title=f"Ledger {found.path}")


@click.command()
@click.argument("manifest", required=False, type=click.Path(dir_okay=False))
@ledger_option
@click.option("--format", "fmt", type=click.Choice(["json", "jsonl", "csv"]), default="json", show_default=True)
@click.option("-o", "--output", type=OUT_FILE, help="File to write (default stdout).")
@sandbox_ledger_option
@click.option("--history", is_flag=True, help="What existed: the looks of replaced and pruned items, when, why.")
def export(
    manifest: str | None,
    ledger: str | None,
    workspace: str | None,
    fmt: str,
    output: str | None,
    sandbox: bool,
    history: bool,
) -> None:
    """The ledger's records (look_id, group_id, status, consent_url, ...) for the tools downstream.

    \b
    Example:  batchavatars export manifests/example.yaml --format csv -o avatars.csv
    """
    from .. import api

    with user_errors():
        check_output("-o/--output", output)

        def write(out: TextIO) -> int:
            return api.export(
                out, manifest, ledger=ledger, workspace=workspace, sandbox=sandbox, format=fmt, history=history
            )

        if output:
            with open(output, "w", encoding="utf-8", newline="") as out:
                n = write(out)
            say(f"wrote {n} records to {output}")
        else:
            write(sys.stdout)


@click.command()
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
def report(
    manifest: str | None,
    ledger: str | None,
    workspace: str | None,
    output: str | None,
    embed_previews: bool,
    sandbox: bool,
) -> None:
    """An HTML report of the ledger: consent links and failures first, then every character with its looks.
    Prints the path of the file written.

    \b
    Example:  batchavatars report manifests/example.yaml --embed-previews
    """
    from .. import api

    with user_errors():
        check_output("-o/--output", output, makes_folders=True)
        written = api.report(
            manifest, ledger=ledger, workspace=workspace, sandbox=sandbox, output=output, embed_previews=embed_previews
        )
        if written.previews is not None:
            say(written.previews.describe())
        click.echo(str(written.path))
