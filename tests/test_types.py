"""The type hints are checked, not decorative: mypy over the whole package."""

import subprocess
import sys
from pathlib import Path


def test_the_package_type_checks():
    root = Path(__file__).parent.parent
    proc = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary"], cwd=root, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
