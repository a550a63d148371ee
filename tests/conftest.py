from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run vdpa-lint as users do: a separate process, `python -m analyzer`."""
    return subprocess.run(
        [sys.executable, "-m", "analyzer", *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        timeout=300,
    )


def check_json(*paths: str | Path, extra: tuple[str, ...] = ()) -> dict:
    proc = run_cli("check", "--format", "json", "--fail-on", "never", *map(str, paths), *extra)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def pytest_configure(config: pytest.Config) -> None:
    """Every vdpa-lint the tests start shares one fresh facts cache, not the user's."""
    os.environ["VDPA_LINT_CACHE_DIR"] = tempfile.mkdtemp(prefix="vdpa-lint-test-cache-")
