"""Writing a report where -o FILE says (SPEC §4: never a half-written or clobbered file).

A regular file, or a name that does not exist yet, gets a temporary file in its directory
renamed over it, so readers never see half a report. Anything else is opened and written
through: a FIFO, a terminal or another device node, /dev/stdout. A symlink is followed and
its target written (the link stays a link). Errors name the path the user gave.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

# Names of standard output: written to it directly (an append-mode redirection stays one).
_STDOUT = ("-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1")


class OutputError(Exception):
    """The report could not be written where the user asked."""


def write_output(path: str, data: str) -> None:
    try:
        _write(path, data)
    except OSError as err:
        raise OutputError(f"{path}: cannot write: {err.strerror or err}") from None


def _write(path: str, data: str) -> None:
    if path in _STDOUT:
        sys.stdout.write(data)
        sys.stdout.flush()
        return
    target = Path(os.path.realpath(path))
    try:
        st: os.stat_result | None = target.stat()
    except FileNotFoundError:
        st = None
    special = os.path.abspath(path).startswith(("/dev/", "/proc/")) or str(target).startswith("/proc/")
    if special or (st is not None and not stat.S_ISREG(st.st_mode)):
        with open(path, "w", encoding="utf-8") as fh:  # a FIFO, a device: never replaced
            fh.write(data)
        return
    _replace(target, data, stat.S_IMODE(st.st_mode) if st is not None else None)


def _replace(target: Path, data: str, mode: int | None) -> None:
    """Write data to a temporary file beside target and rename it into place."""
    import tempfile  # only a run that writes a file pays for it

    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
        if mode is None:  # a new file: what open() would have made (mkstemp makes it 0600)
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
