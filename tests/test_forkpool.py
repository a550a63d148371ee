"""Tables analysed on several processes: the same results as one process, whatever a worker does."""

from __future__ import annotations

import json
import os
import select

import pytest
from conftest import FIXTURES

from analyzer.engine import analyse
from analyzer.forkpool import fork_map
from analyzer.formats import formatter
from analyzer.rulebook import load_rules

RULES = load_rules()
PARENT = os.getpid()


def _in_worker() -> bool:
    return os.getpid() != PARENT


def test_results_come_back_in_task_order_from_every_worker() -> None:
    seen: list[int] = []
    started_r, started_w = os.pipe()

    def run(n: int) -> tuple[int, int]:
        if _in_worker():
            os.write(started_w, b"w")
        elif not seen:  # a loaded machine may start the workers late: the parent waits for one
            select.select([started_r], [], [], 60)
        seen.append(n)  # only this process's own tasks land here
        return n * n, os.getpid()

    try:
        results, finals = fork_map(list(range(40)), run, 3, final=lambda: "done")
    finally:
        os.close(started_r)
        os.close(started_w)
    assert [r for r, _ in results] == [n * n for n in range(40)]
    assert finals == ["done", "done"]  # one per forked worker
    assert len(seen) < 40  # the workers took some
    assert {pid for _, pid in results} - {PARENT}


def test_a_task_that_raises_in_a_worker_raises_here_as_it_would_serially() -> None:
    def run(n: int) -> int:
        if n == 5:
            raise ValueError(f"task {n} in {'a worker' if _in_worker() else 'the parent'}")
        return n

    with pytest.raises(ValueError, match="task 5 in the parent"):
        fork_map(list(range(12)), run, 2)


def test_a_worker_that_dies_leaves_its_tasks_to_the_parent() -> None:
    def run(n: int) -> int:
        if _in_worker() and n % 2:
            os._exit(3)  # a crash (or the OOM killer) in the middle of a task
        return -n

    results, finals = fork_map(list(range(10)), run, 2)
    assert len(finals) <= 1  # the worker died before its last word
    assert results == [-n for n in range(10)]


def test_a_result_that_does_not_pickle_is_computed_again_here() -> None:
    def run(n: int) -> object:
        return (lambda: n) if _in_worker() else n  # a lambda does not pickle

    results, _ = fork_map(list(range(6)), run, 2)
    assert results == list(range(6))


def test_one_worker_or_one_task_runs_here_only() -> None:
    pids: set[int] = set()

    def run(n: int) -> int:
        pids.add(os.getpid())
        return n

    assert fork_map([1, 2, 3], run, 1) == ([1, 2, 3], [])
    assert fork_map([7], run, 4) == ([7], [])
    assert pids == {PARENT}


def _report(path: str, jobs: int) -> dict:
    result = analyse([path], RULES, set(RULES), jobs=jobs)
    return json.loads(formatter("json", False)(result, RULES))


@pytest.mark.parametrize("tree", sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()))
def test_fixture_trees_judged_the_same_on_one_process_and_on_three(tree: str) -> None:
    assert _report(str(FIXTURES / tree), 3) == _report(str(FIXTURES / tree), 1)


def test_a_worker_waiting_for_the_shared_index_parses_its_drivers_files_ahead_unregistered() -> None:
    from analyzer.extract import extract
    from analyzer.index import TreeIndex
    from analyzer.source import scan

    tree = FIXTURES / "demo-kernel"
    index = TreeIndex(scan([str(tree)]))
    index.facts("drivers/vdpa/legacy_vdpa/legacy_main.c")  # a table file this process took
    registered = set(index._globals)
    polls = []
    index._parse_ahead(lambda: bool(polls.append(1)) and False)  # never ready: parse them all
    assert set(index._ahead) == {"drivers/vdpa/legacy_vdpa/legacy_mr.c"}  # its driver's other file
    assert set(index._globals) == registered  # resolution sees nothing it would not see without it
    ahead = index._ahead["drivers/vdpa/legacy_vdpa/legacy_mr.c"]
    assert index.facts("drivers/vdpa/legacy_vdpa/legacy_mr.c") is ahead and not index._ahead
    raw = (tree / "drivers/vdpa/legacy_vdpa/legacy_mr.c").read_bytes()
    assert ahead == extract("drivers/vdpa/legacy_vdpa/legacy_mr.c", raw)
    # Ready at once: nothing is parsed ahead.
    fresh = TreeIndex(scan([str(tree)]))
    fresh.facts("drivers/vdpa/legacy_vdpa/legacy_main.c")
    fresh._parse_ahead(lambda: True)
    assert fresh._ahead == {}
