"""A rule's documentation page (docs/rules/VDPA00x.md), rendered from its rule file;
`scripts/rule-docs` writes them and a test keeps them in step with rules/."""

from __future__ import annotations

from analyzer.rulebook import Rule


def _para(text: str) -> str:
    return " ".join(text.split())


def render_rule_doc(rule: Rule) -> str:
    scope = "the gate only (decided between two trees)" if rule.scope == "gate" else "check and the gate"
    out = [
        f"# {rule.id} {rule.name}",
        "",
        "<!-- Generated from rules/ by scripts/rule-docs: edit the rule file, not this page. -->",
        "",
        f"**Severity:** {rule.severity} · **Confidence:** {rule.confidence} · **Runs in:** {scope}",
        "",
        _para(rule.summary),
        "",
        "## Why",
        "",
        _para(rule.rationale),
        "",
        "## Fix",
        "",
        _para(rule.fix),
    ]
    for kind, title in (("bad", "Non-compliant"), ("good", "Compliant")):
        code = rule.example(kind)
        if code:
            out += ["", f"## {title}", "", "```c", code, "```"]
    if rule.references:
        out += ["", "## References", ""] + [f"- {r}" for r in rule.references]
    if rule.aliases:
        out += ["", f"Also known as: {', '.join(rule.aliases)}."]
    return "\n".join(out) + "\n"
