"""The HTML compliance report: one self-contained file, rendered by Jinja2 with autoescape.

Jinja2 is imported here only, so text, JSON and SARIF runs never load it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from analyzer import __version__
from analyzer.findings import DriverReport, Finding, Result, TraceStep
from analyzer.model import OBLIGATION_TITLES
from analyzer.rulebook import Rule

SNIPPET_CONTEXT = 2  # lines shown above and below a flagged line


def _tri(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def _snippet(result: Result, path: str, line: int) -> list[dict[str, Any]]:
    lines = result.source_lines.get(path, ())
    lo, hi = max(1, line - SNIPPET_CONTEXT), min(len(lines), line + SNIPPET_CONTEXT)
    return [{"no": n, "text": lines[n - 1].expandtabs(8), "flagged": n == line} for n in range(lo, hi + 1)]


def _finding(result: Result, f: Finding) -> dict[str, Any]:
    where = f"ops table {f.ops_table.name}" if f.ops_table else "here"
    steps: tuple[TraceStep, ...] = f.trace or (TraceStep("", f.path, f.line, f.column, where),)
    return {
        "f": f,
        "anchor": f"finding-{f.fingerprint()[:12]}",
        "steps": [{"s": s, "snippet": _snippet(result, s.path, s.line)} for s in steps],
    }


def _effects(d: DriverReport) -> list[tuple[str, str, str, str]]:
    e = d.effects
    if e is None:
        return []
    rows = [(".reset", e.reset), (".compat_reset(CLEAN_MAP)", e.compat_clean)]
    out = [
        (name, _tri(op.clears_map), _tri(op.restores_passthrough), _tri(op.resets_bindings))
        for name, op in rows
        if op.present
    ]
    if e.reset_map.present:
        out.append((".reset_map", "-", "yes (its contract, Linux commit d2cf1b6e3b85)", "-"))
    return out


def _driver(result: Result, d: DriverReport, findings: list[Finding]) -> dict[str, Any]:
    locations = {op: (p, n) for op, p, n in d.op_locations}
    conditional = dict(d.conditional_ops)
    ops = [
        {
            "op": e.op,
            "function": e.function,
            "line": e.line,
            "where": locations.get(e.op),
            "conditional": conditional.get(e.op, ""),
        }
        for e in d.table.entries
        if e.function is not None
    ]
    return {
        "d": d,
        "anchor": f"driver-{d.table.name}",
        "verdict": d.verdict,
        "ops": ops,
        "effects": _effects(d),
        "findings": [_finding(result, f) for f in findings],
    }


def view(result: Result, rules: dict[str, Rule]) -> dict[str, Any]:
    by_table: dict[str, list[Finding]] = {}
    loose: list[Finding] = []
    for f in result.findings:
        if f.ops_table is None:
            loose.append(f)
        else:
            by_table.setdefault(f"{f.ops_table.path}:{f.ops_table.name}", []).append(f)
    drivers = [_driver(result, d, by_table.get(f"{d.table.path}:{d.table.name}", [])) for d in result.drivers]
    per_rule = Counter(f.rule_id for f in result.findings)
    severities = Counter(f.severity for f in result.findings)
    return {
        "version": __version__,
        "root": result.root,
        "api": result.api,
        "seconds": result.seconds,
        "files_parsed": result.files_parsed,
        "drivers": drivers,
        "verdicts": Counter(d["verdict"] for d in drivers),
        "obligations": OBLIGATION_TITLES,
        "severities": severities,
        "rules": [(rules[r], per_rule.get(r, 0)) for r in sorted(rules)],
        "loose": [_finding(result, f) for f in loose],
        "gaps": result.parse_gaps,
        "suppressed": result.suppressed,
        "suppression_notes": result.suppression_notes,
        "errors": result.errors,
    }


def format_html(result: Result, rules: dict[str, Rule]) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent.parent / "templates"),
        autoescape=True,  # everything shown comes from the scanned tree: never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(**view(result, rules))
