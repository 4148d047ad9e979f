"""`batchavatars prune`: the looks of items no longer in the manifest, listed, then deleted with --yes."""

from __future__ import annotations

import sys

import click

from ..exitcodes import ExitCode
from .common import base_url_option, ledger_option, lock_timeout_option, user_errors


@click.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@ledger_option
@click.option("--sandbox", is_flag=True, help="Prune the sandbox trial's ledger against the built-in simulator.")
@base_url_option
@click.option("--yes", is_flag=True, help="Delete them (without it, only list what would be deleted).")
@click.option("--include-adopted", is_flag=True, help="Also delete looks adopted from the account.")
@lock_timeout_option
def prune(
    manifest: str,
    ledger: str | None,
    workspace: str | None,
    sandbox: bool,
    base_url: str | None,
    yes: bool,
    include_adopted: bool,
    lock_timeout: float,
) -> None:
    """Delete the looks of items no longer in MANIFEST (only those this ledger made), and forget them.

    \b
    Example:
      batchavatars prune team.yaml          # lists what it would delete
      batchavatars prune team.yaml --yes    # deletes it
    """
    from .. import api  # the network stack loads only when the command runs: `--help` stays quick

    with user_errors():
        found = api.prune(
            manifest,
            yes=yes,
            include_adopted=include_adopted,
            ledger=ledger,
            workspace=workspace,
            sandbox=sandbox,
            base_url=base_url,
            lock_timeout=lock_timeout,
        )
        for rec, why in found.kept:
            click.echo(f"kept {rec.key} ({rec.look_id}): {why}")
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
