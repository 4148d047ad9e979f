"""`batchavatars check`: the pre-flight before a big batch (the key, the account, its credits)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from ..exitcodes import ExitCode
from ..settings import CREDIT_PRICE
from .common import base_url_option, exclude_option, ledger_option, only_option, user_errors

if TYPE_CHECKING:
    from ..preflight import Preflight


@click.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@ledger_option
@only_option
@exclude_option
@click.option("--sandbox", is_flag=True, help="Check against the built-in HeyGen simulator (no account needed).")
@base_url_option
@click.option(
    "--credit-price",
    type=click.FloatRange(0),
    default=CREDIT_PRICE,
    show_default=True,
    help="Credits one creation costs.",
)
@click.option("--json", "as_json", is_flag=True, help="The findings as one JSON object.")
def check(
    manifest: str,
    ledger: str | None,
    workspace: str | None,
    only: tuple[str, ...],
    exclude: tuple[str, ...],
    sandbox: bool,
    base_url: str | None,
    credit_price: float,
    as_json: bool,
) -> None:
    """Pre-flight for a run: validates MANIFEST, checks the key (GET /v3/users/me) and that the account's
    remaining credits cover the creations the plan needs. No avatar is made.

    Exit 0 fine, 1 not enough credits, 2 usage error or API unreachable, 3 key rejected.

    \b
    Example:  HEYGEN_API_KEY=... batchavatars check team.yaml
    """
    from .. import api  # the network stack loads only when the command runs: `--help` stays quick

    with user_errors():
        found = api.check(
            manifest,
            ledger=ledger,
            workspace=workspace,
            sandbox=sandbox,
            only=only,
            exclude=exclude,
            base_url=base_url,
            credit_price=credit_price,
        )
        code = _verdict(manifest, found, as_json)
    sys.exit(int(code))


def _verdict(manifest: str, found: Preflight, as_json: bool) -> ExitCode:
    from ..presentation.summary import plural

    account, cost = found.account, found.credits_needed
    if as_json:
        document = {
            "manifest": manifest,
            "items": found.items,
            "creations": found.creations,
            "credits_needed": cost,
            "account": account.who,
            "billing_type": account.billing_type,
            "credits_remaining": account.remaining,
            "balance": account.balance,
            "enough": found.enough,
            "exit_code": int(found.exit_code),
        }
        click.echo(json.dumps(document, indent=2))
        return found.exit_code
    click.echo(
        f"{manifest}: ok, {plural(found.items, 'item')}; the plan makes {plural(found.creations, 'creation')} "
        f"≈ {plural_credits(cost)}"
    )
    click.echo(f"account: {account.who}; {account.billing_type}: {account.balance}")
    if not found.enough:
        click.echo(
            f"not enough credits: {plural_credits(cost)} needed, {account.balance}. Fix: top up the HeyGen account, "
            "or run part of the manifest (--only / --exclude)"
        )
    elif account.remaining is None:
        click.echo("credits: the account does not state them in credits; check its balance on HeyGen")
    else:
        click.echo("ok: the key works and the credits cover the run")
    return found.exit_code


def plural_credits(cost: float) -> str:
    from ..preflight import amount

    return f"{amount(cost)} credit" + ("" if cost == 1 else "s")
