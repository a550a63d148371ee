"""Gate output: text, JSON, SARIF, GitHub Actions annotations, patchwork/b4 check records."""

from __future__ import annotations

import json
from typing import Any

from analyzer import __version__
from analyzer.findings import Finding, Result
from analyzer.formats.jsonfmt import finding_dict
from analyzer.gate import GateResult, PatchVerdict
from analyzer.rulebook import Rule


def _line(f: Finding) -> str:
    return f"{f.path}:{f.line}:{f.column}: {f.severity}: {f.message} [{f.rule_id} {f.name}]"


def _describe(p: PatchVerdict) -> str:
    parts = []
    if p.introduced:
        parts.append(
            f"introduces {len(p.introduced)} finding{'s' if len(p.introduced) != 1 else ''} "
            f"({', '.join(sorted({f.rule_id for f in p.introduced}))})"
        )
    if p.fixed:
        parts.append(f"fixes {len(p.fixed)}")
    return "; ".join(parts) or "no new findings"


def format_text(g: GateResult, rules: dict[str, Rule]) -> str:
    out = [
        f"vdpa-lint gate: base {g.base[:12]}: {len(g.base_findings)} finding"
        f"{'s' if len(g.base_findings) != 1 else ''} already present (listed, not judged)"
    ]
    out += [f"  = {_line(f)}" for f in g.base_findings]
    if not g.patches:
        out.append("nothing to judge: the range has no commits")
    for p in g.patches:
        out.append(f"[{p.number}/{p.total}] {p.subject}: {p.verdict.upper()} — {_describe(p)}")
        out += [f"  + {_line(f)}" for f in p.introduced]
        out += [f"  - {_line(f)}" for f in p.fixed]
    failing = [p for p in g.patches if p.verdict == g.verdict and g.verdict != "success"]
    blame = f" (first at patch {failing[0].number}/{failing[0].total})" if failing else ""
    out.append(
        f"series: {g.verdict.upper()}{blame}; {g.tables_analysed} table analyses, {g.tables_reused} reused"
    )
    return "\n".join(out) + "\n"


def gate_dict(g: GateResult) -> dict[str, Any]:
    return {
        "tool": {"name": "vdpa-lint", "version": __version__},
        "base": {"revision": g.base, "findings": [finding_dict(f) for f in g.base_findings]},
        "patches": [
            {
                "index": p.number,
                "total": p.total,
                "subject": p.subject,
                "source": p.source,
                "verdict": p.verdict,
                "introduced": [finding_dict(f) | {"fingerprint": f.fingerprint()} for f in p.introduced],
                "fixed": [finding_dict(f) | {"fingerprint": f.fingerprint()} for f in p.fixed],
            }
            for p in g.patches
        ],
        "verdict": g.verdict,
        "head_only": g.head_only,
        "stats": {"tables_analysed": g.tables_analysed, "tables_reused": g.tables_reused},
    }


def format_json(g: GateResult, rules: dict[str, Rule]) -> str:
    return json.dumps(gate_dict(g), indent=2) + "\n"


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def format_github(g: GateResult, rules: dict[str, Rule]) -> str:
    """GitHub Actions workflow commands: one annotation per finding a patch introduces."""
    level = {"error": "error", "warning": "warning", "note": "notice"}
    out = []
    for p in g.patches:
        for f in p.introduced:
            title = _escape_property(f"{f.rule_id} {f.name} (patch {p.number}/{p.total})")
            out.append(
                f"::{level[f.severity]} file={_escape_property(f.path)},line={f.line},col={f.column},"
                f"title={title}::{_escape_data(f.message)}"
            )
    out.append(f"::notice title=vdpa-lint gate::series {g.verdict}")
    return "\n".join(out) + "\n"


def format_patchwork(g: GateResult, rules: dict[str, Rule]) -> str:
    """One check record per patch, as patchwork's checks API and b4 take them (JSON lines)."""
    records = [
        {
            "patch": p.number,
            "total": p.total,
            "subject": p.subject,
            "source": p.source,
            "state": p.verdict,
            "context": "vdpa-lint",
            "description": f"vdpa-lint {__version__}: {_describe(p)}"[:255],
        }
        for p in g.patches
    ]
    return "".join(json.dumps(r) + "\n" for r in records)


def format_sarif(g: GateResult, rules: dict[str, Rule]) -> str:
    """The findings the series introduces, as SARIF (where each stands in the patch's tree)."""
    from analyzer.formats.sarif import format_sarif as sarif

    introduced = tuple(f for p in g.patches for f in p.introduced)
    head = g.head
    assert head is not None
    return sarif(Result(head.root, head.api, head.drivers, introduced, head.errors), rules)


FORMATTERS = {  # one per name in analyzer.formats.GATE_FORMATS
    "text": format_text,
    "json": format_json,
    "sarif": format_sarif,
    "github": format_github,
    "patchwork": format_patchwork,
}
