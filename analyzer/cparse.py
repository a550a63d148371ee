"""tree-sitter-c behind a small interface: parse bytes, query and walk nodes."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import tree_sitter_c
from tree_sitter import Language, Node, Parser, Query, QueryCursor, Tree


@lru_cache(maxsize=1)
def _language() -> Language:
    return Language(tree_sitter_c.language())


@lru_cache(maxsize=1)
def _parser() -> Parser:
    return Parser(_language())


@lru_cache(maxsize=16)
def _query(node_type: str) -> Query:
    return Query(_language(), f"({node_type}) @n")


def captures(root: Node, node_type: str) -> list[Node]:
    """Every node of one type under root (root included), in source order, found by tree-sitter
    itself (fast). Queried child by child: over one node with many error children (a line of
    50,000 `{`) tree-sitter's cursor takes time quadratic in their number, seconds per query."""
    cursor = QueryCursor(_query(node_type))
    found = [root] if root.type == node_type else []
    for child in root.children:
        found.extend(cursor.captures(child).get("n", []))
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
