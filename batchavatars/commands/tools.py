"""The commands that need neither a ledger nor an API: validate, sandbox, schema, init."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import UsageError
from .common import fail, load, say, user_errors


@click.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
def validate(manifest: str) -> None:
    """Check MANIFEST offline; exit 0 if it is usable, 2 with every problem named if not.

    \b
    Example:  batchavatars validate manifests/example.yaml
    """
    with user_errors():
        loaded = load(manifest)
        for note in loaded.notes:
            say(f"note: {note}")
        kinds = {"avatar": 0, "look": 0}
        for item in loaded.items:
            kinds[item.kind] += 1
        click.echo(f"{manifest}: ok ({kinds['avatar']} avatars, {kinds['look']} looks)")


@click.command()
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

    Settings can also change while it runs: POST {url}/_sandbox/config with a JSON object. A run
    against it keeps a ledger of its own (--ledger), so the sandbox's fake ids never reach the
    ledger a real run of that manifest uses.

    \b
    Example:
      batchavatars sandbox --port 8765 --consent-signal group &
      HEYGEN_API_KEY=test batchavatars run manifests/example.yaml --base-url http://127.0.0.1:8765 \\
          --ledger /tmp/example.trial.ledger.db
    """
    import time

    from ..sandbox import SandboxConfig, serve
    from ..sandbox.config import describe_error, parse_setting

    fields = {"consent_seconds": "consent_approval_seconds"}  # option -> config field, where they differ
    names = {fields.get(opt, opt): "--" + opt.replace("_", "-") for opt in options}
    try:
        values = dict(parse_setting(f"{fields.get(opt, opt)}={raw}") for opt, raw in options.items())
        values.update(parse_setting(text) for text in settings)
        values["rate_limit"] = values["rate_limit"] or None
        config = SandboxConfig(**values)
    except ValueError as exc:
        fail(UsageError(f"bad sandbox setting: {describe_error(exc, names)}. Fix: see batchavatars sandbox --help"))
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
        fail(UsageError(f"cannot serve on port {config.port} ({exc.strerror}). Fix: pick another --port"))


@click.command()
def schema() -> None:
    """Print the manifest's JSON Schema (for editors and CI).

    \b
    Example:  batchavatars schema > batchavatars.schema.json
    """
    from ..manifest import manifest_json_schema

    click.echo(json.dumps(manifest_json_schema(), indent=2))


@click.command()
@click.argument("path", default="avatars.yaml", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: str, force: bool) -> None:
    """Write a commented starter manifest to PATH (default avatars.yaml).

    \b
    Example:  batchavatars init team.yaml && batchavatars validate team.yaml
    """
    from ..manifest import starter_manifest

    target = Path(path)
    if target.exists() and not force:
        fail(UsageError(f"{path} exists. Fix: choose another path or pass --force"))
    try:
        created = not target.parent.exists()
        target.parent.mkdir(parents=True, exist_ok=True)  # `init team/q3/avatars.yaml` makes team/q3
        target.write_text(starter_manifest(), encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        fail(UsageError(f"cannot write {path} ({reason}). Fix: choose a path in a folder you can write to"))
    made = f" (and its folder {target.parent})" if created else ""
    click.echo(f"wrote {path}{made}; edit it, then: batchavatars validate {path}")
