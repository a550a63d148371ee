"""The byte index of a tree's files, kept between runs by file identity.

Resolution, pointer candidates and types read every file of the vDPA subsystem for their
column-0 definitions, struct members and function stores (index.py). A file whose identity
(size, mtime_ns, inode) is unchanged since the last run gives back what was read from it,
with the digest of its bytes, without being opened. Entries younger than RACY_NS when recorded
are not kept, as git does for its index; a memo that cannot be read is ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

from analyzer.cache import read_entry, write_entry

RACY_NS = 2_000_000_000
_FORMAT = b"VDPALINT-INDEX-2\n"


class IndexMemo:
    def __init__(self, directory: Path, root: Path) -> None:
        name = hashlib.sha256(_FORMAT + str(root).encode()).hexdigest()[:32]
        self.path = directory / "index" / name
        self.root = root
        self.entries: dict[str, tuple[tuple[int, int, int], Any]] = {}
        self.changed = False
        loaded = read_entry(self.path, _FORMAT)
        if isinstance(loaded, dict):  # a missing or corrupt memo is an empty one
            self.entries = loaded

    def _identity(self, rel: str) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.root / rel)
        except OSError:
            return None
        return st.st_size, st.st_mtime_ns, st.st_ino

    def get(self, rel: str) -> Any | None:
        hit = self.entries.get(rel)
        if hit is None:
            return None
        ident = self._identity(rel)
        return hit[1] if ident is not None and ident == hit[0] else None

    def put(self, rel: str, value: Any) -> None:
        ident = self._identity(rel)
        if ident is None or time.time_ns() - ident[1] < RACY_NS:
            return  # a change within the timestamps' granularity could go unseen
        self.entries[rel] = (ident, value)
        self.changed = True

    def save(self) -> None:
        if not self.changed:
            return
        if write_entry(self.path, _FORMAT, self.entries):  # else only slower next time
            self.changed = False
