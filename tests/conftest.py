from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from analyzer.cli import main

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


class _Stdin(io.TextIOWrapper):
    """Standard input as a test gives it: text with its bytes under .buffer."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8")


def run_cli(*args: str, cwd: Path | None = None, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    """Run vdpa-lint in this process (`analyzer.cli.main`), capturing what it writes and its exit
    status as a finished process would give them. Starting an interpreter per call made the suite
    mostly interpreter start-ups; the subprocess smoke tests (test_cli.py) keep the real thing."""
    out, err = io.StringIO(), io.StringIO()
    old_cwd, old_stdin = os.getcwd(), sys.stdin
    os.chdir(cwd or REPO)
    sys.stdin = _Stdin(stdin)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse: --help, --version, usage errors
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    finally:
        sys.stdin = old_stdin
        os.chdir(old_cwd)
    return subprocess.CompletedProcess(["vdpa-lint", *args], code, out.getvalue(), err.getvalue())


def run_process(
    *args: str, cwd: Path | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """Run vdpa-lint as users do: a separate process, `python -m analyzer`."""
    return subprocess.run(
        [sys.executable, "-m", "analyzer", *args],
        input=stdin.decode() if stdin is not None else None,
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
