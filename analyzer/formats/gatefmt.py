"""Gate output: text, JSON, SARIF, GitHub Actions annotations, patchwork/b4 check records."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from analyzer import __version__
from analyzer.findings import Finding, Result
from analyzer.formats.github import annotation, escape_data, escape_property
from analyzer.formats.jsonfmt import finding_dict
from analyzer.gate import GateResult, PatchVerdict, Skipped
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


def _skipped(s: Skipped) -> str:
    number = f"[{s.number}/{s.total}]" if s.number is not None else "[-]"
    return f"{number} {s.subject}: skipped ({s.why})"


def _series_line(g: GateResult) -> str:
    failing = [p for p in g.patches if p.verdict == "fail"] or [
        p for p in g.patches if p.verdict == g.verdict
    ]
    why = []
    if failing and g.verdict != "success":
        why.append(f"first at patch {failing[0].number}/{failing[0].total}")
    if g.not_applied:
        why.append(f"patch {g.not_applied.number}/{g.not_applied.total} does not apply")
    return f"series: {g.verdict.upper()}" + (f" ({'; '.join(why)})" if why else "")


def format_text(g: GateResult, rules: dict[str, Rule]) -> str:
    out = [
        f"vdpa-lint gate: base {g.base_label or g.base}: {len(g.base_findings)} finding"
        f"{'s' if len(g.base_findings) != 1 else ''} already present (listed, not judged)"
    ]
    out += [f"  = {_line(f)}" for f in g.base_findings]
    out += [_skipped(s) for s in g.skipped]
    if not g.patches and not g.not_applied:
        out.append("nothing to judge: the range has no commits" if not g.skipped else "nothing to judge")
    for p in g.patches:
        out.append(f"[{p.number}/{p.total}] {p.subject}: {p.verdict.upper()} — {_describe(p)}")
        out += [f"  + {_line(f)}" for f in p.introduced]
        out += [f"  - {_line(f)}" for f in p.fixed]
    if g.not_applied:
        n = g.not_applied
        out.append(f"[{n.number}/{n.total}] {n.subject}: DOES NOT APPLY — {n.message}")
    out.append(_series_line(g))
    return "\n".join(out) + "\n"


def gate_dict(g: GateResult) -> dict[str, Any]:
    return {
        "tool": {"name": "vdpa-lint", "version": __version__},
        "base": {
            "revision": g.base,
            "label": g.base_label or g.base,
            "findings": [finding_dict(f) for f in g.base_findings],
        },
        "skipped": [s._asdict() for s in g.skipped],
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
        "not_applied": g.not_applied._asdict() if g.not_applied else None,
        "at_head": [finding_dict(f) | {"introduced_by": p.number} for f, p in g.at_head],
        "verdict": g.verdict,
        "head_only": g.head_only,
        "stats": {"tables_analysed": g.tables_analysed, "tables_reused": g.tables_reused},
    }


def format_json(g: GateResult, rules: dict[str, Rule]) -> str:
    return json.dumps(gate_dict(g), indent=2) + "\n"


def _introduced_by(p: PatchVerdict) -> str:
    return f"introduced by patch {p.number}/{p.total}: {p.subject}"


def format_github(g: GateResult, rules: dict[str, Rule]) -> str:
    """GitHub Actions workflow commands: one annotation per finding the series leaves in its
    head state, at its head-state line, naming the patch that introduced it (a finding a
    later patch fixed is no annotation: its line would point into the final tree)."""
    out = [annotation(f, f" (patch {p.number}/{p.total})", f" ({_introduced_by(p)})") for f, p in g.at_head]
    if g.not_applied:
        n = g.not_applied
        where = f"file={escape_property(n.path)}" + (f",line={n.line}" if n.line else "")
        title = escape_property(f"patch {n.number}/{n.total} does not apply")
        out.append(f"::error {where},title={title}::{escape_data(f'{n.subject}: {n.message}')}")
    out.append(f"::notice title=vdpa-lint gate::series {g.verdict}")
    return "\n".join(out) + "\n"


TARGET_FIELDS = ("series", "patch", "number", "total")


def target_url(template: str, series: str, number: int, total: int, msgid: str, source: str) -> str:
    """The template with {series} (the series' first Message-Id, else its first file or head
    revision), {patch} (the patch's Message-Id, else its commit or file), {number} and
    {total}, each URL-quoted. Raises KeyError/ValueError/IndexError for an unknown field."""
    values = {"series": series, "patch": msgid or source, "number": str(number), "total": str(total)}
    return template.format_map({k: quote(v.strip("<>"), safe="@.-_~+") for k, v in values.items()})


def _record(number: int, total: int, subject: str, source: str, msgid: str) -> dict[str, Any]:
    return {"patch": number, "total": total, "subject": subject, "source": source, "msgid": msgid}


def format_patchwork(g: GateResult, rules: dict[str, Rule], target: str = "", series: str = "") -> str:
    """One check record per patch, as patchwork's checks API and b4 take them (JSON lines):
    what `pwclient check-create` needs (the Message-Id to find the patch by, state, context,
    description, target_url)."""
    records = []
    for p in g.patches:
        r = _record(p.number, p.total, p.subject, p.source, p.message_id)
        r |= {"state": p.verdict, "description": f"vdpa-lint {__version__}: {_describe(p)}"[:255]}
        records.append(r)
    if g.not_applied:
        n = g.not_applied
        r = _record(n.number, n.total, n.subject, n.source, n.message_id)
        r |= {"state": "fail", "description": f"vdpa-lint {__version__}: does not apply: {n.message}"[:255]}
        records.append(r)
    for r in records:
        r["context"] = "vdpa-lint"
        r["target_url"] = (
            target_url(target, series or g.base, r["patch"], r["total"], r["msgid"], r["source"])
            if target
            else ""
        )
    keys = ("patch", "total", "subject", "source", "msgid", "state", "context", "description", "target_url")
    return "".join(json.dumps({k: r[k] for k in keys}) + "\n" for r in records)


def format_sarif(g: GateResult, rules: dict[str, Rule]) -> str:
    """The findings the series leaves in its head state, at their head-state locations, each
    naming the patch that introduced it; a patch that did not apply makes the run unsuccessful."""
    from analyzer.formats.sarif import format_sarif as sarif

    head = g.head
    assert head is not None
    found = tuple(f for f, _ in g.at_head)
    log = json.loads(sarif(Result(g.root or head.root, head.api, head.drivers, found, head.errors), rules))
    [run] = log["runs"]
    for result, (_, p) in zip(run["results"], g.at_head, strict=True):
        result["message"]["text"] += f" ({_introduced_by(p)})"
        result["properties"]["introducedBy"] = {
            "patch": p.number,
            "total": p.total,
            "subject": p.subject,
            "source": p.source,
        }
    if g.not_applied:
        n = g.not_applied
        [invocation] = run["invocations"]
        invocation["executionSuccessful"] = False
        invocation["toolExecutionNotifications"].append(
            {
                "level": "error",
                "message": {"text": f"patch {n.number}/{n.total} ({n.subject}) does not apply: {n.message}"},
            }
        )
    return json.dumps(log, indent=2) + "\n"


def format_html(g: GateResult, rules: dict[str, Rule]) -> str:
    """The series report (the CLI passes the tree's context: kernel version, --source-url)."""
    from analyzer.formats.gatehtml import format_gate_html

    return format_gate_html(g, rules)


FORMATTERS = {  # one per name in analyzer.formats.GATE_FORMATS
    "text": format_text,
    "json": format_json,
    "sarif": format_sarif,
    "github": format_github,
    "patchwork": format_patchwork,
    "html": format_html,
}
