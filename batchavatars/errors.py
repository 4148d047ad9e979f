"""Errors a user can act on. Each carries the exit code the CLI turns it into; the CLI prints
str(error) and never a traceback."""

from __future__ import annotations

from dataclasses import dataclass

from .exitcodes import ExitCode
from .spec import Location


class BatchAvatarsError(Exception):
    exit_code: ExitCode = ExitCode.USAGE


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a manifest, named precisely enough to fix without guessing."""

    message: str
    location: Location | None = None
    key: str | None = None
    fix: str | None = None

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        item = f"[{self.key}] " if self.key else ""
        fix = f" Fix: {self.fix}" if self.fix else ""
        return f"{where}{item}{self.message.rstrip('.')}.{fix}"


class ManifestError(BatchAvatarsError):
    """The manifest cannot be used; nothing was sent."""

    exit_code = ExitCode.USAGE

    def __init__(self, problems: list[Problem]) -> None:
        assert problems, "a ManifestError names at least one problem"
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    @property
    def location(self) -> Location | None:
        return self.problems[0].location


class UsageError(BatchAvatarsError):
    exit_code = ExitCode.USAGE


class LedgerError(BatchAvatarsError):
    """Corrupt, newer-versioned or locked ledger."""

    exit_code = ExitCode.USAGE


class NoLedgerYet(LedgerError):
    """A ledger (a file, a workspace) that no run has made yet: for a reader, no records."""


class AuthError(BatchAvatarsError):
    """401/403: the key is rejected or not permitted; the whole run stops."""

    exit_code = ExitCode.AUTH


class ServiceError(BatchAvatarsError):
    """The API gave no usable answer to a call the run cannot go without."""

    exit_code = ExitCode.ITEMS_FAILED


class ApiUnreachable(BatchAvatarsError):
    """Nothing answered at the API's URL (refused, no route, DNS, or no HeyGen API there): nothing
    was sent, or nothing more could be. The same exit code for every command."""

    exit_code = ExitCode.UNREACHABLE
