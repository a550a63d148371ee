"""Debian's linux-source trees (SPEC §6), fetched and cached by scripts/fetch-kernel-corpus."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@cache
def kernel_tree(version: str, full: bool = False) -> Path:
    """The vDPA subset of Debian's linux-source-<version>, or with full=True the whole tree."""
    proc = subprocess.run(
        [str(REPO / "scripts" / "fetch-kernel-corpus"), *(["--full"] if full else []), version],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"fetching linux-source-{version} failed:\n{proc.stderr}")
    ver, path = proc.stdout.split()
    assert ver == version
    return Path(path)


def line_of(path: Path, needle: str, after: str | None = None) -> int:
    """1-based line of the first line containing needle (after the line containing `after`)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = 0
    if after is not None:
        start = next(i for i, line in enumerate(lines) if after in line)
    return next(i for i in range(start, len(lines)) if needle in lines[i]) + 1
