"""What a whole-tree run learnt about a tree's files, kept for the next run.

A kernel is 60,000 .c/.h files in 4,000 directories, and only a dozen of them name
`vdpa_config_ops`. Reading them all to find out takes a second or two; this cache keeps,
per tree (in the facts cache directory):

- each directory's listing (subdirectories, source files), keyed by the directory's
  identity (mtime_ns, inode): adding, removing or renaming an entry changes its mtime;
- each file's identity (size, mtime_ns, inode) and whether its bytes hold the needle.

A file whose identity is unchanged is not read again; anything else (edited, added,
replaced, or a directory whose entries changed) is read as before. Entries younger than
RACY_NS when recorded are not kept: a change within the file system's timestamp
granularity could otherwise go unseen (as git does for its index). Symbolic links are
checked on every run. A cache file that cannot be read is ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import struct
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

MIN_FILES = 4000  # smaller trees are walked and read faster than the cache loads
RACY_NS = 2_000_000_000
_FORMAT = b"VDPALINT-TREE-2"
_IDENT = struct.Struct("<qqq")  # size, mtime_ns, inode


def _key(st: os.stat_result) -> tuple[int, int]:
    return st.st_mtime_ns, st.st_ino


class DirEntry:
    __slots__ = ("files", "hits", "idents", "key", "links", "previous", "subdirs")

    def __init__(
        self, key: tuple[int, int], subdirs: tuple[str, ...], files: tuple[str, ...], links: tuple[str, ...]
    ) -> None:
        self.key = key
        self.subdirs = subdirs  # names
        self.files = files  # source file names, symbolic links included
        self.links = links  # those that are symbolic links (checked on every walk)
        self.idents = b""  # _IDENT per file of `files`, or b"" when not known
        self.hits = b""  # one byte per file: 1 when its bytes hold the needle
        self.previous: DirEntry | None = None  # the listing before this one (its files' identities)

    # Stored as plain tuples: a whole kernel's 4,000 of them unpickle several times faster.
    def as_tuple(self) -> tuple[object, ...]:
        prev = self.previous.as_tuple() if self.previous is not None else None
        return (self.key, self.subdirs, self.files, self.links, self.idents, self.hits, prev)

    @classmethod
    def from_tuple(cls, t: tuple[Any, ...]) -> DirEntry:
        entry = cls(t[0], t[1], t[2], t[3])
        entry.idents, entry.hits = t[4], t[5]
        entry.previous = cls.from_tuple(t[6]) if t[6] is not None else None
        return entry


class TreeCache:
    def __init__(self, directory: Path, root: Path, needle: bytes = b"vdpa_config_ops") -> None:
        digest = hashlib.sha256(str(root).encode() + b"\0" + needle).hexdigest()[:32]
        self.path = directory / "trees" / f"{digest}.pickle"
        self.root = str(root)
        self.needle = needle
        self.old: dict[str, tuple[Any, ...]] = {}  # as stored: DirEntry.as_tuple()
        self.new: dict[str, DirEntry] = {}
        self.tops: list[str] = []  # the directories walked in this run
        self.dirty = False  # something was learnt that the file on disk does not say
        # (directory relative to the root, source file names) in the order the walk listed
        # them: the scan's files, grouped, so the prefilter need not group them again.
        self.walked: list[tuple[str, list[str]]] = []
        try:
            with open(self.path, "rb") as fh:
                if fh.read(len(_FORMAT)) == _FORMAT:
                    data = pickle.load(fh)
                    if isinstance(data, dict):
                        self.old = data
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError):
            self.old = {}

    # -- the walk ------------------------------------------------------------------------
    def listing(self, directory: str) -> DirEntry | None:
        """The directory's cached listing if the directory has not changed since."""
        try:
            st = os.stat(directory)
        except OSError:
            return None
        stored = self.old.get(directory)
        if stored is not None and stored[0] == _key(st):
            entry = self.new[directory] = DirEntry.from_tuple(stored)
            return entry
        return None

    def record(
        self, directory: str, subdirs: Iterable[str], files: Iterable[str], links: Iterable[str]
    ) -> None:
        try:
            st = os.stat(directory)
        except OSError:
            return
        # Changed just now: its mtime may not change again for the next edit, so the listing
        # is not to be trusted next time (a key no directory has); its files' identities are.
        key = (-1, -1) if time.time_ns() - st.st_mtime_ns < RACY_NS else _key(st)
        entry = DirEntry(key, tuple(subdirs), tuple(files), tuple(links))
        stored = self.old.get(directory)
        prev = DirEntry.from_tuple(stored) if stored is not None else None
        entry.previous = prev.previous if prev is not None and not prev.idents else prev
        if entry.previous is not None:
            entry.previous.previous = None
        self.new[directory] = entry
        self.dirty = True

    # -- the prefilter -------------------------------------------------------------------
    def mentioning(
        self, files: list[str], search: Callable[[list[str]], list[str]], whole: bool = False
    ) -> list[str]:
        """The files among `files` (relative, in walk order) whose bytes hold the needle:
        from the cache where a file's identity is unchanged, else by search(), which reads
        the files it is given. Records what it learns. whole: files are all the walk found,
        in its order."""
        by_dir: dict[str, list[str]] = {}
        if whole and sum(len(names) for _, names in self.walked) == len(files):
            by_dir = dict(self.walked)  # the walk's own grouping, in its order
        if len(by_dir) != len(self.walked) or not by_dir:
            by_dir = {}
            for rel in files:
                d, _, name = rel.rpartition("/")
                by_dir.setdefault(d, []).append(name)
        found: set[str] = set()
        unknown: list[str] = []
        stats = _stat_dirs(self.root, by_dir)
        now = time.time_ns()
        learnt: dict[str, tuple[list[str], bytes]] = {}
        for d, names in by_dir.items():
            absdir = os.path.join(self.root, d) if d else self.root
            entry = self.new.get(absdir)
            idents = stats.get(d, b"")
            prefix = d + "/" if d else ""
            if entry is not None and entry.idents and entry.idents == idents and entry.files == tuple(names):
                if 1 in entry.hits:
                    found.update(prefix + n for n, h in zip(entry.files, entry.hits, strict=True) if h)
                continue
            old = {}
            known_entry = entry if entry is not None and entry.idents else entry and entry.previous
            if known_entry is not None and len(known_entry.idents) == _IDENT.size * len(known_entry.files):
                k = known_entry
                old = {
                    n: (k.idents[i * _IDENT.size : (i + 1) * _IDENT.size], k.hits[i])
                    for i, n in enumerate(k.files)
                }
            for i, n in enumerate(names):
                ident = idents[i * _IDENT.size : (i + 1) * _IDENT.size]
                known = old.get(n)
                if ident and known is not None and known[0] == ident:
                    if known[1]:
                        found.add(prefix + n)
                else:
                    unknown.append(prefix + n)
            learnt[d] = (names, idents)
        hits = set(search(unknown)) if unknown else set()
        found |= hits
        for d, (names, idents) in learnt.items():
            absdir = os.path.join(self.root, d) if d else self.root
            entry = self.new.get(absdir)
            if entry is None or list(entry.files) != names or len(idents) != _IDENT.size * len(names):
                continue
            racy = any(
                now - _IDENT.unpack_from(idents, i * _IDENT.size)[1] < RACY_NS for i in range(len(names))
            )
            if racy:
                continue  # read again next time
            prefix = d + "/" if d else ""
            entry.idents = idents
            entry.hits = bytes(1 if prefix + n in found else 0 for n in names)
            entry.previous = None
            self.dirty = True
        return [rel for rel in files if rel in found] if len(found) < len(files) else list(files)

    def save(self) -> None:
        """Write what this run saw, atomically; entries for directories outside the walked
        ones are kept, those inside that were not seen again (deleted) are dropped."""
        import tempfile

        if not self.dirty and self.old.keys() <= self.new.keys():
            return  # nothing new, nothing gone
        tops = tuple(self.tops)
        kept = {
            d: t
            for d, t in self.old.items()
            if not any(d == top or d.startswith(top + os.sep) for top in tops)
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tree-", dir=self.path.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(_FORMAT)
                pickle.dump(
                    kept | {d: e.as_tuple() for d, e in self.new.items()},
                    fh,
                    protocol=pickle.HIGHEST_PROTOCOL,
                )
            os.replace(tmp, self.path)
        except OSError:
            pass  # a cache that cannot be written costs time next run, nothing else


def _stat_share(root: str, dirs: list[tuple[str, list[str]]]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    pack = _IDENT.pack
    stat = os.stat
    for d, names in dirs:
        fd = None
        try:
            fd = os.open(os.path.join(root, d) if d else root, os.O_RDONLY | os.O_DIRECTORY)
            stats = [stat(n, dir_fd=fd) for n in names]  # a link: its target's identity
            out[d] = b"".join([pack(st.st_size, st.st_mtime_ns, st.st_ino) for st in stats])
        except OSError:
            out[d] = b""  # something changed under us: read these files
        finally:
            if fd is not None:
                os.close(fd)
    return out


def _stat_dirs(root: str, by_dir: dict[str, list[str]]) -> dict[str, bytes]:
    """Every file's identity, packed per directory; a second process does half of a large
    tree (the stat calls are what a warm run spends its time on)."""
    items = list(by_dir.items())
    total = sum(len(v) for v in by_dir.values())
    if total < MIN_FILES or (os.cpu_count() or 1) < 2 or not hasattr(os, "fork"):
        return _stat_share(root, items)
    half = items[len(items) // 2 :]
    mine = items[: len(items) // 2]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: stat its half, send it, and leave without cleanup handlers
        try:
            os.close(r)
            data = pickle.dumps(_stat_share(root, half), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(w, "wb") as fh:
                fh.write(data)
        finally:
            os._exit(0)
    os.close(w)
    out = _stat_share(root, mine)
    with os.fdopen(r, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    try:
        out.update(pickle.loads(data))
    except (pickle.UnpicklingError, EOFError):
        out.update({d: b"" for d, _ in half})
    return out
