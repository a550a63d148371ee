"""The gate's HTML report: the series verdict; per patch what it introduced (with traces and
excerpts of the code as that patch left it) and fixed; a before/after drivers x obligations
matrix of the base and the head. Self-contained, escaped, no script, like the check report."""

from __future__ import annotations

from typing import Any

from analyzer import __version__
from analyzer.findings import DriverReport
from analyzer.formats.html import ReportContext
from analyzer.formats.htmlview import (
    OBLIGATION_RULES,
    Anchors,
    Sources,
    by_severity,
    driver_view,
    environment,
    finding_cards,
)
from analyzer.gate import GateResult
from analyzer.model import MET, NOT_APPLICABLE, OBLIGATION_TITLES
from analyzer.rulebook import Rule
from analyzer.treeinfo import TreeInfo


def _key(d: DriverReport) -> tuple[str, str]:
    return (d.table.path, d.table.name)


def _statuses(d: DriverReport | None) -> dict[str, str]:
    return {o.key: o.status for o in d.obligations} if d is not None else {}


def _explaining(cards: list[dict[str, Any]], table: tuple[str, str], key: str) -> str | None:
    """The last card (the latest patch) whose finding explains this table's obligation."""
    hits = [
        c
        for c in cards
        if c["f"].ops_table
        and (c["f"].ops_table.path, c["f"].ops_table.name) == table
        and c["f"].rule_id in OBLIGATION_RULES.get(key, ())
    ]
    return "#" + hits[-1]["anchor"] if hits else None


def _matrix(
    g: GateResult, cards: list[dict[str, Any]], head_views: dict[tuple[str, str], dict[str, Any]]
) -> list[dict[str, Any]]:
    base = {_key(d): d for d in (g.base_state.drivers if g.base_state else ())}
    head = {_key(d): d for d in (g.head.drivers if g.head else ())}
    rows = []
    for key in [*head, *(k for k in base if k not in head)]:
        b, h = base.get(key), head.get(key)
        bs, hs = _statuses(b), _statuses(h)
        view = head_views.get(key)
        replays = {ov["o"].key: ov["anchor"] for ov in view["obligations"]} if view else {}
        differs = {ov["o"].key: ov["differs"] for ov in view["obligations"]} if view else {}
        cells = []
        for ob in OBLIGATION_TITLES:
            before, after = bs.get(ob, "absent"), hs.get(ob, "absent")
            href = None
            if before != after or after not in (MET, NOT_APPLICABLE, "absent") or differs.get(ob):
                href = _explaining(cards, key, ob) or ("#" + replays[ob] if ob in replays else None)
            changed = before != after and b is not None and h is not None  # a new table: the row says so
            cells.append(
                {
                    "key": ob,
                    "before": before,
                    "after": after,
                    "changed": changed,
                    "href": href,
                    "differs": differs.get(ob, "") if after == MET else "",
                }
            )
        vb = b.verdict if b else "absent"
        vh = h.verdict if h else "absent"
        rows.append(
            {
                "driver": h.driver if h else b.driver if b else "",
                "table": key[1],
                "path": key[0],
                "anchor": view["anchor"] if view else None,
                "glyphs": view["glyphs"] if view else None,
                "before": vb,
                "after": vh,
                "changed": vb != vh or any(c["changed"] for c in cells),
                "new": b is None,
                "removed": h is None,
                "cells": cells,
            }
        )
    return rows


def gate_view(g: GateResult, rules: dict[str, Rule], context: ReportContext | None = None) -> dict[str, Any]:
    ctx = context or ReportContext()
    anchors = Anchors()
    base_lines = g.base_state.source_lines if g.base_state else {}
    base_sources = Sources(base_lines, "base", ctx.source_url)
    patches, cards = [], []
    by_fingerprint: dict[str, str] = {}
    base_cards = finding_cards(by_severity(g.base_findings), base_sources, anchors, prefix="base")
    for c in base_cards:
        by_fingerprint.setdefault(c["f"].fingerprint(), "#" + c["anchor"])
    for p in g.patches:
        url = ctx.source_url._replace(rev=p.source) if ctx.source_url and ctx.published_states else None
        sources = Sources(p.source_lines or {}, f"p{p.number}", url)
        introduced = finding_cards(by_severity(p.introduced), sources, anchors, prefix=f"p{p.number}")
        fixed = [{"f": f, "href": by_fingerprint.get(f.fingerprint())} for f in by_severity(p.fixed)]
        for c in introduced:
            by_fingerprint[c["f"].fingerprint()] = "#" + c["anchor"]
        cards += introduced
        patches.append(
            {
                "p": p,
                "anchor": f"patch-{p.number}",
                "introduced": introduced,
                "fixed": fixed,
                "excerpts": sources.appendix(),
            }
        )
    head_sources = Sources(g.head.source_lines if g.head else {}, "head", None)
    # pictures of the head's replays go only to cards of findings still there at the head
    alive = {f.fingerprint() for f in g.head.findings} if g.head else set()
    pictured = [c for c in cards + base_cards if c["f"].fingerprint() in alive]
    head_views = {
        _key(d): driver_view(d, head_sources, anchors, pictured) for d in (g.head.drivers if g.head else ())
    }
    for c in cards + base_cards:  # a finding's table links to its replays at the head
        table = c["f"].ops_table
        view = head_views.get((table.path, table.name)) if table else None
        if view is not None:
            c["table_anchor"] = view["anchor"]
    matrix = _matrix(g, cards + base_cards, head_views)
    fixed_rules = {f.rule_id for p in g.patches for f in p.fixed}
    failing = [p for p in g.patches if p.verdict == g.verdict and g.verdict != "success"]
    return {
        "version": __version__,
        "tree": ctx.tree or TreeInfo(g.base),
        "g": g,
        "api": g.head.api if g.head else None,
        "first_failing": failing[0] if failing else None,
        "patches": patches,
        "base_cards": base_cards,
        "base_excerpts": base_sources.appendix(),
        "matrix": matrix,
        "obligations": OBLIGATION_TITLES,
        "head_drivers": list(head_views.values()),
        "introduced_total": sum(len(p.introduced) for p in g.patches),
        "fixed_total": sum(len(p.fixed) for p in g.patches),
        # the text of the rules the page names (the check report lists them all)
        "rules": {
            r: rules[r]
            for r in sorted({c["f"].rule_id for c in cards + base_cards} | fixed_rules)
            if r in rules
        },
    }


def format_gate_html(g: GateResult, rules: dict[str, Rule], context: ReportContext | None = None) -> str:
    return environment().get_template("gate.html.j2").render(**gate_view(g, rules, context))
