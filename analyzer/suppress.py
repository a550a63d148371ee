"""Accepted findings: a baseline file (by fingerprint, each with a reason) and inline
comments `/* vdpa-lint: ignore VDPA001 -- reason */` on the finding's line or the line
above. A suppression must name a rule id and give a reason; unused ones are reported."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from analyzer import __version__
from analyzer.findings import Finding, Suppression
from analyzer.source import InputError

_COMMENT_RE = re.compile(r"(?:/\*|//)\s*vdpa-lint:\s*ignore\b(?P<body>.*?)(?:\*/|$)")
_ID_RE = re.compile(r"\bVDPA\d{3}\b")


class BaselineEntry(NamedTuple):
    fingerprint: str
    rule_id: str
    ops_table: str
    path: str
    message: str
    reason: str


class Filtered(NamedTuple):
    kept: tuple[Finding, ...]
    suppressed: tuple[tuple[Finding, str], ...]  # the finding, and by what, with the reason
    notes: tuple[tuple[str, int, str], ...]  # unused or malformed suppressions: path, line, text


def find_suppressions(path: str, data: bytes) -> list[Suppression]:
    if b"vdpa-lint:" not in data:
        return []
    out = []
    for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        m = _COMMENT_RE.search(line)
        if not m:
            continue
        body = m.group("body")
        ids, _, reason = body.partition("--")
        rule_ids = tuple(_ID_RE.findall(ids))
        problem = ""
        if not rule_ids:
            problem = "names no rule id (write: vdpa-lint: ignore VDPA001 -- reason)"
        elif not reason.strip():
            problem = "gives no reason after '--'"
        out.append(Suppression(path, n, rule_ids, reason.strip(), problem))
    return out


def load_baseline(path: Path) -> list[BaselineEntry]:
    try:
        import json

        data = json.loads(path.read_text(encoding="utf-8"))
        entries = [BaselineEntry(**e) for e in data["entries"]]
    except OSError as err:
        raise InputError(f"{path}: {err.strerror}") from None
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(f"{path}: not a vdpa-lint baseline ({err})") from None
    for e in entries:
        if not e.reason.strip():
            raise InputError(f"{path}: the entry for {e.rule_id} {e.path} gives no reason")
    return entries


def baseline_text(findings: Iterable[Finding], reason: str) -> str:
    entries = [
        BaselineEntry(
            f.fingerprint(), f.rule_id, f.ops_table.name if f.ops_table else "", f.path, f.message, reason
        )._asdict()
        for f in sorted(findings, key=Finding.sort_key)
    ]
    import json

    return json.dumps({"tool": "vdpa-lint", "version": __version__, "entries": entries}, indent=2) + "\n"


def apply(
    findings: Iterable[Finding], suppressions: Iterable[Suppression], baseline: Iterable[BaselineEntry]
) -> Filtered:
    accepted = {e.fingerprint: e for e in baseline}
    comments = [s for s in suppressions if not s.problem]
    used_baseline: set[str] = set()
    used_comments: set[Suppression] = set()
    kept: list[Finding] = []
    suppressed: list[tuple[Finding, str]] = []
    for f in findings:
        fp = f.fingerprint()
        hit = next(
            (
                s
                for s in comments
                if s.path == f.path and f.rule_id in s.rule_ids and s.line in (f.line, f.line - 1)
            ),
            None,
        )
        if hit is not None:
            used_comments.add(hit)
            suppressed.append((f, f"inline at {hit.path}:{hit.line}: {hit.reason}"))
        elif fp in accepted:
            used_baseline.add(fp)
            suppressed.append((f, f"baseline: {accepted[fp].reason}"))
        else:
            kept.append(f)
    notes = [(s.path, s.line, f"suppression {s.problem}") for s in suppressions if s.problem]
    notes += [
        (s.path, s.line, f"unused suppression of {', '.join(s.rule_ids)}")
        for s in comments
        if s not in used_comments
    ]
    notes += [
        (e.path, 0, f"unused baseline entry: {e.rule_id} {e.ops_table} ({e.message})")
        for fp, e in accepted.items()
        if fp not in used_baseline
    ]
    return Filtered(tuple(kept), tuple(suppressed), tuple(sorted(notes)))
