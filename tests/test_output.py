"""Where output goes: -o FILE through symlinks, FIFOs and devices; closed pipes; the cache
directory; usage errors in the options check, report and gate share."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, run_cli

DEMO = str(FIXTURES / "demo-kernel")
JSON = ("check", "--format", "json", "--fail-on", "never")


def _expected() -> str:
    return run_cli(*JSON, DEMO).stdout


def test_symlink_is_followed_and_its_target_written(tmp_path: Path) -> None:
    target = tmp_path / "real.json"
    target.write_text("old\n")
    target.chmod(0o640)
    (tmp_path / "link.json").symlink_to(target)
    assert run_cli(*JSON, "-o", str(tmp_path / "link.json"), DEMO).returncode == 0
    assert (tmp_path / "link.json").is_symlink()
    assert target.read_text() == _expected()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the file keeps its mode
    # a dangling link: its target is created
    (tmp_path / "new-link.json").symlink_to(tmp_path / "new.json")
    assert run_cli(*JSON, "-o", str(tmp_path / "new-link.json"), DEMO).returncode == 0
    assert (tmp_path / "new-link.json").is_symlink() and (tmp_path / "new.json").read_text() == _expected()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "link.json",
        "new-link.json",
        "new.json",
        "real.json",
    ]


def test_fifo_is_written_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    proc = run_cli(*JSON, "-o", str(fifo), DEMO)
    assert stat.S_ISFIFO(fifo.lstat().st_mode), "replaced"  # (the reader thread is a daemon)
    reader.join(timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert got == [_expected()]


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_device_node_is_written_not_replaced(tmp_path: Path) -> None:
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # our own /dev/null, in tmp_path
    assert run_cli(*JSON, "-o", str(null), DEMO).returncode == 0
    assert stat.S_ISCHR(null.lstat().st_mode)


def test_dev_stdout_is_standard_output() -> None:
    proc = run_cli(*JSON, "-o", "/dev/stdout", DEMO)
    assert proc.returncode == 0 and proc.stdout == _expected()


def test_dev_stdout_redirected_to_a_file_is_appended_to(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text("before\n")
    inode = log.stat().st_ino
    with log.open("a") as fh:
        proc = subprocess.run(
            [sys.executable, "-m", "analyzer", *JSON, "-o", "/dev/stdout", DEMO],
            stdout=fh,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            timeout=120,
        )
    assert proc.returncode == 0, proc.stderr
    assert log.stat().st_ino == inode and log.read_text() == "before\n" + _expected()


def test_write_errors_name_the_path_given(tmp_path: Path) -> None:
    (tmp_path / "adir").mkdir()
    proc = run_cli(*JSON, "-o", str(tmp_path / "adir"), DEMO)
    assert proc.returncode == 2
    assert proc.stderr == f"vdpa-lint: error: {tmp_path / 'adir'}: cannot write: Is a directory\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir"] and not any((tmp_path / "adir").iterdir())


class _ClosedPipe(io.StringIO):
    def write(self, s: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("args", [("rules",), ("check", DEMO), ("rules", "--format", "json")])
def test_closed_pipe_ends_quietly(args: tuple[str, ...], monkeypatch, capsys) -> None:
    from analyzer.cli import main

    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(list(args)) == 141
    assert capsys.readouterr().err == ""


def test_closed_pipe_smoke() -> None:
    """The real thing: a process whose reader has gone, as in `vdpa-lint check ... | head -1`."""
    for args in (["rules"], ["check", DEMO], ["--help"]):
        r, w = os.pipe()
        os.close(r)
        proc = subprocess.run(
            [sys.executable, "-m", "analyzer", *args], stdout=w, stderr=subprocess.PIPE, cwd=REPO, timeout=120
        )
        os.close(w)
        assert proc.stderr == b"", (args, proc.stderr)
        assert proc.returncode in (0, 141), args


@pytest.mark.parametrize("value", ["", ",", " , "])
def test_empty_selection_is_a_usage_error(value: str, tmp_path: Path) -> None:
    for command in (("check", DEMO), ("report", DEMO, "-o", str(tmp_path / "r.html"))):
        proc = run_cli(*command, "--select", value)
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr == (
            "vdpa-lint: error: --select needs at least one rule id or name (see 'vdpa-lint rules')\n"
        )


def test_unusable_cache_dir_warns_once_and_runs_uncached(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("not a directory\n")
    for where in (a_file, a_file / "below"):
        proc = run_cli(*JSON, "--cache-dir", str(where), DEMO)
        assert proc.returncode == 0 and json.loads(proc.stdout)["findings"]
        assert proc.stderr == (
            f"vdpa-lint: warning: facts cache {where}: not a directory; running without the cache\n"
        )
    assert a_file.read_text() == "not a directory\n"
