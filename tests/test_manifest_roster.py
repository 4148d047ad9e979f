"""Rosters as spreadsheets export them: header names in any case, `;` or tab separators, a BOM;
a workbook given instead of a CSV named as such; a column the rows need named once, at the header."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from batchavatars.cli import main
from batchavatars.manifest import load_manifest

from .test_manifest import assert_problem, problems_of, roster

URL = "https://cdn.example.com/a.jpg"


@pytest.mark.parametrize(
    "csv_text",
    [
        f" Key ,TYPE,Name,File\nann,photo,Ann Lee,{URL}\nbo,photo,Bo,{URL}\n",  # header as people write it
        f"\ufeffkey;type;name;file\nann;photo;Ann Lee;{URL}\nbo;photo;Bo;{URL}\n",  # European Excel, CSV UTF-8
        f"key\ttype\tname\tfile\nann\tphoto\tAnn Lee\t{URL}\nbo\tphoto\tBo\t{URL}\n",  # tab-separated
        f"sep=;\nkey;type;name;file\nann;photo;Ann Lee;{URL}\nbo;photo;Bo;{URL}\n",  # Excel's separator line
        f"key,type,name,file,Avatar Group ID\nann,photo,Ann Lee,{URL},\nbo,photo,Bo,{URL},\n",
    ],
)
def test_spreadsheet_exports_load(tmp_path: Path, csv_text: str) -> None:
    m = load_manifest(roster(tmp_path, csv_text))
    avatars = {s.key: s for s in m.items if s.kind == "avatar"}
    assert list(avatars) == ["lead", "ann", "bo"] and avatars["ann"].name == "Ann Lee"
    assert avatars["ann"].file is not None and avatars["ann"].file.value == URL


def test_semicolon_roster_points_at_its_cells(tmp_path: Path) -> None:
    err = problems_of(roster(tmp_path, f"Key;Type;Name;File\nann;fotoo;Ann;{URL}\n"))
    assert_problem(err, "unknown avatar type 'fotoo'", 2, 2, "people.csv")


def test_a_header_that_could_be_split_two_ways_is_named(tmp_path: Path) -> None:
    err = problems_of(roster(tmp_path, "key,name;type\nann,Ann;photo\n"))
    assert_problem(
        err,
        "the header row could be split by `,` (comma) or `;` (semicolon): which separates the columns?",
        1,
        1,
        "people.csv",
    )


@pytest.mark.parametrize(
    "data,kind",
    [
        (
            b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 200,
            "is a spreadsheet workbook (.xlsx, .ods: a zip file), not CSV text",
        ),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 200, "is an Excel 97-2003 workbook (.xls), not CSV text"),
    ],
)
def test_a_workbook_given_as_the_roster_is_named(tmp_path: Path, data: bytes, kind: str) -> None:
    err = problems_of(roster(tmp_path, data))
    assert_problem(err, kind + ". Fix: save it as CSV: in Excel, File > Save As > CSV UTF-8", 4, 15, "m.yaml")
    assert len(err.problems) == 1


def test_a_missing_column_is_named_once_at_the_header(tmp_path: Path) -> None:
    rows = "".join(f"p{i},photo,P {i}\n" for i in range(30))
    err = problems_of(roster(tmp_path, "key,type,name\n" + rows + "cy,prompt,Cy\n"))
    assert_problem(
        err,
        "the header row has no `file` column, which 30 rows of the roster need. Fix: add a `file` column",
        1,
        1,
        "people.csv",
    )
    assert_problem(err, "the header row has no `prompt` column, which 1 row of the roster need", 1, 1, "people.csv")
    assert len(err.problems) == 2


def test_an_empty_cell_of_a_present_column_is_still_named_per_row(tmp_path: Path) -> None:
    err = problems_of(roster(tmp_path, f"key,type,name,file\nann,photo,Ann,{URL}\nbo,photo,Bo,\n"))
    assert_problem(err, "empty `file` cell", 3, 4, "people.csv")


@pytest.mark.parametrize(
    "url,name",
    [
        ("https://example.com/r.csv", "r.csv"),
        ("HTTP://example.com/exports/team%20list.CSV?dl=1", "team list.CSV"),
        ("https://docs.google.com/spreadsheets/d/x/export?format=csv", "roster.csv"),
    ],
)
def test_a_roster_given_as_a_url_is_refused_as_such_not_as_a_missing_file(tmp_path: Path, url: str, name: str) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text(f"version: 1\navatars_from: {url}\n")
    err = problems_of(manifest)
    assert len(err.problems) == 1, err.problems
    assert_problem(
        err,
        f"`avatars_from` is a URL ({url}): rosters are local files, nothing is downloaded. "
        f"Fix: download the CSV beside the manifest and name it: `avatars_from: {name}`",
        2,
        15,
        "m.yaml",
    )
    assert "not found" not in str(err)


def test_the_command_line_refuses_a_roster_url_with_exit_2_and_one_line(tmp_path: Path) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text("version: 1\navatars_from: https://example.com/r.csv\n")
    result = CliRunner().invoke(main, ["validate", str(manifest)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: {manifest}:2:15: `avatars_from` is a URL (https://example.com/r.csv): rosters are local files, "
        "nothing is downloaded. Fix: download the CSV beside the manifest and name it: `avatars_from: r.csv`"
    ]
