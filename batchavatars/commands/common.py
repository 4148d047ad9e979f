"""What every command shares: turning errors into one line and an exit code, checking output paths
before any work, consoles that never wrap or choke off a terminal, and the options several take."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from rich.console import Console

from .. import moves
from ..errors import BatchAvatarsError, UsageError
from ..exitcodes import ExitCode

if TYPE_CHECKING:
    from ..manifest.load import Manifest

# Set by `run` when its logs are JSON lines: then its last words (an error, an interrupt) are too.
_json_lines = {"on": False}
# Off a terminal nothing is wrapped: a key, a path or a link stays whole on its line.
NO_WRAP_WIDTH = 10_000


def json_lines(on: bool) -> None:
    """Set by `run` for its own invocation; every command starts with it off (main's callback)."""
    _json_lines["on"] = on


def say(
    message: str, *, event: str = "error", level: str = "error", as_json: bool | None = None, **fields: Any
) -> None:
    """One line on stderr: plain text, or one JSON object when the run logs JSON (`as_json`: decided
    by the caller, for an error found before `run` could say how it logs)."""
    if _json_lines["on"] if as_json is None else as_json:
        line = {"event": event, "level": level, "timestamp": datetime.now(UTC).isoformat(), "message": message}
        click.echo(json.dumps({**line, **fields}), err=True)
    else:
        click.echo(message, err=True)


def fail(error: BatchAvatarsError) -> None:
    say(f"error: {error}", exit_code=int(error.exit_code))
    sys.exit(int(error.exit_code))


def run_logs_json(args: Sequence[str]) -> bool:
    """Whether `run` given these raw arguments logs JSON lines, as `Shown.as_json` decides once its
    options are parsed: the last `--log-format` says, else whether stderr is a terminal. Read from
    the arguments themselves, for a usage error found before (or instead of) parsing them."""
    fmt = "auto"
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--log-format" and index + 1 < len(args):
            fmt = args[index + 1]
        elif arg.startswith("--log-format="):
            fmt = arg.partition("=")[2]
    return fmt == "json" or (fmt != "console" and not sys.stderr.isatty())


def usage_error_line(error: click.UsageError, ctx: click.Context) -> NoReturn:
    """click's usage error (a bad option or argument) of the command of `ctx` as one JSON error line,
    for a `run` whose output is JSON lines: the message click would give, a short usage hint, and
    exit 2 as click exits."""
    path = ctx.command_path
    usage = " ".join([path, *ctx.command.collect_usage_pieces(ctx)]) + f" (see {path} --help)"
    say(f"error: {error.format_message()}", as_json=True, exit_code=int(ExitCode.USAGE), usage=usage)
    sys.exit(int(ExitCode.USAGE))


def _quiet_broken_pipe() -> None:
    """The reader went away (`batchavatars export | head -1`): stop at once and quietly, as git
    does; point stdout at /dev/null so the interpreter's last flush cannot complain either."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(int(ExitCode.BROKEN_PIPE))


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's shutdown
    except BrokenPipeError:
        _quiet_broken_pipe()
    except BatchAvatarsError as error:
        fail(error)
    except KeyboardInterrupt:
        say("interrupted", event="interrupted", level="warning", exit_code=int(ExitCode.INTERRUPTED))
        sys.exit(int(ExitCode.INTERRUPTED))
    except Exception as exc:  # a bug of ours: one line, not a traceback; the ledger is committed as it stands
        if os.environ.get("BATCHAVATARS_DEBUG"):
            raise
        say(
            f"internal error: {type(exc).__name__}: {exc}. The ledger is consistent; please report this "
            "(BATCHAVATARS_DEBUG=1 shows the traceback)",
            exit_code=int(ExitCode.ITEMS_FAILED),
        )
        sys.exit(int(ExitCode.ITEMS_FAILED))


def tolerant_streams() -> None:
    """A terminal or pipe that cannot show a character (PYTHONIOENCODING=ascii, a C locale) gets a
    `?` for it instead of an exception: a name with an accent must not cost the summary."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="replace")


class _Console(Console):
    def on_broken_pipe(self) -> None:
        _quiet_broken_pipe()  # rich's own exits 1, which reads as "some items failed"


def console(*, stderr: bool = False) -> Console:
    """A rich console that wraps nothing off a terminal (soft-wrapped lines, tables as wide as
    their content), so keys, paths and links are never broken mid-word in a log or a pipe."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return _Console(stderr=stderr)
    return _Console(stderr=stderr, soft_wrap=True, width=NO_WRAP_WIDTH)


def check_output(option: str, path: str | None, *, makes_folders: bool = False) -> None:
    """An output file is checked before any work: finding a typo after a two-hour run is too late.
    `makes_folders`: the writer creates missing folders (the report does), so only the nearest
    existing one must be a writable folder."""
    if not path:
        return
    target = Path(path)
    folder = target.parent
    if makes_folders:
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
    if target.is_dir():
        problem = "is a folder"
    elif not folder.is_dir():
        problem = f"its folder {folder} does not exist" if not folder.exists() else f"{folder} is not a folder"
    elif not os.access(folder, os.W_OK | os.X_OK) or (target.exists() and not os.access(target, os.W_OK)):
        problem = "is not writable"
    else:
        return
    raise UsageError(f"{option} {path}: {problem}. Fix: name a file in a folder that exists and you can write to")


def load(manifest: str) -> Manifest:
    from ..manifest import load_manifest

    return load_manifest(manifest)


def ledger_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """--ledger PATH_OR_URL and --workspace NAME: an SQLite file, or a PostgreSQL database's workspace."""
    command = click.option(
        "--workspace",
        metavar="NAME",
        help="The workspace of a PostgreSQL ledger (env BATCHAVATARS_WORKSPACE; default: the manifest's name).",
    )(command)
    return click.option(
        "--ledger",
        metavar="PATH|URL",
        help="Ledger file (default: <manifest>.ledger.db beside the manifest), or postgresql://USER@HOST:PORT/DBNAME "
        "for a shared one (env BATCHAVATARS_LEDGER).",
    )(command)


lock_timeout_option = click.option(
    "--lock-timeout",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="Wait this long for another writer of the ledger to finish; then exit 2 naming it.",
)
only_option = click.option(
    "--only", multiple=True, metavar="KEY_OR_GLOB", help="Only these items (and the parents they need). Repeatable."
)
sandbox_ledger_option = click.option(
    "--sandbox", is_flag=True, help="The ledger of `run --sandbox` trials (<manifest>.sandbox.ledger.db)."
)
OUT_FILE = click.Path(dir_okay=False)
exclude_option = click.option("--exclude", multiple=True, metavar="KEY_OR_GLOB", help="Leave these out. Repeatable.")
base_url_option = click.option(
    "--base-url",
    metavar="URL",
    help="API base URL (env HEYGEN_BASE_URL; default https://api.heygen.com).",
)


def _moves(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    try:
        return tuple(moves.parse(value).items())
    except BatchAvatarsError as error:
        raise click.BadParameter(str(error)) from None


move_option = click.option(
    "--move",
    "moves",
    multiple=True,
    metavar="OLD=NEW",
    callback=_moves,
    help="A key renamed in the manifest: NEW keeps OLD's look (no credit, nothing sent). Repeatable.",
)


def replace_option(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--replace KEY_OR_GLOB, repeatable; --recreate stays as its alias."""
    return click.option("--replace", "--recreate", "recreate", multiple=True, metavar="KEY_OR_GLOB", help=help)
