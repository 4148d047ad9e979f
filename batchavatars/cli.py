"""The command line: the `batchavatars` group and its commands. Each command (in `commands/`, one
module per concern) parses its options, calls its function of the Python API (api.py) and shows
the result; every error a user can act on becomes one clear message and a documented exit code
(exitcodes.py)."""

from __future__ import annotations

import click

from . import __version__
from .commands.check_cmd import check
from .commands.common import json_lines, tolerant_streams
from .commands.ledger_cmds import export, plan, report, status
from .commands.prune_cmd import prune
from .commands.run_cmd import run
from .commands.tools import init, sandbox, schema, validate

EPILOG_EXIT = (
    "Exit codes: 0 all succeeded, 1 some failed or blocked, 2 usage/manifest/ledger error, "
    "3 key rejected or not permitted, 4 work left waiting, 6 API unreachable, 130 interrupted, 141 output pipe closed."
)


@click.group(epilog=EPILOG_EXIT, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


for command in (validate, check, plan, run, status, export, report, prune, sandbox, schema, init):
    main.add_command(command)
