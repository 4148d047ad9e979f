"""The commands that move or free a ledger: `ledger copy` (between SQLite and PostgreSQL, either
way) and `unlock` (an SQLite ledger's lock left by a process that is gone)."""

from __future__ import annotations

import click

from .common import sandbox_ledger_option, user_errors


@click.group()
def ledger() -> None:
    """Move a ledger between SQLite and PostgreSQL."""


@ledger.command("copy")
@click.argument("source", metavar="FROM")
@click.argument("target", metavar="TO")
@click.option(
    "--workspace",
    metavar="NAME",
    help="The PostgreSQL side's workspace (else #NAME on its URL, else the source manifest's name).",
)
def copy(source: str, target: str, workspace: str | None) -> None:
    """Copy every record, asset, history row and binding of the ledger FROM into TO, an empty ledger:
    an SQLite file or postgresql://USER@HOST:PORT/DBNAME[#WORKSPACE]. A run of the same manifest on
    the copy sends no creation.

    \b
    Example:
      batchavatars ledger copy team.ledger.db postgresql://ci@db:5432/heygen
    """
    from .. import api  # the ledger backends load only when the command runs

    with user_errors():
        copied = api.copy(source, target, workspace=workspace)
        click.echo(f"copied {copied} records from {source} to {target}")


@click.command()
@click.argument("manifest", required=False, type=click.Path(dir_okay=False))
@click.option("--ledger", metavar="PATH", help="The ledger file (default: <manifest>.ledger.db beside the manifest).")
@sandbox_ledger_option
def unlock(manifest: str | None, ledger: str | None, sandbox: bool) -> None:
    """Remove an SQLite ledger's run lock left by a process that is gone, and say who held it. A lock
    a running process holds is refused (exit 2), naming it.

    \b
    Example:  batchavatars unlock team.yaml
    """
    from .. import api

    with user_errors():
        holder = api.unlock(manifest, ledger=ledger, sandbox=sandbox)
        click.echo(f"removed the lock of {holder}: no process holds it any more" if holder else "no lock to remove")
