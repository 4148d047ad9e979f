"""The one shape of a problem found while reading (`Located`), and the one collector (`Problems`)
every stage reports into; `fail()` turns what was collected into a single ManifestError."""

from __future__ import annotations

from ..errors import ManifestError, Problem
from ..spec import Location

MAX_PROBLEMS = 500  # a ManifestError lists this many; beyond, it says how many more there are


class Located(Exception):
    """Something wrong at a 0-based line/col of the bytes being read (None: no position, e.g. the
    file could not be opened). `stop`: the data is not worth validating further."""

    def __init__(
        self, message: str, fix: str | None = None, line: int | None = None, col: int | None = None, stop: bool = False
    ) -> None:
        super().__init__(message)
        self.message, self.fix, self.line, self.col, self.stop = message, fix, line, col, stop


class Problems:
    """Everything found wrong in one load, plus what later stages need to stay quiet about: the keys
    of items that failed validation (a reference to one is not reported again)."""

    def __init__(self, manifest: str) -> None:
        self.manifest = manifest  # the path as shown
        self.roster: str | None = None  # the roster's path as shown, once there is one
        self.found: list[Problem] = []
        self.notes: list[str] = []
        self.unworded = 0  # validation errors beyond MAX_PROBLEMS, counted but not worded
        self.invalid_keys: set[str] = set()
        self.invalid_avatar_keys: set[str] = set()

    def at(self, line: int | None, col: int | None, file: str | None = None) -> Location | None:
        """A 1-based Location from 0-based positions (None when there is no position)."""
        if line is None or col is None:
            return None
        return Location(file or self.manifest, line + 1, col + 1)

    def add(self, message: str, location: Location | None, key: str | None = None, fix: str | None = None) -> None:
        self.found.append(Problem(message, location, key, fix))

    def located(self, exc: Located, file: str | None = None, fallback: Location | None = None) -> None:
        """Report a Located about `file` (default: the manifest); `fallback` when it has no position."""
        where = self.at(exc.line, exc.col, file) if exc.line is not None else fallback
        self.add(exc.message, where, None, exc.fix)

    def extend(self, problems: list[Problem], unworded: int) -> None:
        self.found += problems
        self.unworded += unworded

    def room(self) -> int:
        """How many more problems are worth wording."""
        return max(MAX_PROBLEMS - len(self.found), 1)

    def fail(self) -> None:
        """Raise one ManifestError naming every problem (manifest first, then roster), if any."""
        if not self.found:
            return
        order = {self.manifest: 0}
        if self.roster:
            order[self.roster] = 1

        def sort_key(p: Problem) -> tuple[int, int, int]:
            if p.location is None:
                return (-1, 0, 0)
            return (order.get(p.location.file, 2), p.location.line, p.location.col)

        problems = sorted(self.found, key=sort_key)
        more = self.unworded + max(len(problems) - MAX_PROBLEMS, 0)
        if more:
            rest = problems[MAX_PROBLEMS:]
            problems = problems[:MAX_PROBLEMS]
            where = rest[0].location if rest else problems[-1].location
            problems.append(
                Problem(
                    f"and {more} more problems not listed", where, None, "fix the problems above, then validate again"
                )
            )
        raise ManifestError(problems)
