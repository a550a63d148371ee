"""Independent tasks on every core, by forking.

Workers are forked from the running process, so they start with everything it has read and
built so far and nothing is sent to them. What all of them need but none needs at once (the
tree's byte index: a worker first parses its own file) the parent computes after forking
and hands over (shared/adopt): a worker reads it when it first needs it. Workers pull
task numbers from one pipe, the order the tasks were given in (put the longest first), and
send each result back pickled, then one last value (what they learnt that the parent must
know). The parent works on the same tasks meanwhile. Whatever no worker delivered (the task
raised, a result would not pickle, the worker crashed or was killed) the parent then runs
itself, in task order, so the outcome, exceptions included, is the serial one.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_TASK = struct.Struct("<I")
_LENGTH = struct.Struct("<Q")
_FINAL = -1
# Every task number is written before the workers start: a pipe always holds one page.
MAX_TASKS = 4096 // _TASK.size


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity, as taskset and cgroups set it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _take(fd: int) -> int | None:
    """The next task number, or None when there are no more. Every record is written before
    any is read and all have one size, so a pipe read never splits one."""
    data = os.read(fd, _TASK.size)
    return _TASK.unpack(data)[0] if len(data) == _TASK.size else None


def _waiting(fd: int) -> int:
    """How many task numbers no process has taken yet."""
    try:
        import fcntl
        import termios

        left = bytearray(4)
        fcntl.ioctl(fd, termios.FIONREAD, left)
        return int.from_bytes(left, sys.byteorder) // _TASK.size
    except (ImportError, OSError):
        return 0


def _send(fd: int, number: int, value: object) -> None:
    try:
        body = pickle.dumps((number, value), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # not picklable: the parent runs the task again itself
        return
    view = memoryview(_LENGTH.pack(len(body)) + body)
    while view:
        view = view[os.write(fd, view) :]


def _receive(fd: int) -> list[tuple[int, Any]]:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    data, out, at = b"".join(chunks), [], 0
    while at + _LENGTH.size <= len(data):
        (size,) = _LENGTH.unpack_from(data, at)
        at += _LENGTH.size
        if at + size > len(data):
            break  # the worker died while writing: its last record is lost
        try:
            out.append(pickle.loads(data[at : at + size]))
        except Exception:
            break
        at += size
    return out


class _Handoff:
    """A value the parent computes after forking: pickled into an anonymous file, then one
    byte per worker on a pipe says it is there. A worker reads it when it first needs it."""

    def __init__(self) -> None:
        self.ready_r, self.ready_w = os.pipe()
        self.fd = _anonymous_file()
        self.value: list[Any] = []

    def publish(self, value: object, readers: int) -> None:
        body = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
        data = memoryview(_LENGTH.pack(len(body)) + body)
        at = 0
        while at < len(data):
            at += os.pwrite(self.fd, data[at:], at)
        os.write(self.ready_w, b"\1" * readers)
        self.close_writer()

    def close_writer(self) -> None:
        if self.ready_w != -1:
            os.close(self.ready_w)
            self.ready_w = -1

    def ready(self) -> bool:  # pragma: no cover - runs in the forked worker
        """Whether fetch() would not wait."""
        import select

        return bool(self.value) or bool(select.select([self.ready_r], [], [], 0)[0])

    def fetch(self) -> Any:  # pragma: no cover - runs in the forked worker
        if not self.value:
            if os.read(self.ready_r, 1) != b"\1":
                raise RuntimeError("the parent process could not compute what the workers share")
            (size,) = _LENGTH.unpack(os.pread(self.fd, _LENGTH.size, 0))
            chunks, at = [], _LENGTH.size
            while at < _LENGTH.size + size:
                chunk = os.pread(self.fd, _LENGTH.size + size - at, at)
                if not chunk:
                    raise RuntimeError("what the workers share was cut short")
                chunks.append(chunk)
                at += len(chunk)
            self.value.append(pickle.loads(b"".join(chunks)))
        return self.value[0]

    def close(self) -> None:
        self.close_writer()
        os.close(self.ready_r)
        os.close(self.fd)


def _anonymous_file() -> int:
    if hasattr(os, "memfd_create"):
        return os.memfd_create("vdpa-lint-shared", getattr(os, "MFD_CLOEXEC", 0))
    import tempfile

    with tempfile.TemporaryFile() as fh:
        return os.dup(fh.fileno())


def fork_map(
    tasks: Sequence[T],
    run: Callable[[T], R],
    workers: int,
    final: Callable[[], Any] = lambda: None,
    in_worker: Callable[[], None] = lambda: None,
    progress: Callable[[int, int], None] = lambda started, total: None,
    shared: Callable[[], Any] | None = None,
    adopt: Callable[[Callable[[], Any], Callable[[], bool]], None] = lambda fetch, ready: None,
) -> tuple[list[R], list[Any]]:
    """run(task) for every task, on `workers` processes (this one included). Returns the
    results in task order and the final() value of every forked worker that finished.
    in_worker() runs first in each forked worker (silence progress output there);
    progress(started, total) is called here as tasks are taken by any process. shared(),
    when given, runs here once the workers are forked; each worker is handed adopt(fetch, ready),
    and fetch() returns shared()'s value (waiting for it) in the worker. Without workers,
    shared() runs before the tasks."""
    done: dict[int, R] = {}
    finals: list[Any] = []
    children: list[tuple[int, int]] = []  # (pid, read end of its results)
    if workers > 1 and 1 < len(tasks) <= MAX_TASKS and hasattr(os, "fork"):
        order_r, order_w = os.pipe()
        os.write(order_w, b"".join(_TASK.pack(n) for n in range(len(tasks))))
        handoff = _Handoff() if shared is not None else None
        try:
            for _ in range(min(workers, len(tasks)) - 1):
                out_r, out_w = os.pipe()
                pid = os.fork()
                if pid == 0:  # pragma: no cover - runs in the forked worker, reported through the pipe

                    def prepare() -> None:
                        in_worker()
                        if handoff is not None:
                            handoff.close_writer()
                            adopt(handoff.fetch, handoff.ready)

                    _work(tasks, run, final, prepare, order_r, order_w, out_r, out_w)
                os.close(out_w)
                children.append((pid, out_r))
            os.close(order_w)
            order_w = -1
            if handoff is not None and shared is not None:
                handoff.publish(shared(), len(children))
            while (n := _take(order_r)) is not None:
                progress(len(tasks) - _waiting(order_r), len(tasks))
                try:
                    done[n] = run(tasks[n])
                except Exception:
                    continue  # run again below, in order, where it raises as it would serially
            for _pid, out_r in children:
                for number, value in _receive(out_r):
                    if number == _FINAL:
                        finals.append(value)
                    else:
                        done[number] = value
        finally:
            if order_w != -1:
                os.close(order_w)
            os.close(order_r)
            if handoff is not None:
                handoff.close()
            for pid, out_r in children:
                os.close(out_r)
                with contextlib.suppress(OSError):  # a finished worker is a zombie: no harm
                    os.kill(pid, signal.SIGKILL)  # an interrupted run stops the others
                os.waitpid(pid, 0)
    elif shared is not None:
        shared()
    for n, task in enumerate(tasks):
        if n not in done:
            if not children:  # a serial run; after workers, these are the tasks they left
                progress(n + 1, len(tasks))
            done[n] = run(task)
    progress(len(tasks), len(tasks))
    return [done[n] for n in range(len(tasks))], finals


def _work(
    tasks: Sequence[T],
    run: Callable[[T], R],
    final: Callable[[], Any],
    in_worker: Callable[[], None],
    order_r: int,
    order_w: int,
    out_r: int,
    out_w: int,
) -> None:  # pragma: no cover - runs in the forked worker
    try:
        os.close(order_w)
        os.close(out_r)
        in_worker()
        while (n := _take(order_r)) is not None:
            try:
                value = run(tasks[n])
            except Exception:
                break  # the parent runs it again and raises what the serial run would
            _send(out_w, n, value)
        _send(out_w, _FINAL, final())
    finally:
        os._exit(0)
