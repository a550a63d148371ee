"""A progress line on stderr, for runs long enough to wonder about (a whole kernel tree).

Shown only when stderr is a terminal, CI is not set, and the run has lasted more than a
second; it rewrites one line and erases it when done, so logs and pipes never see it.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None, after: float | None = None) -> None:
        self.stream = stream or sys.stderr
        self.after = after if after is not None else float(os.environ.get("VDPA_LINT_PROGRESS_AFTER", "1.0"))
        self.enabled = self.stream.isatty() and not os.environ.get("CI")
        self.started = time.monotonic()
        self.shown = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled or time.monotonic() - self.started < self.after:
            return
        width = 24
        filled = width * done // total if total else width
        bar = "#" * filled + "." * (width - filled)
        self.stream.write(f"\r\033[Kvdpa-lint: {stage} [{bar}] {done}/{total}")
        self.stream.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.shown = False
