"""GitHub Actions workflow commands (`::error file=...,line=...::message`): the annotations
`check --format github` and the gate print."""

from __future__ import annotations

from analyzer.findings import Finding, Result
from analyzer.rulebook import Rule

_LEVEL = {"error": "error", "warning": "warning", "note": "notice"}


def escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(s: str) -> str:
    return escape_data(s).replace(":", "%3A").replace(",", "%2C")


def annotation(f: Finding, title_suffix: str = "", message_suffix: str = "") -> str:
    """One finding as a workflow command, at its line; the title names the rule."""
    title = escape_property(f"{f.rule_id} {f.name}{title_suffix}")
    return (
        f"::{_LEVEL[f.severity]} file={escape_property(f.path)},line={f.line},col={f.column},"
        f"title={title}::{escape_data(f.message + message_suffix)}"
    )


def format_github(result: Result, rules: dict[str, Rule]) -> str:
    out = [annotation(f) for f in result.findings]
    n = len(result.findings)
    tables = len(result.drivers)
    summary = f"{n} finding{'s' if n != 1 else ''} in {tables} ops table{'s' if tables != 1 else ''}"
    out.append(f"::notice title=vdpa-lint::{escape_data(summary)}")
    return "\n".join(out) + "\n"
