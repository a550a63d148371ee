"""The rule engine: from paths to a Result (files -> facts -> rules -> findings)."""

from __future__ import annotations

import time
from collections.abc import Collection

from analyzer.checks import CHECKS, DriverContext, Issue, driver_effects
from analyzer.effects import EffectWalker
from analyzer.facts import OpsTable
from analyzer.findings import DriverReport, Finding, Result, TableRef
from analyzer.index import TreeIndex, driver_name
from analyzer.knowledge import KnowledgeBase, load_knowledge
from analyzer.model import replay
from analyzer.rulebook import Rule
from analyzer.source import InputError, scan

# VDPA000 runs last: the other checks record the definitions they could not find.
_ORDER = [*sorted(r for r in CHECKS if r != "VDPA000"), "VDPA000"]


def _conditional_ops(table: OpsTable, index: TreeIndex) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in table.entries:
        if e.conditional:
            out[e.op] = f"chosen when the kernel is built: {e.value_text}"
    facts = index.facts(table.path)
    for c in facts.runtime_clears if facts else ():
        if c.table == table.name:
            out[c.op] = f"set to NULL at run time in {c.function}() at {c.path}:{c.line}"
    return out


def _driver_report(ctx: DriverContext, index: TreeIndex) -> DriverReport:
    table = ctx.table
    effects = driver_effects(ctx)
    ops = {e.op: e.function for e in table.entries if e.function is not None}
    locations = []
    for op, name in sorted(ops.items()):
        fn = index.resolve(name, table.path).function
        if fn is not None:
            locations.append((op, fn.path, fn.line))
    return DriverReport(
        driver_name(table.path),
        table,
        ops,
        tuple(sorted(ctx.conditional.items())),
        tuple(sorted(ctx.not_applicable.items())),
        replay(effects),
        tuple(locations),
        effects,
    )


def _source_lines(index: TreeIndex, findings: list[Finding]) -> dict[str, tuple[str, ...]]:
    paths = {f.path for f in findings} | {s.path for f in findings for s in f.trace}
    out: dict[str, tuple[str, ...]] = {}
    for path in sorted(paths):
        data = index.raw(path)
        if data is not None:
            out[path] = tuple(data.decode("utf-8", "replace").splitlines())
    return out


def _finding(rule: Rule, issue: Issue, table: OpsTable | None) -> Finding:
    return Finding(
        rule_id=rule.id,
        name=rule.name,
        severity=issue.severity or rule.severity,
        path=issue.path,
        line=issue.line,
        column=issue.column,
        message=issue.message,
        ops_table=TableRef(table.name, table.path, table.line) if table else None,
        trace=issue.trace,
        driver=driver_name(table.path if table else issue.path),
        confidence=rule.confidence,
    )


def analyse(
    paths: list[str],
    rules: dict[str, Rule],
    enabled: Collection[str],
    kb: KnowledgeBase | None = None,
) -> Result:
    """Check every vDPA ops table under paths. Raises InputError for unusable paths."""
    started = time.perf_counter()
    tree = scan(paths)
    index = TreeIndex(tree)
    walker = EffectWalker(index, kb or load_knowledge())
    tables, unreadable = index.ops_tables()
    for rel in tree.named_files:
        facts = index.facts(rel)
        if facts is not None and facts.gap_lines and not facts.functions and not facts.tables:
            raise InputError(f"{rel}: not C source (syntax errors from line {facts.gap_lines[0]} on)")
    findings: dict[tuple[object, ...], Finding] = {}
    drivers: list[DriverReport] = []
    for table in tables:
        ctx = DriverContext(table, index, walker, index.api, _conditional_ops(table, index))
        for rule_id in _ORDER:
            if rule_id not in rules:
                continue
            issues = CHECKS[rule_id](ctx)
            if rule_id not in enabled:
                continue
            for issue in issues:
                f = _finding(rules[rule_id], issue, table)
                findings.setdefault((f.rule_id, f.path, f.line, f.column, table.name, f.message), f)
        drivers.append(_driver_report(ctx, index))
    if "VDPA000" in enabled and "VDPA000" in rules:
        for problem in unreadable:
            issue = Issue(
                "VDPA000",
                problem.path,
                1,
                1,
                f"{problem.message}; the file may hold a vDPA ops table and was not analysed",
            )
            f = _finding(rules["VDPA000"], issue, None)
            findings.setdefault((f.rule_id, f.path, f.line, f.column, "", f.message), f)
    ordered = sorted(findings.values(), key=Finding.sort_key)
    drivers.sort(key=lambda d: (d.table.path, d.table.line))
    errors = tuple(sorted(index.problems.values(), key=lambda p: p.path))
    gaps = tuple(sorted((f.path, f.gap_lines) for f in index.parsed() if f.gap_lines))
    return Result(
        str(tree.root),
        index.api,
        tuple(drivers),
        tuple(ordered),
        errors,
        len(index.parsed()),
        gaps,
        _source_lines(index, ordered),
        time.perf_counter() - started,
    )
