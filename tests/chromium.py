"""Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe):
one browser per test renders a page at several widths, reads its layout with script run by
the protocol (the page itself has none) and takes screenshots. No websocket, no extra package:
messages are JSON, NUL-terminated, on file descriptors 3 (to the browser) and 4 (from it)."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
from pathlib import Path
from typing import Any

TIMEOUT = 120  # seconds without a word from the browser: fail, do not hang
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]


class Browser:
    def __init__(self, profile: Path) -> None:
        exe = shutil.which("chromium")
        assert exe, "chromium is missing: scripts/install-test-deps installs it"
        to_r, self._to = os.pipe()
        self._from, from_w = os.pipe()

        def fds() -> None:  # the browser reads commands on 3 and writes answers on 4
            # copies above 10 first, so neither dup2 overwrites the other's source
            high_r, high_w = fcntl.fcntl(to_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)  # dup2 leaves them inheritable; the pipes' own ends close on exec
            os.dup2(high_w, 4)

        self.proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            close_fds=False,
            preexec_fn=fds,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_r)
        os.close(from_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable", session=True)

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buf:
            ready, _, _ = select.select([self._from], [], [], TIMEOUT)
            assert ready, f"chromium said nothing for {TIMEOUT} s"
            chunk = os.read(self._from, 1 << 16)
            assert chunk, "chromium closed the pipe"
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, session: bool = False, **params: Any) -> dict[str, Any]:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self._id:
                assert "error" not in answer, (method, answer["error"])
                result: dict[str, Any] = answer.get("result", {})
                return result
            self.events.append(answer)

    def _wait(self, event: str) -> None:
        while not any(e.get("method") == event for e in self.events):
            self.events.append(self._read())
        self.events.clear()

    def open(self, url: str, width: int, height: int) -> None:
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.events.clear()
        if "loaderId" in self.call("Page.navigate", session=True, url=url):
            self._wait("Page.loadEventFired")  # a new document (a #fragment of the same one has no load)

    def evaluate(self, expression: str) -> Any:
        answer = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        assert "exceptionDetails" not in answer, answer["exceptionDetails"]
        return answer["result"].get("value")

    def screenshot(self, path: Path, width: int, height: int) -> None:
        """The page from its top, width x height (taller than the window: the whole page)."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.evaluate("window.scrollTo(0, 0)")
        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        with contextlib.suppress(AssertionError):  # it may close the pipe before it answers
            self.call("Browser.close")
        os.close(self._to)
        os.close(self._from)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
