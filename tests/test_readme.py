"""The README as a newcomer reads it: every command and option its command table and run's option
list name is one that `--help` lists, and the defaults it names are the ones the tool has."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from batchavatars.cli import main
from batchavatars.settings import DEFAULTS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
OPTION = re.compile(r"(?<![\w-])(--?[a-z][a-z-]*)")


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end]


def help_of(command: str) -> str:
    result = CliRunner().invoke(main, [*command.split(), "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


def table_rows() -> list[tuple[str, str]]:
    """(first cell, second cell) of the command table under "## Commands"."""
    rows = []
    for line in section("Commands").splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 2 and cells[0].startswith("`"):
            rows.append((cells[0], cells[1]))
    return rows


def named(row: tuple[str, str], commands: set[str]) -> list[tuple[str, str]]:
    """(command, option) for every option a row names: its own command's where a code span starts
    with an option, the command's a span starts with (`prune --yes` in plan's row is prune's); a span
    of another program (`python -m ...`) names none of ours."""
    first, text = row
    words = first.strip("`").split()
    own = words[0]
    group = main.commands.get(own)
    if isinstance(group, click.Group) and len(words) > 1 and words[1] in group.commands:
        own = f"{own} {words[1]}"  # a subcommand: `ledger copy`
    found = [(own, option) for option in OPTION.findall(first)]
    for span in re.findall(r"`([^`]+)`", text):
        head = span.split()[0]
        command = own if head.startswith("-") else head if head in commands else None
        if command is not None:
            found += [(command, option) for option in OPTION.findall(span)]
    return found


def test_the_command_table_names_every_command_and_only_commands_there_are():
    listed = {row[0].strip("`").split()[0] for row in table_rows()}
    assert listed == set(main.commands)


def test_every_option_the_command_table_names_is_in_that_commands_help():
    commands = set(main.commands)
    pairs = [pair for row in table_rows() for pair in named(row, commands)]
    assert len(pairs) > 10  # the table does name options: a parser that found none would prove nothing
    missing = [
        (command, option) for command, option in pairs if not re.search(rf"(?<![\w-]){option}\b", help_of(command))
    ]
    assert missing == []


def test_the_options_run_is_said_to_take_are_its_own():
    paragraph = README[README.index("`run` takes, among others:") : README.index("Shell completion comes from click")]
    options = set(OPTION.findall(paragraph))
    assert len(options) > 15
    text = help_of("run")
    assert sorted(o for o in options if not re.search(rf"(?<![\w-]){o}\b", text)) == []


@pytest.mark.parametrize(
    "said",
    [
        f"`--concurrency N` (requests in flight, {DEFAULTS.concurrency})",
        f"`--rate R` (requests per second at most, {DEFAULTS.rate:g};",
        f"`--max-attempts N` ({DEFAULTS.max_attempts})",
        f"consent once nothing more can be sent, {DEFAULTS.wait_timeout:g} s)",
        f"`--replay-window SECONDS` ({DEFAULTS.replay_window / 3600:g} h)",
    ],
)
def test_the_defaults_the_readme_names_are_the_tools(said):
    assert said in " ".join(README.split())


ROOT = Path(__file__).resolve().parent.parent
NOTES = ROOT / "docs" / "heygen-v3-api-notes.md"


def test_the_readme_names_no_path_outside_the_repository_and_its_links_resolve():
    assert "../" not in README  # a reader of the repository cannot open what lies outside it
    links = [t for t in re.findall(r"\]\(([^)\s]+)\)", README) if not t.startswith("#") and "://" not in t]
    assert "docs/heygen-v3-api-notes.md" in links
    for target in links:
        path = (ROOT / target.split("#")[0]).resolve()
        assert path.is_relative_to(ROOT) and path.is_file(), target


def test_the_api_notes_the_code_cites_are_a_copy_in_the_repository_with_the_sections_cited():
    text = NOTES.read_text(encoding="utf-8")
    header = text.splitlines()[:2]
    assert all(line.startswith("> ") for line in header) and re.search(r"\d{4}-\d\d-\d\d", header[0])
    assert "HeyGen's v3 avatar API" in header[0] and "official CLI" in header[1]
    for cited in ("Server latency", "Direct uploads", "What the first notes left out"):
        assert cited in text
    gone = ("shared/" + "heygen", "shared " + "notes")  # spelled apart: this file is searched too
    for source in [*ROOT.glob("batchavatars/**/*.py"), *ROOT.glob("tests/*.py"), *ROOT.glob("benchmarks/*.py")]:
        body = source.read_text(encoding="utf-8")
        assert not any(old in body for old in gone), f"{source.relative_to(ROOT)} cites the notes outside the repo"
