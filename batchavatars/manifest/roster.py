"""CSV rosters: `avatars_from:` names a CSV file whose rows become avatars (validated like the
`avatars:` list, with every problem pointing at its row and cell)."""

from __future__ import annotations

import csv
import io
import os
import posixpath
from array import array
from urllib.parse import unquote, urlsplit

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from . import _yaml
from ._explain import CsvRow, plural, suggest
from ._wording import translate
from ._yaml import YMap
from .entry import Entry, salvage
from .files import is_url, read_source, resolve_path
from .model import CSV_COLUMNS, CSV_REQUIRED, avatar_adapter, avatars_adapter
from .problems import Located, Problems


def roster_entries(root: YMap, avatars_from: str, problems: Problems, manifest_base: str) -> list[Entry]:
    """The avatars of the roster `avatars_from` (relative to the manifest's folder)."""
    where = problems.at(*root.value_pos("avatars_from"))
    if is_url(avatars_from):
        problems.add(
            f"`avatars_from` is a URL ({avatars_from}): rosters are local files, nothing is downloaded",
            where,
            None,
            _download_fix(avatars_from),
        )
        return []
    csv_abs = resolve_path(avatars_from, manifest_base)
    shown = os.path.normpath(os.path.join(os.path.dirname(problems.manifest), os.path.expanduser(avatars_from)))
    problems.roster = shown
    try:
        data = read_source(csv_abs, f"roster {shown}")
        rows, row_problems = read_roster(data)
    except Located as exc:
        problems.located(exc, shown, where)
        return []
    for rp in row_problems:
        problems.located(rp, shown)
    if not rows:
        problems.notes.append(f"{shown}: the roster has a header but no rows")
        return []
    base = os.path.dirname(csv_abs)
    rows_yl = _yaml.ylist(0, 0)  # no item positions: each CsvRow carries its own
    rows_yl.extend(rows)
    try:
        models = list(enumerate(avatars_adapter.validate_python(rows_yl)))
    except ValidationError as exc:
        errors = _absent_columns(exc.errors(include_url=False), rows[0], problems, shown)
        problems.extend(*translate(errors, rows_yl, shown, csv=True, limit=problems.room()))
        models = salvage(rows_yl, avatar_adapter, problems, avatar=True)
    return [Entry(model.key, "avatar", model, rows[i], shown, base, rows[i].line, 0) for i, model in models]


def _download_fix(url: str) -> str:
    """Nothing is downloaded: the fix names the file to save the URL's CSV as, beside the manifest."""
    name = unquote(posixpath.basename(urlsplit(url).path))
    name = name if name.lower().endswith(".csv") else "roster.csv"
    return f"download the CSV beside the manifest and name it: `avatars_from: {name}`"


def _absent_columns(errors: list[ErrorDetails], row: CsvRow, problems: Problems, shown: str) -> list[ErrorDetails]:
    """A field the rows need but the header has no column for is named once, at the header row,
    not as an empty cell on every row. Returns the other errors."""
    absent: dict[str, int] = {}
    kept = []
    for err in errors:
        name = err["loc"][-1] if err["type"] == "missing" else None
        if isinstance(name, str) and name not in row.cols:
            absent[name] = absent.get(name, 0) + 1
        else:
            kept.append(err)
    for name, count in absent.items():
        problems.add(
            f"the header row has no `{name}` column, which {plural(count, 'row')} of the roster need",
            problems.at(row.header_line, 0, shown),
            None,
            f"add a `{name}` column to the header row and fill it in on those rows",
        )
    return kept


def read_roster(data: bytes) -> tuple[list[CsvRow], list[Located]]:
    """Rows of a CSV roster as CsvRows (line = row - 1 with the header as row 1; col = column
    index), empty cells left out. Separated by commas, semicolons or tabs (what spreadsheets
    export), told apart by the header row. Header problems are fatal (raised); row problems returned."""
    text = data.decode("utf-8")
    text, delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    problems: list[Located] = []
    rows: list[CsvRow] = []
    header: list[str] | None = None
    columns: dict[str, int] = {}
    previous = header_line = 0
    try:
        for record in reader:
            start = previous  # 0-based line where this record starts
            previous = reader.line_num
            if not record or all(not cell.strip() for cell in record):
                continue
            if header is None:
                header = [_column(cell) for cell in record]
                columns = _header(header, [cell.strip() for cell in record], start)
                header_line = start
                continue
            row, extra = _row(record, header, columns, start)
            row.header_line = header_line
            if extra is not None:
                problems.append(extra)
            rows.append(row)
    except csv.Error as exc:
        problems.append(
            Located(f"not a valid CSV file ({exc})", "fix the quoting on that line", max(reader.line_num - 1, 0), 0)
        )
    if header is None and not problems:
        raise Located(
            "the roster has no header row", "write a first row naming the columns: " + ",".join(CSV_COLUMNS), 0, 0
        )
    return rows, problems


def _column(cell: str) -> str:
    """A header cell as a column name: `Key`, ` Avatar Group ID ` → key, avatar_group_id."""
    return "_".join(cell.strip().lower().replace("-", " ").split())


_SHOWN = {",": "`,` (comma)", ";": "`;` (semicolon)", "\t": "tab"}


def _delimiter(text: str) -> tuple[str, str]:
    """The text (an Excel `sep=;` line blanked, keeping line numbers) and its separator: the one
    that splits the header row into the most known columns; comma when none does."""
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    stated = first_line.strip()
    if stated.lower().startswith("sep=") and len(stated) == 5:
        return text.replace(first_line, "", 1), stated[4]
    scores = {
        d: sum(_column(c) in CSV_COLUMNS for c in next(csv.reader([first_line], delimiter=d), [])) for d in _SHOWN
    }
    best = max(scores.values())
    winners = [d for d, score in scores.items() if score == best]
    if best == 0:
        return text, ","
    if len(winners) > 1:
        line = text[: text.find(first_line)].count("\n")
        raise Located(
            "the header row could be split by "
            + " or ".join(_SHOWN[d] for d in winners)
            + ": which separates the columns?",
            "use one separator throughout; from a spreadsheet, save as CSV UTF-8 (Comma delimited)",
            line,
            0,
        )
    return text, winners[0]


def _row(record: list[str], header: list[str], columns: dict[str, int], start: int) -> tuple[CsvRow, Located | None]:
    """One record as a CsvRow, and the problem of a record with more cells than the header."""
    row = CsvRow()
    row.line, row.col, row.pos, row.cols = start, 0, array("i"), columns
    for index, cell in enumerate(record):
        if index >= len(header):
            if cell.strip():
                return row, Located(
                    f"row has {len(record)} cells but the header names {len(header)} columns",
                    "remove the extra cells, or quote a cell that contains a comma",
                    start,
                    index,
                )
            continue
        value = cell.strip()
        if value:
            row[header[index]] = value
            row.pos.extend((start, index, start, index))
    return row, None


def _header(header: list[str], shown: list[str], line: int) -> dict[str, int]:
    """Column name → index; `shown`: the header cells as written, for messages."""
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        if name not in CSV_COLUMNS:
            raise _bad_column(header, shown, index, line)
        if name in columns:
            raise Located(f"column {shown[index]!r} appears twice in the header row", "remove one of them", line, index)
        columns[name] = index
    missing = [c for c in CSV_REQUIRED if c not in columns]
    if missing:
        raise Located(
            f"the header row lacks the column{'s' if len(missing) > 1 else ''} " + ", ".join(missing),
            "the header needs at least key,type,name (then file and/or prompt as the types need)",
            line,
            0,
        )
    return columns


def _bad_column(header: list[str], shown: list[str], index: int, line: int) -> Located:
    name = shown[index]
    if not name:
        return Located(
            f"column {index + 1} of the header row has no name",
            "name every column (or remove the empty one)",
            line,
            index,
        )
    if not any(h in CSV_COLUMNS for h in header):
        return Located(
            f"the first row {','.join(shown)[:80]!r} is not a header row",
            "add a header row first: " + ",".join(CSV_COLUMNS),
            line,
            0,
        )
    close = suggest(header[index], CSV_COLUMNS)
    fix = f"did you mean `{close}`?" if close else f"use only the columns {','.join(CSV_COLUMNS)}"
    return Located(f"unknown column {name!r} in the header row", fix, line, index)
