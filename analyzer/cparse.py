"""tree-sitter-c behind a small interface: parse bytes, walk nodes, read expressions."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import tree_sitter_c
from tree_sitter import Language, Node, Parser, Query, QueryCursor, Tree

from analyzer.cexpr import UNKNOWN, Expr, parse_int_literal


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


def field_path(node: Node) -> str:
    """`&dev->a.b[i].c` -> "a.b.c": the chain of member names, base and indices dropped."""
    parts: list[str] = []
    n: Node | None = node
    while n is not None:
        if n.type == "field_expression":
            f = n.child_by_field_name("field")
            parts.append(text(f) if f is not None else "?")
            n = n.child_by_field_name("argument")
        elif n.type in ("subscript_expression",):
            n = n.child_by_field_name("argument")
        elif n.type in ("pointer_expression", "parenthesized_expression", "cast_expression"):
            n = (
                n.child_by_field_name("argument")
                or n.child_by_field_name("value")
                or (n.named_children[-1] if n.named_children else None)
            )
        else:
            break
    return ".".join(reversed(parts))


_UNARY_OPS = {"!", "~", "-", "+"}


def expression(node: Node | None) -> Expr:
    """The Expr of a C expression node; anything not modelled becomes UNKNOWN."""
    if node is None:
        return UNKNOWN
    t = node.type
    if t == "number_literal":
        v = parse_int_literal(text(node))
        return ("int", v) if v is not None else UNKNOWN
    if t in ("identifier", "true", "false", "null"):
        name = text(node)
        if t == "true":
            return ("int", 1)
        if t in ("false", "null"):
            return ("int", 0)
        return ("id", name)
    if t == "parenthesized_expression":
        inner = [c for c in node.named_children if c.type != "comment"]
        return expression(inner[0]) if len(inner) == 1 else UNKNOWN
    if t == "cast_expression":
        return expression(node.child_by_field_name("value"))
    if t == "unary_expression":
        op = text(node.child_by_field_name("operator") or node.children[0])
        if op in _UNARY_OPS:
            return ("un", op, expression(node.child_by_field_name("argument")))
        return UNKNOWN
    if t == "binary_expression":
        op_node = node.child_by_field_name("operator")
        op = text(op_node) if op_node is not None else "?"
        return (
            "bin",
            op,
            expression(node.child_by_field_name("left")),
            expression(node.child_by_field_name("right")),
        )
    if t == "conditional_expression":
        return (
            "cond",
            expression(node.child_by_field_name("condition")),
            expression(node.child_by_field_name("consequence")),
            expression(node.child_by_field_name("alternative")),
        )
    if t == "call_expression":
        name = callee_name(node) or "?"
        return ("call", name)
    if t in ("field_expression", "subscript_expression", "pointer_expression"):
        return ("mem", text(node))
    return UNKNOWN


def line_of(node: Node) -> int:
    return node.start_point[0] + 1


def identifiers(node: Node) -> set[str]:
    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == "identifier":
            out.add(text(n))
        stack.extend(n.named_children)
    return out


def declared_name(decl: Node) -> str | None:
    n: Node | None = decl
    while n is not None:
        if n.type in ("identifier", "field_identifier"):
            return text(n)
        n = n.child_by_field_name("declarator") or (
            n.named_children[0] if n.type == "parenthesized_declarator" and n.named_children else None
        )
    return None
