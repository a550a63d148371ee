"""The gate: every patch of a series judged by what it introduces and fixes (SPEC §2, §4).

States are the merge-base and each commit (or each applied patch); one Analysis
session follows them, re-analysing only the tables a patch can affect. A finding is
the same finding from one state to the next when its fingerprint is (rule, ops table,
chain of functions, message without numbers), so code that moves is not new.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

from analyzer.cache import FactsCache
from analyzer.engine import Analysis
from analyzer.extract import OPS_STRUCT
from analyzer.findings import SEVERITY_RANK, DriverReport, Finding, Result, TableRef, TraceStep
from analyzer.gitrepo import (
    Checkout,
    PatchDoesNotApply,
    apply_patch,
    files_naming,
    git,
    message_id,
    patched_paths,
    range_paths,
    resolve_range,
    tree_copy,
)
from analyzer.index import files_mentioning
from analyzer.rulebook import Rule
from analyzer.series import SeriesPatch, numbered, split_series
from analyzer.source import API_HEADER, SUBSYSTEM_DIRS, InputError, walk_sources
from analyzer.suppress import BaselineEntry, apply

VERDICTS = ("success", "warning", "fail")


class PatchVerdict(NamedTuple):
    number: int
    total: int
    subject: str
    source: str  # commit sha or patch file name
    introduced: tuple[Finding, ...]
    fixed: tuple[Finding, ...]
    verdict: str
    message_id: str = ""  # the patch email's Message-Id, when it has one (patchwork finds it by that)
    source_lines: Mapping[str, tuple[str, ...]] | None = None  # the state after it, for snippets


class Skipped(NamedTuple):
    """A message of the series that is not a patch to apply (a cover letter, a reply)."""

    number: int | None
    total: int | None
    subject: str
    source: str
    why: str


class NotApplied(NamedTuple):
    """The patch the run stopped at, and where git says it fails."""

    number: int
    total: int
    subject: str
    source: str
    path: str
    line: int | None
    hunk: int | None
    message: str  # "drivers/x.c:12: hunk #2 does not apply"
    message_id: str = ""


class GateResult(NamedTuple):
    base: str
    base_findings: tuple[Finding, ...]  # already there: listed, not judged
    patches: tuple[PatchVerdict, ...]
    verdict: str
    head: Result | None
    head_only: bool
    tables_analysed: int
    tables_reused: int
    base_label: str = ""  # the base as the user gave it: "--tree DIR" or "REV (abbreviated sha)"
    root: str = ""  # the user's tree or repository: where head-state paths are
    skipped: tuple[Skipped, ...] = ()
    not_applied: NotApplied | None = None  # the series stopped here (exit 2)
    at_head: tuple[tuple[Finding, PatchVerdict], ...] = ()  # new at head, with the patch adding it
    base_state: Result | None = None


class _Step(NamedTuple):
    number: int
    total: int
    subject: str
    source: str
    advance: Callable[[], set[str]]  # moves to this state; returns the paths it changed


def _old_userspace_clears(d: DriverReport) -> bool | None:
    """What userspace without IOTLB_PERSIST gets on reset: .compat_reset(CLEAN_MAP) where it
    exists, else .reset (bc91df5c70ac). None when the analysis could not decide."""
    e = d.effects
    if e is None:
        return False
    op = e.compat_clean if e.compat_clean.present else e.reset
    return op.clears_map


def compat_dropped(base: Result, state: Result, rule: Rule | None) -> list[Finding]:
    """VDPA009: tables whose old-userspace reset cleared maps at base and no longer does."""
    if rule is None:
        return []
    before = {(d.driver, d.table.name): d for d in base.drivers}
    out = []
    for d in state.drivers:
        old = before.get((d.driver, d.table.name))
        if old is None and d.table.configuration_of:  # a configuration new here: its table at base
            old = before.get((d.driver, d.table.configuration_of))
        # Only a definite change counts: cleared at base, certainly not at this state (an
        # unknown on the path is reported as VDPA000, not taken for a dropped behaviour).
        if old is None or _old_userspace_clears(old) is not True or _old_userspace_clears(d) is not False:
            continue
        entry = d.table.entry("compat_reset") or d.table.entry("reset")
        line, col = (entry.line, entry.column) if entry else (d.table.line, d.table.column)
        was = ".compat_reset(VDPA_RESET_F_CLEAN_MAP)" if old.table.entry("compat_reset") else ".reset"
        msg = (
            f"{d.table.name}: userspace without VHOST_BACKEND_F_IOTLB_PERSIST had its maps cleared "
            f"on reset (by {was} at base) and no longer does"
        )
        where = TraceStep(
            d.table.name, d.table.path, line, col, f"old userspace's reset goes to {was} at base"
        )
        out.append(
            Finding(
                rule.id,
                rule.name,
                rule.severity,
                d.table.path,
                line,
                col,
                msg,
                TableRef(d.table.name, d.table.path, d.table.line),
                (where,),
                d.driver,
                rule.confidence,
            )
        )
    return out


def _verdict(findings: Collection[Finding]) -> str:
    worst = max((SEVERITY_RANK[f.severity] for f in findings), default=0)
    return (
        "fail"
        if worst >= SEVERITY_RANK["error"]
        else "warning"
        if worst >= SEVERITY_RANK["warning"]
        else "success"
    )


def _diff(
    before: dict[str, Finding], after: dict[str, Finding]
) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
    introduced = tuple(sorted((f for k, f in after.items() if k not in before), key=Finding.sort_key))
    fixed = tuple(sorted((f for k, f in before.items() if k not in after), key=Finding.sort_key))
    return introduced, fixed


class _Series:
    """Findings of each state, judged against the state before it."""

    def __init__(
        self,
        analysis: Analysis,
        rules: dict[str, Rule],
        enabled: Collection[str],
        baseline: list[BaselineEntry],
    ) -> None:
        self.analysis = analysis
        self.baseline = baseline
        self.rule009 = rules.get("VDPA009") if "VDPA009" in enabled else None
        self.base: Result | None = None

    def state(self, changed: set[str] | None, last: bool = True) -> tuple[Result, dict[str, Finding]]:
        if changed is not None:
            self.analysis.refresh(changed)
        result = self.analysis.run(store_cache=last)
        if self.base is None:
            self.base = result
        found = list(result.findings) + compat_dropped(self.base, result, self.rule009)
        kept = apply(found, result.suppressions, self.baseline).kept  # accepted findings are never new
        return result, {f.fingerprint(): f for f in kept}


def _judge(steps: list[_Step], series: _Series, head_only: bool, base: str) -> GateResult:
    base_result, base_found = series.state(None)
    prev = base_found
    verdicts: list[PatchVerdict] = []
    head: Result = base_result
    added_by: dict[str, PatchVerdict] = {}  # fingerprint -> the patch that last introduced it
    failed: NotApplied | None = None
    for i, step in enumerate(steps):
        try:
            changed = step.advance()
        except PatchDoesNotApply as err:
            failed = NotApplied(*step[:4], err.path, err.line, err.hunk, str(err))
            break
        head, found = series.state(changed, last=i == len(steps) - 1)
        introduced, fixed = _diff(prev, found)
        lines = _lines(head, series.analysis, introduced)
        verdict = PatchVerdict(*step[:4], introduced, fixed, _verdict(introduced), source_lines=lines)
        verdicts.append(verdict)
        added_by |= {f.fingerprint(): verdict for f in introduced}
        prev = found
    if head_only and verdicts:
        introduced, fixed = _diff(base_found, prev)
        last = verdicts[-1]
        whole = PatchVerdict(
            last.number,
            last.total,
            "the series as a whole",
            last.source,
            introduced,
            fixed,
            _verdict(introduced),
            source_lines=_lines(head, series.analysis, introduced),
        )
        verdicts, added_by = [whole], dict.fromkeys(added_by, whole)
    worst = max((VERDICTS.index(v.verdict) for v in verdicts), default=0)
    at_head = sorted(
        ((f, added_by[k]) for k, f in prev.items() if k not in base_found), key=lambda x: x[0].sort_key()
    )
    return GateResult(
        base,
        tuple(sorted(base_found.values(), key=Finding.sort_key)),
        tuple(verdicts),
        "fail" if failed else VERDICTS[worst],
        head,
        head_only,
        series.analysis.analysed,
        series.analysis.reused,
        not_applied=failed,
        at_head=tuple(at_head),
        base_state=base_result,
    )


def _lines(state: Result, analysis: Analysis, findings: Iterable[Finding]) -> dict[str, tuple[str, ...]]:
    """The text of the files findings point at, in the state the analysis is in (the HTML
    report shows each patch's findings as that patch left the code)."""
    out: dict[str, tuple[str, ...]] = {}
    for path in sorted({p for f in findings for p in (f.path, *(s.path for s in f.trace))}):
        if path in state.source_lines:
            out[path] = state.source_lines[path]
        elif (data := analysis.index.raw(path)) is not None:
            out[path] = tuple(data.decode("utf-8", "replace").splitlines())
    return out


def gate_repo(
    repo: Path,
    base: str,
    head: str,
    rules: dict[str, Rule],
    enabled: Collection[str],
    paths: list[str],
    head_only: bool = False,
    baseline: list[BaselineEntry] | None = None,
    cache: FactsCache | None = None,
) -> GateResult:
    repo = repo.resolve()
    merge_base, commits = resolve_range(repo, base, head)
    with tempfile.TemporaryDirectory(prefix="vdpa-lint-gate-") as tmp:
        work = Path(tmp) / "tree"
        work.mkdir()
        tables = files_naming(repo, merge_base, OPS_STRUCT) + files_naming(repo, head, OPS_STRUCT)
        checkout = Checkout(repo, work, _reading_set(paths, tables, range_paths(repo, merge_base, head)))
        checkout.preload(merge_base, head)
        checkout.move_to(merge_base)
        analysis = Analysis(_subpaths(work, paths), rules, enabled, cache=cache)
        series = _Series(analysis, rules, enabled, baseline or [])

        def mover(sha: str) -> Callable[[], set[str]]:
            return lambda: checkout.move_to(sha)

        judged = [c for c in commits if not c.empty]
        steps = [_Step(k, len(judged), c.subject, c.sha, mover(c.sha)) for k, c in enumerate(judged, 1)]
        result = _judge(steps, series, head_only, merge_base)
        root = _user_root(result, work, repo)
    short = git("rev-parse", "--short=12", merge_base, cwd=repo).strip()
    skipped = tuple(
        Skipped(None, None, c.subject, c.sha, "empty commit, no diff") for c in commits if c.empty
    )
    return result._replace(base_label=f"{base} ({short})", root=root, skipped=skipped)


def gate_tree(
    tree: Path,
    inputs: list[tuple[str, bytes]],
    rules: dict[str, Rule],
    enabled: Collection[str],
    paths: list[str],
    head_only: bool = False,
    baseline: list[BaselineEntry] | None = None,
    cache: FactsCache | None = None,
) -> GateResult:
    """inputs: (name as the user gave it, bytes) of each patch file or mbox, in order."""
    if not tree.is_dir():
        raise InputError(f"{tree}: no such directory")
    with tempfile.TemporaryDirectory(prefix="vdpa-lint-gate-") as tmp:
        messages = split_series(inputs, Path(tmp) / "series")
        to_apply = numbered(messages)
        if not to_apply:  # an empty pipe or a lone cover letter: most likely not what was meant
            names = ", ".join(name for name, _ in inputs)
            raise InputError(f"{names}: no patch with a diff in it ({len(messages)} message(s) skipped)")
        # A kernel tree: copy what the analysis reads (as Checkout does for --repo) and what
        # the series touches. Anything else: all of it.
        keep = None
        if (tree / API_HEADER).is_file():
            tables = files_mentioning(str(tree), OPS_STRUCT.encode(), walk_sources(tree, "."))
            keep = _reading_set(paths, tables, patched_paths([p.path for p, _, _ in to_apply]))
        with tree_copy(tree, Path(tmp), keep) as copy:
            analysis = Analysis(_subpaths(copy, paths), rules, enabled, cache=cache)
            series = _Series(analysis, rules, enabled, baseline or [])

            def applier(patch: SeriesPatch) -> Callable[[], set[str]]:
                return lambda: apply_patch(copy, patch.path)

            steps = [_Step(k, n, p.subject, p.name, applier(p)) for p, k, n in to_apply]
            result = _judge(steps, series, head_only, str(tree))
            root = _user_root(result, copy, tree.resolve())
            ids = {k: message_id(p.path) for p, k, _ in to_apply}
    skipped = tuple(Skipped(p.number, p.total, p.subject, p.name, p.skip) for p in messages if p.skip)
    patches = tuple(p._replace(message_id=ids.get(p.number, "")) for p in result.patches)
    n = result.not_applied
    not_applied = n._replace(message_id=ids.get(n.number, "")) if n else None
    return result._replace(
        base_label=str(tree), root=root, skipped=skipped, patches=patches, not_applied=not_applied
    )


def _user_root(result: GateResult, temporary: Path, user: Path) -> str:
    """Where the analysed root of the temporary tree is in the user's tree."""
    head = result.head.root if result.head else str(temporary)
    try:
        return str(user / Path(head).relative_to(temporary))
    except ValueError:
        return str(user)


def _reading_set(paths: list[str], table_files: Iterable[str], touched: Iterable[str]) -> list[str]:
    """What the analysis of any state can read: the API header, the vDPA subsystem, the
    directories of files that define ops tables, the analysed paths, and the directories of
    every file the series touches (so patches apply and new parents are seen). The rest of
    a kernel (most of it) is never checked out or copied."""

    def home(rel: str) -> str:
        parts = rel.split("/")
        if parts[:2] == ["drivers", "vdpa"] and len(parts) > 3:
            return "/".join(parts[:3])
        return "/".join(parts[:-1]) if parts[0] == "drivers" and len(parts) > 2 else rel

    out = {API_HEADER, *SUBSYSTEM_DIRS, *paths}
    out |= {home(f) for f in table_files} | {home(f) for f in touched}
    return sorted(out)


def _subpaths(root: Path, paths: list[str]) -> list[str]:
    for p in paths:
        if not (root / p).exists():  # named as given: root is a temporary directory
            raise InputError(f"--path {p}: no such path in the tree")
    return [str(root / p) for p in paths] if paths else [str(root)]
