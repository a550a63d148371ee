"""Output formatters: each turns a Result into text; the caller writes it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from analyzer.findings import Result
from analyzer.rulebook import Rule

if TYPE_CHECKING:
    from analyzer.formats.html import ReportContext

Formatter = Callable[[Result, dict[str, Rule]], str]


def formatter(
    name: str,
    color: bool = False,
    quiet: bool = False,
    terse: bool = False,
    context: ReportContext | None = None,
) -> Formatter:
    """quiet and terse shape the text output only: findings only, and one line each; context
    (the kernel, --source-url) the HTML report only."""
    if name == "json":
        from analyzer.formats.jsonfmt import format_json

        return format_json
    if name == "html":
        from analyzer.formats.html import format_html

        return lambda result, rules: format_html(result, rules, context)
    if name == "sarif":
        from analyzer.formats.sarif import format_sarif

        return format_sarif
    if name == "github":
        from analyzer.formats.github import format_github

        return format_github
    from analyzer.formats.text import TextFormatter

    return TextFormatter(color, quiet, terse).format


FORMATS = ("text", "json", "sarif", "html", "github")
GATE_FORMATS = ("text", "json", "sarif", "github", "patchwork", "html")
