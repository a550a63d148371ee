"""What kernel a report describes: the version its top-level Makefile declares and, when
the tree is a git work tree, `git describe` and the commit. The CLI asks; formatters get
the answer (they do no I/O)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

_MAKEFILE_FIELD = re.compile(r"^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION)\s*=[ \t]*(\S*)", re.M)


class TreeInfo(NamedTuple):
    root: str
    version: str | None = None  # "6.12.117", from the top-level Makefile
    describe: str | None = None  # `git describe --tags --always --dirty`
    commit: str | None = None  # the full sha

    def title(self) -> str:
        """'Linux 6.12.117 (v6.12-rc1-5-gabc, 0123456789ab)' or the root when nothing is known."""
        parts = [f"Linux {self.version}"] if self.version else []
        git = [x for x in (self.describe, self.commit[:12] if self.commit else None) if x]
        if git:
            parts.append(f"({', '.join(dict.fromkeys(git))})")
        return " ".join(parts) or self.root


def makefile_version(text: str) -> str | None:
    """Kernel version from Makefile text: VERSION.PATCHLEVEL[.SUBLEVEL][EXTRAVERSION]."""
    fields: dict[str, str] = {}
    for name, value in _MAKEFILE_FIELD.findall(text[:4096]):
        fields.setdefault(name, value)
    if not fields.get("VERSION", "").isdigit() or not fields.get("PATCHLEVEL", "").isdigit():
        return None
    version = f"{fields['VERSION']}.{fields['PATCHLEVEL']}"
    if fields.get("SUBLEVEL", "").isdigit() and fields["SUBLEVEL"] != "0":
        version += f".{fields['SUBLEVEL']}"
    return version + fields.get("EXTRAVERSION", "")


def _git(root: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None


def tree_info(root: str | Path, rev: str | None = None) -> TreeInfo:
    """The tree at root; with rev, that revision of the git repository at root."""
    path = Path(root)
    makefile: str | None = None
    top = _git(path, "rev-parse", "--show-toplevel")
    in_git = top is not None and Path(top).resolve() == path.resolve()  # not a parent's repository
    if rev is not None and in_git:
        makefile = _git(path, "show", f"{rev}:Makefile")
    elif (path / "Makefile").is_file():
        try:
            makefile = (path / "Makefile").read_text(encoding="utf-8", errors="replace")[:4096]
        except OSError:
            makefile = None
    version = makefile_version(makefile) if makefile else None
    if not in_git:
        return TreeInfo(str(root), version)
    target = rev or "HEAD"
    describe_args = ["describe", "--tags", "--always", "--abbrev=12"]
    describe = _git(path, *describe_args, *(["--dirty"] if rev is None else [target]))
    return TreeInfo(str(root), version, describe, _git(path, "rev-parse", "--verify", f"{target}^{{commit}}"))


def read_lines(root: str | Path, paths: Iterable[str], limit: int = 8 << 20) -> dict[str, tuple[str, ...]]:
    """The lines of files under root (relative paths), for the excerpts a report links to;
    files that cannot be read are left out (the report then shows their path:line unlinked)."""
    out: dict[str, tuple[str, ...]] = {}
    for rel in sorted(set(paths)):
        path = Path(root) / rel
        try:
            if path.stat().st_size <= limit:
                out[rel] = tuple(path.read_bytes().decode("utf-8", "replace").splitlines())
        except OSError:
            continue
    return out
