"""What `--version` prints and what `--help` ends with."""

from __future__ import annotations

import hashlib

from analyzer import __version__

EXIT_STATUSES = """exit status:
  0  nothing at or above --fail-on (cc: always, unless -Wsparse-error or --fail-on)
  1  findings at or above --fail-on
  2  the run could not be done (bad arguments, a missing path, a patch that does not apply,
     a malformed .vdpa-lint.toml), with one line on stderr"""


def _dist_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def rules_digest() -> str:
    """sha256 over the rule files, the knowledge base and the retired ids, by name: two
    installs that print the same digest judge with the same rule text and primitives."""
    from analyzer.semantics.kb import rules_dir

    h = hashlib.sha256()
    for path in sorted(rules_dir().glob("*.toml")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def version_text() -> str:
    return (
        f"vdpa-lint {__version__}\n"
        f"tree-sitter {_dist_version('tree-sitter')}, tree-sitter-c {_dist_version('tree-sitter-c')}\n"
        f"rules sha256:{rules_digest()}\n"
    )
