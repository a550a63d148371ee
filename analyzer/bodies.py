"""Function bodies: every call with the guards it runs under, member writes, and locals.

The only part of the extractor that walks statements and expressions; extract.py
reads the file's top level and hands each body here, when the walk first needs it.
"""

from __future__ import annotations

import sys

from tree_sitter import Node

from analyzer.cexpr import Expr, names_in
from analyzer.cparse import callee_name, declared_name, expression, field_path, identifiers, line_of, text
from analyzer.facts import Call, FieldWrite, FunctionBody, Guard

_JUMPS = ("return_statement", "goto_statement", "break_statement", "continue_statement")

sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))

# Nodes that never hold a call or an assignment: not worth a visit.
_LEAVES = frozenset(
    {
        "identifier",
        "field_identifier",
        "number_literal",
        "string_literal",
        "char_literal",
        "concatenated_string",
        "comment",
        "primitive_type",
        "type_identifier",
        "sized_type_specifier",
        "type_qualifier",
        "storage_class_specifier",
        "true",
        "false",
        "null",
        "statement_identifier",
        "break_statement",
        "continue_statement",
        "goto_statement",
        "type_descriptor",
        "struct_specifier",
        "preproc_call",
        "preproc_def",
        "preproc_function_def",
    }
)


def _always_jumps(stmt: Node) -> bool:
    if stmt.type in _JUMPS:
        return True
    if stmt.type == "compound_statement":
        body = [c for c in stmt.named_children if c.type != "comment"]
        return bool(body) and body[-1].type in _JUMPS
    return False


class _FunctionWalker:
    """Collects calls, member writes and single-assignment locals of one body,
    each call with the guards under which it runs."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.writes: list[FieldWrite] = []
        self.assigned: dict[str, list[Expr]] = {}
        self.local_reads: dict[str, set[str]] = {}

    def guard(self, cond: Node, holds: bool) -> Guard:
        shown = cond
        while shown.type == "parenthesized_expression" and shown.named_child_count == 1:
            shown = shown.named_children[0]
        return Guard(expression(cond), holds, " ".join(text(shown).split()), line_of(cond))

    def visit(self, node: Node, guards: tuple[Guard, ...]) -> None:
        t = node.type
        if t in _LEAVES:
            return
        handler = getattr(self, "_" + t, None)
        if handler is not None:
            handler(node, guards)
            return
        for child in node.named_children:
            self.visit(child, guards)

    def _compound_statement(self, node: Node, guards: tuple[Guard, ...]) -> None:
        extra: tuple[Guard, ...] = ()
        for child in node.named_children:
            if child.type == "labeled_statement":
                extra = ()  # a jump target: reached whatever the earlier early exits said
            self.visit(child, guards + extra)
            if child.type == "if_statement" and child.child_by_field_name("alternative") is None:
                cons = child.child_by_field_name("consequence")
                cond = child.child_by_field_name("condition")
                if cons is not None and cond is not None and _always_jumps(cons):
                    extra = extra + (self.guard(cond, False),)

    def _if_statement(self, node: Node, guards: tuple[Guard, ...]) -> None:
        cond = node.child_by_field_name("condition")
        cons = node.child_by_field_name("consequence")
        alt = node.child_by_field_name("alternative")
        if cond is None:
            for child in node.named_children:
                self.visit(child, guards)
            return
        self.visit(cond, guards)
        if cons is not None:
            self.visit(cons, guards + (self.guard(cond, True),))
        if alt is not None:
            self.visit(alt, guards + (self.guard(cond, False),))

    def _conditional_expression(self, node: Node, guards: tuple[Guard, ...]) -> None:
        cond = node.child_by_field_name("condition")
        if cond is None:
            for child in node.named_children:
                self.visit(child, guards)
            return
        self.visit(cond, guards)
        for name, holds in (("consequence", True), ("alternative", False)):
            part = node.child_by_field_name(name)
            if part is not None:
                self.visit(part, guards + (self.guard(cond, holds),))

    def _binary_expression(self, node: Node, guards: tuple[Guard, ...]) -> None:
        op = node.child_by_field_name("operator")
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        op_text = text(op) if op is not None else ""
        if left is None or right is None or op_text not in ("&&", "||"):
            for child in node.named_children:
                self.visit(child, guards)
            return
        self.visit(left, guards)
        self.visit(right, guards + (self.guard(left, op_text == "&&"),))

    def _while_statement(self, node: Node, guards: tuple[Guard, ...]) -> None:
        cond = node.child_by_field_name("condition")
        body = node.child_by_field_name("body")
        if cond is not None:
            self.visit(cond, guards)
        if body is not None:
            inner = guards + ((self.guard(cond, True),) if cond is not None else ())
            self.visit(body, inner)

    def _call_expression(self, node: Node, guards: tuple[Guard, ...]) -> None:
        name = callee_name(node)
        fn_node = node.child_by_field_name("function")
        indirect = name is None and fn_node is not None and fn_node.type == "field_expression"
        at = node
        if indirect and fn_node is not None:
            name = " ".join(text(fn_node).split())
            at = fn_node.child_by_field_name("field") or node  # where the pointer's name is
        args_node = node.child_by_field_name("arguments")
        args = [c for c in args_node.named_children if c.type != "comment"] if args_node else []
        if name is not None:
            self.calls.append(
                Call(
                    callee=name,
                    args=tuple(expression(a) for a in args),
                    arg_texts=tuple(" ".join(text(a).split()) for a in args),
                    arg_paths=tuple(field_path(a) for a in args),
                    line=line_of(at),
                    column=at.start_point[1] + 1,
                    guards=guards,
                    indirect=indirect,
                )
            )
        for child in node.named_children:
            self.visit(child, guards)

    def _assignment_expression(self, node: Node, guards: tuple[Guard, ...]) -> None:
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        op = node.child_by_field_name("operator")
        if left is not None and right is not None:
            if left.type in ("field_expression", "subscript_expression", "pointer_expression"):
                key = field_path(left)
                if key:
                    reads = frozenset(names_in(expression(right)) | identifiers(right))
                    self.writes.append(FieldWrite(key, reads, line_of(left), left.start_point[1] + 1, guards))
            elif left.type == "identifier":
                plain = op is not None and text(op) == "="
                value = expression(right) if plain else ("?",)
                self.assigned.setdefault(text(left), []).append(value)
                self.local_reads.setdefault(text(left), set()).update(identifiers(right))
        for child in node.named_children:
            self.visit(child, guards)

    def _update_expression(self, node: Node, guards: tuple[Guard, ...]) -> None:
        arg = node.child_by_field_name("argument")
        if arg is not None and arg.type == "identifier":
            self.assigned.setdefault(text(arg), []).append(("?",))
        for child in node.named_children:
            self.visit(child, guards)

    def _init_declarator(self, node: Node, guards: tuple[Guard, ...]) -> None:
        decl = node.child_by_field_name("declarator")
        value = node.child_by_field_name("value")
        name = declared_name(decl) if decl is not None else None
        if name is not None and value is not None:
            self.assigned.setdefault(name, []).append(expression(value))
            self.local_reads.setdefault(name, set()).update(identifiers(value))
        for child in node.named_children:
            self.visit(child, guards)


def read_body(body: Node) -> FunctionBody:
    walker = _FunctionWalker()
    walker.visit(body, ())
    return FunctionBody(
        calls=tuple(walker.calls),
        writes=tuple(walker.writes),
        locals=tuple((k, v[0]) for k, v in walker.assigned.items() if len(v) == 1),
        local_reads=tuple((k, frozenset(v)) for k, v in walker.local_reads.items()),
    )
