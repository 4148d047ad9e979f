"""The command line: the `batchavatars` group and its commands. Each command (in `commands/`, one
module per concern) parses its options, calls its function of the Python API (api.py) and shows
the result; every error a user can act on becomes one clear message and a documented exit code
(exitcodes.py)."""

from __future__ import annotations

import click

from . import __version__
from .commands.check_cmd import check
from .commands.common import json_lines, run_logs_json, tolerant_streams, usage_error_line
from .commands.ledger_cmds import export, plan, report, status
from .commands.ledger_ops import ledger, unlock
from .commands.prune_cmd import prune
from .commands.run_cmd import run
from .commands.tools import init, sandbox, schema, validate

EPILOG_EXIT = (
    "Exit codes: 0 all succeeded, 1 some failed or blocked, 2 usage/manifest/ledger error, "
    "3 key rejected or not permitted, 4 work left waiting, 5 the plan has work (plan --exit-code), 6 API unreachable, "
    "130 interrupted, 141 output pipe closed."
)


_RESOLVED = "batchavatars.resolved"  # ctx.meta: the command being run and its raw arguments


class _Main(click.Group):
    """The group, with one difference from click's: a usage error of `run` (a bad option or
    argument, a missing MANIFEST) is one JSON error line when `run`'s output would be JSON lines,
    so a cron log stays all JSON; every other command keeps click's plain text."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        ctx.meta[_RESOLVED] = (name, command, list(rest))
        return name, command, rest

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            name, command, args = ctx.meta.get(_RESOLVED, (None, None, []))
            if command is not run or not run_logs_json(args):
                raise
            # Some of click's parser errors carry no context (`--rate` without its value): make one.
            usage_error_line(error, error.ctx or click.Context(run, info_name=name, parent=ctx))


@click.group(
    cls=_Main,
    epilog=EPILOG_EXIT,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="batchavatars")
def main() -> None:
    """Turn a YAML manifest of HeyGen avatars and looks into real avatars, resumably.

    \b
    Example:
      batchavatars validate manifests/example.yaml
      batchavatars check manifests/example.yaml
      batchavatars plan manifests/example.yaml
      batchavatars run manifests/example.yaml --sandbox
    """
    tolerant_streams()
    json_lines(False)


for command in (validate, check, plan, run, status, export, report, prune, ledger, unlock, sandbox, schema, init):
    main.add_command(command)
