"""The rule engine: from paths to a Result (files -> facts -> rules -> findings)."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import NamedTuple

from analyzer.cache import FactsCache
from analyzer.checks import CHECKS, binding_state, driver_effects
from analyzer.driver import DriverContext, Issue
from analyzer.facts import OpsTable
from analyzer.findings import DriverReport, Finding, Result, TableRef, Unfollowed
from analyzer.forkpool import available_cpus, fork_map
from analyzer.index import TreeIndex, driver_name
from analyzer.model import replay, verdict
from analyzer.resultcache import ResultCache
from analyzer.rulebook import Rule
from analyzer.semantics.kb import KnowledgeBase, load_knowledge
from analyzer.semantics.program import TreeProgram
from analyzer.source import API_HEADER, InputError, SourceProblem, scan
from analyzer.suppress import find_suppressions

# VDPA000 runs last: the other checks record the definitions they could not find.
_ORDER = [*sorted(r for r in CHECKS if r != "VDPA000"), "VDPA000"]


def _conditional_ops(table: OpsTable, index: TreeIndex) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in table.entries:
        if e.conditional:
            out[e.op] = f"chosen when the kernel is built: {e.value_text}"
    facts = index.facts(table.path)
    for c in facts.runtime_clears if facts else ():
        if c.table == table.base:
            to = f"the value of {c.value} (not followed)" if c.variable else c.value or "NULL"
            out[c.op] = f"set to {to} at run time in {c.function}() at {c.path}:{c.line}"
    for op in table.configured_ops:
        out[op] = table.configuration
    return out


UNFOLLOWED_PATHS = (
    ("reset", None),
    ("compat_reset", 0),
    ("compat_reset", "clean"),
    ("set_group_asid", None),
    ("reset_map", None),
    ("set_map", None),
    ("dma_map", None),
)


def _unfollowed(ctx: DriverContext) -> tuple[Unfollowed, ...]:
    out: dict[tuple[str, int, str], Unfollowed] = {}
    for op, flags in UNFOLLOWED_PATHS:
        if ctx.table.entry(op) is None:
            continue
        value = ctx.api.clean_map if flags == "clean" else flags
        for e in ctx.unfollowed(op, value if isinstance(value, int) else None):
            callee = e.site.callee.split(" (")[0]
            why = (
                e.why
                if e.kind != "extern"
                else f"{e.why}() has no body in the scanned tree and is passed the device"
            )
            out.setdefault(
                (e.site.path, e.site.line, callee), Unfollowed(op, e.site.path, e.site.line, callee, why)
            )
    return tuple(sorted(out.values(), key=lambda u: (u.path, u.line, u.callee)))


def _driver_report(ctx: DriverContext, index: TreeIndex, findings: tuple[Finding, ...]) -> DriverReport:
    table = ctx.table
    effects = driver_effects(ctx)
    ops = {e.op: e.function for e in table.entries if e.function is not None}
    locations = []
    for op, name in sorted(ops.items()):
        fn = index.resolve(name, table.path).function
        if fn is not None:
            locations.append((op, fn.path, fn.line))
    obligations = replay(effects)
    severities = {f.severity for f in findings if f.rule_id != "VDPA000"}
    if any(f.rule_id == "VDPA000" for f in findings):
        severities.add("unknown")
    return DriverReport(
        driver_name(table.path),
        table,
        ops,
        tuple(sorted(ctx.conditional.items())),
        tuple(sorted(ctx.not_applicable.items())),
        obligations,
        tuple(locations),
        effects,
        verdict(obligations, frozenset(severities)),
        _unfollowed(ctx),
    )


def _where(f: Finding, table: OpsTable) -> set[tuple[object, ...]]:
    """What makes two findings one: rule, severity, message (a configuration's name read as
    its table's) and place, the table's own line also read as "the table"."""
    what = (f.rule_id, f.severity, f.message.replace(table.name, table.base))
    out: set[tuple[object, ...]] = {(*what, f.path, f.line, f.column)}
    if (f.path, f.line, f.column) == (table.path, table.line, table.column):
        out.add((*what, f.path, "table"))
    return out


def _gaps_read(index: TreeIndex, read: set[str]) -> list[SourceProblem]:
    """Lines tree-sitter could not parse outside any function, in files the analysis read: a
    definition there would be missed (gaps inside an analysed function are VDPA000 findings)."""
    out = []
    parsed = index.parsed_paths()
    for rel in sorted(read):
        facts = index.facts(rel) if rel in parsed else None
        if facts is None or not facts.gap_lines:
            continue
        spans = [(f.line, f.end_line) for f in facts.functions]
        outside = [n for n in facts.gap_lines if not any(a <= n <= b for a, b in spans)]
        if outside:
            where = f"line {outside[0]}" if len(outside) == 1 else f"lines {outside[0]}-{outside[-1]}"
            lost = ", ".join(f"{name}() at line {line}" for name, line, _ in facts.lost)
            lost = f"; definitions lost: {lost}" if lost else ""
            out.append(SourceProblem(rel, f"could not parse {where} (outside any function analysed){lost}"))
    return out


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


class TableResult(NamedTuple):
    report: DriverReport
    findings: tuple[Finding, ...]
    touched: frozenset[str]  # files its analysis read
    names: frozenset[str]  # functions it looked up
    gaps: tuple[SourceProblem, ...] = ()  # lines not parsed, outside functions, in files it read


class Analysis:
    """One tree, analysed now and again after changes (the gate applies a patch, then
    calls refresh() with the files it touched). Facts of unchanged files are kept, and a
    table is analysed again only if a file its analysis read changed, or a changed file
    defines a name it looked up, or the tree's vdpa.h changed."""

    def __init__(
        self,
        paths: list[str],
        rules: dict[str, Rule],
        enabled: Collection[str],
        kb: KnowledgeBase | None = None,
        cache: FactsCache | None = None,
        jobs: int = 1,
    ) -> None:
        self.paths = paths
        self.jobs = jobs  # processes the tables are analysed on
        self.rules = rules
        self.enabled = set(enabled)
        self.kb = kb or load_knowledge()
        self.tree = scan(paths, cache.directory if cache else None)
        self.index = TreeIndex(self.tree, cache)
        # Results of whole table groups, beside the facts: a warm run re-validates instead of
        # re-summarising (the gate's intermediate states are never stored).
        self.results = ResultCache(cache.directory) if cache else None
        self.store_results = True
        self._tables: dict[tuple[str, str], TableResult] = {}
        self._worker_gaps: dict[str, tuple[int, ...]] = {}  # parse gaps of the files workers parsed
        self.analysed = self.reused = 0  # tables, over the session's runs

    def refresh(self, changed: set[str]) -> None:
        """Files (relative paths) changed, added or deleted since the last run."""
        names = set().union(*(self.index.defined_names(rel) for rel in changed))
        self.tree = scan(self.paths, self.index.cache.directory if self.index.cache else None)
        self.index.invalidate(self.tree, changed)
        names |= set().union(*(self.index.defined_names(rel) for rel in changed if self.index.raw(rel)))
        api = self.tree.api_header
        for key, tr in list(self._tables.items()):
            if tr.touched & changed or tr.names & names or (api is not None and api in changed):
                del self._tables[key]

    def _tables_of_file(self, tables: list[OpsTable]) -> list[TableResult]:
        """The tables of one file, analysed together: they share functions (vdpa_sim's two
        tables share .reset), so they share one walker and one set of dependencies."""
        self.analysed += len(tables)
        index = self.index
        index.touched, index.names = set(), set()
        program = TreeProgram(index, self.kb)
        done: list[tuple[DriverReport, tuple[Finding, ...]]] = []
        contexts = [DriverContext(t, index, program, index.api, _conditional_ops(t, index)) for t in tables]
        program.keep_writes(frozenset().union(*(binding_state(c) for c in contexts)))
        at: dict[str, set[tuple[object, ...]]] = {}  # table -> where its findings are
        for ctx in contexts:
            table = ctx.table
            findings: dict[tuple[object, ...], Finding] = {}
            for rule_id in _ORDER:
                if rule_id not in self.rules:
                    continue
                issues = CHECKS[rule_id](ctx)
                if rule_id not in self.enabled:
                    continue
                for issue in issues:
                    f = _finding(self.rules[rule_id], issue, table)
                    findings.setdefault((f.rule_id, f.path, f.line, f.column, f.message), f)
            everything = tuple(findings.values())
            at[table.name] = {w for f in everything for w in _where(f, table)}
            # A configuration reports what its table does not: the same finding (its table's
            # name for its own, its own line or the table's) is said once.
            said = at.get(table.configuration_of, set())
            kept = tuple(f for f in everything if said.isdisjoint(_where(f, table)))
            done.append((_driver_report(ctx, index, everything), kept))
        if self.tree.api_header:
            index.touched.add(self.tree.api_header)
        touched, names = frozenset(index.touched), frozenset(index.names)
        gaps = tuple(_gaps_read(index, set(touched)))
        results = [TableResult(report, findings, touched, names, gaps) for report, findings in done]
        self._store(tables, results)
        return results

    # -- results kept between runs (analyzer/resultcache.py) ----------------------------------
    def _result_key(self, tables: list[OpsTable]) -> list[str] | None:
        if self.results is None:
            return None
        api = self.tree.api_header or "(no vdpa.h: the 6.7 API assumed)"
        return [
            tables[0].path,
            *(t.name for t in tables),
            *sorted(self.enabled),
            self._digest(tables[0].path),
            api,
        ]

    def _digest(self, rel: str) -> str:
        """A dependency's digest ("" when it is not there); unchanged files are not read."""
        return self.index.digest(rel)

    def _stored(self, tables: list[OpsTable]) -> list[TableResult] | None:
        key = self._result_key(tables)
        if key is None or self.results is None:
            return None
        index = self.index
        value = self.results.get(key, self._digest, lambda name: tuple(index.definition_files_of(name)))
        if not isinstance(value, list) or len(value) != len(tables):
            return None
        if any(r.report.table != t for r, t in zip(value, tables, strict=True)):
            return None
        return value

    def _store(self, tables: list[OpsTable], results: list[TableResult]) -> None:
        key = self._result_key(tables)
        if key is None or self.results is None or not self.store_results:
            return
        index, first = self.index, results[0]
        # The API header is a dependency whether the tree has one or not (then it must stay absent).
        deps = sorted(first.touched | {API_HEADER})
        files = [(rel, self._digest(rel)) for rel in deps]
        names = [(n, tuple(index.definition_files_of(n))) for n in sorted(first.names)]
        self.results.put(key, results, files, names)

    def _known(self, rel: str) -> list[TableResult] | None:
        """The results of a file's tables without analysing them (kept from an earlier run of
        this session, or stored by an earlier process), or None."""
        if self.results is None and not self._tables:
            return None  # nothing to reuse: the file need not even be parsed here
        tables = list(self.index.tables_in(rel))
        if not tables:
            return []
        old = [self._tables.get((t.path, t.name)) for t in tables]
        if all(o is not None and o.report.table == t for o, t in zip(old, tables, strict=True)):
            self.reused += len(tables)
            return [o for o in old if o is not None]
        stored = self._stored(tables)
        if stored is not None:
            self.reused += len(tables)
        return stored

    def _analyse_file(self, rel: str) -> list[TableResult]:
        tables = list(self.index.tables_in(rel))
        return self._tables_of_file(tables) if tables else []

    def _analyse_files(self, files: list[str]) -> dict[str, list[TableResult]]:
        """Every file's table results: those known already, then the others analysed, on
        self.jobs processes when there are several files to share."""
        out: dict[str, list[TableResult]] = {}
        pending = []
        for rel in files:
            known = self._known(rel)
            if known is None:
                pending.append(rel)
            else:
                out[rel] = known
        index = self.index
        if pending:
            # The biggest files first: they take longest, and the others fill in around them.
            pending.sort(key=lambda rel: -len(index.raw(rel) or b""))
            before = self._counters()
            done, learnt = fork_map(
                pending,
                self._analyse_file,
                self.jobs,
                self._learnt(before),
                self._quiet,
                lambda started, total: index.progress("analysing drivers", started, total),
                index.shared,
                index.adopt,
            )
            for news in learnt:
                self._merge(news)
            out.update(zip(pending, done, strict=True))
        for results in out.values():
            for result in results:
                self._tables[(result.report.table.path, result.report.table.name)] = result
        return out

    # -- what a forked worker learnt that this process must know -----------------------------
    def _counters(self) -> tuple[int, ...]:
        facts, results = self.index.cache, self.results
        return (
            self.analysed,
            self.reused,
            facts.hits if facts else 0,
            facts.misses if facts else 0,
            results.hits if results else 0,
            results.misses if results else 0,
        )

    def _quiet(self) -> None:
        """A forked worker: no progress line, and the facts the parent has yet to store are
        the parent's to store."""
        self.index.progress = lambda stage, done, total: None
        self.index.store_cache(write=False)

    def _learnt(self, before: tuple[int, ...]) -> Callable[[], _Learnt]:
        def learnt() -> _Learnt:
            index = self.index
            index.store_cache(write=self.store_results, memo=False)
            return _Learnt(
                tuple(index.problems.values()),
                tuple((f.path, f.gap_lines) for f in index.parsed() if f.gap_lines),
                tuple(a - b for a, b in zip(self._counters(), before, strict=True)),
            )

        return learnt

    def _merge(self, news: _Learnt) -> None:
        for problem in news.problems:
            self.index.problems.setdefault(problem.path, problem)
        self._worker_gaps.update(news.parse_gaps)
        analysed, reused, fhits, fmisses, rhits, rmisses = news.counters
        self.analysed += analysed
        self.reused += reused
        if self.index.cache:
            self.index.cache.hits += fhits
            self.index.cache.misses += fmisses
        if self.results:
            self.results.hits += rhits
            self.results.misses += rmisses

    def run(self, store_cache: bool = True) -> Result:
        """Analyse the tree as it is now. store_cache=False leaves the facts of this state out
        of the on-disk cache (the gate's intermediate states are never seen again)."""
        started = time.perf_counter()
        self.store_results = store_cache
        self._worker_gaps = {}
        index = self.index
        files, unreadable = index.table_files()
        for rel in self.tree.named_files:
            facts = index.facts(rel)
            if facts is not None and facts.gap_lines and not facts.functions and not facts.tables:
                raise InputError(f"{rel}: not C source (syntax errors from line {facts.gap_lines[0]} on)")
        findings: list[Finding] = []
        drivers: list[DriverReport] = []
        read_gaps: set[SourceProblem] = set()
        depends: set[str] = set()
        for results in self._analyse_files(files).values():
            for tr in results:
                findings.extend(tr.findings)
                drivers.append(tr.report)
                read_gaps.update(tr.gaps)
                depends |= tr.touched | {tr.report.table.path}
        if "VDPA000" in self.enabled and "VDPA000" in self.rules:
            for problem in unreadable:
                message = f"{problem.message}; the file may hold a vDPA ops table and was not analysed"
                findings.append(
                    _finding(self.rules["VDPA000"], Issue("VDPA000", problem.path, 1, 1, message), None)
                )
        ordered = sorted(findings, key=Finding.sort_key)
        drivers.sort(key=lambda d: (d.table.path, d.table.line))
        errors = tuple(sorted({*index.problems.values(), *read_gaps}, key=lambda p: (p.path, p.message)))
        parse_gaps = {**self._worker_gaps, **{f.path: f.gap_lines for f in index.parsed() if f.gap_lines}}
        index.store_cache(write=store_cache)
        return Result(
            str(self.tree.root),
            index.api,
            tuple(drivers),
            tuple(ordered),
            errors,
            len(depends),  # the files the verdicts depend on: the same cold or warm
            tuple(sorted(parse_gaps.items())),
            _source_lines(index, ordered),
            time.perf_counter() - started,
            tuple(s for rel in sorted(depends) for s in find_suppressions(rel, index.raw(rel) or b"")),
        )


class _Learnt(NamedTuple):
    problems: tuple[SourceProblem, ...]
    parse_gaps: tuple[tuple[str, tuple[int, ...]], ...]
    counters: tuple[int, ...]  # Analysis._counters() since the fork


def analyse(
    paths: list[str],
    rules: dict[str, Rule],
    enabled: Collection[str],
    kb: KnowledgeBase | None = None,
    cache: FactsCache | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    jobs: int | None = None,
) -> Result:
    """Check every vDPA ops table under paths, each kernel tree against its own vdpa.h, on
    `jobs` processes (None: every CPU this process may use). Raises InputError for unusable
    paths."""
    from analyzer.roots import merge, split_roots

    results = []
    for group in split_roots(paths):
        analysis = Analysis(group, rules, enabled, kb, cache, available_cpus() if jobs is None else jobs)
        if progress is not None:
            analysis.index.progress = progress
        results.append(analysis.run())
    return results[0] if len(results) == 1 else merge(results)
