"""Unit tests of the lowest layers: idiom masking, expressions, extraction."""

from __future__ import annotations

import pytest

from analyzer.cexpr import parse_int_literal
from analyzer.cmask import conditional_variants, mask_kernel_idioms
from analyzer.cparse import parse
from analyzer.extract import extract
from analyzer.semantics import values as V


def _evaluate(src: str, env: dict[str, int]) -> int | None:
    """src's value as the graph builder reads it and values.fold decides it, names in env known."""
    fn = extract("x.c", f"void f(void)\n{{\n\tint x = {src};\n}}\n".encode()).functions[0]
    [value] = [e[2] for n in fn.cfg.nodes for e in n.events if e[0] == "set" and e[1] == "x"]

    def known(v: V.Value) -> V.Value:
        if v[0] == "id" and v[1] in env:
            return V.const(env[v[1]])
        return tuple(known(p) if isinstance(p, tuple) and p and isinstance(p[0], str) else p for p in v)

    folded = V.fold(known(value))
    return int(folded[1]) if folded[0] == "int" else None


@pytest.mark.parametrize(
    ("src", "env", "value"),
    [
        ("flags & VDPA_RESET_F_CLEAN_MAP", {"flags": 0}, 0),
        ("flags & VDPA_RESET_F_CLEAN_MAP", {"flags": 1, "VDPA_RESET_F_CLEAN_MAP": 1}, 1),
        ("(flags & X) && other_macro(d)", {"flags": 0}, 0),
        ("(flags & X) || d->force", {"flags": 0}, None),
        ("!(flags & X)", {"flags": 0}, 1),
        ("flags ? 1 : 2", {}, None),
        ("a == 0x10", {"a": 16}, 1),
        ("(u32)flags & 2", {"flags": 3}, 2),
        ("~0ULL", {}, -1),
    ],
)
def test_three_valued_evaluation(src: str, env: dict, value: int | None) -> None:
    assert _evaluate(src, env) == value


def test_int_literals() -> None:
    assert [parse_int_literal(t) for t in ("0x1fUL", "010", "42u", "0b11", "zz")] == [31, 8, 42, 3, None]


def test_masking_preserves_every_offset() -> None:
    src = (
        b"static int __must_check f(void __iomem *p)\n{\n\tstruct s *x = container_of(p, const struct s, m);\n"
        b"\tlist_for_each_entry(a, &x->l, n) {\n\t\tg(a);\n\t}\n\treturn min_t(unsigned int, 1, 2);\n}\n"
    )
    masked = mask_kernel_idioms(src)
    assert len(masked) == len(src) and masked.count(b"\n") == src.count(b"\n")
    assert b"__must_check" not in masked and b"__iomem" not in masked
    assert b"const_struct_s" in masked and b"unsigned_int" in masked
    assert b"\twhile" in masked and not parse(masked).root_node.has_error


def test_conditional_variants_keep_each_side() -> None:
    src = b"a();\n#ifdef X\nb();\n#elif Y\nc();\n#else\nd();\n#endif\ne();\n"
    first, middle, last = conditional_variants(src) or ()
    assert b"b();" in first and b"c();" not in first and b"d();" not in first
    assert b"c();" in middle and b"b();" not in middle and b"d();" not in middle  # the #elif
    assert b"d();" in last and b"b();" not in last
    assert len(first) == len(middle) == len(src) and b"a();" in first and b"e();" in last
    assert conditional_variants(b"int x;\n") is None
    # A chain with fewer groups gives its last one where another chain has more.
    src = b"#if A\nf();\n#else\ng();\n#endif\n#if B\nh();\n#elif C\ni();\n#else\nj();\n#endif\n"
    views = conditional_variants(src) or ()
    kept = [[c for c in b"fghij" if bytes([c]) + b"();" in v] for v in views]
    assert kept == [list(b"fh"), list(b"gi"), list(b"gj")]
    # A directive continued with a backslash is not code in any view, and is still a directive.
    src = b"#if A && \\\n    B\nx();\n#else\ny();\n#endif\n"
    first, last = conditional_variants(src) or ()
    assert b"B" not in first and b"x();" in first and b"y();" in last and b"x();" not in last


def test_extract_builds_a_control_flow_graph() -> None:
    src = b"""
static int f(struct vdpa_device *v, u32 flags)
{
	bool clean = flags & 1;

	if (!v)
		return -1;
	if (clean)
		g(v);
	h(v) && k(v);
	return 0;
}
"""
    fn = extract("f.c", src).functions[0]
    assert fn.params == ("v", "flags") and fn.static
    events = [e for n in fn.cfg.nodes for e in n.events]
    assert ("set", "clean", ("bin", "&", ("var", "flags"), ("int", 1)), ()) in events
    calls = {e[2]: e for e in events if e[0] == "call"}
    assert set(calls) == {"g", "h", "k"}
    # k runs only when h(v) returned non-zero: a guard inside the expression
    assert calls["k"][7] == ((("ret", calls["h"][1]), True),)
    terms = [n.term[0] for n in fn.cfg.nodes]
    assert terms.count("branch") == 2 and "return" in terms


def _views_parsed(src: bytes) -> tuple[int, dict[str, tuple[int, ...]]]:
    """How many times extract() parses src, and each function's gap lines."""
    import analyzer.extract as X

    calls = []
    real = X.parse

    def counting(data: bytes):  # type: ignore[no-untyped-def]
        calls.append(len(data))
        return real(data)

    X.parse = counting
    try:
        facts = X.extract("v.c", src)
    finally:
        X.parse = real
    return len(calls), {f.name: f.gap_lines for f in facts.functions}


def test_views_mend_a_statement_a_conditional_splits() -> None:
    src = b"""#include <x.h>
static int f(int a)
{
\tint err = call(a,
#ifdef CONFIG_A
\t\t   1);
#else
\t\t   2);
#endif
\treturn err;
}
"""
    parses, gaps = _views_parsed(src)
    assert parses == 3 and gaps == {"f": ()}


def test_views_are_not_parsed_for_a_gap_no_conditional_is_near() -> None:
    """An unreadable statement (a kernel macro tree-sitter cannot take) with the file's only
    conditional far above it: the two views would parse it the same way."""
    src = b"""#ifdef CONFIG_A
#include <a.h>
#endif
static int h(void)
{
\treturn 1;
}
static int f(int a)
{
\tstatic DEFINE_RATELIMIT_STATE(rs,
\t\t\t\t      1, 2);
\treturn a;
}
"""
    parses, gaps = _views_parsed(src)
    assert gaps["f"] and parses == 1
    # A whole conditional block closed before the function cannot split it either...
    parses, _ = _views_parsed(src.replace(b"static int f", b"#if 1\n#endif\nstatic int f"))
    assert parses == 1
    # ...one inside it may: the function is given its views.
    parses, _ = _views_parsed(src.replace(b"\treturn a;", b"#ifdef CONFIG_B\n\treturn a;\n#endif"))
    assert parses == 3


_HEADS_ON_BOTH_SIDES = b"""static void prune(struct d *ld)
{
#ifdef CONFIG_A
\tif (ld->fast) {%s
#else
\tif (ld->slow) {%s
#endif
\t\tclear(ld);
\t}
}

void after(struct d *ld)
{
\tprune(ld);
}
"""


def test_a_function_head_whose_body_did_not_parse_is_recorded_as_lost() -> None:
    # Each side of the conditional balances its braces: the views mend the function.
    mended = extract("a.c", _HEADS_ON_BOTH_SIDES % (b"", b""))
    assert [f.name for f in mended.functions] == ["prune", "after"] and mended.lost == ()
    # Neither side does: the head is bare in an ERROR, and recorded with its line.
    lost = extract("b.c", _HEADS_ON_BOTH_SIDES % (b" {", b" {"))
    assert [f.name for f in lost.functions] == ["after"] and lost.lost == (("prune", 1, True),)


def test_a_function_read_as_nested_in_one_left_open_is_lost_and_a_gap_there() -> None:
    src = b"""void open(struct d *ld)
{
\tif (ld->a) {
\tif (ld->b) {
\t\tfirst(ld);
\t}
}

void swallowed(struct d *ld)
{
\tsecond(ld);
}
"""
    facts = extract("c.c", src)
    assert [f.name for f in facts.functions] == ["open"] and facts.lost == (("swallowed", 9, False),)
    fn = facts.functions[0]
    events = [e for n in fn.cfg.nodes for e in n.events]
    calls = {e[2] for e in events if e[0] == "call"}
    assert "first" in calls and "second" not in calls  # the nested body is not open()'s
    assert {e[1] for e in events if e[0] == "gap"} == {9, 12}  # the nested definition, the missing brace


def test_declarations_and_definitions_that_parse_leave_nothing_lost() -> None:
    src = b"""int proto(int a);
static int (*table[2])(int);
static int f(int a) { return proto(a); }
"""
    assert extract("d.c", src).lost == ()


def test_an_entry_chosen_at_build_time_keeps_every_function_it_may_be() -> None:
    src = b"""static const struct vdpa_config_ops ops = {
\t.reset = IS_ENABLED(A) ? a_reset : (IS_ENABLED(B) ? b_reset : NULL),
\t.suspend = IS_ENABLED(C) ? NULL : c_suspend,
\t.resume = IS_ENABLED(D) ? d_resume : d_resume,
\t.set_map = e_set_map,
};
"""
    [table] = extract("t.c", src).tables
    got = {e.op: (e.function, e.alternatives, e.conditional) for e in table.entries}
    assert got == {
        "reset": ("a_reset", ("b_reset",), True),
        "suspend": ("c_suspend", (), True),
        "resume": ("d_resume", (), True),
        "set_map": ("e_set_map", (), False),
    }


def test_a_copy_given_another_function_at_run_time_is_recorded_with_it() -> None:
    src = b"""static const struct vdpa_config_ops ops = { .reset = r };
static int probe(struct m *m, void (*hook)(void))
{
\tm->ops = ops;
\tif (m->a)
\t\tm->ops.reset = other_reset;
\tif (m->b)
\t\tm->ops.suspend = NULL;
\tm->ops.resume = 0;
\tm->ops.owner = 1;
\tm->other.reset = unrelated;
\treturn 0;
}
"""
    clears = extract("p.c", src).runtime_clears
    got = [(c.table, c.op, c.line, c.function, c.value) for c in clears]
    assert len({c.group for c in clears}) == 3  # each under its own `if`, the last in the body
    together = src.replace(
        b"\tif (m->a)\n\t\tm->ops.reset = other_reset;\n",
        b"\tif (m->a) {\n\t\tm->ops.reset = other_reset;\n\t\tm->ops.suspend = other_suspend;\n\t}\n",
    )
    first, second = extract("q.c", together).runtime_clears[:2]
    assert (first.op, second.op, first.group == second.group) == ("reset", "suspend", True)
    assert got == [
        ("ops", "reset", 6, "probe", "other_reset"),
        ("ops", "suspend", 8, "probe", ""),
        ("ops", "resume", 9, "probe", ""),
    ]
