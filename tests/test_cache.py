"""The on-disk facts cache: same verdicts, safe against corruption and concurrent writers."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import FIXTURES, REPO, run_cli

from analyzer.cache import FactsCache, default_dir, freeze
from analyzer.engine import analyse
from analyzer.extract import extract
from analyzer.rulebook import load_rules

RULES = load_rules()
TREES = [
    FIXTURES / "demo-kernel",
    FIXTURES / "reset-guards",
    FIXTURES / "kernel-idioms",
    FIXTURES / "table-rules",
]


def _key(result) -> list:
    return [(f.rule_id, f.path, f.line, f.message, f.trace) for f in result.findings] + [
        (d.table, d.obligations) for d in result.drivers
    ]


def test_cached_facts_give_the_same_verdicts(tmp_path: Path) -> None:
    for tree in TREES:
        where = tmp_path / tree.name  # trees share identical headers: one cache each, to count
        cold_cache = FactsCache(where)
        cold = analyse([str(tree)], RULES, set(RULES), cache=cold_cache)
        assert cold_cache.hits == 0 and cold_cache.misses > 0
        # the table groups' results are stored: a warm run reuses them and misses no facts
        warm_cache = FactsCache(where)
        warm = analyse([str(tree)], RULES, set(RULES), cache=warm_cache)
        assert warm_cache.misses == 0
        # without the stored results, every file's facts come from the cache
        shutil.rmtree(where / "results")
        facts_only = FactsCache(where)
        again = analyse([str(tree)], RULES, set(RULES), cache=facts_only)
        assert facts_only.misses == 0 and facts_only.hits == cold_cache.misses
        assert _key(warm) == _key(cold) == _key(again) == _key(analyse([str(tree)], RULES, set(RULES)))


def test_stored_results_follow_an_edited_callee(tmp_path: Path) -> None:
    """A table's stored result is reused only while every file its analysis read is unchanged:
    an edit in another file of the driver (the callee that clears) changes the verdict."""
    tree = tmp_path / "tree"
    shutil.copytree(FIXTURES / "demo-kernel", tree)
    cache = tmp_path / "cache"
    first = analyse([str(tree)], RULES, set(RULES), cache=FactsCache(cache))
    assert [f.rule_id for f in first.findings if f.rule_id == "VDPA001"] == ["VDPA001"]
    mr = tree / "drivers/vdpa/legacy_vdpa/legacy_mr.c"
    mr.write_text(
        mr.read_text().replace(
            "vhost_iotlb_del_range(ld->iotlb, 0, ULLONG_MAX); /* expect", "/* gone */ (void)ld; /* expect"
        )
    )
    second = analyse([str(tree)], RULES, set(RULES), cache=FactsCache(cache))
    uncached = analyse([str(tree)], RULES, set(RULES))
    assert _key(second) == _key(uncached)
    assert "VDPA001" not in [f.rule_id for f in second.findings]


def test_frozen_facts_keep_every_body() -> None:
    path = FIXTURES / "reset-guards" / "drivers" / "vdpa" / "guards" / "guards.c"
    facts = extract("guards.c", path.read_bytes())
    frozen = freeze(facts)
    assert [f.cfg for f in frozen.functions] == [f.cfg for f in facts.functions]
    assert [m.cfg for m in frozen.macros] == [m.cfg for m in facts.macros]
    assert any(e[0] == "call" for n in frozen.functions_by_name["gd_or_compat"].cfg.nodes for e in n.events)


def test_corrupt_and_truncated_entries_are_misses(tmp_path: Path) -> None:
    tree = FIXTURES / "demo-kernel"
    analyse([str(tree)], RULES, set(RULES), cache=FactsCache(tmp_path / "c"))
    others = ("results", "trees", "index")  # stored results, the tree index, the byte index memo
    cache_dir = tmp_path / "c"
    facts = sorted(
        p for p in cache_dir.rglob("*") if p.is_file() and p.relative_to(cache_dir).parts[0] not in others
    )
    entries = sorted(p for p in (tmp_path / "c").rglob("*") if p.is_file())
    assert facts and len(entries) > len(facts)  # stored results too
    for n, p in enumerate(entries):
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 2] if n % 2 else data[:-10] + b"garbage!!!")
    cache = FactsCache(tmp_path / "c")
    result = analyse([str(tree)], RULES, set(RULES), cache=cache)
    assert cache.hits == 0 and cache.misses == len(facts)  # corrupt results are misses too
    assert _key(result) == _key(analyse([str(tree)], RULES, set(RULES)))
    shutil.rmtree(tmp_path / "c" / "results")
    again = FactsCache(tmp_path / "c")
    analyse([str(tree)], RULES, set(RULES), cache=again)
    assert again.hits == len(facts)  # rewritten whole


def test_concurrent_runs_share_a_cache(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "analyzer",
        "check",
        "--format",
        "json",
        "--fail-on",
        "never",
        "--cache-dir",
        str(tmp_path / "c"),
    ]
    procs = [
        subprocess.Popen([*cmd, str(t)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
        for t in TREES * 2
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    for k in range(len(TREES)):
        assert outs[k][0] == outs[k + len(TREES)][0]
    assert not [p for p in (tmp_path / "c").rglob(".tmp-*")]  # no half-written entry left


def test_no_cache_writes_nothing(tmp_path: Path) -> None:
    proc = run_cli("check", "--no-cache", "--cache-dir", str(tmp_path / "c"), str(FIXTURES / "demo-kernel"))
    assert proc.returncode == 1 and not (tmp_path / "c").exists()
    proc = run_cli("check", "--cache-dir", str(tmp_path / "c"), str(FIXTURES / "demo-kernel"))
    assert proc.returncode == 1 and any((tmp_path / "c").rglob("*"))


def test_cache_location_follows_xdg(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("VDPA_LINT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_dir() == tmp_path / "xdg" / "vdpa-lint" / "facts"
    monkeypatch.setenv("VDPA_LINT_CACHE_DIR", str(tmp_path / "mine"))
    assert default_dir() == tmp_path / "mine"


def test_stored_results_depend_on_the_api_header_even_when_absent(tmp_path: Path) -> None:
    """A result stored for a tree without vdpa.h (the 6.7 API assumed) must not be reused for the
    same driver in a tree whose vdpa.h predates .compat_reset (VDPA002 does not apply there)."""
    cache = tmp_path / "cache"
    bare = tmp_path / "bare"
    shutil.copytree(FIXTURES / "demo-kernel" / "drivers", bare / "drivers")
    assumed = analyse([str(bare / "drivers")], RULES, set(RULES), cache=FactsCache(cache))
    assert "VDPA002" in [f.rule_id for f in assumed.findings]
    old = tmp_path / "old"
    shutil.copytree(bare, old)
    (old / "include" / "linux").mkdir(parents=True)
    shutil.copy(FIXTURES / "api" / "linux-6.1" / "include" / "linux" / "vdpa.h", old / "include/linux/vdpa.h")
    shutil.move(str(bare), str(tmp_path / "gone"))  # the same paths, now under an old API
    shutil.move(str(old), str(bare))
    judged = analyse([str(bare / "drivers")], RULES, set(RULES), cache=FactsCache(cache))
    assert "VDPA002" not in [f.rule_id for f in judged.findings]
    assert _key(judged) == _key(analyse([str(bare / "drivers")], RULES, set(RULES)))


def test_index_memo_serves_unchanged_files_and_rereads_edited_ones(tmp_path: Path) -> None:
    import os
    import time

    from analyzer.indexmemo import IndexMemo

    root = tmp_path / "tree"
    root.mkdir()
    old = root / "old.c"
    old.write_text("int old_fn(void)\n{\n\treturn 0;\n}\n")
    past = time.time_ns() - 10_000_000_000
    os.utime(old, ns=(past, past))
    fresh = root / "fresh.c"
    fresh.write_text("int fresh_fn(void);\n")
    memo = IndexMemo(tmp_path / "cache", root)
    memo.put("old.c", ("old entry",))
    memo.put("fresh.c", ("fresh entry",))  # written just now: not trusted, not kept
    memo.save()
    again = IndexMemo(tmp_path / "cache", root)
    assert again.get("old.c") == ("old entry",)
    assert again.get("fresh.c") is None
    old.write_text("int old_fn(void)\n{\n\treturn 1; /* edited */\n}\n")
    assert again.get("old.c") is None  # size and mtime changed: read again


def test_the_cache_key_covers_every_module_extraction_runs() -> None:
    """An edit to any module extract() imports, directly or not, must change the key."""
    import ast

    from analyzer import cache

    package = REPO / "analyzer"
    listed = set(cache._EXTRACTOR_MODULES)
    todo, seen = ["extract.py"], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in ast.walk(ast.parse((package / name).read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("analyzer."):
                todo.append(node.module.removeprefix("analyzer.").replace(".", "/") + ".py")
    assert seen <= listed, sorted(seen - listed)
