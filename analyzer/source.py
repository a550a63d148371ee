"""Finding and reading source files, failing closed.

Problems with a file are values (`SourceProblem`); only a path named on the
command line that cannot be used at all raises `InputError`, which the CLI
turns into one line on stderr and exit status 2.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import NamedTuple

from analyzer.treecache import MIN_FILES, TreeCache

SOURCE_SUFFIXES = (".c", ".h")
MAX_FILE_BYTES = 8 * 1024 * 1024  # the largest file in a kernel tree is under 6 MB
API_HEADER = "include/linux/vdpa.h"
# Callees are resolved in the vDPA subsystem and in each parent's own directory (SPEC §3);
# the rest of the kernel is summarised by the knowledge base instead of being walked, so a
# whole tree and its vDPA subset give the same verdicts.
SUBSYSTEM_DIRS = ("drivers/vdpa", "drivers/vhost", "drivers/virtio")


class InputError(Exception):
    """The run cannot be done with the input given (exit status 2)."""


class SourceProblem(NamedTuple):
    path: str
    message: str


class Scan(NamedTuple):
    root: Path  # paths in output are relative to it
    files: tuple[str, ...]  # the analysed files (relative, '/'-separated)
    tree_files: tuple[str, ...]  # the files callees are resolved in (SUBSYSTEM_DIRS, or all files)
    problems: tuple[SourceProblem, ...]
    api_header: str | None
    named_files: tuple[str, ...] = ()  # files named on the command line, not found in a directory
    tree_cache: TreeCache | None = None  # a large tree's listings and prefilter


def kernel_root(path: Path) -> Path | None:
    """The nearest directory at or above path holding include/linux/vdpa.h."""
    here = path if path.is_dir() else path.parent
    for d in (here, *here.parents):
        if (d / API_HEADER).is_file():
            return d
    return None


def _describe(err: OSError) -> str:
    if err.errno == errno.ELOOP:
        return "symbolic link loop"
    return err.strerror or str(err)


def read_source(path: Path) -> bytes | str:
    """The file's bytes, or why it cannot be analysed."""
    try:
        st = os.stat(path)
    except OSError as err:
        return _describe(err)
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if st.st_size > MAX_FILE_BYTES:
        return f"file too large ({st.st_size / 1e6:.1f} MB, limit {MAX_FILE_BYTES // (1024 * 1024)} MB)"
    try:
        data = path.read_bytes()
    except OSError as err:
        return _describe(err)
    problem = source_problem(data)
    return data if problem is None else problem


def source_problem(data: bytes) -> str | None:
    """Why bytes read from a file are not C source vdpa-lint can analyse, if they are not."""
    if len(data) > MAX_FILE_BYTES:
        return f"file too large ({len(data) / 1e6:.1f} MB, limit {MAX_FILE_BYTES // (1024 * 1024)} MB)"
    if b"\0" in data:
        return "binary file (contains NUL bytes)"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        return f"not UTF-8 text (byte {err.start})"
    return None


def _walk(
    top: Path, root: Path, files: list[str], problems: list[SourceProblem], cache: TreeCache | None = None
) -> None:
    """Source files under top, in a stable order; directories behind symlinks are not entered
    (no loops), and a file symlink that leads nowhere is a problem, not a silent skip. With a
    tree cache, a directory that has not changed since the last run is not listed again."""
    prefix = len(str(root)) + 1
    stack = [str(top)]
    while stack:
        directory = stack.pop()
        cached = cache.listing(directory) if cache is not None else None
        if cached is not None:
            reldir = directory[prefix:].replace(os.sep, "/") + "/" if len(directory) >= prefix else ""
            listed = list(cached.files)
            for name in cached.links:
                if (problem := _dangling(directory + os.sep + name)) is not None:
                    problems.append(SourceProblem(reldir + name, f"cannot read: {problem}"))
                    listed.remove(name)
            files.extend([reldir + name for name in listed])
            if listed and cache is not None:
                cache.walked.append((reldir[:-1], listed))
            stack.extend(directory + os.sep + d for d in reversed(cached.subdirs))
            continue
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as err:
            problems.append(SourceProblem(directory[prefix:] or ".", f"cannot read: {_describe(err)}"))
            continue
        subdirs = []
        listed = []
        names: list[str] = []
        links: list[str] = []
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                subdirs.append(e.path)
            elif e.name.endswith(SOURCE_SUFFIXES):
                rel = e.path[prefix:].replace(os.sep, "/")
                names.append(e.name)
                if e.is_symlink():
                    links.append(e.name)
                    if (problem := _dangling(e.path)) is not None:
                        problems.append(SourceProblem(rel, f"cannot read: {problem}"))
                        continue
                files.append(rel)
                listed.append(e.name)
        if cache is not None:
            cache.record(directory, [os.path.basename(d) for d in subdirs], names, links)
            if listed:
                cache.walked.append((directory[prefix:] if len(directory) >= prefix else "", listed))
        stack.extend(reversed(subdirs))


def _dangling(path: str) -> str | None:
    """Why a symbolic link cannot be followed, or None if it can."""
    try:
        Path(path).resolve(strict=True)
    except (OSError, RuntimeError) as err:
        return _describe(err) if isinstance(err, OSError) else "symbolic link loop"
    return None


def _relative(p: Path, root: Path) -> str:
    try:
        return p.relative_to(root).as_posix()
    except ValueError:
        return p.as_posix()


def scan(paths: list[str], cache_dir: Path | None = None) -> Scan:
    """The files under paths. With cache_dir, a large tree's directory listings and byte
    prefilter are kept there for the next run (analyzer/treecache.py)."""
    if not paths:
        raise InputError("no path given")
    resolved: list[Path] = []
    for raw in paths:
        p = Path(raw)
        try:
            os.stat(p)
        except OSError as err:
            if err.errno == errno.ENOENT:
                raise InputError(f"{raw}: no such file or directory") from None
            raise InputError(f"{raw}: {_describe(err)}") from None
        if p.is_file():
            if not p.name.endswith(SOURCE_SUFFIXES):
                raise InputError(f"{raw}: not a C source file (.c or .h)")
            data = read_source(p)
            if isinstance(data, str):
                raise InputError(f"{raw}: {data}")
        elif not p.is_dir():
            raise InputError(f"{raw}: not a regular file or directory")
        resolved.append(p.absolute())
    root = kernel_root(resolved[0])
    if root is None or not all(_inside(p, root) for p in resolved):
        first = resolved[0]
        root = Path(os.path.commonpath([p if p.is_dir() else p.parent for p in resolved]))
        if not first.is_dir() and len(resolved) == 1:
            root = first.parent
    files: list[str] = []
    named: list[str] = []
    problems: list[SourceProblem] = []
    # Not for the gate's temporary trees: each would leave a cache file nobody reads again.
    use_cache = cache_dir is not None and "vdpa-lint-gate-" not in str(root)
    tree_cache = TreeCache(cache_dir, root) if use_cache and cache_dir is not None else None
    for p in resolved:
        if p.is_dir():
            if tree_cache is not None:
                tree_cache.tops.append(str(p))
            _walk(p, root, files, problems, tree_cache)
        else:
            named.append(_relative(p, root))
            files.append(named[-1])
    api = API_HEADER if (root / API_HEADER).is_file() else None
    files = list(dict.fromkeys(files))
    if api is None:
        tree_files = tuple(files)
    else:
        tree_files = tuple(f for d in SUBSYSTEM_DIRS for f in walk_sources(root, d))
    if tree_cache is not None and len(files) < MIN_FILES:
        tree_cache = None  # small: walked and read faster than a cache loads
    return Scan(root, tuple(files), tree_files, tuple(problems), api, tuple(named), tree_cache)


def walk_sources(root: Path, directory: str) -> list[str]:
    """The .c/.h files under root/directory, relative to root (none if it does not exist)."""
    out: list[str] = []
    if (root / directory).is_dir():
        _walk(root / directory, root, out, [])
    return out


def _inside(p: Path, root: Path) -> bool:
    try:
        p.relative_to(root)
        return True
    except ValueError:
        return False
