"""The package's own TOML files (rules, knowledge base), read without parsing TOML when it can.

Importing tomllib and parsing the rule files took a sixth of the start-up of a small run
(68 M of 392 M instructions). A wheel therefore carries, beside the files, each one parsed
when the wheel was built (BUNDLE, written by scripts/hatch_build.py with bundle()). An entry is
used only for the file it was made from: same directory, same name, same size and CRC-32
of its bytes. Anything else (a checkout, another directory, an edited file) is parsed as
TOML, with tomllib's errors.
"""

from __future__ import annotations

import marshal
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Any

BUNDLE = "parsed.marshal"
_FORMAT = ("vdpa-lint toml bundle", 1)


def _text(data: bytes) -> str:
    """data as Path.read_text(encoding="utf-8") gives it: UTF-8, universal newlines."""
    text = data.decode("utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def parse(data: bytes) -> dict[str, Any]:
    import tomllib

    return tomllib.loads(_text(data))


@lru_cache(maxsize=4)
def _entries(directory: Path) -> dict[str, tuple[int, int, bytes]]:
    try:
        stored = marshal.loads((directory / BUNDLE).read_bytes())
        if stored[0] != _FORMAT:
            return {}
        return dict(stored[1])
    except (OSError, EOFError, ValueError, TypeError, IndexError, KeyError):
        return {}


def load(path: Path) -> dict[str, Any]:
    """The TOML file's data. Raises OSError, UnicodeDecodeError or tomllib.TOMLDecodeError
    (a ValueError), as reading and parsing it would."""
    data = path.read_bytes()
    entry = _entries(path.parent).get(path.name)
    if entry is not None and entry[0] == len(data) and entry[1] == zlib.crc32(data):
        try:
            loaded: dict[str, Any] = marshal.loads(entry[2])  # a fresh copy for every caller
        except (EOFError, ValueError, TypeError, IndexError):  # a damaged entry: parse the file
            return parse(data)
        if isinstance(loaded, dict):
            return loaded
    return parse(data)


def bundle(directory: Path) -> bytes:
    """Every *.toml file of directory parsed, for BUNDLE (a file marshal cannot hold, one
    with dates, is left out: it is parsed at run time)."""
    entries = {}
    for path in sorted(directory.glob("*.toml")):
        data = path.read_bytes()
        try:
            entries[path.name] = (len(data), zlib.crc32(data), marshal.dumps(parse(data)))
        except ValueError:  # unmarshallable values (TOMLDecodeError is one too: parsed at run time)
            continue
    return marshal.dumps((_FORMAT, entries))
