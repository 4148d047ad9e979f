"""The house rules `make check` enforces beyond format, lint and types, each checked both ways."""

from __future__ import annotations

from .house import MAX, ROOT, conflict_markers, repository_files, too_complex


def test_a_function_over_the_limit_is_named_with_its_count(tmp_path):
    branches = "".join(f"    if x == {n}:\n        return {n}\n" for n in range(MAX + 1))
    (tmp_path / "m.py").write_text(f"def tangled(x):\n{branches}    return 0\n\n\ndef plain(x):\n    return x\n")
    assert too_complex([str(tmp_path)]) == [f"{tmp_path / 'm.py'}:1: tangled has complexity {MAX + 2} (max {MAX})"]


def test_no_function_of_the_package_is_over_the_limit():
    assert too_complex([str(ROOT / "batchavatars")]) == []


def test_a_conflict_marker_is_found_where_it_stands(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<<<<<<< HEAD\n| a |\n=======\n| b |\n>>>>>>> ops\nfine <<<<<<< inline\n")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    found = conflict_markers(repository_files(tmp_path))
    assert found == [
        f"{readme}:2: a merge-conflict marker (<<<<<<<): resolve the merge",
        f"{readme}:6: a merge-conflict marker (>>>>>>>): resolve the merge",
    ]


def test_the_repository_holds_no_conflict_marker():
    assert conflict_markers(repository_files()) == []
