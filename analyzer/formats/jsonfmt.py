"""JSON output with the fields of SPEC §4 (and a few more), in a stable order."""

from __future__ import annotations

import json
from typing import Any

from analyzer import __version__
from analyzer.findings import Finding, Result
from analyzer.rulebook import Rule


def finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "rule_id": f.rule_id,
        "name": f.name,
        "severity": f.severity,
        "confidence": f.confidence,
        "path": f.path,
        "line": f.line,
        "column": f.column,
        "message": f.message,
        "driver": f.driver,
        "ops_table": (
            {"name": f.ops_table.name, "path": f.ops_table.path, "line": f.ops_table.line}
            if f.ops_table
            else None
        ),
        "trace": [
            {"function": s.function, "path": s.path, "line": s.line, "column": s.column, "note": s.note}
            for s in f.trace
        ],
    }


def result_dict(result: Result) -> dict[str, Any]:
    return {
        "tool": {"name": "vdpa-lint", "version": __version__},
        "api": {
            "header": result.api.header,
            "assumed": result.api.assumed,
            "ops": sorted(result.api.ops),
            "description": result.api.describe(),
        },
        "apis": [
            {"header": a.header, "ops": sorted(a.ops), "description": a.describe()}
            for a in (result.apis or (result.api,))
        ],
        "drivers": [
            {
                "driver": d.driver,
                "ops_table": d.table.name,
                "path": d.table.path,
                "line": d.table.line,
                "const": d.table.const,
                "ops": dict(sorted(d.ops.items())),
                "conditional_ops": dict(d.conditional_ops),
                "not_applicable": dict(d.not_applicable),
                "op_locations": {op: {"path": p, "line": n} for op, p, n in d.op_locations},
                "verdict": d.verdict,
                "unfollowed": [u._asdict() for u in d.unfollowed],
                "obligations": [
                    {
                        "key": o.key,
                        "title": o.title,
                        "status": o.status,
                        "reason": o.reason,
                        "first_divergence": o.first_divergence,
                        "observed": o.observed,
                        "steps": [s._asdict() for s in o.steps],
                    }
                    for o in d.obligations
                ],
            }
            for d in result.drivers
        ],
        "findings": [finding_dict(f) for f in result.findings],
        "errors": [{"path": e.path, "message": e.message} for e in result.errors],
        "unfollowed": [
            {"ops_table": d.table.name, **u._asdict()} for d in result.drivers for u in d.unfollowed
        ],
        "suppressed": [finding_dict(f) | {"accepted_by": how} for f, how in result.suppressed],
        "suppression_notes": [{"path": p, "line": n, "message": m} for p, n, m in result.suppression_notes],
        "summary": {
            "drivers": len({d.driver for d in result.drivers}),
            "ops_tables": len(result.drivers),
            "files_parsed": result.files_parsed,
            **{s: sum(1 for f in result.findings if f.severity == s) for s in ("error", "warning", "note")},
        },
    }


def format_json(result: Result, rules: dict[str, Rule]) -> str:
    return json.dumps(result_dict(result), indent=2) + "\n"
