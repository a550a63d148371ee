"""The per-tree cache of directory listings and the byte prefilter (analyzer/treecache.py):
unchanged files are not read again, and an edited, added or deleted file is always seen."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from conftest import FIXTURES

import analyzer.index
from analyzer.engine import analyse
from analyzer.rulebook import load_rules

LEGACY_MAIN = "drivers/vdpa/legacy_vdpa/legacy_main.c"
LEGACY_MR = "drivers/vdpa/legacy_vdpa/legacy_mr.c"
GOOD = "drivers/vdpa/good_vdpa/good_main.c"


def _age(tree: Path, seconds: int = 3600) -> None:
    """Every file and directory older than the cache's racy window."""
    for p in [tree, *tree.rglob("*")]:
        _age_one(p, seconds)


def _age_one(path: Path, seconds: int = 3600) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past), follow_symlinks=False)


@pytest.fixture
def big(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, list[list[str]]]:
    """The demo tree, treated as a whole kernel (the cache is for large trees only); the
    files each run reads to look for ops tables are recorded."""
    tree = Path(shutil.copytree(FIXTURES / "demo-kernel", tmp_path / "tree", symlinks=False))
    for n in range(5):  # files that never mention an ops table
        (tree / "lib" / f"d{n}").mkdir(parents=True)
        (tree / "lib" / f"d{n}" / "util.c").write_text(f"int util{n}(void) {{ return {n}; }}\n")
    _age(tree)
    monkeypatch.setattr("analyzer.source.MIN_FILES", 1)
    reads: list[list[str]] = []
    real = analyzer.index.files_mentioning

    def spy(root: str, needle: bytes, files: list[str]) -> list[str]:
        reads.append(sorted(files))
        return real(root, needle, files)

    monkeypatch.setattr("analyzer.index.files_mentioning", spy)
    return tree, tmp_path / "cache", reads


def _run(tree: Path, cache_dir: Path) -> list[tuple[str, str, int]]:
    from analyzer.cache import FactsCache

    rules = load_rules()
    result = analyse([str(tree)], rules, set(rules), cache=FactsCache(cache_dir))
    return [(f.rule_id, f.path, f.line) for f in result.findings]


DEMO_FINDINGS = [("VDPA002", LEGACY_MAIN, 29), ("VDPA005", LEGACY_MAIN, 29), ("VDPA001", LEGACY_MR, 7)]


def test_unchanged_files_are_not_read_again(big: tuple[Path, Path, list[list[str]]]) -> None:
    tree, cache_dir, reads = big
    assert _run(tree, cache_dir) == DEMO_FINDINGS
    assert len(reads[0]) == 11  # cold: every file
    assert list((cache_dir / "trees").iterdir())
    reads.clear()
    assert _run(tree, cache_dir) == DEMO_FINDINGS
    assert reads == []  # warm: none


def test_edited_added_and_deleted_files_are_seen(big: tuple[Path, Path, list[list[str]]]) -> None:
    tree, cache_dir, reads = big
    assert _run(tree, cache_dir) == DEMO_FINDINGS
    # Edited: the legacy table goes; only that file is read again.
    main = tree / LEGACY_MAIN
    main.write_text(
        main.read_text().replace("struct vdpa_config_ops legacy_ops", "struct vdpa_confix_ops legacy_ops")
    )
    _age_one(main, 1800)
    reads.clear()
    assert _run(tree, cache_dir) == []
    assert reads == [[LEGACY_MAIN]]
    # Added: a file naming a table in a directory that was listed before.
    added = tree / "lib/d1/late_vdpa.c"
    added.write_text((tree / LEGACY_MAIN).read_text().replace("vdpa_confix_ops", "vdpa_config_ops"))
    reads.clear()
    found = _run(tree, cache_dir)  # not aged: a change just now must be seen too
    assert ("VDPA005", "lib/d1/late_vdpa.c", 29) in found  # its table is seen
    assert reads == [["lib/d1/late_vdpa.c"]]
    # Deleted: its findings go with it.
    added.unlink()
    reads.clear()
    assert _run(tree, cache_dir) == []
    # Replaced by another file of the same size and time (a new inode): read again.
    _age(tree, 900)
    _run(tree, cache_dir)
    st = main.stat()
    other = tree / "lib/new.c"
    other.write_text(main.read_text().replace("vdpa_confix_ops", "vdpa_config_ops"))
    os.replace(other, main)
    os.utime(main, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert main.stat().st_size == st.st_size and main.stat().st_ino != st.st_ino
    reads.clear()
    assert _run(tree, cache_dir) == DEMO_FINDINGS
    assert reads == [[LEGACY_MAIN]]


def test_racy_changes_are_read_every_time(big: tuple[Path, Path, list[list[str]]]) -> None:
    tree, cache_dir, reads = big
    good = tree / GOOD
    _run(tree, cache_dir)
    good.write_text(good.read_text() + "/* touched */\n")  # mtime: now
    for _ in range(2):
        reads.clear()
        _run(tree, cache_dir)
        assert reads == [[GOOD]]  # too new to trust its identity next time


def test_a_corrupt_cache_is_ignored_and_rewritten(big: tuple[Path, Path, list[list[str]]]) -> None:
    tree, cache_dir, reads = big
    _run(tree, cache_dir)
    (entry,) = (cache_dir / "trees").iterdir()
    entry.write_bytes(b"VDPALINT-TREE-2garbage")
    reads.clear()
    assert _run(tree, cache_dir) == DEMO_FINDINGS
    assert len(reads[0]) == 11
    reads.clear()
    assert _run(tree, cache_dir) == DEMO_FINDINGS
    assert reads == []


def test_small_trees_keep_no_cache(tmp_path: Path) -> None:
    assert _run(FIXTURES / "demo-kernel", tmp_path / "cache") == DEMO_FINDINGS
    assert not (tmp_path / "cache" / "trees").exists()
