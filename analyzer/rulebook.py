"""Rule files (rules/VDPA*.toml): the text of each rule, validated on load.

IDs are public API: a retired id stays in rules/retired.toml and is never
reused; a renamed rule keeps its old names in `aliases`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

from analyzer import tomldata
from analyzer.semantics.kb import rules_dir

SEVERITIES = ("error", "warning", "note")
_ID_RE = re.compile(r"^VDPA\d{3}$")
_ANNOTATION_RE = re.compile(r"[ \t]*/\*\s*(?:expect|ok|todo-expect|todo-ok|parse-gap)\b[^*]*\*/")
_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_REQUIRED = ("id", "name", "severity", "confidence", "summary", "rationale", "fix", "commits", "scope")
_COMMIT_RE = re.compile(r"^[0-9a-f]{12,40}$")
_OPTIONAL = ("references", "aliases", "example")


class RuleFileError(Exception):
    """A rule file that does not say what a rule must say."""


class Rule(NamedTuple):
    id: str
    name: str
    severity: str
    confidence: str
    summary: str
    rationale: str
    fix: str
    commits: tuple[str, ...]  # the Linux commits the rule comes from (abbreviated ids)
    scope: str  # "check": decided on one tree; "gate": decided between two trees
    references: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    bad_example: str | None = None
    good_example: str | None = None
    source: str = ""

    def example(self, kind: str) -> str:
        """The bad or good example as documentation: without the test annotations."""
        code = self.bad_example if kind == "bad" else self.good_example
        return _ANNOTATION_RE.sub("", code or "").strip("\n")


def _str_list(raw: object, key: str, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise RuleFileError(f"{where}: '{key}' must be a list of strings")
    return tuple(raw)


def _commits(raw: object, where: str) -> tuple[str, ...]:
    commits = _str_list(raw, "commits", where)
    bad = [c for c in commits if not _COMMIT_RE.match(c)]
    if not commits or bad:
        raise RuleFileError(f"{where}: 'commits' must list Linux commit ids (12 to 40 hex digits)")
    return commits


def parse_rule(path: Path) -> Rule:
    where = path.name
    try:
        data = tomldata.load(path)
    except (OSError, ValueError) as err:  # unreadable, not UTF-8, not TOML
        raise RuleFileError(f"{where}: {err}") from None
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise RuleFileError(f"{where}: missing {', '.join(missing)}")
    unknown = set(data) - set(_REQUIRED) - set(_OPTIONAL)
    if unknown:
        raise RuleFileError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    for key in ("id", "name", "severity", "confidence", "summary", "rationale", "fix", "scope"):
        if not isinstance(data[key], str) or not data[key].strip():
            raise RuleFileError(f"{where}: '{key}' must be a non-empty string")
    if not _ID_RE.match(data["id"]):
        raise RuleFileError(f"{where}: id {data['id']!r} is not of the form VDPA000")
    if not _NAME_RE.match(data["name"]):
        raise RuleFileError(f"{where}: name {data['name']!r} must be lower-case-with-dashes")
    if not path.name.startswith(f"{data['id']}-{data['name']}."):
        raise RuleFileError(f"{where}: file must be named {data['id']}-{data['name']}.toml")
    if data["severity"] not in SEVERITIES:
        raise RuleFileError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
    if data["confidence"] not in ("high", "medium", "low"):
        raise RuleFileError(f"{where}: confidence must be high, medium or low")
    if data["scope"] not in ("check", "gate"):
        raise RuleFileError(f"{where}: scope must be 'check' or 'gate'")
    example = data.get("example", {})
    if not isinstance(example, dict) or set(example) - {"bad", "good"}:
        raise RuleFileError(f"{where}: [example] takes 'bad' and 'good' C sources")
    if data["scope"] == "check" and not ({"bad", "good"} <= set(example)):
        raise RuleFileError(f"{where}: a check rule needs [example] bad and good sources")
    return Rule(
        id=data["id"],
        name=data["name"],
        severity=data["severity"],
        confidence=data["confidence"],
        summary=data["summary"].strip(),
        rationale=data["rationale"].strip(),
        fix=data["fix"].strip(),
        commits=_commits(data["commits"], where),
        scope=data["scope"],
        references=_str_list(data.get("references", []), "references", where),
        aliases=_str_list(data.get("aliases", []), "aliases", where),
        bad_example=example.get("bad"),
        good_example=example.get("good"),
        source=path.name,
    )


def load_rules(directory: Path | None = None) -> dict[str, Rule]:
    directory = directory or rules_dir()
    retired_file = directory / "retired.toml"
    retired: dict[str, str] = {}
    if retired_file.is_file():
        try:
            retired = dict(tomldata.load(retired_file).get("retired", {}))
        except ValueError as err:  # not UTF-8, not TOML
            raise RuleFileError(f"retired.toml: {err}") from None
    rules: dict[str, Rule] = {}
    for path in sorted(directory.glob("VDPA*.toml")):
        rule = parse_rule(path)
        if rule.id in rules:
            raise RuleFileError(f"{path.name}: id {rule.id} already used by {rules[rule.id].source}")
        if rule.id in retired:
            raise RuleFileError(f"{path.name}: id {rule.id} is retired and must not be reused")
        rules[rule.id] = rule
    names = [r.name for r in rules.values()] + [a for r in rules.values() for a in r.aliases]
    if len(names) != len(set(names)):
        raise RuleFileError("two rules share a name or alias")
    return rules


def resolve_rule_ids(rules: dict[str, Rule], requested: list[str]) -> set[str]:
    """Map ids, names and aliases given on the command line to rule ids."""
    out: set[str] = set()
    for item in requested:
        for token in filter(None, (t.strip() for t in item.split(","))):
            matches = [r.id for r in rules.values() if token.upper() == r.id or token in (r.name, *r.aliases)]
            if not matches:
                raise RuleFileError(f"unknown rule {token!r} (see 'vdpa-lint rules')")
            out.update(matches)
    return out
