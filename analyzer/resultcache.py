"""Per-table results kept between runs: the findings, the report and what they depend on.

A table group (the tables of one file) is analysed from summaries of every function its
ops reach. What that analysis read is recorded with it — each file with a digest of its
bytes, and each name it looked up with the files that may define it — so a later run reuses
the result only when none of that changed: an edited callee, a new definition of a name
nearer to the caller, or another vdpa-lint invalidates it. Entries are checksummed and
renamed into place, like the facts cache, and live beside it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from analyzer.cache import ABSENT, read_entry, write_entry

_MAGIC = b"VDPALINT-RESULTS-1\n"


@lru_cache(maxsize=1)
def _salt() -> bytes:
    """The whole analyzer and its rule files: any change in either gives other results."""
    here = Path(__file__).parent
    h = hashlib.sha256(_MAGIC)
    for path in sorted(
        [*here.rglob("*.py"), *(here.parent / "rules").glob("*.toml"), *(here / "_rules").glob("*.toml")]
    ):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.digest()


def digest(data: bytes | None) -> str:
    return hashlib.sha256(data).hexdigest() if data is not None else ""


class ResultCache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory / "results"
        self.hits = self.misses = 0

    def _path(self, key: Iterable[str]) -> Path:
        h = hashlib.sha256(_salt())
        for part in key:
            h.update(part.encode() + b"\0")
        name = h.hexdigest()
        return self.directory / name[:2] / name[2:]

    def get(
        self,
        key: Iterable[str],
        digest_of: Callable[[str], str],
        defined_in: Callable[[str], tuple[str, ...]],
    ) -> Any | None:
        """The stored value if every file it read still has its bytes and every name it
        looked up is still defined in the same files; else None."""
        path = self._path(key)
        entry = read_entry(path, _MAGIC)
        if entry is ABSENT:
            self.misses += 1
            return None
        if not isinstance(entry, tuple) or len(entry) != 3:
            path.unlink(missing_ok=True)
            self.misses += 1
            return None
        value, files, names = entry
        if any(digest_of(rel) != d for rel, d in files) or any(defined_in(n) != f for n, f in names):
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(
        self,
        key: Iterable[str],
        value: Any,
        files: Iterable[tuple[str, str]],
        names: Iterable[tuple[str, tuple[str, ...]]],
    ) -> None:
        write_entry(self._path(key), _MAGIC, (value, tuple(files), tuple(names)))
