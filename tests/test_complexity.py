"""The complexity rule `make check` enforces (radon's count, at most 15 per function), checked both ways."""

from __future__ import annotations

from pathlib import Path

from .complexity import MAX, too_complex

ROOT = Path(__file__).resolve().parent.parent


def test_a_function_over_the_limit_is_named_with_its_count(tmp_path):
    branches = "".join(f"    if x == {n}:\n        return {n}\n" for n in range(MAX + 1))
    (tmp_path / "m.py").write_text(f"def tangled(x):\n{branches}    return 0\n\n\ndef plain(x):\n    return x\n")
    assert too_complex([str(tmp_path)]) == [f"{tmp_path / 'm.py'}:1: tangled has complexity {MAX + 2} (max {MAX})"]


def test_no_function_of_the_package_is_over_the_limit():
    assert too_complex([str(ROOT / "batchavatars")]) == []
