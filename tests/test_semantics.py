"""The semantic core on its own: values, path conditions, graphs, summaries."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from conftest import FIXTURES

from analyzer.extract import extract
from analyzer.index import TreeIndex
from analyzer.semantics import conds as C
from analyzer.semantics import values as V
from analyzer.semantics.kb import load_knowledge
from analyzer.semantics.program import TreeProgram
from analyzer.source import scan

P0, P1 = ("param", 0), ("param", 1)
F = V.const(1)  # VDPA_RESET_F_CLEAN_MAP


# -- values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        ("un", "~", ("cast", "unsigned long long", V.ZERO)),  # ~0ULL
        ("cast", "u64", ("un", "-", V.ONE)),  # (u64)-1
        V.const(V.MASK64),  # ULLONG_MAX, U64_MAX from the knowledge base
        ("un", "-", V.ONE),  # -1 passed where a u64 is taken
    ],
)
def test_all_ones_in_every_spelling(value: V.Value) -> None:
    assert V.u64(V.fold(value)) == V.const(V.MASK64)
    assert V.is_whole((V.ZERO, V.u64(V.fold(value))))


def test_bit_facts_decide_masked_flags() -> None:
    masked = ("bin", "&", P1, ("un", "~", F))  # flags & ~VDPA_RESET_F_CLEAN_MAP
    assert V.fold(("bin", "&", masked, F)) == V.ZERO  # never carries the flag
    assert V.truth(("bin", "&", ("bin", "|", P1, F), F)) is None or True
    assert V.fold(("bin", "&", ("bin", "|", V.ZERO, F), F)) == F
    assert V.fold(("bin", "==", ("bin", "&", P1, F), V.const(2))) == V.ZERO


def test_symbolic_ranges() -> None:
    size = ("mem", ("mem", P0, "domain"), "bounce_size")
    window = (V.ZERO, ("bin", "-", size, V.ONE))
    user = (size, V.const(V.MASK64))
    assert V.overlaps(window, user) is False  # [0, B-1] and [B, max] never meet
    assert V.overlaps(window, V.WHOLE) is True
    assert V.overlaps((V.const(0x1000), V.const(0x1FFF)), (V.ZERO, V.const(0xFFF))) is False
    assert V.within((V.const(0x800), V.const(0xFFF)), (V.ZERO, V.const(0xFFF)))


def test_access_paths_alias_by_member_suffix_and_distinct_indices() -> None:
    cvq = ("mem", ("mem", ("mem", ("cof", P0, "ndev"), "mvdev"), "cvq"), "iotlb")
    assert V.may_alias(cvq, ("mem", ("mem", P0, "cvq"), "iotlb"))
    assert not V.may_alias(("mem", P0, "user_iotlb"), ("mem", P0, "shadow_iotlb"))
    iommu = ("mem", P0, "iommu")
    assert not V.may_alias(("idx", iommu, V.ZERO), ("idx", iommu, V.ONE))
    assert V.may_alias(("idx", iommu, V.ZERO), ("idx", iommu, P1))
    assert V.chain(("addr", ("idx", iommu, P1))) == ("iommu",)


# -- conditions -----------------------------------------------------------------------------


def test_conditions_simplify_and_substitute() -> None:
    flag = C.of_value(("bin", "&", P1, F))
    assert C.truth(flag) is None
    assert C.or_(flag, C.negate(flag)) == C.TRUE  # (x) | !(x)
    other = C.of_value(("bin", "==", P0, V.const(3)))
    assert C.or_(C.and_(other, flag), C.and_(other, C.negate(flag))) == other
    assert C.truth(C.substitute(flag, (P0, V.ZERO))) is False  # compat_reset(vdev, 0)
    assert C.truth(C.substitute(flag, (P0, F))) is True


def test_conditions_no_caller_can_decide_are_may() -> None:
    assert not C.decidable(("mem", P0, "force"))
    assert C.of_value(("mem", P0, "force")) == C.TRUE  # the effect may happen
    assert C.decidable(("bin", "&", P1, F))
    # still shown in trace notes
    assert C.show_literals(C.literals(("mem", P0, "force")), {0: "d"}) == ("d->force",)


# -- graphs ---------------------------------------------------------------------------------

SWITCH = b"""
static int f(u32 flags)
{
	switch (flags & 1) {
	case 0:
		a();
	case 1:
		b();
		break;
	default:
		c();
	}
	if (flags)
		goto out;
	d();
out:
	while (e())
		continue;
	return 0;
}
"""


def test_graph_of_switch_goto_and_loop() -> None:
    cfg = extract("f.c", SWITCH).functions[0].cfg
    terms = [n.term for n in cfg.nodes]
    switch = next(t for t in terms if t[0] == "switch")
    assert [v for v, _ in switch[2]] == [V.ZERO, V.ONE]
    case0 = switch[2][0][1]
    case1 = switch[2][1][1]
    assert cfg.nodes[case0].term == ("jump", case1)  # fallthrough
    calls = {e[2]: n for n, node in enumerate(cfg.nodes) for e in node.events if e[0] == "call"}
    assert set(calls) == {"a", "b", "c", "d", "e"}
    assert any(t[0] == "branch" and t[1] == ("var", "flags") for t in terms)


# -- summaries ------------------------------------------------------------------------------


def _program(tree: Path) -> tuple[TreeProgram, TreeIndex]:
    index = TreeIndex(scan([str(tree)]))
    index.ops_tables()
    for rel in index.scan.files:  # every function of the tree, not only the tables' files
        index.facts(rel)
    return TreeProgram(index, load_knowledge()), index


def _all_functions(index: TreeIndex) -> list:
    return [fn for facts in index.parsed() for fn in facts.functions]


@pytest.mark.parametrize("tree", ["recursion", "control-flow", "whose-maps", "iotlb-ranges", "unknowns"])
def test_summaries_do_not_depend_on_visiting_order(tree: str) -> None:
    base, index = _program(FIXTURES / tree)
    functions = _all_functions(index)
    reference = {(f.path, f.name): base.summaries.of(f) for f in functions}
    for seed in range(4):
        program, index2 = _program(FIXTURES / tree)
        order = _all_functions(index2)
        random.Random(seed).shuffle(order)
        for fn in order:
            got = program.summaries.of(fn)
            want = reference[(fn.path, fn.name)]
            assert {e.key(): e.cond for e in got.effects} == {e.key(): e.cond for e in want.effects}, fn.name


def test_summary_is_parametric_and_instantiated_per_call() -> None:
    program, index = _program(FIXTURES / "iotlb-ranges")
    drain = next(f for f in _all_functions(index) if f.name == "rg_drain")
    (delete,) = [e for e in program.summaries.of(drain).effects if e.kind == "delete"]
    assert delete.obj == P0 and (delete.lo, delete.hi) == (P1, ("param", 2))
    assert delete.site.callee == "vhost_iotlb_map_free"  # the drain loop, entry by entry
