"""Every fixture tree produces exactly the findings its annotations name: rule id, path and line."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from annotations import read_expectations
from conftest import FIXTURES

from analyzer.engine import analyse
from analyzer.extract import extract
from analyzer.rulebook import load_rules

TREES = sorted(p for p in FIXTURES.iterdir() if p.is_dir() and p.name != "api")


@pytest.mark.parametrize("tree", TREES, ids=lambda p: p.name)
def test_fixture_findings_exact(tree: Path) -> None:
    exp = read_expectations(tree)
    rules = load_rules()
    result = analyse([str(tree)], rules, set(rules))
    actual = Counter((f.rule_id, f.path, f.line) for f in result.findings)
    expected = Counter({k: n for k, n in exp.expect.items() if k not in exp.todo})
    for key in exp.todo:
        actual.pop(key, None)
    missing = expected - actual
    unexpected = actual - expected
    assert not missing and not unexpected, (
        f"missing: {sorted(missing.elements())}\nunexpected: {sorted(unexpected.elements())}"
    )
    hit = {(f.rule_id, f.path, f.line) for f in result.findings}
    assert not (exp.ok & hit), f"fired where annotated ok: {sorted(exp.ok & hit)}"


@pytest.mark.parametrize("tree", TREES, ids=lambda p: p.name)
def test_fixture_parses_cleanly(tree: Path) -> None:
    """Strict in tests: a parse gap fails unless the fixture declares it."""
    exp = read_expectations(tree)
    for path in sorted(tree.rglob("*.[ch]")):
        rel = path.relative_to(tree).as_posix()
        data = path.read_bytes()
        if b"\0" in data:
            continue  # the binary-file fixture: never parsed
        facts = extract(rel, data)
        gaps = {(rel, line) for fn in facts.functions for line in fn.gap_lines}
        gaps |= {(rel, line) for t in facts.tables for line in t.gap_lines}
        undeclared = gaps - exp.parse_gaps
        assert not undeclared, f"undeclared parse gaps: {sorted(undeclared)}"


def test_every_rule_has_firing_and_silent_fixtures() -> None:
    fired: set[str] = set()
    silent: set[str] = set()
    for tree in TREES:
        exp = read_expectations(tree)
        fired |= {k[0] for k in exp.expect}
        silent |= {k[0] for k in exp.ok}
    check_rules = {r.id for r in load_rules().values() if r.scope == "check"}
    assert check_rules <= fired, f"no firing fixture for {sorted(check_rules - fired)}"
    assert check_rules <= silent, f"no silent fixture for {sorted(check_rules - silent)}"
