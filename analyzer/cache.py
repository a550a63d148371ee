"""A content-addressed on-disk cache of per-file facts.

The key is a digest of the file's path and bytes and of the extractor itself (the
source of the modules that produce facts, and the grammar's version), so an edit to
either can never serve stale facts. Entries are written to a temporary file and
renamed into place (concurrent writers are safe: the last rename wins, and both wrote
the same bytes); each carries a checksum, and an entry that fails it or does not
unpickle is removed and treated as a miss. The cache is the user's own directory
(pickle is only as trustworthy as the directory it is read from).
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import tree_sitter

from analyzer import __version__
from analyzer.cparse import grammar_dir
from analyzer.facts import FileFacts

_MAGIC = b"VDPALINT-FACTS-1\n"
# Every module extract() runs (tests/test_cache.py checks the list against their imports).
_EXTRACTOR_MODULES = (
    "bytescan.py",
    "cconfig.py",
    "cmask.py",
    "cparse.py",
    "cexpr.py",
    "extract.py",
    "facts.py",
    "semantics/cfg.py",
    "semantics/graph.py",
    "semantics/values.py",
)


def default_dir() -> Path:
    """$VDPA_LINT_CACHE_DIR, else $XDG_CACHE_HOME/vdpa-lint/facts, else ~/.cache/vdpa-lint/facts."""
    explicit = os.environ.get("VDPA_LINT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vdpa-lint" / "facts"


@lru_cache(maxsize=1)
def _salt() -> bytes:
    h = hashlib.sha256(_MAGIC + __version__.encode())
    # The compiled parser and grammar: an upgrade replaces these files.
    for directory in (Path(tree_sitter.__file__ or ".").parent, grammar_dir()):
        for binary in sorted(directory.glob("*.so")):
            st = binary.stat()
            h.update(f"{binary}:{st.st_size}:{st.st_mtime_ns}".encode())
    here = Path(__file__).parent
    for name in _EXTRACTOR_MODULES:
        h.update((here / name).read_bytes())
    return h.digest()


def freeze(facts: FileFacts) -> FileFacts:
    """The facts with every function body extracted, ready to be stored."""
    functions = tuple(fn.replace(source=fn.cfg) for fn in facts.functions)
    macros = tuple(m.replace(source=m.cfg) for m in facts.macros)
    return facts.replace(functions=functions, macros=macros)


class FactsCache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.hits = self.misses = 0

    def _path(self, rel: str, data: bytes) -> Path:
        key = hashlib.sha256(_salt() + rel.encode() + b"\0" + data).hexdigest()
        return self.directory / key[:2] / key[2:]

    def get(self, rel: str, data: bytes) -> FileFacts | None:
        path = self._path(rel, data)
        facts = read_entry(path, _MAGIC)
        if facts is ABSENT:
            self.misses += 1
            return None
        if not isinstance(facts, FileFacts) or facts.path != rel:
            path.unlink(missing_ok=True)
            self.misses += 1
            return None
        self.hits += 1
        return facts

    def put(self, rel: str, data: bytes, facts: FileFacts) -> None:
        write_entry(self._path(rel, data), _MAGIC, freeze(facts))


ABSENT = object()  # read_entry: no such entry (None: an entry that is corrupt)


def read_entry(path: Path, magic: bytes) -> Any:
    """What write_entry stored at path; ABSENT when there is nothing, None when the entry fails
    its checksum or does not unpickle (the cache directory is the user's own: pickle is only as
    trustworthy as it is)."""
    try:
        blob = path.read_bytes()
    except OSError:
        return ABSENT
    body = blob[len(magic) + 32 :]
    if not blob.startswith(magic) or blob[len(magic) : len(magic) + 32] != hashlib.sha256(body).digest():
        return None
    import pickle

    try:
        return pickle.loads(body)
    except Exception:  # any unpickling failure means a corrupt entry
        return None


def write_entry(path: Path, magic: bytes, value: object) -> bool:
    """Pickle value under a checksum, written to a temporary file and renamed into place
    (concurrent writers are safe: the last rename wins). False when it could not be written:
    a cache that cannot be written is only slower."""
    import pickle
    import tempfile

    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(magic + hashlib.sha256(body).digest() + body)
        os.replace(tmp, path)
    except OSError:
        return False
    return True


def unusable_cache_dir(directory: Path) -> str | None:
    """Why the cache cannot live in directory (a file there, no permission), or None."""
    if directory.exists() and not directory.is_dir():
        return "not a directory"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        import tempfile

        fd, probe = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        return (err.strerror or str(err)).lower()
    return None
