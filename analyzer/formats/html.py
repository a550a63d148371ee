"""The HTML compliance report: one self-contained file, rendered by Jinja2 with autoescape.

Top to bottom, as a reviewer reads it: which tree and the verdict; the findings, most severe
first, each with its trace; the drivers x obligations matrix; per driver details, collapsed;
the rules' text; the excerpts every path:line link lands on. Jinja2 is imported only when a
report is written, so text, JSON and SARIF runs never load it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, NamedTuple

from analyzer import __version__
from analyzer.findings import SEVERITY_RANK, DriverReport, Finding, Result
from analyzer.formats.htmlview import Anchors, Sources, by_severity, driver_view, environment, finding_cards
from analyzer.formats.links import SourceUrl, TemplateError
from analyzer.model import OBLIGATION_TITLES
from analyzer.rulebook import Rule
from analyzer.treeinfo import TreeInfo


class ReportContext(NamedTuple):
    """What the CLI learnt outside the analysis: which kernel, where its sources are browsed."""

    tree: TreeInfo | None = None
    source_url: SourceUrl | None = None  # for the (base) tree
    published_states: bool = False  # gate: each patch's state is a commit a source browser has
    lines: Mapping[str, tuple[str, ...]] = {}  # more of the tree's files, for excerpts (ops' functions)


def context_for(
    tree: TreeInfo,
    template: str | None,
    published_states: bool = False,
    lines: Mapping[str, tuple[str, ...]] | None = None,
) -> ReportContext:
    """The report's context for a tree; TemplateError if the template needs what the tree lacks."""
    if template is None:
        return ReportContext(tree, None, published_states, lines or {})
    url = SourceUrl(template, tree.commit, tree.version)
    missing = url.missing()
    if missing == "rev":
        raise TemplateError(f"--source-url uses {{rev}} but {tree.root} is not a git work tree")
    if missing == "version":
        raise TemplateError(f"--source-url uses {{version}} but {tree.root} has no kernel Makefile")
    return ReportContext(tree, url, published_states, lines or {})


def _tri(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


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
        out.append((".reset_map", "-", "yes (its contract, d2cf1b6e3b85)", "-"))
    return out


def rules_view(rules: dict[str, Rule], findings: tuple[Finding, ...]) -> list[dict[str, Any]]:
    """Each rule with its findings' count and the severities they carry (VDPA005 is a note
    where the driver has no .compat_reset): the rule's default only where it found nothing."""
    out = []
    for rid in sorted(rules):
        mine = [f for f in findings if f.rule_id == rid]
        severities = sorted({f.severity for f in mine}, key=lambda s: -SEVERITY_RANK[s])
        out.append(
            {"rule": rules[rid], "count": len(mine), "severities": severities or [rules[rid].severity]}
        )
    return out


def verdict_line(drivers: list[dict[str, Any]], severities: Counter[str]) -> tuple[str, str]:
    """(overall verdict, one sentence) for the top of the page."""
    n = len(drivers)
    verdicts = Counter(d["verdict"] for d in drivers)
    counts = ", ".join(
        f"{severities.get(s, 0)} {w}{'' if severities.get(s, 0) == 1 else 's'}"
        for s, w in (("error", "error"), ("warning", "warning"), ("note", "note"))
    )
    if verdicts.get("violating"):
        return "violating", f"{verdicts['violating']} of {n} ops tables violate the contract · {counts}"
    if verdicts.get("undecided"):
        return "undecided", f"{verdicts['undecided']} of {n} ops tables could not be decided · {counts}"
    if severities.get("error"):
        return "violating", f"{n} ops tables comply with the model, but the analysis reports · {counts}"
    return "compliant", f"all {n} ops tables comply · {counts}"


def view(result: Result, rules: dict[str, Rule], context: ReportContext | None = None) -> dict[str, Any]:
    context = context or ReportContext()
    sources = Sources({**context.lines, **result.source_lines}, url=context.source_url)
    anchors = Anchors()
    cards = finding_cards(by_severity(result.findings), sources, anchors)
    drivers = [driver_view(d, sources, anchors, cards) for d in result.drivers]
    severities = Counter(f.severity for f in result.findings)
    overall, line = verdict_line(drivers, severities)
    for dv in drivers:
        dv["effects"] = _effects(dv["d"])
    return {
        "version": __version__,
        "tree": context.tree or TreeInfo(result.root),
        "root": result.root,
        "api": result.api,
        "seconds": result.seconds,
        "files_parsed": result.files_parsed,
        "overall": overall,
        "verdict_line": line,
        "findings": cards,
        "drivers": drivers,
        "verdicts": Counter(d["verdict"] for d in drivers),
        "obligations": OBLIGATION_TITLES,
        "severities": severities,
        "rules": rules_view(rules, result.findings),
        "gaps": result.parse_gaps,
        "suppressed": result.suppressed,
        "suppression_notes": result.suppression_notes,
        "errors": result.errors,
        "excerpts": sources.appendix(),
    }


def format_html(result: Result, rules: dict[str, Rule], context: ReportContext | None = None) -> str:
    return environment().get_template("report.html.j2").render(**view(result, rules, context))
