"""Build real git repositories and patch series from fixture trees, for the gate's tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.org",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.org",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, env=ENV, check=True, capture_output=True, text=True
    ).stdout


def repo_from(tree: Path, into: Path) -> Path:
    """A repository whose first commit is the fixture tree (symlinks resolved)."""
    shutil.copytree(tree, into, symlinks=False)
    git(into, "init", "-q", "-b", "main")
    git(into, "add", "-A")
    git(into, "commit", "-q", "-m", "base")
    return into


def commit(repo: Path, subject: str, edits: dict[str, tuple[str, str] | str | None]) -> str:
    """edits: path -> (old, new) text replacement, a whole new text, or None to delete."""
    for rel, edit in edits.items():
        path = repo / rel
        if edit is None:
            path.unlink()
        elif isinstance(edit, tuple):
            old, new = edit
            text = path.read_text()
            assert old in text, f"{rel}: {old!r} not found"
            path.write_text(text.replace(old, new, 1))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(edit)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", subject)
    return git(repo, "rev-parse", "HEAD").strip()


def format_patches(repo: Path, base: str, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    names = git(repo, "format-patch", "-o", str(out), f"{base}..HEAD").split()
    return [Path(n) for n in names]


def tree_digest(tree: Path) -> dict[str, bytes]:
    return {p.relative_to(tree).as_posix(): p.read_bytes() for p in sorted(tree.rglob("*")) if p.is_file()}


# The edits the gate tests make to the demo-kernel fixture, shared by test_gate and test_gate_series.
GOOD = "drivers/vdpa/good_vdpa/good_main.c"
LEGACY_MR = "drivers/vdpa/legacy_vdpa/legacy_mr.c"
COMMENT = ("static void good_do_reset", "/* Reset the device; maps stay. */\nstatic void good_do_reset")
UNGUARD = ("\tif (flags & VDPA_RESET_F_CLEAN_MAP) {", "\t{")
NEW = "drivers/vdpa/new_vdpa/new_main.c"
NEW_DRIVER = """// SPDX-License-Identifier: GPL-2.0
#include <linux/vdpa.h>

struct new_dev { struct vdpa_device vdpa; struct vhost_iotlb *iotlb; u8 status; };
int new_set_map(struct vdpa_device *vdev, unsigned int asid, struct vhost_iotlb *iotlb);
int new_reset_map(struct vdpa_device *vdev, unsigned int asid);

static void new_stop(struct new_dev *n)
{
	n->status = 0;
}

static int new_reset(struct vdpa_device *vdev)
{
	new_stop(container_of(vdev, struct new_dev, vdpa));
	return 0;
}

static const struct vdpa_config_ops new_ops = {
	.reset = new_reset,
	.set_map = new_set_map,
	.reset_map = new_reset_map,
};
"""
CLEAR = ("\tn->status = 0;", "\tn->status = 0;\n\tvhost_iotlb_reset(n->iotlb);")
