"""Several kernel trees on one command line (`check 6.1/drivers/vdpa 6.12/drivers/vdpa`):
each is judged against its own include/linux/vdpa.h (SPEC §2), and the results are merged
with paths relative to the trees' common directory."""

from __future__ import annotations

import os
from pathlib import Path

from analyzer.api import VdpaApi
from analyzer.facts import OpsTable
from analyzer.findings import DriverReport, Finding, Result, TableRef, Unfollowed
from analyzer.source import API_HEADER, SourceProblem, kernel_root


def split_roots(paths: list[str]) -> list[list[str]]:
    """The paths grouped by the kernel tree each lies in, in command-line order; paths in no
    kernel tree stay together with the first group that has none."""
    groups: dict[str, list[str]] = {}
    for raw in paths:
        p = Path(raw)
        root = kernel_root(p.absolute()) if p.exists() else None
        groups.setdefault(str(root) if root else "", []).append(raw)
    return list(groups.values())


def _prefix(prefix: str, path: str) -> str:
    return f"{prefix}/{path}" if prefix else path


def _finding(f: Finding, prefix: str) -> Finding:
    return f._replace(
        path=_prefix(prefix, f.path),
        ops_table=(
            TableRef(f.ops_table.name, _prefix(prefix, f.ops_table.path), f.ops_table.line)
            if f.ops_table
            else None
        ),
        trace=tuple(s._replace(path=_prefix(prefix, s.path)) for s in f.trace),
    )


def _driver(d: DriverReport, prefix: str) -> DriverReport:
    table: OpsTable = d.table._replace(path=_prefix(prefix, d.table.path))
    return d._replace(
        table=table,
        op_locations=tuple((op, _prefix(prefix, p), n) for op, p, n in d.op_locations),
        not_applicable=tuple(
            (rule, why.replace(API_HEADER, _prefix(prefix, API_HEADER))) for rule, why in d.not_applicable
        ),
        unfollowed=tuple(
            Unfollowed(u.op, _prefix(prefix, u.path), u.line, u.callee, u.why) for u in d.unfollowed
        ),
    )


def merge(results: list[Result]) -> Result:
    """One result for several trees: paths prefixed by each tree's place under their
    common directory, each tree's API kept."""
    roots = [r.root for r in results]
    common = os.path.commonpath(roots)
    findings: list[Finding] = []
    drivers: list[DriverReport] = []
    errors: list[SourceProblem] = []
    lines: dict[str, tuple[str, ...]] = {}
    apis: list[VdpaApi] = []
    for r in results:
        prefix = Path(os.path.relpath(r.root, common)).as_posix()
        prefix = "" if prefix == "." else prefix
        findings.extend(_finding(f, prefix) for f in r.findings)
        drivers.extend(_driver(d, prefix) for d in r.drivers)
        errors.extend(SourceProblem(_prefix(prefix, e.path), e.message) for e in r.errors)
        lines.update({_prefix(prefix, k): v for k, v in r.source_lines.items()})
        header = _prefix(prefix, r.api.header) if r.api.header else None
        apis.append(r.api._replace(header=header))
    return Result(
        common,
        apis[0],
        tuple(drivers),
        tuple(sorted(findings, key=Finding.sort_key)),
        tuple(errors),
        sum(r.files_parsed for r in results),
        tuple((_prefix("", p), g) for r in results for p, g in r.parse_gaps),
        lines,
        sum(r.seconds for r in results),
        tuple(s for r in results for s in r.suppressions),
        apis=tuple(apis),
    )
