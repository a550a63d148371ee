"""Debian's linux-source trees (SPEC §6), fetched and cached by scripts/fetch-kernel-corpus."""

from __future__ import annotations

import os
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


def cached_tree(version: str) -> Path | None:
    """The vDPA subset of linux-source-<version> if scripts/fetch-kernel-corpus has already
    fetched it (same cache root as the script), else None: never downloads."""
    root = os.environ.get("VDPA_LINT_CORPUS") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vdpa-lint" / "corpus"
    )
    tree = Path(root) / f"linux-{version}"
    return tree if (tree / ".complete").is_file() else None
