"""The progress line: on a terminal only, never in pipes or CI, erased when done."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from conftest import FIXTURES, REPO

CMD = [
    sys.executable,
    "-m",
    "analyzer",
    "check",
    "--fail-on",
    "never",
    "--no-cache",
    str(FIXTURES / "demo-kernel"),
]


def _run(stderr_tty: bool, ci: bool) -> tuple[str, str]:
    env = {**os.environ, "VDPA_LINT_PROGRESS_AFTER": "0"}
    env.pop("CI", None)
    if ci:
        env["CI"] = "true"
    if not stderr_tty:
        p = subprocess.run(CMD, capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
        return p.stdout, p.stderr
    master, slave = pty.openpty()
    p = subprocess.run(CMD, stdout=subprocess.PIPE, stderr=slave, env=env, cwd=REPO, timeout=60)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return p.stdout.decode(), b"".join(chunks).decode()


def test_progress_on_a_terminal() -> None:
    out, err = _run(stderr_tty=True, ci=False)
    assert "vdpa-lint: analysing drivers [" in err and "] 2/2" in err
    assert err.endswith("\r\x1b[K")  # the line is erased when the run ends
    assert "analysing" not in out  # stdout carries only the report


def test_no_progress_in_pipes_or_ci() -> None:
    _, err = _run(stderr_tty=False, ci=False)
    assert err == ""
    _, err = _run(stderr_tty=True, ci=True)
    assert err == ""
