"""`python -m tests.house` (run by `make check`): the house rules no formatter or linter checks.

- No function, method or class above MAX by radon's cyclomatic count (stricter than ruff's C901).
- No merge-conflict marker in any file of the repository (a README once shipped two versions of a row).

Prints each breach on a line of its own and exits 1; prints a line saying all is well and exits 0.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from radon.complexity import cc_visit

MAX = 15
ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^(<<<<<<<|>>>>>>>)( |$)", re.MULTILINE)


def too_complex(paths: list[str]) -> list[str]:
    found = []
    for root in paths:
        files = [Path(root)] if root.endswith(".py") else sorted(Path(root).rglob("*.py"))
        for file in files:
            for block in cc_visit(file.read_text(encoding="utf-8")):
                if block.complexity > MAX:
                    found.append(
                        f"{file}:{block.lineno}: {block.fullname} has complexity {block.complexity} (max {MAX})"
                    )
    return found


def repository_files(root: Path = ROOT) -> list[Path]:
    """The files git tracks and the untracked ones it does not ignore; every file outside a checkout."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return [p for p in root.rglob("*") if p.is_file() and ".git" not in p.parts]
    return [root / name for name in listed.decode().split("\0") if name and (root / name).is_file()]


def conflict_markers(files: list[Path]) -> list[str]:
    found = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary (a picture) or unreadable: no text to hold a marker
        for match in MARKER.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(f"{file}:{line}: a merge-conflict marker ({match.group(1)}): resolve the merge")
    return found


if __name__ == "__main__":
    problems = too_complex([str(ROOT / "batchavatars")]) + conflict_markers(repository_files())
    print("\n".join(problems) or f"house rules: no function above {MAX}, no conflict marker")
    sys.exit(1 if problems else 0)
