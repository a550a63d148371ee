"""SARIF 2.1.0 for GitHub code scanning: rules with their text, one location per result,
partial fingerprints, and the call trace as a code flow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from analyzer import REPOSITORY_URL, RULE_DOCS_URL, __version__
from analyzer.findings import Finding, Result, TraceStep
from analyzer.rulebook import Rule

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
ROOT = "%SRCROOT%"
# GitHub shows `security-severity`-less results by `problem.severity`.
_PROBLEM_SEVERITY = {"error": "error", "warning": "warning", "note": "recommendation"}
_PRECISION = {"high": "high", "medium": "medium", "low": "low"}


def _text(s: str) -> str:
    return " ".join(s.split())


def _rule(rule: Rule) -> dict[str, Any]:
    help_md = f"{_text(rule.rationale)}\n\n**Fix:** {_text(rule.fix)}"
    if rule.bad_example:
        help_md += f"\n\nNon-compliant:\n\n```c\n{rule.example('bad')}\n```"
    if rule.good_example:
        help_md += f"\n\nCompliant:\n\n```c\n{rule.example('good')}\n```"
    return {
        "id": rule.id,
        "name": "".join(w.capitalize() for w in rule.name.split("-")),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": _text(rule.rationale)},
        "help": {"text": f"{_text(rule.rationale)} Fix: {_text(rule.fix)}", "markdown": help_md},
        "helpUri": RULE_DOCS_URL.format(id=rule.id),
        "defaultConfiguration": {"level": rule.severity},
        "properties": {
            "tags": ["vdpa", "linux-kernel", "correctness"],
            "precision": _PRECISION[rule.confidence],
            "problem.severity": _PROBLEM_SEVERITY[rule.severity],
        },
    }


def _location(path: str, line: int, column: int, message: str | None = None) -> dict[str, Any]:
    loc: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": path, "uriBaseId": ROOT},
            "region": {"startLine": line, "startColumn": max(1, column)},
        }
    }
    if message:
        loc["message"] = {"text": message}
    return loc


def _flow(trace: tuple[TraceStep, ...]) -> list[dict[str, Any]]:
    steps = [
        {"location": _location(s.path, s.line, s.column, s.note), "nestingLevel": i, "executionOrder": i + 1}
        for i, s in enumerate(trace)
    ]
    return [{"threadFlows": [{"locations": steps}]}]


def _result(f: Finding, index: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": index[f.rule_id],
        "level": f.severity,
        "message": {"text": f.message},
        "locations": [_location(f.path, f.line, f.column)],
        "partialFingerprints": {"vdpaLintFinding/v1": f.fingerprint()},
        "properties": {"driver": f.driver or "", "confidence": f.confidence},
    }
    if f.ops_table is not None:
        out["relatedLocations"] = [
            {"id": 1, **_location(f.ops_table.path, f.ops_table.line, 1, f"ops table {f.ops_table.name}")}
        ]
        out["properties"]["opsTable"] = f.ops_table.name
    if f.trace:
        out["codeFlows"] = _flow(f.trace)
    return out


def format_sarif(result: Result, rules: dict[str, Rule]) -> str:
    ordered = [rules[r] for r in sorted(rules)]
    index = {r.id: i for i, r in enumerate(ordered)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "vdpa-lint",
                "informationUri": REPOSITORY_URL,
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_rule(r) for r in ordered],
            }
        },
        "originalUriBaseIds": {ROOT: {"uri": Path(result.root).as_uri() + "/"}},
        "results": [_result(f, index) for f in result.findings],
        "invocations": [
            {
                "executionSuccessful": True,
                "toolExecutionNotifications": [
                    {
                        "level": "warning",
                        "message": {"text": e.message},
                        "locations": [
                            {"physicalLocation": {"artifactLocation": {"uri": e.path, "uriBaseId": ROOT}}}
                        ],
                    }
                    for e in result.errors
                ],
            }
        ],
        "columnKind": "utf16CodeUnits",
    }
    return json.dumps({"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2) + "\n"
