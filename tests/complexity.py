"""`python -m tests.complexity PATH...` (run by `make check`): every function, method and class
that radon counts above MAX, one line each, and exit 1; nothing and exit 0 when all are within it."""

from __future__ import annotations

import sys
from pathlib import Path

from radon.complexity import cc_visit

MAX = 15


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


if __name__ == "__main__":
    problems = too_complex(sys.argv[1:] or ["batchavatars"])
    print("\n".join(problems) or f"complexity: nothing above {MAX}")
    sys.exit(1 if problems else 0)
