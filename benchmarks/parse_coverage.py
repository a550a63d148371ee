"""How much of a tree's C vdpa-lint's parser recovers, against independent counts.

Definitions: universal-ctags (Debian's universal-ctags) lists every function
definition with its line and end line; vdpa-lint must recover each one.
Call sites: inside each ctags-reported body, every `name(` that is not a C
keyword, after comments and strings are blanked, is a call site (or a macro
invocation, which vdpa-lint also records); iterator macros (`*for_each*`) are
control flow, not calls, and are left out. A site counts as found when
vdpa-lint recorded a call at the same line and column.

    python benchmarks/parse_coverage.py <dir>     (e.g. linux-6.12/drivers/vdpa)
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from analyzer.extract import extract

KEYWORDS = {
    "if",
    "for",
    "while",
    "switch",
    "return",
    "sizeof",
    "typeof",
    "__typeof__",
    "__attribute__",
    "__builtin_expect",
    "_Generic",
    "alignof",
    "__alignof__",
    "offsetof",
    "defined",
    "asm",
    "__asm__",
    "do",
    "else",
    "case",
    "goto",
    "_Static_assert",
    "static_assert",
    "__is_constexpr",
}
_NOISE_RE = re.compile(rb"/\*.*?\*/|//[^\n]*|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", re.S)
_CALL_RE = re.compile(rb"\b([A-Za-z_]\w*)\s*\(")


def _blank_noise(src: bytes) -> bytes:
    return _NOISE_RE.sub(lambda m: re.sub(rb"[^\n]", b" ", m.group()), src)


def ctags_functions(root: Path) -> list[dict[str, object]]:
    out = subprocess.run(
        ["ctags", "--output-format=json", "--kinds-C=f", "--fields=+ne", "-R", "-f", "-", str(root)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    tags = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    # ctags reads a top-level macro invocation such as DEFINE_FREE(...) as a function
    # definition; kernel functions are never all capitals, so those are left out.
    return [
        t
        for t in tags
        if t.get("_type") == "tag" and t.get("kind") == "function" and not str(t["name"]).isupper()
    ]


def main(root: Path) -> None:
    tags = ctags_functions(root)
    by_file: dict[str, list[dict[str, object]]] = {}
    for t in tags:
        by_file.setdefault(str(t["path"]), []).append(t)
    defs_found = sites = sites_found = 0
    missed_defs: list[str] = []
    missed_sites: list[str] = []
    for path, ftags in sorted(by_file.items()):
        src = Path(path).read_bytes()
        facts = extract(path, src)
        ours = {(f.name, f.line) for f in facts.functions}
        calls = {(c.line, c.column) for f in facts.functions for c in f.calls}
        lines = _blank_noise(src).split(b"\n")
        for t in ftags:
            name, line, end = str(t["name"]), int(t["line"]), int(t.get("end", t["line"]))
            if (name, line) in ours:
                defs_found += 1
            else:
                missed_defs.append(f"{path}:{line}: {name}")
            body = lines[line:end]  # from the line after the name to the closing brace
            for n, text in enumerate(body, start=line + 1):
                for m in _CALL_RE.finditer(text):
                    callee = m.group(1).decode()
                    if callee in KEYWORDS or "for_each" in callee or "foreach" in callee:
                        continue
                    sites += 1
                    if (n, m.start(1) + 1) in calls:
                        sites_found += 1
                    else:
                        missed_sites.append(f"{path}:{n}:{m.start(1) + 1}: {callee}")
    print(f"function definitions: {defs_found}/{len(tags)} ({100 * defs_found / max(1, len(tags)):.2f}%)")
    print(f"call sites:           {sites_found}/{sites} ({100 * sites_found / max(1, sites):.2f}%)")
    for miss in missed_defs[:20]:
        print(f"  missed definition {miss}")
    for miss in missed_sites[:40]:
        print(f"  missed call site {miss}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
