"""`batchavatars check`: the pre-flight before a big batch (the key, the account, its credits)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from ..exitcodes import ExitCode
from .common import base_url_option, check_base_url, exclude_option, ledger_option, load, only_option, user_errors
from .common import ledger_path as find_ledger
from .ledger_cmds import plan_records

if TYPE_CHECKING:
    from ..preflight import Account


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
    default=1.0,
    show_default=True,
    help="Credits one creation costs.",
)
@click.option("--json", "as_json", is_flag=True, help="The findings as one JSON object.")
def check(
    manifest: str,
    ledger: str | None,
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
    import anyio  # the network stack loads only when the command runs: `--help` stays quick

    from ..api import SANDBOX_KEY
    from ..client import DEFAULT_BASE_URL
    from ..credentials import api_key_from_env
    from ..planner import build_plan
    from ..preflight import creations, fetch_account

    with user_errors():
        url = None if sandbox else check_base_url(base_url or DEFAULT_BASE_URL)
        loaded = load(manifest)
        path = find_ledger(loaded.path, ledger, sandbox)
        the_plan = build_plan(
            loaded.items, plan_records(loaded.path, path, sandbox), only=list(only), exclude=list(exclude)
        )
        needed = creations(the_plan)
        if url is None:
            from ..sandbox import SandboxConfig, serve

            with serve(SandboxConfig()) as handle:
                account = anyio.run(fetch_account, handle.url, SANDBOX_KEY)
        else:
            account = anyio.run(fetch_account, url, api_key_from_env())
        code = _verdict(manifest, len(the_plan.steps), needed, needed * credit_price, account, as_json)
    sys.exit(int(code))


def _verdict(manifest: str, items: int, needed: int, cost: float, account: Account, as_json: bool) -> ExitCode:
    from ..presentation.summary import plural

    short = account.remaining is not None and account.remaining < cost
    code = ExitCode.ITEMS_FAILED if short else ExitCode.OK
    if as_json:
        document = {
            "manifest": manifest,
            "items": items,
            "creations": needed,
            "credits_needed": cost,
            "account": account.who,
            "billing_type": account.billing_type,
            "credits_remaining": account.remaining,
            "balance": account.balance,
            "enough": not short,
            "exit_code": int(code),
        }
        click.echo(json.dumps(document, indent=2))
        return code
    click.echo(
        f"{manifest}: ok, {plural(items, 'item')}; the plan makes {plural(needed, 'creation')} ≈ {plural_credits(cost)}"
    )
    click.echo(f"account: {account.who}; {account.billing_type}: {account.balance}")
    if short:
        click.echo(
            f"not enough credits: {plural_credits(cost)} needed, {account.balance}. Fix: top up the HeyGen account, "
            "or run part of the manifest (--only / --exclude)"
        )
    elif account.remaining is None:
        click.echo("credits: the account does not state them in credits; check its balance on HeyGen")
    else:
        click.echo("ok: the key works and the credits cover the run")
    return code


def plural_credits(cost: float) -> str:
    from ..preflight import amount

    return f"{amount(cost)} credit" + ("" if cost == 1 else "s")
