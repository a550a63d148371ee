"""tree-sitter-c behind a small interface: parse bytes, query and walk nodes."""

from __future__ import annotations

import importlib.util
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from tree_sitter import Language, Node, Parser, Query, QueryCursor, Tree


def grammar_dir() -> Path:
    """Where the tree-sitter-c package lives (found, not imported)."""
    spec = importlib.util.find_spec("tree_sitter_c")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("tree-sitter-c is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _binding() -> Any:
    """tree-sitter-c's compiled grammar, loaded without the package's __init__, which imports
    importlib.resources (and with it tempfile, shutil, random, bz2, lzma) for query files
    vdpa-lint never reads: a tenth of the start-up of a small run."""
    try:
        binary = next(grammar_dir().glob("_binding*.so"))
        spec = importlib.util.spec_from_file_location("tree_sitter_c._binding", binary)
        if spec is None or spec.loader is None:
            raise ImportError(str(binary))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    except (ImportError, OSError, StopIteration):
        import tree_sitter_c  # the package's own way, whatever its layout

        return tree_sitter_c


@lru_cache(maxsize=1)
def _language() -> Language:
    return Language(_binding().language())


@lru_cache(maxsize=1)
def _parser() -> Parser:
    return Parser(_language())


@lru_cache(maxsize=16)
def _query(node_types: tuple[str, ...]) -> Query:
    return Query(_language(), " ".join(f"({t}) @{t}" for t in node_types))


def captures(root: Node, *node_types: str, at: Sequence[int] | None = None) -> dict[str, list[Node]]:
    """Every node of these types under root (root included), by type, each list in source
    order, found by tree-sitter itself in one walk of the tree (each walk of a 4,000-line
    file costs about 10 ms). Queried child by child: over one node with many error children
    (a line of 50,000 `{`) tree-sitter's cursor takes time quadratic in their number.
    at: sorted byte offsets; then only the children of root that hold one are walked (the
    caller vouches that every node it wants holds one). Every query is compiled once per
    process (about 5 ms each): ask for the same types, and keep what you need."""
    cursor = QueryCursor(_query(node_types))
    found: dict[str, list[Node]] = {t: [root] if root.type == t else [] for t in node_types}
    for child in root.children:
        if at is not None:
            i = bisect_left(at, child.start_byte)
            if i == len(at) or at[i] >= child.end_byte:
                continue
        for t, nodes in cursor.captures(child).items():
            found[t].extend(nodes)
    for nodes in found.values():  # a walk's order is the patterns' within a child
        nodes.sort(key=lambda n: n.start_byte)
    return found


def parse(src: bytes) -> Tree:
    return _parser().parse(src)


def text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def gaps(node: Node) -> Iterator[Node]:
    """ERROR and MISSING nodes under node: the places tree-sitter could not parse."""
    if not node.has_error:
        return
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == "ERROR" or n.is_missing:
            yield n
            continue
        stack.extend(c for c in n.children if c.has_error)


def callee_name(call: Node) -> str | None:
    fn = call.child_by_field_name("function")
    while fn is not None and fn.type == "parenthesized_expression":
        fn = fn.named_children[0] if fn.named_children else None
    if fn is not None and fn.type == "identifier":
        return text(fn)
    return None


def swallowed(definition: Node) -> bool:
    """Whether a function definition nested in another is the next function of the file,
    read into the one before because a brace was left open: kernel C has no nested
    functions, and a function starts at column 0. An indented one is a macro taking a
    block (`scoped_guard(rcu) { ... }`), which the parser reads as a definition."""
    return definition.start_point[1] == 0


def line_of(node: Node) -> int:
    return node.start_point[0] + 1


def declared_name(decl: Node) -> str | None:
    n: Node | None = decl
    while n is not None:
        if n.type in ("identifier", "field_identifier"):
            return text(n)
        n = n.child_by_field_name("declarator") or (
            n.named_children[0] if n.type == "parenthesized_declarator" and n.named_children else None
        )
    return None
