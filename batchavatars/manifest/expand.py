"""Look templates (placeholders filled per avatar) and CSV rosters (rows become avatar mappings)."""

from __future__ import annotations

import csv
import io
import re
import string
from array import array

from ._errors import CsvRow, suggest
from .model import CSV_COLUMNS, CSV_REQUIRED, KEY_RULE, PLACEHOLDERS

KEY_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_FORMATTER = string.Formatter()


class TemplateError(ValueError):
    pass


def parse_template(text: str) -> list[tuple[str, str | None]]:
    """`text` as (literal, placeholder-or-None) parts. Raises TemplateError for an unknown
    placeholder or a stray brace; `{{` and `}}` are literal braces."""
    parts: list[tuple[str, str | None]] = []
    try:
        parsed = list(_FORMATTER.parse(text))
    except ValueError as exc:
        raise TemplateError(f"has a stray brace ({exc}); write {{{{ or }}}} for a literal brace") from None
    for literal, field, spec, conversion in parsed:
        if field is None:
            parts.append((literal, None))
            continue
        if field not in PLACEHOLDERS:
            close = suggest(field, PLACEHOLDERS)
            hint = f" (did you mean {{{close}}}?)" if close else ""
            raise TemplateError(
                f"uses unknown placeholder {{{field}}}{hint}; the placeholders are {{avatar}}, {{name}} and {{type}}"
            )
        if spec or conversion:
            raise TemplateError(
                f"formats a placeholder ({{{field}{'!' + conversion if conversion else ''}"
                f"{':' + spec if spec else ''}}}); only plain {{{field}}} is supported"
            )
        parts.append((literal, field))
    return parts


def fill(parts: list[tuple[str, str | None]], values: dict[str, str]) -> str:
    return "".join(literal + (values[field] if field else "") for literal, field in parts)


class RosterError(Exception):
    """A whole-roster problem (header); positions 0-based."""

    def __init__(self, message: str, fix: str, line: int, col: int) -> None:
        super().__init__(message)
        self.message, self.fix, self.line, self.col = message, fix, line, col


def read_roster(data: bytes) -> tuple[list[CsvRow], list[RosterError]]:
    """Rows of a CSV roster as CsvRows (line = row - 1 with the header as row 1; col = column
    index), empty cells left out. Header problems are fatal (raised); row problems returned."""
    text = data.decode("utf-8")
    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    problems: list[RosterError] = []
    rows: list[CsvRow] = []
    header: list[str] | None = None
    columns: dict[str, int] = {}
    previous = 0
    try:
        for record in reader:
            start = previous  # 0-based line where this record starts
            previous = reader.line_num
            if not record or all(not cell.strip() for cell in record):
                continue
            if header is None:
                header = [cell.strip() for cell in record]
                columns = _header(header, start)
                continue
            row = CsvRow()
            row.line, row.col, row.pos, row.cols = start, 0, array("i"), columns
            for index, cell in enumerate(record):
                if index >= len(header):
                    if cell.strip():
                        problems.append(
                            RosterError(
                                f"row has {len(record)} cells but the header names {len(header)} columns",
                                "remove the extra cells, or quote a cell that contains a comma",
                                start,
                                index,
                            )
                        )
                        break
                    continue
                value = cell.strip()
                if value:
                    row[header[index]] = value
                    row.pos.extend((start, index, start, index))
            rows.append(row)
    except csv.Error as exc:
        problems.append(
            RosterError(f"not a valid CSV file ({exc})", "fix the quoting on that line", max(reader.line_num - 1, 0), 0)
        )
    if header is None and not problems:
        raise RosterError(
            "the roster has no header row", "write a first row naming the columns: " + ",".join(CSV_COLUMNS), 0, 0
        )
    return rows, problems


def _header(header: list[str], line: int) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        if name not in CSV_COLUMNS:
            close = suggest(name, CSV_COLUMNS)
            if not name:
                raise RosterError(
                    f"column {index + 1} of the header row has no name",
                    "name every column (or remove the empty one)",
                    line,
                    index,
                )
            fix = f"did you mean `{close}`?" if close else f"use only the columns {','.join(CSV_COLUMNS)}"
            if not any(h in CSV_COLUMNS for h in header):
                raise RosterError(
                    f"the first row {','.join(header)[:80]!r} is not a header row",
                    "add a header row first: " + ",".join(CSV_COLUMNS),
                    line,
                    0,
                )
            raise RosterError(f"unknown column {name!r} in the header row", fix, line, index)
        if name in columns:
            raise RosterError(f"column {name!r} appears twice in the header row", "remove one of them", line, index)
        columns[name] = index
    missing = [c for c in CSV_REQUIRED if c not in columns]
    if missing:
        raise RosterError(
            f"the header row lacks the column{'s' if len(missing) > 1 else ''} " + ", ".join(missing),
            "the header needs at least key,type,name (then file and/or prompt as the types need)",
            line,
            0,
        )
    return columns


def key_problem(key: str) -> str | None:
    if KEY_RE.fullmatch(key):
        return None
    return f"keys are {KEY_RULE}"
