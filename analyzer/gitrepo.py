"""The git plumbing the gate needs, with failures as InputError (exit 2, one line).

Nothing here writes to the user's repository or tree: states are checked out into
a temporary work tree with a temporary index, and patch series are applied to a
temporary copy.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from analyzer.source import InputError

_IDENTITY = {
    "GIT_AUTHOR_NAME": "vdpa-lint",
    "GIT_AUTHOR_EMAIL": "vdpa-lint@localhost",
    "GIT_COMMITTER_NAME": "vdpa-lint",
    "GIT_COMMITTER_EMAIL": "vdpa-lint@localhost",
}
_HUNK_FAILED_RE = re.compile(r"error: patch failed: (\S+?):(\d+)")
_FAILED_FILE_RES = (
    (re.compile(r"error: (\S+?): (?:does not exist in index|No such file or directory)"), "no such file"),
    (re.compile(r"error: (\S+?): already exists"), "already exists"),
    (re.compile(r"error: (\S+?): patch does not apply"), "does not apply"),
)


class Commit(NamedTuple):
    sha: str
    subject: str
    empty: bool = False  # changes nothing (b4 keeps a series' cover letter in such a commit)


class PatchDoesNotApply(InputError):
    """Where a patch fails: the first failing file, and the hunk and line where git says."""

    def __init__(self, path: str, line: int | None = None, hunk: int | None = None, why: str = "") -> None:
        self.path, self.line, self.hunk = path, line, hunk
        where = f"{path}:{line}:" if line else f"{path}:"
        super().__init__(
            f"{where} hunk #{hunk} does not apply" if hunk else f"{where} {why or 'does not apply'}"
        )


def git(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, check: bool = True) -> str:
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            env={**os.environ, **_IDENTITY, **(env or {})},
        )
    except FileNotFoundError:
        raise InputError("git is not installed") from None
    if check and proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        raise InputError(f"git {args[0]}: {detail}")
    return proc.stdout


def resolve_range(repo: Path, base: str, head: str) -> tuple[str, list[Commit]]:
    """The merge-base of base and head, and the commits after it up to head, oldest first."""
    if not (repo / ".git").exists() and git("rev-parse", "--git-dir", cwd=repo, check=False) == "":
        raise InputError(f"{repo}: not a git repository")
    for rev in (base, head):
        if not git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=repo, check=False).strip():
            raise InputError(f"{repo}: unknown revision {rev!r}")
    merge_base = git("merge-base", base, head, cwd=repo).strip()
    out = git(
        "log",
        "--reverse",
        "--topo-order",
        "--name-only",
        "--no-renames",
        "--format=%x01%H%x00%P%x00%s",
        f"{merge_base}..{head}",
        cwd=repo,
    )
    commits = []
    for block in out.split("\x01")[1:]:
        first, _, names = block.partition("\n")
        sha, parents, subject = first.split("\0", 2)
        # A merge lists no names either: only a one-parent commit with none is empty.
        commits.append(Commit(sha, subject, len(parents.split()) == 1 and not names.strip()))
    return merge_base, commits


class Checkout:
    """Successive commits of a repository in one temporary work tree with its own index.
    Only the paths the analysis can read are written (SPEC: drivers/ for callees, the API
    header, the analysed paths), and moving on rewrites only the files that differ."""

    def __init__(self, repo: Path, workdir: Path, paths: list[str]) -> None:
        self.repo = repo
        self.workdir = workdir
        self.paths = sorted(set(paths))
        self.env = {
            "GIT_INDEX_FILE": str(workdir.parent / "gate-index"),
            "GIT_WORK_TREE": str(workdir),
            "GIT_DIR": git("rev-parse", "--absolute-git-dir", cwd=repo).strip(),
        }
        self.current: str | None = None
        self._diffs: dict[str, tuple[str, list[list[str]]]] = {}  # sha -> (parent, name-status)

    def preload(self, base: str, head: str) -> None:
        """Every commit's changes in base..head from one `git log`, instead of one `git diff`
        per commit (used where a commit's parent is the state checked out before it)."""
        out = git(
            "log",
            "--no-renames",
            "--name-status",
            "--format=%x01%H %P",
            f"{base}..{head}",
            "--",
            *self.paths,
            env=self.env,
        )
        for block in out.split("\x01")[1:]:
            lines = block.splitlines()
            sha, *parents = lines[0].split()
            entries = [line.split("\t", 1) for line in lines[1:] if "\t" in line]
            if len(parents) == 1:
                self._diffs[sha] = (parents[0], entries)

    def _existing(self, sha: str, paths: list[str]) -> list[str]:
        if not paths:
            return []
        return git("ls-tree", "-r", "--name-only", sha, "--", *paths, env=self.env).splitlines()

    def move_to(self, sha: str) -> set[str]:
        """Check sha out; return the paths that changed (all of them the first time)."""
        if self.current is None:
            present = self._existing(sha, self.paths)
            changed = set(present)
        else:
            parent, entries = self._diffs.get(sha, ("", []))
            if parent != self.current:
                status = git(
                    "diff",
                    "--name-status",
                    "--no-renames",
                    self.current,
                    sha,
                    "--",
                    *self.paths,
                    env=self.env,
                )
                entries = [line.split("\t", 1) for line in status.splitlines() if "\t" in line]
            changed = {path for _, path in entries}
            present = sorted(path for kind, path in entries if kind != "D")
            for kind, path in entries:
                if kind == "D":
                    (self.workdir / path).unlink(missing_ok=True)
        for i in range(0, len(present), 500):  # keep each command line short
            git("checkout", sha, "--", *present[i : i + 500], env=self.env)
        self.current = sha
        return changed


def files_naming(repo: Path, rev: str, needle: str) -> list[str]:
    """The .c/.h files of a commit whose text contains needle (git grep, no checkout)."""
    out = git("grep", "-l", "-F", needle, rev, "--", "*.c", "*.h", cwd=repo, check=False)
    return [line.split(":", 1)[1] for line in out.splitlines() if ":" in line]


def range_paths(repo: Path, base: str, head: str) -> set[str]:
    """Every file the commits of base..head change."""
    return {p for p in git("log", "--name-only", "--format=", f"{base}..{head}", cwd=repo).splitlines() if p}


_PATCHED_PATH_RE = re.compile(rb"^(?:diff --git a/(\S+) b/(\S+)|--- a/(\S+)|\+\+\+ b/(\S+))", re.M)


def patched_paths(patches: list[Path]) -> set[str]:
    """Every file a series names in its diffs."""
    out: set[str] = set()
    for p in patches:
        for m in _PATCHED_PATH_RE.finditer(p.read_bytes()):
            out.update(g.decode("utf-8", "replace") for g in m.groups() if g)
    return out


@contextmanager
def tree_copy(tree: Path, into: Path, keep: list[str] | None = None) -> Iterator[Path]:
    """A copy of tree under `into`, committed in a fresh repository, for patches to go on.
    With keep, only those files and directories are copied (what the analysis reads and
    what the patches touch): a whole kernel is 1.7 GB that nobody needs here."""
    copy = into / "tree"
    ignore = shutil.ignore_patterns(".git")
    if keep is None:
        shutil.copytree(tree, copy, symlinks=True, ignore=ignore)
    else:
        copy.mkdir()
        for rel in sorted(set(keep)):
            src, dst = tree / rel, copy / rel
            if src.is_dir() and not src.is_symlink():
                shutil.copytree(src, dst, symlinks=True, ignore=ignore, dirs_exist_ok=True)
            elif src.is_file() or src.is_symlink():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst, follow_symlinks=False)
    git("init", "-q", cwd=copy)
    git("add", "-A", cwd=copy)
    git("commit", "-q", "--no-verify", "-m", "base", cwd=copy)
    yield copy


def apply_patch(copy: Path, patch: Path) -> set[str]:
    """Apply one patch as a commit; return the paths it changed. Raises PatchDoesNotApply."""
    text = patch.read_bytes()
    is_mail = text.startswith(b"From ") or re.search(rb"^Subject:", text[:8192], re.M) is not None
    if is_mail:
        proc = subprocess.run(
            ["git", "am", "-q", "--keep-cr", str(patch)],
            cwd=copy,
            capture_output=True,
            text=True,
            env={**os.environ, **_IDENTITY},
        )
        if proc.returncode != 0:
            subprocess.run(["git", "am", "--abort"], cwd=copy, capture_output=True)
            raise _failure(proc.stdout + proc.stderr, text)
    else:
        proc = subprocess.run(
            ["git", "apply", "--index", str(patch)], cwd=copy, capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise _failure(proc.stderr, text)
        git("commit", "-q", "--no-verify", "--allow-empty", "-m", patch.name, cwd=copy)
    return set(git("diff", "--name-only", "--no-renames", "HEAD~1", "HEAD", cwd=copy).splitlines())


def _failure(output: str, patch: bytes) -> PatchDoesNotApply:
    """The first failing file from git's words, with the hunk that starts at the line git names."""
    m = _HUNK_FAILED_RE.search(output)
    if m:
        path, line = m.group(1), int(m.group(2))
        return PatchDoesNotApply(path, line, _hunk_number(patch, path, line))
    for regex, why in _FAILED_FILE_RES:
        m = regex.search(output)
        if m:
            return PatchDoesNotApply(m.group(1), why=why)
    lines = [line.removeprefix("error: ") for line in output.splitlines() if line.startswith("error: ")]
    return PatchDoesNotApply("(patch)", why=lines[0] if lines else "git could not apply it")


def _hunk_number(patch: bytes, path: str, line: int) -> int | None:
    """1-based index, among path's hunks in the patch, of the hunk whose old side starts at line."""
    section = re.split(rb"^diff --git ", patch, flags=re.M)
    for part in section:
        if re.search(
            rb"^\+\+\+ b/" + re.escape(path.encode()) + rb"$|^--- a/" + re.escape(path.encode()) + rb"$",
            part,
            re.M,
        ):
            starts = [int(s) for s in re.findall(rb"^@@ -(\d+)", part, re.M)]
            return starts.index(line) + 1 if line in starts else None
    return None


def message_id(patch: Path) -> str:
    """The Message-Id of a patch email (an mbox message or a format-patch file), or ""."""
    from email.parser import BytesHeaderParser

    try:
        with patch.open("rb") as fh:
            head = fh.read(64 * 1024).split(b"\n\n", 1)[0]
    except OSError:
        return ""
    value = BytesHeaderParser().parsebytes(head + b"\n\n").get("Message-Id", "")
    return " ".join(str(value).split())
