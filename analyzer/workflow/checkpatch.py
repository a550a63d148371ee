"""`vdpa-lint check-patch`: one patch judged the way b4's per-patch check command is.

b4 (`git config b4.prep-perpatch-check-cmd "vdpa-lint check-patch"`; `b4 prep --check`)
runs the command without arguments at the top of the work tree, with the prep branch
checked out, and one patch as an email on standard input. Every line on standard output
is a report (a line with `ERROR:` a failure, any other a warning) and every line on
standard error a failure, so success is silence.

The patch is found in the branch by its stable patch-id and judged against its parent
with the gate (what it introduces, not what was already there). Outside git, or when no
commit of the branch is that patch, it is applied to a temporary copy of the tree as
`gate --tree` does.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Collection
from pathlib import Path

from analyzer.cache import FactsCache
from analyzer.findings import Finding
from analyzer.gate import GateResult, gate_repo, gate_tree
from analyzer.gitrepo import git
from analyzer.rulebook import Rule
from analyzer.source import InputError
from analyzer.suppress import BaselineEntry

SEARCH_DEPTH = 500  # commits of the branch looked at for the patch, newest first
_DIFF_RE = re.compile(rb"^diff --git a/", re.M)
_PATCH_PATH_RE = re.compile(rb"^diff --git a/(\S+) b/(\S+)$", re.M)
_LEVEL = {"error": "ERROR", "warning": "WARNING"}


def read_patch(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(source).read_bytes()
    except OSError as err:
        raise InputError(f"{source}: {err.strerror or err}") from None


def terse_lines(findings: Collection[Finding]) -> list[str]:
    """checkpatch --terse: `path:line: ERROR: [ID] message`; notes are not reported (b4
    would count any line as a warning)."""
    return [
        f"{f.path}:{f.line}: {_LEVEL[f.severity]}: [{f.rule_id}] {f.message}"
        for f in findings
        if f.severity in _LEVEL
    ]


def _toplevel(where: Path) -> Path | None:
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=where, capture_output=True, text=True
        )
    except FileNotFoundError:
        return None
    return Path(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else None


def _patch_ids(data: bytes, repo: Path) -> list[tuple[str, str]]:
    """(patch-id, commit or zeros) for each patch in data, by `git patch-id --stable`."""
    proc = subprocess.run(
        ["git", "patch-id", "--stable"], cwd=repo, input=data, capture_output=True, check=False
    )
    out = proc.stdout.decode("ascii", "replace").split()
    return list(zip(out[0::2], out[1::2], strict=False))


def find_commit(repo: Path, patch: bytes, head: str = "HEAD") -> str | None:
    """The newest commit among head's last SEARCH_DEPTH whose patch-id is the patch's.
    Only commits touching exactly the patch's files can match, so the log is limited to
    those files (a kernel's history stays out of it) and the file set is checked."""
    wanted = _patch_ids(patch, repo)
    paths = sorted({m.group(2).decode("utf-8", "replace") for m in _PATCH_PATH_RE.finditer(patch)})
    if not wanted or not paths:
        return None
    log = subprocess.run(
        [
            "git",
            "log",
            "-p",
            "--no-merges",
            "--no-color",
            "--no-ext-diff",
            f"-n{SEARCH_DEPTH}",
            head,
            "--",
            *paths,
        ],
        cwd=repo,
        capture_output=True,
        check=False,
    ).stdout
    for pid, sha in _patch_ids(log, repo):
        if pid != wanted[0][0]:
            continue
        touched = git("diff-tree", "--no-commit-id", "--name-only", "-r", "--root", sha, cwd=repo)
        if sorted(touched.split()) == paths or sorted(set(touched.split())) == paths:
            return sha
    return None


def check_patch(
    patch: bytes,
    tree: Path,
    rules: dict[str, Rule],
    enabled: Collection[str],
    baseline: list[BaselineEntry],
    cache: FactsCache | None,
    name: str = "-",
) -> tuple[Finding, ...]:
    """The findings the patch introduces (none for a patch without a diff: a cover letter)."""
    if not _DIFF_RE.search(patch):
        return ()
    repo = _toplevel(tree)
    sha = find_commit(repo, patch) if repo is not None else None
    result: GateResult
    if repo is not None and sha is not None:
        parent = git("rev-parse", "--verify", "--quiet", f"{sha}^", cwd=repo, check=False).strip()
        if parent:
            result = gate_repo(repo, parent, sha, rules, enabled, [], False, baseline, cache)
            return tuple(f for p in result.patches for f in p.introduced)
    given = "standard input" if name == "-" else name
    result = gate_tree(tree, [(given, patch)], rules, enabled, [], False, baseline, cache)
    if result.not_applied:
        n = result.not_applied
        raise InputError(f"patch {n.number}/{n.total} ({n.source}) does not apply: {n.message}")
    return tuple(f for p in result.patches for f in p.introduced)


def default_tree() -> Path:
    """Where b4 runs the command: the top of the work tree (else the current directory)."""
    here = Path(os.getcwd())
    return _toplevel(here) or here
