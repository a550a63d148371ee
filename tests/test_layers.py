"""The house's shape: a lower layer never imports a higher one, and startup stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "analyzer"

# Lowest first (STYLE.md): source access and C parsing; facts; the semantic core (values,
# conditions, graphs, the knowledge base, then summaries over the tree); the model; rules;
# output; CLI. A module is placed by its longest listed prefix.
LAYERS = [
    {
        "source",
        "treecache",
        "cmask",
        "cconfig",
        "cexpr",
        "cparse",
        "gitrepo",
        "series",
        "treeinfo",
        "forkpool",
        "tomldata",
        "bytescan",
    },
    {"semantics.values", "semantics.conds", "semantics.graph", "semantics.cfg", "semantics.kb", "semantics"},
    {"facts", "extract", "api", "cache", "indexmemo"},
    {"index"},
    {"semantics.summaries", "semantics.program", "semantics.contract"},
    {"model"},
    {
        "findings",
        "rulebook",
        "driver",
        "checks",
        "engine",
        "roots",
        "resultcache",
        "gate",
        "suppress",
        "explain",
    },
    {"formats"},
    {"cli", "__main__", "progress", "output", "workflow"},
]


def _layer(module: str) -> int:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        for i, layer in enumerate(LAYERS):
            if prefix in layer:
                return i
    raise AssertionError(f"analyzer.{module} is in no layer: add it to LAYERS")


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("analyzer."):
            out.add(node.module.removeprefix("analyzer."))
        elif isinstance(node, ast.Import):
            out.update(a.name.removeprefix("analyzer.") for a in node.names if a.name.startswith("analyzer."))
    return out


def test_no_layer_imports_a_higher_one() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("").as_posix().replace("/", ".")
        if rel == "__init__":
            continue
        mine = _layer(rel)
        for imported in _imports(path):
            assert _layer(imported) <= mine, f"analyzer.{rel} (layer {mine}) imports analyzer.{imported}"


def test_startup_is_light() -> None:
    """`rules` needs neither tree-sitter nor Jinja2; `check --format text` needs no Jinja2, and
    nothing imports dataclasses (inspect, ast, dis and tokenize come with it: a sixth of
    the start-up of a small run)."""
    code = (
        "import sys, io, contextlib\n"
        "from analyzer.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['rules'])\n"
        "print('tree_sitter' in sys.modules, 'jinja2' in sys.modules)\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main(['check', '--fail-on', 'never', {str(PACKAGE.parent / 'fixtures' / 'demo-kernel')!r}])\n"
        "print('tree_sitter' in sys.modules, 'jinja2' in sys.modules)\n"
        "print('dataclasses' in sys.modules, 'inspect' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "True", "False", "False", "False"]
