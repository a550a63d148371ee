"""A function body as a small control-flow graph (Coccinelle builds one per function too).

Nodes hold events in evaluation order (calls, assignments to locals, member writes,
parse gaps) and end in one terminator: jump, branch on a value, switch on a value,
return, or a choice the analysis cannot decide (the sides of an `#if`). Every C
statement shape maps onto these: if/else, switch/case/default with fallthrough, goto
and labels, while/for/do loops, break/continue/return. Values in events are
abstract values (values.py) that still name locals (`("var", name)`) and call results
(`("ret", k)`); the summary pass resolves them along the graph.

The graph is a plain picklable value: it is what the facts cache stores per function.
"""

from __future__ import annotations

from typing import Any

from tree_sitter import Node

from analyzer.cexpr import parse_int_literal
from analyzer.cparse import callee_name, declared_name, line_of, swallowed, text
from analyzer.semantics.graph import Cfg, CfgNode, Event, Term
from analyzer.semantics.values import ONE, ZERO, Value, const, unknown

_CONTAINER_OF = {"container_of", "container_of_const"}
_SKIP = {"comment", "type_definition", "preproc_def", "preproc_function_def", "preproc_call", "empty"}
# Statements and expressions nested deeper than this are read as a parse gap: real code stays far
# below it (the functions Linux 6.1 and 6.12 ops tables reach nest 17 deep at most), and walking deeper
# nesting, here and in the passes over its values, would exceed Python's recursion limit.
MAX_NESTING = 150


class _Draft:
    __slots__ = ("events", "line", "term")

    def __init__(self, line: int) -> None:
        self.events: list[Event] = []
        self.term: Term | None = None
        self.line = line


class _Builder:
    def __init__(self, params: tuple[str, ...]) -> None:
        self.params = params
        self.locals: set[str] = set(params)
        self.nodes: list[_Draft] = []
        self.cur: int | None = self.new(0)
        self.calls = 0
        self.breaks: list[int] = []
        self.continues: list[int] = []
        self.labels: dict[str, int] = {}
        self.guards: tuple[tuple[Value, bool], ...] = ()
        self.depth = 0

    # -- graph ----------------------------------------------------------------------------
    def new(self, line: int) -> int:
        self.nodes.append(_Draft(line))
        return len(self.nodes) - 1

    def here(self, line: int) -> _Draft:
        if self.cur is None:  # code after a jump: reachable only through a label
            self.cur = self.new(line)
        return self.nodes[self.cur]

    def end(self, term: Term) -> None:
        if self.cur is not None:
            self.nodes[self.cur].term = term
        self.cur = None

    def goto(self, target: int) -> None:
        self.end(("jump", target))

    def start(self, node: int) -> None:
        if self.cur is not None:
            self.goto(node)
        self.cur = node

    def label(self, name: str) -> int:
        if name not in self.labels:
            self.labels[name] = self.new(0)
        return self.labels[name]

    # -- statements -----------------------------------------------------------------------
    def stmt(self, node: Node) -> None:
        t = node.type
        if t in _SKIP:
            return
        if self.depth >= MAX_NESTING:
            self.here(line_of(node)).events.append(("gap", line_of(node)))
            return
        self.depth += 1
        try:
            self._stmt(node, t)
        finally:
            self.depth -= 1

    def _stmt(self, node: Node, t: str) -> None:
        handler = getattr(self, "_s_" + t, None)
        if handler is not None:
            handler(node)
        elif t == "ERROR" or node.is_missing:
            self.here(line_of(node)).events.append(("gap", line_of(node)))
        elif t.endswith("_statement") or t.startswith("preproc_"):
            for c in node.named_children:
                self.stmt(c)
        else:
            self.expr(node)

    def _s_compound_statement(self, node: Node) -> None:
        last = node.child(node.child_count - 1) if node.has_error else None
        if last is not None and last.is_missing:  # a brace left open: what follows is not this block's
            self.here(line_of(last)).events.append(("gap", line_of(last)))
        for c in node.named_children:
            self.stmt(c)

    def _s_function_definition(self, node: Node) -> None:
        # The next function, read into this one: its calls are not this function's. Else a
        # macro taking a block: the block runs.
        if swallowed(node):
            self.here(line_of(node)).events.append(("gap", line_of(node)))
            return
        body = node.child_by_field_name("body")
        if body is not None:
            self.stmt(body)

    def _s_expression_statement(self, node: Node) -> None:
        for c in node.named_children:
            self.expr(c)

    def _s_declaration(self, node: Node) -> None:
        for d in node.children_by_field_name("declarator"):
            if d.type == "init_declarator":
                name = declared_name(d.child_by_field_name("declarator") or d)
                value = d.child_by_field_name("value")
                v = self.expr(value) if value is not None and value.type != "initializer_list" else None
                if name:
                    self.locals.add(name)
                    self.set_local(
                        name, v if v is not None else unknown(f"{name} set by an initializer list"), d
                    )
            else:
                name = declared_name(d)
                if name:
                    self.locals.add(name)
                    self.set_local(name, unknown(f"{name} not initialised"), d)

    def _s_if_statement(self, node: Node) -> None:
        cond = node.child_by_field_name("condition")
        value = self.expr(cond) if cond is not None else unknown("no condition")
        cons = node.child_by_field_name("consequence")
        alt = node.child_by_field_name("alternative")
        line = line_of(node)
        t_node, join = self.new(line), self.new(line)
        f_node = self.new(line) if alt is not None else join
        self.here(line)
        self.end(("branch", value, t_node, f_node))
        self.cur = t_node
        if cons is not None:
            self.stmt(cons)
        self.start(join) if alt is None else self.goto(join)
        if alt is not None:
            self.cur = f_node
            body = [c for c in alt.named_children if c.type != "comment"]
            for c in body:
                self.stmt(c)
            self.start(join)
        self.cur = join

    def _loop(self, node: Node, cond: Node | None, body: Node | None, update: Node | None, do: bool) -> None:
        line = line_of(node)
        head, body_n, exit_n = self.new(line), self.new(line), self.new(line)
        step = self.new(line) if update is not None else head
        self.start(body_n if do else head)
        if not do:
            self._test(cond, body_n, exit_n)
        self.cur = body_n
        self.breaks.append(exit_n)
        self.continues.append(step if not do else head)
        if body is not None:
            self.stmt(body)
        self.breaks.pop()
        self.continues.pop()
        if update is not None:
            self.start(step)
            self.expr(update)
            self.goto(head)
        elif do:
            self.start(head)
            self._test(cond, body_n, exit_n)
        else:
            self.goto(head)
        self.cur = exit_n

    def _test(self, cond: Node | None, yes: int, no: int) -> None:
        value = self.expr(cond) if cond is not None else ONE
        self.here(line_of(cond) if cond is not None else 0)
        self.end(("branch", value, yes, no))

    def _s_while_statement(self, node: Node) -> None:
        self._loop(node, node.child_by_field_name("condition"), node.child_by_field_name("body"), None, False)

    def _s_do_statement(self, node: Node) -> None:
        self._loop(node, node.child_by_field_name("condition"), node.child_by_field_name("body"), None, True)

    def _s_for_statement(self, node: Node) -> None:
        init = node.child_by_field_name("initializer")
        if init is not None:
            self.stmt(init) if init.type == "declaration" else self.expr(init)
        self._loop(
            node,
            node.child_by_field_name("condition"),
            node.child_by_field_name("body"),
            node.child_by_field_name("update"),
            False,
        )

    def _s_switch_statement(self, node: Node) -> None:
        cond = node.child_by_field_name("condition")
        value = self.expr(cond) if cond is not None else unknown("no condition")
        line = line_of(node)
        self.here(line)
        switch_at, exit_n = self.cur, self.new(line)
        self.cur = None
        cases: list[tuple[Value, int]] = []
        default = exit_n
        self.breaks.append(exit_n)
        body = node.child_by_field_name("body")
        for c in body.named_children if body is not None else ():
            if c.type != "case_statement":
                self.stmt(c)
                continue
            case_n = self.new(line_of(c))
            self.start(case_n)  # fallthrough from the case above
            v = c.child_by_field_name("value")
            if v is None:
                default = case_n
            else:
                cases.append((self.const_expr(v), case_n))
            for s in c.named_children:
                if s != v:
                    self.stmt(s)
        self.breaks.pop()
        self.start(exit_n)
        assert switch_at is not None
        self.nodes[switch_at].term = ("switch", value, tuple(cases), default)
        self.cur = exit_n

    def _s_case_statement(self, node: Node) -> None:  # a case outside a switch body: keep its code
        for s in node.named_children[1:]:
            self.stmt(s)

    def _s_return_statement(self, node: Node) -> None:
        values = [c for c in node.named_children if c.type != "comment"]
        v = self.expr(values[0]) if values else None
        self.here(line_of(node))
        self.end(("return", v))

    def _s_break_statement(self, node: Node) -> None:
        if self.breaks:
            self.here(line_of(node))
            self.goto(self.breaks[-1])

    def _s_continue_statement(self, node: Node) -> None:
        if self.continues:
            self.here(line_of(node))
            self.goto(self.continues[-1])

    def _s_goto_statement(self, node: Node) -> None:
        lab = node.child_by_field_name("label")
        self.here(line_of(node))
        if lab is not None:
            self.goto(self.label(text(lab)))

    def _s_labeled_statement(self, node: Node) -> None:
        lab = node.child_by_field_name("label")
        if lab is not None:
            n = self.label(text(lab))
            self.nodes[n].line = line_of(node)
            self.start(n)
        for c in node.named_children:
            if c != lab:
                self.stmt(c)

    def _s_attributed_statement(self, node: Node) -> None:
        for c in node.named_children:
            if c.type != "attribute_declaration":
                self.stmt(c)

    def _preproc(self, node: Node) -> None:
        """`#if` inside a body: both sides may run (SPEC §3: analyse both branches)."""
        line = line_of(node)
        self.here(line)
        join = self.new(line)
        sides: list[list[Node]] = [[]]
        for c in node.named_children:
            if c.type in ("preproc_else", "preproc_elif", "preproc_elifdef"):
                sides.append([x for x in c.named_children if _statement_like(x)])
                nested = [x for x in c.named_children if x.type in ("preproc_else", "preproc_elif")]
                for n in nested:
                    sides.append([x for x in n.named_children if _statement_like(x)])
            elif _statement_like(c) and c != node.child_by_field_name("condition"):
                sides[0].append(c)
        if len(sides) == 1:
            sides.append([])
        starts = [self.new(line) for _ in sides]
        self.end(("any", tuple(starts)))
        for s, stmts in zip(starts, sides, strict=True):
            self.cur = s
            for c in stmts:
                self.stmt(c)
            self.start(join)
        self.cur = join

    _s_preproc_if = _preproc
    _s_preproc_ifdef = _preproc

    # -- expressions ----------------------------------------------------------------------
    def set_local(self, name: str, value: Value, node: Node) -> None:
        self.here(line_of(node)).events.append(("set", name, value, self.guards))

    def const_expr(self, node: Node) -> Value:
        return self.expr(node)

    def expr(self, node: Node | None) -> Value:
        if node is None:
            return unknown("missing expression")
        if self.depth >= MAX_NESTING:
            self.here(line_of(node)).events.append(("gap", line_of(node)))
            return unknown("expression nested too deep")
        self.depth += 1
        try:
            return self._expr(node)
        finally:
            self.depth -= 1

    def _expr(self, node: Node) -> Value:
        t = node.type
        handler = getattr(self, "_e_" + t, None)
        if handler is not None:
            return handler(node)  # type: ignore[no-any-return]
        if t in ("string_literal", "concatenated_string", "char_literal", "sizeof_expression"):
            return unknown(t.replace("_", " "))
        if t == "ERROR":
            self.here(line_of(node)).events.append(("gap", line_of(node)))
            return unknown("unparsed expression")
        for c in node.named_children:  # keep the calls of anything not modelled
            self.expr(c)
        return unknown(f"{t.replace('_', ' ')} not modelled")

    def _e_number_literal(self, node: Node) -> Value:
        v = parse_int_literal(text(node))
        return const(v) if v is not None else unknown("number")

    def _e_true(self, node: Node) -> Value:
        return ONE

    def _e_false(self, node: Node) -> Value:
        return ZERO

    def _e_null(self, node: Node) -> Value:
        return ZERO

    def _e_identifier(self, node: Node) -> Value:
        name = text(node)
        if name in self.locals:
            return ("var", name)
        if name == "NULL":
            return ZERO
        return ("id", name)

    def _e_parenthesized_expression(self, node: Node) -> Value:
        inner = [c for c in node.named_children if c.type != "comment"]
        if len(inner) == 1:
            return self.expr(inner[0])
        for c in inner:
            self.expr(c)
        return unknown("statement expression")

    def _e_cast_expression(self, node: Node) -> Value:
        type_node = node.child_by_field_name("type")
        return (
            "cast",
            text(type_node) if type_node is not None else "",
            self.expr(node.child_by_field_name("value")),
        )

    def _e_unary_expression(self, node: Node) -> Value:
        op = node.child_by_field_name("operator")
        return ("un", text(op) if op is not None else "?", self.expr(node.child_by_field_name("argument")))

    def _e_pointer_expression(self, node: Node) -> Value:
        op = node.child_by_field_name("operator")
        inner = self.expr(node.child_by_field_name("argument"))
        return ("addr", inner) if op is not None and text(op) == "&" else ("deref", inner)

    def _e_field_expression(self, node: Node) -> Value:
        f = node.child_by_field_name("field")
        return ("mem", self.expr(node.child_by_field_name("argument")), text(f) if f is not None else "?")

    def _e_subscript_expression(self, node: Node) -> Value:
        return (
            "idx",
            self.expr(node.child_by_field_name("argument")),
            self.expr(node.child_by_field_name("index")),
        )

    def _e_comma_expression(self, node: Node) -> Value:
        self.expr(node.child_by_field_name("left"))
        return self.expr(node.child_by_field_name("right"))

    def _e_binary_expression(self, node: Node) -> Value:
        op_node = node.child_by_field_name("operator")
        op = text(op_node) if op_node is not None else "?"
        left = self.expr(node.child_by_field_name("left"))
        if op in ("&&", "||"):
            saved = self.guards
            self.guards = saved + ((left, op == "&&"),)
            right = self.expr(node.child_by_field_name("right"))
            self.guards = saved
        else:
            right = self.expr(node.child_by_field_name("right"))
        return ("bin", op, left, right)

    def _e_conditional_expression(self, node: Node) -> Value:
        c = self.expr(node.child_by_field_name("condition"))
        saved = self.guards
        self.guards = saved + ((c, True),)
        a = self.expr(node.child_by_field_name("consequence"))
        self.guards = saved + ((c, False),)
        b = self.expr(node.child_by_field_name("alternative"))
        self.guards = saved
        return ("cond", c, a, b)

    def _e_assignment_expression(self, node: Node) -> Value:
        left = node.child_by_field_name("left")
        op_node = node.child_by_field_name("operator")
        op = text(op_node) if op_node is not None else "="
        value = self.expr(node.child_by_field_name("right"))
        if left is None:
            return value
        target = self.expr(left) if op != "=" else None
        if target is not None:
            value = ("bin", op[:-1], target, value)
        self.assign(left, value, target)
        return value

    def _e_update_expression(self, node: Node) -> Value:
        arg = node.child_by_field_name("argument")
        op = node.child_by_field_name("operator")
        if arg is None:
            return unknown("update")
        old = self.expr(arg)
        new = ("bin", "+" if op is not None and text(op) == "++" else "-", old, ONE)
        self.assign(arg, new, old)
        return new

    def assign(self, left: Node, value: Value, target: Value | None = None) -> None:
        """Store value to left; target is left already evaluated (by `+=` or `++`): evaluating
        it again would repeat its calls, and nested updates (`-- -- x`) would take 2^depth steps."""
        if left.type == "identifier":
            name = text(left)
            if name in self.locals:
                self.set_local(name, value, left)
                return
        if target is None:
            target = self.expr(left)
        if target[0] in ("mem", "idx", "deref"):
            self.here(line_of(left)).events.append(
                ("write", target, value, line_of(left), left.start_point[1] + 1, self.guards)
            )

    def _e_call_expression(self, node: Node) -> Value:
        name = callee_name(node)
        args_node = node.child_by_field_name("arguments")
        arg_nodes = [c for c in args_node.named_children if c.type != "comment"] if args_node else []
        if name in _CONTAINER_OF and arg_nodes:
            kind = text(arg_nodes[1]) if len(arg_nodes) > 1 else ""
            member = " ".join(text(arg_nodes[2]).split()) if len(arg_nodes) > 2 else ""
            return ("cof", self.expr(arg_nodes[0]), kind, member)
        fn_node = node.child_by_field_name("function")
        pointer: Value | None = None
        at = node
        if name is not None and name in self.locals:
            pointer, name = ("var", name), None  # a local function pointer
        elif name is None and fn_node is not None:
            pointer = self.expr(fn_node)
            at = fn_node.child_by_field_name("field") or fn_node
        args = tuple(self.expr(a) for a in arg_nodes)
        k = self.calls
        self.calls += 1
        shown = name or (" ".join(text(fn_node).split()) if fn_node is not None else "?")
        self.here(line_of(at)).events.append(
            ("call", k, name, pointer, args, line_of(at), at.start_point[1] + 1, self.guards, shown)
        )
        return ("ret", k)

    def _e_initializer_list(self, node: Node) -> Value:
        for c in node.named_children:
            self.expr(c)
        return unknown("initializer list")

    def _e_initializer_pair(self, node: Node) -> Value:
        return self.expr(node.child_by_field_name("value"))

    def _e_compound_literal_expression(self, node: Node) -> Value:
        self.expr(node.child_by_field_name("value"))
        return unknown("compound literal")

    def _e_compound_statement(self, node: Node) -> Value:
        self.stmt(node)  # GNU statement expression: its calls run
        return unknown("statement expression")

    def finish(self) -> Cfg:
        self.end(("exit",))
        nodes = []
        for n in self.nodes:
            nodes.append(CfgNode(tuple(n.events), n.term if n.term is not None else ("exit",), n.line))
        return Cfg(self.params, tuple(nodes), self.calls)


def _statement_like(node: Node) -> bool:
    return node.type not in ("identifier", "preproc_defined", "comment") and not node.type.endswith(
        "_expression"
    )


def build_cfg(body: Node, params: tuple[str, ...]) -> Cfg:
    b = _Builder(params)
    b.stmt(body)
    return b.finish()


def join_views(views: list[Cfg]) -> Cfg:
    """One function seen in several `#if` views: a graph whose entry may run either view."""
    if len(views) == 1:
        return views[0]
    nodes: list[CfgNode] = [CfgNode((), ("any", ()), 0)]
    starts: list[int] = []
    calls = 0
    for view in views:
        base = len(nodes)
        starts.append(base)
        for n in view.nodes:
            nodes.append(CfgNode(_shift_events(n.events, calls), _shift(n.term, base, calls), n.line))
        calls += view.calls
    nodes[0] = CfgNode((), ("any", tuple(starts)), 0)
    return Cfg(views[0].params, tuple(nodes), calls)


def _shift(term: Term, base: int, calls: int) -> Term:
    kind = term[0]
    if kind == "jump":
        return ("jump", term[1] + base)
    if kind == "branch":
        return ("branch", _shift_value(term[1], calls), term[2] + base, term[3] + base)
    if kind == "switch":
        cases = tuple((_shift_value(v, calls), n + base) for v, n in term[2])
        return ("switch", _shift_value(term[1], calls), cases, term[3] + base)
    if kind == "any":
        return ("any", tuple(n + base for n in term[1]))
    if kind == "return":
        return ("return", None if term[1] is None else _shift_value(term[1], calls))
    return term


def _shift_value(v: Any, calls: int) -> Any:
    if not isinstance(v, tuple) or not v:
        return v
    if v[0] == "ret":
        return ("ret", v[1] + calls)
    return tuple(_shift_value(p, calls) if isinstance(p, tuple) else p for p in v)


def _shift_events(events: tuple[Event, ...], calls: int) -> tuple[Event, ...]:
    if not calls:
        return events
    out = []
    for e in events:
        if e[0] == "call":
            out.append(("call", e[1] + calls, *(_shift_value(x, calls) for x in e[2:])))
        else:
            out.append(tuple(_shift_value(x, calls) for x in e))
    return tuple(out)
