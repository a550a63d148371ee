"""Expectations written inline in fixture C files (semgrep's ruleid:/ok:/todoruleid: style).

/* expect: VDPA001 VDPA002 */   these findings, on this line (repeat an id for two tables)
/* ok: VDPA001 */               this rule must not fire on this line
/* todo-expect: VDPA001 */      a known miss: not asserted, listed so it is not forgotten
/* todo-ok: VDPA001 */          a known false positive: not asserted either
/* parse-gap */                 tree-sitter may not parse this line (the fixture says so)
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

_ANNOTATION_RE = re.compile(r"/[*/]\s*(expect|ok|todo-expect|todo-ok|parse-gap)\b:?([^*\n]*)")
_ID_RE = re.compile(r"VDPA\d{3}")

Key = tuple[str, str, int]  # rule id, path, line


@dataclass
class Expectations:
    expect: Counter[Key] = field(default_factory=Counter)
    ok: set[Key] = field(default_factory=set)
    todo: set[Key] = field(default_factory=set)
    parse_gaps: set[tuple[str, int]] = field(default_factory=set)


def read_expectations(root: Path) -> Expectations:
    exp = Expectations()
    for path in sorted(root.rglob("*.[ch]")):
        rel = path.relative_to(root).as_posix()
        text = path.read_bytes().decode("utf-8", "replace")
        for lineno, line in enumerate(text.splitlines(), start=1):
            for m in _ANNOTATION_RE.finditer(line):
                kind, ids = m.group(1), _ID_RE.findall(m.group(2))
                if kind == "parse-gap":
                    exp.parse_gaps.add((rel, lineno))
                    continue
                if not ids:
                    raise ValueError(f"{rel}:{lineno}: '{kind}:' names no rule id")
                for rule_id in ids:
                    key = (rule_id, rel, lineno)
                    if kind == "expect":
                        exp.expect[key] += 1
                    elif kind == "ok":
                        exp.ok.add(key)
                    else:
                        exp.todo.add(key)
    return exp
