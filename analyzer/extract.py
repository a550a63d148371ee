"""Turn one C file into FileFacts: its functions (control-flow graphs built lazily), ops
tables, tables cleared at run time, numeric defines, and the struct vdpa_config_ops fields."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable

from tree_sitter import Node

from analyzer.bytescan import line_starts, whole_words
from analyzer.cconfig import KernelConfig, resolve_config
from analyzer.cexpr import parse_int_literal
from analyzer.cmask import conditional_variants, mask_kernel_idioms
from analyzer.cparse import captures, declared_name, gaps, line_of, parse, swallowed, text
from analyzer.facts import FileFacts, Function, OpsEntry, OpsRuntimeClear, OpsTable
from analyzer.semantics.cfg import build_cfg, join_views
from analyzer.semantics.graph import Cfg, CfgNode

OPS_STRUCT = "vdpa_config_ops"
# Led by `#` and checked to be first on its line (bytescan.py).
_DEFINE_RE = re.compile(
    rb"#[ \t]*define[ \t]+(\w+)[ \t]+\(?\s*(0[xX][0-9a-fA-F]+|\d+)[uUlL]*\s*\)?[ \t]*(?:/[*/].*)?$",
    re.M,
)


def defines_of(src: bytes) -> tuple[tuple[str, int], ...]:
    """The numeric #defines of a file, read from its bytes (no parse needed)."""
    return tuple(
        (m.group(1).decode(), v)
        for m in line_starts(_DEFINE_RE, src)
        for v in [parse_int_literal(m.group(2).decode())]
        if v is not None
    )


def _name_node(decl: Node | None) -> Node | None:
    n = decl
    while n is not None and n.type not in ("identifier", "field_identifier"):
        n = n.child_by_field_name("declarator")
    return n


def _function_declarator(decl: Node | None) -> Node | None:
    n = decl
    while n is not None and n.type != "function_declarator":
        n = n.child_by_field_name("declarator")
    return n


def _params(fdecl: Node) -> tuple[str, ...]:
    return tuple(name for name, _ in _typed_params(fdecl))


def _typed_params(fdecl: Node) -> list[tuple[str, str]]:
    """(name, struct type or "") of each parameter: `struct vdpasim *v` -> ("v", "vdpasim")."""
    plist = fdecl.child_by_field_name("parameters")
    out: list[tuple[str, str]] = []
    if plist is None:
        return out
    for p in plist.named_children:
        if p.type != "parameter_declaration":
            continue
        d = p.child_by_field_name("declarator")
        t = p.child_by_field_name("type")
        struct = ""
        if t is not None and t.type == "struct_specifier":
            n = t.child_by_field_name("name")
            struct = text(n) if n is not None else ""
        out.append(((declared_name(d) if d is not None else None) or f"arg{len(out)}", struct))
    return out


def _is_static(fn_node: Node) -> bool:
    return any(c.type == "storage_class_specifier" and text(c) == "static" for c in fn_node.children)


def _walk_top(node: Node) -> list[Node]:
    """Top-level definitions, looking inside preprocessor conditionals and ERROR wrappers."""
    out: list[Node] = []
    stack = list(reversed(node.named_children))
    while stack:
        n = stack.pop()
        if n.type in ("function_definition", "declaration"):
            out.append(n)
        elif _holds_top(n):
            stack.extend(reversed(n.named_children))
    return out


def _holds_top(node: Node) -> bool:
    """Whether a node at file scope holds file-scope definitions (conditionals, ERROR)."""
    return node.type.startswith("preproc_") or node.type in (
        "ERROR",
        "else_clause",
        "linkage_specification",
        "declaration_list",
    )


def _gap_lines(node: Node) -> tuple[int, ...]:
    return tuple(sorted({g.start_point[0] + 1 for g in gaps(node)}))


def _defined_name(node: Node) -> str | None:
    fdecl = _function_declarator(node.child_by_field_name("declarator"))
    name_node = fdecl.child_by_field_name("declarator") if fdecl is not None else None
    return declared_name(name_node) if name_node is not None else None


def _function(node: Node, path: str) -> Function | None:
    fdecl = _function_declarator(node.child_by_field_name("declarator"))
    body = node.child_by_field_name("body")
    if fdecl is None or body is None:
        return None
    name_node = fdecl.child_by_field_name("declarator")
    name = declared_name(name_node) if name_node is not None else None
    if name is None:
        return None
    at = _name_node(name_node) or node  # gcc and ctags place a function at its name
    typed = _typed_params(fdecl)
    params = tuple(n for n, _ in typed)
    return Function(
        name=name,
        path=path,
        line=line_of(at),
        column=at.start_point[1] + 1,
        end_line=node.end_point[0] + 1,
        static=_is_static(node),
        params=params,
        gap_lines=_gap_lines(node),
        source=lambda: build_cfg(body, params),
        param_types=tuple(t for _, t in typed),
    )


def _merge_views(fn: Function, views: list[Function]) -> Function:
    """One function seen in several #if views: a graph that may run either view."""
    clean = [v for v in views if not v.gap_lines]
    if not clean:
        return fn
    end = max(v.end_line for v in clean)

    def cfg() -> Cfg:
        return join_views([v.cfg for v in clean])

    return Function(
        fn.name,
        fn.path,
        fn.line,
        fn.column,
        end,
        fn.static,
        clean[0].params,
        (),
        cfg,
        param_types=clean[0].param_types,
    )


def _join_alternatives(functions: dict[tuple[str, int], Function]) -> None:
    """A name defined twice in one file is defined on the sides of a conditional (C allows
    one definition): one function that may run any of them, at the first one's place."""
    by_name: dict[str, list[tuple[str, int]]] = {}
    for key in functions:
        by_name.setdefault(key[0], []).append(key)
    for keys in by_name.values():
        if len(keys) < 2:
            continue
        defs = [functions.pop(k) for k in sorted(keys, key=lambda k: k[1])]
        first = defs[0]

        def cfg(defs: list[Function] = defs) -> Cfg:
            return join_views([d.cfg for d in defs])

        functions[(first.name, first.line)] = Function(
            first.name,
            first.path,
            first.line,
            first.column,
            max(d.end_line for d in defs),
            first.static,
            first.params,
            tuple(sorted({n for d in defs for n in d.gap_lines})),
            cfg,
            param_types=first.param_types,
        )


def _ops_table(node: Node, path: str) -> OpsTable | None:
    type_node = node.child_by_field_name("type")
    if type_node is None or type_node.type != "struct_specifier":
        return None
    name_node = type_node.child_by_field_name("name")
    if name_node is None or text(name_node) != OPS_STRUCT:
        return None
    init = node.child_by_field_name("declarator")
    if init is None or init.type != "init_declarator":
        return None  # a forward declaration or a pointer: not a table
    value = init.child_by_field_name("value")
    decl = init.child_by_field_name("declarator")
    name = declared_name(decl) if decl is not None else None
    if (
        value is None
        or value.type != "initializer_list"
        or name is None
        or decl is None
        or decl.type != "identifier"
    ):
        return None
    entries: list[OpsEntry] = []
    for pair in value.named_children:
        if pair.type != "initializer_pair":
            continue
        designator = pair.child_by_field_name("designator")
        val = pair.child_by_field_name("value")
        if designator is None or val is None or designator.type != "field_designator":
            continue
        op = text(designator).lstrip(".").strip()
        vtext = " ".join(text(val).split())
        fn: str | None = None
        conditional = False
        others: tuple[str, ...] = ()
        if val.type == "identifier" and vtext != "NULL":
            fn = vtext
        elif val.type == "conditional_expression":
            chosen = _chosen_functions(val)
            conditional = True
            if chosen:
                fn, others = chosen[0], tuple(chosen[1:])
        entries.append(
            OpsEntry(op, fn, line_of(designator), designator.start_point[1] + 1, vtext, conditional, others)
        )
    const = any(c.type == "type_qualifier" and text(c) == "const" for c in node.children)
    return OpsTable(
        name, path, line_of(node), node.start_point[1] + 1, const, tuple(entries), _gap_lines(node)
    )


def _chosen_functions(node: Node) -> list[str]:
    """The function names the branches of a `?:` (nested ones too) may give, in order."""
    out: list[str] = []
    for part in ("consequence", "alternative"):
        p = node.child_by_field_name(part)
        while p is not None and p.type == "parenthesized_expression" and p.named_children:
            p = p.named_children[0]
        if p is None:
            continue
        if p.type == "conditional_expression":
            out.extend(f for f in _chosen_functions(p) if f not in out)
        elif p.type == "identifier" and text(p) != "NULL" and text(p) not in out:
            out.append(text(p))
    return out


def _runtime_clears(assignments: list[Node], tables: set[str], path: str) -> list[OpsRuntimeClear]:
    """`x = table; ... x.op = NULL` (or `x.op = other_function`) inside one function body."""
    copies: dict[tuple[int, str], str] = {}  # (function start, copy expression) -> table
    out: list[OpsRuntimeClear] = []
    for a in sorted(assignments, key=lambda n: n.start_byte):
        left, right = a.child_by_field_name("left"), a.child_by_field_name("right")
        if left is None or right is None or right.type not in ("identifier", "null", "number_literal"):
            continue
        rtext = text(right).strip()
        copy = right.type == "identifier" and rtext in tables
        if not copy and left.type != "field_expression":
            continue
        fn = _enclosing_function(a)
        if fn is None:
            continue
        if copy:
            copies[(fn.start_byte, " ".join(text(left).split()))] = rtext
            continue
        if right.type == "number_literal" and rtext != "0":
            continue
        base = left.child_by_field_name("argument")
        member = left.child_by_field_name("field")
        key = (fn.start_byte, " ".join(text(base).split()) if base is not None else "")
        if key in copies and member is not None:
            name = _defined_name(fn) or "?"
            value = "" if rtext in ("NULL", "0") else rtext
            variable = bool(value) and value in _local_names(fn)
            block = a.parent
            while block is not None and block.type not in (
                "compound_statement",
                "if_statement",
                "case_statement",
            ):
                block = block.parent
            out.append(
                OpsRuntimeClear(
                    copies[key],
                    text(member),
                    path,
                    line_of(left),
                    left.start_point[1] + 1,
                    name,
                    value,
                    variable,
                    block.start_byte if block is not None else 0,
                )
            )
    return out


def _local_names(fn: Node) -> set[str]:
    """The parameters and locals a function declares: what an identifier there may be
    besides a function."""
    out: set[str] = set()
    stack = [fn.child_by_field_name("declarator"), fn.child_by_field_name("body")]
    while stack:
        n = stack.pop()
        if n is None:
            continue
        if n.type in ("parameter_declaration", "declaration"):
            for d in n.children_by_field_name("declarator"):
                name = declared_name(
                    d.child_by_field_name("declarator") or d if d.type == "init_declarator" else d
                )
                if name:
                    out.add(name)
        elif n.type != "function_definition":
            stack.extend(n.named_children)
    return out


def _enclosing_function(node: Node) -> Node | None:
    n = node.parent
    while n is not None and n.type != "function_definition":
        n = n.parent
    return n


def _config_ops_fields(root: Node) -> tuple[str, ...]:
    stack = [root]
    while stack:
        n = stack.pop()
        if n.type == "struct_specifier":
            name = n.child_by_field_name("name")
            body = n.child_by_field_name("body")
            if name is not None and body is not None and text(name) == OPS_STRUCT:
                fields: list[str] = []
                inner = [body]
                while inner:
                    m = inner.pop()
                    if m.type == "field_declaration":
                        for d in m.children_by_field_name("declarator"):
                            nm = declared_name(d)
                            if nm:
                                fields.append(nm)
                    else:
                        inner.extend(m.named_children)
                return tuple(sorted(set(fields)))
        stack.extend(n.named_children)
    return ()


def extract(path: str, src: bytes, config: KernelConfig | None = None) -> FileFacts:
    """config: the kernel configuration, when known (kbuild's); conditionals it decides are
    resolved first, the others analysed on both sides."""
    if config is not None:
        src = resolve_config(src, config)
    masked = mask_kernel_idioms(src)
    tree = parse(masked)
    root = tree.root_node
    tops = _walk_top(root)
    functions: dict[tuple[str, int], Function] = {}
    heads = _lost_heads(root)
    for n in tops:
        if n.type == "function_definition":
            fn = _function(n, path)
            if fn is not None:
                functions[(fn.name, fn.line)] = fn
                if fn.gap_lines:
                    heads.extend(_nested_definitions(n))
    if _views_may_help(masked, functions, root, heads):
        _add_views(path, masked, functions)
    _join_alternatives(functions)
    defined = {f.name for f in functions.values()}
    lost = tuple(h for h in heads if h[0] not in defined)
    tables = [t for n in tops if n.type == "declaration" for t in [_ops_table(n, path)] if t is not None]
    names = {t.name for t in tables}
    gates = {
        "assignment_expression": bool(names),
        "preproc_function_def": next(line_starts(_FUNCTION_MACRO_RE, src), None) is not None,
        "field_declaration": _IOTLB_MEMBER_RE.search(src) is not None,
    }
    nodes: dict[str, list[Node]] = {t: [] for t in _CAPTURED}
    if any(gates.values()):
        found = captures(root, *_CAPTURED, at=_marks(src, names, gates))
        nodes = {t: found[t] if gates[t] else [] for t in _CAPTURED}
    clears = _runtime_clears(nodes["assignment_expression"], names, path)
    defines = defines_of(src)
    fields = _config_ops_fields(root) if OPS_STRUCT.encode() + b" {" in src else ()
    ordered = sorted(functions.values(), key=lambda f: (f.line, f.name))
    macros = tuple(_macros(nodes["preproc_function_def"], path))
    iotlbs = tuple(_iotlb_fields(nodes["field_declaration"]))
    return FileFacts(
        path,
        tuple(ordered),
        tuple(tables),
        tuple(clears),
        defines,
        fields,
        _gap_lines(root),
        macros,
        iotlbs,
        lost,
    )


# What extract() asks tree-sitter for, in one query (compiled once), and where to look: a
# query visits every node it is given, so only the top-level nodes that can hold a wanted
# one are given. Each kind is looked for only where the file's bytes may hold one
# (the gates), then in the top-level nodes holding one of its marks:
#  - assignment_expression, for `copy = table; copy.op = NULL;` (_runtime_clears): in the
#    functions that name one of the file's tables (a copy is made in the function it is
#    cleared in);
#  - preproc_function_def: in the nodes holding a `#define`;
#  - field_declaration of a struct vhost_iotlb member: in the nodes where the type's name
#    is followed by a declarator (`vhost_iotlb *name;`), not by a parameter's `)`.
_CAPTURED = ("assignment_expression", "preproc_function_def", "field_declaration")
_FUNCTION_MACRO_RE = re.compile(rb"#[ \t]*define[ \t]+\w+\(")  # first on its line
# `struct` may be lines or a comment away. No \b before the name: it costs the regex engine
# its literal-prefix scan (ten times slower); a longer name only opens the gate for nothing.
_IOTLB_MEMBER_RE = re.compile(rb"vhost_iotlb[ \t*]+\w+[ \t]*[;\[]")
_DEFINE_MARK_RE = re.compile(rb"#[ \t]*define")


def _marks(src: bytes, tables: set[str], gates: dict[str, bool]) -> list[int]:
    """Sorted offsets of the marks of every kind whose gate is open."""
    at: list[int] = []
    if gates["assignment_expression"]:
        for name in tables:
            at.extend(whole_words(src, name.encode()))
    if gates["preproc_function_def"]:
        at.extend(m.start() for m in _DEFINE_MARK_RE.finditer(src))
    if gates["field_declaration"]:
        at.extend(m.start() for m in _IOTLB_MEMBER_RE.finditer(src))  # whatever is between it and `struct`
    return sorted(at)


def _iotlb_fields(declarations: list[Node]) -> list[str]:
    """Members whose declared type is struct vhost_iotlb: what an IOTLB argument looks like."""
    out: list[str] = []
    for decl in declarations:
        t = decl.child_by_field_name("type")
        if t is not None and t.type == "struct_specifier":
            name = t.child_by_field_name("name")
            if name is not None and text(name) == "vhost_iotlb":
                out.extend(
                    n for d in decl.children_by_field_name("declarator") for n in [declared_name(d)] if n
                )
    return sorted(set(out))


def _macros(definitions: list[Node], path: str) -> list[Function]:
    """Function-like macros, each read as a function of its parameters (SPEC §3): an
    expression body returns its value, a statement body (`do { ... } while (0)`) runs."""
    out: list[Function] = []
    for node in definitions:
        name_node = node.child_by_field_name("name")
        params_node = node.child_by_field_name("parameters")
        value = node.child_by_field_name("value")
        if name_node is None or params_node is None or value is None:
            continue
        params = tuple(
            "__VA_ARGS__" if text(p) == "..." else text(p)
            for p in params_node.children
            if p.type in ("identifier", "...")
        )
        line = line_of(node)
        body = _MACRO_OPS_RE.sub(" ", text(value).replace("\\\n", "  \n").replace("\\\r\n", "  \r\n"))
        out.append(
            Function(
                text(name_node),
                path,
                line,
                name_node.start_point[1] + 1,
                node.end_point[0] + 1,
                True,
                params,
                (),
                _macro_cfg(body, params, value.start_point[0] + 1),
                macro=True,
            )
        )
    return out


# Token pasting (`, ##__VA_ARGS__`) and stringification (`#x`) are not C: as blanks, the
# body reads as the call it expands to.
_MACRO_OPS_RE = re.compile(r"##|#(?=\s*\w)")


def _macro_cfg(body: str, params: tuple[str, ...], line: int) -> Callable[[], Cfg]:
    def build() -> Cfg:
        pad = "\n" * (line - 1)
        head = f"void __m({', '.join('long ' + p for p in params)})"
        for wrapped in (f"{head} {{ return ({body}\n); }}", f"{head} {{ {body}\n; }}"):
            tree = parse(mask_kernel_idioms((pad + wrapped).encode()))
            fn = tree.root_node.named_children[-1] if tree.root_node.named_children else None
            if fn is not None and fn.type == "function_definition" and not tree.root_node.has_error:
                fbody = fn.child_by_field_name("body")
                if fbody is not None:
                    return build_cfg(fbody, params)
        # Unreadable as C: an unknown call, visible at every use (SPEC §2 VDPA000).
        why = ("macro", line)
        nodes = (CfgNode((("opaque", why),), ("exit",), line),)
        return Cfg(params, nodes, 0)

    return build


_CONDITIONAL_RE = re.compile(rb"#[ \t]*(?:if|ifdef|ifndef|elif|else|endif)\b")  # first on its line


def _views_may_help(
    masked: bytes, functions: dict[tuple[str, int], Function], root: Node, heads: list[tuple[str, int, bool]]
) -> bool:
    """Whether parsing each side of the file's conditionals may mend what the whole file's
    parse could not: a function lost in an ERROR, or one with a gap that a conditional
    splits or comes just before (after the end of the top-level node above it, up to its
    own end). A gap no conditional is near parses the same in every view (a kernel macro
    tree-sitter cannot read, say): the two extra parses of the whole file are spared."""
    if heads or _lost_bodies(root):
        return True
    gapped = [f for f in functions.values() if f.gap_lines]
    if not gapped:
        return False
    directives, line, at = [], 1, 0
    for m in line_starts(_CONDITIONAL_RE, masked):
        line += masked.count(b"\n", at, m.start())
        at = m.start()
        directives.append(line)
    # Where each top-level node ends: what closed before a function cannot split it.
    ends = sorted(n.end_point[0] + 1 for n in root.named_children)
    for f in gapped:
        i = bisect_left(ends, f.line)
        after = ends[i - 1] if i else 0
        j = bisect_left(directives, after + 1)
        if j < len(directives) and directives[j] <= f.end_line:
            return True
    return False


def _lost_bodies(root: Node) -> bool:
    """Whether a top-level ERROR may have swallowed a function body."""
    return any(
        n.type == "ERROR" and any(c.type == "compound_statement" for c in n.named_children)
        for n in root.named_children
    )


def _lost_heads(root: Node) -> list[tuple[str, int, bool]]:
    """(name, line, static) of the function heads an ERROR holds bare, their body not parsed as one
    (an `if (...) {` whose two heads a conditional gives leaves a brace open, say)."""
    out: list[tuple[str, int, bool]] = []
    stack = [root] if root.has_error else []  # a bare head is a parse error in what holds it
    while stack:
        n = stack.pop()
        if n is root or _holds_top(n):
            for c in n.named_children:
                # A declarator bare where C has only declarations and definitions, and a
                # brace after it (not a macro call the parser took for one, `module_exit(f)`).
                if c.type != "function_declarator" or not _body_follows(c):
                    continue
                name_node = c.child_by_field_name("declarator")
                name = declared_name(name_node) if name_node is not None else None
                if name and name not in _C_KEYWORDS:
                    out.append((name, line_of(c), _static_before(c)))
            stack.extend(c for c in reversed(n.named_children) if c.has_error)
    return out


_C_KEYWORDS = frozenset(("if", "while", "for", "switch", "return", "sizeof", "do", "else", "case", "goto"))


def _static_before(head: Node) -> bool:
    """Whether `static` is among the specifiers just before a bare head."""
    before = head.prev_named_sibling
    while before is not None and before.type in (
        "storage_class_specifier",
        "type_qualifier",
        "primitive_type",
        "type_identifier",
        "sized_type_specifier",
        "struct_specifier",
        "comment",
        "attribute_specifier",
    ):
        if before.type == "storage_class_specifier" and text(before) == "static":
            return True
        before = before.prev_named_sibling
    return False


def _body_follows(node: Node) -> bool:
    after = node.next_sibling
    while after is not None and after.type == "comment":
        after = after.next_sibling
    return after is not None and after.type in ("{", "compound_statement")


def _nested_definitions(fn: Node) -> list[tuple[str, int, bool]]:
    """(name, line, static) of the definitions a function with a gap swallowed (a brace left open
    makes the functions after it parse as nested ones, which kernel C has not)."""
    out = []
    body = fn.child_by_field_name("body")
    stack = list(body.named_children) if body is not None else []
    while stack:
        n = stack.pop()
        if n.type == "function_definition":
            name = _defined_name(n)
            if name and swallowed(n):
                out.append((name, line_of(n), _is_static(n)))
        else:
            stack.extend(n.named_children)
    return out


def _add_views(path: str, masked: bytes, functions: dict[tuple[str, int], Function]) -> None:
    """Where a conditional splits a statement, parse each side on its own (SPEC §3)."""
    variants = conditional_variants(masked)
    if variants is None:
        return
    known = {f.name for f in functions.values() if not f.gap_lines}
    seen: dict[str, list[Function]] = {}
    for view in variants:
        for n in _walk_top(parse(view).root_node):
            if n.type == "function_definition" and _defined_name(n) not in known:
                fn = _function(n, path)
                if fn is not None:
                    seen.setdefault(fn.name, []).append(fn)
    by_name = {name: key for key, f in functions.items() for name in [f.name]}
    for name, views in seen.items():
        key = by_name.get(name)
        if key is None:
            clean = [v for v in views if not v.gap_lines]
            if clean:  # lost entirely in the combined view
                merged = _merge_views(clean[0], views)
                functions[(merged.name, merged.line)] = merged
        elif functions[key].gap_lines:
            functions[key] = _merge_views(functions[key], views)
